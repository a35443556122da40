package main

import (
	"math"
	"math/bits"
)

// hist is a log-linear (HDR-like) latency histogram over nanoseconds: values
// below 2·subCount are counted exactly, larger ones in subCount linear
// buckets per power of two, so every recorded value is known to within
// 1/subCount (< 0.8 %). The maximum, sum and count are kept exactly.
type hist struct {
	counts []uint64
	n      uint64
	sum    float64
	max    int64
	min    int64
}

const (
	subBits  = 7
	subCount = 1 << subBits // linear buckets per octave
)

func newHist() *hist {
	// 64-bit values: at most (64-subBits)+1 octaves of subCount buckets.
	return &hist{counts: make([]uint64, (64-subBits+1)*subCount), min: math.MaxInt64}
}

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 2*subCount {
		return int(u)
	}
	k := bits.Len64(u) - (subBits + 1)
	top := u >> uint(k)
	return (k+1)*subCount + int(top-subCount)
}

// bucketRange returns the smallest and largest value counted in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 2*subCount {
		return int64(i), int64(i)
	}
	k := i/subCount - 1
	top := uint64(i%subCount + subCount)
	return int64(top << uint(k)), int64(((top + 1) << uint(k)) - 1)
}

func (h *hist) record(ns int64) {
	h.counts[bucketOf(ns)]++
	h.n++
	h.sum += float64(ns)
	if ns > h.max {
		h.max = ns
	}
	if ns < h.min {
		h.min = ns
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
	if o.min < h.min {
		h.min = o.min
	}
}

// quantile returns the value at quantile q (0 < q ≤ 1): the midpoint of the
// bucket holding the ceil(q·n)-th smallest value, clamped to [min, max].
func (h *hist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return h.max
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return v
		}
	}
	return h.max
}

func (h *hist) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}
