package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zkserver/zkserver/sasl"
)

// SASLConfig holds the settings of SASL DIGEST-MD5 for clients, under
// the names ZooKeeper reads (most are Java system properties, accepted in
// zoo.cfg bare or with the "zookeeper." prefix).
type SASLConfig struct {
	// JAASFile is the JAAS login configuration file
	// ("java.security.auth.login.config"; ZooKeeper takes it as a JVM
	// system property, so ResolveSASL also finds it as
	// -Djava.security.auth.login.config=... in SERVER_JVMFLAGS or
	// JVMFLAGS).
	JAASFile string
	// LoginContext is the JAAS section of the server
	// ("zookeeper.sasl.serverconfig"); "" means "Server".
	LoginContext string
	// SuperPassword replaces the JAAS password of the user "super"
	// ("zookeeper.SASLAuthenticationProvider.superPassword").
	SuperPassword string
	// AllowFailedClients keeps a client whose SASL exchange failed
	// connected, unauthenticated ("zookeeper.allowSaslFailedClients").
	AllowFailedClients bool
	// LetAnyUserDoX: a sasl ACL whose id is this value matches every
	// SASL-authenticated user ("zookeeper.letAnySaslUserDoX").
	LetAnyUserDoX string
	// EnforceAuth: requests of a connection that has not authenticated
	// with one of EnforceAuthSchemes are refused with
	// SESSIONCLOSEDREQUIRESASLAUTH ("zookeeper.enforce.auth.enabled",
	// "zookeeper.enforce.auth.schemes"; "zookeeper.sessionRequireClientSASLAuth"
	// sets both, to sasl).
	EnforceAuth        bool
	EnforceAuthSchemes []string
	RequireClientSASL  bool

	// Filled by ResolveSASL.

	// Users maps the DIGEST-MD5 users of the JAAS section to their
	// passwords; nil means SASL is not configured (the server answers
	// SASL requests as a ZooKeeper without a JAAS section does).
	Users map[string]string
	// Provider is true when an authProvider.N key names ZooKeeper's
	// SASLAuthenticationProvider: only then is "sasl" an ACL scheme.
	Provider bool
	// SuperUsers are the ids of "zookeeper.superUser" and
	// "zookeeper.superUser.*": a SASL user with one of them is also super.
	SuperUsers []string
	// AuthProviders are the class names of the authProvider.N keys, by N.
	AuthProviders map[string]string
}

// SASLAuthenticationProvider is the class name that enables the sasl ACL
// scheme in authProvider.N.
const SASLAuthenticationProvider = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

// providerSchemes maps the authentication provider classes this server
// implements to their schemes.
var providerSchemes = map[string]string{
	SASLAuthenticationProvider:                                      "sasl",
	"org.apache.zookeeper.server.auth.X509AuthenticationProvider":   "x509",
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider": "digest",
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider":     "ip",
}

// javaBool is Java's Boolean.parseBoolean: "true" in any case, anything
// else is false.
func javaBool(field func(*Config) *bool) option {
	return option{true, func(c *Config, _, val string) error {
		*field(c) = strings.EqualFold(strings.TrimSpace(val), "true")
		return nil
	}}
}

func init() {
	options["java.security.auth.login.config"] = option{false, func(c *Config, _, val string) error {
		c.SASL.JAASFile = val
		return nil
	}}
	options["sasl.serverconfig"] = strOpt(true, func(c *Config) *string { return &c.SASL.LoginContext })
	options["SASLAuthenticationProvider.superPassword"] = strOpt(true, func(c *Config) *string { return &c.SASL.SuperPassword })
	options["allowSaslFailedClients"] = javaBool(func(c *Config) *bool { return &c.SASL.AllowFailedClients })
	options["letAnySaslUserDoX"] = strOpt(true, func(c *Config) *string { return &c.SASL.LetAnyUserDoX })
	options["enforce.auth.enabled"] = javaBool(func(c *Config) *bool { return &c.SASL.EnforceAuth })
	options["enforce.auth.schemes"] = option{true, func(c *Config, _, val string) error {
		c.SASL.EnforceAuthSchemes = nil
		for _, s := range strings.Split(val, ",") {
			c.SASL.EnforceAuthSchemes = append(c.SASL.EnforceAuthSchemes, strings.TrimSpace(s))
		}
		return nil
	}}
	options["sessionRequireClientSASLAuth"] = javaBool(func(c *Config) *bool { return &c.SASL.RequireClientSASL })
}

