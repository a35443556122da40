#!/usr/bin/env bash
# bench/ensemble.sh WORKDIR JSONL: the ensemble part of `make bench`
# (bench/run.sh calls it; it can also run alone, see bench/README.md).
#
# A 3-node zkserver ensemble and a 3-node Apache ZooKeeper 3.8.0 ensemble,
# the same zoo.cfg values, every process on loopback on this machine (the
# load generator and the 3 servers of an ensemble share its cores). Both
# ensembles stay up; the runs alternate between them, the order rotating per
# repetition, as in the standalone part:
#   1. create / set / get (128 B) at BENCH_CLIENTS sessions spread
#      round-robin over the 3 members (writes through followers are
#      forwarded to the leader), BENCH_REPS repetitions;
#   2. leader failover: writers on all 3 members, kill -9 of the leader,
#      time until a write sent after the kill is acknowledged by a
#      survivor; the killed member is restarted and the ensemble is whole
#      again (srvr Mode on each, the leader's synced followers) before the
#      next kill. BENCH_FAILOVER_KILLS (5) kills per server kind, alternating.
# One JSON line per measurement is appended to JSONL (setup "ensemble3").
#
# Knobs: those of run.sh (BENCH_DURATION, BENCH_WARMUP, BENCH_REPS,
# BENCH_CLIENTS, BENCH_ZK_HEAP, BENCH_KEEP, ZKSERVER_PPROF) and
#   BENCH_ENSEMBLE_WORKLOADS="create set get"
#   BENCH_FAILOVER_KILLS=5   leader kills per server kind
#   BENCH_ENSEMBLE_PREWARM=10s unmeasured run of each workload per ensemble first
#   BENCH_ENSEMBLE_KINDS="zookeeper zkserver"  (ZooKeeper only when installed)
set -euo pipefail

WORK=${1:?usage: ensemble.sh WORKDIR JSONL}
JSONL=${2:?usage: ensemble.sh WORKDIR JSONL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$ROOT/bin/zkbench}
ZKS_BIN=${ZKS_BIN:-$ROOT/bin/zkserver}
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-1s}
REPS=${BENCH_REPS:-3}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
ZK_HEAP=${BENCH_ZK_HEAP:-2g}
WORKLOADS=${BENCH_ENSEMBLE_WORKLOADS:-create set get}
KILLS=${BENCH_FAILOVER_KILLS:-5}
PREWARM=${BENCH_ENSEMBLE_PREWARM:-10s}
JAR=/usr/share/java/zookeeper.jar
SETUP=ensemble3
NODES=3
TICK=2000
READY_WAIT=180s    # a whole ensemble (re)forming; ZooKeeper's JVMs start slowly on 2 cores
FAILOVER_WAIT=120s # kill → writes acknowledged again

log() { printf '[bench-ensemble %s] %s\n' "$(date +%T)" "$*" >&2; }
. "$ROOT/bench/lib.sh"

KINDS=()
for k in ${BENCH_ENSEMBLE_KINDS:-zookeeper zkserver}; do
	if [ "$k" = zookeeper ] && { [ ! -f "$JAR" ] || ! command -v java >/dev/null; }; then
		log "no $JAR or java: no ZooKeeper ensemble"
		continue
	fi
	KINDS+=("$k")
