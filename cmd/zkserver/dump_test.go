package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

const (
	testSession = int64(0x1000057a04e0000)
	testTime    = int64(1_700_000_000_000)
)

var openACL = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "world", ID: "anyone"}}}

type testTxn struct {
	cxid int32
	txn  wire.Txn
}

// logTxns are zxids 1..5 (first segment) and 6..10 (second segment).
var logTxns = []testTxn{
	{0, wire.Txn{Type: wire.OpCreateSession, TimeOut: 30000}},
	{5, wire.Txn{Type: wire.OpCreate2, Path: "/a", Data: []byte("hello"), ACL: openACL, ParentCVersion: 1}},
	{6, wire.Txn{Type: wire.OpCreate, Path: "/a/b", Data: []byte{0, 1, 2}, ACL: openACL, Ephemeral: true, ParentCVersion: 1}},
	{7, wire.Txn{Type: wire.OpSetData, Path: "/a", Data: []byte("x"), Version: 1}},
	{-1, wire.Txn{Type: wire.OpError, Err: wire.ErrBadVersion}},
	{9, wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
		{Type: wire.OpCreate, Path: "/m1", ACL: openACL, ParentCVersion: 2},
		{Type: wire.OpError, Err: wire.ErrNoNode},
	}}},
	{10, wire.Txn{Type: wire.OpDelete, Path: "/a/b"}},
	{11, wire.Txn{Type: wire.OpSetACL, Path: "/a", ACL: []wire.ACL{{Perms: 1, Id: wire.Id{Scheme: "digest", ID: "u:h"}}}, Version: 1}},
	{12, wire.Txn{Type: wire.OpCloseSession, Paths: []string{"/x"}}},
	{13, wire.Txn{Type: wire.OpCreateContainer, Path: "/cont", ACL: openACL, ParentCVersion: 3}},
}

// wantLines are the txn lines of logTxns without their timestamp column.
var wantLines = []string{
	"session 0x1000057a04e0000 cxid 0x0 zxid 0x1 createSession 30000",
	"session 0x1000057a04e0000 cxid 0x5 zxid 0x2 create2 /a,hello,[31,s{'world,'anyone}],false,1",
	"session 0x1000057a04e0000 cxid 0x6 zxid 0x3 create /a/b,#000102,[31,s{'world,'anyone}],true,1",
	"session 0x1000057a04e0000 cxid 0x7 zxid 0x4 setData /a,x,1",
	"session 0x1000057a04e0000 cxid 0xffffffffffffffff zxid 0x5 error -103",
	"session 0x1000057a04e0000 cxid 0x9 zxid 0x6 multi create:/m1,,[31,s{'world,'anyone}],false,2;error:-101",
	"session 0x1000057a04e0000 cxid 0xa zxid 0x7 delete '/a/b",
	"session 0x1000057a04e0000 cxid 0xb zxid 0x8 setACL '/a,v{s{1,s{'digest,'u:h}}},1",
	"session 0x1000057a04e0000 cxid 0xc zxid 0x9 closeSession v{'/x}",
	"session 0x1000057a04e0000 cxid 0xd zxid 0xa createContainer /cont,,[31,s{'world,'anyone}],3",
}

const logHeader = "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"

func entryData(i int) []byte {
	z := int64(i + 1)
	tt := logTxns[i]
	hdr := wire.TxnHeader{ClientID: testSession, Cxid: tt.cxid, Zxid: z, Time: testTime + z*1000, Type: tt.txn.Type}
	return server.EncodeTxn(&hdr, &tt.txn)
}

