package sasl

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// DigestLoginModule is the login module ZooKeeper's JAAS sections name for
// DIGEST-MD5.
const DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"

// JAASEntry is one login module line of a JAAS section.
type JAASEntry struct {
	LoginModule string
	Flag        string // required, requisite, sufficient or optional (lower case)
	Options     map[string]string
	Line        int
}

// JAASConfig maps section (application) names to their entries.
type JAASConfig map[string][]JAASEntry

// Sections lists the section names, sorted.
func (c JAASConfig) Sections() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LoadJAAS reads and parses a JAAS login configuration file.
func LoadJAAS(path string) (JAASConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jaas: %w", err)
	}
	c, err := ParseJAAS(data)
	if err != nil {
		return nil, fmt.Errorf("jaas: %s: %w", path, err)
	}
	return c, nil
}

// Credentials returns the DIGEST-MD5 users of a section: every option
// named user_<name> of every entry, as ZooKeeper's server callback handler
// collects them (a later entry's user replaces an earlier one's).
func Credentials(entries []JAASEntry) map[string]string {
	out := map[string]string{}
	for _, e := range entries {
		keys := make([]string, 0, len(e.Options))
		for k := range e.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if name, ok := strings.CutPrefix(k, "user_"); ok {
				out[name] = e.Options[k]
			}
		}
	}
	return out
}

