#!/bin/sh
# pg_server.sh - a private PostgreSQL server for the tests and the benchmarks: its own cluster
# in a directory of the caller's, on 127.0.0.1 and a port of the caller's, run by an
# unprivileged user (the server refuses to run as root), with Debian's defaults for
# durability (fsync and synchronous_commit on).
#   scripts/pg_server.sh start DIR PORT   create the cluster in DIR if it is not there, start
#                                         it, wait until it takes connections, and print its
#                                         URL (postgres://ecl@127.0.0.1:PORT/ecl)
#   scripts/pg_server.sh stop DIR [MODE]  stop it (MODE: fast, the default, or immediate)
# Exit status 77 when no PostgreSQL server is installed (apt-get install postgresql), with
# the reason on stderr: a test that needs the server fails then.
set -eu

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "pg_server.sh: no PostgreSQL server is installed (apt-get install postgresql)" >&2
	exit 77
fi

# As root, the server runs as nobody; otherwise as the caller.
as_server() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
	else
		"$@"
	fi
}

case "${1:-}" in
start)
	[ $# -eq 3 ] || { echo "usage: $0 start DIR PORT" >&2; exit 2; }
	dir=$2
	port=$3
	mkdir -p "$dir"
	[ "$(id -u)" -ne 0 ] || chown nobody:nogroup "$dir"
	as_server test -w "$dir" || {
		echo "pg_server.sh: $dir: the server's user ($(as_server id -un)) cannot write here;" \
			"its parent directories must be searchable by that user" >&2
		exit 1
	}
	if as_server "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		echo "postgres://ecl@127.0.0.1:$port/ecl"
		exit 0
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_server "$bindir/initdb" -D "$dir/data" -U ecl --auth=trust -E UTF8 \
			--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
			echo "pg_server.sh: initdb failed in $dir/data (the end of $dir/initdb.log follows)" >&2
			tail -n 15 "$dir/initdb.log" >&2
			exit 1
		}
	fi
	as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null || {
		echo "pg_server.sh: the server did not start (the end of $dir/server.log follows)" >&2
		tail -n 15 "$dir/server.log" >&2
		exit 1
	}
	as_server "$bindir/psql" -h 127.0.0.1 -p "$port" -U ecl -d postgres -qAt \
		-c "SELECT 1 FROM pg_database WHERE datname = 'ecl'" | grep -q 1 ||
		as_server "$bindir/createdb" -h 127.0.0.1 -p "$port" -U ecl ecl
	echo "postgres://ecl@127.0.0.1:$port/ecl"
	;;
stop)
	[ $# -ge 2 ] || { echo "usage: $0 stop DIR [fast|immediate]" >&2; exit 2; }
	as_server "$bindir/pg_ctl" -D "$2/data" -m "${3:-fast}" -w -t 60 stop >/dev/null
	;;
*) echo "usage: $0 start DIR PORT | stop DIR [fast|immediate]" >&2; exit 2 ;;
esac
