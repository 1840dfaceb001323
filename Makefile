# The front door. `make demo` and `make check` work on a fresh Debian 12 machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all build deps check test test-asan test-without-qemu check-embed fuzz demo bench install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Every test, then the unit tests and the asan subset of the integration
# tests again under ASan/UBSan, then a build without the qemu backend, the
# fuzz targets, and a program built against an installed copy of the
# library. scripts/check.sh runs the steps in order, stops at the first that
# fails, and prints the time of each and the total (also on failure).
CHECK_STEPS = build test test-asan test-without-qemu fuzz check-embed
check: deps
	MAKE="$(MAKE)" scripts/check.sh $(CHECK_STEPS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMCTL_SANITIZE=ON $(CMAKE_ARGS)

# The unit tests, and the few integration tests labelled asan
# (tests/asan_subset.cmake) that launch QEMU, make TAPs and SSH into guests.
# intercept_tls_get_addr=0: up to GCC 13, the sanitizer runtime's
# __tls_get_addr interceptor takes a dynamic TLS block that happens to start
# 16 bytes into a page for one with a pre-2.25 glibc header and reads the two
# words before it; LeakSanitizer's tracer then segfaults at exit now and then
# ("Tracer caught signal 11", after the test passed; seen here in
# SshKeys.ReadsKeysWrittenBySshKeygen, which dlopens libssh and libcrypto).
# Leaks are still found: glibc's dynamic TLS blocks are heap blocks that the
# threads' DTVs reach.
test-asan: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -L 'unit|asan' -j $(JOBS)

# Backends are chosen at build time; a build without qemu must build and pass
# its own tests (noop, propolis against its fakes, the layering checks).
NOQEMU_BUILD ?= build-noqemu
$(NOQEMU_BUILD)/build.ninja:
	cmake -S . -B $(NOQEMU_BUILD) -G Ninja -DVMCTL_WITH_QEMU=OFF $(CMAKE_ARGS)

test-without-qemu: $(NOQEMU_BUILD)/build.ninja
	cmake --build $(NOQEMU_BUILD) -j $(JOBS)
	ctest --test-dir $(NOQEMU_BUILD) --output-on-failure -L 'unit|layers' -j $(JOBS)

# The libFuzzer targets, built with clang, each run for a bounded smoke pass.
FUZZ_BUILD ?= build-fuzz
$(FUZZ_BUILD)/build.ninja:
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DVMCTL_FUZZ=ON -DVMCTL_BUILD_TESTS=OFF $(CMAKE_ARGS)

fuzz: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -L fuzz

check-embed: build
	scripts/check-embed.sh $(BUILD)

# Only vmctl: the demo needs no test binaries.
demo: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target vmctl
	scripts/demo.sh $(BUILD)/bin/vmctl

bench: build
	scripts/bench.sh $(BUILD)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(NOQEMU_BUILD)
