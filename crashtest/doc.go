// Package crashtest holds black-box crash tests for zkserver: the server
// binary is built once, started on a data directory, killed with SIGKILL
// while clients write, restarted, and the recovered state is checked
// against what the clients saw acknowledged. The tests use only the
// binary, the go-zookeeper client and the on-disk txn-log format.
//
// `go test ./crashtest/` runs a bounded number of rounds (CRASH_ROUNDS,
// default 8); `make crash` runs 50. CRASH_SEED replays a logged seed.
package crashtest
