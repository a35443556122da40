package zabrun

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/zab"
)

// tmpSuffix is appended to an epoch file's name while it is rewritten
// (ZooKeeper's AtomicFileOutputStream uses the same name).
const tmpSuffix = ".tmp"

// maxEpochFile bounds what ReadEpoch reads: an epoch is at most 20 digits
// and a sign; anything longer than this on its first line is not one.
const maxEpochFile = 4096

// ReadEpoch reads the epoch file dir/name: ASCII decimal, as ZooKeeper
// reads it (the first line, Long.parseLong: an optional sign and digits,
// nothing else). ok is false, with no error, when the file does not exist.
func ReadEpoch(dir, name string) (epoch int64, ok bool, err error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("zab: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEpochFile+1))
	if err != nil {
		return 0, false, fmt.Errorf("zab: reading %s: %w", path, err)
	}
	line := b
	for i, c := range b {
		if c == '\n' || c == '\r' {
			line = b[:i]
			break
		}
	}
	if len(line) > maxEpochFile {
		return 0, false, fmt.Errorf("zab: found a %d+ byte line in %s, not an epoch", maxEpochFile, path)
	}
	v, perr := strconv.ParseInt(string(line), 10, 64)
	if perr != nil {
		if len(b) == 0 {
			return 0, false, fmt.Errorf("zab: found null in %s (empty file)", path)
		}
		return 0, false, fmt.Errorf("zab: found %q in %s", line, path)
	}
	return v, true, nil
}

// WriteEpoch writes epoch to dir/name atomically: ASCII decimal without a
// newline into name.tmp, fsync, rename over name, fsync dir.
func WriteEpoch(dir, name string, epoch int64) error {
	final := filepath.Join(dir, name)
	tmp := final + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("zab: writing %s: %w", name, err)
	}
	_, err = f.WriteString(strconv.FormatInt(epoch, 10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("zab: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("zab: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("zab: fsync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("zab: fsync %s: %w", dir, err)
	}
	return nil
}

// hexZxid formats like ZooKeeper's ZxidUtils.zxidToString
// (Long.toHexString: two's complement, lower case, no 0x).
func hexZxid(z int64) string { return strconv.FormatUint(uint64(z), 16) }

// LoadEpochs reads (and where needed creates) the epoch files of snapDir
// at startup, after the database was loaded up to lastZxid, following
// ZooKeeper's QuorumPeer.loadDataBase:
//
//   - a missing currentEpoch is created with the epoch of lastZxid;
//   - if lastZxid's epoch is above currentEpoch, currentEpoch.tmp (left by
//     an interrupted rewrite) supplies the epoch, which is written to
//     currentEpoch; without it startup fails;
//   - a missing acceptedEpoch is created with the epoch of lastZxid;
//   - acceptedEpoch below currentEpoch fails startup.
//
// Created files are logged on zap's global logger.
func LoadEpochs(snapDir string, lastZxid int64) (accepted, current int64, err error) {
	epochOfZxid := lastZxid >> 32
	current, ok, err := ReadEpoch(snapDir, zab.CurrentEpochFile)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		current = epochOfZxid
		zap.L().Info(zab.CurrentEpochFile+" not found; creating it from the last zxid's epoch",
			zap.Int64("epoch", current), zap.String("zxid", hexZxid(lastZxid)))
		if err := WriteEpoch(snapDir, zab.CurrentEpochFile, current); err != nil {
			return 0, 0, err
		}
	}
	if epochOfZxid > current {
		tmp, ok, err := ReadEpoch(snapDir, zab.CurrentEpochFile+tmpSuffix)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			return 0, 0, fmt.Errorf("zab: the current epoch, %s, is older than the last zxid, %d",
				hexZxid(current), lastZxid)
		}
		zap.L().Info(zab.CurrentEpochFile+tmpSuffix+" found; setting the current epoch from it", zap.Int64("epoch", tmp))
		if err := WriteEpoch(snapDir, zab.CurrentEpochFile, tmp); err != nil {
			return 0, 0, err
		}
		current = tmp
	}
	accepted, ok, err = ReadEpoch(snapDir, zab.AcceptedEpochFile)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		accepted = epochOfZxid
		zap.L().Info(zab.AcceptedEpochFile+" not found; creating it from the last zxid's epoch",
			zap.Int64("epoch", accepted), zap.String("zxid", hexZxid(lastZxid)))
		if err := WriteEpoch(snapDir, zab.AcceptedEpochFile, accepted); err != nil {
			return 0, 0, err
		}
	}
	if accepted < current {
		return 0, 0, fmt.Errorf("zab: the accepted epoch, %s is less than the current epoch, %s",
			hexZxid(accepted), hexZxid(current))
	}
	return accepted, current, nil
}
