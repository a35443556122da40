package server

import (
	"crypto/sha1"
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/zkserver/zkserver/wire"
)

// DigestID returns ZooKeeper's digest id for "user:password":
// user:BASE64(SHA1("user:password")).
func DigestID(userPass string) string {
	user := userPass
	if i := strings.IndexByte(userPass, ':'); i >= 0 {
		user = userPass[:i]
	}
	sum := sha1.Sum([]byte(userPass))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// authProvider is one ACL scheme on the server side.
type authProvider interface {
	// authenticated reports whether ids of this scheme stand for a user
	// (the "auth" pseudo-scheme expands only to those).
	authenticated() bool
	valid(id string) bool
	matches(authID, aclID string) bool
	user(id string) string
}

type digestProvider struct{}

func (digestProvider) authenticated() bool { return true }
func (digestProvider) valid(id string) bool {
	// Java's id.split(":") drops trailing empty parts: "bob:" is one part
	// (invalid), "bob:x:" two (valid).
	parts := strings.Split(id, ":")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts) == 2
}
func (digestProvider) matches(a, acl string) bool { return a == acl }
func (digestProvider) user(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[:i]
	}
	return id
}

type ipProvider struct{}

func (ipProvider) authenticated() bool   { return false }
func (ipProvider) user(id string) string { return id }

func (ipProvider) valid(id string) bool {
	_, _, ok := parseIPACL(id)
	return ok
}

func parseIPACL(id string) (net.IP, int, bool) {
	addr, bits := id, 32
	if i := strings.IndexByte(id, '/'); i >= 0 {
		addr = id[:i]
		b, err := strconv.Atoi(id[i+1:])
		if err != nil || b < 0 || b > 32 {
			return nil, 0, false
		}
		bits = b
	}
	ip := net.ParseIP(addr).To4()
	if ip == nil || strings.Contains(addr, ":") {
		return nil, 0, false
	}
	return ip, bits, true
}

func (ipProvider) matches(a, acl string) bool {
	want, bits, ok := parseIPACL(acl)
	if !ok {
		return false
	}
	got := net.ParseIP(a).To4()
	if got == nil {
		return false
	}
	mask := net.CIDRMask(bits, 32)
	return got.Mask(mask).Equal(want.Mask(mask))
}

var providers = map[string]authProvider{"digest": digestProvider{}, "ip": ipProvider{}}

// checkACL is ZooKeeper's checkACL: perm is allowed when ACLs are skipped,
// the list is empty, the caller is super, or an entry with that bit matches
// world:anyone or one of the caller's ids.
func (s *Server) checkACL(ids []wire.Id, acl []wire.ACL, perm int32) wire.Err {
	if s.cfg.SkipACL || len(acl) == 0 {
		return wire.ErrOK
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return wire.ErrOK
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == "world" && a.ID == "anyone" {
			return wire.ErrOK
		}
		p := s.provider(a.Scheme)
		if p == nil {
			continue
		}
		for _, id := range ids {
			if id.Scheme == a.Scheme && p.matches(id.ID, a.ID) {
				return wire.ErrOK
			}
		}
	}
	return wire.ErrNoAuth
}

// fixupACL validates a requested ACL list and expands the "auth" scheme to
// the caller's authenticated ids, dropping duplicates.
func fixupACL(ids []wire.Id, acl []wire.ACL) ([]wire.ACL, wire.Err) {
	return fixupACLWith(func(scheme string) authProvider { return providers[scheme] }, ids, acl)
}

// fixupACLWith is fixupACL with the providers of lookup.
func fixupACLWith(lookup func(scheme string) authProvider, ids []wire.Id, acl []wire.ACL) ([]wire.ACL, wire.Err) {
	if len(acl) == 0 {
		return nil, wire.ErrInvalidACL
	}
	out := make([]wire.ACL, 0, len(acl))
	add := func(a wire.ACL) {
		for _, o := range out {
			if o == a {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range acl {
		switch {
		case a.Scheme == "world" && a.ID == "anyone":
			add(a)
		case a.Scheme == "auth":
			found := false
			for _, id := range ids {
				if p := lookup(id.Scheme); p != nil && p.authenticated() {
					add(wire.ACL{Perms: a.Perms, Id: id})
					found = true
				}
			}
			if !found {
				return nil, wire.ErrInvalidACL
			}
		default:
			p := lookup(a.Scheme)
			if p == nil || !p.valid(a.ID) {
				return nil, wire.ErrInvalidACL
			}
			add(a)
		}
	}
	return out, wire.ErrOK
}
