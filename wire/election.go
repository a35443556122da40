package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Election port protocol versions sent as the first long of the initial
// message. A first long >= 0 is instead the sid of a pre-3.5 peer.
const (
	ElectionProtocolV1  int64 = -65536 // one address
	ElectionProtocolV2  int64 = -65535 // several addresses separated by '|'
	ElectionProtocolOld int64 = 0      // InitialMessage.Version for the pre-3.5 form (sid only)
)

// MaxInitialAddressLen is the largest address field an initial message may
// carry; the smallest is 1.
const MaxInitialAddressLen = 2048

// MaxElectionMessage is the largest election-port frame body; the smallest
// is 1 byte.
const MaxElectionMessage = 512 * 1024

// Errors from election-port decoding.
var (
	ErrElectionVersion    = errors.New("wire: unknown election protocol version")
	ErrElectionAddressLen = errors.New("wire: election address length out of range")
	ErrElectionFrame      = errors.New("wire: election message length out of range")
	ErrNotificationShort  = errors.New("wire: notification shorter than 28 bytes")
	ErrNotificationSize   = errors.New("wire: notification size matches no known format")
	ErrNotificationConfig = errors.New("wire: notification config length out of range")
	ErrNotificationState  = errors.New("wire: notification has an unknown server state")
)

// InitialMessage is what the connecting side of an election connection sends
// once, right after connecting. There is no reply.
//
// Version is ElectionProtocolV1, ElectionProtocolV2 or ElectionProtocolOld;
// in the old form only SID is on the wire. Addr is the address field exactly
// as sent: "host:port" for V1, "host1:port1|host2:port2..." for V2.
type InitialMessage struct {
	Version int64
	SID     int64
	Addr    string
}

// Encode implements Record. The old form writes just the sid.
func (r *InitialMessage) Encode(e *Encoder) {
	if r.Version == ElectionProtocolOld {
		e.Long(r.SID)
		return
	}
	e.Long(r.Version)
	e.Long(r.SID)
	e.Str(r.Addr)
}

// Decode implements Record, with the acceptor's checks: an unknown negative
// version or an address length outside 1..MaxInitialAddressLen is an error.
func (r *InitialMessage) Decode(d *Decoder) {
	*r = InitialMessage{}
	v := d.Long()
	if d.Err() != nil {
		return
	}
	if v >= 0 {
		r.SID = v
		return
	}
	if v != ElectionProtocolV1 && v != ElectionProtocolV2 {
		d.Fail(fmt.Errorf("%w: %d", ErrElectionVersion, v))
		return
	}
	r.Version = v
	r.SID = d.Long()
	n := d.Int()
	if d.Err() != nil {
		return
	}
	if n <= 0 || n > MaxInitialAddressLen {
		d.Fail(fmt.Errorf("%w: %d", ErrElectionAddressLen, n))
		return
	}
	r.Addr = string(d.take(int(n)))
}

// Addresses splits Addr into its '|'-separated entries (one for V1).
func (r *InitialMessage) Addresses() []string {
	if r.Addr == "" {
		return nil
	}
	return strings.Split(r.Addr, "|")
}

// ReadInitialMessage reads an initial message from an unframed stream,
// checking the version and the address length before allocating.
func ReadInitialMessage(rd io.Reader) (*InitialMessage, error) {
	var b [20]byte
	if _, err := io.ReadFull(rd, b[:8]); err != nil {
		return nil, err
	}
	v := int64(binary.BigEndian.Uint64(b[:8]))
	if v >= 0 {
		return &InitialMessage{SID: v}, nil
	}
	if v != ElectionProtocolV1 && v != ElectionProtocolV2 {
		return nil, fmt.Errorf("%w: %d", ErrElectionVersion, v)
	}
	if _, err := io.ReadFull(rd, b[8:20]); err != nil {
		return nil, unexpected(err)
	}
	m := &InitialMessage{Version: v, SID: int64(binary.BigEndian.Uint64(b[8:16]))}
	n := int32(binary.BigEndian.Uint32(b[16:20]))
	if n <= 0 || n > MaxInitialAddressLen {
		return nil, fmt.Errorf("%w: %d", ErrElectionAddressLen, n)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(rd, addr); err != nil {
		return nil, unexpected(err)
	}
	m.Addr = string(addr)
	return m, nil
}

// ReadElectionMessage reads one framed election-port message (int32 length,
// 1..MaxElectionMessage, then the body). buf is reused when large enough.
func ReadElectionMessage(r io.Reader, buf []byte) ([]byte, error) {
	b, err := ReadFrame(r, MaxElectionMessage, buf)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) {
			return nil, fmt.Errorf("%w: %v", ErrElectionFrame, err)
		}
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: 0", ErrElectionFrame)
	}
	return b, nil
}

