package tlsconf

import (
	"bufio"
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/internal/testkit"
)

// javaNames runs a small Java program: for each input line "der HEX" it
// prints X500Principal(der).getName(), for "str TEXT" whether
// new X500Principal(TEXT) accepts it.
func javaNames(t *testing.T, lines []string) []string {
	t.Helper()
	dir := t.TempDir()
	src := `import javax.security.auth.x500.X500Principal;
import java.io.*;
public class Names {
  public static void main(String[] a) throws Exception {
    BufferedReader r = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    for (String l; (l = r.readLine()) != null; ) {
      if (l.startsWith("der ")) {
        String h = l.substring(4);
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        try { out.println(new X500Principal(b).getName()); } catch (Exception e) { out.println("ERROR"); }
      } else {
        try { new X500Principal(l.substring(4)); out.println("valid"); } catch (Exception e) { out.println("invalid"); }
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "Names.java"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-d", dir, filepath.Join(dir, "Names.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	cmd := exec.Command("java", "-cp", dir, "Names")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	var res []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		res = append(res, sc.Text())
	}
	if len(res) != len(lines) {
		t.Fatalf("java printed %d lines for %d inputs", len(res), len(lines))
	}
	return res
}

type attr struct {
	oid asn1.ObjectIdentifier
	tag int
	val string
}

func dn(t *testing.T, rdns ...[]attr) []byte {
	t.Helper()
	var seq []asn1.RawValue
	for _, rdn := range rdns {
		var set []byte
		for _, a := range rdn {
			v := []byte(a.val)
			if a.tag == asn1.TagBMPString {
				v = nil
				for _, r := range a.val {
					v = append(v, byte(r>>8), byte(r))
				}
			}
			val, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: v})
			if err != nil {
				t.Fatal(err)
			}
			b, err := asn1.Marshal(struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}{a.oid, asn1.RawValue{FullBytes: val}})
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, b...)
		}
		seq = append(seq, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: set})
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidST     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidL      = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidStreet = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC     = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidUID    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidTitle  = asn1.ObjectIdentifier{2, 5, 4, 12}
)

const (
	utf8Tag  = asn1.TagUTF8String
	printTag = asn1.TagPrintableString
	ia5Tag   = asn1.TagIA5String
)

func nameCases(t *testing.T) [][]byte {
	return [][]byte{
		dn(t, []attr{{oidC, printTag, "US"}}, []attr{{oidO, utf8Tag, "zk"}}, []attr{{oidCN, utf8Tag, "client"}}),
		dn(t, []attr{{oidCN, utf8Tag, "a,b+c=d<e>f#g;h\"i\\j"}}),
		dn(t, []attr{{oidCN, utf8Tag, " lead and trail "}}),
		dn(t, []attr{{oidCN, utf8Tag, "#hash"}}),
		dn(t, []attr{{oidCN, utf8Tag, "héllo wörld ✓"}}),
		dn(t, []attr{{oidCN, asn1.TagBMPString, "bmp ✓"}}),
		dn(t, []attr{{oidCN, asn1.TagT61String, "teletex"}}),
		dn(t, []attr{{oidCN, ia5Tag, "ia5"}}),
		dn(t, []attr{{oidCN, asn1.TagInteger, "\x05"}}),
		dn(t, []attr{{oidOU, utf8Tag, "ops"}, {oidCN, utf8Tag, "multi"}}),
		dn(t, []attr{{oidDC, ia5Tag, "org"}}, []attr{{oidDC, ia5Tag, "example"}}, []attr{{oidUID, utf8Tag, "jdoe"}}),
		dn(t, []attr{{oidEmail, ia5Tag, "a@b.c"}}, []attr{{oidSerial, printTag, "1234"}}, []attr{{oidTitle, utf8Tag, "boss"}}),
		dn(t, []attr{{oidST, utf8Tag, "Bavaria"}}, []attr{{oidL, utf8Tag, "Munich"}}, []attr{{oidStreet, utf8Tag, "Main St 1"}}),
		dn(t, []attr{{oidCN, utf8Tag, ""}}),
		dn(t, []attr{{oidCN, utf8Tag, "nul\x00byte"}}),
		dn(t),
	}
}

// TestJavaNameAgainstJava compares JavaName with Java's
// X500Principal.getName() for awkward names.
func TestJavaNameAgainstJava(t *testing.T) {
	testkit.RequireJava(t, true)
	cases := nameCases(t)
	var lines []string
	for _, c := range cases {
		lines = append(lines, "der "+hex.EncodeToString(c))
	}
	strs := []string{"CN=a", "CN=a,O=b", "cn=x;o=y", "CN=a+OU=b", "CN=\"quoted, yes\"", "CN=#0403616263",
		"2.5.4.3=z", "OID.2.5.4.3=z", "CN=a\\,b", "CN=a\\2cb", "", "CN", "=x", "CN=a,", "FOO=bar",
		"CN=a=b", "CN=<x>", "CN=#zz", "CN=a, O=b", "EMAILADDRESS=a@b", "CN=\"open"}
	for _, s := range strs {
		lines = append(lines, "str "+s)
	}
	want := javaNames(t, lines)
	for i, c := range cases {
		got, err := JavaName(c)
		if err != nil {
			got = "ERROR"
		}
		if got != want[i] {
			t.Errorf("JavaName(%x) = %q, Java says %q", c, got, want[i])
		}
	}
	for i, s := range strs {
		w := want[len(cases)+i] == "valid"
		if got := ValidName(s); got != w {
			t.Errorf("ValidName(%q) = %v, Java says %v", s, got, w)
		}
	}
}

// TestJavaName checks a few names without Java.
func TestJavaName(t *testing.T) {
	c := nameCases(t)
	for i, want := range map[int]string{
		0: "CN=client,O=zk,C=US",
		1: `CN=a\,b\+c\=d\<e\>f\#g\;h\"i\\j`,
		2: `CN=\ lead and trail\ `,
		9: "OU=ops+CN=multi",
	} {
		if got, err := JavaName(c[i]); err != nil || got != want {
			t.Errorf("JavaName(case %d) = %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := JavaName([]byte{0x30, 0x03, 0x02, 0x01, 0x01}); err == nil {
		t.Error("an RDN that is not a SET gave no error")
	}
}

// TestKeytoolStores reads key and trust stores that Java's keytool
// wrote (JKS and PKCS12, RSA and EC keys): what operators bring.
func TestKeytoolStores(t *testing.T) {
	testkit.RequireJava(t, true)
	if _, err := exec.LookPath("keytool"); err != nil {
		if os.Getenv("ZKSERVER_REQUIRE_ZK") != "" {
			t.Fatal("ZKSERVER_REQUIRE_ZK is set but keytool is missing")
		}
		t.Skip("keytool missing")
	}
	dir := t.TempDir()
	keytool := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("keytool", args...).CombinedOutput(); err != nil {
			t.Fatalf("keytool %v: %v\n%s", args, err, out)
		}
	}
	for _, tt := range []struct{ storetype, alg, ext, typ string }{
		{"JKS", "RSA", ".jks", TypeJKS},
		{"PKCS12", "EC", ".p12", TypePKCS12},
	} {
		t.Run(tt.storetype+"-"+tt.alg, func(t *testing.T) {
			ks := filepath.Join(dir, "key-"+tt.storetype+tt.alg+tt.ext)
			ts := filepath.Join(dir, "trust-"+tt.storetype+tt.alg+tt.ext)
			crt := filepath.Join(dir, tt.storetype+tt.alg+".crt")
			keytool("-genkeypair", "-alias", "server", "-keyalg", tt.alg, "-dname", "CN=keytool "+tt.alg+", O=zkserver tests",
				"-ext", "SAN=IP:127.0.0.1", "-validity", "2", "-storetype", tt.storetype, "-keystore", ks,
				"-storepass", "storepw", "-keypass", "storepw")
			keytool("-exportcert", "-alias", "server", "-keystore", ks, "-storepass", "storepw", "-rfc", "-file", crt)
			keytool("-importcert", "-noprompt", "-alias", "ca", "-file", crt, "-storetype", tt.storetype,
				"-keystore", ts, "-storepass", "trustpw")
			typ, err := StoreType("", ks)
			if err != nil || typ != tt.typ {
				t.Fatalf("StoreType = %q, %v", typ, err)
			}
			data, _ := os.ReadFile(ks)
			cert, err := ParseKeyStore(data, typ, "storepw")
			if err != nil {
				t.Fatal(err)
			}
			if got := subject(cert.Leaf); got != "CN=keytool "+tt.alg+",O=zkserver tests" {
				t.Errorf("key store leaf %q", got)
			}
			tdata, _ := os.ReadFile(ts)
			certs, err := ParseTrustStore(tdata, typ, "trustpw")
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 1 || !certs[0].Equal(cert.Leaf) {
				t.Errorf("trust store holds %d certificates, want the key store's", len(certs))
			}
			if _, err := ParseKeyStore(data, typ, "wrong"); err == nil {
				t.Error("a wrong password gave no error")
			}
		})
	}
}
