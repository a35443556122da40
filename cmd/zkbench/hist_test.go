package main

import (
	"math/rand"
	"sort"
	"testing"
)

func TestBucketsContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < 40*subCount; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d: [%d,%d] after %d", i, lo, hi, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: bucketOf(%d)=%d bucketOf(%d)=%d", i, lo, bucketOf(lo), hi, bucketOf(hi))
		}
		prevHi = hi
	}
}

func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	h := newHist()
	var xs []int64
	for i := 0; i < 100000; i++ {
		v := int64(r.ExpFloat64() * 200000)
		xs = append(xs, v)
		h.record(v)
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := xs[int(q*float64(len(xs)))-1]
		got := h.quantile(q)
		if d := float64(got-exact) / float64(exact); d > 0.01 || d < -0.01 {
			t.Errorf("q%.3f: got %d, exact %d", q, got, exact)
		}
	}
	if h.quantile(1) != xs[len(xs)-1] {
		t.Errorf("max: %d vs %d", h.quantile(1), xs[len(xs)-1])
	}
}
