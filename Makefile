# diffuse — build, test and run.
#   make              build build/diffuse for this CPU
#   make test         install missing Debian packages, build, run every test (prints the slowest)
#   make run          install missing Debian packages, build, run the main demo
#   make PORTABLE=1   one binary for any x86-64 (or ARM64) CPU; `make install` builds it this way
#   make asan         the test suite under AddressSanitizer + UBSan
#   make bench        speed against OpenBLAS and PyTorch (not part of test; docs/PERFORMANCE.md)
#   make fuzz         fuzz the parsers (not part of test)
#   make soak         2,000 random keys and timeline drags at the viewer under Xvfb (not part of test)
#   make clang-check  build everything with clang, warnings as errors, and run the kernel tests
#   make isa-check    the reference samples with every kernel copy, and from x86-64-v3/-v4 builds
#   make arm-check    cross-build for 64-bit ARM and run the core tests under qemu-user-static
#   make fresh-check  `make run` and `make test` in a fresh Debian 12 built by debootstrap
#   make install      PREFIX=/usr/local DESTDIR=
# Every goal first runs scripts/deps.sh (installs missing Debian packages), then this Makefile
# again, so that pkg-config is asked for flags only once the libraries are there. Flags given on
# the command line (CFLAGS=..., LDFLAGS=...) are added after the project's own. Objects go under
# $(BUILD)/ (untracked); each helper can use its own BUILD=dir.

BUILD   ?= build
PREFIX  ?= /usr/local
VERSION := 0.1.0

# ---- the outer make: packages first ---------------------------------------------------------------
# Goals that need no packages (or install their own) skip this step.
NODEPS_GOALS := clean fresh-check arm-check
ifeq ($(DN_MAKE_INNER),)
DN_GOALS := $(or $(MAKECMDGOALS),all)
ifneq ($(filter-out $(NODEPS_GOALS),$(DN_GOALS)),)
.PHONY: $(DN_GOALS) dn-deps-then-make
$(DN_GOALS): dn-deps-then-make ; @:
dn-deps-then-make:
	@sh scripts/deps.sh
	@$(MAKE) --no-print-directory DN_MAKE_INNER=1 $(MAKECMDGOALS)
else
DN_MAKE_INNER := 1
endif
endif

ifneq ($(DN_MAKE_INNER),)
# ---- the inner make: the build ----------------------------------------------------------------------

OPT     ?= -O2
KOPT    ?= -O3
WERROR  ?= -Werror
SAN     ?=
LDFLAGS ?=
CFLAGS  ?=
# The target: x86_64, aarch64, ... (a cross compiler names its own).
MACHINE := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null)))

# The kernel files (gemm.c, nn.c, nn_conv.c, kernels.c) are compiled once per instruction set of
# the CPU family (core/nn/isa.h); core/nn/dispatch.c picks one at start-up. Everything else is compiled
# once: for this CPU (-march=native), or with PORTABLE=1 for the family's baseline.
ifeq ($(MACHINE),x86_64)
KERNEL_ISAS := avx512 avx2 generic
ISA_avx512  := -march=x86-64-v4
ISA_avx2    := -march=x86-64-v3
ISA_generic := -march=x86-64
ARCH_NATIVE := -march=native
ARCH_BASE   := -march=x86-64 -mtune=generic
TUNE_NATIVE := -mtune=native
else ifeq ($(MACHINE),aarch64)
KERNEL_ISAS := neon generic
ISA_neon    := -march=armv8-a
ISA_generic := -march=armv8-a
ARCH_NATIVE := -mcpu=native
ARCH_BASE   := -march=armv8-a
TUNE_NATIVE :=
else
KERNEL_ISAS := generic
ISA_generic :=
ARCH_NATIVE :=
ARCH_BASE   :=
TUNE_NATIVE :=
endif
ifeq ($(PORTABLE),1)
ARCH ?= $(ARCH_BASE)
TUNE ?=
else
ARCH ?= $(ARCH_NATIVE)
TUNE ?= $(TUNE_NATIVE)
endif

# -ffp-contract=off: no compiler-made fused multiply-adds anywhere (clang would fuse by default);
# the kernels that fuse say so explicitly (isa.h), so every CPU rounds the same way.
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wdouble-promotion -Wno-unused-parameter -Wno-psabi $(WERROR)
BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -g -pthread -ffp-contract=off \
        -DDN_VERSION=\"$(VERSION)\" -Icore -Iviz
# Third-party headers are included as system headers so their warnings are not ours.
SYSINC = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(1) 2>/dev/null))
CORE_CFLAGS := $(call SYSINC,stb zlib)
VIZ_CFLAGS  := $(call SYSINC,sdl2 SDL2_ttf fontconfig x11 stb)
CORE_LIBS   := $(shell pkg-config --libs stb zlib 2>/dev/null) -lm -pthread
VIZ_LIBS    := $(shell pkg-config --libs sdl2 SDL2_ttf fontconfig x11 2>/dev/null) -lgif
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

ALL_CFLAGS = $(BASE) $(OPT) $(ARCH) $(WARN) $(SAN) $(CFLAGS)
# -fno-trapping-math lets the compiler vectorise the clamps of nn.c's exp (it changes no value).
KERNEL_CFLAGS = $(BASE) $(KOPT) -fno-trapping-math $(TUNE) $(WARN) $(SAN) $(CFLAGS)
ALL_LDFLAGS = -pthread $(SAN) $(LDFLAGS)

