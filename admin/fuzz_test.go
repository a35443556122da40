package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
)

// FuzzServeHTTP sends arbitrary command paths and query strings (the
// untrusted input the AdminServer parses itself): no panic, and every 200
// answer to a command is a JSON object naming a command.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range []string{"ruok", "set_trace_mask?traceMask=12", "stmk?traceMask=-", "x/y?z", "%00", "zabstate?a=b&a=c", "\u00e9\"\\"} {
		f.Add(s)
	}
	cfg, err := config.Parse(strings.NewReader("dataDir=/x\n"))
	if err != nil {
		f.Fatal(err)
	}
	a := New(Options{Config: cfg, Source: nilSource{peer: &PeerState{LeaderID: 2, ZabState: "election"}}})
	mask := server.TraceMask()
	defer server.SetTraceMask(mask)
	f.Fuzz(func(t *testing.T, in string) {
		path, query, _ := strings.Cut(in, "?")
		u := &url.URL{Path: "/commands/" + path, RawQuery: query}
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		req.URL = u
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || path == "" {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v\n%s", in, err, rec.Body.String())
		}
		if _, ok := m["command"].(string); !ok {
			t.Fatalf("%q: no command: %s", in, rec.Body.String())
		}
	})
}
