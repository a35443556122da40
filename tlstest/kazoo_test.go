package tlstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/internal/testkit"
)

const python = "/usr/bin/python3"

// requireKazoo skips without python3-kazoo (Debian's package; make
// tls-interop installs it) unless ZKSERVER_REQUIRE_ZK is set.
func requireKazoo(t *testing.T) {
	t.Helper()
	requireInterop(t)
	if err := exec.Command(python, "-c", "import kazoo").Run(); err != nil {
		if os.Getenv("ZKSERVER_REQUIRE_ZK") != "" {
			t.Fatalf("ZKSERVER_REQUIRE_ZK is set but kazoo is missing (apt-get install python3-kazoo): %v", err)
		}
		t.Skip("kazoo missing (apt-get install python3-kazoo); set ZKSERVER_REQUIRE_ZK=1 to make this a failure")
	}
}

// kazooCheck connects with use_ssl, creates a node with the "auth" ACL
// and prints the ACL's ids and the data read back.
const kazooCheck = `import sys
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, Permissions
host, path, ca, cert, key = sys.argv[1:6]
kw = dict(hosts=host, use_ssl=True, ca=ca, verify_certs=True, timeout=5)
if cert:
    kw.update(certfile=cert, keyfile=key)
zk = KazooClient(**kw)
try:
    zk.start(timeout=8)
except Exception as e:
    print("NOT CONNECTED", type(e).__name__)
    sys.exit(2)
zk.create(path, b"kazoo", acl=[ACL(Permissions.ALL, Id("auth", ""))])
acls, _ = zk.get_acls(path)
for a in acls:
    print("ACL %s:%s" % (a.id.scheme, a.id.id))
print("DATA", zk.get(path)[0].decode())
zk.stop()
zk.close()
`

func TestKazoo(t *testing.T) {
	requireKazoo(t)
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) { c.SecureClientPort = testkit.FreePort(t); c.ClientPort = testkit.FreePort(t) }))
	script := filepath.Join(t.TempDir(), "kazoo_tls.py")
	if err := os.WriteFile(script, []byte(kazooCheck), 0o644); err != nil {
		t.Fatal(err)
	}
	// kazoo takes the certificate and the key as separate PEM files
	c, err := certgenClient(p, "client")
	if err != nil {
		t.Fatal(err)
	}
	certFile := p.write(t, "kazoo-cert.pem", c.CertPEM())
	keyFile := p.write(t, "kazoo-key.pem", c.KeyPEM())
	run := func(path, cert, key string) (string, error) {
		out, err := exec.Command(python, script, r.secureAddr(), path, p.path("ca.pem"), cert, key).CombinedOutput()
		return string(out), err
	}
	out, err := run("/kazoo", certFile, keyFile)
	if err != nil {
		t.Fatalf("kazoo: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ACL x509:"+clientID+"\n") || !strings.Contains(out, "DATA kazoo\n") {
		t.Errorf("kazoo printed:\n%s", out)
	}
	// no certificate: refused (clientAuth=need), the server keeps serving
	out, err = run("/kazoo2", "", "")
	if err == nil || !strings.Contains(out, "NOT CONNECTED") {
		t.Errorf("kazoo without a certificate: %v\n%s", err, out)
	}
	good := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if d, _, err := good.Get("/kazoo"); err != nil || string(d) != "kazoo" {
		t.Errorf("go client after kazoo: %q, %v", d, err)
	}
}
