// Package certgen makes certificates and key/trust store files for tests:
// a CA, certificates it signs, and the stores in the formats tlsconf reads
// (PEM, PKCS12, JKS).
package certgen

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Chain is the certificate followed by its issuers below the root.
	Chain []*x509.Certificate
}

// Spec describes a certificate to make.
type Spec struct {
	Subject    pkix.Name
	RawSubject []byte // DER subject used as is, if set
	IPs        []net.IP
	DNS        []string
	NotBefore  time.Time // zero: an hour ago
	NotAfter   time.Time // zero: a day from now
	CA         bool
}

var serial int64 = time.Now().UnixNano()

// New makes a certificate signed by issuer (self-signed when nil). Leaf
// certificates carry both the server and client auth usages (quorum
// members use one certificate both ways).
func New(spec Spec, issuer *Cert) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = time.Now().Add(-time.Hour)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = time.Now().Add(24 * time.Hour)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      spec.Subject,
		RawSubject:   spec.RawSubject,
		NotBefore:    spec.NotBefore,
		NotAfter:     spec.NotAfter,
		IPAddresses:  spec.IPs,
		DNSNames:     spec.DNS,
	}
	if spec.CA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &Cert{Cert: cert, Key: key, Chain: []*x509.Certificate{cert}}
	if issuer != nil && !isSelfSigned(issuer.Cert) {
		c.Chain = append(c.Chain, issuer.Chain...)
	}
	return c, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject)
}

// Localhost is a leaf for 127.0.0.1 and localhost named cn.
func Localhost(cn string, ca *Cert) (*Cert, error) {
	return New(Spec{Subject: pkix.Name{CommonName: cn, Organization: []string{"zkserver tests"}},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNS: []string{"localhost"}}, ca)
}

// CertPEM is the chain in PEM.
func (c *Cert) CertPEM() []byte {
	var b bytes.Buffer
	for _, x := range c.Chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	return b.Bytes()
}

// KeyPEM is the private key in unencrypted PKCS#8 PEM.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PEMKeyStore is a PEM key store: the key, then the chain.
func (c *Cert) PEMKeyStore() []byte { return append(c.KeyPEM(), c.CertPEM()...) }

// PKCS12 is a PKCS#12 key store (key and chain) under password.
func (c *Cert) PKCS12(password string) ([]byte, error) {
	return pkcs12.Modern.Encode(c.Key, c.Cert, c.Chain[1:], password)
}

// JKS is a Java key store holding the key and chain under alias "key",
// with password for both the store and the key.
func (c *Cert) JKS(password string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	ks := keystore.New()
	var chain []keystore.Certificate
	for _, x := range c.Chain {
		chain = append(chain, keystore.Certificate{Type: "X509", Content: x.Raw})
	}
	if err := ks.SetPrivateKeyEntry("key", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der, CertificateChain: chain}, []byte(password)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TrustPEM is a PEM trust store of the certificates.
func TrustPEM(certs ...*Cert) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
	}
	return b.Bytes()
}

// TrustPKCS12 is a Java-style PKCS#12 trust store of the certificates.
func TrustPKCS12(password string, certs ...*Cert) ([]byte, error) {
	var xs []*x509.Certificate
	for _, c := range certs {
		xs = append(xs, c.Cert)
	}
	return pkcs12.Modern.EncodeTrustStore(xs, password)
}

// TrustJKS is a JKS trust store of the certificates.
func TrustJKS(password string, certs ...*Cert) ([]byte, error) {
	ks := keystore.New()
	for i, c := range certs {
		e := keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: c.Cert.Raw}}
		if err := ks.SetTrustedCertificateEntry(string(rune('a'+i)), e); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes data to path atomically (a temporary file renamed over
// it), as a certificate rotation would.
func WriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
