// Package compat holds black-box compatibility tests that run against any
// server speaking the ZooKeeper client protocol: Apache ZooKeeper (the
// oracle) or zkserver. This file is a small raw-protocol client built on the
// project's wire codec, used for operations go-zookeeper cannot send and for
// byte-level checks.
package compat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// DefaultIOTimeout bounds every blocking read or write of a RawClient.
const DefaultIOTimeout = 10 * time.Second

// Reply is one server frame after the handshake: its header and the raw body
// that followed it (possibly empty).
type Reply struct {
	Header wire.ReplyHeader
	Body   []byte
}

// Event is a decoded watch notification together with the zxid carried in
// its reply header.
type Event struct {
	wire.WatcherEvent
	Zxid int64
}

// RawClient is a synchronous, single-goroutine ZooKeeper client speaking the
// wire protocol directly. Notifications read while waiting for a reply are
// queued and handed out by NextEvent.
type RawClient struct {
	Conn      net.Conn
	Resp      wire.ConnectResponse
	SessionID int64
	Passwd    []byte
	LastZxid  int64
	IOTimeout time.Duration

	xid    int32
	events []Event
}

// DialRaw opens a TCP connection to addr without sending anything.
func DialRaw(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, DefaultIOTimeout)
}

// ConnectOpts are the ConnectRequest fields a test may choose.
type ConnectOpts struct {
	TimeoutMs    int32
	SessionID    int64
	Passwd       []byte
	LastZxidSeen int64
	// ReadOnlyByte adds the optional trailing readOnly flag (false omits it).
	ReadOnlyByte bool
	ReadOnly     bool
}

// ConnectRaw dials addr and performs the handshake. If the server refuses the
// session (timeout 0 in the response) the client is still returned together
// with ErrSessionRefused so tests can inspect the response.
func ConnectRaw(addr string, o ConnectOpts) (*RawClient, error) {
	nc, err := DialRaw(addr)
	if err != nil {
		return nil, err
	}
	c := &RawClient{Conn: nc, IOTimeout: DefaultIOTimeout}
	if err := c.Handshake(o); err != nil {
		return c, err
	}
	return c, nil
}

// ErrSessionRefused is returned by Handshake when the server answers with a
// zero timeout (invalid or expired session).
var ErrSessionRefused = errors.New("compat: session refused (timeout 0)")

// Handshake sends a ConnectRequest on an already open connection and reads
// the ConnectResponse.
func (c *RawClient) Handshake(o ConnectOpts) error {
	if o.TimeoutMs == 0 {
		o.TimeoutMs = 30000
	}
	pw := o.Passwd
	if pw == nil {
		pw = make([]byte, 16)
	}
	req := wire.ConnectRequest{
		LastZxidSeen: o.LastZxidSeen,
		TimeOut:      o.TimeoutMs,
		SessionID:    o.SessionID,
		Passwd:       pw,
		ReadOnly:     o.ReadOnly,
		HasReadOnly:  o.ReadOnlyByte,
	}
	if err := c.WriteFrame(wire.Marshal(&req)); err != nil {
		return err
	}
	body, err := c.ReadFrame()
	if err != nil {
		return err
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("compat: bad ConnectResponse (%d bytes): %w", len(body), err)
	}
	c.Resp = resp
	c.SessionID = resp.SessionID
	c.Passwd = resp.Passwd
	if resp.TimeOut <= 0 {
		return ErrSessionRefused
	}
	return nil
}

// Close closes the TCP connection without a closeSession request.
func (c *RawClient) Close() error { return c.Conn.Close() }

// WriteFrame writes a length-prefixed frame.
func (c *RawClient) WriteFrame(b []byte) error {
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	return c.WriteRaw(buf)
}

// WriteRaw writes bytes as they are, without framing.
func (c *RawClient) WriteRaw(b []byte) error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.Conn.Write(b)
	return err
}

