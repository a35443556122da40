package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func renderReport(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeReport(path, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func runLine(server, wl string, clients, rep int, ops, p99 float64) string {
	return fmt.Sprintf(`{"kind":"run","server":%q,"workload":%q,"clients":%d,"value_size":128,"rep":%d,"ops_per_sec":%g,"p50_us":100,"p99_us":%g}`,
		server, wl, clients, rep, ops, p99)
}

func TestMetricsCostReport(t *testing.T) {
	lines := []string{`{"kind":"meta","commit":"abc","date":"d"}`}
	for i, v := range [][4]float64{ // set, 16 clients: zkserver ops, p99; zkserver-metrics ops, p99
		{10000, 1000, 9500, 1300},
		{11000, 1200, 9800, 1320},
		{9000, 1100, 9000, 1310},
	} {
		rep := i + 1
		lines = append(lines,
			runLine(srvZKS, "set", 16, rep, v[0], v[1]),
			runLine(srvZKSM, "set", 16, rep, v[2], v[3]),
			runLine(srvZKS, "get", 64, rep, 50000, 500),
			runLine(srvZKSM, "get", 64, rep, 41000, 500),
			runLine(srvZKS, "mixed", 16, rep, 20000, 700), // no metrics run: no row
			fmt.Sprintf(`{"kind":"scrape","server":"zkserver-metrics","workload":"set","clients":16,"value_size":128,"rep":%d,"scrapes":6,"scrape_failures":0}`, rep),
			fmt.Sprintf(`{"kind":"scrape","server":"zkserver-metrics","workload":"get","clients":64,"value_size":128,"rep":%d,"scrapes":5,"scrape_failures":%d}`, rep, rep%2),
		)
	}
	rep := renderReport(t, lines)
	before, section, ok := strings.Cut(rep, "## Metrics cost")
	if !ok {
		t.Fatalf("no metrics section:\n%s", rep)
	}
	// The main tables are as before: zkserver-metrics is not one of their columns or rows.
	if !strings.Contains(before, "| set | 16 | 128 | — | 10000 | — | — | — | 1.10 | — |") || strings.Contains(before, srvZKSM) {
		t.Errorf("main tables:\n%s", before)
	}
	for _, want := range []string{
		// ops: 9500 ÷ 10000, spreads 20% and 8% → inside; p99: 1.31 ÷ 1.10 ms, spreads 18% and 2% → outside
		"| set | 16 | 128 | 10000 | 9500 | 0.95× (inside ±20%) | 1.10 | 1.31 | 1.19× (**outside ±18%**) | 20% / 8% | 18% / 2% | 18 / 0 |",
		// no spread at all: any difference is outside
		"| get | 64 | 128 | 50000 | 41000 | 0.82× (**outside ±0%**) | 0.50 | 0.50 | 1.00× (inside ±0%) | 0% / 0% | 0% / 0% | 15 / 2 |",
		"over these 2 rows: median 0.8",
		"(0.82× to 0.95×)",
		// noise over 5 configurations (set, get × 2 kinds, mixed): ops spreads 20, 8, 0, 0, 0 → median 0%, max 20%
		"over the 5 standalone configurations zkserver or zkserver-metrics ran at least twice), throughput differs by a median of 0% (max 20%) and p99 by a median of 0% (max 18%)",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("metrics section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "| mixed |") {
		t.Errorf("a configuration without a metrics run has a row:\n%s", section)
	}
	if strings.Index(section, "| set | 16 |") > strings.Index(section, "| get | 64 |") {
		t.Errorf("rows not in workload order:\n%s", section)
	}
}

func TestMetricsCostOneRepetition(t *testing.T) {
	rep := renderReport(t, []string{
		runLine(srvZKS, "set", 16, 1, 10000, 1000),
		runLine(srvZKSM, "set", 16, 1, 9000, 1100),
	})
	for _, want := range []string{
		"| set | 16 | 128 | 10000 | 9000 | 0.90× | 1.00 | 1.10 | 1.10× | — | — | — |",
		"Noise of this machine: not estimated",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

func TestMetricsCostAbsent(t *testing.T) {
	// BENCH_METRICS=0, or zkserver-metrics without a zkserver row to compare with.
	for _, lines := range [][]string{
		{runLine(srvZKS, "set", 16, 1, 10000, 1000), runLine(srvZKS, "set", 16, 2, 10000, 1000)},
		{runLine(srvZKSM, "get", 16, 1, 10000, 1000), runLine(srvZKS, "set", 16, 1, 10000, 1000)},
	} {
		if rep := renderReport(t, lines); strings.Contains(rep, "Metrics cost") {
			t.Errorf("metrics section without both servers:\n%s", rep)
		}
	}
}

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{5}, 0, false},
		{[]float64{0, 0}, 0, false},
		{[]float64{90, 110, 100}, 0.2, true},
		{[]float64{100, 100}, 0, true},
	} {
		got, ok := spread(c.xs)
		if ok != c.ok || (ok && (got-c.want > 1e-9 || c.want-got > 1e-9)) {
			t.Errorf("spread(%v) = %v, %v; want %v, %v", c.xs, got, ok, c.want, c.ok)
		}
	}
}
