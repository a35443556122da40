#!/usr/bin/env bash
# bench/storage.sh: the storage benchmark of issue 7. zkserver in memory
# mode, zkserver in Pebble mode (storageEngine=pebble) and Apache ZooKeeper
# 3.8.0, one at a time, each on a fresh data dir per tree size:
#
#   1. load N znodes of 100 B (zkbench -workload load: 4 sessions × 64
#      requests in flight), VmRSS;
#   2. create / set / get / get-hot at 1, 16, 64 clients on the loaded tree
#      (zkbench -tree N: set and get on loaded znodes spread uniformly over
#      the tree, get-hot over BENCH_STORAGE_HOT of them evenly spaced,
#      creates under the loaded bucket parents), VmRSS;
#   3. 1,000 more znodes (the last of them is "the last-written znode"),
#      the data dir's size, kill -9, restart on the same data dir timed from
#      exec until ruok and a getData of that znode succeed, VmRSS.
#
# bench/run.sh runs it last (BENCH_STORAGE=0 skips it, BENCH_STORAGE_ONLY=1
# runs only it); alone: bench/storage.sh (builds bin/zkserver, bin/zkbench).
# Results: $BENCH_OUT/storage.md and storage.jsonl (default bench/results).
#
# Knobs (environment):
#   BENCH_STORAGE_SIZES="1000000 10000000"  tree sizes (BENCH_QUICK=1: 100000)
#   BENCH_STORAGE_KINDS="zkserver-memory zkserver-pebble zookeeper"
#   BENCH_STORAGE_WORKLOADS="create set get get-hot"
#   BENCH_CLIENTS="1 16 64"
#   BENCH_STORAGE_DURATION=3s  BENCH_STORAGE_WARMUP=1s   per workload run
#   BENCH_STORAGE_RUNS=3       runs of every workload and client count, in
#                              rounds (all workloads, then again); the report
#                              gives medians (BENCH_QUICK=1: 1)
#   BENCH_STORAGE_HOT=10000    get-hot's working set (znodes)
#   BENCH_STORAGE_ZK_HEAP=auto ZooKeeper's -Xmx: auto = 1 GiB + 1.5 KiB per
#                              znode (at least 2 GiB); a fixed value (e.g. 4g)
#                              skips the sizes it cannot hold (1 KiB per znode
#                              + 512 MiB, an estimate)
#   BENCH_PEBBLE_CACHE_MB      pebbleCacheSizeMB (default: the server's, 256)
#   BENCH_ZKSERVER_REV=HEAD    measure zkserver as committed at this revision
#                              (built from git archive; default: the checkout)
#   BENCH_TMPDIR=/tmp  BENCH_OUT=bench/results  BENCH_KEEP=1 (keep the temp dir)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
if [ -z "${BENCH:-}" ] || [ -z "${ZKS_BIN:-}" ]; then
	mkdir -p bin
	$GO build -o bin/zkserver ./cmd/zkserver
	$GO build -o bin/zkbench ./cmd/zkbench
	BENCH=$ROOT/bin/zkbench
	ZKS_BIN=$ROOT/bin/zkserver
fi
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes in the shared checkout)" || true)
REV=${BENCH_ZKSERVER_REV:-}
if [ -n "$REV" ]; then
	# zkserver exactly as committed at REV (the checkout may hold others'
	# unfinished edits): built from `git archive` in a temp dir.
	src=$(mktemp -d "${TMPDIR:-/tmp}/zkserver-src.XXXXXX")
	git archive "$REV" | tar -x -C "$src"
	(cd "$src" && $GO build -o "$ROOT/bin/zkserver-storage" ./cmd/zkserver)
	rm -rf "$src"
	ZKS_BIN=$ROOT/bin/zkserver-storage
	git_rev="$(git rev-parse --short "$REV") (zkserver built from git archive $REV)"
	git_dirty=
