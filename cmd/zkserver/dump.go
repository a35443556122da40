package main

// Offline inspection of a data directory, in the output formats of
// ZooKeeper's own tools:
//
//	zkserver log dump [--from Z] [--to Z] DIR|FILE    (TxnLogToolkit)
//	zkserver snapshot dump [--data] [--json] FILE     (SnapshotFormatter)
//
// Flags may also follow the positional argument.
//
// log dump differs from TxnLogToolkit in three deliberate ways: it reads
// every segment of a directory (one header line per file, one
// "EOF reached after N txns." line at the end counting the txns printed),
// it prints the sub-transactions of a multi with their fields
// ("create:/m1,,[31,s{'world,'anyone}],false,1;error:-101") where ZooKeeper
// prints the raw sub-record bytes, and it prints data that is not printable
// UTF-8 as "#" + hex (jute's CSV buffer notation) instead of raw bytes.
// Timestamps are local time in Java's en_US SHORT/LONG style
// ("1/2/06, 3:04:05 PM MST").
//
// snapshot dump prints the text format of SnapshotFormatter: children in
// sorted order and sessions sorted by id (ZooKeeper's order is a hash set's
// order), count = nodes + 1 (ZooKeeper counts the root twice), and with
// --data the base64 data replaces the dataLength line as in ZooKeeper.
//
// snapshot dump --json prints this document (our own shape, not
// SnapshotFormatter's ncdu format):
//
//	{
//	  "file": "<path>",
//	  "zxid": "0x<hex>",            // from the file name
//	  "lastZxid": "0x<hex>",        // max(file zxid, highest mzxid/pzxid)
//	  "nodeCount": <int>,           // real nodes, root counted once
//	  "digest": {"zxid": "0x..", "version": <int>, "value": <int>},  // if present
//	  "sessions": [{"id": "0x..", "timeout": <ms>, "ephemeralCount": <int>}],
//	  "root": <node>
//	}
//	node = {"path", "name", "czxid", "mzxid", "pzxid" (hex strings),
//	        "ctime", "mtime" (ms since the epoch), "cversion" (stored),
//	        "version", "aversion", "ephemeralOwner" (hex string, raw),
//	        "acl": [{"perms", "scheme", "id"}], "dataLength",
//	        "data" (base64, only with --data), "children": [<node>...]}

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// Java's DateFormat.getDateTimeInstance(SHORT, LONG) and Date.toString in
// the en_US locale.
const (
	javaShortLongLayout = "1/2/06, 3:04:05 PM MST"
	javaDateLayout      = "Mon Jan 02 15:04:05 MST 2006"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "inspect transaction log files",
		Subcommands: []*cli.Command{{
			Name:      "dump",
			Usage:     "print the txns of a log file, or of every log file of a directory, like ZooKeeper's TxnLogToolkit",
			ArgsUsage: "DIR|FILE (a version-2 directory, a data dir holding version-2, or one log file)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Usage: "print only txns with zxid >= `ZXID` (0x hex or decimal)"},
				&cli.StringFlag{Name: "to", Usage: "print only txns with zxid <= `ZXID` (0x hex or decimal)"},
			},
			Action: logDumpAction,
		}},
	}
}

func snapshotCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "inspect snapshot files",
		Subcommands: []*cli.Command{{
			Name:      "dump",
			Usage:     "print a snapshot like ZooKeeper's SnapshotFormatter",
			ArgsUsage: "FILE",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "data", Usage: "print each node's data (base64)"},
				&cli.BoolFlag{Name: "json", Usage: "print a JSON document instead of text"},
			},
			Action: snapshotDumpAction,
		}, exportCommand()},
	}
}

