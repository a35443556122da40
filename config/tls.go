package config

import (
	"fmt"
	"net"
	"strings"
)

// TLSSettings is one set of ZooKeeper's X509Util keys: "ssl.*" for the
// client port (ClientX509Util) or "ssl.quorum.*" between servers
// (QuorumX509Util). Every key is a system property in ZooKeeper, so it is
// also accepted with a "zookeeper." prefix. The package tlsconf turns it
// into a *tls.Config.
type TLSSettings struct {
	KeyStoreLocation       string   // "keyStore.location"
	KeyStorePassword       string   // "keyStore.password"
	KeyStorePasswordPath   string   // "keyStore.passwordPath": a file holding the password (wins over the password)
	KeyStoreType           string   // "keyStore.type": JKS, PEM, PKCS12 or "" (from the file name)
	TrustStoreLocation     string   // "trustStore.location"; "" = the system's roots
	TrustStorePassword     string   // "trustStore.password"
	TrustStorePasswordPath string   // "trustStore.passwordPath"
	TrustStoreType         string   // "trustStore.type"
	Protocol               string   // "protocol"; "" = TLSv1.2
	EnabledProtocols       []string // "enabledProtocols", comma separated; nil = Protocol alone
	CipherSuites           []string // "ciphersuites", comma separated; nil = ZooKeeper's default list
	ClientAuth             string   // "clientAuth": "none", "want" or "need" (lower case; "" is need)
	// NoHostnameVerification is "hostnameVerification=false" (the default
	// is true: the peer's certificate must name the address connected to;
	// on the quorum both ways, on the client port only in clients).
	NoHostnameVerification bool
	// HandshakeDetectionTimeoutMs bounds the wait for a connection's first
	// bytes on a port that takes both TLS and plain connections
	// ("handshakeDetectionTimeoutMillis"; 0 = the default 5000; values
	// below 1 fall back to the default, as in ZooKeeper).
	HandshakeDetectionTimeoutMs int
}

// TLSKeys lists the keys of one TLSSettings, without the "ssl." or
// "ssl.quorum." prefix. "context.supplier.class" (a Java class) and
// "crl"/"ocsp" set to true are refused; "authProvider" accepts only x509.
var TLSKeys = []string{
	"keyStore.location", "keyStore.password", "keyStore.passwordPath", "keyStore.type",
	"trustStore.location", "trustStore.password", "trustStore.passwordPath", "trustStore.type",
	"protocol", "enabledProtocols", "ciphersuites", "clientAuth", "hostnameVerification",
	"handshakeDetectionTimeoutMillis", "crl", "ocsp", "context.supplier.class",
}

