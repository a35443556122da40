package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the tests: fetching commands and reducing JSON to its
// shape (key sets and value types), which is what must match ZooKeeper.

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get fetches url and returns status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// decode parses a command answer keeping numbers as json.Number.
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, body)
	}
	return m
}

// numericKey matches the map keys that are ids or times (their set
// differs between servers; only their values' shape is compared).
var numericKey = regexp.MustCompile(`^-?[0-9]+$`)

// shape reduces a decoded value to its type skeleton: "int", "float",
// "string", "bool", "null", objects by key (objects keyed by numbers or
// paths collapse to one "*" entry), arrays to the shape of their first
// element ("[]" when empty).
func shape(v any) any {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return "float"
		}
		return "int"
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		return []any{shape(v[0])}
	case map[string]any:
		dynamic := len(v) > 0
		for k := range v {
			if !numericKey.MatchString(k) && !strings.HasPrefix(k, "/") {
				dynamic = false
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if dynamic {
				k = "*"
			}
			out[k] = shape(x)
		}
		return out
	}
	return fmt.Sprintf("?%T", v)
}

// shapeDiff lists the differences between two shapes; an empty array or
// object on either side matches any array or object.
func shapeDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, want an object", path, got)}
		}
		if len(w) == 0 || len(g) == 0 {
			return nil
		}
		var out []string
		for _, k := range sortedKeys(w) {
			if _, ok := g[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, shapeDiff(path+"."+k, w[k], g[k])...)
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: not in ZooKeeper's answer", path, k))
			}
		}
		return out
	case []any:
		switch g := got.(type) {
		case []any:
			return shapeDiff(path+"[0]", w[0], g[0])
		case string:
			if g == "[]" {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %v, want an array", path, got)}
	case string:
		if w == "[]" {
			if _, ok := got.([]any); ok || got == "[]" {
				return nil
			}
		}
		if w == got {
			return nil
		}
		return []string{fmt.Sprintf("%s: %v, want %v", path, got, w)}
	}
	return []string{fmt.Sprintf("%s: unexpected shape %v", path, want)}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonCompact is body without insignificant white space (to compare the
// layout-independent content).
func jsonCompact(t *testing.T, body string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return b.String()
}
