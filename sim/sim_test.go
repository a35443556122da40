package sim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	flagSeed  = flag.Uint64("sim.seed", 0, "replay one seed (also SIM_SEED)")
	flagSeeds = flag.Int("sim.seeds", 0, "number of seeds to run (also SIM_SEEDS; default 1000)")
	flagFirst = flag.Uint64("sim.first", 1, "first seed of the range (also SIM_FIRST)")
	flagV     = flag.Bool("sim.v", false, "print every run's stats")
)

func envUint(name string, def uint64) uint64 {
	if s := os.Getenv(name); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err == nil {
			return v
		}
	}
	return def
}

// ConfigFor is the run a seed stands for: the seed picks the ensemble
// (3 or 5 voters, sometimes an observer) and the fault profile.
func ConfigFor(seed uint64) Config {
	c := Config{Seed: seed, Voters: 3, FaultTime: 6 * time.Second, HealTime: 20 * time.Second,
		WriteEvery: 40 * time.Millisecond}
	switch seed % 4 {
	case 1, 3:
		c.Voters = 5
	}
	if seed%3 == 0 {
		c.Observers = 1
	}
	switch (seed / 4) % 5 {
	case 0: // no faults but slow links and disks
		c.Faults = Faults{MaxDelay: 20 * time.Millisecond, MaxFsync: 30 * time.Millisecond}
	case 1: // crashes, partitions and lossy elections
		c.Faults = Faults{Chaos: 500 * time.Millisecond, ElectionDrop: 0.1, ElectionDup: 0.1,
			MaxDelay: 5 * time.Millisecond, MaxFsync: 10 * time.Millisecond}
	case 2: // heavy chaos, small committed window: syncs from the log
		c.Faults = Faults{Chaos: 200 * time.Millisecond, ElectionDrop: 0.3, ElectionDup: 0.2,
			MaxDelay: 10 * time.Millisecond, MaxFsync: 20 * time.Millisecond}
		c.CommitLogCount = 4
	case 3: // heavy chaos without disk sync: SNAP
		c.Faults = Faults{Chaos: 250 * time.Millisecond, ElectionDrop: 0.2, ElectionDup: 0.2,
			MaxDelay: 3 * time.Millisecond, MaxFsync: 15 * time.Millisecond}
		c.CommitLogCount = 2
		c.NoDiskSync = true
	case 4: // chaos with fast networks and slow disks
		c.Faults = Faults{Chaos: 400 * time.Millisecond, ElectionDrop: 0.05,
			MaxDelay: 1 * time.Millisecond, MaxFsync: 50 * time.Millisecond}
	}
	return c
}

func replayCmd(seed uint64) string {
	if os.Getenv("SIM_SHELL_TODAY") != "" {
		return fmt.Sprintf("SIM_SHELL_TODAY=1 go test ./sim/ -run 'TestSim$' -sim.seed=%d -v", seed)
	}
	return fmt.Sprintf("go test ./sim/ -run 'TestSim$' -sim.seed=%d -v", seed)
}

func runSeed(seed uint64) (*World, error) {
	c := ConfigFor(seed)
	c.TraceLen = int(envUint("SIM_TRACE", 80))
	c.ShellAsToday = os.Getenv("SIM_SHELL_TODAY") != ""
	w := New(c)
	err := w.Run()
	return w, err
}

// TestSim runs many seeds (SIM_SEEDS / -sim.seeds, default 1000) on all
// cores, or replays one (SIM_SEED / -sim.seed).
func TestSim(t *testing.T) {
	if s := envUint("SIM_SEED", *flagSeed); s != 0 {
		w, err := runSeed(s)
		t.Logf("seed %d: %+v", s, w.Stats)
		if err != nil {
			t.Fatalf("%v\nreplay: %s", err, replayCmd(s))
		}
		return
	}
	n := int(envUint("SIM_SEEDS", uint64(*flagSeeds)))
	if n == 0 {
		n = 1000
	}
	first := envUint("SIM_FIRST", *flagFirst)
	start := time.Now()
	var (
		mu     sync.Mutex
		fails  []string
		total  Stats
		next   = first
		wg     sync.WaitGroup
		failed = 0
	)
	total.Syncs = map[string]int{}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= first+uint64(n) || failed >= 3 {
					mu.Unlock()
					return
				}
				s := next
				next++
				mu.Unlock()
				w, err := runSeed(s)
				mu.Lock()
				if err != nil {
					failed++
					fails = append(fails, fmt.Sprintf("%v\nreplay: %s", err, replayCmd(s)))
				}
				total.Events += w.Stats.Events
				total.Commits += w.Stats.Commits
				total.Acked += w.Stats.Acked
				total.Elections += w.Stats.Elections
				total.Established += w.Stats.Established
				total.Crashes += w.Stats.Crashes
				for k, v := range w.Stats.Syncs {
					total.Syncs[k] += v
				}
				if *flagV {
					t.Logf("seed %d: %+v", s, w.Stats)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds from %d in %v: %+v", n, first, time.Since(start), total)
	for _, f := range fails {
		t.Error(f)
	}
}

// TestDeterministic: a seed replays exactly.
func TestDeterministic(t *testing.T) {
	for _, s := range []uint64{5, 6, 11, 13} {
		a, errA := runSeed(s)
		b, errB := runSeed(s)
		if fmt.Sprint(errA) != fmt.Sprint(errB) || fmt.Sprintf("%+v", a.Stats) != fmt.Sprintf("%+v", b.Stats) ||
			a.now != b.now || a.seq != b.seq {
			t.Fatalf("seed %d ran differently twice: %+v %v / %+v %v", s, a.Stats, errA, b.Stats, errB)
		}
	}
}
