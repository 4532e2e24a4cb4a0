#!/bin/sh
# bench.sh — the U-Net benchmark (`make bench`): the C U-Net (tests/bench_unet.c) and, when
# /usr/bin/python3 has torch, its PyTorch twin (tests/golden/unet_twin.py bench) on the same
# machine in the same run, with 1 and 2 threads, printed side by side.
# usage: bench.sh BUILD_DIR [--quick]      (or DN_BENCH_QUICK=1: short timings, for a smoke test)
#        DN_BENCH_THREADS="1 2" (default): the thread counts to run
# Raw results: BUILD_DIR/bench/{c,torch}_THREADS.tsv (name, value, unit[, GFLOP/s]).
BUILD=${1:-build}
[ "$2" = "--quick" ] && DN_BENCH_QUICK=1
QUICK=""
[ -n "$DN_BENCH_QUICK" ] && QUICK=--quick
BENCH="$BUILD/bench_unet"
if [ ! -x "$BENCH" ]; then
  echo "bench.sh: $BENCH is missing (run: make BUILD=$BUILD $BENCH)" >&2
  exit 1
fi
out="$BUILD/bench"
mkdir -p "$out"
PY=/usr/bin/python3
have_torch=0
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then have_torch=1; fi

echo "diffuse U-Net benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $have_torch -eq 1 ] && echo "pytorch: $("$PY" -c 'import torch; print(torch.__version__)')"
THREADS=${DN_BENCH_THREADS:-1 2}
for th in $THREADS; do
  echo "running C, $th thread(s)..." >&2
  "$BENCH" --threads $th $QUICK > "$out/c_$th.tsv" || { echo "bench.sh: $BENCH failed" >&2; exit 1; }
  if [ $have_torch -eq 1 ]; then
    echo "running PyTorch, $th thread(s)..." >&2
    "$PY" tests/golden/unet_twin.py bench --threads $th $QUICK > "$out/torch_$th.tsv" ||
      { echo "bench.sh: the PyTorch twin failed" >&2; rm -f "$out/torch_$th.tsv"; }
  else
    rm -f "$out/torch_$th.tsv"
  fi
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# "C speed" = how many times better C is: ms and MB rows torch / C, img/s and GFLOP/s rows
# C / torch; above 1.00 means C is faster (or smaller).
first=1
for th in $THREADS; do
  touch "$out/torch_$th.tsv"
  awk -F'\t' -v th=$th -v first=$first '
    FILENAME == ARGV[1] { tv[$1] = $2; next }
    FNR == 1 && first == 1 {
      printf "%-20s %-7s %3s %11s %8s %11s %9s\n", "row", "unit", "thr", "C", "GFLOP/s", "PyTorch", "C speed"
      printf "%-20s %-7s %3s %11s %8s %11s %9s\n", "---", "----", "---", "-", "-------", "-------", "-------"
    }
    {
      t = ($1 in tv) ? tv[$1] : "-"; r = "-"
      if (t != "-" && $2 > 0 && t > 0) r = sprintf("%.2fx", ($3 == "img/s" || $3 == "GFLOP/s") ? $2 / t : t / $2)
      printf "%-20s %-7s %3d %11s %8s %11s %9s\n", $1, $3, th, $2, $4, t, r
    }' "$out/torch_$th.tsv" "$out/c_$th.tsv"
  first=0
done
[ $have_torch -eq 1 ] || echo "(PyTorch columns empty: /usr/bin/python3 has no torch)"
