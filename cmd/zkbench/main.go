// Command zkbench is a load generator for ZooKeeper-compatible servers,
// written with github.com/go-zookeeper/zk. Every run is bounded both in
// operations (-ops) and in time (-duration).
//
//	zkbench -addr 127.0.0.1:2181 -workload get -clients 1,16,64 -value-size 128 -duration 5s
//	zkbench -workload load -n 100000 -value-size 100 -clients 4 -pipeline 64 -duration 10m
//	zkbench -workload fsync -dir /path/on/disk -duration 3s
//	zkbench -workload ready -since $(date +%s%N) -path /zkbench/load/b99/n99999 -duration 5m
//	zkbench -report bench/results/latest.jsonl
//	zkbench -addr h:1,h:2,h:3 -workload set -clients 16 -setup ensemble3   # sessions spread over members
//	zkbench -addr h:1,h:2,h:3 -workload ensemble-ready -duration 2m
//	zkbench -addr h:1,h:2,h:3 -pids 11,12,13 -workload failover -warmup 1s -duration 2m
//
// With -tree N, create/set/get/get-hot work on a tree a `load` of N znodes
// left (spread over it; get-hot on -hot znodes): bench/storage.sh.
//
// Workloads: create, set, get, mixed (90 % get / 10 % set), exists-watch
// (latency from setData to the watch event arriving at another session),
// ephemeral-churn (connect, create an ephemeral znode, close), load (fill a
// two-level tree of -n znodes, pipelined: -pipeline goroutines share each of
// the -clients sessions). Utility modes: fsync (the disk's raw write+fsync
// rate) and ready (time until a server answers ruok and serves a read).
// Ensemble modes: ensemble-ready (until srvr shows one leader, the others
// following, and the leader's mntr counts them synced) and failover (writers
// on every member, SIGKILL of the leader's -pids entry, time until a write
// sent after the kill is acknowledged by a survivor).
//
// Each run prints one JSON line (with -json, on stdout) and, at the end, a
// readable table (on stderr with -json, otherwise on stdout).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Config describes one run.
type Config struct {
	Addr       string
	Workload   string
	Clients    int
	ValueSize  int
	Duration   time.Duration
	Warmup     time.Duration
	Ops        int64
	Root       string
	N          int64 // load: znodes to create
	Start      int64 // load: first index
	Pipeline   int   // load: goroutines per session
	Sequential bool  // create: PERSISTENT_SEQUENTIAL under one parent
	Tree       int64 // create/set/get/get-hot on a tree loaded earlier (tree.go)
	Hot        int64 // get-hot: loaded znodes in the working set
	OpTimeout  time.Duration
	Label      string
	Setup      string // recorded in the JSON: "" (standalone) or e.g. "ensemble3"
	Rep        int
}

