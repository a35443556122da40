package compat

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

// eventWait bounds every wait for a watch event that must arrive.
const eventWait = 5 * time.Second

// quietWait is how long we listen to make sure an event does NOT arrive.
const quietWait = 300 * time.Millisecond

// fourLetter sends a four-letter word and returns everything the server
// writes before closing the connection.
func fourLetter(a, word string) (string, error) {
	nc, err := net.DialTimeout("tcp", a, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(nc)
	return string(b), err
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// connectZK opens a go-zookeeper session and waits until it has a session.
func connectZK(t testing.TB) *zk.Conn {
	t.Helper()
	return connectZKTimeout(t, 10*time.Second)
}

func connectZKTimeout(t testing.TB, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, ch, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	t.Cleanup(c.Close)
	waitState(t, ch, zk.StateHasSession)
	go func() {
		for range ch {
		}
	}()
	return c
}

// connectZKEvents is connectZK but hands back the session event channel.
func connectZKEvents(t testing.TB, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ch, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	t.Cleanup(c.Close)
	waitState(t, ch, zk.StateHasSession)
	return c, ch
}

func waitState(t testing.TB, ch <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %v", want)
			}
			if ev.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for state %v", want)
		}
	}
}

// rawConnect opens a raw session with a 30 s timeout.
func rawConnect(t testing.TB) *RawClient {
	t.Helper()
	return rawConnectOpts(t, ConnectOpts{ReadOnlyByte: true})
}

