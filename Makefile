GO ?= go
BIN := bin/zkserver
PORT ?= 2181
DATA ?= ./data

.PHONY: build run test test-race fuzz bench bench-deps vet compat-zk zk-deps

build:
	$(GO) build -o $(BIN) ./cmd/zkserver

run: build
	./$(BIN) start --port $(PORT) --data-dir $(DATA)

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed"; exit 1)
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 ./...

# Short fuzz pass over every decoder (FUZZTIME per target).
FUZZTIME ?= 10s
FUZZ_PKGS ?= ./wire/ ./txnlog/ ./snapshot/ ./config/ ./electionrun/ ./zab/ ./zabrun/
fuzz:
	@for p in $(FUZZ_PKGS); do \
		for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "== $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

# Side-by-side benchmark of zkserver, Apache ZooKeeper 3.8.0 (when installed:
# make bench-deps) and zkfake; see bench/README.md. Knobs: BENCH_DURATION,
# BENCH_REPS, BENCH_QUICK=1, ... (listed in bench/run.sh).
bench:
	GO=$(GO) bench/run.sh

# Ensembles only (3-node zkserver vs 3-node ZooKeeper: throughput, leader
# failover); the standalone results in bench/results/latest.jsonl are kept.
# (BENCH_ENSEMBLE=0 make bench skips the ensemble part.)
.PHONY: bench-ensemble
bench-ensemble:
	BENCH_STANDALONE=0 GO=$(GO) bench/run.sh

bench-deps:
	@if [ -f /usr/share/java/zookeeper.jar ]; then echo "zookeeper package present"; else \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper; fi

# Black-box compatibility tests against Apache ZooKeeper 3.8.0 (the oracle),
# started on the first free loopback port >= ZK_ORACLE_PORT and always stopped.
ZK_ORACLE_PORT ?= 21810
compat-zk:
	@port=$$(scripts/zk-oracle.sh freeport $(ZK_ORACLE_PORT)) || exit 1; \
	dir=$$(mktemp -d /tmp/zk-oracle.XXXXXX); \
	scripts/zk-oracle.sh start $$dir $$port || { scripts/zk-oracle.sh stop $$dir; rm -rf $$dir; exit 1; }; \
	trap 'scripts/zk-oracle.sh stop '$$dir INT TERM; \
	ZK_ADDR=127.0.0.1:$$port $(GO) test -count=1 ./compat-tests/...; rc=$$?; \
	scripts/zk-oracle.sh stop $$dir; \
	if [ $$rc -ne 0 ]; then echo "oracle log: $$dir/zk.log"; else rm -rf $$dir; fi; \
	exit $$rc

# On-disk interoperability with Apache ZooKeeper 3.8.0 (interop/): each server
# is started on a data directory the other wrote and must serve the identical
# tree; ZooKeeper's TxnLogToolkit and SnapshotFormatter must read our files.
# Installs the Debian zookeeper package when its jar is missing; with
# ZKSERVER_REQUIRE_ZK=1 the tests fail instead of skipping without java.
.PHONY: interop
interop:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
		echo "interop: /usr/share/java/zookeeper.jar missing; installing the Debian zookeeper package"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper || exit 1; \
		[ -f /usr/share/java/zookeeper.jar ] || { echo "interop: jar still missing after install"; exit 1; }; \
	fi
	ZKSERVER_REQUIRE_ZK=1 $(GO) test -count=1 -v ./interop/

# Crash tests: SIGKILL the durable server under concurrent writers and check
# that every acknowledged write survives (CRASH_SEED=<n> replays a run).
CRASH_ROUNDS ?= 50
.PHONY: crash
crash:
	CRASH_ROUNDS=$(CRASH_ROUNDS) $(GO) test -count=1 -run Kill -v ./crashtest/

# Real-process ensemble tests (ensembletest/): 3- and 5-node zkserver
# ensembles on loopback under kill -9, SIGSTOP/SIGCONT and proxy-made
# partitions, with linearizability (porcupine) and convergence checks.
# ENSEMBLE_RUN selects scenarios (a go test -run pattern); ENSEMBLE_SEED
# replays the client workload choices.
ENSEMBLE_RUN ?= .
.PHONY: ensemble-test
ensemble-test:
	ZKSERVER_ENSEMBLE=1 $(GO) test -count=1 -timeout 30m -v -run '$(ENSEMBLE_RUN)' ./ensembletest/

# A 3-node ensemble on loopback (clients on 2181-2183), data under $(DATA)/ensemble.
.PHONY: run-ensemble
run-ensemble: build
	BIN=$(BIN) DATA=$(DATA) scripts/run-ensemble.sh

