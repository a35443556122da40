package electionrun

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zkserver/zkserver/election"
	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/wire"
)

// freeAddrs reserves n loopback ports (testkit.FreePorts).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for _, p := range testkit.FreePorts(t, n) {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	return addrs
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
}

// ensemble is n Runners with sids 1..n on loopback.
type ensemble struct {
	t     *testing.T
	addrs []string
	peers []PeerAddr
	rs    map[int64]*Runner
}

// testFinalizeWait replaces the 200 ms finalize wait in loopback tests that
// check which server wins: on a loaded 2-core machine (the race detector,
// other packages' tests) a better vote can take longer than 200 ms to
// arrive, and FLE then rightly settles on another leader.
const testFinalizeWait = time.Second

func newEnsemble(t *testing.T, n int, cnxTimeout time.Duration) *ensemble {
	e := &ensemble{t: t, addrs: freeAddrs(t, n), rs: map[int64]*Runner{}}
	for i, a := range e.addrs {
		e.peers = append(e.peers, PeerAddr{ID: int64(i + 1), ElectionAddr: a, Voter: true})
	}
	for i := range e.addrs {
		e.start(int64(i+1), cnxTimeout)
	}
	t.Cleanup(func() {
		for _, r := range e.rs {
			r.Close()
		}
	})
	return e
}

