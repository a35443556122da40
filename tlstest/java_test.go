package tlstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/internal/testkit"
)

// javaClasspath is ZooKeeper's client with netty (the secure client
// needs ClientCnxnSocketNetty) and a quiet slf4j binding.
var javaClasspath = strings.Join([]string{
	zkJar, "/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-codec.jar", "/usr/share/java/netty-common.jar",
	"/usr/share/java/netty-handler.jar", "/usr/share/java/netty-resolver.jar", "/usr/share/java/netty-transport.jar",
	"/usr/share/java/netty-transport-native-epoll.jar", "/usr/share/java/netty-transport-native-unix-common.jar",
	"/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar",
}, ":")

// tlsCheckJava connects with zookeeper.client.secure=true, creates a
// node with the creator's ACL and prints the ACL ZooKeeper's server side
// gave it, then reads the node back.
const tlsCheckJava = `import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.*;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public class TlsCheck {
  public static void main(String[] a) throws Exception {
    ZKClientConfig cfg = new ZKClientConfig();
    CountDownLatch up = new CountDownLatch(1);
    ZooKeeper zk = new ZooKeeper(a[0], 10000, e -> {
      if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
    }, cfg);
    if (!up.await(Integer.parseInt(a[2]), TimeUnit.SECONDS)) {
      System.out.println("NOT CONNECTED");
      zk.close();
      System.exit(2);
    }
    String path = a[1];
    zk.create(path, "java".getBytes("UTF-8"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
    List<ACL> acl = zk.getACL(path, new Stat());
    for (ACL x : acl) System.out.println("ACL " + x.getId().getScheme() + ":" + x.getId().getId());
    System.out.println("DATA " + new String(zk.getData(path, false, null), "UTF-8"));
    zk.close();
  }
}
`

var (
	javaOnce sync.Once
	javaDir  string
	javaErr  error
)

// javaProgram compiles TlsCheck once and returns its directory.
func javaProgram(t *testing.T) string {
	t.Helper()
	javaOnce.Do(func() {
		javaDir, javaErr = os.MkdirTemp("", "tlstest-java-")
		if javaErr != nil {
			return
		}
		src := filepath.Join(javaDir, "TlsCheck.java")
		if javaErr = os.WriteFile(src, []byte(tlsCheckJava), 0o644); javaErr != nil {
			return
		}
		if out, err := exec.Command("javac", "-cp", javaClasspath, "-d", javaDir, src).CombinedOutput(); err != nil {
			javaErr = err
			javaErr = &javacError{err: err, out: string(out)}
		}
	})
	if javaErr != nil {
		t.Fatal(javaErr)
	}
	return javaDir
}

type javacError struct {
	err error
	out string
}

func (e *javacError) Error() string { return "javac: " + e.err.Error() + "\n" + e.out }

// runJava runs TlsCheck against addr with the key store (may be "").
func runJava(t *testing.T, p *pki, addr, keyStore, path, waitSeconds string) (string, error) {
	t.Helper()
	dir := javaProgram(t)
	args := []string{"-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.client.secure=true",
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.trustStore.location=" + p.path("ca.pem"),
	}
	if keyStore != "" {
		args = append(args, "-Dzookeeper.ssl.keyStore.location="+keyStore)
	}
	args = append(args, "-cp", dir+":"+javaClasspath, "TlsCheck", addr, path, waitSeconds)
	cmd := exec.Command("java", args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestJavaClient: ZooKeeper's own client over TLS (netty) with key
// stores of each format, clientAuth need.
func TestJavaClient(t *testing.T) {
	requireZK(t)
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) { c.SecureClientPort = testkit.FreePort(t); c.ClientPort = testkit.FreePort(t) }))

	out, err := runJava(t, p, r.secureAddr(), p.client(t, "client"), "/java", "15")
	if err != nil {
		t.Fatalf("java client: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ACL x509:"+clientID+"\n") || !strings.Contains(out, "DATA java\n") {
		t.Errorf("java client printed:\n%s", out)
	}
	// the Go client sees the node with the same id
	c := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if d, _, err := c.Get("/java"); err != nil || string(d) != "java" {
		t.Errorf("go client's get of /java: %q, %v", d, err)
	}
	acl, _, err := c.GetACL("/java")
	if err != nil || len(acl) != 1 || acl[0] != (zk.ACL{Perms: zk.PermAll, Scheme: "x509", ID: clientID}) {
		t.Errorf("ACL %v, %v", acl, err)
	}

	// without a key store the server (clientAuth=need) refuses it
	out, err = runJava(t, p, r.secureAddr(), "", "/java2", "4")
	if err == nil || !strings.Contains(out, "NOT CONNECTED") {
		t.Errorf("java client without a certificate: %v\n%s", err, out)
	}
	if r.logged("TLS handshake with a client failed") == "" {
		t.Error("the refused handshake was not logged")
	}
}
