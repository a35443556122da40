package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// FsyncResult is the disk's raw durable-write rate: 4 KiB written then
// fsync(2), in a loop, on a file in the tested directory.
type FsyncResult struct {
	Kind      string  `json:"kind"` // "fsync"
	Dir       string  `json:"dir"`
	Fsyncs    int64   `json:"fsyncs"`
	Seconds   float64 `json:"seconds"`
	PerSec    float64 `json:"fsyncs_per_sec"`
	MeanUs    float64 `json:"mean_us"`
	P50Us     float64 `json:"p50_us"`
	P99Us     float64 `json:"p99_us"`
	MaxUs     float64 `json:"max_us"`
	BlockSize int     `json:"block_size"`
}

func fsyncRate(dir string, d time.Duration) (FsyncResult, error) {
	const block = 4096
	const wrap = 64 << 20 // rewrite from the start after 64 MiB
	const maxOps = 10_000_000
	f, err := os.CreateTemp(dir, "zkbench-fsync-*")
	if err != nil {
		return FsyncResult{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, block)
	for i := range buf {
		buf[i] = byte(i)
	}
	h := newHist()
	var off int64
	start := time.Now()
	deadline := start.Add(d)
	var n int64
	for n < maxOps && time.Now().Before(deadline) {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return FsyncResult{}, err
		}
		if err := f.Sync(); err != nil {
			return FsyncResult{}, err
		}
		h.record(time.Since(t0).Nanoseconds())
		n++
		if off += block; off >= wrap {
			off = 0
		}
	}
	secs := time.Since(start).Seconds()
	return FsyncResult{
		Kind: "fsync", Dir: dir, Fsyncs: n, Seconds: round3(secs), PerSec: round1(float64(n) / secs),
		MeanUs: round1(h.mean() / 1e3), P50Us: round1(float64(h.quantile(0.5)) / 1e3),
		P99Us: round1(float64(h.quantile(0.99)) / 1e3), MaxUs: round1(float64(h.max) / 1e3), BlockSize: block,
	}, nil
}

// ReadyResult is the time from a server's process start until it answers
// ruok with imok, and until a read of Path succeeds.
type ReadyResult struct {
	Kind        string  `json:"kind"` // "ready"
	Server      string  `json:"server,omitempty"`
	Znodes      int64   `json:"znodes,omitempty"`
	Path        string  `json:"path"`
	RuokSeconds float64 `json:"ruok_seconds"`
	Seconds     float64 `json:"seconds"`
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(c, 64))
	return string(b) == "imok"
}

func waitReady(addr, path string, since time.Time, timeout time.Duration, label string, znodes int64) (ReadyResult, error) {
	r := ReadyResult{Kind: "ready", Server: label, Znodes: znodes, Path: path}
	deadline := time.Now().Add(timeout)
	for !ruok(addr) {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s: no imok within %v", addr, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.RuokSeconds = round3(time.Since(since).Seconds())
	// A raw session rather than go-zookeeper's: its reconnect loop sleeps a
	// whole second after a refused handshake, which would blur the timing.
	var lastErr error
	for time.Now().Before(deadline) {
		if lastErr = rawGet(addr, path, time.Until(deadline)); lastErr == nil {
			r.Seconds = round3(time.Since(since).Seconds())
			return r, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r, fmt.Errorf("%s: reading %s: %v", addr, path, lastErr)
}

// rawGet opens a session, reads path with getData and closes the session.
func rawGet(addr, path string, timeout time.Duration) error {
	timeout = min(timeout, 5*time.Second)
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	creq := wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	if _, err := c.Write(wire.AppendFrame(nil, creq.Encode)); err != nil {
		return err
	}
	buf, err := wire.ReadFrame(c, 1<<20, nil)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	var cresp wire.ConnectResponse
	if err := wire.Unmarshal(buf, &cresp); err != nil {
		return err
	}
	if cresp.SessionID == 0 {
		return errors.New("handshake refused")
	}
	req := wire.AppendFrame(nil, func(e *wire.Encoder) {
		h := wire.RequestHeader{Xid: 1, Type: wire.OpGetData}
		h.Encode(e)
		(&wire.PathWatchRequest{Path: path}).Encode(e)
	})
	closeReq := wire.AppendFrame(nil, func(e *wire.Encoder) {
		h := wire.RequestHeader{Xid: 2, Type: wire.OpCloseSession}
		h.Encode(e)
	})
	if _, err := c.Write(req); err != nil {
		return err
	}
	for {
		buf, err = wire.ReadFrame(c, 1<<20, buf)
		if err != nil {
			return err
		}
		d := wire.NewDecoder(buf)
		var h wire.ReplyHeader
		h.Decode(d)
		if err := d.Err(); err != nil {
			return err
		}
		if h.Xid != 1 {
			continue // a ping or notification
		}
		c.Write(closeReq)
		if h.Err != 0 {
			return fmt.Errorf("getData %s: %w", path, h.Err)
		}
		return nil
	}
}
