package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeJAAS(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const testJAAS = `Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super="adminsecret"
  user_bob="bobsecret";
};
Other {
  org.apache.zookeeper.server.auth.DigestLoginModule required user_carol="c";
};`

func parseSASL(t *testing.T, cfg string, env map[string]string) (*Config, error) {
	t.Helper()
	c, err := Parse(strings.NewReader("dataDir=/tmp/x\n" + cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c, c.ResolveSASL(func(k string) string { return env[k] })
}

func TestSASLKeys(t *testing.T) {
	p := writeJAAS(t, testJAAS)
	c, err := parseSASL(t, "java.security.auth.login.config="+p+`
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
zookeeper.authProvider.sasl2=com.example.Nope
superUser=bob
zookeeper.superUser.2=carol
zookeeper.SASLAuthenticationProvider.superPassword=override
allowSaslFailedClients=TRUE
zookeeper.letAnySaslUserDoX=anyone
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.SASL
	if !reflect.DeepEqual(s.Users, map[string]string{"super": "override", "bob": "bobsecret"}) {
		t.Errorf("users %v", s.Users)
	}
	if !s.Provider || !s.AllowFailedClients || s.LetAnyUserDoX != "anyone" {
		t.Errorf("settings %+v", s)
	}
	if !reflect.DeepEqual(s.SuperUsers, []string{"bob", "carol"}) {
		t.Errorf("super users %v", s.SuperUsers)
	}
	for k := range c.Unknown {
		if strings.Contains(k, "authProvider") || strings.Contains(k, "superUser") {
			t.Errorf("%s left in Unknown", k)
		}
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "com.example.Nope") {
		t.Errorf("no warning for an unknown provider: %q", c.Warnings)
	}
}

func TestSASLSources(t *testing.T) {
	p := writeJAAS(t, testJAAS)
	// no JAAS anywhere: SASL off
	c, err := parseSASL(t, "", nil)
	if err != nil || c.SASL.Users != nil || c.SASL.Provider {
		t.Fatalf("default: %v %+v", err, c.SASL)
	}
	// from SERVER_JVMFLAGS, another section
	c, err = parseSASL(t, "sasl.serverconfig=Other\n", map[string]string{"SERVER_JVMFLAGS": "-Xmx1g -Djava.security.auth.login.config=" + p})
	if err != nil || !reflect.DeepEqual(c.SASL.Users, map[string]string{"carol": "c"}) {
		t.Fatalf("env: %v %v", err, c.SASL.Users)
	}
	// JVMFLAGS too; zoo.cfg wins over the environment
	c, err = parseSASL(t, "java.security.auth.login.config="+p+"\n", map[string]string{"JVMFLAGS": "-Djava.security.auth.login.config=/nonexistent"})
	if err != nil || c.SASL.Users["bob"] != "bobsecret" {
		t.Fatalf("zoo.cfg over env: %v %v", err, c.SASL.Users)
	}
	// a missing section: off, with a warning
	c, err = parseSASL(t, "java.security.auth.login.config="+p+"\nzookeeper.sasl.serverconfig=Missing\n", nil)
	if err != nil || c.SASL.Users != nil || !strings.Contains(strings.Join(c.Warnings, "\n"), "Missing") {
		t.Fatalf("missing section: %v %v %q", err, c.SASL.Users, c.Warnings)
	}
	// errors: unreadable or malformed file, section named without a file
	bad := writeJAAS(t, "Server { broken")
	for _, cfg := range []string{
		"java.security.auth.login.config=/nonexistent/jaas.conf\n",
		"java.security.auth.login.config=" + bad + "\n",
		"sasl.serverconfig=Server\n",
	} {
		if _, err := parseSASL(t, cfg, nil); err == nil {
			t.Errorf("%q: no error", cfg)
		}
	}
}

func TestEnforceAuth(t *testing.T) {
	for _, c := range []struct {
		cfg     string
		ok      bool
		schemes []string
	}{
		{"enforce.auth.enabled=true\n", false, nil},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n", false, nil},
		{"enforce.auth.enabled=true\nenforce.auth.schemes= digest , ip\n", true, []string{"digest", "ip"}},
		{"enforce.auth.enabled=yes\nenforce.auth.schemes=nothing\n", true, []string{"nothing"}},
		{"sessionRequireClientSASLAuth=true\nauthProvider.1=" + SASLAuthenticationProvider + "\n", true, []string{"sasl"}},
		{"sessionRequireClientSASLAuth=true\n", false, nil},
	} {
		cfg, err := parseSASL(t, c.cfg, nil)
		if (err == nil) != c.ok {
			t.Errorf("%q: %v", c.cfg, err)
			continue
		}
		if c.ok && !reflect.DeepEqual(cfg.SASL.EnforceAuthSchemes, c.schemes) {
			t.Errorf("%q: schemes %q", c.cfg, cfg.SASL.EnforceAuthSchemes)
		}
	}
}

func TestJVMFlag(t *testing.T) {
	if v, ok := jvmFlag(`-Da=1 "-Djava.security.auth.login.config=/x y" -Djava.security.auth.login.config='/etc/j.conf'`, "java.security.auth.login.config"); !ok || v != "/etc/j.conf" {
		t.Errorf("%q %v", v, ok)
	}
	if _, ok := jvmFlag("-Dother=1", "java.security.auth.login.config"); ok {
		t.Error("found")
	}
}
