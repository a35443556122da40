package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Quorum (ZAB) port packet types: the int at the start of every QuorumPacket.
const (
	PacketRequest           int32 = 1  // learner -> leader: forwarded client request
	PacketProposal          int32 = 2  // leader -> follower: txn to log
	PacketAck               int32 = 3  // follower -> leader: txn logged
	PacketCommit            int32 = 4  // leader -> follower: txn committed
	PacketPing              int32 = 5  // both ways; learner's reply carries its touch table
	PacketRevalidate        int32 = 6  // session revalidation, both ways
	PacketSync              int32 = 7  // leader -> learner: a forwarded sync may complete
	PacketInform            int32 = 8  // leader -> observer: committed txn with data
	PacketCommitAndActivate int32 = 9  // leader -> follower: commit of a reconfig
	PacketNewLeader         int32 = 10 // leader -> learner: end of the sync stream
	PacketFollowerInfo      int32 = 11 // follower -> leader: LearnerInfo
	PacketUpToDate          int32 = 12 // leader -> learner: start serving
	PacketDiff              int32 = 13 // leader -> learner: sync by replaying txns
	PacketTrunc             int32 = 14 // leader -> learner: truncate log, then replay
	PacketSnap              int32 = 15 // leader -> learner: snapshot follows
	PacketObserverInfo      int32 = 16 // observer -> leader: LearnerInfo
	PacketLeaderInfo        int32 = 17 // leader -> learner: new epoch proposal
	PacketAckEpoch          int32 = 18 // learner -> leader: epoch acknowledgement
	PacketInformAndActivate int32 = 19 // leader -> observer: inform of a reconfig
)

var packetNames = [...]string{
	PacketRequest:           "REQUEST",
	PacketProposal:          "PROPOSAL",
	PacketAck:               "ACK",
	PacketCommit:            "COMMIT",
	PacketPing:              "PING",
	PacketRevalidate:        "REVALIDATE",
	PacketSync:              "SYNC",
	PacketInform:            "INFORM",
	PacketCommitAndActivate: "COMMITANDACTIVATE",
	PacketNewLeader:         "NEWLEADER",
	PacketFollowerInfo:      "FOLLOWERINFO",
	PacketUpToDate:          "UPTODATE",
	PacketDiff:              "DIFF",
	PacketTrunc:             "TRUNC",
	PacketSnap:              "SNAP",
	PacketObserverInfo:      "OBSERVERINFO",
	PacketLeaderInfo:        "LEADERINFO",
	PacketAckEpoch:          "ACKEPOCH",
	PacketInformAndActivate: "INFORMANDACTIVATE",
}

// PacketTypeName is the protocol name of a quorum packet type, or
// "UNKNOWN(<n>)" for a code that is not one.
func PacketTypeName(t int32) string {
	if t > 0 && int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("UNKNOWN(%d)", t)
}

// QuorumProtocolVersion is the learner/leader protocol version carried in
// LearnerInfo and LEADERINFO (0x10000: NEWLEADER carries the config string).
const QuorumProtocolVersion int32 = 0x10000

// DefaultQuorumMaxBuffer bounds a QuorumPacket's data buffer when reading
// from a stream: jute.maxbuffer plus the same again as extra room, which is
// what a Java peer accepts by default (about 2 MiB).
const DefaultQuorumMaxBuffer = 2 * DefaultMaxBuffer

// ZxidEpoch is the epoch (high 32 bits) of a zxid.
func ZxidEpoch(zxid int64) int64 { return zxid >> 32 }

// ZxidCounter is the counter (low 32 bits) of a zxid.
func ZxidCounter(zxid int64) int64 { return zxid & 0xffffffff }

// MakeZxid builds a zxid from an epoch and a counter.
func MakeZxid(epoch, counter int64) int64 { return epoch<<32 | counter&0xffffffff }

// QuorumPacket is the one record exchanged on the quorum port, in both
// directions. Data and AuthInfo are nil when null on the wire.
//
// The quorum port has no framing: packets are written back to back, so a
// stream reader must parse the record itself (ReadQuorumPacket).
type QuorumPacket struct {
	Type     int32
	Zxid     int64
	Data     []byte
	AuthInfo []Id
}

// Encode implements Record.
func (r *QuorumPacket) Encode(e *Encoder) {
	e.Int(r.Type)
	e.Long(r.Zxid)
	e.Buffer(r.Data)
	if r.AuthInfo == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(r.AuthInfo)))
	for i := range r.AuthInfo {
		r.AuthInfo[i].Encode(e)
	}
}

// Decode implements Record.
func (r *QuorumPacket) Decode(d *Decoder) {
	r.Type = d.Int()
	r.Zxid = d.Long()
	r.Data = d.Buffer()
	r.AuthInfo = nil
	n := d.count(8) // an Id is two ustrings: at least 8 bytes
	if d.Err() != nil || n < 0 {
		return
	}
	r.AuthInfo = make([]Id, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		r.AuthInfo[i].Decode(d)
	}
}

func (r *QuorumPacket) String() string {
	return fmt.Sprintf("%s zxid=%x data=%d bytes auth=%d", PacketTypeName(r.Type), uint64(r.Zxid), len(r.Data), len(r.AuthInfo))
}

// ErrQuorumPacketTooLarge is returned by ReadQuorumPacket when a length in
// the packet exceeds the allowed maximum.
var ErrQuorumPacketTooLarge = errors.New("wire: quorum packet too large")

