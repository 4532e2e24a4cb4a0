#!/bin/sh
# make fuzz: fuzz the parsers with libFuzzer (clang), under AddressSanitizer (+ UBSan on our code).
#
# Every tests/fuzz/fuzz_NAME.c is a target. It defines
#     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
# and may say, each on a comment line of its own:
#     fuzz-needs: image fileio err        the modules (core/*/X.c, else viz/X.c) to link; default: all of
#                                         core/ (the kernel files in their plain-C copy, core/nn/isa.h;
#                                         a module clang cannot compile would be built by cc,
#                                         without instrumentation)
#     fuzz-cflags: -DSOME_LIMIT=1024      extra flags for the target and its core modules, e.g.
#                                         smaller limits so each run stays fast
# Seed inputs, if any, live in tests/fuzz/fuzz_NAME/. To fuzz a new parser (model files, lesson
# files, ...) add tests/fuzz/fuzz_NAME.c (+ seeds); nothing else.
#
# Each target runs for FUZZ_SECONDS (default 60). The corpus grows in $BUILD/fuzz/corpus/NAME and
# is reused by the next run. A crash, leak, sanitizer report or timeout is saved as
# $BUILD/fuzz/NAME-crash-<sha1> (or -leak-, -timeout-, -oom-); reproduce it with
#     $BUILD/fuzz/NAME $BUILD/fuzz/NAME-crash-<sha1>
# Environment: FUZZ_SECONDS, FUZZ_TARGETS (e.g. "fuzz_image"; default all), FUZZ_MAX_LEN (largest
# input in bytes, default 65536), BUILD (default build), CLANG (default clang).
# Exit status: 0 when no target found a problem, 1 otherwise.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-60}
MAX_LEN=${FUZZ_MAX_LEN:-65536}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "fuzz: '$CLANG' not found; install it: apt-get install -y clang libclang-rt-14-dev" >&2
  exit 1
fi
mkdir -p "$OUT/corpus"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     "$CLANG" -x c -fsanitize=fuzzer,address - -o "$OUT/probe" 2>/dev/null; then
  echo "fuzz: $CLANG cannot build libFuzzer programs; install: apt-get install -y libclang-rt-14-dev" >&2
  exit 1
fi
rm -f "$OUT/probe"

BASE="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer -Icore -isystem /usr/include/stb"
# Our code: coverage + ASan + UBSan, and any UB aborts (it is a finding). stb: coverage + ASan only;
# Debian's stb has known benign UB (shifts of signed values) that would drown real findings.
OURS="$BASE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
THEIRS="$BASE -fsanitize=fuzzer-no-link,address -w"

# newer A B: A was modified after B (POSIX sh has no -nt)
newer() { [ -n "$(find "$1" -prune -newer "$2" 2>/dev/null)" ]; }

# stb_image, stb_image_write, stb_image_resize from Debian's headers, compiled instrumented (the
# normal build links Debian's uninstrumented libstb.so instead; see tests/fuzz/stb_impl.c).
if [ ! -f "$OUT/stb_impl.o" ] || newer tests/fuzz/stb_impl.c "$OUT/stb_impl.o"; then
  echo "fuzz: cc tests/fuzz/stb_impl.c (stb from /usr/include/stb, instrumented)"
  # shellcheck disable=SC2086
  "$CLANG" $THEIRS -c tests/fuzz/stb_impl.c -o "$OUT/stb_impl.o"
fi

# directive FILE KEY: the text after "KEY:" on its line, without a closing "*/"
directive() { sed -n "s/^.*$2: *//p" "$1" | sed 's#\*/##' | head -1; }

targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)}
failed=""
for name in $targets; do
  src="tests/fuzz/$name.c"
  if [ ! -f "$src" ]; then echo "fuzz: no target $src" >&2; failed="$failed $name"; continue; fi
  needs=$(directive "$src" fuzz-needs)
  extra=$(directive "$src" fuzz-cflags)
  [ -n "$needs" ] || needs=$(for f in core/*/*.c; do basename "$f" .c; done)
  # Objects per target, since fuzz-cflags may differ; rebuilt when the .c, a core header or the
  # target (its flags) is newer.
  objdir="$OUT/obj/$name"
  mkdir -p "$objdir"
  objs="" ok=1
  for m in $needs; do
    c=$(ls core/*/"$m.c" 2>/dev/null | head -1) o="$objdir/$m.o"
    [ -n "$c" ] || c="viz/$m.c" # drawing-free viz modules (the lesson parser) fuzz the same way
    if [ ! -f "$c" ]; then echo "fuzz: $name needs '$m' but there is no core/*/$m.c or viz/$m.c" >&2; ok=0; break; fi
    # the kernel files in their plain-C copy only (core/nn/isa.h), and a dispatcher that knows it alone
    kflags=""
    case "$m" in gemm|nn|nn_conv|kernels) kflags="-DDN_ISA=generic" ;; dispatch) kflags="-DDN_ONLY_GENERIC" ;; esac
    if [ ! -f "$o" ] || newer "$c" "$o" || newer "$src" "$o" ||
       [ -n "$(find core -name '*.h' -newer "$o")" ]; then
      # shellcheck disable=SC2086
      if ! "$CLANG" $OURS $extra $kflags -c "$c" -o "$o" 2>"$objdir/$m.err"; then
        # A module clang cannot build (none today). Kernels are arithmetic, not parsers: compile them
        # with cc, uninstrumented, so the targets that call them still link.
        # shellcheck disable=SC2086
        if ${CC:-cc} $BASE $extra $kflags -march=native -c "$c" -o "$o" 2>>"$objdir/$m.err"; then
          echo "fuzz: $name: $c compiled with ${CC:-cc}, without sanitizers (clang cannot build it)"
        else
          rm -f "$o"
          cat "$objdir/$m.err" >&2
          ok=0
          break
        fi
      fi
    fi
    objs="$objs $o"
  done
  if [ "$ok" -eq 0 ]; then failed="$failed $name"; continue; fi
  echo "fuzz: build $name"
  # shellcheck disable=SC2086
  if ! "$CLANG" $OURS $extra -fsanitize=fuzzer "$src" $objs "$OUT/stb_impl.o" -lz -lm -lpthread \
         -o "$OUT/$name"; then
    echo "fuzz: cannot build $name (add a 'fuzz-needs:' line naming its core modules?)" >&2
    failed="$failed $name"
    continue
  fi
  corpus="$OUT/corpus/$name"
  mkdir -p "$corpus"
  seeds=""
  [ -d "tests/fuzz/$name" ] && seeds="tests/fuzz/$name"
  echo "fuzz: run $name for ${SECONDS_EACH}s (inputs up to $MAX_LEN bytes; corpus $corpus)"
  log="$OUT/$name.log"
  touch "$OUT/.start-$name" # findings newer than this are this run's
  rc=0
  # shellcheck disable=SC2086
  "$OUT/$name" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
    "$corpus" $seeds >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$OUT" -maxdepth 1 -newer "$OUT/.start-$name" \( -name "$name-crash-*" -o \
          -name "$name-leak-*" -o -name "$name-timeout-*" -o -name "$name-oom-*" \) | sort)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: $name FOUND A PROBLEM (exit $rc) after ${runs:-?} runs; log $log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -10 | sed 's/^/    /'
    for f in $found; do echo "    reproduce: $OUT/$name $f"; done
    failed="$failed $name"
  else
    echo "fuzz: $name ok: ${runs:-?} runs in ${SECONDS_EACH}s, no crash; corpus $(find "$corpus" -type f | wc -l) inputs"
  fi
done
if [ -n "$failed" ]; then echo "fuzz: problems in:$failed" >&2; exit 1; fi
echo "fuzz: all targets ok"
