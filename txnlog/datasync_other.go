//go:build !linux

package txnlog

import "os"

func datasync(f *os.File) error { return f.Sync() }
