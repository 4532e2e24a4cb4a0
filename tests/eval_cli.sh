#!/bin/sh
# eval_cli.sh — `diffuse eval` and `diffuse model` end to end: a short evaluation of a tiny model
# with the shipped pets classifier writes its table as Markdown; a classifier trains and is then
# usable; bad input is one line with exit 1 (files) or 2 (usage). Prints TAP lines.
BIN=${DN_BIN:-build/diffuse}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/support/tap.sh"
one_line() { [ "$(grep -vc '^  ' "$T/err")" -eq 1 ] && grep -q "^diffuse $1: " "$T/err"; }

"$BIN" train --data pets -o "$T/tiny.dfm" --steps 3 --batch 2 --width 8 --mults 1,2 --sample-every 0 \
  --run-dir "$T/run" --threads 1 > /dev/null 2>&1 || notok "tiny model"
check "eval a tiny model" run 0 eval --model "$T/tiny.dfm" --classifier assets/models/pets-classifier.dfc --n 4 --steps 2 --real 300 --threads 2 --cfg-scale 3 --md "$T/e.md"
check "table printed" grep -q "conditional accuracy" "$T/out"
check "FD and its floor printed" grep -q "FD to test set" "$T/out"
check "Markdown written" grep -q "conditional accuracy" "$T/e.md"
cp "$T/out" "$T/main.out"
check "Markdown says how to reproduce" grep -q "diffuse eval --model .* --real 300" "$T/e.md"
check "the same seed, the same table (1 thread)" sh -c "'$BIN' eval --model '$T/tiny.dfm' --classifier assets/models/pets-classifier.dfc --n 4 --steps 2 --real 300 --threads 1 2>/dev/null | grep '^  ' > '$T/o1'; grep '^  ' '$T/out' > '$T/o2'; [ -s '$T/o1' ] && cmp -s '$T/o1' '$T/o2'"
# --sweep: one row per scale; its w = 1 row is the main table's w = 1 column (same seed, same samples)
check "guidance sweep" run 0 eval --model "$T/tiny.dfm" --classifier assets/models/pets-classifier.dfc --n 4 --steps 2 --real 300 --threads 2 --sweep 1,3 --md "$T/s.md"
check "sweep: a row per scale, and Markdown" sh -c "grep -q '^  1  ' '$T/out' && grep -q '^  3  ' '$T/out' && grep -q -- '--sweep 1,3' '$T/s.md'"
check "sweep rows are the main table's columns (w = 3 guided, w = 1)" sh -c "fd=\$(grep 'FD to test set' '$T/main.out' | awk '{print \$5, \$6}'); sw=\$(awk '/^  3  /{a=\$4} /^  1  /{b=\$4} END{print a, b}' '$T/out'); [ -n \"\$sw\" ] && [ \"\$fd\" = \"\$sw\" ]"
check "sweep of junk refused" run 2 eval --model "$T/tiny.dfm" --sweep 1,,x
check "sweep refusal: one line" one_line eval
check "train a classifier" run 0 eval --train-classifier --data pets -o "$T/c.dfc" --epochs 1 --max-images 64 --threads 2
check "trained classifier usable" run 0 eval --model "$T/tiny.dfm" --classifier "$T/c.dfc" --n 2 --steps 1 --real 100
check "model info" run 0 model "$T/tiny.dfm"
check "model info names the classes" grep -q "classes     2: cat, dog" "$T/out"
check "model to float16" run 0 model "$T/tiny.dfm" --save "$T/tiny16.dfm" --dtype f16
check "recommended guidance stored" sh -c "'$BIN' model '$T/tiny.dfm' --save '$T/g.dfm' --dtype f32 --cfg-scale 1.5 > /dev/null && '$BIN' model '$T/g.dfm' | grep -q 'sample.cfg_scale *1.5'"
check "float16 model is smaller" [ "$(wc -c < "$T/tiny16.dfm")" -lt "$(wc -c < "$T/tiny.dfm")" ]
check "float16 model samples" run 0 sample --model "$T/tiny16.dfm" --n 2 --steps 2 -o "$T/s.png"

check "eval without a model" run 2 eval
check "eval of a missing model" run 1 eval --model "$T/none.dfm"
check "missing model: one line" one_line eval
head -c 2000 assets/models/pets-classifier.dfc > "$T/cut.dfc"
check "truncated classifier refused" run 1 eval --model "$T/tiny.dfm" --classifier "$T/cut.dfc" --n 2 --steps 1 --real 100
check "truncated classifier: names the file" grep -q "cut.dfc" "$T/err"
check "classifier for the wrong data set refused" run 1 eval --model "$T/tiny.dfm" --classifier assets/models/fashion-classifier.dfc --n 2 --steps 1 --real 100
check "train-classifier without data" run 2 eval --train-classifier -o "$T/x.dfc"
check "model of junk" sh -c "printf junk > '$T/j.dfm'; '$BIN' model '$T/j.dfm' 2> '$T/err' > /dev/null; [ \$? -eq 1 ]"
echo "1..$n"
