package tlsconf

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

// JavaName returns a distinguished name (DER, as in a certificate's
// RawSubject) the way Java's X500Principal.getName() prints it (RFC 2253
// style): the RDNs last to first, separated by ",", the attributes of a
// multi-valued RDN joined by "+", the keywords CN, C, L, ST, O, OU,
// STREET, DC and UID, other attribute types as their dotted OID with the
// value as "#" and the hex of its DER encoding, and values escaped with
// a backslash before , = + < > # ; " \ and before leading or trailing
// spaces. ZooKeeper's x509 scheme uses this string as the client's id.
func JavaName(der []byte) (string, error) {
	var seq []asn1.RawValue // the RDN sets
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil || len(rest) > 0 {
		return "", errors.New("malformed distinguished name")
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		set := seq[i]
		if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet || !set.IsCompound {
			return "", errors.New("malformed distinguished name: an RDN is not a SET")
		}
		if i != len(seq)-1 {
			b.WriteByte(',')
		}
		first := true
		for inner := set.Bytes; len(inner) > 0; {
			var atv struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}
			inner, err = asn1.Unmarshal(inner, &atv)
			if err != nil {
				return "", errors.New("malformed distinguished name: bad attribute")
			}
			if !first {
				b.WriteByte('+')
			}
			first = false
			writeAVA(&b, atv.Type, atv.Value)
		}
		if first {
			return "", errors.New("malformed distinguished name: empty RDN")
		}
	}
	return b.String(), nil
}

var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

func writeAVA(b *strings.Builder, oid asn1.ObjectIdentifier, v asn1.RawValue) {
	kw, known := rfc2253Keywords[oid.String()]
	if !known {
		kw = oid.String()
	}
	b.WriteString(kw)
	b.WriteByte('=')
	s, isString := decodeDirectoryString(v)
	if !known || !isString {
		b.WriteByte('#')
		b.WriteString(hex.EncodeToString(v.FullBytes))
		return
	}
	var esc []rune
	for _, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			esc = append(esc, '\\', r)
		case r == 0:
			esc = append(esc, '\\', '0', '0')
		default:
			esc = append(esc, r)
		}
	}
	// leading and trailing spaces (and carriage returns) are escaped
	lead, trail := 0, len(esc)-1
	for lead < len(esc) && (esc[lead] == ' ' || esc[lead] == '\r') {
		lead++
	}
	for trail >= 0 && (esc[trail] == ' ' || esc[trail] == '\r') {
		trail--
	}
	for i, r := range esc {
		if i < lead || i > trail {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// decodeDirectoryString returns the value of the string types Java prints
// as text (PrintableString, T61String, IA5String, GeneralString,
// BMPString, UTF8String); false for any other type. Like Java's RFC 2253
// printer it takes the value's bytes as UTF-8 whatever the type (so a
// BMPString shows its zero bytes), an invalid byte as U+FFFD.
func decodeDirectoryString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String, 27 /* GeneralString */, asn1.TagBMPString, asn1.TagUTF8String:
	default:
		return "", false
	}
	var b strings.Builder
	for p := v.Bytes; len(p) > 0; {
		r, n := utf8.DecodeRune(p)
		b.WriteRune(r)
		p = p[n:]
	}
	return b.String(), true
}

// ValidName reports whether s parses as a distinguished name in the
// string forms Java's X500Principal accepts (RFC 2253 and RFC 1779):
// attributes "type=value" separated by "," or ";" (or "+" inside an RDN),
// types as keywords or dotted OIDs, values plain with backslash escapes,
// quoted, or "#" and hex. The empty string is the empty name.
func ValidName(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	i := 0
	for {
		// type
		for i < len(s) && s[i] == ' ' {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' {
			i++
		}
		if i >= len(s) || !validAttrType(strings.TrimSpace(s[start:i])) {
			return false
		}
		i++ // '='
		for i < len(s) && s[i] == ' ' {
			i++
		}
		// value
		switch {
		case i < len(s) && s[i] == '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return false
			}
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
		case i < len(s) && s[i] == '#':
			i++
			h := i
			for i < len(s) && isHex(s[i]) {
				i++
			}
			if (i-h)%2 != 0 || i == h {
				return false
			}
			raw, _ := hex.DecodeString(s[h:i])
			var rv asn1.RawValue
			if rest, err := asn1.Unmarshal(raw, &rv); err != nil || len(rest) > 0 {
				return false
			}
			for i < len(s) && s[i] == ' ' {
				i++
			}
		default:
			for i < len(s) && !strings.ContainsRune(",;+", rune(s[i])) {
				if s[i] == '\\' {
					i++
					if i >= len(s) {
						return false
					}
					if isHex(s[i]) && i+1 < len(s) && isHex(s[i+1]) {
						i++
					} else if !strings.ContainsRune(",=+<>#;\"\\ ", rune(s[i])) {
						return false
					}
				} else if strings.ContainsRune("\"<>", rune(s[i])) {
					return false
				}
				i++
			}
		}
		if i >= len(s) {
			return true
		}
		if !strings.ContainsRune(",;+", rune(s[i])) {
			return false
		}
		i++
		if i >= len(s) {
			return false
		}
	}
}

var nameKeywords = map[string]bool{
	"CN": true, "C": true, "L": true, "S": true, "ST": true, "O": true, "OU": true, "T": true,
	"IP": true, "STREET": true, "DC": true, "DNQUALIFIER": true, "DNQ": true, "SURNAME": true,
	"GIVENNAME": true, "INITIALS": true, "GENERATION": true, "EMAIL": true, "EMAILADDRESS": true,
	"UID": true, "SERIALNUMBER": true,
}

func validAttrType(t string) bool {
	if nameKeywords[strings.ToUpper(t)] {
		return true
	}
	if len(t) > 4 && strings.EqualFold(t[:4], "OID.") {
		t = t[4:]
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
