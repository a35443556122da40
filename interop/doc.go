// Package interop holds the on-disk interoperability tests between zkserver
// and Apache ZooKeeper 3.8.0: each server is started on a data directory the
// other one wrote and must serve exactly the same tree (paths, data, ACLs and
// every Stat field); ZooKeeper's own TxnLogToolkit and SnapshotFormatter must
// read zkserver's files; and files ZooKeeper wrote (testdata/) must decode and
// re-encode byte for byte with zkserver's packages.
//
// The process tests need java and /usr/share/java/zookeeper.jar (Debian
// package zookeeper). Without them they skip, unless ZKSERVER_REQUIRE_ZK is
// set (as `make interop` does), in which case they fail.
package interop
