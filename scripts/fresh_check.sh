#!/bin/sh
# make fresh-check: prove that the README's two commands work first time on a fresh Debian 12.
#
# Builds a minimal Debian 12 (bookworm) in a folder with debootstrap, puts a clean clone of this
# repository's committed HEAD in it (untracked and uncommitted files are left out on purpose, so
# they cannot hide a problem), installs `make` and nothing else, then runs inside the chroot, as
# root and with no DISPLAY:
#     make run     (headless, so it must export lesson 1's slides)
#     make test
# Everything else must be installed by scripts/deps.sh, which both commands run first: that is
# what is being tested. Prints the Debian version, the time of each step and the last lines of
# each command; exit status 0 when both succeed, 1 otherwise.
#
# usage: sh scripts/fresh_check.sh        (or: make fresh-check; root only)
#
# Layout under $FRESH_DIR (default /var/tmp/diffuse-fresh):
#     cache/bookworm-VARIANT-ARCH.tar.gz  the pristine debootstrap result, made once and reused
#     root/                               the chroot of the last run, made afresh from the cache
#                                         by every run (kept afterwards for a look inside)
#     logs/YYYYmmdd-HHMMSS/               one folder per run (logs/latest points to the last):
#                                         debootstrap.log, make.log (apt-get install make),
#                                         make-run.log, make-test.log, test-logs/ (the chroot's
#                                         build/test-logs), summary.txt
# Environment:
#     FRESH_DIR=DIR        where all of the above lives (not inside the repository)
#     FRESH_NEW_BASE=1     run debootstrap again and replace the cached base
#     FRESH_SEED=DIR       when there is no cache yet, make it from DIR (an untouched debootstrap
#                          of bookworm made elsewhere) instead of running debootstrap
#     FRESH_MIRROR=URL     default http://deb.debian.org/debian (security: URL-security)
#     FRESH_VARIANT=V      debootstrap variant, default minbase (the smallest Debian)
#     FRESH_AVX2=1         build and test as on an AVX2 laptop without AVX-512, also on a machine
#                          that has it: make gets ARCH=-march=x86-64-v3 (everything outside the
#                          kernels built for AVX2) and the programs DN_KERNELS=avx2
#     FRESH_MAKEARGS=...   more arguments for both make commands (FRESH_AVX2 adds to them)
# /proc, /sys (read-only), a private /dev (tmpfs with the usual nodes, its own devpts, /dev/shm)
# are mounted for the run and unmounted on exit, whatever happens (also on Ctrl-C). Processes
# still running inside the chroot then are stopped first. A folder is only ever deleted once no
# mount is left under it.
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd -P)
FRESH_DIR=${FRESH_DIR:-/var/tmp/diffuse-fresh}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
VARIANT=${FRESH_VARIANT:-minbase}
SUITE=bookworm