// AppendElectionMessage appends r framed for the election port.
func AppendElectionMessage(dst []byte, r Record) []byte {
	return AppendFrame(dst, r.Encode)
}

// Server states as carried in notifications.
const (
	StateLooking   int32 = 0
	StateFollowing int32 = 1
	StateLeading   int32 = 2
	StateObserving int32 = 3
)

// NotificationVersion is the current notification format version.
const NotificationVersion int32 = 2

// Notification is one fast-leader-election message (the body of an
// election-port frame).
//
// Layout: state int, leader long, zxid long, electionEpoch long (28 bytes),
// peerEpoch long (36), version int (40), configLength int (44), config.
// The receiver picks the form by message size:
//   - 28 bytes: no peerEpoch (decode sets it to the zxid's epoch), version 0;
//   - 40 bytes: peerEpoch, then 4 bytes that are ignored; version 0;
//   - 41 bytes or more: peerEpoch and version; if version > 1, configLength
//     and config follow.
//
// Encode picks the form from Version and HasPeerEpoch: Version 0 without
// HasPeerEpoch gives 28 bytes, Version 0 with it gives 40 (the ignored word
// written as 0), Version 1 or below gives 44 (version then a zero word, so the
// receiver reads the version but no config), Version 2 and up gives 44 plus
// the config.
//
// Decode treats the whole decoder input as the message, because the format
// depends on its size; bytes after the last field it reads are skipped, as a
// Java receiver does.
type Notification struct {
	State         int32
	Leader        int64
	Zxid          int64
	ElectionEpoch int64
	PeerEpoch     int64
	HasPeerEpoch  bool
	Version       int32
	Config        string
}

// Encode implements Record.
func (r *Notification) Encode(e *Encoder) {
	e.Int(r.State)
	e.Long(r.Leader)
	e.Long(r.Zxid)
	e.Long(r.ElectionEpoch)
	if r.Version == 0 && !r.HasPeerEpoch {
		return
	}
	e.Long(r.PeerEpoch)
	if r.Version == 0 {
		e.Int(0)
		return
	}
	e.Int(r.Version)
	if r.Version > 1 {
		e.Str(r.Config)
	} else {
		e.Int(0)
	}
}

// Decode implements Record with the receiver's rules: under 28 bytes, 29 to
// 39 bytes, a config length outside 0..message size or past the end, or an
// unknown state is an error.
func (r *Notification) Decode(d *Decoder) {
	*r = Notification{}
	size := d.Remaining()
	if size < 28 {
		d.Fail(fmt.Errorf("%w: %d", ErrNotificationShort, size))
		return
	}
	if size > 28 && size < 40 {
		d.Fail(fmt.Errorf("%w: %d bytes", ErrNotificationSize, size))
		return
	}
	r.State = d.Int()
	r.Leader = d.Long()
	r.Zxid = d.Long()
	r.ElectionEpoch = d.Long()
	if r.State < StateLooking || r.State > StateObserving {
		d.Fail(fmt.Errorf("%w: %d", ErrNotificationState, r.State))
		return
	}
	if size == 28 {
		r.PeerEpoch = ZxidEpoch(r.Zxid)
		return
	}
	r.PeerEpoch = d.Long()
	r.HasPeerEpoch = true
	if size > 40 {
		r.Version = d.Int()
	}
	if r.Version > 1 {
		n := d.Int()
		if d.Err() != nil {
			return
		}
		if n < 0 || int(n) > size {
			d.Fail(fmt.Errorf("%w: %d of %d", ErrNotificationConfig, n, size))
			return
		}
		r.Config = string(d.take(int(n)))
	}
	d.take(d.Remaining()) // trailing bytes are ignored
}
