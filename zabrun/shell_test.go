package zabrun

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

// These tests run the real leader shell (RunLeader) against hand-written
// learners speaking raw quorum packets, and against bad peers.

// leaderEnv builds the Env of server 3 in a 3-voter ensemble on loopback.
func leaderEnv(t *testing.T) (*Env, int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := testkit.FreePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", dir, client)
	for id := 1; id <= 3; id++ {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", id, testkit.FreePort(t), testkit.FreePort(t))
	}
	cfg, err := config.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	tree, err := server.Recover(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	snapDir, logDir := server.Dirs(cfg)
	env := &Env{Cfg: cfg, Log: log, SnapDir: snapDir, LogDir: logDir, Tree: tree, Committed: zab.NewCommittedLog(500),
		Rule: &server.SnapshotRule{SnapCount: 100000, Rand: rand.New(rand.NewPCG(1, 2))}}
	env.Rule.Next(0)
	env.NewServer = func(tree *datatree.Tree, commit server.CommitPath, next int64, role server.Role) *server.Server {
		return server.New(server.Options{Config: cfg, Logger: log, Commit: commit, Tree: tree, ServerID: 3,
			NextZxid: next, Role: role, SnapDir: snapDir, LogDir: logDir})
	}
	return env, client
}

type fakeLearner struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialLeaderT(t *testing.T, env *Env) net.Conn {
	t.Helper()
	self, _ := env.Cfg.Self()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := net.Dial("tcp", self.QuorumAddr())
		if err == nil {
			t.Cleanup(func() { nc.Close() })
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

func (f *fakeLearner) send(p wire.QuorumPacket) {
	f.t.Helper()
	if _, err := f.nc.Write(wire.AppendQuorumPacket(nil, &p)); err != nil {
		f.t.Fatalf("learner write: %v", err)
	}
}

func (f *fakeLearner) read() *wire.QuorumPacket {
	f.t.Helper()
	for {
		f.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := wire.ReadQuorumPacket(f.br, 1<<20)
		if err != nil {
			f.t.Fatalf("learner read: %v", err)
		}
		if p.Type == wire.PacketPing {
			f.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: p.Zxid})
			continue
		}
		return p
	}
}

func (f *fakeLearner) expect(typ int32) *wire.QuorumPacket {
	f.t.Helper()
	p := f.read()
	if p.Type != typ {
		f.t.Fatalf("got %v, want %s", p, wire.PacketTypeName(typ))
	}
	return p
}

// join runs discovery and sync as follower sid from an empty database.
func join(t *testing.T, env *Env, sid int64) *fakeLearner {
	t.Helper()
	nc := dialLeaderT(t, env)
	f := &fakeLearner{t: t, nc: nc, br: bufio.NewReader(nc)}
	li := wire.LearnerInfo{ServerID: sid, ProtocolVersion: zab.ProtocolVersion}
	f.send(wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: wire.Marshal(&li)})
	info := f.expect(wire.PacketLeaderInfo)
	f.send(wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: 0, Data: []byte{0, 0, 0, 0}})
	f.expect(wire.PacketDiff)
	f.expect(wire.PacketNewLeader)
	f.send(wire.QuorumPacket{Type: wire.PacketAck, Zxid: info.Zxid})
	return f
}

func runLeader(t *testing.T, env *Env) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunLeader(ctx, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("RunLeader did not return")
		}
	})
	return cancel
}

// badPeers tries every kind of bad input on the quorum port; each must be
// closed by the leader.
func badPeers(t *testing.T, env *Env) {
	t.Helper()
	li := func(sid int64, version int32) []byte {
		return wire.Marshal(&wire.LearnerInfo{ServerID: sid, ProtocolVersion: version})
	}
	cases := map[string][]byte{
		"garbage":          []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"not FOLLOWERINFO": wire.AppendQuorumPacket(nil, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: 1}),
		"unknown sid":      wire.AppendQuorumPacket(nil, &wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: li(9, zab.ProtocolVersion)}),
		"old protocol":     wire.AppendQuorumPacket(nil, &wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: li(1, 0)}),
		"short info":       wire.AppendQuorumPacket(nil, &wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: []byte{1, 2, 3}}),
		"oversized":        {0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		nc := dialLeaderT(t, env)
		nc.Write(b)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		for {
			_, err := nc.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("%s: connection still open", name)
				}
				break
			}
		}
	}
}

func TestLeaderShellSyncsAndCommitsDespiteBadPeers(t *testing.T) {
	env, clientPort := leaderEnv(t)
	runLeader(t, env)
	f1 := join(t, env, 1)
	f1.expect(wire.PacketUpToDate)
	f1.send(wire.QuorumPacket{Type: wire.PacketAck, Zxid: wire.MakeZxid(1, 0)})
	// a peer that connects and stalls is closed after initLimit ticks
	stalled := dialLeaderT(t, env)
	// bad peers, while follower 1 keeps answering PINGs
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f1.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			p, err := wire.ReadQuorumPacket(f1.br, 1<<20)
			if err == nil && p.Type == wire.PacketPing {
				f1.nc.Write(wire.AppendQuorumPacket(nil, &wire.QuorumPacket{Type: wire.PacketPing, Zxid: p.Zxid}))
			}
		}
	}()
	badPeers(t, env)
	close(stop)
	<-pinged

	// a client of the leader writes: the PROPOSAL needs follower 1's ACK
	c, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", clientPort)}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	created := make(chan error, 1)
	go func() {
		_, err := c.Create("/x", []byte("v"), 0, zk.WorldACL(zk.PermAll))
		created <- err
	}()
	var sawCreate bool
	for !sawCreate {
		p := f1.read()
		switch p.Type {
		case wire.PacketProposal:
			hdr, txn, _, _, err := server.DecodeTxnDigest(p.Data)
			if err != nil {
				t.Fatalf("PROPOSAL data: %v", err)
			}
			if wire.ZxidEpoch(p.Zxid) != 1 || hdr.Zxid != p.Zxid {
				t.Fatalf("proposal zxid %x, header %x", p.Zxid, hdr.Zxid)
			}
			sawCreate = txn.Type == wire.OpCreate && txn.Path == "/x"
			f1.send(wire.QuorumPacket{Type: wire.PacketAck, Zxid: p.Zxid})
		case wire.PacketCommit:
		default:
			t.Fatalf("unexpected %v", p)
		}
	}
	select {
	case err := <-created:
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("create not acknowledged after a quorum ACK")
	}
	if p := f1.expect(wire.PacketCommit); p.Zxid == 0 {
		t.Fatal("no COMMIT zxid")
	}
	// the stalled peer has been dropped by now or soon
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := stalled.Read(make([]byte, 1)); err == nil {
		t.Fatal("stalled peer got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("stalled peer still connected after initLimit ticks")
	}
}

func TestLeaderShellStepsDownWhenFollowersVanish(t *testing.T) {
	env, _ := leaderEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunLeader(ctx, env) }()
	f1 := join(t, env, 1)
	f1.expect(wire.PacketUpToDate)
	f1.nc.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "synced") {
			t.Fatalf("leader ended with %v, want a lost-quorum step down", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leader kept leading without a quorum")
	}
	if env.Accepted != 1 || env.Current != 1 {
		t.Fatalf("epochs after leading: accepted %d current %d, want 1 and 1", env.Accepted, env.Current)
	}
	if got, ok, _ := ReadEpoch(env.SnapDir, zab.CurrentEpochFile); !ok || got != 1 {
		t.Fatalf("currentEpoch file: %d %v", got, ok)
	}
}
