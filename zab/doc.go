// Package zab implements ZooKeeper's atomic broadcast protocol (ZAB) as
// Apache ZooKeeper 3.8 speaks it on the quorum port: discovery (epoch
// agreement and the acceptedEpoch/currentEpoch files), synchronization of
// a learner by DIFF, TRUNC or SNAP from the leader's committed-proposal
// window and txn log, and broadcast of proposals and commits.
package zab
