# diffuse — build, test and run.
#   make            build build/diffuse
#   make test       install missing Debian packages, build, run every test
#   make run        install missing Debian packages, build, run the main demo
#   make asan       the test suite under AddressSanitizer + UBSan
#   make bench      speed against PyTorch (not part of test)
#   make fuzz       fuzz the parsers (not part of test)
#   make install    PREFIX=/usr/local DESTDIR=
# Objects go under $(BUILD)/ (untracked). Each helper can use its own BUILD=dir.

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
# -march=native: the kernels are vectorised by the compiler for the CPU that builds them.
# Override with ARCH= for a portable binary.
ARCH    ?= -march=native
OPT     ?= -O2
WERROR  ?= -Werror
VERSION := 0.1.0

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wdouble-promotion -Wno-unused-parameter $(WERROR)
# Third-party headers are included as system headers so their warnings are not ours.
SYSINC   = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(1) 2>/dev/null))
CFLAGS  ?=
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -g $(OPT) $(ARCH) -pthread $(WARN) \
           -DDN_VERSION=\"$(VERSION)\" -Icore -Iviz
CORE_CFLAGS := $(call SYSINC,stb zlib)
VIZ_CFLAGS  := $(call SYSINC,sdl2 SDL2_ttf fontconfig stb)
CORE_LIBS   := $(shell pkg-config --libs stb zlib 2>/dev/null) -lm -pthread
VIZ_LIBS    := $(shell pkg-config --libs sdl2 SDL2_ttf fontconfig 2>/dev/null) -lgif
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)
LDFLAGS ?=

CORE_SRC := $(wildcard core/*.c)
VIZ_SRC  := $(wildcard viz/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
VIZ_OBJ  := $(VIZ_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJ := $(BUILD)/tests/support/testutil.o

BIN := $(BUILD)/diffuse

.PHONY: all deps test run bench asan fuzz install clean check-core
all: $(BIN)

deps:
	@sh scripts/deps.sh

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CORE_CFLAGS) -MMD -MP -c $< -o $@
# The SGEMM micro-kernel (core/gemm.c) relies on -O3 unrolling and fused multiply-adds.
$(BUILD)/core/gemm.o: OPT = -O3
$(BUILD)/core/gemm.o: CFLAGS += -ffp-contract=fast
$(BUILD)/viz/%.o: viz/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VIZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VIZ_CFLAGS) $(CORE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VIZ_CFLAGS) $(CORE_CFLAGS) -Itests/support -MMD -MP -c $< -o $@

$(BUILD)/libdiffuse.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libdiffuse-viz.a: $(VIZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
VIZ_LIB := $(if $(VIZ_OBJ),$(BUILD)/libdiffuse-viz.a)

$(BIN): $(CLI_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a \
	      $(VIZ_LIBS) $(CORE_LIBS)

# Every tests/test_X.c is one cmocka program linked against both libraries.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(VIZ_LIB) \
	      $(BUILD)/libdiffuse.a $(VIZ_LIBS) $(CORE_LIBS) $(TEST_LIBS)

# The U-Net benchmark (named bench_*, so not a test): built and run by `make bench`.
$(BUILD)/bench_unet: $(BUILD)/tests/bench_unet.o $(BUILD)/libdiffuse.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdiffuse.a $(CORE_LIBS)

# core/ must never include SDL: checked on every test run.
check-core:
	@if grep -rnE '#include *[<"](SDL|SDL2/)' core/; then \
	  echo "core/ includes SDL: move that code to viz/" >&2; exit 1; fi

test: deps check-core $(BIN) $(TEST_BIN)
	@sh scripts/run_tests.sh $(BUILD) $(TEST_BIN)

run: deps $(BIN)
	@sh scripts/run_demo.sh $(BIN)

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	        LDFLAGS="-fsanitize=address,undefined" DN_ASAN=1 test

bench: deps $(BIN) $(BUILD)/bench_unet
	@sh scripts/bench.sh $(BUILD)

fuzz: deps
	@sh scripts/fuzz.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/diffuse
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/diffuse
	cp -r assets lessons $(DESTDIR)$(PREFIX)/share/diffuse/

clean:
	rm -rf build frames slides

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
