# bench/lib.sh: shell helpers the bench scripts share (sourced; each script
# defines its own log()).

# stop_pid PID LABEL SECONDS: SIGTERM, up to SECONDS for the process to
# exit, then SIGKILL; reaps it (it must be a child of this shell).
stop_pid() {
	local pid=$1 label=$2 secs=$3
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((secs * 20))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$label (pid $pid) ignored SIGTERM for $secs s; killing"
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}
