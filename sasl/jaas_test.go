package sasl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sampleJAAS = `
/* ZooKeeper server */
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret" // the super user
       user_bob="bob\"secret"
       user_eve='single';
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule Required
       username="bob"
       password="bobsecret";
};
"Quoted Name" {
       a.B sufficient k=v-1;
       c.D OPTIONAL;
};
`

func TestParseJAAS(t *testing.T) {
	c, err := ParseJAAS([]byte(sampleJAAS))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sections(); !reflect.DeepEqual(got, []string{"Client", "Quoted Name", "Server"}) {
		t.Errorf("sections %q", got)
	}
	srv := c["Server"]
	if len(srv) != 1 || srv[0].LoginModule != DigestLoginModule || srv[0].Flag != "required" {
		t.Fatalf("server section %+v", srv)
	}
	want := map[string]string{"super": "adminsecret", "bob": `bob"secret`, "eve": "single"}
	if got := Credentials(srv); !reflect.DeepEqual(got, want) {
		t.Errorf("credentials %q", got)
	}
	if c["Client"][0].Options["username"] != "bob" || c["Client"][0].Flag != "required" {
		t.Errorf("client %+v", c["Client"])
	}
	q := c["Quoted Name"]
	if len(q) != 2 || q[0].Options["k"] != "v-1" || q[1].Flag != "optional" || len(q[1].Options) != 0 {
		t.Errorf("quoted %+v", q)
	}
}

func TestParseJAASErrors(t *testing.T) {
	for _, in := range []string{
		`Server { m required a="b" };`,        // missing ';' after the entry
		`Server { m required a="b"; }`,        // missing ';' after the section
		`Server { m maybe; };`,                // bad flag
		`Server { m required a=; };`,          // no value
		`Server { m required a="b; };`,        // unterminated
		`Server { m required; }; Server { };`, // twice
		`Server m required; };`,
		`/* open`,
		`{ };`,
	} {
		if _, err := ParseJAAS([]byte(in)); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	if c, err := ParseJAAS([]byte("// nothing\n")); err != nil || len(c) != 0 {
		t.Errorf("empty: %v %v", c, err)
	}
}

func TestLoadJAAS(t *testing.T) {
	p := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(p, []byte(sampleJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadJAAS(p); err != nil || len(c["Server"]) != 1 {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := LoadJAAS(p + ".missing"); err == nil {
		t.Error("missing file loaded")
	}
	os.WriteFile(p, []byte("Server {"), 0o600)
	if _, err := LoadJAAS(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad file: %v", err)
	}
}

func FuzzParseJAAS(f *testing.F) {
	f.Add([]byte(sampleJAAS))
	f.Add([]byte(`S { m required k="\101\n"; };`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseJAAS(b)
		if err != nil {
			return
		}
		for name, es := range c {
			for _, e := range es {
				switch e.Flag {
				case "required", "requisite", "sufficient", "optional":
				default:
					t.Fatalf("%s: flag %q", name, e.Flag)
				}
				if e.LoginModule == "" && e.Options == nil {
					t.Fatalf("%s: empty entry", name)
				}
			}
		}
	})
}
