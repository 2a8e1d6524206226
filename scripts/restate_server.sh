#!/bin/sh
# restate_server.sh - install the Restate server from the npm registry into a cache outside
# the source tree (once), then run it in the foreground on 127.0.0.1 with a private data
# directory and telemetry off. For the end-to-end test and the benchmark.
#   scripts/restate_server.sh install          install only; prints the binary's path
#   scripts/restate_server.sh run DIR INGRESS ADMIN NODE
# ECL_RESTATE_CACHE overrides the cache (default ~/.cache/ecl-restate). Exit status 77 when
# npm cannot fetch the package (no network), with the reason on stderr: the end-to-end test
# fails then, the benchmark leaves the Restate variant out.
set -eu

cache=${ECL_RESTATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecl-restate}
version=${ECL_RESTATE_VERSION:-1.7.12}

find_bin() {
	find "$cache/node_modules/@restatedev" -path '*bin/restate-server' -type f 2>/dev/null | head -n 1
}

bin=$(find_bin)
if [ -z "$bin" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "restate_server.sh: npm is not installed (apt-get install npm)" >&2
		exit 77
	fi
	mkdir -p "$cache"
	# Node.js trusts its own list of authorities; the system's list has those a machine's
	# administrator added (a proxy's own, say) too.
	if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
		export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
	fi
	# The registry is across a network: a failed fetch is tried again, by npm itself and
	# then twice more here, before the tests that need the server fail.
	tries=0
	until npm install --no-audit --no-fund --fetch-retries 4 --prefix "$cache" \
		"@restatedev/restate-server@$version" >"$cache/npm.log" 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -ge 3 ]; then
			echo "restate_server.sh: npm could not install @restatedev/restate-server@$version" \
				"($tries tries; the end of $cache/npm.log follows)" >&2
			tail -n 15 "$cache/npm.log" >&2
			exit 77
		fi
		sleep $((tries * 5))
	done
	bin=$(find_bin)
	[ -n "$bin" ] || { echo "restate_server.sh: no restate-server binary in the package" >&2; exit 77; }
fi

case "${1:-}" in
install) echo "$bin" ;;
run)
	[ $# -eq 5 ] || { echo "usage: $0 run DIR INGRESS-PORT ADMIN-PORT NODE-PORT" >&2; exit 2; }
	dir=$2
	mkdir -p "$dir"
	cat >"$dir/restate.toml" <<CONF
base-dir = "$dir/data"
disable-telemetry = true
default-num-partitions = 2
rocksdb-total-memory-size = "256 MiB"
log-filter = "warn,restate=warn"
bind-address = "127.0.0.1:$5"
advertised-address = "http://127.0.0.1:$5/"

[admin]
bind-address = "127.0.0.1:$4"
disable-web-ui = true

[admin.query-engine]
memory-size = "64 MiB"

[ingress]
bind-address = "127.0.0.1:$3"
CONF
	exec "$bin" --no-logo --listen-mode tcp --config-file "$dir/restate.toml"
	;;
*) echo "usage: $0 install | run DIR INGRESS-PORT ADMIN-PORT NODE-PORT" >&2; exit 2 ;;
esac