func (c *RawClient) timeout() time.Duration {
	if c.IOTimeout <= 0 {
		return DefaultIOTimeout
	}
	return c.IOTimeout
}

// ReadFrame reads one length-prefixed frame within the I/O timeout.
func (c *RawClient) ReadFrame() ([]byte, error) {
	return c.readFrameWithin(c.timeout())
}

func (c *RawClient) readFrameWithin(d time.Duration) ([]byte, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(d))
	var hdr [4]byte
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("compat: bad frame length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.Conn, body); err != nil {
		return nil, err
	}
	return body, nil
}

// readReply reads one frame and splits it into header and body.
func (c *RawClient) readReply(d time.Duration) (Reply, error) {
	b, err := c.readFrameWithin(d)
	if err != nil {
		return Reply{}, err
	}
	dec := wire.NewDecoder(b)
	var r Reply
	r.Header.Decode(dec)
	if dec.Err() != nil {
		return Reply{}, fmt.Errorf("compat: short reply frame (%d bytes)", len(b))
	}
	r.Body = b[dec.Offset():]
	return r, nil
}

// NextXid returns the xid the next Send will use.
func (c *RawClient) NextXid() int32 { return c.xid + 1 }

// Send writes a request with the next xid. rec may be nil for bodyless
// requests.
func (c *RawClient) Send(op wire.Op, rec wire.Record) (int32, error) {
	c.xid++
	return c.xid, c.SendXid(c.xid, op, rec)
}

// SendXid writes a request with the given xid.
func (c *RawClient) SendXid(xid int32, op wire.Op, rec wire.Record) error {
	var e wire.Encoder
	h := wire.RequestHeader{Xid: xid, Type: op}
	h.Encode(&e)
	if rec != nil {
		rec.Encode(&e)
	}
	return c.WriteFrame(e.B)
}

// ReadReply reads frames until a non-notification reply arrives, queueing
// notifications.
func (c *RawClient) ReadReply() (Reply, error) {
	for {
		r, err := c.readReply(c.timeout())
		if err != nil {
			return r, err
		}
		if r.Header.Xid == wire.XidNotification {
			if err := c.queueEvent(r); err != nil {
				return r, err
			}
			continue
		}
		if r.Header.Zxid > c.LastZxid {
			c.LastZxid = r.Header.Zxid
		}
		return r, nil
	}
}

func (c *RawClient) queueEvent(r Reply) error {
	var ev wire.WatcherEvent
	if err := wire.Unmarshal(r.Body, &ev); err != nil {
		return fmt.Errorf("compat: bad notification body: %w", err)
	}
	c.events = append(c.events, Event{WatcherEvent: ev, Zxid: r.Header.Zxid})
	return nil
}

// Call sends a request and waits for the reply with the same xid. Replies
// with other xids are an error (the server answers in order).
func (c *RawClient) Call(op wire.Op, rec wire.Record) (Reply, error) {
	xid, err := c.Send(op, rec)
	if err != nil {
		return Reply{}, err
	}
	r, err := c.ReadReply()
	if err != nil {
		return r, err
	}
	if r.Header.Xid != xid {
		return r, fmt.Errorf("compat: reply xid %d, want %d", r.Header.Xid, xid)
	}
	return r, nil
}

// Do calls op and, when the reply's err is 0 and resp is not nil, decodes the
// body into resp. It returns the server's error code.
func (c *RawClient) Do(op wire.Op, req, resp wire.Record) (wire.Err, error) {
	r, err := c.Call(op, req)
	if err != nil {
		return 0, err
	}
	if r.Header.Err == 0 && resp != nil {
		if err := wire.Unmarshal(r.Body, resp); err != nil {
			return 0, fmt.Errorf("compat: decoding %v reply: %w", op, err)
		}
	}
	return r.Header.Err, nil
}

