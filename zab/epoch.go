package zab

// Epoch files in the snapshot directory (dataDir/version-2), as ZooKeeper
// names them.
const (
	AcceptedEpochFile = "acceptedEpoch"
	CurrentEpochFile  = "currentEpoch"
)