// Result is one run's outcome, printed as one JSON line.
type Result struct {
	Kind       string  `json:"kind"` // "run"
	Server     string  `json:"server,omitempty"`
	Setup      string  `json:"setup,omitempty"`
	Workload   string  `json:"workload"`
	Clients    int     `json:"clients"`
	ValueSize  int     `json:"value_size"`
	Rep        int     `json:"rep,omitempty"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	MeanUs     float64 `json:"mean_us"`
	P50Us      float64 `json:"p50_us"`
	P90Us      float64 `json:"p90_us"`
	P99Us      float64 `json:"p99_us"`
	P999Us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	N          int64   `json:"n,omitempty"`
	Tree       int64   `json:"tree,omitempty"`
	LastPath   string  `json:"last_path,omitempty"`
	FirstError string  `json:"first_error,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zkbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var clients, sizes string
	var asJSON bool
	var dir, path, report, storageReport string
	var since, znodes int64
	var pids string
	var interval, stall time.Duration
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:2181", "server address host:port, or a comma list (ensemble members): session i uses the (i mod n)th")
	fs.StringVar(&c.Workload, "workload", "get", "create, set, get, mixed, exists-watch, ephemeral-churn, load, fsync, ready, ensemble-ready or failover")
	fs.StringVar(&clients, "clients", "1", "sessions, or a comma list (e.g. 1,16,64) to run each")
	fs.StringVar(&sizes, "value-size", "128", "value bytes, or a comma list (e.g. 128,1024)")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "time bound of each run (ready: how long to wait)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "unmeasured warm-up before each run's measured part")
	fs.Int64Var(&c.Ops, "ops", 10_000_000, "operation bound of each run (warm-up included)")
	fs.StringVar(&c.Root, "root", "/zkbench", "parent znode of everything zkbench creates")
	fs.Int64Var(&c.N, "n", 100_000, "load: znodes to create")
	fs.Int64Var(&c.Start, "start", 0, "load: index of the first znode (to extend an earlier load)")
	fs.IntVar(&c.Pipeline, "pipeline", 64, "load: concurrent requests per session")
	fs.Int64Var(&c.Tree, "tree", 0, "create, set, get, get-hot: work on the tree of this many znodes a `load` left (root/load/b<i/1000>/n<i>): set/get spread over it, creates under its buckets")
	fs.Int64Var(&c.Hot, "hot", 10000, "get-hot: the working set, this many loaded znodes evenly spaced over the -tree")
	fs.BoolVar(&c.Sequential, "sequential", false, "create: sequential znodes under one shared parent instead of distinct paths")
	fs.DurationVar(&c.OpTimeout, "op-timeout", 10*time.Second, "give up on a connect or watch event after this long")
	fs.StringVar(&c.Label, "label", "", "server name recorded in the JSON (e.g. zkserver, zookeeper, fake)")
	fs.IntVar(&c.Rep, "rep", 0, "repetition number recorded in the JSON")
	fs.StringVar(&c.Setup, "setup", "", "setup recorded in the JSON (e.g. ensemble3); the report groups runs by it")
	fs.StringVar(&pids, "pids", "", "failover: process ids of the -addr servers, in the same order")
	fs.DurationVar(&interval, "interval", 5*time.Millisecond, "failover: time between writes of each server's writer")
	fs.DurationVar(&stall, "stall", 2*time.Second, "failover: a writer reconnects when no reply came for this long")
	fs.BoolVar(&asJSON, "json", false, "JSON lines on stdout (the table goes to stderr)")
	fs.StringVar(&dir, "dir", ".", "fsync: directory to test")
	fs.StringVar(&path, "path", "/", "ready: znode to read")
	fs.Int64Var(&znodes, "znodes", 0, "ready: znode count recorded in the JSON")
	fs.Int64Var(&since, "since", 0, "ready: process start time, Unix nanoseconds (default: now)")
	fs.StringVar(&report, "report", "", "print the markdown report of a results .jsonl file and exit")
	fs.StringVar(&storageReport, "storage-report", "", "print the markdown report of a bench/storage.sh .jsonl file and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if storageReport != "" {
		if err := writeStorageReport(storageReport, stdout); err != nil {
			fmt.Fprintln(stderr, "zkbench:", err)
			return 1
		}
		return 0
	}
	if report != "" {
		if err := writeReport(report, stdout); err != nil {
			fmt.Fprintln(stderr, "zkbench:", err)
			return 1
		}
		return 0
	}
	switch c.Workload {
	case "fsync":
		r, err := fsyncRate(dir, c.Duration)
		if err != nil {
			fmt.Fprintln(stderr, "zkbench:", err)
			return 1
		}
		printLine(stdout, r)
		return 0
	case "ready":
		if since == 0 {
			since = time.Now().UnixNano()
		}
		r, err := waitReady(c.Addr, path, time.Unix(0, since), c.Duration, c.Label, znodes)
		if err != nil {
			fmt.Fprintln(stderr, "zkbench:", err)
			return 1
		}
		printLine(stdout, r)
		return 0
	case "ensemble-ready":
		r, err := waitEnsemble(splitAddrs(c.Addr), c.Duration, c.Label)
		if err != nil {
			fmt.Fprintln(stderr, "zkbench:", err)
			return 1
		}
		printLine(stdout, r)
		return 0
	case "failover":
		ps, err := intList(pids)
		if err != nil {
			fmt.Fprintln(stderr, "zkbench: -pids:", err)
			return 2
		}
		vs, err := intList(sizes)
		if err != nil {
			fmt.Fprintln(stderr, "zkbench: -value-size:", err)
			return 2
		}
		r, err := Failover(FailoverConfig{Addrs: splitAddrs(c.Addr), Pids: ps, Path: c.Root + "/failover",
			ValueSize: vs[0], Interval: interval, Stall: stall, Warmup: c.Warmup, Timeout: c.Duration,
			Label: c.Label, Setup: c.Setup, Rep: c.Rep})
		if err != nil {
			fmt.Fprintln(stderr, "zkbench: failover:", err)
			if r.Killed != 0 {
				printLine(stdout, r) // the script must still restart what was killed
			}
			return 1
		}
		printLine(stdout, r)
		return 0
	}
	if _, ok := workloads[c.Workload]; !ok && c.Tree <= 0 {
		fmt.Fprintf(stderr, "zkbench: unknown workload %q (get-hot needs -tree)\n", c.Workload)
		return 2
	}
	if _, ok := treeWorkloads[c.Workload]; !ok && c.Tree > 0 {
		fmt.Fprintf(stderr, "zkbench: workload %q does not take -tree\n", c.Workload)
		return 2
	}
	cl, err := intList(clients)
	if err != nil {
		fmt.Fprintln(stderr, "zkbench: -clients:", err)
		return 2
	}
	vs, err := intList(sizes)
	if err != nil {
		fmt.Fprintln(stderr, "zkbench: -value-size:", err)
		return 2
	}
	var results []Result
	failed := false
	for _, n := range cl {
		for _, s := range vs {
			rc := c
			rc.Clients, rc.ValueSize = n, s
			r, err := Run(rc)
			if err != nil {
				fmt.Fprintf(stderr, "zkbench: %s clients=%d size=%d: %v\n", c.Workload, n, s, err)
				failed = true
				continue
			}
			if asJSON {
				printLine(stdout, r)
			}
			results = append(results, r)
		}
	}
	table := stdout
	if asJSON {
		table = stderr
	}
	printTable(table, results)
	if failed {
		return 1
	}
	return 0
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func printLine(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", b)
}

func printTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tworkload\tclients\tsize\tops\terrors\tops/s\tp50 µs\tp90 µs\tp99 µs\tp99.9 µs\tmax µs\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n",
			r.Server, r.Workload, r.Clients, r.ValueSize, r.Ops, r.Errors, r.OpsPerSec,
			r.P50Us, r.P90Us, r.P99Us, r.P999Us, r.MaxUs)
	}
	tw.Flush()
}
