# Thin wrapper: the two commands of the README, plus the pieces they use.
#   make demo   build the binary (only it), then run the main job (comptoir demo)
#   make test   build everything the tests need while the services start, run every test, stop them
#   make demo-real, make bench, make install, make package: see the README
# scripts/build says which phase runs (packages, dashboard, compile) and how long it took.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
export PRESET

.PHONY: all build test demo demo-real bench install package clean format

all: build

build:
	@scripts/build all

test:
	@scripts/test $(BUILD_DIR)

# DEMO_ARGS: more flags for comptoir demo (e.g. --port 8090 --rows 1000000)
demo:
	@scripts/build demo
	@build/comptoir demo --dir demo $(DEMO_ARGS)

# The same flows against MariaDB, ZooKeeper, Kafka and HDFS started by scripts/stack.
demo-real:
	@scripts/build demo
	@scripts/bootstrap test
	@scripts/demo-real

install: build
	@cmake --install $(BUILD_DIR)

# build/package/comptoir_<version>_amd64.deb (binary, /etc/comptoir, systemd units, docs)
package: build
	@cd $(BUILD_DIR) && cpack -G DEB >/dev/null && ls ../package/*.deb

bench:
	@scripts/build bench
	@bench/import/run

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build
