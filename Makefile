# Thin wrapper: the two commands of the README, plus the pieces they use.
#   make demo   build, then run the main job (comptoir demo)
#   make test   build, start the services the tests need, run every test, stop them
#   make demo-real, make install, make package: see the README
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= 2

.PHONY: all build test demo demo-real bench install package clean format

all: build

build:
	@scripts/bootstrap build
	@[ -f $(BUILD_DIR)/build.ninja ] || cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test:
	@scripts/bootstrap test
	@$(MAKE) --no-print-directory build
	@scripts/test $(BUILD_DIR)

demo: build
	@build/comptoir demo --dir demo

# The same flows against MariaDB, ZooKeeper, Kafka and HDFS started by scripts/stack.
demo-real: build
	@scripts/bootstrap test
	@scripts/demo-real

install: build
	@cmake --install $(BUILD_DIR)

# build/package/comptoir_<version>_amd64.deb (binary, /etc/comptoir, systemd units, docs)
package: build
	@cd $(BUILD_DIR) && cpack -G DEB >/dev/null && ls ../package/*.deb

bench:
	@scripts/bootstrap bench
	@$(MAKE) --no-print-directory build
	@bench/import/run

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build
