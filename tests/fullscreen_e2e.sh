#!/bin/sh
# fullscreen_e2e.sh — F and Esc in a real window on a 1920x1080 virtual screen (Xvfb), twice: with
# no window manager (a bare X session: the viewer places the window itself) and under openbox (a
# window manager from Debian: the viewer asks it). Each time: F makes the window 1920x1080 at
# (0, 0) and the screen below the header is pixel for pixel the 1920x1080 layout (the same frame
# exported headless at that size: so nothing is cropped or drawn for another size); F again and
# Esc bring back the 1280x720 window where it was, showing the 1280x720 layout. Without a window
# manager the layout used to be 1920x1080 inside the 1280x720 window (its middle cropped), and F
# again did not restore it. Needs xvfb, xdotool, x11-apps, ImageMagick's convert and compare, and
# openbox (scripts/deps.sh); prints TAP lines. Needs $DN_BIN (scripts/run_tests.sh).
set -u
BIN=${DN_BIN:-build/diffuse}
T=$(mktemp -d /tmp/diffuse-fullscreen-XXXXXX)
XPID= VPID= WPID=
cleanup() {
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
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
for tool in Xvfb xdotool xwd xwininfo convert compare openbox; do
  if ! command -v "$tool" >/dev/null 2>&1; then skip "$tool is not installed"; echo "1..$n"; exit 0; fi
done
[ -n "${DN_ASAN:-}" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # see view_e2e.sh

# the frames the screen must show: the viewer's first frame at both sizes, headless
VIEW="--no-model --steps 10"
for s in 1920x1080 1280x720; do
  if ! "$BIN" export $VIEW --size $s -o "$T/want$s" > "$T/export.log" 2>&1; then bad "export at $s" "$(cat "$T/export.log")"; exit 1; fi
done

. "$(dirname "$0")/support/xvfb.sh"
start_xvfb 1920x1080 "$T/xvfb.log" || { bad "start Xvfb" "$(cat "$T/xvfb.log")"; exit 1; }

geometry() { xwininfo -id "$W" 2>/dev/null | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF} /Width/ {w=$NF} /Height/ {h=$NF} END {print x, y, w, h}'; }
wait_geometry() { # wait up to 5 s for the window to have geometry "$1"
  i=0
  while [ "$(geometry)" != "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(geometry)" = "$1" ]
}
# the screen inside the window's rectangle below the header (44 px at 720 lines, 66 at 1080), against
# the headless frame of that size
body_matches() { # X Y W H HEADER WANT.png
  sleep 0.5
  xwd -root -silent > "$T/shot.xwd" || return 1
  bh=$(($4 - $5))
  convert "xwd:$T/shot.xwd" -crop "$3x$bh+$1+$(($2 + $5))" +repage "png:$T/shot.png" &&
    convert "$6" -crop "$3x$bh+0+$5" +repage "png:$T/want.png" || return 1
  px=$(compare -metric AE "$T/shot.png" "$T/want.png" null: 2>&1 | sed 's/[^0-9].*//')
  [ "$px" = 0 ]
}

for wm in none openbox; do
  if [ $wm = openbox ]; then
    openbox > "$T/openbox.log" 2>&1 &
    WPID=$!
    sleep 1
  fi
  "$BIN" view $VIEW --size 1280x720 --trace > "$T/trace" 2> "$T/err" &
  VPID=$!
  W= i=0
  while [ -z "$W" ] && [ $i -lt 100 ]; do W=$(xdotool search --name "diffuse view" 2>/dev/null | head -1); sleep 0.1; i=$((i + 1)); done
  [ -n "$W" ] || { bad "$wm: the window opens" "$(cat "$T/err")"; break; }
  i=0
  while [ "$(geometry | cut -d' ' -f3-)" != "1280 720" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  start=$(geometry)
  sleep 0.5
  set -- $start
  if [ "$3 $4" = "1280 720" ] && body_matches "$1" "$2" 1280 720 44 "$T/want1280x720/frame_000.png"; then
    ok "$wm: the 1280x720 window shows the 1280x720 layout (at $1,$2)"
  else bad "$wm: the window at start" "geometry $start"; fi
  xdotool key --window "$W" f
  if wait_geometry "0 0 1920 1080" && body_matches 0 0 1920 1080 66 "$T/want1920x1080/frame_000.png"; then
    ok "$wm: F: the window covers the 1920x1080 screen and shows the 1920x1080 layout, nothing cropped"
  else bad "$wm: F: fullscreen" "geometry $(geometry)" "$(tail -1 "$T/trace")"; fi
  xdotool key --window "$W" f
  if wait_geometry "$start" && body_matches "$1" "$2" 1280 720 44 "$T/want1280x720/frame_000.png"; then
    ok "$wm: F again: back to 1280x720 at $1,$2 with its layout"
  else bad "$wm: F again" "geometry $(geometry), wanted $start"; fi
  xdotool key --window "$W" f
  wait_geometry "0 0 1920 1080" > /dev/null
  xdotool key --window "$W" Escape
  if wait_geometry "$start" && kill -0 "$VPID" 2>/dev/null; then ok "$wm: Esc leaves fullscreen (and does not quit)"
  else bad "$wm: Esc" "geometry $(geometry)"; fi
  xdotool key --window "$W" q
  i=0
  while kill -0 "$VPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  wait "$VPID" 2>/dev/null
  rc=$?
  VPID=
  if [ $rc -eq 0 ]; then ok "$wm: Q quits, exit 0"; else bad "$wm: Q" "exit $rc" "$(cat "$T/err")"; fi
done
echo "1..$n"
