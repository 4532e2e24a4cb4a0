#!/bin/sh
# noise_cli.sh — `diffuse noise` end to end. A good run writes the frames and the contact sheet.
# Every bad input exits 1 (bad file) or 2 (bad usage) with one line on stderr that names the
# problem, and leaves no output file. The pixels in the frames are checked by test_image.c
# (the_noise_command_writes_the_forward_process).
# Prints TAP lines "ok N name" / "not ok N name". Needs $DN_BIN (set by scripts/run_tests.sh).
set -u
BIN=${DN_BIN:-build/diffuse}
CAT=assets/images/cat.png
T=$(mktemp -d /tmp/diffuse-noise-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
ok()  { n=$((n + 1)); echo "ok $n $1"; }
bad() { n=$((n + 1)); echo "not ok $n $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# Count the files under a folder (0 if it does not exist).
files_in() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }

# refuse NAME WANT_EXIT WANT_TEXT ARGS...: run `diffuse noise ARGS -o $T/out.NAME`; expect the
# exit code, exactly one line on stderr containing WANT_TEXT, nothing on stdout and no file.
refuse() {
  name=$1 want=$2 text=$3; shift 3
  out="$T/out.$name"
  "$BIN" noise "$@" -o "$out" >"$T/stdout" 2>"$T/stderr"
  rc=$?
  lines=$(wc -l <"$T/stderr")
  left=$(files_in "$out")
  if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" "$T/stderr" &&
     [ ! -s "$T/stdout" ] && [ "$left" -eq 0 ]; then
    ok "$name: exit $want, one line, no file ($(cat "$T/stderr"))"
  else
    bad "$name" "exit $rc (want $want), $lines stderr lines (want 1), $left files left (want 0)," \
        "stderr: $(head -c 400 "$T/stderr")"
  fi
}

[ -x "$BIN" ] || { echo "not ok 1 diffuse binary at '$BIN' (set DN_BIN)"; exit 1; }

# ---- a good run ---------------------------------------------------------------------------------
"$BIN" noise "$CAT" -o "$T/good" --every 100 >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$T/stderr" ]; then ok "good run exits 0, stderr empty"
else bad "good run exits 0" "exit $rc, stderr: $(head -c 400 "$T/stderr")"; fi

# t = 0, 100, ..., 900 and the last step 999: 11 frames, numbered from 0 without gaps
nf=$(find "$T/good" -name 'frame_*.png' | wc -l)
if [ "$nf" -eq 11 ] && [ -f "$T/good/frame_0000.png" ] && [ -f "$T/good/frame_0010.png" ] &&
   [ ! -e "$T/good/frame_0011.png" ]; then ok "11 frames frame_0000..frame_0010.png"
else bad "11 frames" "found $nf: $(find "$T/good" -type f | sed 's#.*/##' | sort | tr '\n' ' ')"; fi

if [ -s "$T/good/contact.png" ]; then ok "contact.png written"; else bad "contact.png written"; fi
if [ "$(files_in "$T/good")" -eq 12 ]; then ok "nothing else written (no temporaries)"
else bad "nothing else written" "$(find "$T/good" | sed 's#.*/##' | sort | tr '\n' ' ')"; fi

# every file is a PNG (8-byte signature)
sig_ok=1
for f in "$T"/good/*.png; do
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || sig_ok=0
done
if [ "$sig_ok" -eq 1 ]; then ok "every file starts with the PNG signature"; else bad "PNG signatures"; fi

# the text chunks carry t and the settings (tEXt data is "key\0value")
text_of() { tr '\000' '=' <"$1"; }
if text_of "$T/good/frame_0010.png" | grep -qa 'tEXtt=999' &&
   text_of "$T/good/frame_0003.png" | grep -qa 'tEXtt=300' &&
   text_of "$T/good/frame_0003.png" | grep -qa 'tEXtschedule=linear' &&
   text_of "$T/good/frame_0003.png" | grep -qa 'tEXtseed=42'; then
  ok "frames record t, schedule and seed in tEXt chunks"
else bad "tEXt chunks with t and settings"; fi

if grep -q 'wrote 11 frames' "$T/stdout" && grep -q 'contact.png' "$T/stdout"; then
  ok "reports what it wrote"; else bad "reports what it wrote" "$(cat "$T/stdout")"; fi

# same seed, same pixels; another seed, other pixels
"$BIN" noise "$CAT" -o "$T/again" --every 100 >/dev/null 2>&1
"$BIN" noise "$CAT" -o "$T/seed7" --every 100 --seed 7 >/dev/null 2>&1
if cmp -s "$T/good/frame_0005.png" "$T/again/frame_0005.png" &&
   ! cmp -s "$T/good/frame_0005.png" "$T/seed7/frame_0005.png"; then
  ok "same seed gives the same frame, another seed another"
else bad "determinism by seed"; fi

# rerunning into the same folder with fewer frames leaves one sequence, not the old tail
"$BIN" noise "$CAT" -o "$T/again" --every 250 >/dev/null 2>&1
nf=$(find "$T/again" -name 'frame_*.png' | wc -l)
if [ "$nf" -eq 5 ] && [ ! -e "$T/again/frame_0005.png" ] && [ -f "$T/again/contact.png" ]; then
  ok "a rerun with fewer frames removes the old tail (5 frames left)"
else bad "rerun with fewer frames" "$nf frames: $(find "$T/again" -type f | sed 's#.*/##' | sort | tr '\n' ' ')"; fi

# other settings and a JPEG input: T = 100 every 10 -> t = 0..90 and 99 = 11 frames, 32x32
"$BIN" noise tests/data/cat64.jpg -o "$T/jpeg" --size 32 --schedule squaredcos_cap_v2 \
  --steps 100 --every 10 >/dev/null 2>"$T/stderr"
rc=$?
nf=$(find "$T/jpeg" -name 'frame_*.png' 2>/dev/null | wc -l)
# IHDR width at bytes 16..19
w=$(head -c 20 "$T/jpeg/frame_0000.png" 2>/dev/null | tail -c 4 | od -An -tu1 | tr -s ' ' | sed 's/^ //')
if [ "$rc" -eq 0 ] && [ "$nf" -eq 11 ] && [ "$w" = "0 0 0 32" ] &&
   text_of "$T/jpeg/frame_0010.png" | grep -qa 'tEXtschedule=squaredcos_cap_v2'; then
  ok "JPEG input, cosine schedule, --size 32: 11 frames of 32x32"
else bad "JPEG input with other settings" "exit $rc, $nf frames, width bytes '$w'" "$(head -c 300 "$T/stderr")"; fi

# --help: exit 0, says how pixels map and that the noise is fixed
"$BIN" noise --help >"$T/help" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'clipped' "$T/help" && grep -q 'ONE fixed noise' "$T/help"; then
  ok "--help exits 0 and states the pixel mapping and the fixed noise"
else bad "--help" "exit $rc"; fi

# ---- bad files: exit 1 ------------------------------------------------------------------------
printf 'just some notes, not a picture\n' >"$T/notes.png"
head -c 3000 "$CAT" >"$T/cut.png"
head -c 1200 tests/data/cat64.jpg >"$T/cut.jpg"
printf 'II*\000\010\000\000\000\000\000\000\000\000\000' >"$T/photo.tif"
: >"$T/empty.png"
printf 'x' >"$T/file.txt"

refuse missing-file    1 "missing.png"            "$T/missing.png"
refuse text-as-png     1 "not an image"           "$T/notes.png"
refuse empty-file      1 "empty"                  "$T/empty.png"
refuse truncated-png   1 "truncated"              "$T/cut.png"
refuse truncated-jpeg  1 "cut.jpg"                "$T/cut.jpg"
refuse tiff            1 "TIFF images are not supported" "$T/photo.tif"
refuse one-pixel       1 "1x1"                    tests/data/one_pixel.png
refuse huge-header     1 "100000x100000"          tests/data/huge_header.png
refuse folder-as-photo 1 "not a regular file"     "$T"

# unwritable output folder: as root every folder is writable, so use a path under a regular file
"$BIN" noise "$CAT" -o "$T/file.txt/out" >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q 'file.txt/out' "$T/stderr" &&
   [ "$(cat "$T/file.txt")" = "x" ] && [ -z "$(find "$T" -maxdepth 1 -name '*.tmp.*')" ]; then
  ok "unwritable folder: exit 1, one line ($(cat "$T/stderr"))"
else bad "unwritable folder" "exit $rc: $(cat "$T/stderr")"; fi

# ---- bad usage: exit 2 --------------------------------------------------------------------------
refuse no-photo        2 "which photo"
refuse two-photos      2 "unexpected argument"    "$CAT" "$CAT"
refuse size-too-big    2 "out of range"           "$CAT" --size 5000
refuse size-not-number 2 "wants a number"         "$CAT" --size big
refuse unknown-option  2 "unknown option"         "$CAT" --colour red
refuse bad-schedule    2 "schedule"               "$CAT" --schedule fast
refuse every-gt-steps  2 "more than --steps"      "$CAT" --steps 100 --every 200
refuse too-many-frames 2 "--every 6 or more"      "$CAT" --every 1
"$BIN" noise "$CAT" >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- '-o DIR' "$T/stderr"; then ok "missing -o: exit 2"
else bad "missing -o" "exit $rc: $(cat "$T/stderr")"; fi

echo "1..$n"
