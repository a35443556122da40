package wire

import "errors"

// ErrBadMulti is returned for a multi record ZooKeeper would refuse to decode.
var ErrBadMulti = errors.New("wire: invalid multi op")

// MultiOp is one operation of a multi or multiRead request. Create ops are
// normalised as ZooKeeper does while decoding: createTTL for TTL flags,
// createContainer for the container flag, create otherwise (so create2 in a
// multi is answered as create).
type MultiOp struct {
	Type    Op
	Create  CreateRequest      // create, createContainer, createTTL
	Version PathVersionRequest // delete, check
	SetData SetDataRequest     // setData
	Read    PathWatchRequest   // getData, getChildren (multiRead)
}

// Path is the path the op addresses.
func (o *MultiOp) Path() string {
	switch o.Type {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		return o.Create.Path
	case OpDelete, OpCheck:
		return o.Version.Path
	case OpSetData:
		return o.SetData.Path
	default:
		return o.Read.Path
	}
}

// MultiRequest is the MultiOperationRecord: ops each behind a MultiHeader,
// ended by a header with done set.
type MultiRequest struct {
	Ops []MultiOp
}

func (r *MultiRequest) Encode(e *Encoder) {
	for i := range r.Ops {
		op := &r.Ops[i]
		h := MultiHeader{Type: op.Type, Err: -1}
		h.Encode(e)
		switch op.Type {
		case OpCreate, OpCreate2, OpCreateContainer:
			op.Create.Encode(e)
		case OpCreateTTL:
			(&CreateTTLRequest{op.Create}).Encode(e)
		case OpDelete, OpCheck:
			op.Version.Encode(e)
		case OpSetData:
			op.SetData.Encode(e)
		default:
			op.Read.Encode(e)
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

func (r *MultiRequest) Decode(d *Decoder) {
	var writes, reads bool
	for d.err == nil {
		var h MultiHeader
		h.Decode(d)
		if d.err != nil || h.Done {
			return
		}
		var op MultiOp
		op.Type = h.Type
		switch h.Type {
		case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
			if h.Type == OpCreateTTL {
				var t CreateTTLRequest
				t.Decode(d)
				op.Create = t.CreateRequest
			} else {
				op.Create.Decode(d)
			}
			switch op.Create.Flags {
			case FlagPersistentWithTTL, FlagPersistentSequentialTTL:
				op.Type = OpCreateTTL
			case FlagContainer:
				op.Type = OpCreateContainer
				op.Create.TTL = -1
			default:
				op.Type = OpCreate
				op.Create.TTL = -1 // a ttl sent with non-TTL flags is dropped
			}
			writes = true
		case OpDelete, OpCheck:
			op.Version.Decode(d)
			writes = true
		case OpSetData:
			op.SetData.Decode(d)
			writes = true
		case OpGetData, OpGetChildren:
			op.Read.Decode(d)
			reads = true
		default:
			d.Fail(ErrBadMulti)
			return
		}
		if writes && reads {
			d.Fail(ErrBadMulti)
			return
		}
		r.Ops = append(r.Ops, op)
	}
}

// MultiResult is one op's result in a MultiResponse.
type MultiResult struct {
	Type     Op // OpError (-1) for a failed op
	Err      Err
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiResponse is the reply to multi and multiRead.
type MultiResponse struct {
	Results []MultiResult
}

func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		h := MultiHeader{Type: res.Type, Err: res.Err}
		if res.Type == OpError {
			h.Err = res.Err
		} else {
			h.Err = 0
		}
		h.Encode(e)
		switch res.Type {
		case OpCreate:
			e.Str(res.Path)
		case OpCreate2:
			(&Create2Response{Path: res.Path, Stat: res.Stat}).Encode(e)
		case OpSetData:
			res.Stat.Encode(e)
		case OpGetData:
			(&GetDataResponse{Data: res.Data, Stat: res.Stat}).Encode(e)
		case OpGetChildren:
			e.Strings(res.Children)
		case OpError:
			e.Int(int32(res.Err))
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

func (r *MultiResponse) Decode(d *Decoder) {
	for d.err == nil {
		var h MultiHeader
		h.Decode(d)
		if d.err != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type, Err: h.Err}
		switch h.Type {
		case OpCreate:
			res.Path = d.Str()
		case OpCreate2:
			res.Path = d.Str()
			res.Stat.Decode(d)
		case OpSetData:
			res.Stat.Decode(d)
		case OpGetData:
			res.Data = d.Buffer()
			res.Stat.Decode(d)
		case OpGetChildren:
			res.Children = d.Strings()
		case OpError:
			res.Err = Err(d.Int())
		case OpDelete, OpCheck:
		default:
			d.Fail(ErrBadMulti)
			return
		}
		r.Results = append(r.Results, res)
	}
}
