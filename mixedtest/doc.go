// Package mixedtest runs mixed ensembles of zkserver and Apache ZooKeeper
// 3.8.0 (QuorumPeerMain from /usr/share/java) on loopback: a zkserver
// follower syncing from a ZooKeeper leader by DIFF, SNAP and TRUNC,
// ZooKeeper followers under a zkserver leader (their txn logs read by
// ZooKeeper's TxnLogToolkit), and elections with the leader killed where
// both kinds win. Every check compares what go-zookeeper clients see on
// every server: paths, data, ACLs and every Stat field.
//
// The tests skip without java or the jar unless ZKSERVER_REQUIRE_ZK is set;
// then they fail:
//
//	ZKSERVER_REQUIRE_ZK=1 go test -count=1 -v ./mixedtest/
//
// MIXEDTEST_DEBUG=1 starts zkserver with --log-level debug (every quorum
// packet logged); node logs are printed when a test fails.
package mixedtest
