package zabrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/zab"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileContent(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadWriteEpoch(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadEpoch(dir, zab.CurrentEpochFile); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
	for _, e := range []int64{4, 0, 1234567890123, -1} {
		if err := WriteEpoch(dir, zab.CurrentEpochFile, e); err != nil {
			t.Fatal(err)
		}
		got, ok, err := ReadEpoch(dir, zab.CurrentEpochFile)
		if err != nil || !ok || got != e {
			t.Fatalf("wrote %d, read %d ok %v err %v", e, got, ok, err)
		}
	}
	// ASCII decimal, no newline (the live-verified one-byte file "4").
	WriteEpoch(dir, zab.AcceptedEpochFile, 4)
	if c := fileContent(t, dir, zab.AcceptedEpochFile); c != "4" {
		t.Fatalf("file holds %q, want \"4\"", c)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	// ZooKeeper reads the first line with Long.parseLong.
	for content, want := range map[string]int64{"7\n": 7, "7\r\nx": 7, "+8": 8, "-3": -3, "9\nrubbish": 9} {
		writeFile(t, dir, "e", content)
		got, ok, err := ReadEpoch(dir, "e")
		if err != nil || !ok || got != want {
			t.Errorf("%q: %d %v %v, want %d", content, got, ok, err, want)
		}
	}
	for _, content := range []string{"", "\n", " 7", "7 ", "x", "0x10", "99999999999999999999", strings.Repeat("1", 5000)} {
		writeFile(t, dir, "e", content)
		if got, ok, err := ReadEpoch(dir, "e"); err == nil {
			t.Errorf("%.20q accepted as %d (ok %v)", content, got, ok)
		} else if !strings.Contains(err.Error(), "found") {
			t.Errorf("%.20q: error %v does not say what was found", content, err)
		}
	}
	// A directory where the file should be is an error, not "missing".
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	if _, _, err := ReadEpoch(dir, "d"); err == nil {
		t.Error("directory read as an epoch")
	}
	if err := WriteEpoch(filepath.Join(dir, "nope"), "x", 1); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestLoadEpochs(t *testing.T) {
	const z3 = 0x300000005 // epoch 3
	type files map[string]string
	cases := []struct {
		name           string
		have           files
		lastZxid       int64
		accepted, curr int64
		err            string
		after          files // files expected afterwards
		tmpGone        bool
	}{
		{name: "fresh: both created from the zxid's epoch", lastZxid: z3, accepted: 3, curr: 3,
			after: files{zab.AcceptedEpochFile: "3", zab.CurrentEpochFile: "3"}},
		{name: "empty database", lastZxid: 0, accepted: 0, curr: 0,
			after: files{zab.AcceptedEpochFile: "0", zab.CurrentEpochFile: "0"}},
		{name: "existing files kept", have: files{zab.AcceptedEpochFile: "6", zab.CurrentEpochFile: "5"}, lastZxid: 0x400000001,
			accepted: 6, curr: 5, after: files{zab.AcceptedEpochFile: "6", zab.CurrentEpochFile: "5"}},
		{name: "zxid epoch above current, no tmp", have: files{zab.AcceptedEpochFile: "3", zab.CurrentEpochFile: "2"}, lastZxid: z3,
			err: "the current epoch, 2, is older than the last zxid, 12884901893"},
		{name: "zxid epoch above current, tmp used", have: files{zab.AcceptedEpochFile: "3", zab.CurrentEpochFile: "2", zab.CurrentEpochFile + ".tmp": "3"},
			lastZxid: z3, accepted: 3, curr: 3, after: files{zab.CurrentEpochFile: "3"}, tmpGone: true},
		{name: "missing current with tmp: created from the zxid, tmp ignored", have: files{zab.CurrentEpochFile + ".tmp": "9"},
			lastZxid: z3, accepted: 3, curr: 3, after: files{zab.CurrentEpochFile: "3"}},
		{name: "accepted below current", have: files{zab.AcceptedEpochFile: "1", zab.CurrentEpochFile: "2"}, lastZxid: 0x200000001,
			err: "the accepted epoch, 1 is less than the current epoch, 2"},
		{name: "missing accepted created below current", have: files{zab.CurrentEpochFile: "5"}, lastZxid: z3,
			err: "the accepted epoch, 3 is less than the current epoch, 5", after: files{zab.AcceptedEpochFile: "3"}},
		{name: "epochs printed in hex", have: files{zab.AcceptedEpochFile: "10", zab.CurrentEpochFile: "26"}, lastZxid: 0x1a00000001,
			err: "the accepted epoch, a is less than the current epoch, 1a"},
		{name: "corrupt current", have: files{zab.CurrentEpochFile: "x"}, lastZxid: z3, err: `found "x"`},
		{name: "corrupt accepted", have: files{zab.CurrentEpochFile: "3", zab.AcceptedEpochFile: ""}, lastZxid: z3, err: "found null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, v := range c.have {
				writeFile(t, dir, n, v)
			}
			acc, cur, err := LoadEpochs(dir, c.lastZxid)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
			} else if err != nil || acc != c.accepted || cur != c.curr {
				t.Fatalf("got (%d, %d, %v), want (%d, %d)", acc, cur, err, c.accepted, c.curr)
			}
			for n, v := range c.after {
				if got := fileContent(t, dir, n); got != v {
					t.Errorf("%s holds %q, want %q", n, got, v)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, zab.CurrentEpochFile+".tmp")); c.tmpGone && !os.IsNotExist(err) {
				t.Errorf("currentEpoch.tmp still present (%v)", err)
			}
		})
	}
}

func FuzzReadEpoch(f *testing.F) {
	for _, s := range []string{"4", "0", "-1", "7\n", "7\r\n", "+8", "", "x", "9223372036854775807", "9223372036854775808"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "e"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		v, ok, err := ReadEpoch(dir, "e")
		if err != nil {
			return
		}
		if !ok {
			t.Fatal("existing file reported missing")
		}
		line := strings.FieldsFunc(string(data)+"\n", func(r rune) bool { return r == '\n' || r == '\r' })
		if len(line) == 0 || strings.TrimLeft(line[0], "+-0123456789") != "" {
			t.Fatalf("%q accepted as %d", data, v)
		}
		if err := WriteEpoch(dir, "e", v); err != nil {
			t.Fatal(err)
		}
		if w, ok, err := ReadEpoch(dir, "e"); err != nil || !ok || w != v {
			t.Fatalf("rewrite of %d read back as %d %v %v", v, w, ok, err)
		}
	})
}