// ParseJAAS parses the JAAS login configuration syntax read by the JDK's
// ConfigFile:
//
//	Name {
//	    module.Class Flag key="value" key2=value2;
//	    ...
//	};
//
// with // and /* */ comments, values as words or quoted strings ("..." or
// '...', backslash escapes as in Java). The flag is one of required,
// requisite, sufficient and optional (any case). A section may not be
// given twice. Property references (${...}) are kept as written.
func ParseJAAS(data []byte) (JAASConfig, error) {
	t := &jaasTokenizer{src: data, line: 1}
	out := JAASConfig{}
	tok, err := t.next()
	if err != nil {
		return nil, err
	}
	for tok.kind != tkEOF {
		if tok.kind != tkWord && tok.kind != tkQuoted {
			return nil, fmt.Errorf("line %d: expected a section name, found %s", tok.line, tok)
		}
		name := tok.text
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: section %q is given twice", tok.line, name)
		}
		if err := t.expect('{'); err != nil {
			return nil, err
		}
		entries := []JAASEntry{}
		for {
			tok, err = t.next()
			if err != nil {
				return nil, err
			}
			if tok.kind == '}' {
				break
			}
			if tok.kind != tkWord && tok.kind != tkQuoted {
				return nil, fmt.Errorf("line %d: expected a login module class name, found %s", tok.line, tok)
			}
			e := JAASEntry{LoginModule: tok.text, Options: map[string]string{}, Line: tok.line}
			flag, err := t.next()
			if err != nil {
				return nil, err
			}
			if flag.kind != tkWord && flag.kind != tkQuoted {
				return nil, fmt.Errorf("line %d: expected a control flag, found %s", flag.line, flag)
			}
			switch f := strings.ToLower(flag.text); f {
			case "required", "requisite", "sufficient", "optional":
				e.Flag = f
			default:
				return nil, fmt.Errorf("line %d: invalid control flag %q", flag.line, flag.text)
			}
			for {
				k, err := t.next()
				if err != nil {
					return nil, err
				}
				if k.kind == ';' {
					break
				}
				if k.kind != tkWord && k.kind != tkQuoted {
					return nil, fmt.Errorf("line %d: expected an option name or ';', found %s", k.line, k)
				}
				if err := t.expect('='); err != nil {
					return nil, err
				}
				v, err := t.next()
				if err != nil {
					return nil, err
				}
				if v.kind != tkWord && v.kind != tkQuoted {
					return nil, fmt.Errorf("line %d: expected a value for option %q, found %s", v.line, k.text, v)
				}
				e.Options[k.text] = v.text
			}
			entries = append(entries, e)
		}
		if err := t.expect(';'); err != nil {
			return nil, err
		}
		out[name] = entries
		if tok, err = t.next(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const (
	tkEOF    = -1
	tkWord   = -2
	tkQuoted = -3
)

type jaasToken struct {
	kind int // tkEOF, tkWord, tkQuoted or the symbol's byte
	text string
	line int
}

func (t jaasToken) String() string {
	switch t.kind {
	case tkEOF:
		return "end of file"
	case tkWord, tkQuoted:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("'%c'", rune(t.kind))
}

type jaasTokenizer struct {
	src  []byte
	pos  int
	line int
}

func isJAASWord(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '-' || b == '$' || b == '*' || b >= 0xa0
}

func (t *jaasTokenizer) expect(sym byte) error {
	tok, err := t.next()
	if err != nil {
		return err
	}
	if tok.kind != int(sym) {
		return fmt.Errorf("line %d: expected '%c', found %s", tok.line, sym, tok)
	}
	return nil
}

func (t *jaasTokenizer) next() (jaasToken, error) {
	for t.pos < len(t.src) {
		b := t.src[t.pos]
		switch {
		case b == '\n':
			t.line++
			t.pos++
		case b <= ' ':
			t.pos++
		case b == '/' && t.pos+1 < len(t.src) && t.src[t.pos+1] == '*':
			end := strings.Index(string(t.src[t.pos+2:]), "*/")
			if end < 0 {
				return jaasToken{}, fmt.Errorf("line %d: unterminated comment", t.line)
			}
			t.line += strings.Count(string(t.src[t.pos:t.pos+2+end]), "\n")
			t.pos += 2 + end + 2
		case b == '/':
			// "//" and, as in java.io.StreamTokenizer, a lone '/' start a
			// comment running to the end of the line
			for t.pos < len(t.src) && t.src[t.pos] != '\n' {
				t.pos++
			}
		case b == '"' || b == '\'':
			return t.quoted(b)
		case isJAASWord(b):
			start := t.pos
			for t.pos < len(t.src) && isJAASWord(t.src[t.pos]) {
				t.pos++
			}
			return jaasToken{kind: tkWord, text: string(t.src[start:t.pos]), line: t.line}, nil
		default:
			t.pos++
			return jaasToken{kind: int(b), line: t.line}, nil
		}
	}
	return jaasToken{kind: tkEOF, line: t.line}, nil
}

// quoted reads a quoted string with java.io.StreamTokenizer's escapes; a
// newline ends it unterminated (an error here).
func (t *jaasTokenizer) quoted(q byte) (jaasToken, error) {
	line := t.line
	t.pos++
	var sb strings.Builder
	for t.pos < len(t.src) {
		b := t.src[t.pos]
		switch {
		case b == q:
			t.pos++
			return jaasToken{kind: tkQuoted, text: sb.String(), line: line}, nil
		case b == '\n' || b == '\r':
			return jaasToken{}, fmt.Errorf("line %d: unterminated quoted string", line)
		case b == '\\' && t.pos+1 < len(t.src):
			t.pos++
			c := t.src[t.pos]
			t.pos++
			switch c {
			case 'a':
				sb.WriteByte(7)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'v':
				sb.WriteByte('\v')
			default:
				if c >= '0' && c <= '7' {
					n := int(c - '0')
					max := 2
					if c > '3' {
						max = 1
					}
					for i := 0; i < max && t.pos < len(t.src) && t.src[t.pos] >= '0' && t.src[t.pos] <= '7'; i++ {
						n = n*8 + int(t.src[t.pos]-'0')
						t.pos++
					}
					sb.WriteRune(rune(n))
				} else {
					sb.WriteByte(c)
				}
			}
		default:
			sb.WriteByte(b)
			t.pos++
		}
	}
	return jaasToken{}, fmt.Errorf("line %d: unterminated quoted string", line)
}