# Seeded deterministic simulation of election and ZAB (sim/); SEEDS seeds.
SEEDS ?= 1000
.PHONY: sim
sim:
	SIM_SEEDS=$(SEEDS) $(GO) test -count=1 ./sim/ -run TestSim

# Mixed ensembles with Apache ZooKeeper 3.8.0 (mixedtest/): a zkserver joining
# ZooKeeper servers and the reverse, sync by DIFF/SNAP/TRUNC, elections won by
# either kind, byte-identical txn logs. Installs the zookeeper package if needed.
.PHONY: mixed-test
mixed-test:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper || exit 1; \
	fi
	ZKSERVER_MIXED=1 ZKSERVER_REQUIRE_ZK=1 $(GO) test -race -count=1 -timeout 15m ./mixedtest/

# AdminServer (admin/): every command's JSON shape against Apache ZooKeeper
# 3.8.0's AdminServer, standalone and as leader, follower and observer of a
# 3-server ensemble of each (make test runs the standalone part only).
.PHONY: admin-test
admin-test:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper || exit 1; \
	fi
	ZKSERVER_ADMIN_ENSEMBLE=1 ZKSERVER_REQUIRE_ZK=1 $(GO) test -race -count=1 -timeout 10m -v ./admin/

# SASL DIGEST-MD5 (sasl/): ZooKeeper's Java client, kazoo and raw good and
# bad SASL exchanges against zkserver and Apache ZooKeeper 3.8.0 configured
# the same way (JAAS Server section, SASLAuthenticationProvider); the
# answers must match. Installs zookeeper, python3-kazoo and
# python3-pure-sasl when missing (Debian packages).
.PHONY: sasl-interop
sasl-interop:
	@if [ ! -f /usr/share/java/zookeeper.jar ] || ! /usr/bin/python3 -c 'import kazoo, puresasl' 2>/dev/null; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper python3-kazoo python3-pure-sasl || exit 1; \
	fi
	ZKSERVER_SASL_INTEROP=1 ZKSERVER_REQUIRE_ZK=1 $(GO) test -count=1 -timeout 10m -v -run 'Test(SASL|Sasl)' ./sasl/

# make fuzz also covers the SASL token and JAAS parsers.
FUZZ_PKGS += ./sasl/

# The compatibility and kill -9 crash tests against a server in pebble mode
# (storageEngine=pebble); make test runs them in memory mode.
.PHONY: compat-pebble
compat-pebble:
	ZKSERVER_STORAGE=pebble $(GO) test -count=1 ./compat-tests/... ./crashtest/...

# Ensembles in pebble mode: real-process ensembles under kill -9, SIGSTOP
# and partitions (ensembletest/), and zkserver members synced by DIFF/SNAP/
# TRUNC from and to Apache ZooKeeper 3.8.0 (mixedtest/), with every
# zkserver on storageEngine=pebble. Installs zookeeper when missing.
ENSEMBLE_PEBBLE_RUN ?= 3$$
MIXED_PEBBLE_RUN ?= TestFollowerSync|TestZKFollowerSyncsFromGo|TestWritesThroughFailover
.PHONY: ensemble-pebble
ensemble-pebble:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper || exit 1; \
	fi
	ZKSERVER_STORAGE=pebble ZKSERVER_ENSEMBLE=1 $(GO) test -count=1 -timeout 20m -v -run '$(ENSEMBLE_PEBBLE_RUN)' ./ensembletest/
	ZKSERVER_STORAGE=pebble ZKSERVER_MIXED=1 ZKSERVER_REQUIRE_ZK=1 $(GO) test -count=1 -timeout 15m -run '$(MIXED_PEBBLE_RUN)' ./mixedtest/

# Client and quorum TLS (tlstest/): ZooKeeper's Java client over netty,
# kazoo with use_ssl, and mixed ensembles with Apache ZooKeeper 3.8.0 and
# sslQuorum=true (the go-zookeeper TLS tests run in make test). Installs
# zookeeper, a JDK (javac) and python3-kazoo when missing.
.PHONY: tls-interop
tls-interop:
	@if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v javac >/dev/null || ! /usr/bin/python3 -c 'import kazoo' 2>/dev/null; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper default-jdk-headless python3-kazoo || exit 1; \
	fi
	ZKSERVER_TLS_INTEROP=1 ZKSERVER_REQUIRE_ZK=1 $(GO) test -race -count=1 -timeout 10m ./tlstest/

# the TLS store and name decoders join the short fuzz pass
FUZZ_PKGS += ./tlsconf/
