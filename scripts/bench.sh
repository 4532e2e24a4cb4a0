#!/bin/sh
# bench.sh — `make bench`: how fast diffuse is, against OpenBLAS and PyTorch on this machine, in
# this run, with the same threads. For every vector copy of the kernels this CPU runs (kernels.h:
# avx512 and avx2 on an AVX-512 machine, avx2 on an AVX2 one, neon on ARM):
#   1. dn_sgemm and conv2d against Debian's OpenBLAS, one thread (tests/bench_gemm.c);
#   2. the U-Net (forward at batch 1 and 2, a guided 50-step DDIM sample, training img/s) against
#      its PyTorch twin (tests/golden/unet_twin.py bench), 1 and 2 threads (tests/bench_unet.c).
# Fair sides: OpenBLAS and PyTorch get the same instruction set as the copy measured. For avx2,
# OpenBLAS runs its Haswell kernel (OPENBLAS_CORETYPE=Haswell) and PyTorch's oneDNN and ATen are
# held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2): what an AVX2 laptop runs. For
# avx512, OpenBLAS picks its kernel for this CPU (OPENBLAS_CORETYPE unset in that command) and
# PyTorch may use AVX-512. PyTorch's BLAS (Debian's torch calls the libblas.so.3 alternative, which
# is OpenBLAS once libopenblas-dev is installed) is pinned to the row's threads
# (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, torch.set_num_threads), and the twin prints which
# library and OpenBLAS kernel it used.
# Installs what it needs (libopenblas-dev, python3-torch) first: `make test` never needs them.
# usage: bench.sh BUILD_DIR [--quick]   (or DN_BENCH_QUICK=1: short timings, for a smoke test)
#        DN_BENCH_THREADS="1 2" (default), DN_BENCH_KERNELS="avx512 avx2" (default: all vector copies)
#   3. a study: the most Winograd F(2x2,3x3) convolutions could give (tests/bench_winograd.c).
#   4. latent diffusion against pixel space, one thread: a guided 50-step sample of the shipped
#      32x32 pets model against the latent pets64 model (its decode included), the autoencoder's
#      decode and encode of one picture, and per step numbers, FLOPs, time and memory of a 64x64
#      pixel U-Net against the latent one (tests/bench_latent.c; DN_BENCH_LATENT=MODEL.dfm
#      measures another latent model than assets/models/pets64.dfm).
# Raw results: BUILD_DIR/bench/{gemm,c,torch,latent}_COPY[_THREADS].tsv. Results: docs/PERFORMANCE.md.
set -u
BUILD=${1:-build}
[ "${2:-}" = "--quick" ] && DN_BENCH_QUICK=1
QUICK=""
[ -n "${DN_BENCH_QUICK:-}" ] && QUICK=--quick
sh scripts/deps.sh libopenblas-dev python3-torch || exit 1
make --no-print-directory BUILD="$BUILD" "$BUILD/bench_unet" "$BUILD/bench_gemm" "$BUILD/bench_winograd" "$BUILD/bench_view" \
  "$BUILD/bench_latent" >/dev/null ||
  { echo "bench.sh: cannot build the benchmarks (make BUILD=$BUILD $BUILD/bench_unet $BUILD/bench_gemm)" >&2; exit 1; }
out="$BUILD/bench"
mkdir -p "$out"
PY=/usr/bin/python3
have_torch=0
"$PY" -c 'import torch' 2>/dev/null && have_torch=1
COPIES=${DN_BENCH_KERNELS:-$("$BUILD/bench_gemm" --list | grep -v '^generic$')}
THREADS=${DN_BENCH_THREADS:-1 2}

# env_for COPY WHO: the environment (as env(1) arguments) that gives OpenBLAS / PyTorch the
# instruction set of COPY
env_for() {
  case "$1" in
    avx2) echo "OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2" ;;
    avx512) echo "-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ATEN_CPU_CAPABILITY=avx512" ;;
    *) echo "-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE" ;;
  esac
}

echo "diffuse benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'no AVX-512')$(grep -q ' avx2' /proc/cpuinfo && echo ', AVX2')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "copies measured: $COPIES"
[ $have_torch -eq 1 ] && echo "pytorch: $("$PY" -c 'import torch; print(torch.__version__)')"

for k in $COPIES; do
  echo "running SGEMM and conv2d, $k kernels against OpenBLAS, 1 thread..." >&2
  # shellcheck disable=SC2046
  env $(env_for "$k") DN_KERNELS="$k" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    "$BUILD/bench_gemm" --threads 1 $QUICK > "$out/gemm_$k.tsv" || { echo "bench.sh: bench_gemm failed" >&2; exit 1; }
  for th in $THREADS; do
    echo "running the U-Net, $k kernels, $th thread(s)..." >&2
    DN_KERNELS="$k" "$BUILD/bench_unet" --threads "$th" $QUICK > "$out/c_${k}_$th.tsv" ||
      { echo "bench.sh: bench_unet failed" >&2; exit 1; }
    rm -f "$out/torch_${k}_$th.tsv"
    if [ $have_torch -eq 1 ]; then
      echo "running PyTorch ($k instruction set), $th thread(s)..." >&2
      # shellcheck disable=SC2046
      env $(env_for "$k") OPENBLAS_NUM_THREADS="$th" OMP_NUM_THREADS="$th" \
        "$PY" tests/golden/unet_twin.py bench --threads "$th" $QUICK > "$out/torch_${k}_$th.tsv" ||
        { echo "bench.sh: the PyTorch twin failed" >&2; rm -f "$out/torch_${k}_$th.tsv"; }
    fi
  done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "SGEMM (M x N x K) and conv2d, 1 thread: C GFLOP/s, OpenBLAS GFLOP/s, C / OpenBLAS (target >= 0.80)"
