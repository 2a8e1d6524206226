#!/bin/sh
# exports.sh LIBECL_SO LIBECL_NET_SO - what the shared objects export: libecl.so its public
# API only (every name of ecl.h begins with ecl_; cmake/libecl.map), libecl-net.so its one
# table (ecl_net_api; cmake/libecl-net.map). Any other name would be a symbol of the
# runtime's insides that a program could bind to, or that would clash with one of its own.
set -eu
fail=0
others=$(nm -D --defined-only "$1" | awk 'NF == 3 && $3 !~ /^ecl_/ { print $3 }')
if [ -z "$(nm -D --defined-only "$1" | awk 'NF == 3 && $3 ~ /^ecl_/')" ]; then
	echo "exports: $1 exports no ecl_ function" >&2
	fail=1
fi
if [ -n "$others" ]; then
	echo "exports: $1 exports names outside its API (ecl_*):" >&2
	echo "$others" >&2
	fail=1
fi
net=$(nm -D --defined-only "$2" | awk 'NF == 3 { print $3 }')
if [ "$net" != "ecl_net_api" ]; then
	echo "exports: $2 must export ecl_net_api alone; it exports:" >&2
	echo "$net" >&2
	fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "exports: $(basename "$1") exports $(nm -D --defined-only "$1" | grep -c ' ecl_') ecl_ names and nothing else; $(basename "$2") ecl_net_api alone"