fi
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SIZES=${BENCH_STORAGE_SIZES:-100000}
else
	SIZES=${BENCH_STORAGE_SIZES:-1000000 10000000}
fi
KINDS=${BENCH_STORAGE_KINDS:-zkserver-memory zkserver-pebble zookeeper}
WORKLOADS=${BENCH_STORAGE_WORKLOADS:-create set get get-hot}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
DURATION=${BENCH_STORAGE_DURATION:-3s}
WARMUP=${BENCH_STORAGE_WARMUP:-1s}
RUNS=${BENCH_STORAGE_RUNS:-3}
if [ -n "${BENCH_QUICK:-}" ] && [ -z "${BENCH_STORAGE_RUNS:-}" ]; then RUNS=1; fi
HOT=${BENCH_STORAGE_HOT:-10000}
ZK_HEAP=${BENCH_STORAGE_ZK_HEAP:-auto}
PEBBLE_CACHE_MB=${BENCH_PEBBLE_CACHE_MB:-}
OUT=${BENCH_OUT:-bench/results}
TMPBASE=${BENCH_TMPDIR:-/tmp}
JAR=/usr/share/java/zookeeper.jar
RETAIN=3 # snapshots / checkpoints kept by the purge loop
MARKER=1000

log() { printf '[storage %s] %s\n' "$(date +%T)" "$*" >&2; }
. "$ROOT/bench/lib.sh"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$OUT"
WORK=$(mktemp -d "$TMPBASE/zkstorage.XXXXXX")
JSONL=$WORK/storage.jsonl
: >"$JSONL"
PID=
PURGE_PID=
BPID=
KIND=
PORT=$((22000 + RANDOM % 20000))

stop_purge() {
	[ -n "$PURGE_PID" ] || return 0
	kill "$PURGE_PID" 2>/dev/null || true
	wait "$PURGE_PID" 2>/dev/null || true
	PURGE_PID=
}

stop_server() {
	stop_pid "$PID" "$KIND" 30
	PID=
}

cleanup() {
	local rc=$?
	if [ -n "$BPID" ]; then
		kill "$BPID" 2>/dev/null || true
		wait "$BPID" 2>/dev/null || true
	fi
	stop_purge
	stop_server
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# heap_for N: ZooKeeper's -Xmx for a tree of N znodes.
heap_mib_auto() { local m=$((1024 + $1 * 3 / 2 / 1024)); echo $((m < 2048 ? 2048 : m)); }
heap_mib_needed() { echo $((512 + $1 / 1024)); }
to_mib() { # 4g, 4096m, 4096 → MiB
	local v=${1,,}
	case $v in
	*g) echo $((${v%g} * 1024)) ;;
	*m) echo "${v%m}" ;;
	*k) echo $((${v%k} / 1024)) ;;
	*) echo $((v / 1048576)) ;;
	esac
}

# start KIND DIR N: starts the server on DIR (data kept if any); sets PID,
# START_NS.
start() {
	local kind=$1 dir=$2 n=$3
	PORT=$(freeport "$PORT")
	mkdir -p "$dir/data"
	cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
CFG
	case $kind in
	zookeeper)
		cat >"$dir/log4j.properties" <<'LOG'
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zkbench.logfile}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
LOG
		START_NS=$(date +%s%N)
		java -Xmx"$ZK_XMX" -Dlog4j.configuration="file:$dir/log4j.properties" \
			-Dzkbench.logfile="$dir/server.log" -Dzookeeper.admin.enableServer=false \
			-cp "$dir:$JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			>>"$dir/stdout.log" 2>&1 </dev/null &
		;;
	zkserver-memory | zkserver-pebble)
		if [ "$kind" = zkserver-pebble ]; then
			echo "storageEngine=pebble" >>"$dir/zoo.cfg"
			if [ -n "$PEBBLE_CACHE_MB" ]; then echo "pebbleCacheSizeMB=$PEBBLE_CACHE_MB" >>"$dir/zoo.cfg"; fi
		fi
		START_NS=$(date +%s%N)
		"$ZKS_BIN" start --config "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
		;;
	esac
	PID=$!
}

