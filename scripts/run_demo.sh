#!/bin/sh
# make run: the main job. Until the viewer exists: forward-noise the bundled cat photo into frames/.
set -eu
BIN=$1
"$BIN" noise assets/images/cat.png -o frames --size 64 --every 100
echo "make run: wrote the forward diffusion of assets/images/cat.png to frames/ (open frames/contact.png)"
