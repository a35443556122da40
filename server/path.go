package server

import (
	"strings"
	"unicode/utf8"

	"github.com/zkserver/zkserver/wire"
)

// validatePath applies ZooKeeper's PathUtils rules.
func validatePath(p string) wire.Err {
	if p == "" || p[0] != '/' {
		return wire.ErrBadArguments
	}
	if p == "/" {
		return wire.ErrOK
	}
	if p[len(p)-1] == '/' {
		return wire.ErrBadArguments
	}
	for _, comp := range strings.Split(p[1:], "/") {
		if comp == "" || comp == "." || comp == ".." {
			return wire.ErrBadArguments
		}
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size == 1 {
			return wire.ErrBadArguments
		}
		i += size
		switch {
		case r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			// control chars, surrogates/private use, specials and anything
			// outside the BMP (Java sees surrogates there)
			return wire.ErrBadArguments
		}
	}
	return wire.ErrOK
}

// isSpecialPath reports paths that can never be deleted.
func isSpecialPath(p string) bool {
	switch p {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
