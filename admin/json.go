package admin

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zkserver/zkserver/server"
)

// The AdminServer's JSON is written by hand rather than by encoding/json
// so that it matches what ZooKeeper's Jackson writes: keys in ZooKeeper's
// order, doubles always with a fraction ("0.0", Java's Double.toString),
// and Jackson's default pretty printer (objects one entry a line indented
// by two spaces per enclosing object, arrays on one line: "[ 1, 2 ]",
// "[ ]", "{ }").

// appendJSON appends v; level is the number of enclosing objects.
func appendJSON(b *strings.Builder, v any, level int) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		appendString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int32:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(server.JavaDouble(v))
	case []server.KV:
		appendObject(b, v, level)
	case [][]server.KV:
		items := make([]any, len(v))
		for i := range v {
			items[i] = v[i]
		}
		appendArray(b, items, level)
	case []int64:
		items := make([]any, len(v))
		for i := range v {
			items[i] = v[i]
		}
		appendArray(b, items, level)
	case []string:
		items := make([]any, len(v))
		for i := range v {
			items[i] = v[i]
		}
		appendArray(b, items, level)
	case []any:
		appendArray(b, v, level)
	default:
		appendString(b, fmt.Sprint(v))
	}
}

func appendObject(b *strings.Builder, kv []server.KV, level int) {
	if len(kv) == 0 {
		b.WriteString("{ }")
		return
	}
	b.WriteString("{")
	for i, e := range kv {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.WriteString(strings.Repeat("  ", level+1))
		appendString(b, e.Key)
		b.WriteString(" : ")
		appendJSON(b, e.Value, level+1)
	}
	b.WriteString("\n")
	b.WriteString(strings.Repeat("  ", level))
	b.WriteString("}")
}

func appendArray(b *strings.Builder, items []any, level int) {
	if len(items) == 0 {
		b.WriteString("[ ]")
		return
	}
	b.WriteString("[ ")
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		appendJSON(b, it, level)
	}
	b.WriteString(" ]")
}

// appendString quotes s as Jackson does: ", \ and control characters
// escaped, everything else (including non-ASCII) as is.
func appendString(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// put sets key in an ordered object, in place if present (as a
// LinkedHashMap does), else at the end.
func put(kv []server.KV, key string, v any) []server.KV {
	for i := range kv {
		if kv[i].Key == key {
			kv[i].Value = v
			return kv
		}
	}
	return append(kv, server.KV{Key: key, Value: v})
}
