# tap.sh — what the shell tests share (sourced after they set BIN and T): TAP lines "ok N name" /
# "not ok N name", a check that runs a test command, a run of diffuse that must end with a given
# exit status (stdout and stderr kept in $T/out and $T/err), and a PNG signature test.
n=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# check NAME COMMAND...: the command (a test) decides
check() { name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
# run EXPECTED_EXIT ARGS...: run diffuse; true if it exits with the expected status
run() {
  want=$1; shift
  "$BIN" "$@" > "$T/out" 2> "$T/err"
  got=$?
  [ "$got" -eq "$want" ] || { echo "# diffuse $*: exit $got, wanted $want; stderr:"; sed 's/^/#   /' "$T/err"; return 1; }
}
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
