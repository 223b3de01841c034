# Thin wrapper: the two commands of the README, plus the pieces they use.
#   make demo   build, then run the main job (comptoir demo)
#   make test   build, start the services the tests need, run every test, stop them
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= 2

.PHONY: all build test demo bench clean format

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

bench:
	@scripts/bootstrap bench
	@$(MAKE) --no-print-directory build
	@bench/import/run

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build
