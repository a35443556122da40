#!/usr/bin/env bash
# bench/run.sh (make bench): zkserver side by side with Apache ZooKeeper 3.8.0
# and with zkfake (a fixed-reply server: the ceiling of zkbench + loopback),
# and with zkserver-metrics (zkserver with its Prometheus endpoint on and
# scraped once a second: what metrics cost).
#
# All of them run on loopback with their data under one temp dir on the disk
# under test (BENCH_TMPDIR, default /tmp). Each workload × clients × value size
# runs against each server in turn, BENCH_REPS times (the server order rotates
# per repetition); the report shows medians. Then, per server on a fresh data
# dir: `load` of 100,000 (and 1,000,000) znodes of 100 B, VmRSS after each,
# a restart timed from process start to serving (ruok + a read of the
# last-written znode), and the disk's raw fsync rate. Last, bench/ensemble.sh:
# 3-node zkserver and ZooKeeper ensembles (throughput with sessions spread
# over the members, leader failover time).
#
# Knobs (environment):
#   BENCH_DURATION=5s   measured time per run
#   BENCH_WARMUP=1s     unmeasured warm-up per run
#   BENCH_REPS=3        repetitions (median reported)
#   BENCH_QUICK=1       skip the 1,000,000-znode parts (restart is then timed at 100,000)
#   BENCH_ZK_HEAP=2g    ZooKeeper's -Xmx
#   BENCH_WORKLOADS="create set get mixed exists-watch ephemeral-churn"
#   BENCH_CLIENTS="1 16 64"
#   BENCH_TMPDIR=/tmp   where data dirs go (must be on the disk to measure)
#   BENCH_OUT=bench/results  where latest.md and latest.jsonl go
#   BENCH_KEEP=1        keep the temp dir (logs, data) afterwards
#   ZKSERVER_PPROF=127.0.0.1:6060  pass --pprof to zkserver (see bench/README.md)
#   BENCH_METRICS=0     skip zkserver-metrics (the "Metrics cost" section)
#   BENCH_METRICS_WORKLOADS="create set get"  where zkserver-metrics runs (value size 128 B)
#   BENCH_METRICS_CLIENTS="16 64"             at these client counts
#   BENCH_ENSEMBLE=0    skip the 3-node ensemble part (bench/ensemble.sh, its own knobs there)
#   BENCH_STANDALONE=0  skip the standalone part; the standalone records of the previous
#                       BENCH_OUT/latest.jsonl are kept in the new report (with their own
#                       date and commit)
#   BENCH_STORAGE=0     skip the storage part (bench/storage.sh, issue 7: memory mode vs
#                       Pebble mode vs ZooKeeper at 1M and 10M znodes; its own knobs there;
#                       its results go to BENCH_OUT/storage.md and storage.jsonl)
#   BENCH_STORAGE_ONLY=1  run only the storage part (latest.md is left as it is)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-1s}
REPS=${BENCH_REPS:-3}
QUICK=${BENCH_QUICK:-0}
ZK_HEAP=${BENCH_ZK_HEAP:-2g}
WORKLOADS=${BENCH_WORKLOADS:-create set get mixed exists-watch ephemeral-churn}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
TMPBASE=${BENCH_TMPDIR:-/tmp}
OUT=${BENCH_OUT:-bench/results}
STANDALONE=${BENCH_STANDALONE:-1}
ENSEMBLE=${BENCH_ENSEMBLE:-1}
METRICS=${BENCH_METRICS:-1}
METRICS_WORKLOADS=${BENCH_METRICS_WORKLOADS:-create set get}
METRICS_CLIENTS=${BENCH_METRICS_CLIENTS:-16 64}
METRICS_SIZE=128
METRICS_CLASS=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
JAR=/usr/share/java/zookeeper.jar
LOAD_SESSIONS=4
LOAD_PIPELINE=64

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
. "$ROOT/bench/lib.sh"

mkdir -p bin "$OUT"
log "building zkserver, zkbench, zkfake"
$GO build -o bin/zkserver ./cmd/zkserver
$GO build -o bin/zkbench ./cmd/zkbench
$GO build -o bin/zkfake ./cmd/zkfake
ZKS_BIN=$ROOT/bin/zkserver
BENCH=$ROOT/bin/zkbench
FAKE_BIN=$ROOT/bin/zkfake
STORAGE=${BENCH_STORAGE:-1}
if [ "${BENCH_STORAGE_ONLY:-0}" = 1 ]; then
	log "BENCH_STORAGE_ONLY=1: the storage part only (bench/storage.sh)"
	BENCH=$BENCH ZKS_BIN=$ZKS_BIN exec bench/storage.sh
