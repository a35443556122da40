package server

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func fakeFS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		f := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupMemoryLimit(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  int64
		file  string
	}{
		{"v2 root", map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "536870912\n"},
			512 << 20, "sys/fs/cgroup/memory.max"},
		{"v2 max", map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"}, 0, ""},
		{"v2 nested, parent smaller", map[string]string{"proc/self/cgroup": "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":    "1073741824\n",
			"sys/fs/cgroup/kubepods/memory.max":         "2147483648\n"},
			1 << 30, "sys/fs/cgroup/kubepods/pod1/memory.max"},
		{"v2 namespaced (path hidden)", map[string]string{"proc/self/cgroup": "0::/some/where\n",
			"sys/fs/cgroup/memory.max": "268435456"}, 256 << 20, "sys/fs/cgroup/memory.max"},
		{"v1", map[string]string{"proc/self/cgroup": "12:pids:/\n4:memory:/docker/abc\n1:cpu,cpuacct:/\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "805306368\n"},
			768 << 20, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"},
		{"v1 unlimited", map[string]string{"proc/self/cgroup": "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, ""},
		{"garbage", map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "lots\n"}, 0, ""},
		{"no cgroup file", map[string]string{}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := fakeFS(t, c.files)
			got, file, ok := CgroupMemoryLimit(root)
			if got != c.want || ok != (c.want > 0) {
				t.Fatalf("limit %d ok %v; want %d", got, ok, c.want)
			}
			if c.file != "" && file != filepath.Join(root, c.file) {
				t.Fatalf("file %s; want %s", file, c.file)
			}
		})
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	root := fakeFS(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1000000000\n"})
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	debug.SetMemoryLimit(math.MaxInt64)
	if got := ApplyMemoryLimit(getenv, root, zap.NewNop()); got != 900000000 || debug.SetMemoryLimit(-1) != 900000000 {
		t.Fatalf("set %d, runtime has %d; want 900000000", got, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(math.MaxInt64)
	env["GOMEMLIMIT"] = "2GiB"
	if got := ApplyMemoryLimit(getenv, root, zap.NewNop()); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT in the environment was overridden (%d)", got)
	}
	delete(env, "GOMEMLIMIT")
	if got := ApplyMemoryLimit(getenv, t.TempDir(), zap.NewNop()); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("no cgroup, yet a limit was set (%d)", got)
	}
}

// FuzzCgroupMemoryLimit: any content of /proc/self/cgroup and of the limit
// files gives a limit that is either absent or a positive figure from one
// of them, never a panic.
func FuzzCgroupMemoryLimit(f *testing.F) {
	f.Add("0::/a/b\n", "max\n", "4:memory:/x\n", "1048576\n")
	f.Add("0::/\n", "536870912", "", "")
	f.Add("4:memory:/../..\n0::", "-5", "9:memory,cpu:/\n", "9223372036854771712")
	f.Fuzz(func(t *testing.T, v2cg, v2max, v1cg, v1lim string) {
		root := t.TempDir()
		write := func(p, c string) {
			full := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("proc/self/cgroup", v2cg+"\n"+v1cg)
		write("sys/fs/cgroup/memory.max", v2max)
		write("sys/fs/cgroup/memory/memory.limit_in_bytes", v1lim)
		limit, file, ok := CgroupMemoryLimit(root)
		if ok != (limit > 0) || limit >= noLimit {
			t.Fatalf("limit %d ok %v", limit, ok)
		}
		if ok {
			b, err := os.ReadFile(file)
			if err != nil || !strings.Contains(string(b), strconv.FormatInt(limit, 10)) {
				t.Fatalf("limit %d not from %s (%q, %v)", limit, file, b, err)
			}
			if rel, err := filepath.Rel(root, file); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("limit read outside the root: %s", file)
			}
		}
	})
}

func TestApplyPebbleGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := ApplyPebbleGCPercent(getenv, zap.NewNop()); got != PebbleGCPercent || debug.SetGCPercent(100) != PebbleGCPercent {
		t.Fatalf("set %d", got)
	}
	env["GOGC"] = "200"
	if got := ApplyPebbleGCPercent(getenv, zap.NewNop()); got != 0 || debug.SetGCPercent(100) != 100 {
		t.Fatalf("GOGC in the environment was overridden (%d)", got)
	}
}