// Ping sends a ping and waits for its reply.
func (c *RawClient) Ping() (Reply, error) {
	if err := c.SendXid(wire.XidPing, wire.OpPing, nil); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// Auth sends an auth packet (xid -4) and returns the reply.
func (c *RawClient) Auth(scheme string, auth []byte) (Reply, error) {
	if err := c.SendXid(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: scheme, Auth: auth}); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// NextEvent returns the next queued or arriving notification, waiting at
// most d. Any non-notification frame is an error.
func (c *RawClient) NextEvent(d time.Duration) (Event, error) {
	if len(c.events) > 0 {
		ev := c.events[0]
		c.events = c.events[1:]
		return ev, nil
	}
	r, err := c.readReply(d)
	if err != nil {
		return Event{}, err
	}
	if r.Header.Xid != wire.XidNotification {
		return Event{}, fmt.Errorf("compat: expected notification, got reply xid %d err %d", r.Header.Xid, r.Header.Err)
	}
	if err := c.queueEvent(r); err != nil {
		return Event{}, err
	}
	return c.NextEvent(0)
}

// PendingEvents returns and clears the queued notifications.
func (c *RawClient) PendingEvents() []Event {
	ev := c.events
	c.events = nil
	return ev
}

// CloseSession sends closeSession and waits for its reply.
func (c *RawClient) CloseSession() (Reply, error) {
	return c.Call(wire.OpCloseSession, nil)
}

// IsClosedWithin reports whether the server closes the connection (EOF or
// reset) within d, discarding anything it sends first.
func (c *RawClient) IsClosedWithin(d time.Duration) bool {
	return WaitClosed(c.Conn, d)
}

// WaitClosed reads and discards from nc until EOF/reset (true) or until d
// passes with the connection still open (false).
func WaitClosed(nc net.Conn, d time.Duration) bool {
	deadline := time.Now().Add(d)
	buf := make([]byte, 4096)
	for {
		_ = nc.SetReadDeadline(deadline)
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		return true
	}
}

// Convenience wrappers for requests go-zookeeper cannot send.

// AddWatch sends addWatch(path, mode) and returns the error code and the raw
// body.
func (c *RawClient) AddWatch(path string, mode int32) (wire.Err, []byte, error) {
	r, err := c.Call(wire.OpAddWatch, &wire.PathModeRequest{Path: path, Mode: mode})
	return r.Header.Err, r.Body, err
}

// RemoveWatches sends removeWatches(path, type).
func (c *RawClient) RemoveWatches(path string, typ int32) (wire.Err, error) {
	return c.Do(wire.OpRemoveWatches, &wire.PathModeRequest{Path: path, Mode: typ}, nil)
}

// CheckWatches sends checkWatches(path, type).
func (c *RawClient) CheckWatches(path string, typ int32) (wire.Err, error) {
	return c.Do(wire.OpCheckWatches, &wire.PathModeRequest{Path: path, Mode: typ}, nil)
}

// SetWatches sends setWatches (or setWatches2 when sw.V2) with the given xid.
func (c *RawClient) SetWatches(xid int32, sw *wire.SetWatches) (Reply, error) {
	op := wire.OpSetWatches
	if sw.V2 {
		op = wire.OpSetWatches2
	}
	if err := c.SendXid(xid, op, sw); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// MultiRead sends a multiRead of the given read ops.
func (c *RawClient) MultiRead(ops []wire.MultiOp) (wire.Err, *wire.MultiResponse, error) {
	var resp wire.MultiResponse
	code, err := c.Do(wire.OpMultiRead, &wire.MultiRequest{Ops: ops}, &resp)
	return code, &resp, err
}

// Multi sends a multi of the given ops.
func (c *RawClient) Multi(ops []wire.MultiOp) (wire.Err, *wire.MultiResponse, error) {
	var resp wire.MultiResponse
	code, err := c.Do(wire.OpMulti, &wire.MultiRequest{Ops: ops}, &resp)
	return code, &resp, err
}

// GetEphemerals sends getEphemerals(prefix).
func (c *RawClient) GetEphemerals(prefix string) (wire.Err, []string, error) {
	var resp wire.ChildrenResponse
	code, err := c.Do(wire.OpGetEphemerals, &wire.PathRequest{Path: prefix}, &resp)
	return code, resp.Children, err
}

// GetAllChildrenNumber sends getAllChildrenNumber(path).
func (c *RawClient) GetAllChildrenNumber(path string) (wire.Err, int32, error) {
	var resp wire.IntRecord
	code, err := c.Do(wire.OpGetAllChildrenNumber, &wire.PathRequest{Path: path}, &resp)
	return code, resp.V, err
}

// WhoAmI sends whoAmI.
func (c *RawClient) WhoAmI() (wire.Err, []wire.ClientInfo, error) {
	var resp wire.WhoAmIResponse
	code, err := c.Do(wire.OpWhoAmI, nil, &resp)
	return code, resp.Info, err
}

// Create sends create (op 1, 15, 19) with the given flags and ACL.
func (c *RawClient) Create(op wire.Op, path string, data []byte, acl []wire.ACL, flags int32) (Reply, error) {
	return c.Call(op, &wire.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags})
}

// CreateTTL sends createTTL.
func (c *RawClient) CreateTTL(path string, data []byte, acl []wire.ACL, flags int32, ttl int64) (Reply, error) {
	return c.Call(wire.OpCreateTTL, &wire.CreateTTLRequest{CreateRequest: wire.CreateRequest{
		Path: path, Data: data, ACL: acl, Flags: flags, TTL: ttl}})
}

// Exists sends exists and decodes the Stat on success.
func (c *RawClient) Exists(path string, watch bool) (wire.Err, wire.Stat, error) {
	var resp wire.StatResponse
	code, err := c.Do(wire.OpExists, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return code, resp.Stat, err
}

// GetData sends getData.
func (c *RawClient) GetData(path string, watch bool) (wire.Err, *wire.GetDataResponse, error) {
	var resp wire.GetDataResponse
	code, err := c.Do(wire.OpGetData, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return code, &resp, err
}

// SetData sends setData.
func (c *RawClient) SetData(path string, data []byte, version int32) (wire.Err, wire.Stat, error) {
	var resp wire.StatResponse
	code, err := c.Do(wire.OpSetData, &wire.SetDataRequest{Path: path, Data: data, Version: version}, &resp)
	return code, resp.Stat, err
}

// Delete sends delete.
func (c *RawClient) Delete(path string, version int32) (wire.Err, error) {
	return c.Do(wire.OpDelete, &wire.PathVersionRequest{Path: path, Version: version}, nil)
}

// GetChildren sends getChildren (op 8) or getChildren2 (op 12).
func (c *RawClient) GetChildren(path string, watch, withStat bool) (wire.Err, *wire.ChildrenResponse, error) {
	op := wire.OpGetChildren
	if withStat {
		op = wire.OpGetChildren2
	}
	resp := wire.ChildrenResponse{WithStat: withStat}
	code, err := c.Do(op, &wire.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return code, &resp, err
}

// GetACL sends getACL.
func (c *RawClient) GetACL(path string) (wire.Err, *wire.GetACLResponse, error) {
	var resp wire.GetACLResponse
	code, err := c.Do(wire.OpGetACL, &wire.PathRequest{Path: path}, &resp)
	return code, &resp, err
}

// SetACL sends setACL.
func (c *RawClient) SetACL(path string, acl []wire.ACL, version int32) (wire.Err, wire.Stat, error) {
	var resp wire.StatResponse
	code, err := c.Do(wire.OpSetACL, &wire.SetACLRequest{Path: path, ACL: acl, Version: version}, &resp)
	return code, resp.Stat, err
}

// OpenACL is world:anyone with all permissions.
func OpenACL() []wire.ACL {
	return []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
}
