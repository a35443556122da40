package wire

import (
	"errors"
	"fmt"
)

// TxnHeader precedes every transaction (32 bytes).
type TxnHeader struct {
	ClientID int64
	Cxid     int32
	Zxid     int64
	Time     int64
	Type     Op
}

func (r *TxnHeader) Encode(e *Encoder) {
	e.Long(r.ClientID)
	e.Int(r.Cxid)
	e.Long(r.Zxid)
	e.Long(r.Time)
	e.Int(int32(r.Type))
}

func (r *TxnHeader) Decode(d *Decoder) {
	r.ClientID = d.Long()
	r.Cxid = d.Int()
	r.Zxid = d.Long()
	r.Time = d.Long()
	r.Type = Op(d.Int())
}

// Txn is a transaction body; which fields matter depends on Type:
//
//	create/create2  Path Data ACL Ephemeral ParentCVersion
//	createContainer Path Data ACL ParentCVersion
//	createTTL       Path Data ACL ParentCVersion TTL
//	delete, deleteContainer  Path
//	setData, reconfig        Path Data Version (the new version)
//	setACL          Path ACL Version (the new aversion)
//	check           Path Version (only inside multi)
//	createSession   TimeOut
//	closeSession    Paths (ephemerals to delete)
//	error           Err
//	multi           Ops
type Txn struct {
	Type           Op
	Path           string
	Data           []byte
	ACL            []ACL
	Ephemeral      bool
	ParentCVersion int32
	TTL            int64
	Version        int32
	TimeOut        int32
	Err            Err
	Paths          []string
	Ops            []Txn
}

// ErrUnknownTxn is returned when a txn type has no known record.
var ErrUnknownTxn = errors.New("wire: unsupported txn type")

// EncodeBody appends the txn record that follows the TxnHeader.
func (t *Txn) EncodeBody(e *Encoder) {
	switch t.Type {
	case OpCreate, OpCreate2:
		e.Str(t.Path)
		e.Buffer(t.Data)
		EncodeACLs(e, t.ACL)
		e.Bool(t.Ephemeral)
		e.Int(t.ParentCVersion)
	case OpCreateContainer:
		e.Str(t.Path)
		e.Buffer(t.Data)
		EncodeACLs(e, t.ACL)
		e.Int(t.ParentCVersion)
	case OpCreateTTL:
		e.Str(t.Path)
		e.Buffer(t.Data)
		EncodeACLs(e, t.ACL)
		e.Int(t.ParentCVersion)
		e.Long(t.TTL)
	case OpDelete, OpDeleteContainer:
		e.Str(t.Path)
	case OpSetData, OpReconfig:
		e.Str(t.Path)
		e.Buffer(t.Data)
		e.Int(t.Version)
	case OpSetACL:
		e.Str(t.Path)
		EncodeACLs(e, t.ACL)
		e.Int(t.Version)
	case OpCheck:
		e.Str(t.Path)
		e.Int(t.Version)
	case OpCreateSession:
		e.Int(t.TimeOut)
	case OpCloseSession:
		e.Strings(t.Paths)
	case OpError:
		e.Int(int32(t.Err))
	case OpMulti:
		e.Int(int32(len(t.Ops)))
		for i := range t.Ops {
			var sub Encoder
			t.Ops[i].EncodeBody(&sub)
			e.Int(int32(t.Ops[i].Type))
			e.Buffer(sub.B)
		}
	}
}

// DecodeBody reads the txn record of type typ. inMulti allows check, which
// ZooKeeper accepts only inside a multi.
func (t *Txn) DecodeBody(d *Decoder, typ Op, inMulti bool) {
	t.Type = typ
	switch typ {
	case OpCreate, OpCreate2:
		t.Path = d.Str()
		t.Data = d.Buffer()
		t.ACL = DecodeACLs(d)
		t.Ephemeral = d.Bool()
		if d.err == nil && d.Remaining() == 0 && typ == OpCreate {
			// CreateTxnV0 has no parentCVersion.
			t.ParentCVersion = -1
			return
		}
		t.ParentCVersion = d.Int()
	case OpCreateContainer:
		t.Path = d.Str()
		t.Data = d.Buffer()
		t.ACL = DecodeACLs(d)
		t.ParentCVersion = d.Int()
	case OpCreateTTL:
		t.Path = d.Str()
		t.Data = d.Buffer()
		t.ACL = DecodeACLs(d)
		t.ParentCVersion = d.Int()
		t.TTL = d.Long()
	case OpDelete, OpDeleteContainer:
		t.Path = d.Str()
	case OpSetData, OpReconfig:
		t.Path = d.Str()
		t.Data = d.Buffer()
		t.Version = d.Int()
	case OpSetACL:
		t.Path = d.Str()
		t.ACL = DecodeACLs(d)
		t.Version = d.Int()
	case OpCheck:
		if !inMulti {
			d.Fail(fmt.Errorf("%w %d outside multi", ErrUnknownTxn, typ))
			return
		}
		t.Path = d.Str()
		t.Version = d.Int()
	case OpCreateSession:
		t.TimeOut = d.Int()
	case OpCloseSession:
		if d.err == nil && d.Remaining() == 0 {
			return // older logs: no body
		}
		t.Paths = d.Strings()
	case OpError:
		t.Err = Err(d.Int())
	case OpMulti:
		if inMulti {
			d.Fail(fmt.Errorf("%w: nested multi", ErrUnknownTxn))
			return
		}
		n := d.count(8)
		for i := 0; i < n && d.err == nil; i++ {
			st := Op(d.Int())
			body := d.Buffer()
			if d.err != nil {
				return
			}
			var sub Txn
			sd := NewDecoder(body)
			sub.DecodeBody(sd, st, true)
			if sd.err != nil {
				d.Fail(sd.err)
				return
			}
			t.Ops = append(t.Ops, sub)
		}
	default:
		d.Fail(fmt.Errorf("%w %d", ErrUnknownTxn, typ))
	}
}
