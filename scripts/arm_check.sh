#!/bin/sh
# make arm-check: cross-build the core library and its unit tests for 64-bit ARM (aarch64) with
# Debian's gcc-aarch64-linux-gnu and run them under qemu-user-static: the code must build there
# and give the same bits with the NEON kernels (and with the plain-C ones, DN_KERNELS=generic).
#
# usage: sh scripts/arm_check.sh [test_NAME...]   (or: make arm-check [ARM_TESTS="test_NAME ..."])
#   default: every tests/test_*.c that needs only core/ (none of its "..." includes is in viz/,
#   no <SDL...> or <gif_lib.h>), plus test_gemm again with DN_KERNELS=generic. test_shipped
#   checks its reference samples with both copies of the kernels (DN_TEST_GENERIC=1). Under
#   emulation (50 to 100 times slower than natively) test_shipped runs its reference samples only
#   (its guided-sample smoke test takes over half an hour there) and test_train is left out (a
#   training loop), unless ARM_SLOW=1.
# Installs what is missing, only that: gcc-aarch64-linux-gnu, binutils (`ar`), qemu-user-static,
# pkg-config and, through multiarch (dpkg --add-architecture arm64), the arm64 libraries the core
# and the cmocka tests link and the C library they run with: libcmocka-dev:arm64 zlib1g-dev:arm64
# libstb-dev:arm64 libc6:arm64 (apt may upgrade the same packages for amd64: multiarch wants one
# version of both). Not root: prints the commands to run and exits 1.
# Builds through the Makefile into $BUILD without any viewer code (VIZ_SRC= VIZ_CFLAGS= VIZ_LIBS=),
# pkg-config reading the arm64 .pc files; checks that no host (x86-64, SDL, gif) flag is in a
# command. Runs each test from the top folder (tests read assets/ and tests/data/) with
# qemu-aarch64-static -L /, so binfmt need not be registered. Not -L /usr/aarch64-linux-gnu: its
# loader (libc6-arm64-cross) would pick libc.so.6 of libc6:arm64 from the ld.so cache, and the
# mixed pair hangs in pthread_create; -L / runs everything from libc6:arm64. test_shipped
# must reproduce tests/data/shipped_*_ref.bin bit for bit (largest difference 0).
# Environment: ARM_TESTS (as the arguments), ARM_SLOW, BUILD (default build/arm), JOBS (make -j,
# default 2), ARM_TIMEOUT (seconds per test, default 3600). Logs: $BUILD/make.log,
# $BUILD/test-logs/.
# Exit status: 0 when everything built and passed, 1 otherwise.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/arm}
JOBS=${JOBS:-2}
TIMEOUT=${ARM_TIMEOUT:-3600}
CROSS=aarch64-linux-gnu-gcc
QEMU=qemu-aarch64-static
LOADER=/lib/ld-linux-aarch64.so.1 # libc6:arm64, with the libraries in /usr/lib/aarch64-linux-gnu
start_all=$(date +%s)

# ---- packages ------------------------------------------------------------------------------------
# binutils: the Makefile archives with a plain `ar` (the host's handles ARM objects)
HOST_PKGS="gcc-aarch64-linux-gnu binutils qemu-user-static pkg-config"
ARM_PKGS="libcmocka-dev:arm64 zlib1g-dev:arm64 libstb-dev:arm64 libc6:arm64"
installed() { case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" in *" installed") ;; *) return 1 ;; esac; }
missing=""
for p in $HOST_PKGS $ARM_PKGS; do installed "$p" || missing="$missing $p"; done
add_arch=""
case "$missing" in *:arm64*)
  dpkg --print-foreign-architectures | grep -qx arm64 || add_arch=1 ;; esac
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "arm-check: missing Debian packages; run:" >&2
    [ -n "$add_arch" ] && echo "  sudo dpkg --add-architecture arm64" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
  echo "arm-check: installing:$missing${add_arch:+ (after dpkg --add-architecture arm64)}"
  [ -n "$add_arch" ] && dpkg --add-architecture arm64
  export DEBIAN_FRONTEND=noninteractive
  # An unreachable third-party source makes update fail; the install below says what is missing.
  apt-get update -qq >/dev/null 2>&1 || echo "arm-check: apt-get update reported errors (see apt-get update)" >&2
  # shellcheck disable=SC2086
  out=$(apt-get install -y -qq --no-install-recommends $missing 2>&1) ||
    { echo "$out" | tail -15 >&2; echo "arm-check: apt-get install failed" >&2; exit 1; }
