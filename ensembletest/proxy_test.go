package ensembletest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// cutMode says what a cut does to the connections a proxy carries.
type cutMode int

const (
	// cutReset closes open connections and refuses new ones (accepted and
	// closed at once): the peer sees resets, like a crashed host.
	cutReset cutMode = iota
	// cutBlackhole keeps open connections and new ones open but carries
	// no bytes in either direction: the peer sees silence, like a dead
	// link, and must notice by its own timeouts.
	cutBlackhole
)

// proxy is a TCP forwarder from a loopback listener to one target that
// the test can cut and restore.
type proxy struct {
	name   string
	target string
	ln     net.Listener

	mu    sync.Mutex
	cutAt bool
	mode  cutMode
	conns map[net.Conn]bool // both sides of every carried connection
	done  bool
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, name, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{name: name, target: target, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.done || (p.cutAt && p.mode == cutReset) {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(in)
	}
}

func (p *proxy) serve(in net.Conn) {
	defer p.wg.Done()
	// The target may not listen yet (a leader binds its quorum port a
	// moment after the election): retry for a while, as the peer's own
	// connect retries would have, instead of handing it an accepted
	// connection that closes at once.
	var out net.Conn
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; {
		out, err = net.DialTimeout("tcp", p.target, 2*time.Second)
		p.mu.Lock()
		gone := p.done || p.cutAt
		p.mu.Unlock()
		if err == nil || gone || time.Now().After(deadline) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		p.drop(in)
		return
	}
	p.mu.Lock()
	if p.done || (p.cutAt && p.mode == cutReset) {
		p.mu.Unlock()
		out.Close()
		p.drop(in)
		return
	}
	p.conns[out] = true
	p.mu.Unlock()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			p.drop(in)
			p.drop(out)
		})
	}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.pipe(out, in); closeBoth() }()
	go func() { defer p.wg.Done(); p.pipe(in, out); closeBoth() }()
}

// pipe copies src to dst; while the proxy is cut in blackhole mode the
// bytes read are discarded (the link is silent, not closed).
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			silent := p.cutAt && p.mode == cutBlackhole
			p.mu.Unlock()
			if !silent {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// cut stops the link. In cutReset mode open connections are closed; in
// cutBlackhole mode they stay open but silent. Bytes swallowed by a
// blackhole are lost, so connections cut that way are closed on restore
// (a TCP stream with a hole in it would be corrupt).
func (p *proxy) cut(mode cutMode) {
	p.mu.Lock()
	p.cutAt, p.mode = true, mode
	var victims []net.Conn
	if mode == cutReset {
		for c := range p.conns {
			victims = append(victims, c)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	wasHole := p.cutAt && p.mode == cutBlackhole
	p.cutAt = false
	var victims []net.Conn
	if wasHole {
		for c := range p.conns {
			victims = append(victims, c)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.done = true
	var victims []net.Conn
	for c := range p.conns {
		victims = append(victims, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range victims {
		c.Close()
	}
	p.wg.Wait()
}

// TestProxy checks the proxy itself: bytes flow, a reset cut closes the
// connection and refuses new ones, a blackhole swallows bytes, restore
// carries traffic again.
func TestProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p := newProxy(t, "echo", echo.Addr().String())
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	roundTrip := func(c net.Conn, msg string, wait time.Duration) (string, error) {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		return string(buf), err
	}
	c := dial()
	if got, err := roundTrip(c, "hello", 2*time.Second); err != nil || got != "hello" {
		t.Fatalf("through proxy: %q %v", got, err)
	}
	p.cut(cutBlackhole)
	if got, err := roundTrip(c, "lost", 300*time.Millisecond); err == nil {
		t.Fatalf("blackhole carried %q", got)
	}
	p.restore()
	// the blackholed connection is closed on restore; a new one works
	if _, err := roundTrip(c, "x", time.Second); err == nil {
		t.Fatal("blackholed connection survived restore")
	}
	c2 := dial()
	if got, err := roundTrip(c2, "again", 2*time.Second); err != nil || got != "again" {
		t.Fatalf("after restore: %q %v", got, err)
	}
	p.cut(cutReset)
	if _, err := roundTrip(c2, "reset", time.Second); err == nil {
		t.Fatal("reset cut left the connection open")
	}
	c3 := dial()
	if _, err := roundTrip(c3, "refused", time.Second); err == nil {
		t.Fatal("reset cut accepted a new connection")
	}
	p.restore()
	c4 := dial()
	if got, err := roundTrip(c4, "back", 2*time.Second); err != nil || got != "back" {
		t.Fatalf("after second restore: %q %v", got, err)
	}
}
