package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// record is the union of every JSON line kind in a results file: "meta"
// (free-form, written by bench/run.sh), "run" (Result), "fsync"
// (FsyncResult), "ready" (ReadyResult), "rss" (written by bench/run.sh:
// server, znodes, rss_kb, phase) and "scrape" (written by bench/run.sh: the
// /metrics scrapes made during one run of zkserver-metrics: server,
// workload, clients, value_size, rep, scrapes, scrape_failures).
type record struct {
	Kind        string  `json:"kind"`
	Server      string  `json:"server"`
	Setup       string  `json:"setup"`
	Workload    string  `json:"workload"`
	Clients     int     `json:"clients"`
	ValueSize   int     `json:"value_size"`
	Ops         int64   `json:"ops"`
	Errors      int64   `json:"errors"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50Us       float64 `json:"p50_us"`
	P90Us       float64 `json:"p90_us"`
	P99Us       float64 `json:"p99_us"`
	P999Us      float64 `json:"p999_us"`
	MaxUs       float64 `json:"max_us"`
	MeanUs      float64 `json:"mean_us"`
	N           int64   `json:"n"`
	Znodes      int64   `json:"znodes"`
	RssKB       int64   `json:"rss_kb"`
	Phase       string  `json:"phase"`
	Seconds     float64 `json:"seconds"`
	RuokSeconds float64 `json:"ruok_seconds"`
	PerSec      float64 `json:"fsyncs_per_sec"`
	Dir         string  `json:"dir"`
	FirstError  string  `json:"first_error"`
	Rep         int     `json:"rep"`
	Scrapes     int64   `json:"scrapes"`
	ScrapeFails int64   `json:"scrape_failures"`
}

const (
	srvZK   = "zookeeper"
	srvZKS  = "zkserver"
	srvFake = "fake"
	// srvZKSM is zkserver with the Prometheus endpoint on and scraped once
	// a second (bench/run.sh, BENCH_METRICS).
	srvZKSM = "zkserver-metrics"
)

type runKey struct {
	setup         string
	workload      string
	clients, size int
	server        string
	n             int64
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// agg collects one configuration's repetitions.
type agg struct {
	ops, p50, p90, p99, p999, max []float64
	errors                        int64
	firstError                    string
}

func (a *agg) med(f func(*agg) []float64) float64 { return median(f(a)) }

func writeReport(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runs := map[runKey]*agg{}
	var metas []map[string]any
	var fsyncs, readies, rss, scrapes []record
	var failovers []FailoverResult
	var ensembleMetas []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s:%d: %v", path, line, err)
		}
		switch r.Kind {
		case "meta":
			m := map[string]any{}
			json.Unmarshal(b, &m)
			if r.Setup != "" {
				ensembleMetas = append(ensembleMetas, m)
			} else {
				metas = append(metas, m)
			}
		case "failover":
			var f FailoverResult
			if err := json.Unmarshal(b, &f); err != nil {
				return fmt.Errorf("%s:%d: %v", path, line, err)
			}
			failovers = append(failovers, f)
		case "run":
			k := runKey{r.Setup, r.Workload, r.Clients, r.ValueSize, r.Server, r.N}
			a := runs[k]
			if a == nil {
				a = &agg{}
				runs[k] = a
			}
			a.ops = append(a.ops, r.OpsPerSec)
			a.p50 = append(a.p50, r.P50Us)
			a.p90 = append(a.p90, r.P90Us)
			a.p99 = append(a.p99, r.P99Us)
			a.p999 = append(a.p999, r.P999Us)
			a.max = append(a.max, r.MaxUs)
			a.errors += r.Errors
			if a.firstError == "" {
				a.firstError = r.FirstError
			}
		case "fsync":
			fsyncs = append(fsyncs, r)
		case "ready":
			readies = append(readies, r)
		case "rss":
			rss = append(rss, r)
		case "scrape":
			scrapes = append(scrapes, r)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}

	fmt.Fprintln(w, "# zkserver vs Apache ZooKeeper: benchmark results")
	fmt.Fprintln(w)
	printMetas(w, metas)
	fmt.Fprintln(w)

	// Configurations (other than load) in report order.
	type cfgKey struct {
		workload      string
		clients, size int
	}
	seen := map[cfgKey]bool{}
	var cfgs []cfgKey
	for k := range runs {
		if k.workload == "load" || k.setup != "" {
			continue
		}
		ck := cfgKey{k.workload, k.clients, k.size}
		if !seen[ck] {
			seen[ck] = true
			cfgs = append(cfgs, ck)
		}
	}
	order := func(wl string) int {
		if i := slices.Index(workloadOrder, wl); i >= 0 {
			return i
		}
		return len(workloadOrder)
	}
	sort.Slice(cfgs, func(i, j int) bool {
		a, b := cfgs[i], cfgs[j]
		if order(a.workload) != order(b.workload) {
			return order(a.workload) < order(b.workload)
		}
		if a.workload != b.workload {
			return a.workload < b.workload
		}
		if a.clients != b.clients {
			return a.clients < b.clients
		}
		return a.size < b.size
	})
	get := func(ck cfgKey, server string) *agg {
		return runs[runKey{"", ck.workload, ck.clients, ck.size, server, 0}]
	}
	opsOf := func(a *agg) []float64 { return a.ops }
	p50Of := func(a *agg) []float64 { return a.p50 }
	p90Of := func(a *agg) []float64 { return a.p90 }
	p99Of := func(a *agg) []float64 { return a.p99 }
	p999Of := func(a *agg) []float64 { return a.p999 }
	maxOf := func(a *agg) []float64 { return a.max }

	if len(cfgs) > 0 {
		fmt.Fprintln(w, "## Throughput and p99 latency (medians over repetitions)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| workload | clients | size B | ZooKeeper ops/s | zkserver ops/s | zkserver ÷ ZK | zkserver ÷ fake | ZK p99 ms | zkserver p99 ms | p99 zkserver ÷ ZK |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, ck := range cfgs {
			zk, zs, fk := get(ck, srvZK), get(ck, srvZKS), get(ck, srvFake)
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", ck.workload, ck.clients, ck.size,
				num(zk, opsOf, 1, "%.0f"), num(zs, opsOf, 1, "%.0f"), ratio(zs, zk, opsOf), ratio(zs, fk, opsOf),
				num(zk, p99Of, 1e-3, "%.2f"), num(zs, p99Of, 1e-3, "%.2f"), ratio(zs, zk, p99Of))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## Latency detail (µs, medians over repetitions)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| workload | clients | size B | server | ops/s | p50 | p90 | p99 | p99.9 | max | errors |")
		fmt.Fprintln(w, "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|")
		for _, ck := range cfgs {
			for _, s := range []string{srvZK, srvZKS, srvFake} {
				a := get(ck, s)
				if a == nil {
					continue
				}
				fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", ck.workload, ck.clients, ck.size, s,
					a.med(opsOf), a.med(p50Of), a.med(p90Of), a.med(p99Of), a.med(p999Of), a.med(maxOf), errText(a))
			}
		}
		fmt.Fprintln(w)
	}
	writeMetricsCost(w, runs, scrapes)

	// Load runs: one row per (n, clients, size) and server.
	type loadKey struct {
		n             int64
		clients, size int
	}
	var loads []loadKey
	lseen := map[loadKey]bool{}
	for k := range runs {
		if k.workload == "load" && k.setup == "" && !lseen[loadKey{k.n, k.clients, k.size}] {
			lseen[loadKey{k.n, k.clients, k.size}] = true
			loads = append(loads, loadKey{k.n, k.clients, k.size})
		}
	}
	sort.Slice(loads, func(i, j int) bool { return loads[i].n < loads[j].n })
	if len(loads) > 0 {
		fmt.Fprintln(w, "## Load (pipelined creates; n = znodes created in that step)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| n | sessions | size B | ZooKeeper ops/s | zkserver ops/s | zkserver ÷ ZK | fake ops/s | ZK p99 ms | zkserver p99 ms |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, lk := range loads {
			g := func(s string) *agg { return runs[runKey{"", "load", lk.clients, lk.size, s, lk.n}] }
			zk, zs, fk := g(srvZK), g(srvZKS), g(srvFake)
			fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %s | %s | %s | %s |\n", lk.n, lk.clients, lk.size,
				num(zk, opsOf, 1, "%.0f"), num(zs, opsOf, 1, "%.0f"), ratio(zs, zk, opsOf), num(fk, opsOf, 1, "%.0f"),
				num(zk, p99Of, 1e-3, "%.2f"), num(zs, p99Of, 1e-3, "%.2f"))
		}
		fmt.Fprintln(w)
	}

	if len(rss) > 0 {
		fmt.Fprintln(w, "## Resident memory (VmRSS)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| znodes | when | ZooKeeper MiB | zkserver MiB | zkserver ÷ ZK |")
		fmt.Fprintln(w, "|--:|---|--:|--:|--:|")
		type rk struct {
			n     int64
			phase string
		}
		vals := map[rk]map[string]float64{}
		var keys []rk
		for _, r := range rss {
			k := rk{r.Znodes, r.Phase}
			if vals[k] == nil {
				vals[k] = map[string]float64{}
				keys = append(keys, k)
			}
			vals[k][r.Server] = float64(r.RssKB) / 1024
		}
		for _, k := range keys {
			v := vals[k]
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", k.n, k.phase, opt(v, srvZK, "%.0f"), opt(v, srvZKS, "%.0f"), optRatio(v))
		}
		fmt.Fprintln(w)
	}

	if len(readies) > 0 {
		fmt.Fprintln(w, "## Restart: process start to serving (ruok answered, then a read of the last-written znode)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| znodes | ZooKeeper s (ruok) | zkserver s (ruok) | zkserver ÷ ZK |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|")
		type rv struct{ secs, ruok float64 }
		vals := map[int64]map[string]rv{}
		var ns []int64
		for _, r := range readies {
			if vals[r.Znodes] == nil {
				vals[r.Znodes] = map[string]rv{}
				ns = append(ns, r.Znodes)
			}
			vals[r.Znodes][r.Server] = rv{r.Seconds, r.RuokSeconds}
		}
		for _, n := range ns {
			v := vals[n]
			cell := func(s string) string {
				x, ok := v[s]
				if !ok {
					return "—"
				}
				return fmt.Sprintf("%.2f (%.2f)", x.secs, x.ruok)
			}
			r := "—"
			if a, ok := v[srvZKS]; ok {
				if b, ok := v[srvZK]; ok && b.secs > 0 {
					r = fmt.Sprintf("%.2f×", a.secs/b.secs)
				}
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s |\n", n, cell(srvZK), cell(srvZKS), r)
		}
		fmt.Fprintln(w)
	}

	for _, r := range fsyncs {
		fmt.Fprintf(w, "## Disk\n\nRaw durable-write rate on %s (4 KiB write + fsync, one at a time, %.1f s): **%.0f fsyncs/s** (mean %.0f µs, p99 %.0f µs). A durable write needs one fsync, so one client's `create`/`set` cannot beat this rate; many clients can through group commit.\n\n",
			r.Dir, r.Seconds, r.PerSec, r.MeanUs, r.P99Us)
	}
	writeEnsemble(w, runs, ensembleMetas, failovers)
	return nil
}

func printMetas(w io.Writer, metas []map[string]any) {
	for _, m := range metas {
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "kind" && k != "setup" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "- %s: %v\n", k, m[k])
		}
	}
}

func num(a *agg, f func(*agg) []float64, scale float64, format string) string {
	if a == nil {
		return "—"
	}
	return fmt.Sprintf(format, a.med(f)*scale)
}

func ratio(a, b *agg, f func(*agg) []float64) string {
	if a == nil || b == nil || b.med(f) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a.med(f)/b.med(f))
}

func errText(a *agg) string {
	if a.errors == 0 {
		return "0"
	}
	e := a.firstError
	if len(e) > 60 {
		e = e[:60] + "…"
	}
	return fmt.Sprintf("%d (%s)", a.errors, strings.ReplaceAll(e, "|", "/"))
}

func opt(v map[string]float64, s, format string) string {
	x, ok := v[s]
	if !ok {
		return "—"
	}
	return fmt.Sprintf(format, x)
}

func optRatio(v map[string]float64) string {
	a, ok1 := v[srvZKS]
	b, ok2 := v[srvZK]
	if !ok1 || !ok2 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Goals of issue 6 for the ensemble benchmark.
const (
	goalWriteRatio    = 2.0 // zkserver ÷ ZooKeeper write throughput, at least
	goalP99Ratio      = 1.0 // zkserver ÷ ZooKeeper p99, at most
	goalFailoverRatio = 0.5 // zkserver ÷ ZooKeeper failover time, at most
)

func isWrite(workload string) bool { return workload == "create" || workload == "set" }

// verdict is "met" or "**not met**" for a ratio against a goal, "—" when a
// side is missing.
func verdict(a, b *agg, f func(*agg) []float64, ok func(r float64) bool) string {
	if a == nil || b == nil || b.med(f) == 0 {
		return "—"
	}
	if ok(a.med(f) / b.med(f)) {
		return "met"
	}
	return "**not met**"
}

// writeEnsemble renders the runs and failovers of every setup other than
// standalone (bench/ensemble.sh: "ensemble3").
func writeEnsemble(w io.Writer, runs map[runKey]*agg, metas []map[string]any, failovers []FailoverResult) {
	setups := map[string]bool{}
	for k := range runs {
		if k.setup != "" {
			setups[k.setup] = true
		}
	}
	for _, f := range failovers {
		setups[f.Setup] = true
	}
	names := make([]string, 0, len(setups))
	for s := range setups {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, setup := range names {
		fmt.Fprintf(w, "## Ensembles (%s): 3-node zkserver and 3-node Apache ZooKeeper\n\n", setup)
		var ms []map[string]any
		for _, m := range metas {
			if m["setup"] == setup {
				ms = append(ms, m)
			}
		}
		printMetas(w, ms)
		fmt.Fprintln(w)
		writeEnsembleRuns(w, runs, setup)
		writeFailovers(w, failovers, setup)
	}
}

func writeEnsembleRuns(w io.Writer, runs map[runKey]*agg, setup string) {
	type ck struct {
		workload      string
		clients, size int
	}
	seen := map[ck]bool{}
	var cfgs []ck
	for k := range runs {
		if k.setup == setup && !seen[ck{k.workload, k.clients, k.size}] {
			seen[ck{k.workload, k.clients, k.size}] = true
			cfgs = append(cfgs, ck{k.workload, k.clients, k.size})
		}
	}
	if len(cfgs) == 0 {
		return
	}
	order := func(wl string) int {
		if i := slices.Index(workloadOrder, wl); i >= 0 {
			return i
		}
		return len(workloadOrder)
	}
	sort.Slice(cfgs, func(i, j int) bool {
		a, b := cfgs[i], cfgs[j]
		if order(a.workload) != order(b.workload) {
			return order(a.workload) < order(b.workload)
		}
		if a.workload != b.workload {
			return a.workload < b.workload
		}
		if a.clients != b.clients {
			return a.clients < b.clients
		}
		return a.size < b.size
	})
	get := func(c ck, server string) *agg { return runs[runKey{setup, c.workload, c.clients, c.size, server, 0}] }
	opsOf := func(a *agg) []float64 { return a.ops }
	p50Of := func(a *agg) []float64 { return a.p50 }
	p99Of := func(a *agg) []float64 { return a.p99 }

	fmt.Fprintln(w, "### Throughput and latency, sessions spread over the 3 members (medians over repetitions)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Goals (issue 6): writes (`create`, `set`) zkserver ÷ ZK ≥ %.1f×; p99 zkserver ÷ ZK ≤ %.1f×.\n\n", goalWriteRatio, goalP99Ratio)
	fmt.Fprintln(w, "| workload | clients | size B | ZooKeeper ops/s | zkserver ops/s | zkserver ÷ ZK | write goal ≥2× | ZK p50 ms | zkserver p50 ms | ZK p99 ms | zkserver p99 ms | p99 zkserver ÷ ZK | p99 goal ≤1× |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|")
	for _, c := range cfgs {
		zk, zs := get(c, srvZK), get(c, srvZKS)
		wgoal := "(read)"
		if isWrite(c.workload) {
			wgoal = verdict(zs, zk, opsOf, func(r float64) bool { return r >= goalWriteRatio })
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.workload, c.clients, c.size,
			num(zk, opsOf, 1, "%.0f"), num(zs, opsOf, 1, "%.0f"), ratio(zs, zk, opsOf), wgoal,
			num(zk, p50Of, 1e-3, "%.2f"), num(zs, p50Of, 1e-3, "%.2f"),
			num(zk, p99Of, 1e-3, "%.2f"), num(zs, p99Of, 1e-3, "%.2f"), ratio(zs, zk, p99Of),
			verdict(zs, zk, p99Of, func(r float64) bool { return r <= goalP99Ratio }))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Latency detail (µs, medians over repetitions):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | clients | size B | server | ops/s | p50 | p90 | p99 | p99.9 | max | errors |")
	fmt.Fprintln(w, "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, c := range cfgs {
		for _, s := range []string{srvZK, srvZKS} {
			a := get(c, s)
			if a == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", c.workload, c.clients, c.size, s,
				a.med(opsOf), a.med(p50Of), a.med(func(a *agg) []float64 { return a.p90 }), a.med(p99Of),
				a.med(func(a *agg) []float64 { return a.p999 }), a.med(func(a *agg) []float64 { return a.max }), errText(a))
		}
	}
	fmt.Fprintln(w)
}

func writeFailovers(w io.Writer, all []FailoverResult, setup string) {
	by := map[string][]FailoverResult{}
	for _, f := range all {
		if f.Setup == setup {
			by[f.Server] = append(by[f.Server], f)
		}
	}
	if len(by) == 0 {
		return
	}
	col := func(server string, f func(FailoverResult) float64) []float64 {
		var xs []float64
		for _, r := range by[server] {
			xs = append(xs, f(r))
		}
		return xs
	}
	cell := func(xs []float64) string {
		if len(xs) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.3f", median(xs))
	}
	rat := func(a, b []float64) string {
		if len(a) == 0 || len(b) == 0 || median(b) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", median(a)/median(b))
	}
	secs := func(r FailoverResult) float64 { return r.Seconds }
	allS := func(r FailoverResult) float64 { return r.AllSeconds }
	elec := func(r FailoverResult) float64 { return r.ElectedSeconds }
	fmt.Fprintln(w, "### Leader failover (kill -9 of the leader with writers on all 3 members)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Seconds from SIGKILL of the leader until a write *sent after the kill* is acknowledged through a survivor (median over kills). Goal (issue 6): zkserver ÷ ZK ≤ %.1f×.\n\n", goalFailoverRatio)
	fmt.Fprintln(w, "| measure | ZooKeeper s | zkserver s | zkserver ÷ ZK | goal ≤0.5× |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|")
	zkS, zsS := col(srvZK, secs), col(srvZKS, secs)
	goal := "—"
	if len(zkS) > 0 && len(zsS) > 0 && median(zkS) > 0 {
		goal = "**not met**"
		if median(zsS)/median(zkS) <= goalFailoverRatio {
			goal = "met"
		}
	}
	fmt.Fprintf(w, "| kills | %d | %d | | |\n", len(zkS), len(zsS))
	fmt.Fprintf(w, "| **first write acknowledged** | %s | %s | %s | %s |\n", cell(zkS), cell(zsS), rat(zsS, zkS), goal)
	fmt.Fprintf(w, "| both survivors' writers acknowledged | %s | %s | %s | |\n", cell(col(srvZK, allS)), cell(col(srvZKS, allS)), rat(col(srvZKS, allS), col(srvZK, allS)))
	fmt.Fprintf(w, "| a survivor's srvr says leader (polled every 20 ms) | %s | %s | %s | |\n", cell(col(srvZK, elec)), cell(col(srvZKS, elec)), rat(col(srvZKS, elec), col(srvZK, elec)))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every kill:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | round | killed sid | new leader sid | first write s | both survivors s | srvr leader s | writes acked before / after |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range []string{srvZK, srvZKS} {
		for _, r := range by[s] {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %.3f | %.3f | %.3f | %d / %d |\n", s, r.Rep, r.Killed, r.NewLeader, r.Seconds, r.AllSeconds, r.ElectedSeconds, r.WritesPre, r.WritesPost)
		}
	}
	fmt.Fprintln(w)
}

// spread is the run-to-run noise of one configuration: (max − min) ÷
// median of its repetitions; ok is false with fewer than two repetitions.
func spread(xs []float64) (s float64, ok bool) {
	m := median(xs)
	if len(xs) < 2 || m == 0 {
		return 0, false
	}
	return (slices.Max(xs) - slices.Min(xs)) / m, true
}

// noiseVerdict marks a with ÷ without ratio r as inside or outside the
// noise: inside when it differs from 1 by no more than the larger spread
// between repetitions of the two servers' rows.
func noiseVerdict(r float64, xs, ys []float64) string {
	a, ok1 := spread(xs)
	b, ok2 := spread(ys)
	if !ok1 || !ok2 {
		return ""
	}
	n := max(a, b)
	d := r - 1
	if d < 0 {
		d = -d
	}
	if d <= n {
		return fmt.Sprintf(" (inside ±%.0f%%)", 100*n)
	}
	return fmt.Sprintf(" (**outside ±%.0f%%**)", 100*n)
}

// writeMetricsCost renders the section "Metrics cost": zkserver without and
// with the Prometheus endpoint (scraped once a second), per configuration
// both ran, and the machine's noise (spread between repetitions of the same
// server), so a reader sees whether the difference is inside it.
func writeMetricsCost(w io.Writer, runs map[runKey]*agg, scrapes []record) {
	type ck struct {
		workload      string
		clients, size int
	}
	var cfgs []ck
	for k := range runs {
		if k.setup != "" || k.server != srvZKSM || k.workload == "load" {
			continue
		}
		if runs[runKey{"", k.workload, k.clients, k.size, srvZKS, 0}] == nil {
			continue
		}
		cfgs = append(cfgs, ck{k.workload, k.clients, k.size})
	}
	if len(cfgs) == 0 {
		return
	}
	order := func(wl string) int {
		if i := slices.Index(workloadOrder, wl); i >= 0 {
			return i
		}
		return len(workloadOrder)
	}
	sort.Slice(cfgs, func(i, j int) bool {
		a, b := cfgs[i], cfgs[j]
		if order(a.workload) != order(b.workload) {
			return order(a.workload) < order(b.workload)
		}
		if a.workload != b.workload {
			return a.workload < b.workload
		}
		if a.clients != b.clients {
			return a.clients < b.clients
		}
		return a.size < b.size
	})
	type sc struct{ ok, failed int64 }
	scr := map[ck]*sc{}
	for _, r := range scrapes {
		if r.Server != srvZKSM || r.Setup != "" {
			continue
		}
		k := ck{r.Workload, r.Clients, r.ValueSize}
		if scr[k] == nil {
			scr[k] = &sc{}
		}
		scr[k].ok += r.Scrapes
		scr[k].failed += r.ScrapeFails
	}
	get := func(c ck, server string) *agg { return runs[runKey{"", c.workload, c.clients, c.size, server, 0}] }
	opsOf := func(a *agg) []float64 { return a.ops }
	p99Of := func(a *agg) []float64 { return a.p99 }
	spreadCell := func(xs, ys []float64) string {
		a, ok1 := spread(xs)
		b, ok2 := spread(ys)
		if !ok1 || !ok2 {
			return "—"
		}
		return fmt.Sprintf("%.0f%% / %.0f%%", 100*a, 100*b)
	}

	fmt.Fprintln(w, "## Metrics cost: zkserver without and with Prometheus metrics (medians over repetitions)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`zkserver-metrics` is the same binary and zoo.cfg plus `metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider` and its own `metricsProvider.httpPort`, with `/metrics` scraped once a second during each of its runs (warm-up included); it takes its turn in the same rotation. Ratios are with ÷ without: ops/s **higher is better**, p99 **lower is better**; 1.00× means no cost.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | clients | size B | without ops/s | with ops/s | ops/s with ÷ without | without p99 ms | with p99 ms | p99 with ÷ without | rep spread ops/s (without / with) | rep spread p99 (without / with) | scrapes ok / failed |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	var opsRatios []float64
	for _, c := range cfgs {
		zs, zm := get(c, srvZKS), get(c, srvZKSM)
		ro, rp := ratio(zm, zs, opsOf), ratio(zm, zs, p99Of)
		if zs.med(opsOf) > 0 {
			r := zm.med(opsOf) / zs.med(opsOf)
			opsRatios = append(opsRatios, r)
			ro += noiseVerdict(r, zs.ops, zm.ops)
		}
		if zs.med(p99Of) > 0 {
			rp += noiseVerdict(zm.med(p99Of)/zs.med(p99Of), zs.p99, zm.p99)
		}
		scrCell := "—"
		if s := scr[c]; s != nil {
			scrCell = fmt.Sprintf("%d / %d", s.ok, s.failed)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.workload, c.clients, c.size,
			num(zs, opsOf, 1, "%.0f"), num(zm, opsOf, 1, "%.0f"), ro,
			num(zs, p99Of, 1e-3, "%.2f"), num(zm, p99Of, 1e-3, "%.2f"), rp,
			spreadCell(zs.ops, zm.ops), spreadCell(zs.p99, zm.p99), scrCell)
	}
	fmt.Fprintln(w)
	if len(opsRatios) > 0 {
		fmt.Fprintf(w, "Throughput with ÷ without over these %d rows: median %.2f× (%.2f× to %.2f×).\n\n",
			len(opsRatios), median(opsRatios), slices.Min(opsRatios), slices.Max(opsRatios))
	}

	// The machine's noise: every standalone configuration either zkserver
	// kind ran at least twice.
	var so, sp []float64
	for k, a := range runs {
		if k.setup != "" || k.workload == "load" || (k.server != srvZKS && k.server != srvZKSM) {
			continue
		}
		if s, ok := spread(a.ops); ok {
			so = append(so, s)
		}
		if s, ok := spread(a.p99); ok {
			sp = append(sp, s)
		}
	}
	if len(so) == 0 {
		fmt.Fprintln(w, "Noise of this machine: not estimated (one repetition per server; run with `BENCH_REPS` ≥ 2 to see whether a difference is inside the noise).")
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "Noise of this machine: between repetitions of the same server and configuration (spread = (max − min) ÷ median, over the %d standalone configurations zkserver or zkserver-metrics ran at least twice), throughput differs by a median of %.0f%% (max %.0f%%)",
		len(so), 100*median(so), 100*slices.Max(so))
	if len(sp) > 0 {
		fmt.Fprintf(w, " and p99 by a median of %.0f%% (max %.0f%%)", 100*median(sp), 100*slices.Max(sp))
	}
	fmt.Fprintln(w, ". A ratio is marked inside the noise when it differs from 1.00× by no more than the larger spread of its two rows.")
	fmt.Fprintln(w)
}