# purge_start DIR: keeps the RETAIN newest snapshots (memory mode, ZooKeeper)
# and Pebble checkpoints, as autopurge.snapRetainCount would with a short
# interval: with snapCount=100000, a 10M load writes ~100 snapshots of up
# to GBs each. Never the newest (the one being written); logs are kept.
purge_start() {
	local dir=$1
	(
		while sleep 5; do
			for d in "$dir/data/version-2" "$dir/data/pebble-checkpoints"; do
				[ -d "$d" ] || continue
				ls "$d" 2>/dev/null | grep -E '^(snapshot|checkpoint)\.[0-9a-f]+$' |
					awk -F. '{printf "%020d %s\n", length($2), $0}' | sort | head -n -"$RETAIN" |
					while read -r _ f; do rm -rf "${d:?}/$f"; done
			done
		done
	) </dev/null >/dev/null 2>&1 &
	PURGE_PID=$!
}

rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
record_rss() {
	local n=$1 phase=$2 kb hwm
	kb=$(rss "$PID" VmRSS)
	hwm=$(rss "$PID" VmHWM)
	printf '{"kind":"rss","setup":"storage","server":"%s","znodes":%d,"rss_kb":%d,"hwm_kb":%d,"phase":"%s","load_average":"%s"}\n' \
		"$KIND" "$n" "$kb" "$hwm" "$phase" "$(loadavg)" >>"$JSONL"
	log "$KIND $n: VmRSS $((kb / 1024)) MiB, VmHWM $((hwm / 1024)) MiB ($phase; load average $(loadavg))"
}
skip() {
	local n=$1 reason=$2
	printf '{"kind":"skip","setup":"storage","server":"%s","znodes":%d,"reason":"%s"}\n' "$KIND" "$n" "${reason//\"/\'}" >>"$JSONL"
	log "$KIND $n: SKIPPED: $reason"
}
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$2"; }

# zb ARGS...: runs zkbench in the background (so a TERM is handled at once,
# not after a load of hours) and waits; its stdout ends up in $out.
zb() {
	local rc=0
	"$BENCH" "$@" >"$WORK/zb.out" 2>>"$WORK/zkbench.err" </dev/null &
	BPID=$!
	wait "$BPID" || rc=$?
	BPID=
	out=$(cat "$WORK/zb.out")
	return $rc
}
ready() { # ready PATH N: waits for ruok + a read of PATH; the JSON in $out
	zb -workload ready -addr "127.0.0.1:$PORT" -since "$START_NS" -path "$1" -znodes "$2" -label "$KIND" -duration 15m
}

