#!/bin/sh
# train_cli.sh — `diffuse train` and `diffuse sample` end to end on a tiny network: progress,
# CSV log, sample grid, checkpoint and model written; a run split by --stop-at and --resume gives
# the same model file byte for byte as an uninterrupted one; Ctrl-C saves and exits 130; sampling
# writes grids and per-step frames that record their command; bad input is one line.
# Prints TAP lines. Needs $DN_BIN (set by scripts/run_tests.sh).
BIN=${DN_BIN:-build/diffuse}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/support/tap.sh"
one_line() { [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "^diffuse $1: " "$T/err"; }
says() { grep -q -- "$1" "$T/err" || { echo "# stderr lacks '$1':"; sed 's/^/#   /' "$T/err"; return 1; }; }
lines() { wc -l < "$1" | tr -d ' '; }

TINY="--width 8 --mults 1,2 --batch 8 --threads 2 --seed 3"
# --- an uninterrupted run of 24 updates ---
# both runs write m.dfm from their own folder, so the files (which record their own path) can be
# compared byte for byte
mkdir -p "$T/ua" "$T/ub"
cd "$T/ua" || exit 1
check "train runs" run 0 train --data pets $TINY --steps 24 --sample-every 12 -o m.dfm --run-dir runa
cd "$T" || exit 1
ln -s ua/m.dfm "$T/a.dfm"
ln -s ua/runa "$T/runa"
check "progress line with step/total and img/s" grep -Eq "^step 24/24  loss [0-9.]+  lr .* img/s  elapsed .* ETA" "$T/out"
check "done line" grep -q "^done: 24 steps" "$T/out"
check "model written" [ -s "$T/a.dfm" ]
check "checkpoint written" [ -s "$T/runa/checkpoint.ckpt" ]
check "loss.csv has a header and 24 rows" [ "$(lines "$T/runa/loss.csv")" -eq 25 ]
check "loss.csv header" grep -q "^step,loss,loss_smooth,grad_norm,lr,images_per_s,elapsed_s$" "$T/runa/loss.csv"
check "loss curve drawn" is_png "$T/runa/loss.png"
check "sample grids at 12 and 24" is_png "$T/runa/samples/step_0000024.png"
check "sample grid at 12" is_png "$T/runa/samples/step_0000012.png"

# --- the same run in two sittings ---
cd "$T/ub" || exit 1
check "first sitting stops at 10" run 0 train --data pets $TINY --steps 24 --sample-every 12 -o m.dfm --run-dir runa --stop-at 10
check "stop says how to go on" grep -q "diffuse train --resume runa/checkpoint.ckpt" "$T/out"
check "second sitting resumes" run 0 train --resume runa/checkpoint.ckpt --sample-every 12 --threads 2
check "resume remembered the model path" grep -q "wrote m.dfm" "$T/out"
cd "$T" || exit 1
ln -s ub/runa "$T/runb"
check "resumed model == uninterrupted model, byte for byte" cmp -s "$T/ua/m.dfm" "$T/ub/m.dfm"
check "resumed sample grid == uninterrupted one" cmp -s "$T/ua/runa/samples/step_0000024.png" "$T/ub/runa/samples/step_0000024.png"
check "resumed log has 24 rows again" [ "$(lines "$T/runb/loss.csv")" -eq 25 ]
check "resumed log equals the uninterrupted losses" sh -c "cut -d, -f1-5 '$T/runa/loss.csv' > '$T/la'; cut -d, -f1-5 '$T/runb/loss.csv' > '$T/lb'; cmp -s '$T/la' '$T/lb'"
check "resuming a finished run says so" run 0 train --resume "$T/runb/checkpoint.ckpt"
check "finished run message" grep -q "already taken its 24 steps" "$T/out"

# --- Ctrl-C saves a checkpoint ---
rm -f "$T/out"
"$BIN" train --data pets $TINY --steps 100000 --sample-every 0 --log-every 5 -o "$T/c.dfm" --run-dir "$T/runc" > "$T/out" 2> "$T/err" &
pid=$!
# wait for the first progress line: the handler is installed by then (a background job of a
# script starts with SIGINT ignored, so an earlier signal would be lost)
i=0
while [ $i -lt 300 ] && ! grep -q "^step" "$T/out" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
i=0
while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid 2>/dev/null && echo "# train did not stop on SIGINT"
wait $pid
code=$?
check "Ctrl-C exits 130" [ "$code" -eq 130 ]
check "Ctrl-C saved a checkpoint" [ -s "$T/runc/checkpoint.ckpt" ]
check "Ctrl-C saved the model" [ -s "$T/c.dfm" ]
check "Ctrl-C says where" grep -q "^stopped at step [0-9]*; checkpoint" "$T/out"

# --- sampling ---
check "sample a grid" run 0 sample --model "$T/a.dfm" --n 6 --steps 5 -o "$T/s.png"
check "sample grid is a PNG" is_png "$T/s.png"
check "sample grid records its command" grep -aq "diffuse sample --model '$T/a.dfm' --cfg-scale 3 --sampler ddim --steps 5 --seed 0 --n 6" "$T/s.png"
check "sample is reproducible" sh -c "'$BIN' sample --model '$T/a.dfm' --n 6 --steps 5 -o '$T/s2.png' > /dev/null && cmp -s '$T/s.png' '$T/s2.png'"
check "per-step frames" run 0 sample --model "$T/a.dfm" --class dog --n 2 --steps 4 --sampler euler -o "$T/frame_%03d.png"
check "frames 0..4 written" sh -c "for i in 000 001 002 003 004; do [ -s '$T/frame_'\$i.png ] || exit 1; done; [ ! -e '$T/frame_005.png' ]"
check "frame records its command" grep -aq "diffuse sample --model '$T/a.dfm' --class 'dog' --cfg-scale 3 --sampler euler --steps 4" "$T/frame_002.png"
check "uncond with dpm++2m" run 0 sample --model "$T/a.dfm" --uncond --n 2 --steps 3 --sampler dpm++2m -o "$T/u.png"
check "ddpm" run 0 sample --model "$T/a.dfm" --class cat --n 1 --steps 3 --sampler ddpm -o "$T/d.png"

# --- refusals ---
check "unknown class lists the known ones" run 2 sample --model "$T/a.dfm" --class horse -o "$T/x.png"
check "unknown class message" sh -c "grep -q \"knows no class 'horse' (it knows: cat, dog)\" '$T/err'"
check "no file for an unknown class" [ ! -e "$T/x.png" ]
check "missing model" run 1 sample --model "$T/nothing.dfm" -o "$T/x.png"
check "missing model one line" one_line sample
printf 'not a model at all' > "$T/junk.dfm"
check "junk model refused" run 1 sample --model "$T/junk.dfm" -o "$T/x.png"
check "junk model one line" one_line sample
check "bad frame pattern" run 2 sample --model "$T/a.dfm" -o "$T/f_%s.png"
check "unknown sampler" run 2 sample --model "$T/a.dfm" --sampler plms -o "$T/x.png"
check "train without data" run 2 train -o "$T/x.dfm"
check "train unknown data" run 2 train --data cifar -o "$T/x.dfm"
check "train bad mults" run 2 train --data pets --mults 1,x -o "$T/x.dfm"
check "resume from junk" run 1 train --resume "$T/junk.dfm"
check "resume from junk one line" one_line train
check "resume refuses changed settings" run 2 train --resume "$T/runb/checkpoint.ckpt" --data fashion
check "no stray files" sh -c "! ls '$T' | grep -q tmp"
echo "1..$n"