// oneArg returns the single positional argument, first applying any flags
// that follow it (urfave/cli v2 stops parsing flags at the first argument).
func oneArg(ctx *cli.Context) (string, error) {
	args := ctx.Args().Slice()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var flag cli.Flag
		for _, f := range ctx.Command.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return "", fmt.Errorf("flag provided but not defined: %s", a)
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag needs an argument: %s", a)
			}
			i++
			val = args[i]
		}
		if err := ctx.Set(name, val); err != nil {
			return "", fmt.Errorf("invalid value %q for flag %s: %w", val, a, err)
		}
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%s: expected exactly one argument: %s", ctx.Command.FullName(), ctx.Command.ArgsUsage)
	}
	return pos[0], nil
}

// parseZxid accepts 0x-prefixed hex or decimal.
func parseZxid(s string) (int64, error) {
	t := strings.TrimSpace(s)
	var v int64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(t), "0x"); ok {
		var u uint64
		u, err = strconv.ParseUint(h, 16, 64)
		v = int64(u)
	} else {
		v, err = strconv.ParseInt(t, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid zxid %q (want 0x<hex> or decimal)", s)
	}
	return v, nil
}

// logSegments resolves DIR|FILE to the log files to read, in order.
func logSegments(arg string) ([]txnlog.Segment, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []txnlog.Segment{{Path: arg, StartZxid: math.MinInt64}}, nil
	}
	dir := arg
	if sub := filepath.Join(arg, "version-2"); isDir(sub) {
		dir = sub
	}
	segs, err := txnlog.Segments(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("no transaction log files (log.<hexzxid>) in %s", dir)
	}
	return segs, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func logDumpAction(ctx *cli.Context) error {
	arg, err := oneArg(ctx)
	if err != nil {
		return err
	}
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if ctx.IsSet("from") {
		if from, err = parseZxid(ctx.String("from")); err != nil {
			return err
		}
	}
	if ctx.IsSet("to") {
		if to, err = parseZxid(ctx.String("to")); err != nil {
			return err
		}
	}
	segs, err := logSegments(arg)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(ctx.App.Writer)
	defer w.Flush()
	tmp, err := os.MkdirTemp("", "zkserver-logdump-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	count := 0
	for i, seg := range segs {
		// Like txnlog.NewIterator: start with the newest segment that
		// begins at or before from.
		if i+1 < len(segs) && segs[i+1].StartZxid <= from {
			continue
		}
		if seg.StartZxid > to {
			break
		}
		n, err := dumpSegment(w, tmp, i, seg.Path, from, to)
		count += n
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "EOF reached after %d txns.\n", count)
	return w.Flush()
}

// dumpSegment prints the txns of one log file with zxid in [from, to] and
// returns how many it printed. The file is read with txnlog's iterator
// through a symlink in a private directory, so that exactly this file is
// read, with the server's own rules for torn tails and corruption.
func dumpSegment(w io.Writer, tmp string, idx int, path string, from, to int64) (int, error) {
	if hdr, ok := readLogHeader(path); ok {
		fmt.Fprintf(w, "ZooKeeper Transactional Log File with dbid %d txnlog format version %d\n",
			int64(binary.BigEndian.Uint64(hdr[8:16])), int32(binary.BigEndian.Uint32(hdr[4:8])))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(tmp, strconv.Itoa(idx))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, err
	}
	link := filepath.Join(dir, txnlog.SegmentName(0))
	if err := os.Symlink(abs, link); err != nil {
		return 0, err
	}
	it, err := txnlog.NewIterator(dir, math.MinInt64)
	if err != nil {
		return 0, realPathError(err, link, path)
	}
	defer it.Close()
	off := int64(txnlog.HeaderSize)
	n := 0
	for {
		e, err := it.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, realPathError(err, link, path)
		}
		at := off
		off += 8 + 4 + int64(len(e.Data)) + 1 // checksum, length, txn, 'B'
		if e.Zxid < from || e.Zxid > to {
			continue
		}
		hdr, txn, err := server.DecodeTxn(e.Data)
		if err != nil {
			return n, fmt.Errorf("txnlog: %s: offset %d: zxid %#x: %w", path, at, e.Zxid, err)
		}
		fmt.Fprintf(w, "%s session 0x%s cxid 0x%s zxid 0x%s %s %s\n",
			time.UnixMilli(hdr.Time).Format(javaShortLongLayout),
			javaHex(hdr.ClientID), javaHex(int64(hdr.Cxid)), javaHex(hdr.Zxid),
			hdr.Type, formatTxn(&txn))
		n++
	}
}

