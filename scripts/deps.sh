#!/bin/sh
# Install the Debian packages diffuse needs, only those that are missing.
# usage: deps.sh [EXTRA_PACKAGE...]   (e.g. `deps.sh clang` for make clang-check)
# As root: apt-get installs them. Otherwise: prints the one command to run.
# Each package and why: see README.md, "Dependencies".
set -eu
PKGS="build-essential pkg-config zlib1g-dev libstb-dev libsdl2-dev libsdl2-ttf-dev
      libfontconfig-dev libx11-dev fonts-dejavu-core libgif-dev libcmocka-dev dataset-fashion-mnist mate-backgrounds
      xvfb xdotool x11-apps x11-utils openbox imagemagick $*"
missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "diffuse: missing Debian packages; run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "diffuse: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
