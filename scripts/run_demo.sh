#!/bin/sh
# make run: the main job. Opens lesson 1 (forward diffusion) in the viewer; Right/Left walk through
# it, H lists the keys, Q quits. Without a display it exports lesson 1's slides to slides/lesson1/
# and says where they are.
# usage: run_demo.sh BIN
set -u
BIN=$1
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "make run: opening lesson 1 in the viewer (Right/Left: steps and slides, H: keys, Q: quit)"
  "$BIN" lesson 1 && exit 0
  echo "make run: the window could not open; exporting the slides instead"
fi
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || echo "make run: no display, so lesson 1 is exported instead, to slides/lesson1/ (a few seconds)"
"$BIN" lesson 1 --export slides/lesson1 || exit 1
echo "make run: open $(pwd)/slides/lesson1/contact.png"
echo "          (slide_NN.png per slide, slide_NN.gif for the animated ones); with a display,"
echo "          'make run' opens the viewer, and 'diffuse lesson' lists all seven lessons"