// readLogHeader returns the 16-byte file header when it is complete and
// carries the log magic.
func readLogHeader(path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b := make([]byte, txnlog.HeaderSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, false
	}
	return b, binary.BigEndian.Uint32(b[:4]) == txnlog.Magic
}

// realPathError names the user's file instead of the private symlink.
func realPathError(err error, link, path string) error {
	var ce *txnlog.CorruptError
	if errors.As(err, &ce) && ce.Path == link {
		ce.Path = path
		return err
	}
	if msg := err.Error(); strings.Contains(msg, link) {
		return &renamedError{msg: strings.ReplaceAll(msg, link, path), err: err}
	}
	return err
}

type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// javaHex is Long.toHexString: two's complement, lower case, no padding.
func javaHex(v int64) string { return strconv.FormatUint(uint64(v), 16) }

// javaHex016 is Java's String.format("%#016x", v): the width of 16 counts
// the "0x" prefix.
func javaHex016(v int64) string {
	h := strconv.FormatUint(uint64(v), 16)
	if len(h) < 14 {
		h = strings.Repeat("0", 14-len(h)) + h
	}
	return "0x" + h
}

// formatTxn renders a txn record the way TxnLogToolkit does (see the file
// comment for the differences).
func formatTxn(t *wire.Txn) string {
	switch t.Type {
	case wire.OpCreate, wire.OpCreate2:
		return fmt.Sprintf("%s,%s,%s,%t,%d", t.Path, formatData(t.Data), formatACLList(t.ACL), t.Ephemeral, t.ParentCVersion)
	case wire.OpCreateContainer:
		return fmt.Sprintf("%s,%s,%s,%d", t.Path, formatData(t.Data), formatACLList(t.ACL), t.ParentCVersion)
	case wire.OpCreateTTL:
		return fmt.Sprintf("%s,%s,%s,%d,%d", t.Path, formatData(t.Data), formatACLList(t.ACL), t.ParentCVersion, t.TTL)
	case wire.OpSetData, wire.OpReconfig:
		return fmt.Sprintf("%s,%s,%d", t.Path, formatData(t.Data), t.Version)
	case wire.OpMulti:
		parts := make([]string, len(t.Ops))
		for i := range t.Ops {
			parts[i] = t.Ops[i].Type.String() + ":" + formatTxn(&t.Ops[i])
		}
		return strings.Join(parts, ";")
	// The rest is jute's Record.toString (CSV), without its trailing newline.
	case wire.OpDelete, wire.OpDeleteContainer:
		return csvString(t.Path)
	case wire.OpSetACL:
		return fmt.Sprintf("%s,%s,%d", csvString(t.Path), csvACLVector(t.ACL), t.Version)
	case wire.OpCheck:
		return fmt.Sprintf("%s,%d", csvString(t.Path), t.Version)
	case wire.OpCreateSession:
		return strconv.Itoa(int(t.TimeOut))
	case wire.OpCloseSession:
		parts := make([]string, len(t.Paths))
		for i, p := range t.Paths {
			parts[i] = csvString(p)
		}
		return "v{" + strings.Join(parts, ",") + "}"
	case wire.OpError:
		return strconv.Itoa(int(t.Err))
	}
	return ""
}

