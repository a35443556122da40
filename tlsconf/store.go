package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Store types, as ZooKeeper's KeyStoreFileType names them.
const (
	TypeJKS    = "JKS"
	TypePEM    = "PEM"
	TypePKCS12 = "PKCS12"
)

// StoreType returns the store type to use: typ (upper-cased) if set, else
// the one the file name's extension names (.jks, .pem, .p12, exactly as
// ZooKeeper matches them).
func StoreType(typ, location string) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(typ)); t {
	case TypeJKS, TypePEM, TypePKCS12:
		return t, nil
	case "":
	case "BCFKS":
		return "", fmt.Errorf("the BCFKS store type is not supported (use PEM, PKCS12 or JKS)")
	default:
		return "", fmt.Errorf("%q is not a store type (JKS, PEM or PKCS12)", typ)
	}
	switch filepath.Ext(location) {
	case ".jks":
		return TypeJKS, nil
	case ".pem":
		return TypePEM, nil
	case ".p12":
		return TypePKCS12, nil
	case ".bcfks":
		return "", fmt.Errorf("the BCFKS store type is not supported (use PEM, PKCS12 or JKS)")
	}
	return "", fmt.Errorf("unable to tell the store type from the file name %s: set the .type key (PEM, PKCS12 or JKS)", location)
}

// ReadPassword returns the password: the contents of the file at path if
// path is set (one trailing line separator removed, as ZooKeeper's
// SecretUtils does), else password.
func ReadPassword(password, path string) (string, error) {
	if path == "" {
		return password, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the password file: %w", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// ParseKeyStore decodes a key store: the private key and the certificate
// chain that goes with it (leaf first). A store with several keys uses the
// first (by alias order for JKS).
func ParseKeyStore(data []byte, typ, password string) (*tls.Certificate, error) {
	switch typ {
	case TypePEM:
		return parsePEMKeyStore(data, password)
	case TypePKCS12:
		key, leaf, cas, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			return nil, fmt.Errorf("PKCS12 key store: %w", err)
		}
		return makeCert(key, append([]*x509.Certificate{leaf}, cas...))
	case TypeJKS:
		if err := checkJKS(data); err != nil {
			return nil, err
		}
		ks := keystore.New(keystore.WithOrderedAliases())
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return nil, fmt.Errorf("JKS key store: %w", err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
			if err != nil {
				return nil, fmt.Errorf("JKS key store, entry %q: %w", alias, err)
			}
			key, err := parsePKCS8OrOther(e.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("JKS key store, entry %q: %w", alias, err)
			}
			var chain []*x509.Certificate
			for _, c := range e.CertificateChain {
				cert, err := x509.ParseCertificate(c.Content)
				if err != nil {
					return nil, fmt.Errorf("JKS key store, entry %q: %w", alias, err)
				}
				chain = append(chain, cert)
			}
			return makeCert(key, chain)
		}
		return nil, errors.New("JKS key store: no private key entry")
	}
	return nil, fmt.Errorf("unknown store type %q", typ)
}

// ParseTrustStore decodes a trust store: the certificates it trusts.
func ParseTrustStore(data []byte, typ, password string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	switch typ {
	case TypePEM:
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if !strings.Contains(b.Type, "CERTIFICATE") {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM trust store: %w", err)
			}
			certs = append(certs, c)
		}
	case TypePKCS12:
		cs, err := pkcs12.DecodeTrustStore(data, password)
		if err != nil {
			// a store that holds a key pair: trust its certificates
			_, leaf, cas, err2 := pkcs12.DecodeChain(data, password)
			if err2 != nil {
				return nil, fmt.Errorf("PKCS12 trust store: %w", err)
			}
			cs = append([]*x509.Certificate{leaf}, cas...)
		}
		certs = cs
	case TypeJKS:
		if err := checkJKS(data); err != nil {
			return nil, err
		}
		ks := keystore.New(keystore.WithOrderedAliases())
		// Java opens a trust store without its password too (the
		// password only checks integrity); the library needs one
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return nil, fmt.Errorf("JKS trust store: %w", err)
		}
		for _, alias := range ks.Aliases() {
			var raw [][]byte
			if ks.IsTrustedCertificateEntry(alias) {
				e, err := ks.GetTrustedCertificateEntry(alias)
				if err != nil {
					return nil, fmt.Errorf("JKS trust store, entry %q: %w", alias, err)
				}
				raw = append(raw, e.Certificate.Content)
			} else if ks.IsPrivateKeyEntry(alias) {
				chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
				if err != nil {
					return nil, fmt.Errorf("JKS trust store, entry %q: %w", alias, err)
				}
				for _, c := range chain {
					raw = append(raw, c.Content)
				}
			}
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return nil, fmt.Errorf("JKS trust store, entry %q: %w", alias, err)
				}
				certs = append(certs, c)
			}
		}
	default:
		return nil, fmt.Errorf("unknown store type %q", typ)
	}
	if len(certs) == 0 {
		return nil, errors.New("the trust store holds no certificate")
	}
	return certs, nil
}