fi

WORK=$(mktemp -d "$TMPBASE/zkbench.XXXXXX")
JSONL=$WORK/results.jsonl
: >"$JSONL"

declare -A PID=() PORT=()
SERVERS=()
HAVE_ZK=0
if [ -f "$JAR" ] && command -v java >/dev/null; then
	HAVE_ZK=1
	SERVERS+=(zookeeper)
else
	log "no $JAR (run 'make bench-deps'): measuring zkserver and zkfake only"
fi
SERVERS+=(zkserver)

stop_server() {
	local name=$1 pid=${PID[$1]:-}
	stop_pid "$pid" "$name" 10
	PID[$name]=""
}

# The /metrics scraper of zkserver-metrics (a background curl loop, one
# scrape a second, at most SCRAPE_MAX iterations, stopped after each run and
# on exit).
SCRAPE_PID=
SCRAPE_MAX=600
if [[ $DURATION =~ ^([0-9]+)s$ ]] && [[ $WARMUP =~ ^([0-9]+)s$ ]]; then
	SCRAPE_MAX=$((${DURATION%s} + ${WARMUP%s} + 30))
fi
scrape_start() {
	local url=$1 out=$2 max=$SCRAPE_MAX
	: >"$out"
	(
		for ((i = 0; i < max; i++)); do
			if curl -sf --max-time 2 -o /dev/null "$url"; then echo ok; else echo fail; fi
			sleep 1
		done >>"$out"
	) </dev/null &
	SCRAPE_PID=$!
}
scrape_stop() {
	[ -n "$SCRAPE_PID" ] || return 0
	kill "$SCRAPE_PID" 2>/dev/null || true
	wait "$SCRAPE_PID" 2>/dev/null || true
	SCRAPE_PID=
}

ENS_PID=
STO_PID=
cleanup() {
	local rc=$?
	scrape_stop
	for p in $ENS_PID $STO_PID; do # bench/ensemble.sh and storage.sh stop their servers on TERM
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for n in "${!PID[@]}"; do stop_server "$n"; done
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "logs and data kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || [[ " ${PORT[*]} " == *" $p "* ]]; do
		p=$((p + 1))
	done
	echo "$p"
}

# write_cfg DIR PORT: the same zoo.cfg for both servers.
write_cfg() {
	local dir=$1 port=$2
	mkdir -p "$dir/data"
	cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
admin.enableServer=false
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
CFG
}

# start NAME DIR: starts a server on a fresh port (data kept if DIR has any);
# prints nothing, sets PID[NAME], PORT[NAME], START_NS.
start() {
	local name=$1 dir=$2 port
	port=$(freeport "${PORT[$name]:-$((22000 + RANDOM % 20000))}")
	PORT[$name]=$port
	mkdir -p "$dir"
	case $name in
	zookeeper)
		write_cfg "$dir" "$port"
		cat >"$dir/log4j.properties" <<'LOG'
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zkbench.logfile}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
LOG
		START_NS=$(date +%s%N)
		java -Xmx"$ZK_HEAP" -Dlog4j.configuration="file:$dir/log4j.properties" \
			-Dzkbench.logfile="$dir/server.log" -Dzookeeper.admin.enableServer=false \
			-cp "$dir:$JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			>"$dir/stdout.log" 2>&1 </dev/null &
		;;
	zkserver)
		write_cfg "$dir" "$port"
		local extra=()
		if [ -n "${ZKSERVER_PPROF:-}" ]; then extra=(--pprof "$ZKSERVER_PPROF"); fi
		START_NS=$(date +%s%N)
		"$ZKS_BIN" start --config "$dir/zoo.cfg" "${extra[@]}" >"$dir/server.log" 2>&1 </dev/null &
		;;
	zkserver-metrics)
		# The same binary and zoo.cfg plus ZooKeeper's Prometheus provider
		# on a port of its own (pprof, if asked for, on the next port).
		write_cfg "$dir" "$port"
		PORT[$name-http]=$(freeport $((port + 1)))
		cat >>"$dir/zoo.cfg" <<CFG
