#!/usr/bin/env bash
# The example registrar client, deploy/examples/registrar.py, against the
# devstack's real PostgreSQL, knotd (primary + secondary), Pebble and Prosody:
#   1. plain ipc (the stack's endpoints): enable example.test -> exit 0 once
#      active, each state change on a line; regzonectl agrees;
#   2. status prints the state object; disable -> exit 0 once dns removed;
#   3. the request id: "unavailable" (a lock held on the events table, a
#      1.5 s statement_timeout) -> the same id sent again, stored once; the id
#      sent once more gets the first reply and changes nothing;
#   4. refusals: a malformed domain -> exit 1 with invalid_domain, an unknown
#      profile -> exit 1 with unknown_profile, usage errors -> exit 2;
#   5. CURVE over tcp: a listed client key -> active; an unlisted key ->
#      exit 1 "unauthorized" at once, nothing stored; no key -> exit 1 at the
#      timeout; no secret key in any output.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/registrar_example.sh
#
# Ports: B+0..B+19 the devstack, B+30/B+31 a regzoned with CURVE on tcp.
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-19800}
export REGZONE_PORT_BASE=$base
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzregistrar.XXXXXX)
dir=$tmp/stack
pids=() lockers=()
cleanup() {
  local p
  for p in "${lockers[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  [ -n "${RZ_KEEP:-}" ] && return; rm -rf "$tmp"
}
trap cleanup EXIT

