# The README's commands. The build itself is CMake's; these targets set it up and run it.
#   make demo      install what is missing, build, run critique-revise on the offline provider
#   make check     install what is missing, build, run every test (see scripts/check.sh)

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TOPIC ?= Benefits of Rust
DEMO_DB ?= $(BUILD)/demo.db

.PHONY: all build demo check generate coverage fuzz fuzz-afl bench format clean install deb

all: build

# `ecl` and `eclc` only: the tests are configured by make check, in build directories of their own,
# so this build needs the build packages alone (scripts/deps.sh build).
build:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECL_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target ecl eclc

demo: build
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BUILD)/ecl --db $(DEMO_DB) list --detailed
	$(BUILD)/ecl --db $(DEMO_DB) --provider offline run critique-revise --topic "$(TOPIC)"

check:
	@scripts/deps.sh test
	@scripts/check.sh

# Install ecl, eclc, libecl, ecl.h, ecl.pc, the CMake package, the manual pages and the bash
# completion under PREFIX (default /usr/local), staged under DESTDIR when it is set.
PREFIX ?= /usr/local
INSTALL_BUILD ?= build-install
install:
	@scripts/deps.sh build
	@cmake -S . -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECL_TESTS=OFF \
		-DCMAKE_INSTALL_PREFIX="$(PREFIX)" >/dev/null
	@cmake --build $(INSTALL_BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(INSTALL_BUILD)

# The Debian package ecl_VERSION_ARCH.deb, here: apt-get install ./ecl_*.deb
deb:
	@scripts/deps.sh build
	@cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECL_TESTS=OFF \
		-DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build build-deb -j $(JOBS)
	@cd build-deb && cpack -G DEB
	cp build-deb/ecl_*.deb .
	@ls ecl_*.deb

# Rewrite generated/ from dsl/*.ecl (after adding or changing a workflow).
generate:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) >/dev/null
	@cmake --build $(BUILD) --target eclc -j $(JOBS)
	rm -f generated/*.c
	$(BUILD)/eclc --out-dir generated --registry generated/workflows.c $(sort $(wildcard dsl/*.ecl))

# The benchmarks of bench/README.md: one JSON line per variant.
bench:
	@scripts/deps.sh bench
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DECL_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS)
	@bench/run build-bench

# Run every fuzz target for FUZZ_SECONDS (default 60) each.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh test
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# The same fuzz targets under AFL++ (afl-clang-fast, afl-fuzz); libFuzzer stays the default.
fuzz-afl:
	@scripts/deps.sh afl
	@scripts/fuzz.sh --afl $(FUZZ_SECONDS)

coverage:
	@scripts/deps.sh test
	@scripts/check.sh coverage

format:
	clang-format -i $(shell git ls-files '*.c' '*.h' | grep -v '^generated/')

clean:
	rm -rf $(BUILD) build-check build-asan build-demo build-fuzz build-fuzz.log build-bench build-bench-tests
	rm -rf build-afl build-install build-deb