metricsProvider.className=$METRICS_CLASS
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=${PORT[$name-http]}
CFG
		local extra=()
		if [ -n "${ZKSERVER_PPROF:-}" ]; then extra=(--pprof "${ZKSERVER_PPROF%:*}:$((${ZKSERVER_PPROF##*:} + 1))"); fi
		START_NS=$(date +%s%N)
		"$ZKS_BIN" start --config "$dir/zoo.cfg" "${extra[@]}" >"$dir/server.log" 2>&1 </dev/null &
		;;
	fake)
		START_NS=$(date +%s%N)
		"$FAKE_BIN" -addr "127.0.0.1:$port" -data-size 128 >"$dir/server.log" 2>&1 </dev/null &
		;;
	esac
	PID[$name]=$!
}

# wait_ready NAME PATH ZNODES: waits for ruok + a read of PATH; prints the JSON.
wait_ready() {
	local name=$1 path=$2 znodes=$3
	if ! "$BENCH" -workload ready -addr "127.0.0.1:${PORT[$name]}" -since "$START_NS" \
		-path "$path" -znodes "$znodes" -label "$name" -duration 10m; then
		log "$name did not come up; log follows"
		tail -n 30 "$WORK/$name"*/server.log "$WORK/$name"*/stdout.log 2>/dev/null >&2 || true
		return 1
	fi
}

# metrics_run WORKLOAD CLIENTS SIZE: whether zkserver-metrics runs there.
metrics_run() {
	[[ " $METRICS_WORKLOADS " == *" $1 "* ]] && [[ " $METRICS_CLIENTS " == *" $2 "* ]] && [ "$3" = "$METRICS_SIZE" ]
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

sizes_for() {
	case $1 in
	create | set) echo "128 1024" ;;
	*) echo "128" ;;
	esac
}

# ---------------------------------------------------------------- metadata
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"\\')
fs=$(df -PT "$WORK" | awk 'NR==2 {print $1" "$2}')
zkver=none
if [ $HAVE_ZK = 1 ]; then
	zkver=$(unzip -p "$JAR" META-INF/MANIFEST.MF 2>/dev/null | awk -F': ' '/Implementation-Version/ {print $2}' | tr -d '\r' || true)
	zkver="Apache ZooKeeper ${zkver:-3.8.0} (Debian package), $(java -version 2>&1 | head -1 | tr -d '"\\'), -Xmx$ZK_HEAP, log4j INFO to a file"
fi
metrics_note=
if [ "$METRICS" = 1 ]; then
	metrics_note="; zkserver-metrics = zkserver with metricsProvider.className=$METRICS_CLASS, /metrics scraped once a second, in the rotation for $METRICS_WORKLOADS at $METRICS_CLIENTS clients, $METRICS_SIZE B"
fi
meta=$(
	printf '{"kind":"meta","date":"%s","commit":"%s%s","machine":"%s CPUs, %s, %s MiB RAM, kernel %s","disk":"%s (%s)",' \
		"$(date -u +%FT%TZ)" "$git_rev" "$git_dirty" "$(nproc)" "$cpu" "$(($(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024))" "$(uname -r)" "$WORK" "$fs"
	printf '"zookeeper":"%s","zkserver":"%s, %s","settings":"identical zoo.cfg: tickTime=2000, forceSync=yes, maxClientCnxns=0, dataDir on the disk above","runs":"%s measured after %s warm-up, %s repetitions, median; server order rotates per repetition; fake = zkfake fixed-reply server (no exists-watch)%s",' \
		"$zkver" "$("$ZKS_BIN" version 2>/dev/null || echo zkserver)" "$($GO version | cut -d' ' -f3)" "$DURATION" "$WARMUP" "$REPS" "$metrics_note"
	printf '"load_average_at_start":"%s",' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '"command":"BENCH_QUICK=%s BENCH_DURATION=%s BENCH_REPS=%s BENCH_METRICS=%s make bench"}' "$QUICK" "$DURATION" "$REPS" "$METRICS"
)
nruns=0
failed=0
if [ "$STANDALONE" != 1 ]; then
	if [ -f "$OUT/latest.jsonl" ]; then
		log "BENCH_STANDALONE=0: keeping the standalone results of $OUT/latest.jsonl"
		grep -v '"setup":"ensemble' "$OUT/latest.jsonl" >>"$JSONL" || true
	else
		log "BENCH_STANDALONE=0: no earlier $OUT/latest.jsonl, no standalone results"
	fi
