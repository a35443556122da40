package server

import (
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/wire"
)

func TestDigestID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"bob:secret", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="},
		// SHA-1("user:") and the whole string is hashed, colons included
		{"bob:", "bob:tK1fpNO1hB0F++FhHpSq0Fa4tv0="},
	} {
		if got := DigestID(c.in); got != c.want {
			t.Errorf("DigestID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// the user is the text before the first colon; the rest belongs to
	// the password
	if got := DigestID("u:p:q"); got[:2] != "u:" || got == DigestID("u:p") {
		t.Errorf("DigestID(u:p:q) = %q", got)
	}
	if got := DigestID("nocolon"); got[:8] != "nocolon:" {
		t.Errorf("DigestID(nocolon) = %q", got)
	}
}

func acl(perms int32, scheme, id string) wire.ACL {
	return wire.ACL{Perms: perms, Id: wire.Id{Scheme: scheme, ID: id}}
}

func TestCheckACL(t *testing.T) {
	s := &Server{cfg: &config.Config{}}
	bob := wire.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}
	ip := wire.Id{Scheme: "ip", ID: "192.168.1.20"}
	anyone := acl(wire.PermRead, "world", "anyone")
	cases := []struct {
		name string
		ids  []wire.Id
		acl  []wire.ACL
		perm int32
		want wire.Err
	}{
		{"empty ACL allows", []wire.Id{ip}, nil, wire.PermAdmin, wire.ErrOK},
		{"empty non-nil ACL allows", nil, []wire.ACL{}, wire.PermAdmin, wire.ErrOK},
		{"world read", []wire.Id{ip}, []wire.ACL{anyone}, wire.PermRead, wire.ErrOK},
		{"world read, write asked", []wire.Id{ip}, []wire.ACL{anyone}, wire.PermWrite, wire.ErrNoAuth},
		{"world other id is not anyone", []wire.Id{ip}, []wire.ACL{acl(wire.PermAll, "world", "someone")}, wire.PermRead, wire.ErrNoAuth},
		{"world all perms", nil, []wire.ACL{acl(wire.PermAll, "world", "anyone")}, wire.PermDelete, wire.ErrOK},
		{"digest match", []wire.Id{bob, ip}, []wire.ACL{acl(wire.PermWrite, "digest", bob.ID)}, wire.PermWrite, wire.ErrOK},
		{"digest match, perm missing", []wire.Id{bob, ip}, []wire.ACL{acl(wire.PermRead|wire.PermCreate, "digest", bob.ID)}, wire.PermWrite, wire.ErrNoAuth},
		{"digest other user", []wire.Id{{Scheme: "digest", ID: "alice:x"}}, []wire.ACL{acl(wire.PermAll, "digest", bob.ID)}, wire.PermRead, wire.ErrNoAuth},
		{"digest id compared exactly", []wire.Id{{Scheme: "digest", ID: "bob:x"}}, []wire.ACL{acl(wire.PermAll, "digest", bob.ID)}, wire.PermRead, wire.ErrNoAuth},
		{"scheme must match", []wire.Id{{Scheme: "ip", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}}, []wire.ACL{acl(wire.PermAll, "digest", bob.ID)}, wire.PermRead, wire.ErrNoAuth},
		{"ip exact", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.20")}, wire.PermRead, wire.ErrOK},
		{"ip exact other", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.21")}, wire.PermRead, wire.ErrNoAuth},
		{"ip /24", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.0/24")}, wire.PermRead, wire.ErrOK},
		{"ip /24 host bits ignored", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.99/24")}, wire.PermRead, wire.ErrOK},
		{"ip /16", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.0.0/16")}, wire.PermRead, wire.ErrOK},
		{"ip /30 outside", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.16/30")}, wire.PermRead, wire.ErrNoAuth},
		{"ip /28 inside", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.16/28")}, wire.PermRead, wire.ErrOK},
		{"ip /8 other net", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "10.0.0.0/8")}, wire.PermRead, wire.ErrNoAuth},
		{"ip /0 matches all", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "1.2.3.4/0")}, wire.PermRead, wire.ErrOK},
		{"ip /32", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.20/32")}, wire.PermRead, wire.ErrOK},
		{"ip /33 matches nothing", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "192.168.1.20/33")}, wire.PermRead, wire.ErrNoAuth},
		{"ip garbage ACL", []wire.Id{ip}, []wire.ACL{acl(wire.PermRead, "ip", "not-an-ip")}, wire.PermRead, wire.ErrNoAuth},
		{"ipv6 client never matches", []wire.Id{{Scheme: "ip", ID: "::1"}}, []wire.ACL{acl(wire.PermRead, "ip", "0.0.0.0/0")}, wire.PermRead, wire.ErrNoAuth},
		{"unknown scheme in ACL", []wire.Id{{Scheme: "sasl", ID: "bob"}}, []wire.ACL{acl(wire.PermAll, "sasl", "bob")}, wire.PermRead, wire.ErrNoAuth},
		{"no ids at all", nil, []wire.ACL{acl(wire.PermAll, "digest", bob.ID)}, wire.PermRead, wire.ErrNoAuth},
		{"super bypasses", []wire.Id{{Scheme: "super"}, ip}, []wire.ACL{acl(wire.PermRead, "digest", bob.ID)}, wire.PermAdmin, wire.ErrOK},
		{"second entry matches", []wire.Id{ip}, []wire.ACL{acl(wire.PermAll, "digest", bob.ID), acl(wire.PermCreate, "ip", "192.168.0.0/16")}, wire.PermCreate, wire.ErrOK},
		{"matching id, wrong entry perms", []wire.Id{bob}, []wire.ACL{acl(wire.PermRead, "digest", bob.ID), acl(wire.PermAdmin, "world", "anyone")}, wire.PermDelete, wire.ErrNoAuth},
	}
	for _, c := range cases {
		if got := s.checkACL(c.ids, c.acl, c.perm); got != c.want {
			t.Errorf("%s: checkACL = %v, want %v", c.name, got, c.want)
		}
	}
	for _, p := range []int32{wire.PermRead, wire.PermWrite, wire.PermCreate, wire.PermDelete, wire.PermAdmin} {
		only := []wire.ACL{acl(p, "world", "anyone")}
		for _, q := range []int32{wire.PermRead, wire.PermWrite, wire.PermCreate, wire.PermDelete, wire.PermAdmin} {
			want := wire.ErrNoAuth
			if p == q {
				want = wire.ErrOK
			}
			if got := s.checkACL(nil, only, q); got != want {
				t.Errorf("perms %d, asked %d: %v", p, q, got)
			}
		}
	}
	skip := &Server{cfg: &config.Config{SkipACL: true}}
	if got := skip.checkACL(nil, []wire.ACL{acl(wire.PermRead, "digest", bob.ID)}, wire.PermAdmin); got != wire.ErrOK {
		t.Errorf("skipACL: %v", got)
	}
}

func TestFixupACL(t *testing.T) {
	bob := wire.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}
	alice := wire.Id{Scheme: "digest", ID: "alice:abc="}
	ip := wire.Id{Scheme: "ip", ID: "127.0.0.1"}
	anyoneAll := acl(wire.PermAll, "world", "anyone")

	ok := []struct {
		name string
		ids  []wire.Id
		in   []wire.ACL
		want []wire.ACL
	}{
		{"world anyone kept", []wire.Id{ip}, []wire.ACL{anyoneAll}, []wire.ACL{anyoneAll}},
		{"auth expands to digest only", []wire.Id{bob, ip},
			[]wire.ACL{acl(wire.PermRead|wire.PermWrite, "auth", "")},
			[]wire.ACL{acl(wire.PermRead|wire.PermWrite, "digest", bob.ID)}},
		{"auth id text ignored, one per user", []wire.Id{bob, alice, ip},
			[]wire.ACL{acl(wire.PermAll, "auth", "whatever")},
			[]wire.ACL{acl(wire.PermAll, "digest", bob.ID), acl(wire.PermAll, "digest", alice.ID)}},
		{"duplicates removed", []wire.Id{ip},
			[]wire.ACL{anyoneAll, acl(wire.PermRead, "ip", "10.0.0.0/8"), anyoneAll, acl(wire.PermRead, "ip", "10.0.0.0/8")},
			[]wire.ACL{anyoneAll, acl(wire.PermRead, "ip", "10.0.0.0/8")}},
		{"same id, other perms kept", nil,
			[]wire.ACL{acl(wire.PermRead, "digest", bob.ID), acl(wire.PermWrite, "digest", bob.ID)},
			[]wire.ACL{acl(wire.PermRead, "digest", bob.ID), acl(wire.PermWrite, "digest", bob.ID)}},
		{"auth twice", []wire.Id{bob},
			[]wire.ACL{acl(wire.PermAll, "auth", ""), acl(wire.PermAll, "auth", "")},
			[]wire.ACL{acl(wire.PermAll, "digest", bob.ID)}},
		{"explicit digest, valid without auth", nil,
			[]wire.ACL{acl(wire.PermAll, "digest", "carol:anything")},
			[]wire.ACL{acl(wire.PermAll, "digest", "carol:anything")}},
		{"digest with empty user", nil,
			[]wire.ACL{acl(wire.PermAll, "digest", ":pw")},
			[]wire.ACL{acl(wire.PermAll, "digest", ":pw")}},
		{"digest trailing colon after password (Java split)", nil,
			[]wire.ACL{acl(wire.PermAll, "digest", "bob:x:")},
			[]wire.ACL{acl(wire.PermAll, "digest", "bob:x:")}},
		{"ip forms", nil,
			[]wire.ACL{acl(wire.PermRead, "ip", "1.2.3.4"), acl(wire.PermRead, "ip", "1.2.3.0/24"), acl(wire.PermRead, "ip", "0.0.0.0/0"), acl(wire.PermRead, "ip", "1.2.3.4/32")},
			[]wire.ACL{acl(wire.PermRead, "ip", "1.2.3.4"), acl(wire.PermRead, "ip", "1.2.3.0/24"), acl(wire.PermRead, "ip", "0.0.0.0/0"), acl(wire.PermRead, "ip", "1.2.3.4/32")}},
		{"order kept", []wire.Id{bob},
			[]wire.ACL{acl(wire.PermRead, "ip", "1.2.3.4"), acl(wire.PermAdmin, "auth", ""), anyoneAll},
			[]wire.ACL{acl(wire.PermRead, "ip", "1.2.3.4"), acl(wire.PermAdmin, "digest", bob.ID), anyoneAll}},
	}
	for _, c := range ok {
		in := append([]wire.ACL(nil), c.in...)
		got, err := fixupACL(c.ids, c.in)
		if err != wire.ErrOK || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: fixupACL = %v, %v\nwant %v", c.name, got, err, c.want)
		}
		if !reflect.DeepEqual(in, c.in) {
			t.Errorf("%s: input modified", c.name)
		}
	}

	bad := []struct {
		name string
		ids  []wire.Id
		in   []wire.ACL
	}{
		{"nil list", []wire.Id{bob}, nil},
		{"empty list", []wire.Id{bob}, []wire.ACL{}},
		{"auth without any id", nil, []wire.ACL{acl(wire.PermAll, "auth", "")}},
		{"auth with only an ip id", []wire.Id{ip}, []wire.ACL{acl(wire.PermAll, "auth", "")}},
		{"auth with only super", []wire.Id{{Scheme: "super"}, ip}, []wire.ACL{acl(wire.PermAll, "auth", "")}},
		{"auth failing after a good entry", []wire.Id{ip}, []wire.ACL{anyoneAll, acl(wire.PermAll, "auth", "")}},
		{"digest without colon", nil, []wire.ACL{acl(wire.PermAll, "digest", "bob")}},
		{"digest with two colons", nil, []wire.ACL{acl(wire.PermAll, "digest", "bob:a:b")}},
		{"digest trailing colon", nil, []wire.ACL{acl(wire.PermAll, "digest", "bob:")}},
		{"digest empty", nil, []wire.ACL{acl(wire.PermAll, "digest", "")}},
		{"world other", nil, []wire.ACL{acl(wire.PermAll, "world", "other")}},
		{"world empty id", nil, []wire.ACL{acl(wire.PermAll, "world", "")}},
		{"unknown scheme", nil, []wire.ACL{acl(wire.PermAll, "foo", "bar")}},
		{"super scheme", nil, []wire.ACL{acl(wire.PermAll, "super", "x")}},
		{"sasl without provider", nil, []wire.ACL{acl(wire.PermAll, "sasl", "bob")}},
		{"ip garbage", nil, []wire.ACL{acl(wire.PermAll, "ip", "bob")}},
		{"ip three parts", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3")}},
		{"ip octet too big", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3.256")}},
		{"ip bits too big", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3.4/33")}},
		{"ip bits negative", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3.4/-1")}},
		{"ip bits empty", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3.4/")}},
		{"ip bits garbage", nil, []wire.ACL{acl(wire.PermAll, "ip", "1.2.3.4/8/9")}},
		{"ipv6", nil, []wire.ACL{acl(wire.PermAll, "ip", "::1")}},
		{"ipv4-mapped ipv6", nil, []wire.ACL{acl(wire.PermAll, "ip", "::ffff:1.2.3.4")}},
	}
	for _, c := range bad {
		if got, err := fixupACL(c.ids, c.in); err != wire.ErrInvalidACL {
			t.Errorf("%s: fixupACL = %v, %v, want INVALIDACL", c.name, got, err)
		}
	}
}