say() { echo "fresh-check: $*"; }
die() { echo "fresh-check: $*" >&2; exit 1; }
dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts); run it as root"
case "$FRESH_DIR" in
  /*) ;; *) die "FRESH_DIR must be an absolute path, not '$FRESH_DIR'" ;; esac
case "$FRESH_DIR" in
  *[!A-Za-z0-9/._-]*) die "FRESH_DIR may hold only letters, digits and / . _ - ('$FRESH_DIR')" ;; esac
mkdir -p "$FRESH_DIR"
FRESH_DIR=$(cd "$FRESH_DIR" && pwd -P)
[ "$FRESH_DIR" != / ] || die "FRESH_DIR cannot be /"
case "$FRESH_DIR/" in
  "$REPO"/*) die "FRESH_DIR ($FRESH_DIR) must be outside the repository" ;; esac

ROOT=$FRESH_DIR/root
NEWBASE=$FRESH_DIR/new-base
ARCH=$(dpkg --print-architecture)
CACHE=$FRESH_DIR/cache/$SUITE-$VARIANT-$ARCH.tar.gz
STAMP=$(date +%Y%m%d-%H%M%S)
LOGS=$FRESH_DIR/logs/$STAMP
mkdir -p "$FRESH_DIR/cache" "$LOGS"
ln -sfn "$STAMP" "$FRESH_DIR/logs/latest"

# One run at a time per FRESH_DIR.
exec 9>"$FRESH_DIR/lock"
flock -n 9 || die "another fresh-check is using $FRESH_DIR"

# ---- mounts and clean-up ----------------------------------------------------------------------------
# The mount points under FRESH_DIR, deepest first.
mounts_under() {
  awk -v d="$FRESH_DIR/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
# Stop the processes whose root is inside FRESH_DIR (left over in the chroot or in debootstrap).
stop_chroot_procs() {
  for sig in TERM KILL; do
    pids=""
    for p in /proc/[0-9]*; do
      r=$(readlink "$p/root" 2>/dev/null) || continue
      case "$r/" in "$FRESH_DIR"/*) pids="$pids ${p#/proc/}" ;; esac
    done
    [ -n "$pids" ] || return 0
    [ "$sig" = TERM ] && say "stopping processes still running in the chroot:$pids"
    kill -s "$sig" $pids 2>/dev/null || true
    sleep 2
  done
}
unmount_all() {
  [ -n "$(mounts_under)" ] || return 0
  stop_chroot_procs
  for m in $(mounts_under); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "fresh-check: cannot unmount $m" >&2
  done
  [ -z "$(mounts_under)" ] || { echo "fresh-check: mounts left under $FRESH_DIR:" >&2; mounts_under >&2; return 1; }
}
# rm -rf DIR, but never while anything is mounted under it.
remove_tree() {
  [ -e "$1" ] || return 0
  unmount_all || die "not removing $1: something is still mounted under $FRESH_DIR"
  if awk -v d="$1/" 'index($5 "/", d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
    die "not removing $1: something is still mounted under it"
  fi
  rm -rf --one-file-system "$1"
}
on_exit() {
  rc=$?
  trap - EXIT INT TERM HUP
  unmount_all || rc=1
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
if [ -n "$(mounts_under)" ]; then   # left by a run that was killed with SIGKILL
  say "unmounting what an earlier run left mounted under $FRESH_DIR"
  unmount_all || die "cannot clean up the mounts under $FRESH_DIR"
fi

mount_all() {
  mount -t proc -o nosuid,nodev,noexec proc "$ROOT/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$ROOT/sys"
  mount -t tmpfs -o nosuid,mode=0755,size=64k dev "$ROOT/dev"
  for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $n
    mknod -m 666 "$ROOT/dev/$1" c "$2" "$3"
  done
  ln -s pts/ptmx "$ROOT/dev/ptmx"
  ln -s /proc/self/fd "$ROOT/dev/fd"
  ln -s /proc/self/fd/0 "$ROOT/dev/stdin"
  ln -s /proc/self/fd/1 "$ROOT/dev/stdout"
  ln -s /proc/self/fd/2 "$ROOT/dev/stderr"
  mkdir "$ROOT/dev/pts" "$ROOT/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$ROOT/dev/pts"
  mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$ROOT/dev/shm"
}

# Run a command in the chroot as a root login would: a clean environment, no DISPLAY, no make
# variables from the make that started this script.
# It runs in the background so that this script's traps fire at once on TERM; env restores the
# default INT and QUIT, which sh ignores in background jobs (train_cli.sh tests Ctrl-C).
MAKEARGS=${FRESH_MAKEARGS:-}
KERNELS_ENV=""
if [ "${FRESH_AVX2:-}" = 1 ]; then
  MAKEARGS="$MAKEARGS ARCH=-march=x86-64-v3"
  KERNELS_ENV=DN_KERNELS=avx2
fi
in_root() {
  # shellcheck disable=SC2086
  env --default-signal=INT,QUIT chroot "$ROOT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
    SHELL=/bin/sh TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $KERNELS_ENV \
    "$@" 9>&- &
  wait $!
}

# ---- 1. the base system: cached, seeded or debootstrapped ---------------------------------------------
if [ "${FRESH_NEW_BASE:-}" = 1 ] || [ ! -s "$CACHE" ]; then
  remove_tree "$NEWBASE"
  if [ "${FRESH_NEW_BASE:-}" != 1 ] && [ -n "${FRESH_SEED:-}" ]; then
    [ -f "$FRESH_SEED/etc/debian_version" ] && [ -x "$FRESH_SEED/usr/bin/apt-get" ] ||
      die "FRESH_SEED=$FRESH_SEED does not look like a debootstrapped Debian"
    case $(cat "$FRESH_SEED/etc/debian_version") in
      12.*) ;; *) die "FRESH_SEED=$FRESH_SEED is not Debian 12" ;; esac
    if awk -v d="$FRESH_SEED/" 'index($5 "/", d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
      die "FRESH_SEED=$FRESH_SEED has mounts under it"
    fi
    say "no cached base yet; making it from FRESH_SEED=$FRESH_SEED"
    src=$FRESH_SEED
    base_how="no debootstrap this run: cache seeded from $FRESH_SEED"
  else
    if ! command -v debootstrap >/dev/null 2>&1; then
      say "installing debootstrap"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } \
        >"$LOGS/apt-debootstrap.log" 2>&1 || die "cannot install debootstrap; see $LOGS/apt-debootstrap.log"
    fi
    say "debootstrap --variant=$VARIANT $SUITE from $MIRROR (a few minutes; log $LOGS/debootstrap.log)"
    t0=$(date +%s)
    debootstrap --variant="$VARIANT" --arch="$ARCH" "$SUITE" "$NEWBASE" "$MIRROR" \
      >"$LOGS/debootstrap.log" 2>&1 </dev/null ||
      { tail -5 "$LOGS/debootstrap.log" >&2; die "debootstrap failed; see $LOGS/debootstrap.log"; }
    base_how="debootstrap $(dur $(($(date +%s) - t0)))"
    unmount_all   # debootstrap's own mounts, should it leave any
    src=$NEWBASE
  fi
  # The downloaded .deb files are not part of an installed system; leave them out.
  t0=$(date +%s)
  tar -C "$src" --numeric-owner --one-file-system --exclude='./var/cache/apt/archives/*.deb' \
    -czpf "$CACHE.tmp" . || die "cannot write $CACHE.tmp"
  mv "$CACHE.tmp" "$CACHE"
  remove_tree "$NEWBASE"
  base_how="$base_how; cached in $(dur $(($(date +%s) - t0))) as $CACHE"
else
  base_how="cache used, no debootstrap: $CACHE ($(date -r "$CACHE" '+made %Y-%m-%d %H:%M'))"
fi
say "base system: $base_how"

# ---- 2. a fresh root from the cache --------------------------------------------------------------------
t0=$(date +%s)
remove_tree "$ROOT"
mkdir "$ROOT"
tar -C "$ROOT" --numeric-owner -xzpf "$CACHE" || die "cannot unpack $CACHE into $ROOT"
[ -x "$ROOT/usr/bin/apt-get" ] || die "$CACHE holds no Debian system"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The sources a Debian 12 installation has: the release, its updates and security.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $MIRROR-security $SUITE-security main
EOF
# A chroot must not start daemons on the host.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
debver=$(cat "$ROOT/etc/debian_version")
pretty=$(sed -n 's/^PRETTY_NAME="*\([^"]*\)"*$/\1/p' "$ROOT/etc/os-release")
say "Debian in the chroot: $debver ($pretty), $ARCH, variant $VARIANT"
case "$debver" in 12.*) ;; *) die "the chroot is Debian $debver, not 12" ;; esac

# ---- 3. the clean clone -------------------------------------------------------------------------------
git() { command git -c safe.directory="$REPO" "$@"; }
sha=$(git -C "$REPO" rev-parse HEAD)
subject=$(git -C "$REPO" log -1 --format=%s HEAD | cut -c1-90)
dirty=$(git -C "$REPO" status --porcelain | wc -l)
git clone --quiet --no-hardlinks "$REPO" "$ROOT/root/diffuse"
git -C "$ROOT/root/diffuse" checkout --quiet --detach "$sha"
say "cloned commit $(echo "$sha" | cut -c1-12): $subject"
[ "$dirty" -eq 0 ] || say "($dirty uncommitted or untracked paths in $REPO are not part of the check)"
say "fresh root ready in $(dur $(($(date +%s) - t0))): $ROOT"

# ---- 4. make, then the two commands ------------------------------------------------------------------------
mount_all
t0=$(date +%s)
if in_root /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y make' \
     </dev/null >"$LOGS/make.log" 2>&1; then :; else
  tail -5 "$LOGS/make.log" >&2; die "apt-get install make failed in the chroot; see $LOGS/make.log"
fi
t_make=$(($(date +%s) - t0))
say "apt-get install make: $(dur $t_make) ($(chroot "$ROOT" make --version 9>&- | head -1))"

run_step() {   # run_step NAME LOG: `make NAME` in /root/diffuse; sets step_rc and step_secs
  say "make $1$MAKEARGS${KERNELS_ENV:+ with $KERNELS_ENV} ... (log $2)"
  t0=$(date +%s)
  if in_root /bin/sh -c "cd /root/diffuse && exec make $1 $MAKEARGS" </dev/null >"$2" 2>&1; then
    step_rc=0
  else
    step_rc=$?
  fi
  step_secs=$(($(date +%s) - t0))
}

run_step run "$LOGS/make-run.log"; run_rc=$step_rc; run_secs=$step_secs
slides=$ROOT/root/diffuse/slides/lesson1
nslides=$(find "$slides" -maxdepth 1 -name 'slide_*.png' 2>/dev/null | wc -l)
run_note=""
if [ "$run_rc" -eq 0 ] && [ ! -s "$slides/contact.png" ]; then
  run_rc=1; run_note=" (exit 0, but no $slides/contact.png)"
fi

run_step test "$LOGS/make-test.log"; test_rc=$step_rc; test_secs=$step_secs
[ -d "$ROOT/root/diffuse/build/test-logs" ] && cp -r "$ROOT/root/diffuse/build/test-logs" "$LOGS/test-logs"

unmount_all

status() { if [ "$1" -eq 0 ]; then echo ok; else echo "FAILED (exit $1)"; fi; }
{
  echo
  echo "==== make run: last lines ($LOGS/make-run.log)"
  tail -n 8 "$LOGS/make-run.log"
  echo
  echo "==== make test: last lines ($LOGS/make-test.log)"
  if grep -q '^FAIL ' "$LOGS/make-test.log"; then
    grep '^FAIL ' "$LOGS/make-test.log"; echo "    ..."
  fi
  tail -n 15 "$LOGS/make-test.log"
  echo "---- slowest test programs (seconds):"
  sed -nE 's/^(ok|FAIL) +([^ :]+)[: ].*\(([0-9]+)s[,)].*/\3 \2/p' "$LOGS/make-test.log" |
    sort -rn | head -n 5 | sed 's/^/    /'
  echo
  echo "==== fresh-check summary"
  echo "  commit:        $sha"
  echo "  Debian:        $debver ($pretty), debootstrap variant $VARIANT"
  echo "  base system:   $base_how"
  echo "  install make:  $(dur $t_make)"
  echo "  make run:      $(dur $run_secs)  $(status $run_rc)$run_note, $nslides slide PNGs in slides/lesson1/"
  echo "  make test:     $(dur $test_secs)  $(status $test_rc)"
  echo "  logs:          $LOGS"
  echo "  chroot:        $ROOT (kept until the next run)"
} | tee "$LOGS/summary.txt"

[ "$run_rc" -eq 0 ] && [ "$test_rc" -eq 0 ]
