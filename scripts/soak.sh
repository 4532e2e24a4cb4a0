#!/bin/sh
# soak.sh — `make soak`: the viewer under a long random session, as a class would never quite
# manage: KEYS random keys (default 2000: every key of the viewer, Shift variants, digits, the
# lesson keys) and mouse clicks and drags on the timeline, sent with xdotool to a real window on
# Xvfb under openbox, first to `diffuse view` with the shipped pets model, then a quarter as many
# to `diffuse lesson 5`. Passes when the viewer is alive after every batch, answers Q with exit 0,
# and its memory stays flat: the resident size after the second half grows less than 25% over
# the first half's (runs are kept for going back, within a bound) and stays under 1 GB.
# usage: soak.sh BUILD_DIR [KEYS] [SEED]
set -u
BUILD=${1:-build}
KEYS=${2:-2000}
SEED=${3:-1}
BIN="$BUILD/diffuse"
sh scripts/deps.sh || exit 1
[ -x "$BIN" ] || { echo "soak.sh: build $BIN first (make)" >&2; exit 1; }
T=$(mktemp -d /tmp/diffuse-soak-XXXXXX)
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
fail=0
. tests/support/xvfb.sh
start_xvfb 1280x720 "$T/xvfb.log" || { echo "soak.sh: Xvfb did not start: $(cat "$T/xvfb.log")" >&2; exit 1; }
openbox > "$T/openbox.log" 2>&1 &
WPID=$!
sleep 1

# the keys: every key of the viewer (window.c's keymap and the lesson keys) but Q, which ends
# the session, and E, whose exports of 1000-step runs would spend the session writing files
KEYLIST="Right Left shift+Right shift+Left Home End space Up Down c Tab bracketright bracketleft g s n r o m i
f F11 h F1 Escape d l v shift+1 shift+2 shift+3 shift+4 shift+5 shift+6 shift+7 shift+8 0 1 2 3 4 5 6 7 8 9
Next Prior KP_1 KP_0 x z Return"
rss() { awk '/VmRSS/ {print $2}' "/proc/$VPID/status" 2>/dev/null; }
# send N random keys (and timeline clicks/drags) in batches; prints the resident KB after each half
soak() { # NAME N
  name=$1 total=$2 sent=0 half=$(($2 / 2)) r1=
  W= i=0
  while [ -z "$W" ] && [ $i -lt 100 ]; do W=$(xdotool search --name "diffuse view" 2>/dev/null | head -1); sleep 0.1; i=$((i + 1)); done
  [ -n "$W" ] || { echo "not ok $name: no window"; fail=1; return; }
  xdotool windowactivate --sync "$W" 2>/dev/null
  while [ $sent -lt "$total" ]; do
    batch=$(echo "$KEYLIST" | tr ' ' '\n' | grep -v '^$' |
            awk -v seed="$SEED$sent" 'BEGIN { srand(seed) } { k[NR] = $0 } END { for (i = 0; i < 40; i++) printf "%s ", k[int(rand() * NR) + 1] }')
    xdotool key --window "$W" --delay 8 $batch 2>/dev/null
    # a click and a drag across the timeline (the window is 1280x720; the timeline's plot is
    # near the bottom in both layouts)
    y=$(awk -v s="$SEED$sent" 'BEGIN { srand(s); print 500 + int(rand() * 40) }')
    x1=$(awk -v s="$SEED$sent" 'BEGIN { srand(s + 1); print 40 + int(rand() * 1200) }')
    x2=$(awk -v s="$SEED$sent" 'BEGIN { srand(s + 2); print 40 + int(rand() * 1200) }')
    xdotool mousemove --window "$W" "$x1" "$y" click 1 mousedown 1 mousemove --window "$W" "$x2" "$y" mouseup 1 2>/dev/null
    sent=$((sent + 41))
    if ! kill -0 "$VPID" 2>/dev/null; then
      echo "not ok $name: the viewer died after $sent keys"; tail -5 "$T/err" | sed 's/^/#   /'; fail=1; VPID=; return
    fi
    if [ -z "$r1" ] && [ $sent -ge $half ]; then sleep 2; r1=$(rss); fi
  done
  sleep 3
  r2=$(rss)
  echo "# $name: $sent keys and clicks; resident ${r1} KB after the first half, ${r2} KB at the end"
  if [ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -lt $((r1 + r1 / 4)) ] && [ "$r2" -lt 1000000 ]; then echo "ok $name: memory flat"
  else echo "not ok $name: memory grew from ${r1:-?} to ${r2:-?} KB"; fail=1; fi
  xdotool key --window "$W" q
  i=0
  while kill -0 "$VPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$VPID" 2>/dev/null; then echo "not ok $name: Q did not quit"; fail=1; kill "$VPID"; wait "$VPID" 2>/dev/null
  else
    wait "$VPID"; rc=$?
    if [ $rc -eq 0 ]; then echo "ok $name: alive to the end, Q quits with exit 0"
    else echo "not ok $name: exit $rc"; tail -5 "$T/err" | sed 's/^/#   /'; fail=1; fi
  fi
  VPID=
}

start=$(date +%s)
"$BIN" view --model assets/models/pets.dfm -o "$T/slides" > "$T/out" 2> "$T/err" &
VPID=$!
soak "view" "$KEYS"
"$BIN" lesson 5 > "$T/out" 2> "$T/err" &
VPID=$!
soak "lesson 5" $((KEYS / 4))
echo "# soak: $(($(date +%s) - start)) s"
exit $fail