KERNEL_SRC := core/nn/gemm.c core/nn/nn.c core/nn/nn_conv.c core/nn/kernels.c
CORE_SRC := $(filter-out $(KERNEL_SRC),$(wildcard core/*/*.c))
VIZ_SRC  := $(wildcard viz/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) \
            $(foreach i,$(KERNEL_ISAS),$(KERNEL_SRC:core/%.c=$(BUILD)/core/%.$(i).o))
VIZ_OBJ  := $(VIZ_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJ := $(BUILD)/tests/support/testutil.o
# Keep the test objects (make would delete them as intermediates and rebuild them every time).
.SECONDARY: $(TEST_SRC:%.c=$(BUILD)/%.o) $(TEST_HELPER_OBJ)

BIN := $(BUILD)/diffuse

.PHONY: all test run bench asan fuzz soak install clean check-core clang-check isa-check arm-check fresh-check
all: $(BIN)

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -MMD -MP -c $< -o $@
# One copy of a kernel file per instruction set: build/core/gemm.avx2.o from core/nn/gemm.c.
define KERNEL_RULE
$(BUILD)/core/%.$(1).o: core/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(KERNEL_CFLAGS) $$(ISA_$(1)) -DDN_ISA=$(1) $$(CORE_CFLAGS) -MMD -MP -c $$< -o $$@
endef
$(foreach i,$(KERNEL_ISAS),$(eval $(call KERNEL_RULE,$(i))))
$(BUILD)/viz/%.o: viz/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(VIZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(VIZ_CFLAGS) $(CORE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(VIZ_CFLAGS) $(CORE_CFLAGS) -Itests/support -MMD -MP -c $< -o $@

$(BUILD)/libdiffuse.a: $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/libdiffuse-viz.a: $(VIZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
VIZ_LIB := $(if $(VIZ_OBJ),$(BUILD)/libdiffuse-viz.a)

$(BIN): $(CLI_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a $(VIZ_LIBS) $(CORE_LIBS)

# Every tests/test_X.c is one cmocka program linked against both libraries.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(VIZ_LIB) $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(VIZ_LIB) \
	      $(BUILD)/libdiffuse.a $(VIZ_LIBS) $(CORE_LIBS) $(TEST_LIBS)

# The benchmarks (named bench_*, so not tests): built and run by `make bench`.
$(BUILD)/bench_unet: $(BUILD)/tests/bench_unet.o $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libdiffuse.a $(CORE_LIBS)
# bench_latent: latent diffusion against pixel space, the autoencoder's speed (tests/bench_latent.c).
$(BUILD)/bench_latent: $(BUILD)/tests/bench_latent.o $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libdiffuse.a $(CORE_LIBS)
# bench_winograd wraps dn_conv2d_forward to time the U-Net's convolutions (a study: tests/bench_winograd.c).
$(BUILD)/bench_winograd: $(BUILD)/tests/bench_winograd.o $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -Wl,--wrap=dn_conv2d_forward -o $@ $< $(BUILD)/libdiffuse.a $(CORE_LIBS)
# bench_view times the viewer's keys (tests/bench_view.c): the view lives in the viz library.
$(BUILD)/bench_view: $(BUILD)/tests/bench_view.o $(VIZ_LIB) $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(VIZ_LIB) $(BUILD)/libdiffuse.a $(VIZ_LIBS) $(CORE_LIBS)
# bench_gemm also links Debian's OpenBLAS (installed by scripts/bench.sh only).
$(BUILD)/bench_gemm: $(BUILD)/tests/bench_gemm.o $(BUILD)/libdiffuse.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libdiffuse.a $(CORE_LIBS) \
	      $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
$(BUILD)/tests/bench_gemm.o: CFLAGS += $(call SYSINC,openblas)

# core/ must never include SDL: checked on every test run.
check-core:
	@if grep -rnE '#include *[<"](SDL|SDL2/)' core/; then \
	  echo "core/ includes SDL: move that code to viz/" >&2; exit 1; fi

test: check-core $(BIN) $(TEST_BIN)
	@sh scripts/run_tests.sh $(BUILD) $(TEST_BIN)

run: $(BIN)
	@sh scripts/run_demo.sh $(BIN)

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 KOPT=-O1 \
	        SAN="-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	        DN_ASAN=1 test

bench:
	@sh scripts/bench.sh $(BUILD)
soak: $(BIN)
	@sh scripts/soak.sh $(BUILD)

fuzz:
	@sh scripts/fuzz.sh

# The same build with clang (warnings as errors), and the unit tests (not the shell tests: they
# drive the same program) on its binaries.
clang-check:
	@sh scripts/deps.sh clang
	$(MAKE) CC=clang BUILD=build/clang build/clang/diffuse $(TEST_SRC:tests/%.c=build/clang/tests/%)
	@DN_NO_SHELL_TESTS=1 sh scripts/run_tests.sh build/clang $(TEST_SRC:tests/%.c=build/clang/tests/%)

isa-check:
	@sh scripts/isa_check.sh

install:
	$(MAKE) BUILD=build/portable PORTABLE=1 build/portable/diffuse
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/diffuse
	install -m 755 build/portable/diffuse $(DESTDIR)$(PREFIX)/bin/diffuse
	cp -r assets lessons $(DESTDIR)$(PREFIX)/share/diffuse/

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
endif

# ---- goals that install their own packages -----------------------------------------------------------
arm-check:
	@sh scripts/arm_check.sh

fresh-check:
	@sh scripts/fresh_check.sh

clean:
	rm -rf build frames slides
