#!/bin/sh
# lesson_cli.sh — `diffuse lesson`: the list, every shipped lesson exported headless (slides, GIFs,
# contact sheet), a malformed lesson refused with file and line, and a lesson played in the window
# under Xvfb: Right walks through a slide's steps and on to the next slide, PageDown/PageUp jump,
# the speaker notes go to the terminal. Prints TAP lines; needs $DN_BIN (scripts/run_tests.sh).
set -u
BIN=${DN_BIN:-build/diffuse}
T=$(mktemp -d /tmp/diffuse-lesson-XXXXXX)
XPID= VPID=
cleanup() {
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
  [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$(dirname "$0")/support/tap.sh"
is_gif() { [ "$(head -c 6 "$1")" = "GIF89a" ]; }

check "list the lessons" run 0 lesson
check "seven lessons listed" [ "$(grep -c '^  [0-9]-.*slides)$' "$T/out")" -eq 7 ]

# every shipped lesson exports headless (small slides, short GIFs: this is about the mechanics)
for f in lessons/[0-9]-*.txt; do
  num=$(basename "$f" | cut -d- -f1)
  slides=$(grep -c '^slide:' "$f")
  if run 0 lesson "$num" --export "$T/l$num" --size 640x360 --gif-frames 4 --threads 2; then
    ok "lesson $num exports"
    check "lesson $num: $slides slide PNGs" [ "$(ls "$T/l$num"/slide_*.png | wc -l)" -eq "$slides" ]
    check "lesson $num: contact sheet" is_png "$T/l$num/contact.png"
    check "lesson $num: end slide" is_png "$T/l$num/end.png"
    gifs_ok=1
    for g in "$T/l$num"/slide_*.gif; do [ -e "$g" ] || continue; is_gif "$g" || gifs_ok=0; done
    check "lesson $num: every slide GIF is a GIF" [ $gifs_ok -eq 1 ]
    if grep -q '^play: on' "$f"; then check "lesson $num: animated slides as GIF" sh -c "ls '$T/l$num'/slide_*.gif > /dev/null 2>&1"; fi
    check "lesson $num: slides record lesson and slide" grep -aq "diffuse-slide" "$T/l$num/slide_01.png"
  else
    notok "lesson $num exports"
  fi
done

# refusals: file and line, one line, nothing written
printf 'title: Broken\nslide: one\nmode: sideways\n' > "$T/broken.txt"
check "malformed lesson refused" run 1 lesson "$T/broken.txt" --export "$T/broken"
check "message names file and line" grep -q "^diffuse lesson: $T/broken.txt:3: mode wants forward or reverse, not 'sideways'$" "$T/err"
check "nothing exported for it" [ ! -e "$T/broken" ]
check "no lesson 9" run 2 lesson 9
check "unknown class in a lesson" sh -c "printf 'title: T\nslide: S\nmodel: pets\nclass: horse\ncaption: c\n' > '$T/horse.txt'; '$BIN' lesson '$T/horse.txt' --export '$T/h' 2> '$T/err' > /dev/null; [ \$? -eq 1 ] && grep -q 'horse.txt:2: the model knows no class .horse.' '$T/err'"
check "no display: says so" sh -c "env -u DISPLAY -u WAYLAND_DISPLAY '$BIN' lesson 1 2> '$T/err' > /dev/null; [ \$? -eq 1 ] && grep -q 'export' '$T/err'"

# --- in the window ---
for tool in Xvfb xdotool; do
  if ! command -v "$tool" >/dev/null 2>&1; then skip "$tool is not installed"; echo "1..$n"; exit 0; fi
done
"$BIN" train --data pets -o "$T/tiny.dfm" --steps 2 --batch 2 --width 8 --mults 1,2 --sample-every 0 \
  --run-dir "$T/run" --threads 1 > /dev/null 2>&1 || notok "tiny model"
cat > "$T/play.txt" <<EOL
title: Window test
slide: First
mode: forward
model: tiny.dfm
steps: 10
frames: 0-2
caption: one
notes: say hello
slide: Second
mode: reverse
class: dog
frames: 0-3
caption: two
slide: Third
frames: end
caption: three
EOL
# sanitizer builds: no leak check for the windowed viewer (see view_e2e.sh)
[ -n "${DN_ASAN:-}" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
. "$(dirname "$0")/support/xvfb.sh"
start_xvfb 1280x720 "$T/xvfb.log" || { notok "start Xvfb"; echo "1..$n"; exit 1; }
"$BIN" lesson "$T/play.txt" --trace --threads 1 > "$T/trace" 2> "$T/lerr" &
VPID=$!
wait_for() {
  i=0
  while ! grep -qE "$1" "$T/trace" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  grep -qE "$1" "$T/trace"
}
check "window opens on slide 1" wait_for "^slide=1$"
check "speaker notes printed" grep -q "notes: say hello" "$T/trace"
WID=$(xdotool search --sync --name "diffuse" 2>/dev/null | head -1)
key() { xdotool key --window "$WID" "$1"; sleep 0.3; }
key Right; key Right
check "Right steps inside the slide" wait_for "k=2 .*mode=forward"
key Right
check "Right at the slide's end opens slide 2" wait_for "^slide=2$"
check "slide 2 is reverse, conditioned on dog (class 1)" wait_for "k=0 .*mode=reverse.*class=1 cond=1"
key Left
check "Left at the slide's start goes back to slide 1's end" wait_for "k=2 .*mode=forward"
key Next
check "PageDown jumps to slide 2 again" sh -c "[ \$(grep -c '^slide=2$' '$T/trace') -ge 2 ]"
key Next
check "PageDown to slide 3" wait_for "^slide=3$"
check "slide 3 starts at its last frame" wait_for "k=10 .*mode=reverse"
key Prior
check "PageUp back to slide 2" sh -c "[ \$(grep -c '^slide=2$' '$T/trace') -ge 3 ]"
key Next
key Right
check "Right past the last slide: the end slide" wait_for "^slide=end$"
check "the end is said on the terminal" grep -q "^-- the end of 'Window test'" "$T/trace"
key Left
check "Left from the end: back on slide 3" sh -c "[ \$(grep -c '^slide=3$' '$T/trace') -ge 3 ]"
key q
i=0
while kill -0 "$VPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "Q quits" sh -c "! kill -0 $VPID 2>/dev/null"
VPID=
echo "1..$n"