// ReadQuorumPacket reads one QuorumPacket from an unframed stream. Every
// length is checked before anything is allocated: the data buffer against
// max, and the auth info (all its strings together) against max as well.
// A clean end of stream before the first byte gives io.EOF; one inside the
// packet gives io.ErrUnexpectedEOF.
func ReadQuorumPacket(r io.Reader, max int) (*QuorumPacket, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	p := &QuorumPacket{
		Type: int32(binary.BigEndian.Uint32(hdr[0:])),
		Zxid: int64(binary.BigEndian.Uint64(hdr[4:])),
	}
	budget := max
	readLen := func(what string) (int, error) {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, unexpected(err)
		}
		n := int32(binary.BigEndian.Uint32(b[:]))
		if n < -1 {
			return 0, fmt.Errorf("wire: negative %s length %d", what, n)
		}
		return int(n), nil
	}
	readBytes := func(n int, what string) ([]byte, error) {
		if n > budget {
			return nil, fmt.Errorf("%w: %s of %d bytes (max %d)", ErrQuorumPacketTooLarge, what, n, max)
		}
		budget -= n
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpected(err)
		}
		return b, nil
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[12:])))
	if n < -1 {
		return nil, fmt.Errorf("wire: negative data length %d", n)
	}
	if n >= 0 {
		b, err := readBytes(n, "data")
		if err != nil {
			return nil, err
		}
		p.Data = b
	}
	count, err := readLen("authinfo")
	if err != nil {
		return nil, err
	}
	if count < 0 {
		return p, nil
	}
	if count > budget/8 {
		return nil, fmt.Errorf("%w: %d auth ids", ErrQuorumPacketTooLarge, count)
	}
	budget -= 8 * count // each Id costs at least its two length words
	p.AuthInfo = make([]Id, 0, min(count, 16))
	for i := 0; i < count; i++ {
		var id Id
		for j, dst := range []*string{&id.Scheme, &id.ID} {
			l, err := readLen("id")
			if err != nil {
				return nil, err
			}
			if l < 0 {
				continue // null ustring reads as "", as Decoder.Str does
			}
			b, err := readBytes(l, [...]string{"id scheme", "id"}[j])
			if err != nil {
				return nil, err
			}
			*dst = string(b)
		}
		p.AuthInfo = append(p.AuthInfo, id)
	}
	return p, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendQuorumPacket appends p's wire form (no framing) to dst.
func AppendQuorumPacket(dst []byte, p *QuorumPacket) []byte {
	e := Encoder{B: dst}
	p.Encode(&e)
	return e.B
}

// LearnerInfo is the data of FOLLOWERINFO and OBSERVERINFO: 20 bytes.
type LearnerInfo struct {
	ServerID        int64
	ProtocolVersion int32
	ConfigVersion   int64
}

// Encode implements Record.
func (r *LearnerInfo) Encode(e *Encoder) {
	e.Long(r.ServerID)
	e.Int(r.ProtocolVersion)
	e.Long(r.ConfigVersion)
}

// Decode implements Record; it needs all 20 bytes (see ParseLearnerInfo for
// the leader's lenient reading).
func (r *LearnerInfo) Decode(d *Decoder) {
	r.ServerID = d.Long()
	r.ProtocolVersion = d.Int()
	r.ConfigVersion = d.Long()
}

// ParseLearnerInfo reads LearnerInfo the way a leader does: whatever prefix
// is present counts. It returns how many fields were present (1: sid only,
// 2: sid and protocol version, 3: all); fields not present are left zero and
// the caller picks its defaults. Fewer than 8 bytes is an error (no sid).
// Bytes beyond the 20 are ignored.
func ParseLearnerInfo(b []byte) (LearnerInfo, int, error) {
	var li LearnerInfo
	if len(b) < 8 {
		return li, 0, fmt.Errorf("wire: learner info of %d bytes has no server id", len(b))
	}
	li.ServerID = int64(binary.BigEndian.Uint64(b))
	if len(b) < 12 {
		return li, 1, nil
	}
	li.ProtocolVersion = int32(binary.BigEndian.Uint32(b[8:]))
	if len(b) < 20 {
		return li, 2, nil
	}
	li.ConfigVersion = int64(binary.BigEndian.Uint64(b[12:]))
	return li, 3, nil
}

// LeaderInfo is the data of LEADERINFO: the leader's protocol version.
// The packet's zxid is newEpoch<<32.
type LeaderInfo struct {
	ProtocolVersion int32
}

// Encode implements Record.
func (r *LeaderInfo) Encode(e *Encoder) { e.Int(r.ProtocolVersion) }

// Decode implements Record.
func (r *LeaderInfo) Decode(d *Decoder) { r.ProtocolVersion = d.Int() }

// AckEpochNoChange is the AckEpoch.CurrentEpoch a learner sends when the
// proposed epoch equals its accepted epoch (not counted as an epoch ack).
const AckEpochNoChange int32 = -1

// AckEpoch is the data of ACKEPOCH: the learner's current epoch as an int,
// or AckEpochNoChange. The packet's zxid is the learner's last logged zxid.
type AckEpoch struct {
	CurrentEpoch int32
}

// Encode implements Record.
func (r *AckEpoch) Encode(e *Encoder) { e.Int(r.CurrentEpoch) }

// Decode implements Record.
func (r *AckEpoch) Decode(d *Decoder) { r.CurrentEpoch = d.Int() }
