package config

import (
	"strings"
	"time"
)

// AdminConfig holds the AdminServer settings. ZooKeeper 3.8 reads them as
// the system properties zookeeper.admin.* (a zoo.cfg key it does not know,
// such as admin.serverPort, becomes the system property
// "zookeeper."+key), so each key is accepted bare and with the prefix.
//
// The zero value is ZooKeeper's defaults: the server on, 0.0.0.0:8080,
// URL /commands, idle timeout 30 s, HTTP/1.1, no TLS.
type AdminConfig struct {
	// values read; *Set tells a configured value from the default
	disabled        bool
	address         string
	port            int
	portSet         bool
	commandURL      string
	idleTimeoutMs   int
	idleTimeoutSet  bool
	httpVersion     int
	portUnification bool
	forceHTTPS      bool
}

// Defaults of ZooKeeper's JettyAdminServer.
const (
	DefaultAdminAddress     = "0.0.0.0"
	DefaultAdminPort        = 8080
	DefaultAdminCommandURL  = "/commands"
	DefaultAdminIdleTimeout = 30000 // ms
	DefaultAdminHTTPVersion = 11
)

// AdminKeys lists the AdminServer keys (also accepted with the
// "zookeeper." prefix).
var AdminKeys = []string{
	"admin.enableServer", "admin.serverAddress", "admin.serverPort", "admin.idleTimeout",
	"admin.commandURL", "admin.httpVersion", "admin.portUnification", "admin.forceHttps",
}

func init() {
	for k, o := range map[string]option{
		// ZooKeeper turns the server off only for exactly "false"
		"admin.enableServer": {true, func(c *Config, _, v string) error {
			c.Admin.disabled = v == "false"
			return nil
		}},
		"admin.serverAddress": {true, func(c *Config, _, v string) error {
			c.Admin.address = v
			return nil
		}},
		"admin.commandURL": {true, func(c *Config, _, v string) error {
			c.Admin.commandURL = v
			return nil
		}},
		"admin.serverPort": {true, func(c *Config, k, v string) error {
			if n, ok := javaInteger(c, k, v); ok {
				c.Admin.port, c.Admin.portSet = n, true
			}
			return nil
		}},
		"admin.idleTimeout": {true, func(c *Config, k, v string) error {
			if n, ok := javaInteger(c, k, v); ok {
				c.Admin.idleTimeoutMs, c.Admin.idleTimeoutSet = n, true
			}
			return nil
		}},
		"admin.httpVersion": {true, func(c *Config, k, v string) error {
			if n, ok := javaInteger(c, k, v); ok {
				c.Admin.httpVersion = n
			}
			return nil
		}},
		// Boolean.getBoolean: true only for "true" in any case
		"admin.portUnification": {true, func(c *Config, _, v string) error {
			c.Admin.portUnification = strings.EqualFold(v, "true")
			return nil
		}},
		"admin.forceHttps": {true, func(c *Config, _, v string) error {
			c.Admin.forceHTTPS = strings.EqualFold(v, "true")
			return nil
		}},
	} {
		options[k] = o
	}
}

// javaInteger reads v as Java's Integer.getInteger does: a value that is
// not an integer leaves the default (ZooKeeper says nothing; we warn).
func javaInteger(c *Config, key, v string) (int, bool) {
	n, err := parseInt(key, strings.TrimSpace(v), 32)
	if err != nil {
		c.warnf("%s: %q is not an integer; the default is used", key, v)
		return 0, false
	}
	return int(n), true
}

// Enabled reports whether the AdminServer runs (admin.enableServer).
func (a AdminConfig) Enabled() bool { return !a.disabled }

// Address is the address the AdminServer binds (admin.serverAddress).
func (a AdminConfig) Address() string {
	if a.address == "" {
		return DefaultAdminAddress
	}
	return a.address
}

// Port is the AdminServer port (admin.serverPort); 0 picks a free one.
func (a AdminConfig) Port() int {
	if !a.portSet {
		return DefaultAdminPort
	}
	return a.port
}

// CommandURL is the path below which commands are served
// (admin.commandURL).
func (a AdminConfig) CommandURL() string {
	if a.commandURL == "" {
		return DefaultAdminCommandURL
	}
	return a.commandURL
}

// IdleTimeout is how long an idle or slow HTTP connection is kept
// (admin.idleTimeout, ms).
func (a AdminConfig) IdleTimeout() time.Duration {
	ms := DefaultAdminIdleTimeout
	if a.idleTimeoutSet {
		ms = a.idleTimeoutMs
	}
	return time.Duration(ms) * time.Millisecond
}

// HTTPVersion is admin.httpVersion (11 = HTTP/1.1); it only matters to
// ZooKeeper with TLS on the AdminServer.
func (a AdminConfig) HTTPVersion() int {
	if a.httpVersion == 0 {
		return DefaultAdminHTTPVersion
	}
	return a.httpVersion
}

// PortUnification is admin.portUnification (TLS and plain HTTP on one
// port).
func (a AdminConfig) PortUnification() bool { return a.portUnification }

// ForceHTTPS is admin.forceHttps (TLS only).
func (a AdminConfig) ForceHTTPS() bool { return a.forceHTTPS }

// SetEnabled, SetAddress and SetPort override the configured values (for
// command-line flags and tests).
func (a *AdminConfig) SetEnabled(on bool) { a.disabled = !on }

// SetAddress sets the bind address.
func (a *AdminConfig) SetAddress(addr string) { a.address = addr }

// SetPort sets the port (0: a free one).
func (a *AdminConfig) SetPort(port int) { a.port, a.portSet = port, true }

// SetIdleTimeout sets the idle timeout.
func (a *AdminConfig) SetIdleTimeout(d time.Duration) {
	a.idleTimeoutMs, a.idleTimeoutSet = int(d/time.Millisecond), true
}

// SystemProperties are the zoo.cfg keys ZooKeeper 3.8 would have turned
// into Java system properties ("zookeeper."+key for every key its
// QuorumPeerConfig does not read itself, a key already prefixed kept as
// is), with their values: what its system_properties command lists
// besides the JVM's own.
func (c *Config) SystemProperties() map[string]string {
	out := map[string]string{}
	for k, v := range c.Raw {
		if o, ok := options[k]; ok && !o.sysprop {
			continue // read by QuorumPeerConfig itself
		}
		if strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group.") || strings.HasPrefix(k, "weight.") {
			continue
		}
		if !strings.HasPrefix(k, "zookeeper.") {
			k = "zookeeper." + k
		}
		out[k] = v
	}
	return out
}