// formatData prints data as text when it is printable UTF-8, else as "#"
// followed by hex.
func formatData(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if printable(b) {
		return string(b)
	}
	return "#" + fmt.Sprintf("%x", b)
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// formatACLList is Java's List<ACL>.toString with jute's per-record CSV
// (newlines dropped): [31,s{'world,'anyone}, 1,s{'digest,'u:x}].
func formatACLList(acls []wire.ACL) string {
	if acls == nil {
		return "null"
	}
	parts := make([]string, len(acls))
	for i, a := range acls {
		parts[i] = fmt.Sprintf("%d,s{%s,%s}", a.Perms, csvString(a.Scheme), csvString(a.ID))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// csvACLVector is a vector<ACL> inside a jute CSV record.
func csvACLVector(acls []wire.ACL) string {
	parts := make([]string, len(acls))
	for i, a := range acls {
		parts[i] = fmt.Sprintf("s{%d,s{%s,%s}}", a.Perms, csvString(a.Scheme), csvString(a.ID))
	}
	return "v{" + strings.Join(parts, ",") + "}"
}

// csvString is jute's Utils.toCSVString.
func csvString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range s {
		switch c {
		case 0:
			b.WriteString("%00")
		case '\n':
			b.WriteString("%0A")
		case '\r':
			b.WriteString("%0D")
		case ',':
			b.WriteString("%2C")
		case '}':
			b.WriteString("%7D")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func snapshotDumpAction(ctx *cli.Context) error {
	path, err := oneArg(ctx)
	if err != nil {
		return err
	}
	s, err := snapshot.Read(path, nil)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(ctx.App.Writer)
	defer w.Flush()
	if ctx.Bool("json") {
		err = printSnapshotJSON(w, s, ctx.Bool("data"))
	} else {
		printSnapshotText(w, s, ctx.Bool("data"))
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func javaDate(ms int64) string { return time.UnixMilli(ms).Format(javaDateLayout) }

// treeZxid is the highest mzxid/pzxid in the tree, as SnapshotFormatter
// computes it for "Last zxid".
func treeZxid(t *datatree.Tree) int64 {
	var z int64
	t.Walk(func(_ string, n *datatree.Node) error {
		z = max(z, n.Mzxid, n.Pzxid)
		return nil
	})
	return z
}

func printSnapshotText(w io.Writer, s *snapshot.Snapshot, dumpData bool) {
	t := s.Tree
	fmt.Fprintf(w, "ZNode Details (count=%d):\n", t.NodeCount()+1)
	var visit func(path string)
	visit = func(path string) {
		n := t.Get(path)
		if n == nil {
			return
		}
		fmt.Fprintln(w, "----")
		fmt.Fprintln(w, path)
		fmt.Fprintf(w, "  cZxid = %s\n", javaHex016(n.Czxid))
		fmt.Fprintf(w, "  ctime = %s\n", javaDate(n.Ctime))
		fmt.Fprintf(w, "  mZxid = %s\n", javaHex016(n.Mzxid))
		fmt.Fprintf(w, "  mtime = %s\n", javaDate(n.Mtime))
		fmt.Fprintf(w, "  pZxid = %s\n", javaHex016(n.Pzxid))
		fmt.Fprintf(w, "  cversion = %d\n", n.Cversion)
		fmt.Fprintf(w, "  dataVersion = %d\n", n.Version)
		fmt.Fprintf(w, "  aclVersion = %d\n", n.Aversion)
		fmt.Fprintf(w, "  ephemeralOwner = %s\n", javaHex016(n.EphemeralOwner))
		if dumpData {
			fmt.Fprintf(w, "  data = %s\n", base64.StdEncoding.EncodeToString(n.Data))
		} else {
			fmt.Fprintf(w, "  dataLength = %d\n", len(n.Data))
		}
		for _, c := range n.Children() {
			visit(datatree.Join(path, c))
		}
	}
	visit("/")
	fmt.Fprintln(w, "----")
	fmt.Fprintln(w, "Session Details (sid, timeout, ephemeralCount):")
	for _, sid := range sortedSessions(t) {
		fmt.Fprintf(w, "%s, %d, %d\n", javaHex016(sid), t.Sessions()[sid], len(t.Ephemerals(sid)))
	}
	fmt.Fprintln(w, "----")
	fmt.Fprintf(w, "Last zxid: 0x%s\n", javaHex(max(s.Zxid, treeZxid(t))))
}

func sortedSessions(t *datatree.Tree) []int64 {
	ids := make([]int64, 0, len(t.Sessions()))
	for id := range t.Sessions() {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

type jsonACL struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

type jsonNode struct {
	Path           string      `json:"path"`
	Name           string      `json:"name"`
	Czxid          string      `json:"czxid"`
	Mzxid          string      `json:"mzxid"`
	Pzxid          string      `json:"pzxid"`
	Ctime          int64       `json:"ctime"`
	Mtime          int64       `json:"mtime"`
	Cversion       int32       `json:"cversion"`
	Version        int32       `json:"version"`
	Aversion       int32       `json:"aversion"`
	EphemeralOwner string      `json:"ephemeralOwner"`
	ACL            []jsonACL   `json:"acl"`
	DataLength     int         `json:"dataLength"`
	Data           *string     `json:"data,omitempty"`
	Children       []*jsonNode `json:"children"`
}

type jsonSession struct {
	ID             string `json:"id"`
	Timeout        int32  `json:"timeout"`
	EphemeralCount int    `json:"ephemeralCount"`
}

type jsonDigest struct {
	Zxid    string `json:"zxid"`
	Version int32  `json:"version"`
	Value   int64  `json:"value"`
}

type jsonSnapshot struct {
	File      string        `json:"file"`
	Zxid      string        `json:"zxid"`
	LastZxid  string        `json:"lastZxid"`
	NodeCount int           `json:"nodeCount"`
	Digest    *jsonDigest   `json:"digest,omitempty"`
	Sessions  []jsonSession `json:"sessions"`
	Root      *jsonNode     `json:"root"`
}

func printSnapshotJSON(w io.Writer, s *snapshot.Snapshot, withData bool) error {
	t := s.Tree
	hex := func(v int64) string { return "0x" + javaHex(v) }
	var build func(path string) *jsonNode
	build = func(path string) *jsonNode {
		n := t.Get(path)
		if n == nil {
			return nil
		}
		_, name := datatree.Split(path)
		if path == "/" {
			name = "/"
		}
		jn := &jsonNode{
			Path: path, Name: name,
			Czxid: hex(n.Czxid), Mzxid: hex(n.Mzxid), Pzxid: hex(n.Pzxid),
			Ctime: n.Ctime, Mtime: n.Mtime,
			Cversion: n.Cversion, Version: n.Version, Aversion: n.Aversion,
			EphemeralOwner: hex(n.EphemeralOwner),
			ACL:            []jsonACL{},
			DataLength:     len(n.Data),
			Children:       []*jsonNode{},
		}
		for _, a := range t.ACL(n) {
			jn.ACL = append(jn.ACL, jsonACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
		}
		if withData {
			d := base64.StdEncoding.EncodeToString(n.Data)
			jn.Data = &d
		}
		for _, c := range n.Children() {
			if cn := build(datatree.Join(path, c)); cn != nil {
				jn.Children = append(jn.Children, cn)
			}
		}
		return jn
	}
	doc := jsonSnapshot{
		File:      s.Path,
		Zxid:      hex(s.Zxid),
		LastZxid:  hex(max(s.Zxid, treeZxid(t))),
		NodeCount: t.NodeCount(),
		Sessions:  []jsonSession{},
		Root:      build("/"),
	}
	if d := s.Digest; d != nil {
		doc.Digest = &jsonDigest{Zxid: hex(d.Zxid), Version: d.Version, Value: d.Value}
	}
	for _, sid := range sortedSessions(t) {
		doc.Sessions = append(doc.Sessions, jsonSession{ID: hex(sid), Timeout: t.Sessions()[sid], EphemeralCount: len(t.Ephemerals(sid))})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