# ---------------------------------------------------------------- metadata
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"\\')
fs=$(df -PT "$WORK" | awk 'NR==2 {print $1" "$2}')
javaver=$(java -version 2>&1 | head -1 | tr -d '"\\' || echo none)
{
	printf '{"kind":"meta","setup":"storage","date":"%s","commit":"%s%s",' "$(date -u +%FT%TZ)" "$git_rev" "$git_dirty"
	printf '"machine":"%s CPUs, %s, %s MiB RAM, kernel %s","disk":"%s (%s)",' "$(nproc)" "$cpu" \
		"$(($(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024))" "$(uname -r)" "$WORK" "$fs"
	printf '"servers":"zkserver-memory = %s (%s) storageEngine=memory; zkserver-pebble = the same binary with storageEngine=pebble, pebbleCacheSizeMB=%s; zookeeper = Apache ZooKeeper 3.8.0 (Debian package), %s, -Xmx %s, log4j INFO to a file",' \
		"$("$ZKS_BIN" version 2>/dev/null || echo zkserver)" "$($GO version | cut -d' ' -f3)" "${PEBBLE_CACHE_MB:-256 (default)}" "$javaver" \
		"$([ "$ZK_HEAP" = auto ] && echo 'auto: 1 GiB + 1.5 KiB per znode, at least 2 GiB' || echo "$ZK_HEAP")"
	printf '"settings":"identical zoo.cfg: tickTime=2000, forceSync=yes, snapCount=100000 (default), maxClientCnxns=0; the bench deletes all but the %d newest snapshots/checkpoints every 5 s during a run (autopurge with a short interval); one server at a time on a fresh data dir",' "$RETAIN"
	printf '"steps":"per size and server: load N znodes of 100 B (4 sessions x 64 in flight); VmRSS after 2 s; %s at %s clients on the loaded tree (%s measured after %s warm-up, %d runs each in rounds, medians, values of 100 B, set/get uniformly over the tree, get-hot over %d znodes evenly spaced, creates under the loaded buckets); VmRSS; %d more znodes (the last is the last-written znode); kill -9; restart timed from exec until ruok and a getData of that znode succeed; VmRSS after 2 s",' \
		"$WORKLOADS" "$CLIENTS" "$DURATION" "$WARMUP" "$RUNS" "$HOT" "$MARKER"
	knobs=
	for k in BENCH_STORAGE_RUNS BENCH_STORAGE_KINDS BENCH_STORAGE_WORKLOADS BENCH_CLIENTS BENCH_STORAGE_WARMUP BENCH_STORAGE_HOT BENCH_STORAGE_ZK_HEAP BENCH_PEBBLE_CACHE_MB; do
		if [ -n "${!k:-}" ]; then knobs+=" $k=\\\"${!k}\\\""; fi
	done
	printf '"command":"BENCH_STORAGE_ONLY=1 BENCH_STORAGE_SIZES=\\"%s\\" BENCH_STORAGE_DURATION=%s%s%s make bench",' "$SIZES" "$DURATION" "${REV:+ BENCH_ZKSERVER_REV=$REV}" "$knobs"
	printf '"load_average_at_start":"%s","note":"the 2-core machine is shared with other engineers running tests: figures are noisy; load averages at start and end here, per step in storage.jsonl"}\n' "$(loadavg)"
} >>"$JSONL"
log "sizes: $SIZES; servers: $KINDS; load average $(loadavg)"

if [ ! -f "$JAR" ] || ! command -v java >/dev/null; then
	KINDS=${KINDS/zookeeper/}
	for n in $SIZES; do KIND=zookeeper skip "$n" "no $JAR or no java (make bench-deps)"; done
fi

