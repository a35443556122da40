package txnlog

import (
	"os"
	"syscall"
)

// datasync makes a segment's data durable with fdatasync, as ZooKeeper's
// FileChannel.force(false): the file is preallocated, so appends change no
// metadata the data needs, and fdatasync still covers a size change when
// the file grows.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
