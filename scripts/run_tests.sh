#!/bin/sh
# Run every cmocka test program and every tests/*.sh script; print a line per program, the
# slowest five, the kernels they ran on, and one summary line last.
# usage: run_tests.sh BUILD_DIR TEST_BIN...     (DN_NO_SHELL_TESTS=1: the programs only)
BUILD=$1; shift
export DN_BUILD="$BUILD" DN_BIN="$BUILD/diffuse"
passed=0; failed=0; bad=""; all_start=$(date +%s); times=""
log="$BUILD/test-logs"; mkdir -p "$log"
shell_tests=tests/*.sh
[ -n "${DN_NO_SHELL_TESTS:-}" ] && shell_tests=""
for t in "$@" $shell_tests; do
  [ -e "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s)
  case "$t" in
    *.sh) sh "$t" > "$log/$name.log" 2>&1 ;;
    *)    "$t" > "$log/$name.log" 2>&1 ;;
  esac
  rc=$?
  secs=$(( $(date +%s) - start ))
  times="$times$secs $name
"
  p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -1)
  f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -1)
  case "$t" in *.sh)   # shell tests print "ok N ..." / "not ok N ..." lines
    p=$(grep -c '^ok ' "$log/$name.log"); f=$(grep -c '^not ok ' "$log/$name.log") ;; esac
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -ne 0 ]; then
    bad="$bad $name"; echo "FAIL $name (${secs}s, exit $rc): log $log/$name.log"
    grep -E '\[  (ERROR|FAILED) |^not ok |Assert|error' "$log/$name.log" | head -20 | sed 's/^/    /'
  else
    echo "ok   $name: $p passed (${secs}s)"
  fi
done
echo "slowest: $(printf '%s' "$times" | sort -rn | head -5 | awk '{printf "%s%s %ss", (NR > 1 ? ", " : ""), $2, $1}')"
echo "total $(( $(date +%s) - all_start ))s on $(nproc) cores; kernels: $("$DN_BIN" --version 2>/dev/null | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