// writeLog writes logTxns into dir as two segments, log.1 and log.6.
func writeLog(t *testing.T, dir string) {
	t.Helper()
	l, err := txnlog.Open(txnlog.Options{Dir: dir, PreAllocSize: 64 << 10, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(lo, hi int) {
		var es []txnlog.Entry
		for i := lo; i < hi; i++ {
			es = append(es, txnlog.Entry{Zxid: int64(i + 1), Data: entryData(i)})
		}
		ch := make(chan error, 1)
		l.Commit(es, func(err error) { ch <- err })
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	commit(0, 5)
	l.Roll()
	commit(5, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeSnapshot writes snapshot.4 of a small tree into dir.
func writeSnapshot(t *testing.T, dir string) string {
	t.Helper()
	tree := datatree.New()
	txns := []struct {
		client int64
		txn    wire.Txn
	}{
		{0x42, wire.Txn{Type: wire.OpCreateSession, TimeOut: 5000}},
		{0x42, wire.Txn{Type: wire.OpCreate, Path: "/app", Data: []byte("cfg"), ACL: openACL, ParentCVersion: 1}},
		{0x42, wire.Txn{Type: wire.OpCreate, Path: "/app/e", Data: []byte{0xff, 0}, ACL: openACL, Ephemeral: true, ParentCVersion: 1}},
		{0x42, wire.Txn{Type: wire.OpCreateContainer, Path: "/c", ACL: openACL, ParentCVersion: 2}},
	}
	for i, x := range txns {
		z := int64(i + 1)
		hdr := wire.TxnHeader{ClientID: x.client, Cxid: int32(z), Zxid: z, Time: testTime + z*1000, Type: x.txn.Type}
		if r := tree.Apply(&hdr, &x.txn); r.Err != wire.ErrOK {
			t.Fatalf("apply %d: %v", z, r.Err)
		}
	}
	var mu sync.RWMutex
	path, err := snapshot.Write(dir, 4, tree, &mu, snapshot.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// dataDir builds <tmp>/version-2 with the log segments and a snapshot.
func dataDir(t *testing.T) (data, v2, snap string) {
	t.Helper()
	data = t.TempDir()
	v2 = filepath.Join(data, "version-2")
	writeLog(t, v2)
	snap = writeSnapshot(t, v2)
	return data, v2, snap
}

// run runs the dump commands with args and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{
		Name:      "zkserver",
		Commands:  []*cli.Command{logCommand(), snapshotCommand()},
		Writer:    &out,
		ErrWriter: io.Discard,
	}
	err := app.Run(append([]string{"zkserver"}, args...))
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// txnLines returns the txn lines of a log dump with their timestamp
// column removed, checking it on the way.
func txnLines(t *testing.T, out string) (lines []string, headers int, last string) {
	t.Helper()
	all := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range all {
		if l == logHeader {
			headers++
			continue
		}
		i := strings.Index(l, " session 0x")
		if i < 0 {
			continue
		}
		lines = append(lines, l[i+1:])
		var z int64
		if _, err := fmt.Sscanf(l[strings.Index(l, " zxid 0x")+1:], "zxid 0x%x", &z); err != nil {
			t.Fatalf("no zxid in %q", l)
		}
		if want := time.UnixMilli(testTime + z*1000).Format(javaShortLongLayout); l[:i] != want {
			t.Errorf("time column %q, want %q", l[:i], want)
		}
	}
	return lines, headers, all[len(all)-1]
}

func TestLogDump(t *testing.T) {
	data, v2, _ := dataDir(t)
	for _, arg := range []string{data, v2} {
		out := mustRun(t, "log", "dump", arg)
		if !strings.HasPrefix(out, logHeader+"\n") {
			t.Errorf("%s: output does not start with the header:\n%s", arg, out)
		}
		lines, headers, last := txnLines(t, out)
		if headers != 2 {
			t.Errorf("%s: %d header lines, want 2 (one per file)", arg, headers)
		}
		if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
			t.Errorf("%s: txn lines:\n%s\nwant:\n%s", arg, strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
		}
		if last != "EOF reached after 10 txns." {
			t.Errorf("%s: last line %q", arg, last)
		}
	}

	// One file.
	out := mustRun(t, "log", "dump", filepath.Join(v2, "log.6"))
	lines, headers, last := txnLines(t, out)
	if headers != 1 || len(lines) != 5 || lines[0] != wantLines[5] || last != "EOF reached after 5 txns." {
		t.Errorf("log.6 dump:\n%s", out)
	}
}

func TestLogDumpRange(t *testing.T) {
	data, _, _ := dataDir(t)
	cases := []struct {
		args     []string
		lo, hi   int // wantLines[lo:hi]
		segments int
	}{
		{[]string{"--from", "0x3", "--to", "5", data}, 2, 5, 1},
		{[]string{data, "--from", "0x6"}, 5, 10, 1},       // flags after the argument
		{[]string{"--from=4", data, "--to=0x7"}, 3, 7, 2}, // spans both files
		{[]string{"--to", "0", data}, 0, 0, 0},            // every file starts after it
		{[]string{"--from", "0X0a", data}, 9, 10, 1},
	}
	for _, c := range cases {
		out := mustRun(t, append([]string{"log", "dump"}, c.args...)...)
		lines, headers, last := txnLines(t, out)
		want := wantLines[c.lo:c.hi]
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("%v: txn lines:\n%s\nwant:\n%s", c.args, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if headers != c.segments {
			t.Errorf("%v: %d headers, want %d", c.args, headers, c.segments)
		}
		if w := fmt.Sprintf("EOF reached after %d txns.", len(want)); last != w {
			t.Errorf("%v: last line %q, want %q", c.args, last, w)
		}
	}
	for _, bad := range [][]string{
		{"--from", "zz", data},
		{"--to", "0xg", data},
		{data, "--from"},
		{data, "--bogus", "1"},
		{data, data},
		{},
		{filepath.Join(data, "missing")},
		{t.TempDir()}, // no log files
	} {
		if _, err := run(t, append([]string{"log", "dump"}, bad...)...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestLogDumpCorrupt(t *testing.T) {
	_, v2, _ := dataDir(t)
	path := filepath.Join(v2, "log.1")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the txn bytes of the second entry (past its 32-byte header
	// start, inside the record): a complete record with a bad checksum.
	second := int64(txnlog.HeaderSize) + 13 + int64(len(entryData(0)))
	b[second+12+40] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "log", "dump", v2)
	if err == nil {
		t.Fatalf("no error; output:\n%s", out)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("offset %d", second)) {
		t.Errorf("error %q does not name %s and offset %d", msg, path, second)
	}
	lines, _, last := txnLines(t, out)
	if len(lines) != 1 || lines[0] != wantLines[0] || strings.HasPrefix(last, "EOF reached") {
		t.Errorf("output before the damage:\n%s", out)
	}

	// Bad magic in a single file.
	other := filepath.Join(t.TempDir(), "copy")
	copy(b, "JUNK")
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "log", "dump", other); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "offset 0") {
		t.Errorf("bad magic: error %v", err)
	}
}

func TestLogDumpUndecodable(t *testing.T) {
	dir := t.TempDir()
	l, err := txnlog.Open(txnlog.Options{Dir: dir, PreAllocSize: -1, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	// A top-level check txn: TxnLogToolkit rejects it.
	hdr := wire.TxnHeader{ClientID: 1, Zxid: 1, Time: testTime, Type: wire.OpCheck}
	e := wire.Encoder{}
	hdr.Encode(&e)
	ch := make(chan error, 1)
	l.Commit([]txnlog.Entry{{Zxid: 1, Data: append(e.B, 0, 0, 0, 1, '/', 0, 0, 0, 0)}}, func(err error) { ch <- err })
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = run(t, "log", "dump", dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "log.1")) || !strings.Contains(err.Error(), "offset 16") {
		t.Errorf("error %v", err)
	}
}

func TestSnapshotDump(t *testing.T) {
	_, _, snap := dataDir(t)
	out := mustRun(t, "snapshot", "dump", snap)
	for _, want := range []string{
		"ZNode Details (count=8):\n----\n/\n  cZxid = 0x00000000000000\n",
		"----\n/app\n  cZxid = 0x00000000000002\n  ctime = " + javaDate(testTime+2000) + "\n" +
			"  mZxid = 0x00000000000002\n  mtime = " + javaDate(testTime+2000) + "\n" +
			"  pZxid = 0x00000000000003\n  cversion = 1\n  dataVersion = 0\n  aclVersion = 0\n" +
			"  ephemeralOwner = 0x00000000000000\n  dataLength = 3\n----\n/app/e\n",
		"/app/e\n  cZxid = 0x00000000000003\n",
		"  ephemeralOwner = 0x00000000000042\n  dataLength = 2\n",
		"----\n/c\n",
		"  ephemeralOwner = 0x8000000000000000\n",
		"----\n/zookeeper/config\n",
		"\n----\nSession Details (sid, timeout, ephemeralCount):\n0x00000000000042, 5000, 1\n----\nLast zxid: 0x4\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "Last zxid: 0x4\n") {
		t.Errorf("output does not end with Last zxid:\n%s", out)
	}

	out = mustRun(t, "snapshot", "dump", snap, "--data")
	if !strings.Contains(out, "/app\n") || !strings.Contains(out, "  data = Y2Zn\n") || !strings.Contains(out, "  data = /wA=\n") || strings.Contains(out, "dataLength") {
		t.Errorf("--data output:\n%s", out)
	}

	out = mustRun(t, "snapshot", "dump", "--json", "--data", snap)
	var doc jsonSnapshot
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if doc.Zxid != "0x4" || doc.LastZxid != "0x4" || doc.NodeCount != 7 || doc.Digest == nil {
		t.Errorf("json header: %+v", doc)
	}
	if len(doc.Sessions) != 1 || doc.Sessions[0] != (jsonSession{ID: "0x42", Timeout: 5000, EphemeralCount: 1}) {
		t.Errorf("json sessions: %+v", doc.Sessions)
	}
	var names []string
	for _, c := range doc.Root.Children {
		names = append(names, c.Path)
	}
	if doc.Root.Path != "/" || strings.Join(names, " ") != "/app /c /zookeeper" {
		t.Errorf("json root children: %v", names)
	}
	app := doc.Root.Children[0]
	if app.Data == nil || *app.Data != "Y2Zn" || app.DataLength != 3 || app.Czxid != "0x2" || app.Ctime != testTime+2000 ||
		len(app.ACL) != 1 || app.ACL[0] != (jsonACL{Perms: 31, Scheme: "world", ID: "anyone"}) ||
		len(app.Children) != 1 || app.Children[0].Name != "e" || app.Children[0].EphemeralOwner != "0x42" {
		t.Errorf("json /app: %+v", app)
	}
	if c := doc.Root.Children[1]; c.EphemeralOwner != "0x8000000000000000" {
		t.Errorf("json /c owner %s", c.EphemeralOwner)
	}

	// Damaged snapshot: the error names the file.
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), filepath.Base(snap))
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "snapshot", "dump", bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged snapshot: error %v", err)
	}
}

func TestJavaHex016(t *testing.T) {
	for v, want := range map[int64]string{
		0:                            "0x00000000000000",
		0x42:                         "0x00000000000042",
		0x100000001:                  "0x00000100000001",
		wire.ContainerEphemeralOwner: "0x8000000000000000",
		-1:                           "0xffffffffffffffff",
	} {
		if got := javaHex016(v); got != want {
			t.Errorf("javaHex016(%#x) = %s, want %s", v, got, want)
		}
	}
}
