#!/bin/sh
# make run: the main job. Until the viewer exists: the forward diffusion of the bundled cat photo,
# as frames/frame_0000.png ... frame_0010.png (t = 0, 100, ..., 900, 999) and frames/contact.png.
# usage: run_demo.sh BIN
set -eu
BIN=$1
"$BIN" noise assets/images/cat.png -o frames --size 64 --every 100
echo "make run: the forward diffusion of assets/images/cat.png is in $(pwd)/frames/"
echo "          open $(pwd)/frames/contact.png (one row of 11 frames, t under each)"
