#!/usr/bin/env bash
# Start or stop a standalone Apache ZooKeeper (Debian package, 3.8.0) used as
# the compatibility oracle for compat-tests/.
#
#   scripts/zk-oracle.sh start DIR PORT   # writes DIR/zoo.cfg, starts, waits for imok
#   scripts/zk-oracle.sh stop DIR         # kills the server started in DIR
#   scripts/zk-oracle.sh freeport PORT    # prints the first free port >= PORT
#
# The server listens on 127.0.0.1 only. Its PID goes to DIR/zk.pid and its
# output to DIR/zk.log.
set -euo pipefail

JAR=/usr/share/java/zookeeper.jar
# Digest of "super:secret" (SHA-1, base64): the super user the tests use.
SUPER_DIGEST='super:lK75jTNcA+U9vtVEw5vB51mj/w4='

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | freeport PORT" >&2
	exit 2
}

ruok() {
	# Prints the server's answer to "ruok" (empty if none).
	local port=$1
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 0
		printf 'ruok' >&3
		timeout 2 cat <&3 || true
	) 2>/dev/null || true
}

ensure_installed() {
	if [ -f "$JAR" ]; then
		return
	fi
	echo "zk-oracle: $JAR missing; installing the Debian zookeeper package" >&2
	local sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper
	[ -f "$JAR" ] || {
		echo "zk-oracle: $JAR still missing after install" >&2
		exit 1
	}
}

start() {
	local dir=$1 port=$2
	ensure_installed
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/zk.pid" ] && kill -0 "$(cat "$dir/zk.pid")" 2>/dev/null; then
		echo "zk-oracle: already running in $dir (pid $(cat "$dir/zk.pid"))" >&2
		exit 1
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "zk-oracle: 127.0.0.1:$port is already in use" >&2
		exit 1
	fi
	# Always start from an empty database: the suite's top-level "check"
	# test leaves a txn that ZooKeeper 3.8.0 itself cannot replay.
	rm -rf "$dir/data"
	mkdir -p "$dir/data"
	cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=60
4lw.commands.whitelist=*
extendedTypesEnabled=true
admin.enableServer=false
DigestAuthenticationProvider.superDigest=$SUPER_DIGEST
CFG
	cat >"$dir/log4j.properties" <<'LOG'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
LOG
	local cp="$dir:$JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
	# The jar's manifest Class-Path brings in netty, jute, jetty, metrics etc.
	nohup java -Xmx512m -Dlog4j.configuration="file:$dir/log4j.properties" \
		-Dzookeeper.admin.enableServer=false \
		-cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		>"$dir/zk.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/zk.pid"
	local deadline=$((SECONDS + 30))
	while [ $SECONDS -lt $deadline ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "zk-oracle: ZooKeeper exited; log follows" >&2
			tail -n 50 "$dir/zk.log" >&2
			rm -f "$dir/zk.pid"
			exit 1
		fi
		if [ "$(ruok "$port")" = imok ]; then
			echo "zk-oracle: ZooKeeper up on 127.0.0.1:$port (pid $pid)"
			return 0
		fi
		sleep 0.3
	done
	echo "zk-oracle: no imok within 30s; log follows" >&2
	tail -n 50 "$dir/zk.log" >&2
	stop "$dir"
	exit 1
}

stop() {
	local dir=$1
	[ -f "$dir/zk.pid" ] || return 0
	local pid
	pid=$(cat "$dir/zk.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/zk.pid"
}

freeport() {
	local p=$1
	while [ "$p" -lt $(($1 + 200)) ]; do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	echo "zk-oracle: no free port near $1" >&2
	exit 1
}

case "${1:-}" in
start)
	[ $# -eq 3 ] || usage
	start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop "$2"
	;;
freeport)
	[ $# -eq 2 ] || usage
	freeport "$2"
	;;
*) usage ;;
esac
