#!/bin/sh
# latent_cli.sh — latent diffusion end to end on tiny networks: `diffuse train --stage autoencoder`
# (progress, log, grids, checkpoint, a split run resumed to the same file byte for byte, Ctrl-C-free
# --stop-at), `diffuse autoencode` (the files and the numbers), a latent U-Net trained on the
# autoencoder's latents that names it, `diffuse sample` of it (a bare picture for --n 1, grids of
# decoded pictures), and one-line refusals. Prints TAP lines. Needs $DN_BIN.
BIN=${DN_BIN:-build/diffuse}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/support/tap.sh"
one_line() { [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "^diffuse $1: " "$T/err"; }
says() { grep -q -- "$1" "$T/err" || { echo "# stderr lacks '$1':"; sed 's/^/#   /' "$T/err"; return 1; }; }
size_is() { [ "$(identify -format '%wx%h' "$1" 2>/dev/null)" = "$2" ] || { echo "# $1 is $(identify -format '%wx%h' "$1"), wanted $2"; return 1; }; }

AE="--stage autoencoder --widths 8,8,16 --batch 4 --threads 2 --seed 5"
mkdir -p "$T/a" "$T/b"
cd "$T/a" || exit 1
check "autoencoder trains" run 0 train $AE --steps 8 --sample-every 4 -o ae.dfa --run-dir run
check "progress line with PSNR" grep -Eq "^step 8/8  loss [0-9.]+  PSNR [0-9.]+ dB  lr .* img/s" "$T/out"
check "done line with held-out PSNRs and scale" grep -Eq "^done: 8 steps, .*pets64 [0-9.]+ dB, photo crops [0-9.]+ dB; scale factor [0-9.]+" "$T/out"
check "loss.csv header and 8 rows" sh -c "head -1 run/loss.csv | grep -q '^step,loss,rec,kl,psnr,grad_norm,lr,images_per_s,elapsed_s$' && [ \$(wc -l < run/loss.csv) -eq 9 ]"
check "reconstruction grids" is_png run/grids/step_0000008.png
check "checkpoint" [ -s run/checkpoint.ckpt ]
check "the file is an autoencoder" run 0 autoencode /usr/share/backgrounds/mate/nature/Dune.jpg -o "$T/enc" --autoencoder ae.dfa
check "numbers printed" grep -q "^latent   16x16x4 = 1024 numbers: 12x fewer" "$T/out"
check "PSNR printed" grep -Eq "^decoded  64x64x3, PSNR [0-9.]+ dB" "$T/out"
check "diffuse model shows an autoencoder" sh -c "'$BIN' model ae.dfa | grep -q '^  latent      16x16x4: 12x fewer numbers' && '$BIN' model ae.dfa | grep -Eq '^  scale       [0-9.]+'"
cd "$T/b" || exit 1
check "split run: first sitting" run 0 train $AE --steps 8 --sample-every 4 -o ae.dfa --run-dir run --stop-at 3
check "split run: resumed" run 0 train --resume run/checkpoint.ckpt --threads 1
check "resumed autoencoder == uninterrupted one, byte for byte" cmp -s "$T/a/ae.dfa" "$T/b/ae.dfa"
check "resumed grid == uninterrupted grid" cmp -s "$T/a/run/grids/step_0000008.png" "$T/b/run/grids/step_0000008.png"
cd "$T" || exit 1

# --- autoencode ---
check "autoencode writes the picture, 4 latent channels, the decoding and an overview" \
  sh -c "for f in picture latent_0 latent_1 latent_2 latent_3 decoded overview; do [ -s '$T/enc/'\$f.png ] || exit 1; done"
check "latent channels are 16x16" size_is "$T/enc/latent_0.png" 16x16
check "pictures are 64x64" size_is "$T/enc/decoded.png" 64x64
check "--size 128 makes a 32x32 latent" run 0 autoencode /usr/share/backgrounds/mate/nature/Dune.jpg -o "$T/enc128" --autoencoder a/ae.dfa --size 128
check "  of 32x32" size_is "$T/enc128/latent_3.png" 32x32
check "a size that is not a multiple of 4 is refused" run 2 autoencode /usr/share/backgrounds/mate/nature/Dune.jpg -o "$T/x" --autoencoder a/ae.dfa --size 30
check "  in one line" one_line autoencode
check "  and writes nothing" [ ! -e "$T/x" ]
check "a U-Net is not an autoencoder" run 1 autoencode /usr/share/backgrounds/mate/nature/Dune.jpg -o "$T/x" --autoencoder "$SRC/assets/models/pets.dfm"
check "  says so" says "not an autoencoder"
check "a missing photo is one line" run 1 autoencode "$T/nothing.jpg" -o "$T/x" --autoencoder a/ae.dfa
check "  in one line" one_line autoencode

# --- a latent U-Net on those latents ---
mkdir -p "$T/m"
cp a/ae.dfa m/ae.dfa
cd "$T/m" || exit 1
check "latent U-Net trains" run 0 train --data pets64 --autoencoder ae.dfa --latent-n 64 --width 8 --mults 1,2 --batch 8 --steps 6 --sample-every 6 --threads 2 -o lat.dfm --run-dir run
check "it is told the latents' shape" grep -q "^training pets64:" "$T/out"
check "its sample grid shows decoded pictures" grep -aq "decoded" run/samples/step_0000006.png
check "the model names its autoencoder" sh -c "'$BIN' model lat.dfm | grep -Eq 'latent.autoencoder +ae.dfa'"
check "the model knows 4x16x16 latents" sh -c "'$BIN' model lat.dfm | grep -q 'images      4 channels, 16x16'"
cd "$T" || exit 1
check "sample --n 1 is the bare 64x64 picture times --scale" run 0 sample --model m/lat.dfm --class dog --n 1 --steps 3 --scale 2 -o "$T/one.png"
check "  of 128x128" size_is "$T/one.png" 128x128
check "  and keeps its command" grep -aq "diffuse sample --model 'm/lat.dfm' --class 'dog'" "$T/one.png"
check "sample grid of decoded pictures" run 0 sample --model m/lat.dfm --n 4 --steps 3 --scale 1 -o "$T/four.png"
check "sample is reproducible" sh -c "'$BIN' sample --model m/lat.dfm --n 4 --steps 3 --scale 1 -o '$T/four2.png' > /dev/null && cmp -s '$T/four.png' '$T/four2.png'"
check "pixel model --n 1 is bare too" run 0 sample --model "$SRC/assets/models/pets.dfm" --n 1 --steps 2 --scale 3 -o "$T/p1.png"
check "  of 96x96" size_is "$T/p1.png" 96x96
rm m/ae.dfa
check "a latent model without its autoencoder is refused" run 1 sample --model m/lat.dfm --n 1 --steps 2 -o "$T/x.png"
check "  naming the missing file" says "ae.dfa"
check "  in one line" one_line sample

# --- refusals ---
check "pets64 needs an autoencoder" run 2 train --data pets64 -o "$T/x.dfm"
check "  in one line" one_line train
check "unknown stage" run 2 train --stage vae -o "$T/x.dfa"
check "  says which exist" says "autoencoder"
check "bad --widths" run 2 train --stage autoencoder --widths 8,x -o "$T/x.dfa"
check "  in one line" one_line train
check "a missing photo folder names the package" run 1 train --stage autoencoder --photos "$T/none" --steps 1 -o "$T/x.dfa"
check "  mate-backgrounds" says "mate-backgrounds"
echo "1..$n"
