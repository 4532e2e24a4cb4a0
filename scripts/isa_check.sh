#!/bin/sh
# isa_check.sh — `make isa-check`: the same pixels from every build of diffuse this x86-64 machine
# can run. The shipped models' reference samples (tests/data/shipped_*_ref.bin, test_shipped) and
# the layer-by-layer comparison of the kernel copies (test_kernels) must hold, bit for bit, for
#   native    make (everything -march=native)
#   v3        ARCH=-march=x86-64-v3: the code outside the kernels built as for an AVX2 laptop
#   v4        ARCH=-march=x86-64-v4 (only where the CPU has AVX-512)
#   portable  PORTABLE=1: what `make install` builds (baseline x86-64 outside the kernels)
# and, in each build, with every copy of the kernels the CPU runs (DN_KERNELS=avx512, avx2 and the
# plain-C generic copy). Then, where qemu-x86_64-static is installed (qemu-user-static), the
# portable binary on emulated older CPUs: on a Nehalem (no AVX) it must pick the plain-C copy, on
# a Haswell (AVX2, no AVX-512) the avx2 copy, and there give the reference samples bit for bit
# (about 2 minutes under emulation). ARM: `make arm-check`. Takes about 7 minutes.
# usage: isa_check.sh      (BUILD dirs: build/isa-NAME)
set -u
cd "$(dirname "$0")/.." || exit 1
[ "$(uname -m)" = x86_64 ] || { echo "isa-check: for x86-64 machines (on ARM: make arm-check)" >&2; exit 1; }
builds="native: v3:-march=x86-64-v3 portable:"
grep -q avx512f /proc/cpuinfo && builds="native: v3:-march=x86-64-v3 v4:-march=x86-64-v4 portable:"
passed=0 failed=0
for b in $builds; do
  name=${b%%:*} arch=${b#*:}
  dir=build/isa-$name
  set -- BUILD="$dir"
  [ -n "$arch" ] && set -- "$@" ARCH="$arch"
  [ "$name" = portable ] && set -- "$@" PORTABLE=1
  echo "isa-check: build $name ($*)"
  if ! make --no-print-directory -j2 "$@" "$dir/diffuse" "$dir/tests/test_shipped" "$dir/tests/test_kernels" > "$dir.log" 2>&1; then
    echo "isa-check: $name does not build; log $dir.log" >&2
    failed=$((failed + 1)); continue
  fi
  # test_shipped runs the reference samples with every copy this CPU runs (with the plain-C one
  # too, given DN_TEST_GENERIC); test_kernels compares the copies layer by layer
  copies=$("$dir/tests/test_kernels" 2>/dev/null | sed -n 's/^# copies this CPU runs: //p')
  if DN_TEST_GENERIC=1 DN_TEST_ONLY=test_reference_sample "$dir/tests/test_shipped" > "$dir-check.log" 2>&1 &&
     "$dir/tests/test_kernels" >> "$dir-check.log" 2>&1; then
    echo "ok   $name build, kernels $copies: reference samples and kernel copies bit for bit"
    passed=$((passed + 1))
  else
    echo "FAIL $name build: log $dir-check.log"
    grep -E 'differ|ERROR|FAILED' "$dir-check.log" | head -5 | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
# emulated CPUs: what `make install` builds, started on machines older than this one
Q=$(command -v qemu-x86_64-static || true)
if [ -n "$Q" ] && [ -x build/isa-portable/diffuse ]; then
  for c in Nehalem:generic Haswell:avx2; do
    cpu=${c%%:*} want=${c#*:}
    got=$("$Q" -cpu "$cpu" build/isa-portable/diffuse --version 2>/dev/null | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')
    if [ "$got" = "$want" ]; then echo "ok   portable binary on an emulated $cpu picks $got"; passed=$((passed + 1))
    else echo "FAIL portable binary on an emulated $cpu picks '$got', not $want"; failed=$((failed + 1)); fi
  done
  if DN_TEST_ONLY=test_reference_sample "$Q" -cpu Haswell build/isa-portable/tests/test_shipped > build/isa-haswell.log 2>&1; then
    echo "ok   portable build on an emulated Haswell (avx2): reference samples bit for bit"; passed=$((passed + 1))
  else
    echo "FAIL portable build on an emulated Haswell: log build/isa-haswell.log"; failed=$((failed + 1))
  fi
else
  echo "isa-check: no qemu-x86_64-static (apt-get install qemu-user-static): emulated CPUs skipped"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