func rawConnectOpts(t testing.TB, o ConnectOpts) *RawClient {
	t.Helper()
	c, err := ConnectRaw(addr, o)
	if err != nil {
		if c != nil {
			c.Close()
		}
		t.Fatalf("raw connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// superRaw opens a raw session authenticated as the super user.
func superRaw(t testing.TB) *RawClient {
	t.Helper()
	c := rawConnect(t)
	r, err := c.Auth("digest", []byte("super:secret"))
	if err != nil || r.Header.Err != 0 {
		t.Fatalf("super auth: %v %v", err, r.Header.Err)
	}
	return c
}

// testRoot creates a unique persistent node /t-<TestName>-<random> and
// registers a cleanup that deletes it recursively as the super user.
func testRoot(t testing.TB) string {
	t.Helper()
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	root := fmt.Sprintf("/t-%s-%s", name, hex.EncodeToString(rb[:]))
	c, err := ConnectRaw(addr, ConnectOpts{ReadOnlyByte: true})
	if err != nil {
		t.Fatalf("connect for root: %v", err)
	}
	defer c.Close()
	r, err := c.Create(wire.OpCreate, root, nil, OpenACL(), 0)
	if err != nil || r.Header.Err != 0 {
		t.Fatalf("create root %s: %v %v", root, err, r.Header.Err)
	}
	t.Cleanup(func() { deleteTree(root) })
	return root
}

func deleteTree(root string) {
	c, err := ConnectRaw(addr, ConnectOpts{ReadOnlyByte: true})
	if err != nil {
		return
	}
	defer func() {
		_, _ = c.CloseSession()
		c.Close()
	}()
	if r, err := c.Auth("digest", []byte("super:secret")); err != nil || r.Header.Err != 0 {
		return
	}
	var del func(p string)
	del = func(p string) {
		code, ch, err := c.GetChildren(p, false, false)
		if err != nil || code != 0 {
			return
		}
		for _, k := range ch.Children {
			del(p + "/" + k)
		}
		_, _ = c.Delete(p, -1)
	}
	del(root)
}

// zkCode maps a go-zookeeper error to its server code (0 for nil).
func zkCode(err error) wire.Err {
	if err == nil {
		return 0
	}
	for e, code := range zkErrCodes {
		if errors.Is(err, e) {
			return code
		}
	}
	return wire.Err(-9999)
}

var zkErrCodes = map[error]wire.Err{
	zk.ErrAPIError:                wire.ErrAPIError,
	zk.ErrNoNode:                  wire.ErrNoNode,
	zk.ErrNoAuth:                  wire.ErrNoAuth,
	zk.ErrBadVersion:              wire.ErrBadVersion,
	zk.ErrNoChildrenForEphemerals: wire.ErrNoChildrenForEphemerals,
	zk.ErrNodeExists:              wire.ErrNodeExists,
	zk.ErrNotEmpty:                wire.ErrNotEmpty,
	zk.ErrSessionExpired:          wire.ErrSessionExpired,
	zk.ErrInvalidACL:              wire.ErrInvalidACL,
	zk.ErrAuthFailed:              wire.ErrAuthFailed,
	zk.ErrSessionMoved:            wire.ErrSessionMoved,
	zk.ErrReconfigDisabled:        wire.ErrReconfigDisabled,
	zk.ErrBadArguments:            wire.ErrBadArguments,
}

func wantCode(t testing.TB, what string, got, want wire.Err) {
	t.Helper()
	if got != want {
		t.Errorf("%s: err %d (%v), want %d (%v)", what, int32(got), got, int32(want), want)
	}
}

func mustOK(t testing.TB, what string, code wire.Err, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if code != 0 {
		t.Fatalf("%s: err %d (%v)", what, int32(code), code)
	}
}

// mr wraps a (Reply, error) call: mr(t)(c.Call(...)) fails the test on an
// I/O error and returns the reply.
func mr(t testing.TB) func(Reply, error) Reply {
	return func(r Reply, err error) Reply {
		t.Helper()
		if err != nil {
			t.Fatalf("raw request: %v", err)
		}
		return r
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) bool {
	a, b = sorted(a), sorted(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// zkStat converts a go-zookeeper Stat to the wire Stat.
func zkStat(s *zk.Stat) wire.Stat {
	if s == nil {
		return wire.Stat{}
	}
	return wire.Stat{Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid}
}

// statFields are the Stat fields other than times and zxids.
type statFields struct {
	Version, Cversion, Aversion int32
	EphemeralOwner              int64
	DataLength, NumChildren     int32
}

func fieldsOf(s wire.Stat) statFields {
	return statFields{s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren}
}

func wantFields(t testing.TB, what string, s wire.Stat, want statFields) {
	t.Helper()
	if got := fieldsOf(s); got != want {
		t.Errorf("%s: stat fields %+v, want %+v (full %+v)", what, got, want, s)
	}
}

// zkEvent waits for one event on a go-zookeeper watch channel.
func zkEvent(t testing.TB, what string, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(eventWait):
		t.Fatalf("%s: no watch event within %v", what, eventWait)
	}
	return zk.Event{}
}

func wantZkEvent(t testing.TB, what string, ch <-chan zk.Event, typ zk.EventType, path string) {
	t.Helper()
	ev := zkEvent(t, what, ch)
	if ev.Type != typ || ev.Path != path {
		t.Errorf("%s: event %v %q, want %v %q", what, ev.Type, ev.Path, typ, path)
	}
}

func noZkEvent(t testing.TB, what string, ch <-chan zk.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Errorf("%s: unexpected event %v %q", what, ev.Type, ev.Path)
	case <-time.After(quietWait):
	}
}

// rawEvent waits for one notification on a raw client.
func rawEvent(t testing.TB, what string, c *RawClient) Event {
	t.Helper()
	ev, err := c.NextEvent(eventWait)
	if err != nil {
		t.Fatalf("%s: no notification: %v", what, err)
	}
	return ev
}

func wantRawEvent(t testing.TB, what string, c *RawClient, typ int32, path string) {
	t.Helper()
	ev := rawEvent(t, what, c)
	if ev.Type != typ || ev.Path != path || ev.State != wire.StateSyncConnected {
		t.Errorf("%s: event type %d state %d %q, want type %d state 3 %q", what, ev.Type, ev.State, ev.Path, typ, path)
	}
}

func noRawEvent(t testing.TB, what string, c *RawClient) {
	t.Helper()
	ev, err := c.NextEvent(quietWait)
	if err == nil {
		t.Errorf("%s: unexpected notification type %d %q", what, ev.Type, ev.Path)
		return
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%s: connection error while expecting silence: %v", what, err)
	}
}