// patternKey reports whether key is one of the families read by
// ResolveSASL (authProvider.N, superUser and superUser.N), with its
// suffix and family.
func patternKey(key string) (family, suffix string, ok bool) {
	k := strings.TrimPrefix(key, "zookeeper.")
	if s, ok := strings.CutPrefix(k, "authProvider."); ok {
		return "authProvider", s, true
	}
	if k == "superUser" {
		return "superUser", "", true
	}
	if s, ok := strings.CutPrefix(k, "superUser."); ok {
		return "superUser", s, true
	}
	return "", "", false
}

// jvmFlag finds -Dname=value in a JVMFLAGS-style string.
func jvmFlag(flags, name string) (string, bool) {
	val, found := "", false
	for _, f := range strings.Fields(flags) {
		f = strings.Trim(f, `"'`)
		if v, ok := strings.CutPrefix(f, "-D"+name+"="); ok {
			val, found = strings.Trim(v, `"'`), true
		}
	}
	return val, found
}

// ResolveSASL completes the SASL settings: it reads the authProvider.N
// and superUser keys, finds the JAAS file (zoo.cfg, else
// -Djava.security.auth.login.config in the SERVER_JVMFLAGS or JVMFLAGS
// environment variables, looked up with getenv, which may be nil) and
// loads the DIGEST-MD5 users of its server section. As in ZooKeeper, a
// JAAS file that cannot be read or parsed is an error, and so is a server
// section named explicitly without a JAAS file; a file without the section
// leaves SASL off (with a warning). The keys read here are removed from
// Unknown.
func (c *Config) ResolveSASL(getenv func(string) string) error {
	s := &c.SASL
	s.Users, s.Provider, s.SuperUsers, s.AuthProviders = nil, false, nil, map[string]string{}
	keys := make([]string, 0, len(c.Raw))
	for k := range c.Raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fam, suffix, ok := patternKey(k)
		if !ok {
			continue
		}
		delete(c.Unknown, k)
		v := strings.TrimSpace(c.Raw[k])
		switch fam {
		case "authProvider":
			s.AuthProviders[suffix] = v
			if v == SASLAuthenticationProvider {
				s.Provider = true
			} else if _, known := providerSchemes[v]; !known {
				c.warnf("%s: authentication provider %q is not available here (ignored, as ZooKeeper ignores a class it cannot load)", k, v)
			}
		case "superUser":
			if v != "" {
				s.SuperUsers = append(s.SuperUsers, v)
			}
		}
	}
	if s.RequireClientSASL {
		s.EnforceAuth, s.EnforceAuthSchemes = true, []string{"sasl"}
	}
	if s.EnforceAuth {
		if len(s.EnforceAuthSchemes) == 0 {
			return fmt.Errorf("config: zookeeper.enforce.auth.enabled is true: zookeeper.enforce.auth.schemes must be configured")
		}
		for _, scheme := range s.EnforceAuthSchemes {
			if !c.schemeAvailable(scheme) {
				return fmt.Errorf("config: zookeeper.enforce.auth.schemes: authentication scheme %s is not available", scheme)
			}
		}
	}

	path := s.JAASFile
	if path == "" && getenv != nil {
		for _, env := range []string{"SERVER_JVMFLAGS", "JVMFLAGS"} {
			if v, ok := jvmFlag(getenv(env), "java.security.auth.login.config"); ok {
				path = v
				break
			}
		}
	}
	section := s.LoginContext
	if section == "" {
		section = "Server"
	}
	if path == "" {
		if s.LoginContext != "" {
			return fmt.Errorf("config: no JAAS configuration section named %q was found: zookeeper.sasl.serverconfig is set but java.security.auth.login.config is not", section)
		}
		return nil
	}
	jc, err := sasl.LoadJAAS(path)
	if err != nil {
		return fmt.Errorf("config: java.security.auth.login.config: %w", err)
	}
	entries, ok := jc[section]
	if !ok {
		c.warnf("no JAAS section named %q in %s: SASL is not configured", section, path)
		return nil
	}
	for _, e := range entries {
		if e.LoginModule != sasl.DigestLoginModule {
			c.warnf("JAAS section %q of %s: login module %s is not supported (only DIGEST-MD5 users are read)", section, path, e.LoginModule)
		}
	}
	s.Users = sasl.Credentials(entries)
	if s.SuperPassword != "" {
		if _, ok := s.Users["super"]; ok {
			s.Users["super"] = s.SuperPassword
		}
	}
	return nil
}

func (c *Config) schemeAvailable(scheme string) bool {
	switch scheme {
	case "ip", "digest":
		return true
	}
	for _, cls := range c.SASL.AuthProviders {
		if providerSchemes[cls] == scheme {
			return true
		}
	}
	return false
}
