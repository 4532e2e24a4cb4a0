# xvfb.sh — a private virtual X display for the window tests (sourced): start_xvfb WxH LOG starts
# Xvfb on a display number it picks itself (-displayfd: no race between tests run side by side),
# exports DISPLAY, sets XPID (for the caller's cleanup) and D, and returns once the server
# answers; 1 if it did not start.
start_xvfb() {
  xvfb_fd_file=$(mktemp /tmp/diffuse-xvfb-XXXXXX)
  Xvfb -displayfd 3 -screen 0 "${1}x24" -nolisten tcp 3>"$xvfb_fd_file" > "$2" 2>&1 &
  XPID=$!
  i=0
  while [ ! -s "$xvfb_fd_file" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  D=$(tr -dc 0-9 < "$xvfb_fd_file")
  rm -f "$xvfb_fd_file"
  [ -n "$D" ] || return 1
  export DISPLAY=":$D"
  i=0
  while [ ! -e "/tmp/.X11-unix/X$D" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  return 0
}
