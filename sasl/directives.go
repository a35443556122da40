// Package sasl implements the server side of SASL DIGEST-MD5 (RFC 2831) as
// ZooKeeper's clients expect it, the JAAS login configuration file format
// ZooKeeper reads its DIGEST-MD5 users from, and a DIGEST-MD5 client for
// tests and tools.
//
// The exchange follows the JDK's DIGEST-MD5 server created by ZooKeeper
// with protocol "zookeeper" and server name "zk-sasl-md5": the client
// opens with an empty token, the server answers with a challenge (realm
// "zk-sasl-md5", a fresh nonce, charset=utf-8, algorithm=md5-sess, no qop
// list, which means "auth" only), the client sends its digest-response and
// the server answers with "rspauth=<hex>", after which the exchange is
// complete. Only quality of protection "auth" is offered: ZooKeeper does
// not wrap its traffic.
package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// Directive is one name=value pair of a digest-challenge or
// digest-response.
type Directive struct {
	Key   string
	Value []byte
}

// MaxResponse is the largest client token the server evaluates (the
// JDK's limit; larger ones fail).
const MaxResponse = 4096

// ParseDirectives splits a digest-challenge or digest-response into its
// directives, in order, the way the JDK's DIGEST-MD5 implementation reads
// them: a key runs up to '=' (white space may follow it), a value is either
// a quoted string (backslash quotes the next byte) or runs up to white
// space or a comma; empty elements between commas are skipped. Keys are
// returned as written; duplicates are kept.
func ParseDirectives(buf []byte) ([]Directive, error) {
	var (
		out       []Directive
		key       []byte
		value     []byte
		inKey     = true
		quoted    bool
		expectSep bool
	)
	emit := func() {
		out = append(out, Directive{Key: string(key), Value: append([]byte{}, value...)})
		key, value = key[:0], value[:0]
	}
	i := skipLWS(buf, 0)
	for i < len(buf) {
		b := buf[i]
		switch {
		case inKey:
			switch {
			case b == ',':
				if len(key) != 0 {
					return nil, fmt.Errorf("digest: directive key contains a ',': %q", key)
				}
				i = skipLWS(buf, i+1)
			case b == '=':
				if len(key) == 0 {
					return nil, errors.New("digest: empty directive key")
				}
				inKey = false
				i = skipLWS(buf, i+1)
				if i >= len(buf) {
					return nil, fmt.Errorf("digest: directive %q has no value", key)
				}
				if buf[i] == '"' {
					quoted = true
					i++
				}
			case isLWS(b):
				i = skipLWS(buf, i+1)
				if i >= len(buf) || buf[i] != '=' {
					return nil, fmt.Errorf("digest: '=' expected after key %q", key)
				}
			default:
				key = append(key, b)
				i++
			}
		case quoted:
			switch b {
			case '\\':
				i++
				if i >= len(buf) {
					return nil, fmt.Errorf("digest: unmatched quote in directive %q", key)
				}
				value = append(value, buf[i])
				i++
			case '"':
				i++
				quoted, expectSep = false, true
			default:
				value = append(value, b)
				i++
			}
		case isLWS(b) || b == ',':
			emit()
			inKey, quoted, expectSep = true, false, false
			i = skipLWS(buf, i+1)
		case expectSep:
			return nil, fmt.Errorf("digest: comma or white space expected after the quoted value of %q", key)
		default:
			value = append(value, b)
			i++
		}
	}
	if quoted {
		return nil, fmt.Errorf("digest: unmatched quote in directive %q", key)
	}
	if len(key) > 0 {
		// the last pair; a key without '=' at the very end is kept with
		// an empty value, as the JDK does
		emit()
	}
	return out, nil
}

func isLWS(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func skipLWS(buf []byte, i int) int {
	for i < len(buf) && isLWS(buf[i]) {
		i++
	}
	return i
}

// pick maps directives onto the known keys (matched without regard to
// case); unknown keys are ignored and a known key given twice is an
// error, as in the JDK.
func pick(ds []Directive, known ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(known))
	for _, d := range ds {
		for _, k := range known {
			if strings.EqualFold(d.Key, k) {
				if _, dup := out[k]; dup {
					return nil, fmt.Errorf("digest: more than one %s directive", d.Key)
				}
				out[k] = d.Value
				break
			}
		}
	}
	return out, nil
}

// quote writes v as the inside of a quoted-string, escaping '"', '\\',
// DEL and control characters other than CR, LF and HT.
func quote(v []byte) []byte {
	out := make([]byte, 0, len(v)+2)
	for _, b := range v {
		if b == '"' || b == '\\' || b == 127 || (b < 32 && b != '\r' && b != '\n' && b != '\t') {
			out = append(out, '\\')
		}
		out = append(out, b)
	}
	return out
}
