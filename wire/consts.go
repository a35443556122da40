package wire

import "fmt"

// Op is a request opcode (ZooDefs.OpCode) or txn type.
type Op int32

// Opcodes and txn types.
const (
	OpNotification         Op = 0
	OpCreate               Op = 1
	OpDelete               Op = 2
	OpExists               Op = 3
	OpGetData              Op = 4
	OpSetData              Op = 5
	OpGetACL               Op = 6
	OpSetACL               Op = 7
	OpGetChildren          Op = 8
	OpSync                 Op = 9
	OpPing                 Op = 11
	OpGetChildren2         Op = 12
	OpCheck                Op = 13
	OpMulti                Op = 14
	OpCreate2              Op = 15
	OpReconfig             Op = 16
	OpCheckWatches         Op = 17
	OpRemoveWatches        Op = 18
	OpCreateContainer      Op = 19
	OpDeleteContainer      Op = 20
	OpCreateTTL            Op = 21
	OpMultiRead            Op = 22
	OpAuth                 Op = 100
	OpSetWatches           Op = 101
	OpSASL                 Op = 102
	OpGetEphemerals        Op = 103
	OpGetAllChildrenNumber Op = 104
	OpSetWatches2          Op = 105
	OpAddWatch             Op = 106
	OpWhoAmI               Op = 107
	OpCreateSession        Op = -10
	OpCloseSession         Op = -11
	OpError                Op = -1
)

var opNames = map[Op]string{
	OpNotification: "notification", OpCreate: "create", OpDelete: "delete", OpExists: "exists",
	OpGetData: "getData", OpSetData: "setData", OpGetACL: "getACL", OpSetACL: "setACL",
	OpGetChildren: "getChildren", OpSync: "sync", OpPing: "ping", OpGetChildren2: "getChildren2",
	OpCheck: "check", OpMulti: "multi", OpCreate2: "create2", OpReconfig: "reconfig",
	OpCheckWatches: "checkWatches", OpRemoveWatches: "removeWatches",
	OpCreateContainer: "createContainer", OpDeleteContainer: "deleteContainer",
	OpCreateTTL: "createTTL", OpMultiRead: "multiRead", OpAuth: "auth", OpSetWatches: "setWatches",
	OpSASL: "sasl", OpGetEphemerals: "getEphemerals", OpGetAllChildrenNumber: "getAllChildrenNumber",
	OpSetWatches2: "setWatches2", OpAddWatch: "addWatch", OpWhoAmI: "whoAmI",
	OpCreateSession: "createSession", OpCloseSession: "closeSession", OpError: "error",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", int32(o))
}

// Known reports whether o is an opcode ZooKeeper recognises.
func (o Op) Known() bool { _, ok := opNames[o]; return ok }

