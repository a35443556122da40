package snapshot

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// compressionOf maps WriteOptions.Compression to a file suffix ("" or
// "gz") as ZooKeeper reads zookeeper.snapshot.compression.method.
func compressionOf(method string) (string, error) {
	switch strings.ToLower(method) {
	case "gz":
		return "gz", nil
	case "snappy":
		return "", ErrSnappyUnsupported
	}
	return "", nil
}

// snapFile is a snapshot file being written: <final>.tmp until finish
// renames it into place. Write and WriteFrom share it.
type snapFile struct {
	dir, comp  string
	tmp, final string
	f          *os.File
	bw         *bufio.Writer
	gz         *gzip.Writer
	sum        hash.Hash32
	cw         *checkedWriter // every byte of the (uncompressed) stream
	done       bool
}

func createSnapFile(dir string, zxid int64, comp string) (*snapFile, error) {
	final := filepath.Join(dir, Name(zxid, comp))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &snapFile{dir: dir, comp: comp, tmp: tmp, final: final, f: f}, nil
}

// begin (re)starts the file with the header (magic, version, dbid).
func (s *snapFile) begin() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.bw = bufio.NewWriterSize(s.f, 1<<16)
	var sink io.Writer = s.bw
	s.gz = nil
	if s.comp == "gz" {
		s.gz = gzip.NewWriter(s.bw)
		sink = s.gz
	}
	s.sum = adler32.New()
	s.cw = &checkedWriter{w: sink, sum: s.sum}
	var e wire.Encoder
	e.Int(Magic)
	e.Int(Version)
	e.Long(DBID)
	_, err := s.cw.Write(e.B)
	return err
}

// finish writes seal 1, the digest section (zxid, digest; 0 and 0 when
// nothing was applied yet, as ZooKeeper records) and seal 2 after the
// body, then flushes, fsyncs when sync is set, and renames the file into
// place. It returns the final path.
func (s *snapFile) finish(zxid int64, digest uint64, sync bool) (string, error) {
	if zxid == 0 {
		digest = 0
	}
	var e wire.Encoder
	e.Long(int64(s.sum.Sum32()))
	e.Str("/")
	e.Long(zxid)
	e.Int(datatree.DigestVersion)
	e.Long(int64(digest))
	if _, err := s.cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", s.tmp, err)
	}
	e.B = e.B[:0]
	e.Long(int64(s.sum.Sum32()))
	e.Str("/")
	if _, err := s.cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", s.tmp, err)
	}
	if s.gz != nil {
		if err := s.gz.Close(); err != nil {
			return "", fmt.Errorf("snapshot: writing %s: %w", s.tmp, err)
		}
	}
	if err := s.bw.Flush(); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", s.tmp, err)
	}
	if sync {
		if err := s.f.Sync(); err != nil {
			return "", fmt.Errorf("snapshot: fsync %s: %w", s.tmp, err)
		}
	}
	if err := s.f.Close(); err != nil {
		return "", fmt.Errorf("snapshot: closing %s: %w", s.tmp, err)
	}
	if err := os.Rename(s.tmp, s.final); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	s.done = true
	if sync {
		if err := syncDir(s.dir); err != nil {
			return s.final, fmt.Errorf("snapshot: fsync %s: %w", s.dir, err)
		}
	}
	return s.final, nil
}

// abort removes the temporary file unless finish renamed it.
func (s *snapFile) abort() {
	if !s.done {
		s.f.Close()
		os.Remove(s.tmp)
	}
}

// appendNodeFields encodes what follows a node record's path: data, ACL
// id and StatPersisted.
func appendNodeFields(e *wire.Encoder, n *datatree.Node) {
	e.Buffer(n.Data)
	e.Long(n.ACL)
	e.Long(n.Czxid)
	e.Long(n.Mzxid)
	e.Long(n.Ctime)
	e.Long(n.Mtime)
	e.Int(n.Version)
	e.Int(n.Cversion)
	e.Int(n.Aversion)
	e.Long(n.EphemeralOwner)
	e.Long(n.Pzxid)
}
