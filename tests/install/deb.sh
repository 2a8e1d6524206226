#!/bin/sh
# deb.sh BUILD_DIR: the Debian package of the build (CPack's DEB generator, as `make deb`
# makes it). Checks its control fields (the Depends: line names the shared libraries the
# binaries need), that it holds every file a user needs, and that the tree it unpacks to
# works where it lands: ecl lists its workflows and loads its network module from
# LIBDIR/ecl, and ecl.pc names where the package puts the files.
set -eu
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb: $*" >&2; exit 1; }

command -v dpkg-deb >/dev/null || fail "dpkg-deb is missing"
(cd "$build" && cpack -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb=$(ls "$tmp"/pkg/ecl_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { cat "$tmp/cpack.log"; fail "no ecl_*.deb written"; }
case $(basename "$deb") in
ecl_[0-9]*.[0-9]*_*.deb) ;;
*) fail "$(basename "$deb") is not named ecl_VERSION_ARCH.deb" ;;
esac

[ "$(dpkg-deb -f "$deb" Package)" = ecl ] || fail "Package: is not ecl"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libcurl4 libcjson1 libsqlite3-0 libprotobuf-c1 libmicrohttpd12; do
	echo "$depends" | tr ',' '\n' | grep -q "^ *$lib\( \|$\)" || fail "Depends: lacks $lib: $depends"
done

dpkg-deb -c "$deb" | awk '{ for (i = 1; i <= NF; i++) if ($i == "->") { print $(i - 1); next } print $NF }' >"$tmp/files"
for f in ./usr/bin/ecl ./usr/bin/eclc ./usr/include/ecl.h ./usr/share/man/man1/ecl.1 \
	./usr/share/man/man1/eclc.1 ./usr/share/man/man5/ecl.5 \
	./usr/share/bash-completion/completions/ecl; do
	grep -qx "$f" "$tmp/files" || fail "the package lacks $f"
done
for f in libecl.so libecl.so.2 libecl.a ecl/libecl-net.so pkgconfig/ecl.pc \
	cmake/ecl/eclConfig.cmake cmake/ecl/eclConfigVersion.cmake cmake/ecl/ecl_add_workflows.cmake; do
	grep -q "^\./usr/lib/\(.*/\)\{0,1\}$f\$" "$tmp/files" || fail "the package lacks usr/lib/.../$f"
done

# Unpacked anywhere, the tree works.
dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/bin/ecl" --db "$tmp/ecl.db" list | grep -q critique-revise || fail "ecl list"
printf '{"topic": "a"}\n' >"$tmp/in.jsonl"
"$tmp/root/usr/bin/ecl" --db "$tmp/ecl.db" batch "$tmp/in.jsonl" --workflow critique-revise \
	>"$tmp/batch.out" 2>&1 || { cat "$tmp/batch.out"; fail "the packaged ecl cannot load its network module"; }
pc=$(find "$tmp/root" -name ecl.pc)
[ "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=prefix ecl)" = /usr ] ||
	fail "ecl.pc's prefix is not /usr"
for v in libdir:/libecl.so includedir:/ecl.h eclc:; do
	f=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable="${v%%:*}" ecl)
	[ -e "$tmp/root$f${v#*:}" ] || fail "ecl.pc's ${v%%:*} ($f) is not where the package puts it"
done
echo "deb: $(basename "$deb"), Depends: $depends"
