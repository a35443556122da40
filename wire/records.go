package wire

// Id is an ACL identity: scheme and id.
type Id struct {
	Scheme string
	ID     string
}

func (r *Id) Encode(e *Encoder) { e.Str(r.Scheme); e.Str(r.ID) }
func (r *Id) Decode(d *Decoder) { r.Scheme = d.Str(); r.ID = d.Str() }

// ACL is one access control entry.
type ACL struct {
	Perms int32
	Id
}

func (r *ACL) Encode(e *Encoder) { e.Int(r.Perms); r.Id.Encode(e) }
func (r *ACL) Decode(d *Decoder) { r.Perms = d.Int(); r.Id.Decode(d) }

// EncodeACLs appends a vector<ACL>; nil is written as null.
func EncodeACLs(e *Encoder, acls []ACL) {
	if acls == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(acls)))
	for i := range acls {
		acls[i].Encode(e)
	}
}

// DecodeACLs reads a vector<ACL>; null reads as nil.
func DecodeACLs(d *Decoder) []ACL {
	n := d.count(12)
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]ACL, n)
	for i := range out {
		out[i].Decode(d)
	}
	return out
}

// Stat is a znode's status as clients see it (68 bytes).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

func (r *Stat) Encode(e *Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Int(r.DataLength)
	e.Int(r.NumChildren)
	e.Long(r.Pzxid)
}

func (r *Stat) Decode(d *Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.DataLength = d.Int()
	r.NumChildren = d.Int()
	r.Pzxid = d.Long()
}

// ConnectRequest is the first frame a client sends. HasReadOnly records
// whether the optional trailing readOnly byte was present.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectRequest) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.HasReadOnly = d.err == nil && d.Remaining() > 0
	if r.HasReadOnly {
		r.ReadOnly = d.Bool()
	}
}

// ConnectResponse answers a ConnectRequest.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectResponse) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.HasReadOnly = d.err == nil && d.Remaining() > 0
	if r.HasReadOnly {
		r.ReadOnly = d.Bool()
	}
}

// RequestHeader precedes every request after the handshake.
type RequestHeader struct {
	Xid  int32
	Type Op
}

func (r *RequestHeader) Encode(e *Encoder) { e.Int(r.Xid); e.Int(int32(r.Type)) }
func (r *RequestHeader) Decode(d *Decoder) { r.Xid = d.Int(); r.Type = Op(d.Int()) }

// ReplyHeader precedes every reply after the handshake.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Err
}

func (r *ReplyHeader) Encode(e *Encoder) { e.Int(r.Xid); e.Long(r.Zxid); e.Int(int32(r.Err)) }
func (r *ReplyHeader) Decode(d *Decoder) { r.Xid = d.Int(); r.Zxid = d.Long(); r.Err = Err(d.Int()) }

// PathRequest is a request holding only a path (getACL, sync,
// getAllChildrenNumber, getEphemerals; also SyncResponse and CreateResponse).
type PathRequest struct {
	Path string
}

func (r *PathRequest) Encode(e *Encoder) { e.Str(r.Path) }
func (r *PathRequest) Decode(d *Decoder) { r.Path = d.Str() }

// PathWatchRequest is exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

func (r *PathWatchRequest) Encode(e *Encoder) { e.Str(r.Path); e.Bool(r.Watch) }
func (r *PathWatchRequest) Decode(d *Decoder) { r.Path = d.Str(); r.Watch = d.Bool() }

// CreateRequest is create, create2, createContainer and (with TTL set by
// DecodeTTL) createTTL.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64 // only for createTTL; -1 otherwise
}

func (r *CreateRequest) Encode(e *Encoder) {
	e.Str(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
}

func (r *CreateRequest) Decode(d *Decoder) {
	r.Path = d.Str()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int()
	r.TTL = -1
}

// CreateTTLRequest is the createTTL body: a CreateRequest plus a ttl.
type CreateTTLRequest struct{ CreateRequest }

func (r *CreateTTLRequest) Encode(e *Encoder) { r.CreateRequest.Encode(e); e.Long(r.TTL) }
func (r *CreateTTLRequest) Decode(d *Decoder) { r.CreateRequest.Decode(d); r.TTL = d.Long() }

// PathVersionRequest is delete and check.
type PathVersionRequest struct {
	Path    string
	Version int32
}

func (r *PathVersionRequest) Encode(e *Encoder) { e.Str(r.Path); e.Int(r.Version) }
func (r *PathVersionRequest) Decode(d *Decoder) { r.Path = d.Str(); r.Version = d.Int() }

// SetDataRequest sets a znode's data.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataRequest) Encode(e *Encoder) { e.Str(r.Path); e.Buffer(r.Data); e.Int(r.Version) }
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path = d.Str()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// SetACLRequest replaces a znode's ACL.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLRequest) Encode(e *Encoder) { e.Str(r.Path); EncodeACLs(e, r.ACL); e.Int(r.Version) }
func (r *SetACLRequest) Decode(d *Decoder) {
	r.Path = d.Str()
	r.ACL = DecodeACLs(d)
	r.Version = d.Int()
}

// AuthPacket adds an auth id to the connection.
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (r *AuthPacket) Encode(e *Encoder) { e.Int(r.Type); e.Str(r.Scheme); e.Buffer(r.Auth) }
func (r *AuthPacket) Decode(d *Decoder) { r.Type = d.Int(); r.Scheme = d.Str(); r.Auth = d.Buffer() }

// SetWatches is setWatches (V2 false) and setWatches2 (V2 true).
type SetWatches struct {
	RelativeZxid     int64
	DataWatches      []string
	ExistWatches     []string
	ChildWatches     []string
	PersistentWatch  []string
	PersistentRecurs []string
	V2               bool
}

func (r *SetWatches) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	if r.V2 {
		e.Strings(r.PersistentWatch)
		e.Strings(r.PersistentRecurs)
	}
}

