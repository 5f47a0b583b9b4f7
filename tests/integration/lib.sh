# Shared by the integration scripts (sourced): counters and TAP-like lines.
#   ok MSG / bad MSG     one check passed / failed ("ok N - MSG", "FAIL N - MSG")
#   check MSG CMD...     ok or bad by CMD's exit status
#   note MSG             a comment line ("# MSG")
#   summary              "P passed, F failed"
#   without_metrics FILE  FILE (a regzone.yaml) without its metrics section:
#                        a second regzoned on the stack's config must not
#                        bind the first one's metrics port
#   public_copy DIR FILE...  copies of FILEs in DIR (made 0755), for
#                        running them as another user: the checkout may be
#                        private (a clone in a mktemp -d directory is 0700)
#   stop_pid PID [SIG]   signal PID (TERM), wait up to 10 s, then KILL
#   start_answering CONFIG LOG [ENDPOINT [ZSEND_OPTS...]]  regzoned on
#                        CONFIG in the background ($daemon_pid, added to
#                        $pids), true once it answers a status on ENDPOINT
#                        ($REGZONE_REQUESTS by default) within 50 tries
#   until_ok SECONDS CMD...  CMD succeeds within SECONDS (tried every 0.1 s)
#   jstr KEY             the first string value of KEY in the JSON on stdin
#   status_json ID DOMAIN / enable_json ID DOMAIN  an xmpp request
#   stack_cleanup        the EXIT trap of a script with one stack in
#                        $dir under $tmp and one regzoned ($daemon_pid):
#                        the daemon stopped, the stack down, $tmp removed
# Messages are put on one line (newlines as " | ") and cut at 700 bytes.
fails=0 n=0 t0=$SECONDS
oneline() { local m="$*"; m=${m//$'\n'/ | }; printf '%s' "${m:0:700}"; }
ok()   { n=$((n + 1)); echo "ok $n - $(oneline "$@")"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL $n - $(oneline "$@")"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
note() { echo "# $*"; }
summary() { echo "$((n - fails)) passed, $fails failed"; }
stop_pid() {
  local p=$1 sig=${2:-TERM} i
  [ -n "$p" ] || return 0
  kill -0 "$p" 2>/dev/null || return 0
  kill "-$sig" "$p" 2>/dev/null
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
until_ok() {
  local n=$(($1 * 10)) i; shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
jstr() { grep -o "\"$1\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }
status_json() { printf '{"id":"%s","action":"status","service":"xmpp","domain":"%s"}' "$1" "$2"; }
enable_json() { printf '{"id":"%s","action":"enable","service":"xmpp","domain":"%s"}' "$1" "$2"; }
start_answering() {
  local cfg=$1 log=$2 ep=${3:-$REGZONE_REQUESTS} i
  shift $(($# < 3 ? $# : 3))
  "$bin/regzoned" -c "$cfg" >>"$log" 2>&1 &
  daemon_pid=$!
  pids+=("$daemon_pid")
  for ((i = 0; i < 50; i++)); do
    kill -0 "$daemon_pid" 2>/dev/null || return 1
    "$bin/zsend" -t 200 "$@" "$ep" "$(status_json ping example.test)" >/dev/null 2>&1 && return 0
  done
  return 1
}
stack_cleanup() {
  if [ -n "${daemon_pid:-}" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
  fi
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
without_metrics() { sed -i '/^metrics:$/,/^  listen:/d' "$1"; }
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
