#!/bin/sh
# deps.sh - install the Debian packages that are missing, for one purpose:
#   scripts/deps.sh build   what building ecl needs
#   scripts/deps.sh test    that, and what the tests, coverage, fuzzing and checks need
#   scripts/deps.sh afl     that, and AFL++ for make fuzz-afl
#   scripts/deps.sh bench   what building needs, and PostgreSQL for make bench
#   scripts/deps.sh list test-only   print the packages the tests need and the build does not
# As root it installs directly, otherwise through sudo; where neither works it prints the
# exact apt-get line to run and fails.
set -eu

build="gcc make cmake pkg-config re2c libcurl4-openssl-dev libcjson-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev libpq-dev"
# npm fetches restate-server for the end-to-end tests against a real Restate server.
test_only="libcriterion-dev python3 clang clang-format clang-tidy libclang-rt-14-dev gcovr valgrind sqlite3 npm postgresql"
test="$build $test_only"
afl="$test afl++"
# make bench runs variants A and Q on a PostgreSQL server of its own, beside pgbench
bench="$build postgresql"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
afl) want=$afl ;;
bench) want=$bench ;;
list)
	[ "${2:-}" = test-only ] || { echo "usage: $0 list test-only" >&2; exit 2; }
	echo "$test_only"
	exit 0
	;;
*) echo "usage: $0 build|test|afl|bench|list test-only" >&2; exit 2 ;;
esac

# A package counts as present when dpkg has it installed; npm also when an npm command is
# already there (Node.js's own packages ship it, and Debian's npm would replace their nodejs).
present() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
	[ "$1" = npm ] && command -v npm >/dev/null 2>&1
}

missing=""
for p in $want; do
	present "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "Installing the missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "Neither root nor sudo: run this as root, then try again:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq || ! $sudo apt-get install -y -qq --no-install-recommends $missing; then
	echo "Installing failed; run this as root, then try again:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