printf "%-26s %-7s %8s %9s %7s\n" row kernels C OpenBLAS ratio
for k in $COPIES; do
  awk -F'\t' -v k="$k" '
    /^#/ { sub(/^# /, ""); note[++nn] = $0; next }
    { r = $3 > 0 ? $2 / $3 : 0
      printf "%-26s %-7s %8.1f %9.1f %6.2f%s\n", $1, k, $2, $3, r, ($1 !~ /_direct$/ && r < 0.80) ? "  BELOW TARGET" : "" }
    END { for (i = 1; i <= nn; i++) printf "  %s: %s\n", k, note[i] }' "$out/gemm_$k.tsv"
done

echo
echo "U-Net: C against PyTorch. \"C speed\" = how many times better C is (target >= 1.50): ms rows"
echo "PyTorch / C, img/s and GFLOP/s rows C / PyTorch. \"of SGEMM\" = the row's GFLOP/s over"
echo "sgemm_1024's in the same run (target for forward_b2: >= 0.60)."
printf "%-20s %-7s %-7s %3s %10s %8s %8s %10s %8s\n" row unit kernels thr C GFLOP/s "of SGEMM" PyTorch "C speed"
for k in $COPIES; do
  for th in $THREADS; do
    touch "$out/torch_${k}_$th.tsv"
    awk -F'\t' -v k="$k" -v th="$th" '
      FILENAME == ARGV[1] { if ($1 ~ /^# /) blas = substr($1, 3); else tv[$1] = $2; next }
      $1 == "sgemm_1024" { sg = $2 }
      {
        t = ($1 in tv) ? tv[$1] : "-"; r = "-"; flag = ""
        if (t != "-" && $2 > 0 && t > 0) {
          x = ($3 == "img/s" || $3 == "GFLOP/s") ? $2 / t : t / $2
          r = sprintf("%.2fx", x)
          if ($1 != "peak_rss" && $1 != "sgemm_1024" && x < 1.5) flag = "  BELOW TARGET"
        }
        of = ($4 != "-" && sg > 0 && $1 != "sgemm_1024") ? sprintf("%.2f", $4 / sg) : ""
        if ($1 ~ /^forward_b2/ && of != "" && of + 0 < 0.60) flag = flag "  BELOW SGEMM TARGET"
        printf "%-20s %-7s %-7s %3d %10s %8s %8s %10s %8s%s\n", $1, $3, k, th, $2, $4, of, t, r, flag
      }
      END { if (blas != "") printf "  PyTorch %s, %d thread(s): %s\n", k, th, blas }' \
      "$out/torch_${k}_$th.tsv" "$out/c_${k}_$th.tsv"
  done
done
[ $have_torch -eq 1 ] || echo "(PyTorch columns empty: /usr/bin/python3 has no torch)"

# The study behind "What would close the gap" (docs/PERFORMANCE.md): how much Winograd F(2x2,3x3)
# convolutions could give the forward pass at most, per copy, one thread.
echo
for k in $COPIES; do DN_KERNELS="$k" "$BUILD/bench_winograd" || echo "bench.sh: bench_winograd failed" >&2; done

# The viewer's keys (the classroom issue's "no waiting" targets: a change shows at the cursor within
# 0.3 s, the whole 50-step guided run within 1 s, back to a setting seen within a frame), per copy,
# 1 and 2 threads (tests/bench_view.c).
echo
for k in $COPIES; do
  for th in 1 2; do DN_KERNELS="$k" "$BUILD/bench_view" --threads "$th" || echo "bench.sh: bench_view failed" >&2; done
done

# 4. What latent diffusion buys (the Stable Diffusion claim: a lower-dimensional representation,
# cheaper and more memory efficient) and issue #15's speed target for the decoder, per copy, one
# thread (the targets are one-thread numbers): whole guided samples, pixel against latent (the
# decode included), the autoencoder alone, then per guided step a 64x64 pixel-space U-Net against
# the latent U-Net. A missing model is reported and the section skipped (tests/bench_latent.c).
echo
echo "4. latent diffusion against pixel space, 1 thread (ratio rows: latent_sample = latent / pixel,"
echo "claim_* = pixel64 / latent; ae_decode_1 target <= 10 ms)"
printf "%-22s %-7s %10s %-7s %s\n" row kernels value unit extra
for k in $COPIES; do
  DN_KERNELS="$k" "$BUILD/bench_latent" --threads 1 ${DN_BENCH_LATENT:+--latent "$DN_BENCH_LATENT"} $QUICK \
    > "$out/latent_$k.tsv" || { echo "bench.sh: bench_latent failed ($k), section 4 skipped" >&2; continue; }
  awk -F'\t' -v k="$k" '
    { flag = ($1 == "ae_decode_1" && $2 > 10) ? "  ABOVE TARGET" : ""
      printf "%-22s %-7s %10s %-7s %s%s\n", $1, k, $2, $3, $4, flag }' "$out/latent_$k.tsv"
done