func init() {
	add := func(prefix string, field func(*Config) *TLSSettings) {
		str := func(f func(*TLSSettings) *string) option {
			return option{true, func(c *Config, _, val string) error {
				*f(field(c)) = val
				return nil
			}}
		}
		list := func(f func(*TLSSettings) *[]string) option {
			return option{true, func(c *Config, _, val string) error {
				// Java's String.split(","): parts kept as written, trailing
				// empty parts dropped
				parts := strings.Split(val, ",")
				for len(parts) > 0 && parts[len(parts)-1] == "" {
					parts = parts[:len(parts)-1]
				}
				*f(field(c)) = parts
				return nil
			}}
		}
		storeType := func(f func(*TLSSettings) *string) option {
			return option{true, func(c *Config, key, val string) error {
				switch t := strings.ToUpper(val); t {
				case "", "JKS", "PEM", "PKCS12":
					*f(field(c)) = t
					return nil
				case "BCFKS":
					return fmt.Errorf("config: %s: the BCFKS store type is not supported (use PEM, PKCS12 or JKS)", key)
				}
				return fmt.Errorf("config: %s: %q is not a store type (JKS, PEM or PKCS12)", key, val)
			}}
		}
		options[prefix+"keyStore.location"] = str(func(t *TLSSettings) *string { return &t.KeyStoreLocation })
		options[prefix+"keyStore.password"] = str(func(t *TLSSettings) *string { return &t.KeyStorePassword })
		options[prefix+"keyStore.passwordPath"] = str(func(t *TLSSettings) *string { return &t.KeyStorePasswordPath })
		options[prefix+"keyStore.type"] = storeType(func(t *TLSSettings) *string { return &t.KeyStoreType })
		options[prefix+"trustStore.location"] = str(func(t *TLSSettings) *string { return &t.TrustStoreLocation })
		options[prefix+"trustStore.password"] = str(func(t *TLSSettings) *string { return &t.TrustStorePassword })
		options[prefix+"trustStore.passwordPath"] = str(func(t *TLSSettings) *string { return &t.TrustStorePasswordPath })
		options[prefix+"trustStore.type"] = storeType(func(t *TLSSettings) *string { return &t.TrustStoreType })
		options[prefix+"protocol"] = str(func(t *TLSSettings) *string { return &t.Protocol })
		options[prefix+"enabledProtocols"] = list(func(t *TLSSettings) *[]string { return &t.EnabledProtocols })
		options[prefix+"ciphersuites"] = list(func(t *TLSSettings) *[]string { return &t.CipherSuites })
		options[prefix+"clientAuth"] = option{true, func(c *Config, key, val string) error {
			switch v := strings.ToLower(val); v {
			case "", "none", "want", "need":
				field(c).ClientAuth = v
				return nil
			}
			return fmt.Errorf("config: %s: %q is not one of none, want, need", key, val)
		}}
		options[prefix+"hostnameVerification"] = option{true, func(c *Config, key, val string) error {
			b, err := parseBool(key, val, false)
			field(c).NoHostnameVerification = !b
			return err
		}}
		options[prefix+"handshakeDetectionTimeoutMillis"] = option{true, func(c *Config, key, val string) error {
			n, err := parseInt(key, val, 32)
			if err != nil {
				return err
			}
			if n < 1 {
				c.warnf("%s: %d is not positive; using 5000", key, n)
				n = 5000
			}
			field(c).HandshakeDetectionTimeoutMs = int(n)
			return nil
		}}
		options[prefix+"crl"] = option{true, refuseTrue("certificate revocation lists")}
		options[prefix+"ocsp"] = option{true, refuseTrue("OCSP")}
		options[prefix+"context.supplier.class"] = option{true, func(_ *Config, key, _ string) error {
			return fmt.Errorf("config: %s: an SSLContext supplier class (Java) is not supported; use the key and trust store keys", key)
		}}
	}
	add("ssl.", func(c *Config) *TLSSettings { return &c.ClientTLS })
	add("ssl.quorum.", func(c *Config) *TLSSettings { return &c.QuorumTLS })

	options["secureClientPort"] = intOpt(false, func(c *Config) *int { return &c.SecureClientPort })
	options["secureClientPortAddress"] = strOpt(false, func(c *Config) *string { return &c.SecureClientPortAddress })
	options["client.portUnification"] = boolOpt(true, false, func(c *Config) *bool { return &c.ClientPortUnification })
	options["client.certReload"] = boolOpt(true, false, func(c *Config) *bool { return &c.ClientCertReload })
	options["sslQuorum"] = boolOpt(false, false, func(c *Config) *bool { return &c.SSLQuorum })
	options["portUnification"] = boolOpt(false, false, func(c *Config) *bool { return &c.QuorumPortUnification })
	options["sslQuorumReloadCertFiles"] = boolOpt(false, false, func(c *Config) *bool { return &c.SSLQuorumReloadCertFiles })
	options["X509AuthenticationProvider.superUser"] = strOpt(true, func(c *Config) *string { return &c.X509SuperUser })
	options["ssl.authProvider"] = option{true, func(_ *Config, key, val string) error {
		if val != "x509" {
			return fmt.Errorf("config: %s: only the built-in x509 provider is supported, not %q", key, val)
		}
		return nil
	}}
	// Netty is what ZooKeeper needs for TLS; zkserver has one connection
	// layer, so the choice of factory (or client socket) is accepted and
	// has no effect.
	options["serverCnxnFactory"] = strOpt(true, func(c *Config) *string { return new(string) })
	options["clientCnxnSocket"] = strOpt(true, func(c *Config) *string { return new(string) })
}

// resolveTLS checks the TLS keys once the file is read (Resolve calls it
// through resolveEnsemble).
func (c *Config) resolveTLS() error {
	if c.SecureClientPort < 0 || c.SecureClientPort > 65535 {
		return fmt.Errorf("config: secureClientPort (%d) must be between 0 and 65535", c.SecureClientPort)
	}
	if c.SecureClientPort == 0 && c.SecureClientPortAddress != "" {
		// QuorumPeerConfig's message
		return fmt.Errorf("config: secureClientPortAddress is set but secureClientPort is not set")
	}
	if a := c.SecureClientPortAddress; a != "" && net.ParseIP(a) == nil && !validHost(a) {
		return fmt.Errorf("config: secureClientPortAddress: %q is not a host", a)
	}
	return nil
}
