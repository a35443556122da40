package server

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// MemLimitFraction is the share of the container's memory limit given to
// Go as its soft memory limit (GOMEMLIMIT); the rest is left to Pebble's
// cache allocations outside the Go heap accounting, thread stacks and the
// kernel's page tables.
const MemLimitFraction = 0.9

// noLimit is where cgroup v1 reports "unlimited" (a page-rounded
// MaxInt64); anything this large is no limit.
const noLimit = int64(1) << 62

// CgroupMemoryLimit returns the memory limit of the cgroup the process is
// in, read under root ("/" in production): cgroup v2's memory.max or
// cgroup v1's memory.limit_in_bytes, the smallest one on the way from the
// process's cgroup up to the hierarchy's root. ok is false when there is
// no limit or no cgroup information; file names the file that set it.
func CgroupMemoryLimit(root string) (limit int64, file string, ok bool) {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, "", false
	}
	var v2, v1 string
	haveV2, haveV1 := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, haveV2 = parts[2], true
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1, haveV1 = parts[2], true
			}
		}
	}
	best := int64(0)
	try := func(dir, name string) {
		f := filepath.Join(dir, name)
		raw, err := os.ReadFile(f)
		if err != nil {
			return
		}
		s := strings.TrimSpace(string(raw))
		if s == "max" {
			return
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= noLimit {
			return
		}
		if best == 0 || n < best {
			best, file = n, f
		}
	}
	walk := func(mount, path, name string) {
		// the process's cgroup and its ancestors; in a container whose
		// cgroup namespace hides the path, only the mount's root exists
		p := filepath.Clean("/" + path)
		for {
			try(filepath.Join(mount, p), name)
			if p == "/" {
				break
			}
			p = filepath.Dir(p)
		}
	}
	if haveV1 {
		walk(filepath.Join(root, "sys/fs/cgroup/memory"), v1, "memory.limit_in_bytes")
	}
	if best == 0 && haveV2 {
		walk(filepath.Join(root, "sys/fs/cgroup"), v2, "memory.max")
	}
	return best, file, best > 0
}

// ApplyMemoryLimit sets Go's soft memory limit to MemLimitFraction of the
// container's memory limit (read under root) when GOMEMLIMIT is not set
// (getenv is os.Getenv in production), logs what it did and returns the
// limit set (0 when it set none).
func ApplyMemoryLimit(getenv func(string) string, root string, log *zap.Logger) int64 {
	if v := getenv("GOMEMLIMIT"); v != "" {
		log.Info("GOMEMLIMIT set by the environment", zap.String("GOMEMLIMIT", v))
		return 0
	}
	limit, file, ok := CgroupMemoryLimit(root)
	if !ok {
		log.Info("no container memory limit found; GOMEMLIMIT not set")
		return 0
	}
	set := int64(float64(limit) * MemLimitFraction)
	debug.SetMemoryLimit(set)
	log.Info("GOMEMLIMIT set from the container's memory limit", zap.String("file", file),
		zap.Int64("cgroupLimitBytes", limit), zap.Int64("GOMEMLIMIT", set))
	return set
}

// PebbleGCPercent is Go's GC target (GOGC) in pebble mode. The tree lives
// outside the Go heap there, so what is live in it is small (node cache,
// pending batch, sessions, watches) and the default target of 100 lets
// garbage double it: at 10M znodes the peak RSS reached 513 MiB, with
// 66 MiB live of a 100-140 MiB Go heap. 50 holds the heap nearer to what
// is live for little GC work, since little is live.
const PebbleGCPercent = 50

// ApplyPebbleGCPercent sets PebbleGCPercent unless GOGC is set (getenv is
// os.Getenv in production); it returns the value set (0 when it set none).
func ApplyPebbleGCPercent(getenv func(string) string, log *zap.Logger) int {
	if v := getenv("GOGC"); v != "" {
		log.Info("GOGC set by the environment", zap.String("GOGC", v))
		return 0
	}
	debug.SetGCPercent(PebbleGCPercent)
	log.Info("GOGC set for pebble mode", zap.Int("GOGC", PebbleGCPercent))
	return PebbleGCPercent
}
