package sasl

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Client is the client side of a DIGEST-MD5 exchange, answering as
// ZooKeeper's Java client does. It is meant for tests and tools.
type Client struct {
	User, Password string
	// Authzid is the authorization id to ask for ("" asks for none).
	Authzid string
	// Protocol and ServerName make the digest-uri; empty means
	// ZooKeeper's names.
	Protocol, ServerName string
	// Rand is the source of the cnonce; nil means crypto/rand.
	Rand io.Reader

	step     int
	uri      string
	realm    string
	nonce    []byte
	cnonce   []byte
	complete bool
}

// Start returns the opening token (empty: DIGEST-MD5 has no initial
// response).
func (c *Client) Start() []byte { return []byte{} }

// Complete reports whether the server proved it knows the password.
func (c *Client) Complete() bool { return c.complete }

// Next answers a server token: the challenge gets the digest-response, the
// rspauth is checked and ends the exchange with a nil token.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	switch c.step {
	case 0:
		c.step = 1
		return c.respond(challenge)
	case 1:
		c.step = 2
		ds, err := ParseDirectives(challenge)
		if err != nil {
			return nil, err
		}
		v, err := pick(ds, "rspauth")
		if err != nil {
			return nil, err
		}
		want := ResponseValue("", c.uri, c.User, c.realm, c.Password, c.nonce, c.cnonce, c.authzBytes())
		if subtle.ConstantTimeCompare(v["rspauth"], want) != 1 {
			return nil, errors.New("DIGEST-MD5: server's rspauth does not match")
		}
		c.complete = true
		return nil, nil
	}
	return nil, errors.New("DIGEST-MD5: client at illegal state")
}

func (c *Client) authzBytes() []byte {
	if c.Authzid == "" {
		return nil
	}
	return []byte(c.Authzid)
}

func (c *Client) respond(challenge []byte) ([]byte, error) {
	ds, err := ParseDirectives(challenge)
	if err != nil {
		return nil, err
	}
	v, err := pick(ds, "realm", "nonce", "algorithm", "charset", "qop")
	if err != nil {
		return nil, err
	}
	if string(v["algorithm"]) != "md5-sess" {
		return nil, fmt.Errorf("DIGEST-MD5: algorithm %q is not md5-sess", v["algorithm"])
	}
	if v["nonce"] == nil {
		return nil, errors.New("DIGEST-MD5: challenge without a nonce")
	}
	proto, name := c.Protocol, c.ServerName
	if proto == "" {
		proto = Protocol
	}
	if name == "" {
		name = ServerName
	}
	c.uri = proto + "/" + name
	c.realm = string(v["realm"])
	c.nonce = v["nonce"]
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	raw := make([]byte, 30)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, err
	}
	c.cnonce = []byte(base64.StdEncoding.EncodeToString(raw))
	var b bytes.Buffer
	if string(v["charset"]) == "utf-8" {
		b.WriteString("charset=utf-8,")
	}
	b.WriteString(`username="`)
	b.Write(quote([]byte(c.User)))
	b.WriteString(`",realm="`)
	b.Write(quote([]byte(c.realm)))
	b.WriteString(`",nonce="`)
	b.Write(quote(c.nonce))
	b.WriteString(`",nc=00000001,cnonce="`)
	b.Write(quote(c.cnonce))
	b.WriteString(`",digest-uri="`)
	b.Write(quote([]byte(c.uri)))
	b.WriteString(`",maxbuf=65536,response=`)
	b.Write(ResponseValue("AUTHENTICATE", c.uri, c.User, c.realm, c.Password, c.nonce, c.cnonce, c.authzBytes()))
	b.WriteString(",qop=auth")
	if c.Authzid != "" {
		b.WriteString(`,authzid="`)
		b.Write(quote([]byte(c.Authzid)))
		b.WriteString(`"`)
	}
	return b.Bytes(), nil
}
