package sasl

import (
	"fmt"
	"strings"
)

// ValidID reports whether id is valid in a "sasl" ACL: ZooKeeper accepts
// what its KerberosName parses, which is any name without '@', or
// service[/host]@realm where no part holds '/' or '@'.
func ValidID(id string) bool {
	if !strings.Contains(id, "@") {
		return true
	}
	_, _, _, ok := splitPrincipal(id)
	return ok
}

// splitPrincipal matches ([^/@]*)(/([^/@]*))?@([^/@]*).
func splitPrincipal(s string) (service, host, realm string, ok bool) {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return "", "", "", false
	}
	left, realm := s[:at], s[at+1:]
	if strings.ContainsAny(realm, "/@") {
		return "", "", "", false
	}
	service = left
	if i := strings.IndexByte(left, '/'); i >= 0 {
		service, host = left[:i], left[i+1:]
		if strings.ContainsAny(host, "/") {
			return "", "", "", false
		}
	}
	return service, host, realm, true
}

// ZooKeeperAuthorize is ZooKeeper's SASL server callback for DIGEST-MD5:
// every authenticated user is authorized, and the session's id is the
// user name. A name with a realm ("user@REALM") goes through Kerberos
// short-name rules in ZooKeeper; without a Kerberos configuration none
// applies and ZooKeeper keeps the id the client asked for (authzid, or the
// user name), which is what this does. A malformed principal is refused.
func ZooKeeperAuthorize(user, authzid string) (string, error) {
	if !strings.Contains(user, "@") {
		return user, nil
	}
	if !ValidID(user) {
		return "", fmt.Errorf("DIGEST-MD5: malformed Kerberos name: %s", user)
	}
	if authzid != "" {
		return authzid, nil
	}
	return user, nil
}