done
[ ${#KINDS[@]} -gt 0 ] || { log "nothing to run"; exit 1; }

declare -A PID=() CPORT=() QPORT=() EPORT=()
USED=" "

stop_node() { # KIND SID
	local key=$1:$2 pid=${PID[$1:$2]:-}
	stop_pid "$pid" "$key" 10
	PID[$key]=""
}

cleanup() {
	local rc=$?
	for key in "${!PID[@]}"; do stop_node "${key%%:*}" "${key##*:}"; done
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	local p=$((20000 + RANDOM % 20000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || [[ "$USED" == *" $p "* ]]; do
		p=$((p + 1))
	done
	USED="$USED$p "
	echo "$p"
}

dir_of() { echo "$WORK/ens-$1/n$2"; }

# layout KIND: ports, data dirs, myid and the same zoo.cfg values for both kinds.
layout() {
	local kind=$1 sid dir
	for sid in $(seq 1 $NODES); do
		CPORT[$kind:$sid]=$(freeport)
		QPORT[$kind:$sid]=$(freeport)
		EPORT[$kind:$sid]=$(freeport)
	done
	for sid in $(seq 1 $NODES); do
		dir=$(dir_of "$kind" "$sid")
		mkdir -p "$dir/data"
		echo "$sid" >"$dir/data/myid"
		{
			echo "tickTime=$TICK"
			echo "admin.enableServer=false"
			echo "initLimit=10"
			echo "syncLimit=5"
			echo "dataDir=$dir/data"
			echo "clientPort=${CPORT[$kind:$sid]}"
			echo "clientPortAddress=127.0.0.1"
			echo "maxClientCnxns=0"
			echo "forceSync=yes"
			echo "4lw.commands.whitelist=*"
			echo "admin.enableServer=false"
			for j in $(seq 1 $NODES); do
				echo "server.$j=127.0.0.1:${QPORT[$kind:$j]}:${EPORT[$kind:$j]}"
			done
		} >"$dir/zoo.cfg"
	done
}

start_node() { # KIND SID (data kept)
	local kind=$1 sid=$2 dir
	dir=$(dir_of "$kind" "$sid")
	case $kind in
	zookeeper)
		cat >"$dir/log4j.properties" <<'LOG'
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zkbench.logfile}
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
LOG
		java -Xmx"$ZK_HEAP" -Dlog4j.configuration="file:$dir/log4j.properties" \
			-Dzkbench.logfile="$dir/server.log" -Dzookeeper.admin.enableServer=false \
			-cp "$dir:$JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			>>"$dir/stdout.log" 2>&1 </dev/null &
		;;
	zkserver)
		local extra=()
		if [ -n "${ZKSERVER_PPROF:-}" ]; then
			# host:port → member sid serves pprof on host:(port+sid)
			extra=(--pprof "${ZKSERVER_PPROF%:*}:$((${ZKSERVER_PPROF##*:} + sid))")
		fi
		"$ZKS_BIN" start --config "$dir/zoo.cfg" "${extra[@]}" >>"$dir/server.log" 2>&1 </dev/null &
		;;
	esac
	PID[$kind:$sid]=$!
}

addrs() { # KIND → a1,a2,a3
	local kind=$1 sid out=""
	for sid in $(seq 1 $NODES); do out="$out${out:+,}127.0.0.1:${CPORT[$kind:$sid]}"; done
	echo "$out"
}

pids() {
	local kind=$1 sid out=""
	for sid in $(seq 1 $NODES); do out="$out${out:+,}${PID[$kind:$sid]}"; done
	echo "$out"
}

wait_ensemble() { # KIND [TIMEOUT]: until one leader, the others followers and synced
	local kind=$1 out
	if ! out=$("$BENCH" -workload ensemble-ready -addr "$(addrs "$kind")" -duration "${2:-$READY_WAIT}" -label "$kind" 2>&1); then
		log "$kind ensemble not whole: $out"
		for sid in $(seq 1 $NODES); do
			log "---- $kind sid $sid log tail"
			tail -n 15 "$(dir_of "$kind" "$sid")/server.log" >&2 2>/dev/null || true
		done
		return 1
	fi
	echo "$out"
}

# ---------------------------------------------------------------- start
zkver=none
if [[ " ${KINDS[*]} " == *" zookeeper "* ]]; then
	zkver=$(unzip -p "$JAR" META-INF/MANIFEST.MF 2>/dev/null | awk -F': ' '/Implementation-Version/ {print $2}' | tr -d '\r' || true)
	zkver="Apache ZooKeeper ${zkver:-3.8.0}, 3 × QuorumPeerMain, -Xmx$ZK_HEAP each"
fi
printf '{"kind":"meta","setup":"%s","ensemble_commit":"%s","ensemble_date":"%s","ensemble_loadavg_at_start":"%s","ensemble":"3 members per server kind, all on loopback on this machine: the load generator and the 3 servers share its %s cores; both ensembles stay up, runs alternate between them (order rotated per repetition)","ensemble_settings":"identical zoo.cfg: tickTime=%d, initLimit=10, syncLimit=5, forceSync=yes, maxClientCnxns=0, every dataDir on the disk under test","ensemble_runs":"%s measured after %s warm-up, %s repetitions, median; sessions spread round-robin over the 3 members; each ensemble first runs every workload for %s unmeasured (JIT warm-up); failover: %s leader kills per kind, median","ensemble_zookeeper":"%s"}\n' \
	"$SETUP" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$TICK" "$DURATION" "$WARMUP" "$REPS" "$PREWARM" "$KILLS" "$zkver" >>"$JSONL"

for k in "${KINDS[@]}"; do
	layout "$k"
	for sid in $(seq 1 $NODES); do start_node "$k" "$sid"; done
done
for k in "${KINDS[@]}"; do
	out=$(wait_ensemble "$k")
	log "$k ensemble up on $(addrs "$k") (pids $(pids "$k")): $out"
done

failed=0
# ---------------------------------------------------------------- pre-warm
# Unmeasured: the JVMs' JIT compilers (3 per ensemble on 2 cores) and both
# servers' caches warm up on every workload before the first measured run.
for k in "${KINDS[@]}"; do
	for wl in $WORKLOADS; do
		log "pre-warming the $k ensemble: $wl, 16 clients, $PREWARM"
		"$BENCH" -addr "$(addrs "$k")" -workload "$wl" -clients 16 -value-size 128 -duration "$PREWARM" \
			-label "$k" >/dev/null 2>"$WORK/zkbench-ens.err" || log "pre-warm $wl on $k failed: $(tail -n 2 "$WORK/zkbench-ens.err")"
	done
done

# ---------------------------------------------------------------- throughput
for wl in $WORKLOADS; do
	for c in $CLIENTS; do
		for rep in $(seq 1 "$REPS"); do
			n=${#KINDS[@]}
			for i in $(seq 0 $((n - 1))); do
				k=${KINDS[$(((i + rep - 1) % n))]}
				wait_ensemble "$k" 60s >/dev/null || { failed=$((failed + 1)); continue; }
				sync -f "$WORK" 2>/dev/null || sync
				out=$("$BENCH" -json -addr "$(addrs "$k")" -workload "$wl" -clients "$c" -value-size 128 \
					-duration "$DURATION" -warmup "$WARMUP" -label "$k" -setup "$SETUP" -rep "$rep" 2>"$WORK/zkbench-ens.err") || {
					failed=$((failed + 1))
					log "FAILED: $wl clients=$c on the $k ensemble: $(tail -n 3 "$WORK/zkbench-ens.err" | head -c 300)"
				}
				if [ -n "$out" ]; then
					echo "$out" >>"$JSONL"
					log "ensemble $wl c=$c rep=$rep $k: $(jq -r '"\(.ops_per_sec) ops/s, p50 \(.p50_us) µs, p99 \(.p99_us) µs, \(.errors) errors"' <<<"$out" 2>/dev/null || echo "$out")"
				fi
			done
		done
	done
done

# ---------------------------------------------------------------- failover
for round in $(seq 1 "$KILLS"); do
	n=${#KINDS[@]}
	for i in $(seq 0 $((n - 1))); do
		k=${KINDS[$(((i + round - 1) % n))]}
		wait_ensemble "$k" >/dev/null || { failed=$((failed + 1)); break 2; }
		sync -f "$WORK" 2>/dev/null || sync
		rc=0
		out=$("$BENCH" -workload failover -addr "$(addrs "$k")" -pids "$(pids "$k")" -value-size 128 \
			-warmup 1s -duration "$FAILOVER_WAIT" -label "$k" -setup "$SETUP" -rep "$round" 2>"$WORK/zkbench-ens.err") || rc=$?
		killed=0
		if [ -n "$out" ]; then killed=$(jq -r '.killed // 0' <<<"$out" 2>/dev/null || echo 0); fi
		if [ "$rc" = 0 ]; then
			echo "$out" >>"$JSONL"
			log "failover round $round $k: killed sid $killed; writes again after $(jq -r .seconds <<<"$out") s (all survivors $(jq -r .all_seconds <<<"$out") s, srvr leader after $(jq -r .elected_seconds <<<"$out") s, new leader sid $(jq -r .new_leader <<<"$out"))"
		else
			failed=$((failed + 1))
			log "FAILED: failover round $round on $k: $(tail -n 3 "$WORK/zkbench-ens.err" | head -c 400)"
		fi
		if [ "${killed:-0}" != 0 ]; then
			{ wait "${PID[$k:$killed]}"; } 2>/dev/null || true
			PID[$k:$killed]=""
			start_node "$k" "$killed"
			log "$k sid $killed restarted (pid ${PID[$k:$killed]})"
		fi
	done
done
for k in "${KINDS[@]}"; do wait_ensemble "$k" 60s >/dev/null || failed=$((failed + 1)); done

for key in "${!PID[@]}"; do stop_node "${key%%:*}" "${key##*:}"; done
# The machine may be shared: the load average tells whether other work ran.
printf '{"kind":"meta","setup":"%s","ensemble_loadavg_at_end":"%s (1, 5, 15 min)"}\n' "$SETUP" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$JSONL"
log "ensemble part done ($failed failures)"
[ $failed -eq 0 ]
