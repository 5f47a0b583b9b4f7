# Shared by the integration scripts (sourced): counters and TAP-like lines.
#   ok MSG / bad MSG     one check passed / failed ("ok N - MSG", "FAIL N - MSG")
#   check MSG CMD...     ok or bad by CMD's exit status
#   note MSG             a comment line ("# MSG")
#   summary              "P passed, F failed"
#   public_copy DIR FILE...  copies of FILEs in DIR (made 0755), for
#                        running them as another user: the checkout may be
#                        private (a clone in a mktemp -d directory is 0700)
# Messages are put on one line (newlines as " | ") and cut at 700 bytes.
fails=0 n=0 t0=$SECONDS
oneline() { local m="$*"; m=${m//$'\n'/ | }; printf '%s' "${m:0:700}"; }
ok()   { n=$((n + 1)); echo "ok $n - $(oneline "$@")"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL $n - $(oneline "$@")"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
note() { echo "# $*"; }
summary() { echo "$((n - fails)) passed, $fails failed"; }
public_copy() {
  local d=$1 up; shift
  mkdir -p "$d" && chmod 0755 "$d" && cp "$@" "$d/" && chmod 0755 "${@/#*\//$d/}" || return 1
  # the search bit on its ancestors, as deploy/devstack gives its own
  up=$d
  while up=$(dirname "$up") && [[ "$up" != / ]]; do
    runuser -u nobody -- test -x "$up" 2>/dev/null || chmod o+x "$up"
  done
}
# ipc_connected PID PATH: the process PID holds a connection to the Unix
# socket bound at PATH (ss pairs the server's accepted sockets, whose local
# address is PATH, with their peers' inodes).
ipc_connected() {
  ss -Hxpn 2>/dev/null | awk -v path="$2" -v pid="pid=$1," '
    { rows[NR] = $0; loc[NR] = $5; ino[NR] = $6; peer[NR] = $8 }
    $5 == path { want[$8] = 1 }
    END { for (i = 1; i <= NR; i++) if ((ino[i] in want) && index(rows[i], pid)) found = 1
          exit !found }'
}
