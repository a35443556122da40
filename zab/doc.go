// Package zab implements ZooKeeper's atomic broadcast protocol (ZAB) as
// Apache ZooKeeper 3.8 speaks it on the quorum port: discovery (epoch
// agreement and the acceptedEpoch/currentEpoch files), synchronization of
// a learner by DIFF, TRUNC or SNAP from the leader's committed-proposal
// window and txn log, and broadcast of proposals and commits.
//
// The package holds the deterministic cores only (Leader, Learner,
// PlanSync, CommittedLog): packets, ticks and durable-write notices in,
// actions out, with no sockets, files or clocks. Package zabrun is the I/O
// shell that runs them on the quorum port, the txn log, the epoch files
// and the server; the simulator (sim/) runs them on an in-memory network
// and disk.
package zab
