#!/bin/sh
# seams.sh SOURCE_DIR OBJECTS - the runtime's architecture (runtime/README.md), checked:
#  (a) no file outside runtime/net/ (and cli/ and tests/, which may include what they need)
#      includes libcurl, libmicrohttpd or protobuf-c: the core, the store and the providers
#      that need no network build without them;
#  (b) cli/ is written against ecl.h alone: it includes no other header of the runtime;
#  (c) no circle among the runtime's files: from the object files (OBJECTS, a ;-separated
#      list: the core's and the network half's), file A depends on file B when A uses a
#      symbol B defines; a circle in that graph is named, file by file and through which
#      symbol, and fails the test.
set -eu
src=$1
objs=$2
fail=0

# ---- (a) the network libraries' headers stay in runtime/net/ -------------------------------
bad=$(cd "$src" && grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](curl/|microhttpd\.h|protobuf-c/|restate\.pb-c\.h)' \
	--include='*.c' --include='*.h' runtime generator bench examples dsl 2>/dev/null |
	grep -v '^runtime/net/' || true)
# bench/ measures libcurl itself (http_floor.c) and serves HTTP (fake_llm_server.c): programs,
# not the runtime, like cli/ and tests/.
bad=$(printf '%s\n' "$bad" | grep -v '^bench/' || true)
if [ -n "$bad" ]; then
	echo "seams: libcurl, libmicrohttpd or protobuf-c included outside runtime/net/:" >&2
	printf '%s\n' "$bad" >&2
	fail=1
fi

# ---- (b) cli/ sees the runtime through ecl.h only ------------------------------------------
# (its target's include path has runtime/ alone; this catches a path written out, too)
bad=$(cd "$src" && grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' cli/*.c cli/*.h |
	while IFS= read -r line; do
		name=$(printf '%s\n' "$line" | sed -E 's/.*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1/')
		case $name in
		ecl.h) continue ;;
		*/*) printf '%s\n' "$line" && continue ;;
		esac
		if [ ! -f "cli/$name" ]; then
			printf '%s\n' "$line"
		fi
	done)
if [ -n "$bad" ]; then
	echo "seams: cli/ includes a header of the runtime other than ecl.h:" >&2
	printf '%s\n' "$bad" >&2
	fail=1
fi

# ---- (c) no circle among the runtime's files -----------------------------------------------
# Edges known and left for now, "FROM TO SYMBOL", each with why; a circle that goes through
# one of them is not reported. Keep this list empty: an entry is a debt.
known=$(mktemp)
syms=$(mktemp)
trap 'rm -f "$known" "$syms"' EXIT
cat >"$known" <<'KNOWN'
KNOWN

# One line per symbol: "D file symbol" where file defines it, "U file symbol" where it uses it.
old_ifs=$IFS
IFS=';'
for o in $objs; do
	IFS=$old_ifs
	case $o in
	*.dir/runtime/*) f=${o#*.dir/} ;;
	*) f=$o ;;
	esac
	f=${f%.o}
	nm "$o" | awk -v f="$f" '
		NF == 2 && $1 == "U" { print "U", f, $2 }
		NF == 3 && $2 ~ /^[A-TV-Z]$/ { print "D", f, $3 }'
done >"$syms"
IFS=$old_ifs
if ! grep -q '^D ' "$syms"; then
	echo "seams: no symbol defined in the objects given ($objs)" >&2
	exit 1
fi

cycles=$(awk '
	FILENAME == ARGV[1] { if (NF >= 3 && $1 !~ /^#/) known[$1 " " $2 " " $3] = 1; next }
	$1 == "D" { def[$3] = $2; next }
	$1 == "U" { use[++nu] = $2 " " $3 }
	END {
		for (i = 1; i <= nu; i++) {
			split(use[i], u, " ")
			if (!(u[2] in def) || def[u[2]] == u[1]) continue
			if ((u[1] " " def[u[2]] " " u[2]) in known) continue
			e = u[1] SUBSEP def[u[2]]
			if (!(e in via)) { via[e] = u[2]; out[u[1]] = out[u[1]] " " def[u[2]] }
			files[u[1]]; files[def[u[2]]]
		}
		# Depth-first search; an edge back to a file on the path closes a circle.
		n = 0
		for (f in files) order[++n] = f
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
		for (i = 1; i <= n; i++) if (!color[order[i]]) visit(order[i], 0)
	}
	function visit(f, depth,    k, m, next_, to, p, line, s) {
		color[f] = 1; path[depth] = f; at[f] = depth
		m = split(out[f], next_, " ")
		for (k = 1; k <= m; k++) {
			to = next_[k]
			if (color[to] == 1) {
				line = ""
				for (p = at[to]; p <= depth; p++) {
					s = (p < depth) ? path[p + 1] : to
					line = line path[p] " -(" via[path[p] SUBSEP s] ")-> "
				}
				print line to
			} else if (!color[to])
				visit(to, depth + 1)
		}
		color[f] = 2
	}' "$known" "$syms")
if [ -n "$cycles" ]; then
	echo "seams: the runtime's files depend on each other in a circle (file -(symbol it uses)-> file):" >&2
	printf '%s\n' "$cycles" >&2
	fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "seams: no network header outside runtime/net/; cli/ on ecl.h alone; no circle among $(awk '$1 == "D" { print $2 }' "$syms" | sort -u | wc -l) files of the runtime"
