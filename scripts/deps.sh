#!/bin/sh
# deps.sh - install the Debian packages that are missing, for one purpose:
#   scripts/deps.sh build   what building ecl needs
#   scripts/deps.sh test    that, and what the tests, coverage, fuzzing and checks need
#   scripts/deps.sh afl     that, and AFL++ for make fuzz-afl
# As root it installs directly, otherwise through sudo; where neither works it prints the
# exact apt-get line to run and fails.
set -eu

build="gcc make cmake pkg-config re2c libcurl4-openssl-dev libcjson-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev"
test="$build libcriterion-dev python3 clang clang-format clang-tidy libclang-rt-14-dev gcovr valgrind sqlite3"
afl="$test afl++"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
afl) want=$afl ;;
*) echo "usage: $0 build|test|afl" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
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
