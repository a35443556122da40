#!/usr/bin/env bash
# Start a 3-node zkserver ensemble on loopback (make run-ensemble).
#   clients: 127.0.0.1:2181, :2182, :2183   data: $DATA/ensemble/{1,2,3}
# Ctrl-C stops all three. BIN, DATA, BASE_PORT (2181), NODES (3) can be set.
set -euo pipefail
BIN=${BIN:-bin/zkserver}
DATA=${DATA:-./data}
BASE_PORT=${BASE_PORT:-2181}
NODES=${NODES:-3}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for i in $(seq 1 "$NODES"); do
	dir="$DATA/ensemble/$i"
	mkdir -p "$dir"
	echo "$i" >"$dir/myid"
	{
		echo "tickTime=2000"
		echo "admin.serverPort=$((8080 + i))"
		echo "initLimit=10"
		echo "syncLimit=5"
		echo "dataDir=$dir"
		echo "clientPort=$((BASE_PORT + i - 1))"
		echo "clientPortAddress=127.0.0.1"
		echo "4lw.commands.whitelist=*"
		for j in $(seq 1 "$NODES"); do
			echo "server.$j=127.0.0.1:$((BASE_PORT + 26700 + j)):$((BASE_PORT + 36700 + j))"
		done
	} >"$dir/zoo.cfg"
	"$BIN" start --config "$dir/zoo.cfg" ${ZKSERVER_FLAGS:-} >"$dir/zkserver.log" 2>&1 &
	pids+=($!)
	echo "server.$i: client 127.0.0.1:$((BASE_PORT + i - 1)), log $dir/zkserver.log"
done
echo "ensemble running; Ctrl-C stops it"
wait
