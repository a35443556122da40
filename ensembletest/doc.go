// Package ensembletest runs real zkserver processes as 3- and 5-node
// ensembles on loopback and checks what ZAB promises under kill -9,
// SIGSTOP/SIGCONT and network partitions (made by in-process TCP proxies
// placed between the peers' quorum and election ports), with clients of
// github.com/go-zookeeper/zk writing throughout: write histories are
// linearizable (porcupine), acknowledged creates exist on every server at
// the end, sequential names never repeat, reads after sync see the writes
// completed before the sync began, and all servers converge to one tree.
//
// The package has only tests. TestSmoke runs in `make test`; the long
// scenarios run when ZKSERVER_ENSEMBLE=1 (`make ensemble-test`).
// ENSEMBLE_SEED=<n> replays a scenario's client workload choices.
package ensembletest
