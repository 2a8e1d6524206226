#!/bin/sh
# standalone.sh BUILD_DIR SOURCE_DIR [CFLAGS]: ecl as a user gets it. Installs the build into
# a temporary prefix (cmake --install --prefix), then builds examples/standalone against it
# twice, with CMake (find_package(ecl), ecl_add_workflows) and with its Makefile (pkg-config,
# eclc), and runs each hello-ecl to the end of a run of its own workflow on the offline
# provider. Also: the installed ecl finds its network module, eclc runs again when a .ecl
# file changes, and hello-ecl has ecl's command line. CFLAGS go to both builds (a sanitized
# libecl needs its sanitizers in the program too).
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cflags=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "standalone: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name ecl.pc)
[ -n "$pc" ] || fail "no ecl.pc installed"
libdir=$(cd "$(dirname "$pc")/.." && pwd)
for f in bin/ecl bin/eclc include/ecl.h share/man/man1/ecl.1 share/man/man1/eclc.1 \
	share/man/man5/ecl.5 share/bash-completion/completions/ecl; do
	[ -e "$prefix/$f" ] || fail "$f is not installed"
done
for f in libecl.so libecl.a ecl/libecl-net.so cmake/ecl/eclConfig.cmake \
	cmake/ecl/eclConfigVersion.cmake cmake/ecl/ecl_add_workflows.cmake; do
	[ -e "$libdir/$f" ] || fail "$libdir/$f is not installed"
done

# The installed ecl: a local command, and one that needs the network module (a batch),
# which it must find in LIBDIR/ecl, not beside the executable.
"$prefix/bin/ecl" --db "$tmp/ecl.db" list | grep -q critique-revise || fail "ecl list"
printf '{"topic": "a"}\n' >"$tmp/in.jsonl"
"$prefix/bin/ecl" --db "$tmp/ecl.db" batch "$tmp/in.jsonl" --workflow critique-revise \
	>"$tmp/batch.out" 2>&1 || { cat "$tmp/batch.out"; fail "the installed ecl cannot run a batch"; }
"$prefix/bin/eclc" --version | grep -q "ABI" || fail "eclc --version"

# The project is copied: its .ecl file is touched below.
cp -R "$src/examples/standalone" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src/build-make"

expect_run() { # $1: the program, $2: the database
	"$1" --db "$2" run hello --name World --max-words 30 >"$tmp/run.out" 2>&1 ||
		{ cat "$tmp/run.out"; fail "$1 run hello failed"; }
	grep -q "completed successfully" "$tmp/run.out" || { cat "$tmp/run.out"; fail "$1: no completed run"; }
	grep -q '"words"' "$tmp/run.out" || { cat "$tmp/run.out"; fail "$1: no output of the code step"; }
}

# With CMake.
cmake -S "$tmp/src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$cflags" \
	>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/cmake" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "cmake build"; }
expect_run "$tmp/cmake/hello-ecl" "$tmp/cmake.db"
"$tmp/cmake/hello-ecl" run hello --help | grep -q -- "--max-words" || fail "hello-ecl run hello --help"
"$tmp/cmake/hello-ecl" --db "$tmp/cmake.db" list | grep -q "hello" || fail "hello-ecl list"
"$tmp/cmake/hello-ecl" --db "$tmp/cmake.db" list | grep -q "critique-revise" && fail "hello-ecl lists ecl's workflows"
"$tmp/cmake/hello-ecl" --db "$tmp/cmake.db" runs | grep -q "hello" || fail "hello-ecl runs"
# A changed .ecl file is compiled again.
sleep 1
touch "$tmp/src/hello.ecl"
cmake --build "$tmp/cmake" >"$tmp/build2.log" 2>&1 || { cat "$tmp/build2.log"; fail "cmake rebuild"; }
grep -q "eclc" "$tmp/build2.log" || { cat "$tmp/build2.log"; fail "eclc did not run again after hello.ecl changed"; }

# With make, pkg-config and eclc.
PKG_CONFIG_PATH="$libdir/pkgconfig" make -C "$tmp/src" O="$tmp/make" CFLAGS="-O1 -g $cflags" \
	LDFLAGS="$cflags" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "make"; }
LD_LIBRARY_PATH="$libdir"
export LD_LIBRARY_PATH
expect_run "$tmp/make/hello-ecl" "$tmp/make.db"
echo "standalone: installed, built with CMake and with make, ran hello both ways"
