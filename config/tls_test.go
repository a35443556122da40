package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestTLSKeys(t *testing.T) {
	c, err := Parse(strings.NewReader(`dataDir=/tmp/x
secureClientPort=2281
secureClientPortAddress=127.0.0.1
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=/k.p12
ssl.keyStore.password=kp
ssl.keyStore.type=pkcs12
zookeeper.ssl.trustStore.location=/t.pem
ssl.trustStore.passwordPath=/tpw
ssl.clientAuth=WANT
ssl.protocol=TLSv1.3
ssl.enabledProtocols=TLSv1.2,TLSv1.3
ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256
ssl.hostnameVerification=false
ssl.handshakeDetectionTimeoutMillis=0
ssl.crl=false
ssl.authProvider=x509
client.portUnification=true
X509AuthenticationProvider.superUser=CN=admin
sslQuorum=true
portUnification=true
sslQuorumReloadCertFiles=true
ssl.quorum.keyStore.location=/q.jks
ssl.quorum.keyStore.passwordPath=/qpw
ssl.quorum.clientAuth=none
`))
	if err != nil {
		t.Fatal(err)
	}
	want := TLSSettings{KeyStoreLocation: "/k.p12", KeyStorePassword: "kp", KeyStoreType: "PKCS12",
		TrustStoreLocation: "/t.pem", TrustStorePasswordPath: "/tpw", ClientAuth: "want", Protocol: "TLSv1.3",
		EnabledProtocols:       []string{"TLSv1.2", "TLSv1.3"},
		CipherSuites:           []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
		NoHostnameVerification: true, HandshakeDetectionTimeoutMs: 5000}
	if !reflect.DeepEqual(c.ClientTLS, want) {
		t.Errorf("ClientTLS = %+v\nwant        %+v", c.ClientTLS, want)
	}
	wantQ := TLSSettings{KeyStoreLocation: "/q.jks", KeyStorePasswordPath: "/qpw", ClientAuth: "none"}
	if !reflect.DeepEqual(c.QuorumTLS, wantQ) {
		t.Errorf("QuorumTLS = %+v, want %+v", c.QuorumTLS, wantQ)
	}
	if c.SecureClientPort != 2281 || c.SecureClientPortAddress != "127.0.0.1" || !c.ClientPortUnification ||
		!c.SSLQuorum || !c.QuorumPortUnification || !c.SSLQuorumReloadCertFiles || c.X509SuperUser != "CN=admin" {
		t.Errorf("config = %+v", c)
	}
	if len(c.Unknown) != 0 {
		t.Errorf("unknown keys %v", c.Unknown)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "handshakeDetectionTimeoutMillis") {
		t.Errorf("warnings %q, want one about the timeout", c.Warnings)
	}
}

func TestTLSKeyErrors(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"ssl.clientAuth=maybe", `ssl.clientAuth: "maybe" is not one of none, want, need`},
		{"ssl.quorum.keyStore.type=BCFKS", "ssl.quorum.keyStore.type: the BCFKS store type is not supported"},
		{"ssl.trustStore.type=DER", `"DER" is not a store type`},
		{"ssl.crl=true", "ssl.crl: certificate revocation lists is not supported"},
		{"zookeeper.ssl.quorum.ocsp=true", "OCSP is not supported"},
		{"ssl.context.supplier.class=com.x.Y", "SSLContext supplier class"},
		{"ssl.authProvider=custom", `only the built-in x509 provider`},
		{"sslQuorum=yes", `sslQuorum: "yes" is not a boolean`},
		{"secureClientPort=70000", "secureClientPort (70000) must be between 0 and 65535"},
		{"secureClientPortAddress=127.0.0.1", "secureClientPortAddress is set but secureClientPort is not set"},
		{"ssl.handshakeDetectionTimeoutMillis=soon", `"soon" is not an integer`},
	} {
		_, err := Parse(strings.NewReader("dataDir=/tmp/x\n" + tt.body + "\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.body, err, tt.want)
		}
	}
}