else
echo "$meta" >>"$JSONL"

# ---------------------------------------------------------------- disk
log "disk: 4 KiB write + fsync for 3 s in $WORK"
"$BENCH" -workload fsync -dir "$WORK" -duration 3s >>"$JSONL"

# ---------------------------------------------------------------- workloads
ALL=("${SERVERS[@]}" fake)
UP=("${ALL[@]}")
if [ "$METRICS" = 1 ]; then UP+=(zkserver-metrics); fi
for s in "${UP[@]}"; do
	start "$s" "$WORK/$s"
	wait_ready "$s" / 0 >/dev/null
	log "$s up on 127.0.0.1:${PORT[$s]} (pid ${PID[$s]})"
done
if [ "$METRICS" = 1 ]; then
	METRICS_URL=http://127.0.0.1:${PORT[zkserver-metrics-http]}/metrics
	# Refuse to compare against an endpoint that does not serve.
	body=$(curl -sf --max-time 5 "$METRICS_URL" || true)
	if ! grep -q '^readlatency' <<<"$body"; then
		log "zkserver-metrics: no ZooKeeper metrics at $METRICS_URL"
		exit 1
	fi
	log "zkserver-metrics: /metrics on $METRICS_URL"
fi

for wl in $WORKLOADS; do
	for c in $CLIENTS; do
		for size in $(sizes_for "$wl"); do
			for rep in $(seq 1 "$REPS"); do
				# Rotate the order so no server always runs first.
				# zkserver-metrics shares zkserver's turn: right after it
				# in odd repetitions, right before it in even ones, so
				# both follow the same runs equally often.
				n=${#ALL[@]}
				order=()
				for i in $(seq 0 $((n - 1))); do
					s=${ALL[$(((i + rep - 1) % n))]}
					if [ "$s" = zkserver ] && [ "$METRICS" = 1 ] && metrics_run "$wl" "$c" "$size"; then
						if ((rep % 2)); then order+=(zkserver zkserver-metrics); else order+=(zkserver-metrics zkserver); fi
					else
						order+=("$s")
					fi
				done
				for s in "${order[@]}"; do
					if [ "$s" = fake ] && [ "$wl" = exists-watch ]; then continue; fi
					# Write back what earlier runs left dirty (snapshots and
					# logs of either server), so no run pays for another's I/O.
					sync -f "$WORK" 2>/dev/null || sync
					if [ "$s" = zkserver-metrics ]; then scrape_start "$METRICS_URL" "$WORK/scrape.log"; fi
					out=$("$BENCH" -json -addr "127.0.0.1:${PORT[$s]}" -workload "$wl" -clients "$c" \
						-value-size "$size" -duration "$DURATION" -warmup "$WARMUP" -label "$s" -rep "$rep" 2>"$WORK/zkbench.err") || {
						failed=$((failed + 1))
						log "FAILED: $wl clients=$c size=$size on $s: $(tail -n 3 "$WORK/zkbench.err" | head -c 300)"
					}
					if [ "$s" = zkserver-metrics ]; then
						scrape_stop
						sok=$(grep -c '^ok$' "$WORK/scrape.log" || true)
						sfail=$(grep -c '^fail$' "$WORK/scrape.log" || true)
						printf '{"kind":"scrape","server":"%s","workload":"%s","clients":%d,"value_size":%d,"rep":%d,"scrapes":%d,"scrape_failures":%d}\n' \
							"$s" "$wl" "$c" "$size" "$rep" "$sok" "$sfail" >>"$JSONL"
						log "$wl c=$c size=$size rep=$rep $s: /metrics scraped $sok times, $sfail failed"
					fi
					if [ -n "$out" ]; then
						echo "$out" >>"$JSONL"
						ops=$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$out")
						p99=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$out")
						log "$wl c=$c size=$size rep=$rep $s: $ops ops/s, p99 ${p99} µs"
					fi
					nruns=$((nruns + 1))
				done
			done
		done
	done
done
for s in "${UP[@]}"; do stop_server "$s"; done
# The machine is shared: how busy it was across the workload runs.
printf '{"kind":"meta","load_average_after_workloads":"%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$JSONL"

# ---------------------------------------------------------------- load, memory, restart
# load_step NAME N START: pipelined creates of N znodes of 100 B; prints the JSON.
load_step() {
	local name=$1 n=$2 first=$3
	"$BENCH" -json -addr "127.0.0.1:${PORT[$name]}" -workload load -n "$n" -start "$first" \
		-clients $LOAD_SESSIONS -pipeline $LOAD_PIPELINE -value-size 100 -duration 30m -label "$name" 2>>"$WORK/zkbench.err"
}

record_rss() {
	local name=$1 znodes=$2 phase=$3 kb
	kb=$(rss_kb "${PID[$name]}")
	printf '{"kind":"rss","server":"%s","znodes":%d,"rss_kb":%d,"phase":"%s"}\n' "$name" "$znodes" "$kb" "$phase" >>"$JSONL"
	log "$name: VmRSS $((kb / 1024)) MiB with $znodes znodes ($phase)"
}

start fake "$WORK/fake-load"
wait_ready fake / 0 >/dev/null
out=$(load_step fake 100000 0) && echo "$out" >>"$JSONL"
stop_server fake

for s in "${SERVERS[@]}"; do
	dir=$WORK/$s-load
	rm -rf "$dir"
	start "$s" "$dir"
	wait_ready "$s" / 0 >/dev/null
	log "$s: loading 100,000 znodes"
	out=$(load_step "$s" 100000 0) || {
		log "$s: load failed: $(tail -n 3 "$WORK/zkbench.err")"
		failed=$((failed + 1))
		stop_server "$s"
		continue
	}
	echo "$out" >>"$JSONL"
	last=$(sed -n 's/.*"last_path":"\([^"]*\)".*/\1/p' <<<"$out")
	total=100000
	sleep 2
	record_rss "$s" $total "after load"
	if [ "$QUICK" != 1 ]; then
		log "$s: loading 900,000 more znodes (1,000,000 in all)"
		if out=$(load_step "$s" 900000 100000); then
			echo "$out" >>"$JSONL"
			last=$(sed -n 's/.*"last_path":"\([^"]*\)".*/\1/p' <<<"$out")
			total=1000000
			sleep 2
			record_rss "$s" $total "after load"
		else
			log "$s: 1M load failed: $(tail -n 3 "$WORK/zkbench.err")"
			failed=$((failed + 1))
		fi
	fi
	stop_server "$s"
	log "$s: restarting with $total znodes on disk; timing until a read of $last"
	start "$s" "$dir"
	if out=$(wait_ready "$s" "$last" $total); then
		echo "$out" >>"$JSONL"
		log "$s: serving after $(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' <<<"$out") s"
		sleep 2
		record_rss "$s" $total "after restart"
	else
		failed=$((failed + 1))
	fi
	stop_server "$s"
done
fi # standalone

# ---------------------------------------------------------------- ensembles
if [ "$ENSEMBLE" = 1 ]; then
	log "ensembles: bench/ensemble.sh"
	BENCH=$BENCH ZKS_BIN=$ZKS_BIN bench/ensemble.sh "$WORK" "$JSONL" &
	ENS_PID=$!
	wait "$ENS_PID" || {
		failed=$((failed + 1))
		log "ensemble part failed (see above)"
	}
	ENS_PID=
fi

# ---------------------------------------------------------------- report
cp "$JSONL" "$OUT/latest.jsonl"
"$BENCH" -report "$OUT/latest.jsonl" >"$OUT/latest.md"
cat "$OUT/latest.md"
log "results: $OUT/latest.md, $OUT/latest.jsonl ($nruns runs, $failed failures)"

# ---------------------------------------------------------------- storage
if [ "$STORAGE" = 1 ]; then
	log "storage: bench/storage.sh (results in $OUT/storage.md)"
	BENCH=$BENCH ZKS_BIN=$ZKS_BIN BENCH_OUT=$OUT bench/storage.sh &
	STO_PID=$!
	wait "$STO_PID" || {
		failed=$((failed + 1))
		log "storage part failed (see above)"
	}
	STO_PID=
fi
[ $failed -eq 0 ]
