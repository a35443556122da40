package server

import (
	"strings"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

func TestValidatePath(t *testing.T) {
	valid := []string{
		"/",
		"/a",
		"/a/b/c",
		"/a.b",
		"/.a",
		"/a.",
		"/...",
		"/a/.b/..c",
		"/ a",
		"/zookeeper",
		"/" + strings.Repeat("x", 1000),
		"/héllo/wörld",
		"/日本語/パス",
		"/\u00a0",        // just above the C1 controls
		"/\u07ff\u0800",  // two- and three-byte boundaries
		"/\ud7ff",        // just below the surrogates
		"/\uf900",        // just above the private use area
		"/\uffef",        // just below the specials
		"/a-b_c~d!e@f#g", // punctuation
		"/a:b",
	}
	for _, p := range valid {
		if err := validatePath(p); err != wire.ErrOK {
			t.Errorf("validatePath(%q) = %v, want OK", p, err)
		}
	}
	invalid := []string{
		"",
		"a",
		"a/b",
		"//",
		"//a",
		"/a//b",
		"/a/",
		"/a/b/",
		"/.",
		"/..",
		"/a/.",
		"/a/..",
		"/a/./b",
		"/a/../b",
		"/./a",
		"/a\x00b",
		"/\x00",
		"/a\x01",
		"/a\tb",
		"/a\nb",
		"/a\x1f",
		"/a\x7f",         // DEL
		"/a\u0080",       // C1 controls
		"/a\u009f",       // last C1 control
		"/a\ue000",       // private use
		"/a\uf8ff",       // end of the rejected range
		"/a\ufff0",       // specials
		"/a\ufffd",       // the replacement character itself
		"/a\uffff",       // last BMP code point
		"/a\U0001F600",   // non-BMP: surrogates in Java
		"/a\U00010000",   // first non-BMP
		"/a\xed\xa0\x80", // a surrogate encoded in UTF-8 (invalid UTF-8)
		"/a\xff",         // invalid UTF-8
		"/a\xc3",         // truncated sequence
	}
	for _, p := range invalid {
		if err := validatePath(p); err != wire.ErrBadArguments {
			t.Errorf("validatePath(%q) = %v, want BADARGUMENTS", p, err)
		}
	}
}

func TestIsSpecialPath(t *testing.T) {
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		if !isSpecialPath(p) {
			t.Errorf("%s not special", p)
		}
	}
	for _, p := range []string{"/a", "/zookeeper/other", "/zookeeper/quota/x", "/zoo"} {
		if isSpecialPath(p) {
			t.Errorf("%s special", p)
		}
	}
}
