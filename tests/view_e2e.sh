#!/bin/sh
# view_e2e.sh — `diffuse view` end to end on a virtual X display: start Xvfb, open the viewer with
# a tiny freshly trained model (random-ish weights: mechanics only), send keys with xdotool, and
# check through the viewer's --trace lines that the step moved and through screenshots (xwd dumps of
# the root window, compared byte by byte) that the screen changed accordingly — and that stepping
# back shows exactly the earlier picture. Needs xvfb, xdotool and x11-apps (scripts/deps.sh).
# VIEW_SHOTS=DIR keeps the screenshots (as PNG if ImageMagick's convert is there).
# Also: without a display the viewer says so and points to `diffuse export`.
# Prints TAP lines "ok N name" / "not ok N name". Needs $DN_BIN (set by scripts/run_tests.sh).
set -u
BIN=${DN_BIN:-build/diffuse}
T=$(mktemp -d /tmp/diffuse-view-e2e-XXXXXX)
XPID= VPID=
cleanup() {
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
  [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
n=0
ok()   { n=$((n + 1)); echo "ok $n $1"; }
bad()  { n=$((n + 1)); echo "not ok $n $1"; shift; for l in "$@"; do echo "#   $l"; done; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "failed: $*"; fi; }

# 1. no display: one line naming the export command, exit 1
env -u DISPLAY -u WAYLAND_DISPLAY "$BIN" view --no-model >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "no display" "$T/err" && grep -q "diffuse export" "$T/err"; then
  ok "no display: exit 1, '$(cat "$T/err")'"
else
  bad "no display" "exit $rc" "$(cat "$T/err")"
fi

for tool in Xvfb xdotool xwd cmp; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    skip "$tool is not installed (apt-get install xvfb xdotool x11-apps)"
    exit 0
  fi
done

# a tiny model: two training steps of a narrow U-Net (a fraction of a second)
if ! "$BIN" train --data pets -o "$T/tiny.dfm" --steps 2 --batch 2 --width 8 --mults 1,2 --sample-every 0 \
     --run-dir "$T/run" --threads 1 >"$T/train.log" 2>&1; then
  bad "train a tiny model" "$(tail -3 "$T/train.log")"
  exit 1
fi

# a free display number
D=
for d in $(seq 91 160); do
  if [ ! -e "/tmp/.X$d-lock" ] && [ ! -e "/tmp/.X11-unix/X$d" ]; then D=$d; break; fi
done
[ -n "$D" ] || { bad "find a free X display"; exit 1; }
# a display that is named but not there: the same message, not an invisible window
DISPLAY=":$D" timeout 30 "$BIN" view --no-model >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "no display" "$T/err" && grep -q "diffuse export" "$T/err"; then
  ok "unreachable display :$D: exit 1, '$(tail -1 "$T/err")'"
else
  bad "unreachable display" "exit $rc" "$(cat "$T/err")"
fi

# Under `make asan`, LeakSanitizer reports ~100 bytes allocated inside a library that SDL_Quit
# unloads (X11/dbus: "<unknown module>", so no suppression can name it). Our own code's leaks are
# checked by test_view and test_render, which use no window; here, in sanitizer builds only, leak
# checking is off for the windowed viewer (address and UB checks stay on).
[ -n "${DN_ASAN:-}" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
. "$(dirname "$0")/support/xvfb.sh"
start_xvfb 1280x720 "$T/xvfb.log" || { bad "start Xvfb" "$(cat "$T/xvfb.log")"; exit 1; }

"$BIN" view --model "$T/tiny.dfm" --steps 20 --trace --threads 1 -o "$T/slides" >"$T/trace" 2>"$T/view.err" &
VPID=$!

# wait_for PATTERN: until a trace line matches (5 s)
wait_for() {
  i=0
  while ! grep -qE "$1" "$T/trace" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  grep -qE "$1" "$T/trace"
}
last_k() { tail -1 "$T/trace" | sed -n 's/.* k=\([0-9]*\) .*/\1/p'; }
# bytes that differ between two screenshots (xwd: same header, 4 bytes a pixel)
diffpx() { cmp -l "$T/$1.xwd" "$T/$2.xwd" 2>/dev/null | wc -l; }
# shot NAME: a screenshot once the screen has settled (two captures 0.2 s apart agree)
shot() {
  sleep 0.2; xwd -root -silent >"$T/$1.xwd"
  i=0
  while [ $i -lt 20 ]; do
    sleep 0.2; xwd -root -silent >"$T/settle.xwd"
    [ "$(diffpx "$1" settle)" -eq 0 ] && return 0
    cp "$T/settle.xwd" "$T/$1.xwd"; i=$((i + 1))
  done
}

WID=
i=0
while [ -z "$WID" ] && [ $i -lt 100 ]; do
  WID=$(xdotool search --name "diffuse view" 2>/dev/null | head -1); sleep 0.1; i=$((i + 1))
done
if [ -n "$WID" ] && wait_for "action=NONE .* k=0 "; then ok "window 'diffuse view' is up (trace: k=0)"
else bad "window is up" "$(cat "$T/view.err")"; exit 1; fi
key() { xdotool key --window "$WID" "$@"; }

shot k0
key Right Right
wait_for "STEP_NEXT .* k=2 "
shot k2
key Right
if wait_for "STEP_NEXT .* k=3 " && [ "$(last_k)" = 3 ]; then ok "Right x3: step 3"
else bad "Right x3" "$(tail -2 "$T/trace")"; fi
shot k3
a=$(diffpx k0 k3); b=$(diffpx k2 k3)
if [ "${a:-0}" -gt 20000 ] && [ "${b:-0}" -gt 5000 ]; then ok "the screen changed with each step ($a, $b bytes)"
else bad "the screen changed" "k0 vs k3: $a pixels, k2 vs k3: $b"; fi

key Left
if wait_for "STEP_PREV .* k=2 "; then ok "Left: back to step 2"; else bad "Left" "$(tail -1 "$T/trace")"; fi
shot back2
c=$(diffpx k2 back2)
if [ "$c" -eq 0 ]; then ok "stepping back shows exactly the same screen (0 bytes differ)"
else bad "stepping back is exact" "$c bytes differ"; fi

key shift+Right
if wait_for "STEP_NEXT10 .* k=12 "; then ok "Shift+Right: ten steps (k=12)"; else bad "Shift+Right" "$(tail -1 "$T/trace")"; fi
key End
if wait_for "LAST .* k=20 "; then ok "End: last step (k=20)"; else bad "End" "$(tail -1 "$T/trace")"; fi

key m
if wait_for "MODE_TOGGLE .* mode=reverse"; then ok "M: reverse mode"; else bad "M" "$(tail -1 "$T/trace")"; fi
key Home Right
wait_for "STEP_NEXT .* k=1 .*mode=reverse" && shot rev1
key h
if wait_for "HELP_TOGGLE .* help=1"; then shot help; d=$(diffpx rev1 help)
  if [ "${d:-0}" -gt 100000 ]; then ok "H: help overlay ($d bytes changed)"; else bad "help overlay" "$d bytes"; fi
else bad "H" "$(tail -1 "$T/trace")"; fi
key h c bracketright s n r
if wait_for "NEW_SEED .* seed=[1-9]"; then
  line=$(grep "NEW_SEED" "$T/trace" | tail -1)
  case "$line" in *"cond=0"*"cfg=3.5"*) ok "C ] S N R: conditioning off, w 3.5, sampler and steps changed, new seed" ;;
                  *) bad "C ] S N R" "$line" ;; esac
else bad "C ] S N R" "$(tail -3 "$T/trace")"; fi

# clicking on the timeline scrubs: the right end is t = 0, the last frame of a reverse run
xdotool mousemove --window "$WID" 1255 560 click 1
if wait_for "SCRUB_TO"; then ok "click on the timeline: $(grep SCRUB_TO "$T/trace" | tail -1 | sed 's/.*\(k=[0-9]*\).*/\1/')"
else bad "timeline click" "$(tail -1 "$T/trace")"; fi

# Space plays: the cursor moves by itself (trace lines of play ticks), Space again stops
key Home space
if wait_for "PLAY_TOGGLE .* playing=1" && wait_for "action=NONE arg=0 rc=1 k=[1-9]"; then
  key space
  if wait_for "PLAY_TOGGLE .* playing=0"; then ok "Space: plays ($(grep -c 'action=NONE arg=0 rc=1' "$T/trace") steps by itself), Space stops"
  else bad "Space stops" "$(tail -1 "$T/trace")"; fi
else bad "Space plays" "$(tail -2 "$T/trace")"; fi

# E on a long run: the window stays live while it exports (the progress on screen moves), other
# keys wait and take effect after it (Right: one step after the cancel), Esc cancels (no contact
# sheet, no GIF). N until 1000 steps: the run is computed as it goes.
i=0
while ! tail -1 "$T/trace" | grep -q " steps=1000 " && [ $i -lt 8 ]; do key n; sleep 0.3; i=$((i + 1)); done
key e
sleep 0.4; xwd -root -silent >"$T/exp1.xwd"
sleep 0.6; xwd -root -silent >"$T/exp2.xwd"
lines=$(wc -l <"$T/trace")
key Right
sleep 0.3
key Escape
if wait_for "^export=cancelled"; then
  d=$(diffpx exp1 exp2)
  i=0 # the Right pressed during the export: applied after it, not before, not lost
  while [ "$(sed -n '/^export=cancelled/,$p' "$T/trace" | grep -c "^action=STEP_NEXT")" -eq 0 ] && [ $i -lt 30 ]; do
    sleep 0.1; i=$((i + 1))
  done
  if [ "${d:-0}" -gt 0 ] && [ "$(sed -n "$((lines + 1)),\$p" "$T/trace" | sed '/^export=cancelled/,$d' | grep -c "^action=STEP_NEXT")" -eq 0 ] &&
     [ "$(sed -n '/^export=cancelled/,$p' "$T/trace" | grep -c "^action=STEP_NEXT")" -eq 1 ] &&
     [ ! -e "$T/slides/contact.png" ] && [ ! -e "$T/slides/run.gif" ] && kill -0 "$VPID" 2>/dev/null; then
    ok "E on 1000 steps: screen live while exporting ($d bytes changed in 0.6 s), Right waited for the export and then stepped, Esc cancelled ($(ls "$T/slides" | wc -l) frames kept)"
  else bad "export cancel" "changed $d" "$(tail -3 "$T/trace")" "$(ls "$T/slides")"; fi
else bad "export cancel" "$(tail -3 "$T/trace")"; fi
key n   # back to 10 steps
wait_for "STEPS_NEXT .* steps=10 " || bad "N after cancel" "$(tail -1 "$T/trace")"
key End
wait_for "LAST .* steps=10 "
rm -f "$T"/slides/*

shot before_e
k_e=$(last_k)
key e
i=0
while ! grep -q "^export=[0-9-]" "$T/trace" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if grep -q "^export=[1-9]" "$T/trace" && [ -f "$T/slides/frame_000.png" ] && [ -f "$T/slides/contact.png" ] &&
   [ -f "$T/slides/run.gif" ]; then ok "E: exported $(ls "$T/slides" | wc -l) files"
else bad "E: export" "$(grep export "$T/trace")" "$(ls "$T/slides" 2>&1)"; fi

# the slide of the step on screen is the screen, pixel for pixel, below the header; the header
# differs by the key hint, which the screen has and a slide does not (needs ImageMagick to decode)
f_e="$T/slides/frame_$(printf %03d "$k_e").png"
if command -v convert >/dev/null 2>&1 && command -v compare >/dev/null 2>&1 && [ -f "$f_e" ]; then
  convert "xwd:$T/before_e.xwd" "png:$T/before_e.png"
  convert "$f_e" -crop 1280x676+0+44 +repage "png:$T/slide_body.png"
  convert "$T/before_e.png" -crop 1280x676+0+44 +repage "png:$T/screen_body.png"
  d=$(compare -metric AE "$T/slide_body.png" "$T/screen_body.png" null: 2>&1 | sed 's/[^0-9].*//')
  h=$(compare -metric AE "$f_e" "$T/before_e.png" null: 2>&1 | sed 's/[^0-9].*//')
  if [ "$d" = 0 ] && [ "${h:-0}" -gt 0 ]; then ok "slide $(basename "$f_e") equals the screenshot of step $k_e below the header (0 pixels differ; the header's key hint: $h)"
  else bad "slide equals screen" "$d pixels differ below the header between $(basename "$f_e") and the screen ($h in all)"; fi
else
  skip "slide vs screen: ImageMagick not installed (or frame missing)"
fi

key q
i=0
while kill -0 "$VPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$VPID" 2>/dev/null; then bad "Q quits"
else wait "$VPID"; rc=$?; VPID=; if [ "$rc" -eq 0 ]; then ok "Q: quit, exit 0"; else bad "Q quits" "exit $rc"; fi; fi
if [ -n "${VIEW_SHOTS:-}" ] && mkdir -p "$VIEW_SHOTS"; then
  for f in "$T"/*.xwd; do
    b=$(basename "$f" .xwd)
    if command -v convert >/dev/null 2>&1; then convert "xwd:$f" "png:$VIEW_SHOTS/$b.png"; else cp "$f" "$VIEW_SHOTS"/; fi
  done
fi