// Special xids.
const (
	XidNotification int32 = -1
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// Err is a KeeperException code.
type Err int32

// KeeperException codes (identical in 3.8 and 3.9).
const (
	ErrOK                           Err = 0
	ErrSystemError                  Err = -1
	ErrRuntimeInconsistency         Err = -2
	ErrDataInconsistency            Err = -3
	ErrConnectionLoss               Err = -4
	ErrMarshallingError             Err = -5
	ErrUnimplemented                Err = -6
	ErrOperationTimeout             Err = -7
	ErrBadArguments                 Err = -8
	ErrUnknownSession               Err = -12
	ErrNewConfigNoQuorum            Err = -13
	ErrReconfigInProgress           Err = -14
	ErrAPIError                     Err = -100
	ErrNoNode                       Err = -101
	ErrNoAuth                       Err = -102
	ErrBadVersion                   Err = -103
	ErrNoChildrenForEphemerals      Err = -108
	ErrNodeExists                   Err = -110
	ErrNotEmpty                     Err = -111
	ErrSessionExpired               Err = -112
	ErrInvalidCallback              Err = -113
	ErrInvalidACL                   Err = -114
	ErrAuthFailed                   Err = -115
	ErrSessionMoved                 Err = -118
	ErrNotReadOnly                  Err = -119
	ErrEphemeralOnLocalSession      Err = -120
	ErrNoWatcher                    Err = -121
	ErrRequestTimeout               Err = -122
	ErrReconfigDisabled             Err = -123
	ErrSessionClosedRequireSASLAuth Err = -124
	ErrQuotaExceeded                Err = -125
	ErrThrottledOp                  Err = -127
)

var errNames = map[Err]string{
	ErrOK: "OK", ErrSystemError: "SYSTEMERROR", ErrRuntimeInconsistency: "RUNTIMEINCONSISTENCY",
	ErrDataInconsistency: "DATAINCONSISTENCY", ErrConnectionLoss: "CONNECTIONLOSS",
	ErrMarshallingError: "MARSHALLINGERROR", ErrUnimplemented: "UNIMPLEMENTED",
	ErrOperationTimeout: "OPERATIONTIMEOUT", ErrBadArguments: "BADARGUMENTS",
	ErrUnknownSession: "UNKNOWNSESSION", ErrNewConfigNoQuorum: "NEWCONFIGNOQUORUM",
	ErrReconfigInProgress: "RECONFIGINPROGRESS", ErrAPIError: "APIERROR", ErrNoNode: "NONODE",
	ErrNoAuth: "NOAUTH", ErrBadVersion: "BADVERSION", ErrNoChildrenForEphemerals: "NOCHILDRENFOREPHEMERALS",
	ErrNodeExists: "NODEEXISTS", ErrNotEmpty: "NOTEMPTY", ErrSessionExpired: "SESSIONEXPIRED",
	ErrInvalidCallback: "INVALIDCALLBACK", ErrInvalidACL: "INVALIDACL", ErrAuthFailed: "AUTHFAILED",
	ErrSessionMoved: "SESSIONMOVED", ErrNotReadOnly: "NOTREADONLY",
	ErrEphemeralOnLocalSession: "EPHEMERALONLOCALSESSION", ErrNoWatcher: "NOWATCHER",
	ErrRequestTimeout: "REQUESTTIMEOUT", ErrReconfigDisabled: "RECONFIGDISABLED",
	ErrSessionClosedRequireSASLAuth: "SESSIONCLOSEDREQUIRESASLAUTH", ErrQuotaExceeded: "QUOTAEXCEEDED",
	ErrThrottledOp: "THROTTLEDOP",
}

func (e Err) Error() string {
	if s, ok := errNames[e]; ok {
		return s
	}
	return fmt.Sprintf("KeeperErr(%d)", int32(e))
}

// Watch event types (Watcher.Event.EventType).
const (
	EventNone                   int32 = -1
	EventNodeCreated            int32 = 1
	EventNodeDeleted            int32 = 2
	EventNodeDataChanged        int32 = 3
	EventNodeChildrenChanged    int32 = 4
	EventDataWatchRemoved       int32 = 5
	EventChildWatchRemoved      int32 = 6
	EventPersistentWatchRemoved int32 = 7
)

// StateSyncConnected is the only keeper state the server sends.
const StateSyncConnected int32 = 3

// WatcherType values for checkWatches/removeWatches.
const (
	WatcherChildren            int32 = 1
	WatcherData                int32 = 2
	WatcherAny                 int32 = 3
	WatcherPersistent          int32 = 4
	WatcherPersistentRecursive int32 = 5
)

// AddWatch modes.
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// Permissions (ZooDefs.Perms).
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// Create flags (CreateMode).
const (
	FlagPersistent              int32 = 0
	FlagEphemeral               int32 = 1
	FlagPersistentSequential    int32 = 2
	FlagEphemeralSequential     int32 = 3
	FlagContainer               int32 = 4
	FlagPersistentWithTTL       int32 = 5
	FlagPersistentSequentialTTL int32 = 6
)

// Special ephemeralOwner values stored for containers and TTL nodes.
const (
	ContainerEphemeralOwner int64 = -0x8000000000000000
	TTLMask                 int64 = -0x0100000000000000 // 0xFF00000000000000
	MaxTTL                  int64 = 0x000000FFFFFFFFFF
)