fi
for c in $CROSS $QEMU pkg-config; do
  command -v "$c" >/dev/null 2>&1 || { echo "arm-check: '$c' not found after installing" >&2; exit 1; }
done
[ -e $LOADER ] || { echo "arm-check: no $LOADER (libc6:arm64)" >&2; exit 1; }

# ---- which tests ---------------------------------------------------------------------------------
# core_only FILE: every #include "X" of FILE is core/X or under tests/, and no SDL or giflib.
core_only() {
  grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(SDL|gif_lib)' "$1" && return 1
  # shellcheck disable=SC2013 # header names have no spaces
  for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"); do
    [ -f "core/$h" ] || [ -f "tests/$h" ] || [ -f "tests/support/$h" ] || return 1
  done
}
left="" # what ARM_SLOW=1 would add
if [ $# -gt 0 ]; then
  tests="$*"
elif [ -n "${ARM_TESTS:-}" ]; then
  tests=$ARM_TESTS
else
  tests=""
  for f in tests/test_*.c; do
    t=$(basename "$f" .c)
    [ "$t" = test_train ] && [ -z "${ARM_SLOW:-}" ] && left="$left $t" && continue
    core_only "$f" && tests="$tests $t"
  done
fi
case " $tests " in *" test_shipped "*) [ -z "${ARM_SLOW:-}" ] && left="$left, test_shipped's smoke test" ;; esac
left=${left#,}
bins=""
for t in $tests; do
  [ -f "tests/$t.c" ] || { echo "arm-check: no tests/$t.c" >&2; exit 1; }
  bins="$bins $BUILD/tests/$t"
done

# ---- build ---------------------------------------------------------------------------------------
# DN_MAKE_INNER=1: skip the host package step (scripts/deps.sh installs the viewer's packages).
# pkg-config reads only the arm64 .pc files (Debian multiarch) and the architecture-free ones.
PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
export PKG_CONFIG_LIBDIR
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR 2>/dev/null || true
set -- DN_MAKE_INNER=1 CC=$CROSS PORTABLE=1 BUILD="$BUILD" VIZ_SRC= VIZ_CFLAGS= VIZ_LIBS=
mkdir -p "$BUILD/test-logs"
# Every command the build would run (-n -B), checked for host flags before building.
# shellcheck disable=SC2086
make --no-print-directory -n -B "$@" "$BUILD/libdiffuse.a" $bins >"$BUILD/commands.txt" 2>&1 || true
leaks=$(grep -nE 'SDL|x86_64-linux-gnu|-lgif|-lfontconfig|-march=(native|x86)|-c viz/' "$BUILD/commands.txt" || true)
if [ -n "$leaks" ]; then
  echo "arm-check: host or viewer flags in the ARM build ($BUILD/commands.txt):" >&2
  echo "$leaks" | head -5 | sed 's/^/    /' >&2
  exit 1
fi
echo "arm-check: make -j$JOBS $* $BUILD/libdiffuse.a +$(echo "$tests" | wc -w) tests (log $BUILD/make.log)"
start=$(date +%s)
# shellcheck disable=SC2086
if ! make --no-print-directory -j"$JOBS" "$@" "$BUILD/libdiffuse.a" $bins >"$BUILD/make.log" 2>&1; then
  echo "arm-check: the ARM build failed; log $BUILD/make.log" >&2
  grep -E ': (fatal )?error:|\*\*\*|undefined reference|No such file' "$BUILD/make.log" | head -15 |
    sed 's/^/    /' >&2
  exit 1
fi
build_secs=$(( $(date +%s) - start ))
for isa in neon generic; do
  [ -f "$BUILD/core/nn/gemm.$isa.o" ] || { echo "arm-check: no $BUILD/core/nn/gemm.$isa.o: the Makefile did not build the $isa kernels" >&2; exit 1; }
done
for b in $bins; do # ELF e_machine 0xb7: AArch64
  [ "$(od -An -tx1 -j18 -N2 "$b" | tr -d ' \n')" = b700 ] || { echo "arm-check: $b is not an AArch64 program" >&2; exit 1; }
done
echo "arm-check: built in ${build_secs}s ($CROSS $($CROSS -dumpversion), kernels: neon generic)"

# ---- run -----------------------------------------------------------------------------------------
passed=0; failed=0; bad=""
unset DN_KERNELS DN_WRITE_REF DN_TEST_ONLY DN_TEST_GENERIC # default kernels (NEON); never rewrite the references
log=$BUILD/test-logs
# run NAME KERNELS BIN: one test program under qemu, one summary line
run() {
  name=$1 kernels=$2 bin=$3 label=$1${2:+ (DN_KERNELS=$2)}
  t0=$(date +%s) rc=0 vars=""
  [ -n "$kernels" ] && vars="DN_KERNELS=$kernels"
  if [ "$name" = test_shipped ]; then
    vars="DN_TEST_GENERIC=1"
    [ -z "${ARM_SLOW:-}" ] && vars="$vars DN_TEST_ONLY=test_reference_sample" label="$name (reference samples)"
  fi
  # shellcheck disable=SC2086
  env $vars timeout --foreground "$TIMEOUT" $QEMU -L / "$bin" >"$log/$name.log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - t0 ))
  p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -1)
  f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -1)
  p=${p:-0} f=${f:-0} note=""
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  [ "$rc" -eq 124 ] && note=" timed out after ${TIMEOUT}s"
  # test_shipped: "# pets, neon kernels: reference sample, ... (largest difference X)" per model
  # and kernel copy; on ARM too X must be 0 (the same bits)
  diffs=$(sed -n 's/^# \(.*\): reference sample.*largest difference \([^)]*\).*$/\1 \2/p' "$log/$name.log" |
          sed 's/, \([a-z0-9]*\) kernels / \1 /')
  if [ -n "$diffs" ]; then
    note="; reference samples, largest difference: $(echo "$diffs" | paste -sd, - | sed 's/,/, /g')"
    if echo "$diffs" | awk '$NF != 0 { bad = 1 } END { exit !bad }'; then
      note="$note (not bit for bit)"
      f=$((f + 1))
    fi
  fi
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$f" -ne 0 ]; then
    bad="$bad $name"
    echo "FAIL $label (${secs}s, exit $rc)$note: log $log/$name.log"
    grep -E '\[  (ERROR|FAILED) |Assert|error' "$log/$name.log" | head -10 | sed 's/^/    /'
  else
    echo "ok   $label: $p passed (${secs}s)$note"
  fi
}
t0_tests=$(date +%s)
for t in $tests; do run "$t" "" "$BUILD/tests/$t"; done
case " $tests " in *" test_gemm "*) run test_gemm.generic generic "$BUILD/tests/test_gemm" ;; esac
end=$(date +%s)
echo "arm-check: build ${build_secs}s, tests $((end - t0_tests))s under qemu, total $((end - start_all))s"
[ -n "$left" ] && echo "arm-check: left out:$left (ARM_SLOW=1 runs them)"
[ -n "$bad" ] && echo "arm-check: failed:$bad" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