reg() { "$src/deploy/examples/registrar.py" "$@"; }
ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1" 2>/dev/null; }
# run NAME CMD...: CMD's stdout and stderr in $tmp/NAME.out, its status in
# $rc, its run time in $secs.  Every output is kept for the secret-key check.
run() {
  local name=$1 t0=$SECONDS; shift
  "$@" >"$tmp/$name.out" 2>&1; rc=$?
  secs=$((SECONDS - t0))
  out=$(cat "$tmp/$name.out")
}
# state_lines FILE: the state lines registrar.py printed.
state_lines() { grep -E '^[^ ]+ [^ ]+ xmpp: desired=' "$1"; }
# json_is FILE PYEXPR: the JSON object in FILE (as s) makes PYEXPR true.
json_is() { /usr/bin/python3 -c "import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>/dev/null; }

if ! "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up: $(tail -5 "$tmp/up.log")"
  summary; exit 1
fi
ok "devstack up on port base $base"
# shellcheck disable=SC1091
. "$dir/env"
profile=$REGZONE_XMPP_PROFILE
# A short statement_timeout, so that a held lock (step 3) makes 'unavailable'.
sed -i 's/^  conninfo: \(.*\)$/  conninfo: \1\n  statement_timeout_ms: 1500/' "$REGZONE_CONFIG"
out=$(ctl migrate 2>&1); rc=$?
check "regzonectl migrate (exit $rc)" test "$rc" = 0
if start_answering "$REGZONE_CONFIG" "$dir/regzoned.log" "$REGZONE_REQUESTS"; then
  ok "regzoned answers on $REGZONE_REQUESTS"
else
  bad "regzoned answers: $(tail -5 "$dir/regzoned.log")"; summary; exit 1
fi
main_pid=$daemon_pid

# ------------------------------------------------------------ 1. enable (ipc)
note "1. enable example.test on the stack's ipc endpoints"
run enable1 reg --profile "$profile" --timeout 90 enable example.test
check "registrar.py enable example.test exits 0 (exit $rc in $secs s: $out)" test "$rc" = 0
check "... its first state is the reply's: desired enabled, dns pending" \
  eval 'state_lines "$tmp/enable1.out" | head -n1 | grep -q "desired=enabled dns=pending certificate=none active=false"'
check "... then dns published, the certificate issued, active" \
  eval 'state_lines "$tmp/enable1.out" | grep -q " dns=published " &&
        state_lines "$tmp/enable1.out" | tail -n1 | grep -q "dns=published certificate=issued active=true" &&
        tail -n1 "$tmp/enable1.out" | grep -qx "example.test: active"'
check "... one line per change ($(state_lines "$tmp/enable1.out" | wc -l) lines, none repeated)" \
  test -z "$(state_lines "$tmp/enable1.out" | cut -d' ' -f2- | uniq -d)"
ctl status example.test --json >"$tmp/ctl1.json" 2>&1
check "regzonectl status --json agrees: active, certificate issued ($(cat "$tmp/ctl1.json"))" \
  json_is "$tmp/ctl1.json" 's["active"] is True and s["certificate"]["state"] == "issued"'

# ------------------------------------------------------- 2. status, disable
note "2. status and disable"
run status1 reg status example.test
check "registrar.py status exits 0 and prints the state object ($out)" \
  eval 'test "$rc" = 0 && json_is "$tmp/status1.out" "s[\"domain\"] == \"example.test\" and s[\"service\"] == \"xmpp\" and s[\"active\"] is True"'
run disable1 reg --timeout 60 disable example.test
check "registrar.py disable exits 0 once dns removed (exit $rc in $secs s: $out)" \
  eval 'test "$rc" = 0 && state_lines "$tmp/disable1.out" | tail -n1 | grep -q "desired=disabled dns=removed" &&
        tail -n1 "$tmp/disable1.out" | grep -qx "example.test: removed"'
ctl status example.test --json >"$tmp/ctl2.json" 2>&1
check "regzonectl agrees: desired disabled, dns removed ($(cat "$tmp/ctl2.json"))" \
  json_is "$tmp/ctl2.json" 's["desired"] == "disabled" and s["dns"] == "removed" and s["active"] is False'

# ------------------------------------------------------------ 3. the request id
note "3. 'unavailable' and the same id again"
PGAPPNAME=rzreg-lock psql "$REGZONE_PG" -X -q -c "BEGIN" -c "LOCK TABLE events IN EXCLUSIVE MODE" \
  -c "SELECT pg_sleep(4)" >/dev/null 2>&1 &
lockers+=($!)
deadline=$((SECONDS + 10))
until [ "$(sql "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'rzreg-lock' and l.relation = 'events'::regclass and l.granted")" = 1 ] ||
      ((SECONDS >= deadline)); do sleep 0.1; done
run retry1 reg --id reg-retry-1 --profile "$profile" --timeout 60 enable retry.example.test
check "with the events table locked: 'unavailable', the same id sent again, then stored (exit $rc in $secs s: $out)" \
  eval 'test "$rc" = 0 && grep -q "unavailable: .*(sending reg-retry-1 again in" <<<"$out" &&
        grep -qx "request reg-retry-1 stored" <<<"$out" && grep -qx "retry.example.test: active" <<<"$out"'
check "... the event is stored once ($(sql "select count(*) from events where id = 'reg-retry-1'"))" \
  test "$(sql "select count(*) from events where id = 'reg-retry-1'")" = 1
n_events=$(sql "select count(*) from events")
run retry2 reg --id reg-retry-1 --profile "$profile" --timeout 30 enable retry.example.test
check "the same id sent once more: exit 0, answered with the first reply (same first state line)" \
  eval 'test "$rc" = 0 && test -n "$(state_lines "$tmp/retry1.out" | head -n1)" &&
        test "$(state_lines "$tmp/retry1.out" | head -n1)" = "$(state_lines "$tmp/retry2.out" | head -n1)"'
check "... and nothing changed (events $n_events -> $(sql "select count(*) from events"))" \
  test "$(sql "select count(*) from events")" = "$n_events"

# ------------------------------------------------------------------ 4. refusals
note "4. refusals and usage errors"
run bad1 reg --timeout 10 enable 'bad domain'
check "a malformed domain: exit 1 with invalid_domain ($rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "refused: invalid_domain: " <<<"$out"'
run bad2 reg --profile no-such-profile --timeout 10 enable example.org.test
check "an unknown profile: exit 1 with unknown_profile ($rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "refused: unknown_profile: " <<<"$out"'
check "... nothing stored for either" \
  test "$(sql "select count(*) from services where domain in ('bad domain', 'example.org.test')")" = 0
run usage1 reg frobnicate example.test; rc1=$rc
run usage2 reg --client-keys "$tmp" status example.test; rc2=$rc
run usage3 reg --param novalue enable example.test; rc3=$rc
check "usage errors exit 2: an unknown action ($rc1), keys without the server's ($rc2), --param without = ($rc3)" \
  test "$rc1$rc2$rc3" = 222

# ------------------------------------------------------------------- 5. CURVE
note "5. CURVE over tcp"
stop_pid "$main_pid"
for k in srv cli other; do "$bin/regzonectl" keygen "$tmp/$k" >/dev/null || bad "regzonectl keygen $k"; done
srv_pub=$(head -c 40 "$tmp/srv/curve.pub")
cli_pub=$(head -c 40 "$tmp/cli/curve.pub")
req_ep="tcp://127.0.0.1:$((base + 30))" feed_ep="tcp://127.0.0.1:$((base + 31))"
# The stack's config on tcp endpoints, with CURVE: the server's key pair and
# the one client key allowed.
awk -v sk="$tmp/srv/curve.key" -v pk="$tmp/srv/curve.pub" -v cli="$cli_pub" -v rq="$req_ep" -v fd="$feed_ep" '
  /^  requests:/ { print "  requests: \"" rq "\""; next }
  /^  feed:/ { print "  feed: \"" fd "\""; print "  curve:"
               print "    secret_key_file: \"" sk "\""
               print "    public_key_file: \"" pk "\""; print "    clients:"
               print "      - \"" cli "\""; next }
  { print }' "$REGZONE_CONFIG" >"$dir/curve.yaml"
if start_answering "$dir/curve.yaml" "$dir/regzoned-curve.log" "$req_ep" -k "$tmp/cli" -s "$srv_pub"; then
  ok "a regzoned with CURVE answers on $req_ep"
  run curve1 reg --requests "$req_ep" --feed "$feed_ep" --client-keys "$tmp/cli" \
    --server-key-file "$tmp/srv/curve.pub" --profile "$profile" --timeout 90 enable example.org.test
  check "a listed client key: enable example.org.test exits 0, active (exit $rc in $secs s: $out)" \
    eval 'test "$rc" = 0 && tail -n1 "$tmp/curve1.out" | grep -qx "example.org.test: active" &&
          state_lines "$tmp/curve1.out" | grep -q " dns=published certificate=ordering "'
  check "... PostgreSQL agrees ($(sql "select dns || ' ' || cert_state || ' ' || active from services where domain = 'example.org.test'"))" \
    test "$(sql "select dns || ' ' || cert_state || ' ' || active from services where domain = 'example.org.test'")" = "published issued true"
  run curve2 reg --requests "$req_ep" --feed "$feed_ep" --client-keys "$tmp/cli" \
    --server-key "$srv_pub" status example.org.test
  check "... status with the key given inline (--server-key) ($rc)" \
    eval 'test "$rc" = 0 && json_is "$tmp/curve2.out" "s[\"active\"] is True"'
  run curve3 reg --requests "$req_ep" --feed "$feed_ep" --client-keys "$tmp/other" \
    --server-key-file "$tmp/srv/curve.pub" --profile "$profile" --timeout 20 enable curve.example.org.test
  check "an unlisted client key: exit 1, unauthorized, well within the timeout (exit $rc in $secs s: $out)" \
    eval 'test "$rc" = 1 && test "$secs" -lt 10 && grep -q "unauthorized: .*refused this client.s CURVE key" <<<"$out"'
  run curve4 reg --requests "$req_ep" --feed "$feed_ep" --timeout 3 enable curve.example.org.test
  check "no client key: exit 1 at the timeout, not a hang (exit $rc in $secs s: $out)" \
    eval 'test "$rc" = 1 && test "$secs" -le 6 && grep -q "no reply from regzoned at $req_ep within 3 s" <<<"$out"'
  check "... nothing stored for them" \
    test "$(sql "select count(*) from services where domain = 'curve.example.org.test'")" = 0
  stop_pid "$daemon_pid"
else
  bad "a regzoned with CURVE answers: $(tail -5 "$dir/regzoned-curve.log")"
fi
check "no output of registrar.py holds a secret key" \
  eval '! cat "$tmp"/*.out | grep -qF -e "$(head -c 40 "$tmp/cli/curve.key")" -e "$(head -c 40 "$tmp/other/curve.key")" -e "$(head -c 40 "$tmp/srv/curve.key")"'

note "run time $SECONDS s"
summary
[ "$fails" -eq 0 ]