failed=0
for n in $SIZES; do
	for KIND in $KINDS; do
		dir=$WORK/$KIND-$n
		rm -rf "$dir"
		if [ "$KIND" = zookeeper ]; then
			avail=$(($(awk '/^MemAvailable/ {print $2}' /proc/meminfo) / 1024))
			if [ "$ZK_HEAP" = auto ]; then
				heap=$(heap_mib_auto "$n")
				ZK_XMX=${heap}m
			else
				heap=$(to_mib "$ZK_HEAP")
				ZK_XMX=$ZK_HEAP
				need=$(heap_mib_needed "$n")
				if [ "$heap" -lt "$need" ]; then
					skip "$n" "BENCH_STORAGE_ZK_HEAP=$ZK_HEAP is below the ~$need MiB a tree of $n znodes needs (estimate: 512 MiB + 1 KiB per znode)"
					continue
				fi
			fi
			if [ $((heap + 1024)) -gt "$avail" ]; then
				skip "$n" "-Xmx ${heap} MiB + 1 GiB exceeds the $avail MiB available (MemAvailable)"
				continue
			fi
			log "zookeeper $n: -Xmx$ZK_XMX ($avail MiB available)"
		fi
		start "$KIND" "$dir" "$n"
		if ! ready / 0; then
			skip "$n" "did not start: $(tail -n 2 "$dir"/*.log | tr -d '"\\' | tr '\n' ' ' | head -c 300)"
			failed=$((failed + 1))
			stop_server
			continue
		fi
		purge_start "$dir"
		log "$KIND $n: loading (pid $PID, port $PORT, load average $(loadavg))"
		if ! zb -json -setup storage -addr "127.0.0.1:$PORT" -workload load -n "$n" -start 0 \
			-clients 4 -pipeline 64 -value-size 100 -ops $((n + 1)) -duration 3h -label "$KIND"; then
			skip "$n" "load failed: $(tail -n 2 "$WORK/zkbench.err" | tr -d '"\\' | tr '\n' ' ' | head -c 300)"
			failed=$((failed + 1))
			stop_purge
			stop_server
			rm -rf "$dir"
			continue
		fi
		echo "$out" >>"$JSONL"
		log "$KIND $n: loaded at $(field ops_per_sec "$out") znodes/s"
		sleep 2
		record_rss "$n" "after load"
		for run in $(seq 1 "$RUNS"); do
			for wl in $WORKLOADS; do
				for c in $CLIENTS; do
					sync -f "$dir" 2>/dev/null || sync
					if zb -json -setup storage -addr "127.0.0.1:$PORT" -tree "$n" -hot "$HOT" -workload "$wl" \
						-clients "$c" -value-size 100 -duration "$DURATION" -warmup "$WARMUP" -label "$KIND"; then
						echo "$out" >>"$JSONL"
						log "$KIND $n: $wl c=$c (run $run/$RUNS): $(field ops_per_sec "$out") ops/s, p99 $(field p99_us "$out") µs, $(field errors "$out") errors"
					else
						failed=$((failed + 1))
						log "$KIND $n: $wl c=$c FAILED: $(tail -n 2 "$WORK/zkbench.err" | head -c 300)"
					fi
				done
			done
		done
		record_rss "$n" "after workloads"
		if ! zb -json -addr "127.0.0.1:$PORT" -workload load -n $MARKER -start "$n" \
			-clients 1 -pipeline 16 -value-size 100 -duration 5m -label "$KIND"; then
			skip "$n" "writing the last $MARKER znodes failed; no restart"
			failed=$((failed + 1))
			stop_purge
			stop_server
			rm -rf "$dir"
			continue
		fi
		last=$(field last_path "$out")
		stop_purge
		printf '{"kind":"du","setup":"storage","server":"%s","znodes":%d,"bytes":%d}\n' "$KIND" "$n" \
			"$(du -sb "$dir/data" | cut -f1)" >>"$JSONL"
		log "$KIND $n: kill -9 (pid $PID); restarting, timing until a read of $last"
		kill -9 "$PID"
		wait "$PID" 2>/dev/null || true
		PID=
		start "$KIND" "$dir" "$n"
		if ready "$last" "$n"; then
			echo "$out" >>"$JSONL"
			log "$KIND $n: serving $(field seconds "$out") s after exec (ruok at $(field ruok_seconds "$out") s)"
			sleep 2
			record_rss "$n" "after restart"
		else
			skip "$n" "restart: no read of $last within 15 min: $(tail -n 2 "$dir"/*.log | tr -d '"\\' | tr '\n' ' ' | head -c 300)"
			failed=$((failed + 1))
		fi
		stop_server
		rm -rf "$dir"
	done
done
printf '{"kind":"meta","setup":"storage","load_average_at_end":"%s","finished":"%s"}\n' "$(loadavg)" "$(date -u +%FT%TZ)" >>"$JSONL"

cp "$JSONL" "$OUT/storage.jsonl"
"$BENCH" -storage-report "$OUT/storage.jsonl" >"$OUT/storage.md"
cat "$OUT/storage.md"
log "results: $OUT/storage.md, $OUT/storage.jsonl ($failed failures)"
[ $failed -eq 0 ]