// parsePEMKeyStore reads a PEM key store as ZooKeeper's PemReader does:
// one private key (PKCS#8, encrypted PKCS#8 with the password; PKCS#1 and
// SEC 1 keys are accepted too) and the certificates, leaf first.
func parsePEMKeyStore(data []byte, password string) (*tls.Certificate, error) {
	var key crypto.Signer
	var chain []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case strings.Contains(b.Type, "CERTIFICATE"):
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM key store: %w", err)
			}
			chain = append(chain, c)
		case b.Type == "ENCRYPTED PRIVATE KEY":
			if key != nil {
				continue
			}
			der, err := decryptPKCS8(b.Bytes, []byte(password))
			if err != nil {
				return nil, fmt.Errorf("PEM key store: %w", err)
			}
			if key, err = parsePKCS8OrOther(der); err != nil {
				return nil, fmt.Errorf("PEM key store: %w", err)
			}
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				continue
			}
			var err error
			if key, err = parsePKCS8OrOther(b.Bytes); err != nil {
				return nil, fmt.Errorf("PEM key store: %w", err)
			}
		}
	}
	if key == nil {
		return nil, errors.New("PEM key store: no private key")
	}
	return makeCert(key, chain)
}

func parsePKCS8OrOther(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("the private key is not PKCS#8, PKCS#1 or SEC 1")
}

func asSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", k)
}

// makeCert pairs the key with its chain; the certificate whose public key
// matches the key goes first.
func makeCert(key any, chain []*x509.Certificate) (*tls.Certificate, error) {
	signer, err := asSigner(key)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("the key store has a key but no certificate")
	}
	leaf := -1
	for i, c := range chain {
		if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(signer.Public()) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, errors.New("no certificate in the key store matches its private key")
	}
	chain[0], chain[leaf] = chain[leaf], chain[0]
	cert := &tls.Certificate{PrivateKey: signer, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// checkJKS walks a JKS file's structure, checking every length and count
// against the bytes left, before the library (which allocates what the
// file says) reads it.
func checkJKS(data []byte) error {
	bad := errors.New("JKS store: malformed or truncated")
	p := data
	take := func(n uint64) ([]byte, bool) {
		if n > uint64(len(p)) {
			return nil, false
		}
		b := p[:n]
		p = p[n:]
		return b, true
	}
	u32 := func() (uint32, bool) {
		b, ok := take(4)
		if !ok {
			return 0, false
		}
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
	}
	str := func() bool {
		b, ok := take(2)
		if !ok {
			return false
		}
		_, ok = take(uint64(b[0])<<8 | uint64(b[1]))
		return ok
	}
	magic, ok := u32()
	if !ok || magic != 0xfeedfeed {
		return errors.New("JKS store: not a JKS file")
	}
	version, ok := u32()
	if !ok || (version != 1 && version != 2) {
		return bad
	}
	cert := func() bool {
		if version == 2 && !str() {
			return false
		}
		n, ok := u32()
		if !ok {
			return false
		}
		_, ok = take(uint64(n))
		return ok
	}
	entries, ok := u32()
	if !ok {
		return bad
	}
	for i := uint32(0); i < entries; i++ {
		tag, ok := u32()
		if !ok || !str() {
			return bad
		}
		if _, ok := take(8); !ok { // creation time
			return bad
		}
		switch tag {
		case 1: // private key
			n, ok := u32()
			if !ok {
				return bad
			}
			if _, ok := take(uint64(n)); !ok {
				return bad
			}
			certs, ok := u32()
			if !ok || uint64(certs)*4 > uint64(len(p)) {
				return bad
			}
			for j := uint32(0); j < certs; j++ {
				if !cert() {
					return bad
				}
			}
		case 2: // trusted certificate
			if !cert() {
				return bad
			}
		default:
			return bad
		}
	}
	if len(p) != 20 { // the SHA-1 digest
		return bad
	}
	return nil
}
