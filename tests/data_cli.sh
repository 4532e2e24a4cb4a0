#!/bin/sh
# data_cli.sh — `diffuse data fashion|pets`: labelled grids for both sets, reproducible with a
# seed, and a one-line refusal (exit 2 for bad usage, 1 for missing data) for everything else.
# Prints TAP lines "ok N name" / "not ok N name". Needs $DN_BIN (set by scripts/run_tests.sh).
BIN=${DN_BIN:-build/diffuse}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/support/tap.sh"
one_line() { [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "^diffuse data: " "$T/err"; }
says() { grep -q -- "$1" "$T/err" || { echo "# stderr lacks '$1':"; sed 's/^/#   /' "$T/err"; return 1; }; }
refusal() { one_line && says "$1"; }

# --- grids ---
check "pets grid written" run 0 data pets --n 64 -o "$T/pets.png"
check "pets grid is a PNG" is_png "$T/pets.png"
check "pets grid reports both classes" grep -Eq "64 pets pictures: [0-9]+ cat, [0-9]+ dog" "$T/out"
check "pets grid records its command" grep -aq "diffuse data pets --n 64 --split train" "$T/pets.png"
png_width() { [ -s "$1" ] || { echo 0; return; }; od -An -tu1 -j16 -N4 "$1" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}'; }
# 8 columns of 32x32 pictures at 4x with 16-pixel gaps: 16 + 8 * (128 + 16) = 1168
check "pets grid is 8 upscaled tiles wide" [ "$(png_width "$T/pets.png")" -eq 1168 ]
check "pets grid size printed = file" grep -q "($(png_width "$T/pets.png")x" "$T/out"

check "fashion first picture is an Ankle boot" run 0 data fashion --n 1 -o "$T/f1.png"
check "fashion first picture count" grep -q "1 fashion picture: 1 Ankle boot$" "$T/out"
check "fashion test split with a seed" run 0 data fashion --n 20 --split test --seed 5 -o "$T/fa.png"
check "fashion seeded grid is a PNG" is_png "$T/fa.png"
run 0 data fashion --n 20 --split test --seed 5 -o "$T/fb.png"
check "same seed, same grid" cmp -s "$T/fa.png" "$T/fb.png"
run 0 data fashion --n 20 --split test --seed 6 -o "$T/fc.png"
check "another seed, another grid" sh -c "[ -s '$T/fa.png' ] && [ -s '$T/fc.png' ] && ! cmp -s '$T/fa.png' '$T/fc.png'"
check "fashion 64 grid" run 0 data fashion --n 64 -o "$T/f64.png"
check "fashion 64 grid: class counts add up to 64" [ "$(sed 's/.*pictures://' "$T/out" | tr ',' '\n' | awk '{s += $1} END {print s}')" -eq 64 ]
check "fashion one class" run 0 data fashion --class "ankle boot" --n 16 --seed 2 -o "$T/boots.png"
check "fashion one class: all of it" grep -q "16 fashion pictures: 16 Ankle boot$" "$T/out"
check "pets only dogs" run 0 data pets --class dog --n 12 --split test -o "$T/dogs.png"
check "pets only dogs: all dogs" grep -q "12 pets pictures: 12 dog$" "$T/out"
check "--help exits 0" run 0 data --help
check "--help shows usage" grep -q "usage: diffuse data fashion|pets" "$T/out"
check "listed in diffuse --help" sh -c "'$BIN' --help | grep -q '^  data '"

# --- refusals ---
check "unknown data set: exit 2" run 2 data zebras -o "$T/z.png"
check "unknown data set: one line naming the known ones" refusal "fashion, pets"
check "unknown class: exit 2" run 2 data pets --class zebra -o "$T/z.png"
check "unknown class: one line listing the classes" refusal "it has: cat, dog"
check "class of the other set: exit 2" run 2 data fashion --class cat -o "$T/z.png"
check "class of the other set: lists the ten" refusal "T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot"
check "no data set: exit 2" run 2 data -o "$T/z.png"
check "bad split: exit 2" run 2 data fashion --split validation -o "$T/z.png"
check "bad split: one line" refusal "use train or test"
check "--n 0: exit 2" run 2 data pets --n 0 -o "$T/z.png"
check "--n 0: one line" one_line
check "--n too big: exit 2" run 2 data pets --n 5000 -o "$T/z.png"
check "--n not a number: exit 2" run 2 data pets --n lots -o "$T/z.png"
check "--seed not whole: exit 2" run 2 data pets --seed 1.5 -o "$T/z.png"
check "unknown option: exit 2" run 2 data pets --colour red -o "$T/z.png"
check "missing data folder: exit 1" run 1 data fashion --dir "$T/no-such-folder" -o "$T/z.png"
check "missing data folder: one line naming the package" refusal "apt-get install dataset-fashion-mnist"
check "missing data folder: no grid written" [ ! -e "$T/z.png" ]
mkdir -p "$T/cut"
head -c 3000 /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz > "$T/cut/t10k-labels-idx1-ubyte.gz"
DIFFUSE_FASHION_DIR="$T/cut" "$BIN" data fashion --split test -o "$T/z.png" > /dev/null 2> "$T/err"
rc=$?
check "truncated labels (DIFFUSE_FASHION_DIR): exit 1" [ "$rc" -eq 1 ]
check "truncated labels: one line saying so" refusal "truncated"
check "truncated labels: says what to reinstall" says "reinstall dataset-fashion-mnist"
check "unwritable output: exit 1" run 1 data pets --n 4 -o "$T/no/such/dir/x.png"
check "unwritable output: one line" refusal "x.png"

echo "1..$n"