func (r *SetWatches) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	if r.V2 {
		r.PersistentWatch = d.Strings()
		r.PersistentRecurs = d.Strings()
	}
}

// PathModeRequest is addWatch (mode), checkWatches and removeWatches (type).
type PathModeRequest struct {
	Path string
	Mode int32
}

func (r *PathModeRequest) Encode(e *Encoder) { e.Str(r.Path); e.Int(r.Mode) }
func (r *PathModeRequest) Decode(d *Decoder) { r.Path = d.Str(); r.Mode = d.Int() }

// ReconfigRequest is the reconfig body.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

func (r *ReconfigRequest) Encode(e *Encoder) {
	e.Str(r.JoiningServers)
	e.Str(r.LeavingServers)
	e.Str(r.NewMembers)
	e.Long(r.CurConfigID)
}

func (r *ReconfigRequest) Decode(d *Decoder) {
	r.JoiningServers = d.Str()
	r.LeavingServers = d.Str()
	r.NewMembers = d.Str()
	r.CurConfigID = d.Long()
}

// BufferRecord is a record holding one buffer (GetSASLRequest, SetSASLResponse).
type BufferRecord struct{ Data []byte }

func (r *BufferRecord) Encode(e *Encoder) { e.Buffer(r.Data) }
func (r *BufferRecord) Decode(d *Decoder) { r.Data = d.Buffer() }

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (r *WatcherEvent) Encode(e *Encoder) { e.Int(r.Type); e.Int(r.State); e.Str(r.Path) }
func (r *WatcherEvent) Decode(d *Decoder) { r.Type = d.Int(); r.State = d.Int(); r.Path = d.Str() }

// StatResponse is ExistsResponse, SetDataResponse and SetACLResponse.
type StatResponse struct{ Stat Stat }

func (r *StatResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *StatResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// Create2Response is the reply of create2, createContainer and createTTL.
type Create2Response struct {
	Path string
	Stat Stat
}

func (r *Create2Response) Encode(e *Encoder) { e.Str(r.Path); r.Stat.Encode(e) }
func (r *Create2Response) Decode(d *Decoder) { r.Path = d.Str(); r.Stat.Decode(d) }

// GetDataResponse carries data and its Stat.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (r *GetDataResponse) Encode(e *Encoder) { e.Buffer(r.Data); r.Stat.Encode(e) }
func (r *GetDataResponse) Decode(d *Decoder) { r.Data = d.Buffer(); r.Stat.Decode(d) }

// ChildrenResponse is getChildren (WithStat false), getChildren2 (true),
// and, without a Stat, getEphemerals.
type ChildrenResponse struct {
	Children []string
	Stat     Stat
	WithStat bool
}

func (r *ChildrenResponse) Encode(e *Encoder) {
	e.Strings(r.Children)
	if r.WithStat {
		r.Stat.Encode(e)
	}
}

func (r *ChildrenResponse) Decode(d *Decoder) {
	r.Children = d.Strings()
	if r.WithStat {
		r.Stat.Decode(d)
	}
}

// GetACLResponse carries an ACL and the node's Stat.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (r *GetACLResponse) Encode(e *Encoder) { EncodeACLs(e, r.ACL); r.Stat.Encode(e) }
func (r *GetACLResponse) Decode(d *Decoder) { r.ACL = DecodeACLs(d); r.Stat.Decode(d) }

// IntRecord is a record of one int (ErrorResponse, GetAllChildrenNumberResponse,
// CreateSessionTxn, ErrorTxn).
type IntRecord struct{ V int32 }

func (r *IntRecord) Encode(e *Encoder) { e.Int(r.V) }
func (r *IntRecord) Decode(d *Decoder) { r.V = d.Int() }

// ClientInfo is one entry of a whoAmI reply.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// WhoAmIResponse lists the connection's auth ids.
type WhoAmIResponse struct{ Info []ClientInfo }

func (r *WhoAmIResponse) Encode(e *Encoder) {
	e.Int(int32(len(r.Info)))
	for _, c := range r.Info {
		e.Str(c.AuthScheme)
		e.Str(c.User)
	}
}

func (r *WhoAmIResponse) Decode(d *Decoder) {
	n := d.count(8)
	for i := 0; i < n && d.err == nil; i++ {
		r.Info = append(r.Info, ClientInfo{AuthScheme: d.Str(), User: d.Str()})
	}
}

// MultiHeader precedes each op in a multi request or response.
type MultiHeader struct {
	Type Op
	Done bool
	Err  Err
}

func (r *MultiHeader) Encode(e *Encoder) { e.Int(int32(r.Type)); e.Bool(r.Done); e.Int(int32(r.Err)) }
func (r *MultiHeader) Decode(d *Decoder) {
	r.Type = Op(d.Int())
	r.Done = d.Bool()
	r.Err = Err(d.Int())
}