func (e *ensemble) start(id int64, cnxTimeout time.Duration) *Runner {
	e.t.Helper()
	var r *Runner
	var err error
	// The port was released a moment ago (or just now by Close): retry a few
	// times in case the kernel is still holding it.
	for i := 0; i < 50; i++ {
		r, err = Start(Options{MyID: id, ListenAddr: e.addrs[id-1], Peers: e.peers, ConfigString: "version=0",
			CnxTimeout: cnxTimeout, Logger: testLogger(e.t).Named(string(rune('0' + id))), FinalizeWait: testFinalizeWait})
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.rs[id] = r
	return r
}

type result struct {
	id  int64
	d   election.Decision
	err error
}

func (e *ensemble) elect(ctx context.Context, zxids map[int64]int64, epoch int64) map[int64]election.Decision {
	e.t.Helper()
	ch := make(chan result, len(zxids))
	for id, z := range zxids {
		go func(id, z int64) {
			d, err := e.rs[id].LookForLeader(ctx, z, epoch)
			ch <- result{id, d, err}
		}(id, z)
	}
	out := map[int64]election.Decision{}
	for range zxids {
		r := <-ch
		if r.err != nil {
			e.t.Fatalf("server %d: %v", r.id, r.err)
		}
		out[r.id] = r.d
	}
	return out
}

func checkDecisions(t *testing.T, ds map[int64]election.Decision, leader int64) {
	t.Helper()
	for id, d := range ds {
		want := wire.StateFollowing
		if id == leader {
			want = wire.StateLeading
		}
		if d.Vote.Leader != leader || d.State != want {
			t.Fatalf("server %d decided %s %d, want %s %d (all %v)", id, election.StateName(d.State), d.Vote.Leader,
				election.StateName(want), leader, ds)
		}
	}
}

func TestRunnersElectAndRejoin(t *testing.T) {
	e := newEnsemble(t, 3, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ds := e.elect(ctx, map[int64]int64{1: 0x100000005, 2: 0x100000007, 3: 0x100000006}, 1)
	checkDecisions(t, ds, 2)
	if v := ds[1].Vote; v.Zxid != 0x100000007 || v.PeerEpoch != 1 {
		t.Fatalf("vote %+v", v)
	}

	// Restart follower 3 with a better zxid: the others are settled, so it
	// must follow 2 from their answers anyway.
	e.rs[3].Close()
	r3 := e.start(3, time.Second)
	d, err := r3.LookForLeader(ctx, 0x100000009, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != wire.StateFollowing || d.Vote.Leader != 2 {
		t.Fatalf("restarted server decided %s %d", election.StateName(d.State), d.Vote.Leader)
	}
	if r3.State() != wire.StateFollowing || r3.CurrentVote() != d.Vote {
		t.Fatal("runner state not updated")
	}

	// All three restart (so none is still settled on 2 when the others
	// look) and elect again: best is 3 now.
	for id := int64(1); id <= 3; id++ {
		e.rs[id].Close()
		e.start(id, time.Second)
	}
	ds = e.elect(ctx, map[int64]int64{1: 0x100000007, 2: 0x100000007, 3: 0x100000009}, 1)
	checkDecisions(t, ds, 3)
}

func TestLookForLeaderContext(t *testing.T) {
	e := newEnsemble(t, 3, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Alone (the others never look) no quorum forms.
	_, err := e.rs[1].LookForLeader(ctx, 0, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if e.rs[1].State() != wire.StateLooking {
		t.Fatal("abandoned election left LOOKING")
	}
	e.rs[2].Close()
	if _, err := e.rs[2].LookForLeader(context.Background(), 0, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// rawPeer plays a server on the election port by hand.
type rawPeer struct {
	t   *testing.T
	sid int64
	ln  net.Listener
}

func newRawPeer(t *testing.T, sid int64) *rawPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &rawPeer{t: t, sid: sid, ln: ln}
}

func (p *rawPeer) accept() net.Conn {
	p.t.Helper()
	p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := p.ln.Accept()
	if err != nil {
		p.t.Fatalf("raw peer %d accept: %v", p.sid, err)
	}
	p.t.Cleanup(func() { c.Close() })
	return c
}

func (p *rawPeer) dial(addr string) net.Conn {
	p.t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	im := wire.InitialMessage{Version: wire.ElectionProtocolV1, SID: p.sid, Addr: p.ln.Addr().String()}
	if _, err := c.Write(wire.Marshal(&im)); err != nil {
		p.t.Fatal(err)
	}
	return c
}

func readInitial(t *testing.T, c net.Conn) *wire.InitialMessage {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	im, err := wire.ReadInitialMessage(c)
	if err != nil {
		t.Fatalf("initial message: %v", err)
	}
	return im
}

func readNote(t *testing.T, c net.Conn) wire.Notification {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := wire.ReadElectionMessage(c, nil)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	var n wire.Notification
	if err := wire.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readUntil reads notifications until one satisfies ok.
func readUntil(t *testing.T, c net.Conn, ok func(wire.Notification) bool) wire.Notification {
	t.Helper()
	for {
		if n := readNote(t, c); ok(n) {
			return n
		}
	}
}

func writeNote(t *testing.T, c net.Conn, n wire.Notification) {
	t.Helper()
	if _, err := c.Write(wire.AppendElectionMessage(nil, &n)); err != nil {
		t.Fatal(err)
	}
}

// expectClosed waits for the other side to close c.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [512]byte
	for {
		_, err := c.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: connection still open", what)
		}
		return
	}
}

// TestTieBreak drives a Runner (sid 2) with hand-made peers 1 and 3.
func TestTieBreak(t *testing.T) {
	p1, p3 := newRawPeer(t, 1), newRawPeer(t, 3)
	addr := freeAddrs(t, 1)[0]
	r, err := Start(Options{MyID: 2, ListenAddr: addr, ConfigString: "version=0", CnxTimeout: time.Second,
		Logger: testLogger(t), Peers: []PeerAddr{
			{ID: 1, ElectionAddr: p1.ln.Addr().String(), Voter: true},
			{ID: 2, ElectionAddr: addr, Voter: true},
			{ID: 3, ElectionAddr: p3.ln.Addr().String(), Voter: true},
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res := make(chan result, 1)
	go func() {
		d, err := r.LookForLeader(ctx, 0x100000004, 1)
		res <- result{2, d, err}
	}()

	// The runner connects to the smaller sid 1 and keeps that connection.
	c1 := p1.accept()
	if im := readInitial(t, c1); im.Version != wire.ElectionProtocolV1 || im.SID != 2 || im.Addr != addr {
		t.Fatalf("initial message %+v", im)
	}
	if n := readNote(t, c1); n.State != wire.StateLooking || n.Leader != 2 || n.Zxid != 0x100000004 ||
		n.ElectionEpoch != 1 || n.PeerEpoch != 1 || n.Version != 2 || n.Config != "version=0" {
		t.Fatalf("notification %+v", n)
	}

	// To the larger sid 3 it sends its initial message and hangs up: 3 must
	// call back.
	c3 := p3.accept()
	if im := readInitial(t, c3); im.SID != 2 {
		t.Fatalf("initial message %+v", im)
	}
	expectClosed(t, c3, "connection initiated towards a larger sid")

	// 3 calls back: the runner keeps it and sends its queued notification.
	c3 = p3.dial(addr)
	if n := readNote(t, c3); n.Leader != 2 || n.State != wire.StateLooking {
		t.Fatalf("notification to 3 %+v", n)
	}

	// 1 connects to the runner: closed, and the runner calls 1 back,
	// replacing the old connection and re-sending its last message.
	in := p1.dial(addr)
	expectClosed(t, in, "connection from the smaller sid")
	expectClosed(t, c1, "superseded connection to sid 1")
	c1 = p1.accept()
	if im := readInitial(t, c1); im.SID != 2 {
		t.Fatalf("initial message %+v", im)
	}
	if n := readNote(t, c1); n.Leader != 2 || n.Zxid != 0x100000004 {
		t.Fatalf("re-sent notification %+v", n)
	}

	// 3 proposes itself with a better zxid: the runner adopts it, tells
	// both, and with 3 forms a quorum: FOLLOWING 3.
	writeNote(t, c3, wire.Notification{State: wire.StateLooking, Leader: 3, Zxid: 0x100000008, ElectionEpoch: 1,
		PeerEpoch: 1, HasPeerEpoch: true, Version: 2, Config: "version=0"})
	readUntil(t, c3, func(n wire.Notification) bool { return n.Leader == 3 && n.Zxid == 0x100000008 })
	got := <-res
	if got.err != nil || got.d.State != wire.StateFollowing || got.d.Vote.Leader != 3 {
		t.Fatalf("decision %+v %v", got.d, got.err)
	}

	// Settled, it answers a LOOKING 1 with its current vote, state FOLLOWING.
	writeNote(t, c1, wire.Notification{State: wire.StateLooking, Leader: 1, Zxid: 0, ElectionEpoch: 7,
		PeerEpoch: 0, HasPeerEpoch: true, Version: 2, Config: "version=0"})
	// (LOOKING messages before it are the runner's own votes.)
	n := readUntil(t, c1, func(n wire.Notification) bool { return n.State != wire.StateLooking })
	if n.State != wire.StateFollowing || n.Leader != 3 || n.ElectionEpoch != 1 || n.Zxid != 0x100000008 {
		t.Fatalf("answer %+v", n)
	}
}

// TestBadInput sends broken connections to server 1 while the ensemble
// elects; each bad connection is closed, the others are unaffected.
func TestBadInput(t *testing.T) {
	e := newEnsemble(t, 3, 500*time.Millisecond)
	target := e.addrs[0]
	be := func(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
	initial := func(sid int64) []byte {
		return wire.Marshal(&wire.InitialMessage{Version: wire.ElectionProtocolV1, SID: sid, Addr: "127.0.0.1:1"})
	}
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"garbage initial message", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"wrong protocol version", append(be(-7), be(9)...)},
		{"address length too large", append(append(be(wire.ElectionProtocolV1), be(9)...), 0, 0, 0x20, 0x00)},
		{"address length zero", append(append(be(wire.ElectionProtocolV1), be(9)...), 0, 0, 0, 0)},
		{"oversize frame", append(initial(10), 0, 0x10, 0, 0)},
		{"zero-length frame", append(initial(11), 0, 0, 0, 0)},
		{"negative frame length", append(initial(12), 0xff, 0xff, 0xff, 0xf0)},
		{"truncated initial message then silence", be(wire.ElectionProtocolV1)},
		{"nothing at all", nil},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", target)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			if len(c.bytes) > 0 {
				conn.Write(c.bytes)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s: connection not closed", c.name)
			}
		}()
	}

	// A well-formed peer (non-voter sid 9) sending malformed notifications
	// keeps its connection, as in ZooKeeper (the message is skipped), and
	// gets an answer to a valid one.
	conn, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(initial(9))
	conn.Write([]byte{0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})           // 10-byte body: too short
	conn.Write(append([]byte{0, 0, 0, 30}, make([]byte, 30)...))             // 30 bytes: no such format
	conn.Write(append([]byte{0, 0, 0, 28, 0, 0, 0, 9}, make([]byte, 24)...)) // unknown state 9
	writeNote(t, conn, wire.Notification{State: wire.StateLooking, Leader: 9, ElectionEpoch: 1, HasPeerEpoch: true, Version: 2})
	if n := readNote(t, conn); n.Config != "version=0" || n.State != wire.StateLooking || n.Leader != 1 || n.Zxid != -1 {
		t.Fatalf("answer to non-voter %+v", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ds := e.elect(ctx, map[int64]int64{1: 0x100000003, 2: 0x100000002, 3: 0x100000001}, 1)
	// the bad connections all hit server 1; on a loaded machine its votes
	// can then reach the others after their finalize wait, and FLE rightly
	// settles on 2: what must hold is one agreed leader
	checkDecisions(t, ds, ds[1].Vote.Leader)
	wg.Wait()

	// Still connected: once settled, server 1 answers with its decision.
	writeNote(t, conn, wire.Notification{State: wire.StateLooking, Leader: 9, ElectionEpoch: 1, HasPeerEpoch: true, Version: 2})
	want := ds[1]
	readUntil(t, conn, func(n wire.Notification) bool { return n.State == want.State && n.Leader == want.Vote.Leader })
}

// An observer (sid 4) takes part over the wire: the voters answer it and it
// decides OBSERVING the voters' leader.
func TestRunnerObserver(t *testing.T) {
	addrs := freeAddrs(t, 4)
	var peers []PeerAddr
	for i, a := range addrs {
		peers = append(peers, PeerAddr{ID: int64(i + 1), ElectionAddr: a, Voter: i < 3})
	}
	rs := map[int64]*Runner{}
	for i := range addrs {
		id := int64(i + 1)
		r, err := Start(Options{MyID: id, ListenAddr: addrs[i], Peers: peers, ConfigString: "version=0",
			Observer: id == 4, CnxTimeout: time.Second, Logger: testLogger(t), FinalizeWait: testFinalizeWait})
		if err != nil {
			t.Fatal(err)
		}
		rs[id] = r
		defer r.Close()
	}
	e := &ensemble{t: t, addrs: addrs, peers: peers, rs: rs}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ds := e.elect(ctx, map[int64]int64{1: 0x100000002, 2: 0x100000001, 3: 0x100000001, 4: 0x100000009}, 1)
	if d := ds[4]; d.State != wire.StateObserving || d.Vote.Leader != 1 {
		t.Fatalf("observer decided %s %d", election.StateName(d.State), d.Vote.Leader)
	}
	delete(ds, 4)
	checkDecisions(t, ds, 1)
}
