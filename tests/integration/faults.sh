#!/usr/bin/env bash
# Faults, against the real servers of a devstack (PostgreSQL, two knotd):
#   1. regzoned killed (-9): (a) right after acknowledging a burst of
#      enables, (c) after its Knot commit but before the ledger update,
#      (b) while it holds a Knot zone transaction open; after a restart
#      everything ends published, once, with a clean ledger.  (b) and (c)
#      hold the workers at that point with a table lock in PostgreSQL;
#   2. PostgreSQL stopped under load: 'unavailable', never a false 'ok';
#   3. the primary knotd stopped: backoff, then published once it is back;
#   4. two daemons on one database: 200 enables, each record added once;
#      then one killed (-9) holding claims: the other finishes its jobs.
# ctest runs it with RZ_SRCDIR, RZ_BINDIR and REGZONE_PORT_BASE; it uses the
# ports BASE..BASE+19 (the devstack's; the daemons listen on ipc sockets).
# Stacks come and go under one mktemp directory.
set -uo pipefail
# The DNS spine alone: its checks count every ledger row, audit line and job;
# certificates (the cert job) are tested by certs.sh.
export REGZONE_CERT_AUTO=false
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
BASE=${REGZONE_PORT_BASE:-20500}
export REGZONECTL=$bin/regzonectl
unset REGZONE_DEMO_ZONES
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d)
STACKS=() DAEMONS=() LOCKERS=() SENDER=""

alive() {   # a running process, not a zombie
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != Z ]]
}
not_alive() { ! alive "$1"; }
# Still a child of this script (a pid reaped earlier may have been reused).
ours() { [[ "$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" == "$$" ]]; }

cleanup() {
  local p d i
  if [[ -n "$SENDER" ]] && alive "$SENDER" && ours "$SENDER"; then
    touch "$tmp/bg.stop"   # it ends after its current burst (zsend -t 8000)
    for ((i = 0; i < 100; i++)); do alive "$SENDER" || break; sleep 0.1; done
  fi
  for p in "${DAEMONS[@]}" $SENDER "${LOCKERS[@]}"; do
    if alive "$p" && ours "$p"; then kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  for d in "${STACKS[@]}"; do "$src/deploy/devstack" down "$d" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_until SECONDS CONDITION...: poll (every 0.1 s) until the shell
# condition (eval'ed anew each time: quote what must be re-evaluated) holds.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  while :; do
    eval "$*" && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# ------------------------------------------------------------- the stack

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
AS_PG=()
if ((EUID == 0)); then AS_PG=(runuser -u postgres --); fi

S=""   # the current stack's directory
stack_up() {   # stack_up DIR DEMO_ZONES
  S=$1
  STACKS+=("$S")
  if ! REGZONE_DEVSTACK_DEFAULT_PROFILE=xmpp REGZONE_PORT_BASE=$BASE REGZONE_DEMO_ZONES=$2 "$src/deploy/devstack" up "$S" \
       >"$S.up.log" 2>&1; then
    sed 's/^/#   /' "$S.up.log" | tail -n 15
    return 1
  fi
  # shellcheck disable=SC1091
  . "$S/env"
}

q() { psql "$REGZONE_PG" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }
pg_list() { local IFS=,; printf "'{%s}'::text[]" "$*"; }

# PostgreSQL and knotd stopped and started by hand as deploy/devstack does,
# with DIR/pids kept up to date so that "devstack down" still stops them.
pg_stop() {
  (cd "$S/pg" && "${AS_PG[@]}" "$PGBIN/pg_ctl" stop -D "$S/pg/data" -m fast -w -t 30 -s) \
    >/dev/null 2>&1
}
pg_start() {
  local pid
  (cd "$S/pg" && setsid -w "${AS_PG[@]}" "$PGBIN/pg_ctl" start -D "$S/pg/data" \
     -l "$S/pg/postgres.log" -w -t 30 -s </dev/null >/dev/null 2>>"$S/pg_ctl.log") || return 1
  pid=$(head -n1 "$S/pg/data/postmaster.pid" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  echo "$pid" >"$S/pids/postgres.pid"
}
knot1_stop() {
  local pid
  pid=$(head -n1 "$S/pids/knot1.pid") || return 1
  knotc -s "$S/knot1/knot.sock" -t 2 stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
  wait_until 15 not_alive "$pid"
}
knot1_start() {
  local pid
  rm -f "$S/knot1/knot.sock"
  setsid knotd -c "$S/knot1/knot.conf" </dev/null >>"$S/knot1/knotd.out" 2>&1 &
  pid=$!
  echo "$pid" >"$S/pids/knot1.pid"
  wait_until 15 knotc -s "$S/knot1/knot.sock" -t 1 status >/dev/null 2>&1
}
soa_served() {   # soa_served PORT ZONE
  [[ -n "$(kdig @127.0.0.1 -p "$1" +notcp +timeout=1 +retry=0 +short "$2" SOA 2>/dev/null)" ]]
}
open_txns() {    # open_txns ZONE...: how many of the zones have a Knot transaction open
  knotc -s "$S/knot1/knot.sock" -t 2 zone-status "$@" 2>/dev/null | grep -c 'transaction: open'
}

# ------------------------------------------------------------ the daemon

DPID=""
ping_daemon() {
  "$bin/zsend" -t 300 "$1" \
    '{"id":"ping","action":"status","service":"xmpp","domain":"example.test"}' >/dev/null 2>&1
}
daemon_start() {   # daemon_start CONFIG LOG ENDPOINT: DPID, once it answers
  "$bin/regzoned" -c "$1" >>"$2" 2>&1 &
  DPID=$!
  DAEMONS+=("$DPID")
  local i
  for ((i = 0; i < 50; i++)); do
    alive "$DPID" || return 1
    ping_daemon "$3" && return 0
  done
  return 1
}
kill9() { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# term_wait PID SECONDS: SIGTERM, then reap.  reap PID SECONDS: 0 when the
# process (a child) exited 0 within SECONDS.
term_wait() { kill -TERM "$1" 2>/dev/null || return 1; reap "$@"; }
reap() {
  local rc
  if ! wait_until "$2" not_alive "$1"; then
    note "pid $1 still running $2 s after SIGTERM"
    return 1
  fi
  wait "$1"; rc=$?
  [[ $rc -eq 0 ]] || note "pid $1 exited $rc"
  [[ $rc -eq 0 ]]
}
logtail() { tail -n "${2:-8}" "$1" 2>/dev/null | sed 's/^/#   /'; }

# burst FILE PREFIX FIRST LAST [SUB]: enables of [SUB.]zFIRST.test ..
# [SUB.]zLAST.test, ids PREFIX-N
burst() {
  local f=$1 p=$2 i
  : >"$f"
  for ((i = $3; i <= $4; i++)); do
    printf '{"id":"%s-%d","action":"enable","service":"xmpp","domain":"%sz%05d.test"}\n' \
      "$p" "$i" "${5:+$5.}" "$i" >>"$f"
  done
}
zones() { local i; for ((i = $1; i <= $2; i++)); do printf '%sz%05d.test\n' "${3:+$3.}" "$i"; done; }

# A session of its own holding LOCK TABLE (NAME = its application_name).
lock_table() {   # lock_table NAME TABLE MODE
  PGAPPNAME=$1 psql "$REGZONE_PG" -X -q -c "BEGIN" -c "LOCK TABLE $2 IN $3 MODE" \
    -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
  LOCKERS+=($!)
  wait_until 10 '[ "$(q "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = '"'$1'"' and l.relation = '"'$2'"'::regclass and l.granted")" = 1 ]'
}
unlock_table() {   # unlock_table NAME
  q "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '$1'" >/dev/null
  wait_until 10 '[ "$(q "select count(*) from pg_stat_activity where application_name = '"'$1'"'")" = 0 ]'
}
# waiting LIKE: how many backends wait for a lock in a statement LIKE this.
waiting() { q "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '$1'"; }
n_ok() { jq -r 'select(.ok == true) | .id' "$@" 2>/dev/null | grep -c .; }

# -------------------------------------------------------------- checkers

TEMPLATE=$tmp/template   # the profile's records, owner prefix before "@@"
make_template() {
  "$bin/regzonectl" -c "$REGZONE_CONFIG" preview example.test 2>/dev/null |
    grep -v '^;' | sed 's/^\(.*\)example\.test\. /\1@@ /' >"$TEMPLATE"
  [[ $(grep -c '@@ ' "$TEMPLATE") -eq 6 ]]
}

# served PORT DOMAIN...: every record of the profile answered exactly once
# (as generated) by the server at PORT, nothing else at those names.
served() {
  local port=$1 d pre ttl cls typ data i diffs; shift
  local -a qs=()
  : >"$tmp/exp"; : >"$tmp/got"
  for d in "$@"; do
    while read -r pre ttl cls typ data; do
      printf '%s %s %s %s %s\n' "${pre/@@/$d.}" "$ttl" "$cls" "$typ" "$data" >>"$tmp/exp"
      qs+=("${pre/@@/$d.}" "$typ")
    done <"$TEMPLATE"
  done
  for ((i = 0; i < ${#qs[@]}; i += 400)); do
    kdig @127.0.0.1 -p "$port" +notcp +timeout=2 +retry=2 +noall +answer "${qs[@]:i:400}" \
      2>/dev/null | awk 'NF >= 5 { $1 = $1; print }' >>"$tmp/got"
  done
  diffs=$(diff <(sort "$tmp/exp") <(sort "$tmp/got") | grep '^[<>]')
  [[ -z "$diffs" ]] && return 0
  note "$(grep -c . <<<"$diffs") lines differ (< expected, > served), first ones:"
  head -n 5 <<<"$diffs" | sed 's/^/#   /'
  return 1
}

n_published() { q "select count(*) from services where dns = 'published' and domain = any($1)"; }
# wait_published SECONDS DOMAIN...: every one of them dns=published.
wait_published() {
  local secs=$1 list; shift
  list=$(pg_list "$@")
  # shellcheck disable=SC2034 # used by the condition wait_until evals
  local want=$#
  if wait_until "$secs" '[ "$(n_published "$list")" = "$want" ]'; then
    return 0
  fi
  note "dns states: $(q "select string_agg(dns || '=' || c, ' ') from (select dns, count(*) c from services where domain = any($list) group by dns) x")"
  note "some errors: $(q "select string_agg(domain || ': ' || last_error, ' | ') from (select domain, last_error from services where domain = any($list) and last_error is not null limit 3) x")"
  return 1
}
# ledger_ok DOMAIN...: exactly 6 live rows and no pending one per domain.
ledger_ok() {
  local list bad_rows; list=$(pg_list "$@")
  [[ "$(q "select count(*) from services where domain = any($list)")" == "$#" ]] || return 1
  bad_rows=$(q "select s.domain || ' live=' || count(pr.id) filter (where pr.state = 'live') || ' pending=' || count(pr.id) filter (where pr.state = 'pending') from services s left join published_records pr on pr.domain = s.domain and pr.service = s.service and pr.removed_at is null where s.domain = any($list) group by s.domain having count(pr.id) filter (where pr.state = 'live') <> 6 or count(pr.id) filter (where pr.state = 'pending') <> 0 limit 5")
  [[ -z "$bad_rows" ]] && return 0
  note "ledger: $(tr '\n' ' ' <<<"$bad_rows")"
  return 1
}
claimed() { q "select count(*) from jobs where claimed_pid is not null and domain = any($(pg_list "$@"))"; }
added() { q "select count(*) from audit where kind = 'record_added' and domain = any($(pg_list "$@"))"; }
stored() { q "select count(*) from events where id = any($(pg_list "$@"))"; }

# ====================================================== stack 1: 70 zones
if ! stack_up "$tmp/s1" 70; then
  bad "devstack up (70 demo zones) on port base $BASE"
  echo "$((n - fails)) passed, $fails failed"
  exit 1
fi
ok "devstack up (70 demo zones) on port base $BASE"
check "the profile's 6 records, from regzonectl preview" make_template
CFG=$REGZONE_CONFIG EP=$REGZONE_REQUESTS LOG=$S/regzoned.log

# ---------------------------------------------------- 1a. kill -9 after ack
note "1a. kill -9 right after 50 enables are acknowledged"
mapfile -t D1 < <(zones 1 50)
burst "$tmp/b1" crash 1 50
if daemon_start "$CFG" "$LOG" "$EP"; then ok "regzoned started"; else bad "regzoned started"; logtail "$LOG"; fi
"$bin/zsend" -t 20000 -m "$tmp/b1" "$EP" >"$tmp/r1" 2>/dev/null
kill9 "$DPID"
check "all 50 enables acknowledged ok before the kill ($(n_ok "$tmp/r1")/50)" test "$(n_ok "$tmp/r1")" -eq 50
pub=$(q "select count(*) from services where dns = 'published' and domain = any($(pg_list "${D1[@]}"))")
check "killed before every domain was published (published at the kill: ${pub:-?}/50)" \
  test -n "$pub" -a "${pub:-50}" -lt 50
note "at the kill: $(q "select count(*) from published_records where state = 'pending'") pending ledger rows, $(claimed "${D1[@]}") jobs claimed, $(open_txns "${D1[@]}") Knot transactions open"
mapfile -t ids1 < <(jq -r 'select(.ok == true) | .id' "$tmp/r1" 2>/dev/null)
nst=$( ((${#ids1[@]})) && stored "${ids1[@]}")
check "every acknowledged event is stored (${nst:-0}/50)" test "${nst:-0}" = 50
if daemon_start "$CFG" "$LOG" "$EP"; then ok "regzoned restarted"; else bad "regzoned restarted"; logtail "$LOG"; fi
if wait_published 45 "${D1[@]}"; then ok "after the restart all 50 are published"
else bad "after the restart all 50 are published"; logtail "$LOG"; fi
check "primary serves each record exactly once" served "$REGZONE_DNS_PORT" "${D1[@]}"
check "secondary serves each record exactly once" served "$REGZONE_DNS2_PORT" "${D1[@]}"
check "ledger: 6 live rows per domain, none pending" ledger_ok "${D1[@]}"
check "audit: each record added once ($(added "${D1[@]}")/300 record_added)" test "$(added "${D1[@]}")" = 300
check "no job left claimed" test "$(claimed "${D1[@]}")" = 0

# ------------------- 1c. kill -9 after the Knot commit, before the ledger
# The ledger lock holds a worker inside its Knot transaction, then a lock
# on the audit table holds every worker after its Knot commit, in the
# statement that turns pending ledger rows live; the daemon is killed there
# and that statement never runs.
note "1c. kill -9 between the Knot commit and the ledger update"
mapfile -t D3 < <(zones 61 64)
burst "$tmp/b3" aftercommit 61 64
check "the ledger is locked" lock_table rzfaults-ledger published_records EXCLUSIVE
"$bin/zsend" -t 20000 -m "$tmp/b3" "$EP" >"$tmp/r3" 2>/dev/null
check "4 enables acknowledged ok ($(n_ok "$tmp/r3")/4)" test "$(n_ok "$tmp/r3")" -eq 4
check "a worker waits inside its Knot transaction" \
  wait_until 15 '[ "$(waiting "INSERT INTO published_records%")" -ge 1 ]'
check "the audit table is locked" lock_table rzfaults-audit audit EXCLUSIVE
unlock_table rzfaults-ledger
pend3() { q "select count(*) from published_records where state = 'pending' and domain = any($(pg_list "${D3[@]}"))"; }
# (the 4 jobs may be one worker's batch: one statement settles them all)
check "all 4 committed in Knot and wait to settle the ledger" \
  wait_until 20 '[ "$(pend3)" = 24 ] && [ "$(waiting "WITH live AS (UPDATE published_records%")" -ge 1 ]'
kill9 "$DPID"
q "select pg_terminate_backend(pid) from pg_stat_activity where wait_event_type = 'Lock' and query like 'WITH live AS (UPDATE published_records%'" >/dev/null
unlock_table rzfaults-audit
check "at the kill: the records are in the zone (primary), the ledger rows still pending ($(pend3)/24)" \
  eval 'served "$REGZONE_DNS_PORT" "${D3[@]}" && [ "$(pend3)" = 24 ]'
if daemon_start "$CFG" "$LOG" "$EP"; then ok "regzoned restarted"; else bad "regzoned restarted"; logtail "$LOG"; fi
if wait_published 30 "${D3[@]}"; then ok "after the restart all 4 are published"
else bad "after the restart all 4 are published"; logtail "$LOG" 4; fi
check "primary serves each record exactly once" served "$REGZONE_DNS_PORT" "${D3[@]}"
check "secondary serves each record exactly once" served "$REGZONE_DNS2_PORT" "${D3[@]}"
check "ledger: 6 live rows per domain, none pending" ledger_ok "${D3[@]}"
check "audit: each record added once ($(added "${D3[@]}")/24 record_added)" test "$(added "${D3[@]}")" = 24
check "no job left claimed" test "$(claimed "${D3[@]}")" = 0
check "no Knot transaction left open in those zones" test "$(open_txns "${D3[@]}")" = 0

# ------------------------------ 1b. kill -9 inside a Knot zone transaction
# A lock on the ledger holds the workers inside their Knot transaction (the
# pending ledger rows are written between zone-begin and zone-commit); the
# daemon is killed there.
note "1b. kill -9 while a Knot zone transaction is open"
mapfile -t D2 < <(zones 51 55)
burst "$tmp/b2" intxn 51 55
check "the ledger is locked" lock_table rzfaults-ledger published_records EXCLUSIVE
"$bin/zsend" -t 20000 -m "$tmp/b2" "$EP" >"$tmp/r2" 2>/dev/null
check "5 enables acknowledged ok ($(n_ok "$tmp/r2")/5)" test "$(n_ok "$tmp/r2")" -eq 5
check "a worker waits inside its Knot transaction" \
  wait_until 15 '[ "$(waiting "INSERT INTO published_records%")" -ge 1 ]'
kill9 "$DPID"
txns=$(open_txns "${D2[@]}")
check "the kill left a Knot transaction open ($txns of 5 zones)" test "${txns:-0}" -ge 1
unlock_table rzfaults-ledger
if daemon_start "$CFG" "$LOG" "$EP"; then ok "regzoned restarted"; else bad "regzoned restarted"; logtail "$LOG"; fi
if wait_published 30 "${D2[@]}"; then ok "after the restart all 5 are published"
else bad "after the restart all 5 are published"; logtail "$LOG" 4; fi
check "primary serves each record exactly once" served "$REGZONE_DNS_PORT" "${D2[@]}"
check "secondary serves each record exactly once" served "$REGZONE_DNS2_PORT" "${D2[@]}"
check "ledger: 6 live rows per domain, none pending" ledger_ok "${D2[@]}"
check "audit: each record added once ($(added "${D2[@]}")/30 record_added)" test "$(added "${D2[@]}")" = 30
check "no job left claimed" test "$(claimed "${D2[@]}")" = 0
check "no Knot transaction left open in those zones" test "$(open_txns "${D2[@]}")" = 0

# ------------------------------------------------- 2. PostgreSQL stopped
note "2. PostgreSQL stopped while regzoned runs, requests in flight"
# In flight all along: bursts of 5 enables of z00057.test, each a new id.
: >"$tmp/bg"
(
  for ((i = 0; i < 1500; i++)); do
    [[ -e "$tmp/bg.stop" ]] && break
    for k in 1 2 3 4 5; do
      printf '{"id":"bg-%d-%d","action":"enable","service":"xmpp","domain":"z00057.test"}\n' "$i" "$k"
    done >"$tmp/bg.req"
    "$bin/zsend" -t 8000 -m "$tmp/bg.req" "$EP" >>"$tmp/bg" 2>/dev/null || echo TIMEOUT >>"$tmp/bg"
    sleep 0.05
  done
) &
SENDER=$!
n_replies() { jq -r "select(.ok == $1) | .id" "$tmp/bg" 2>/dev/null | grep -c .; }
check "requests flow before the stop" wait_until 10 '[ "$(n_replies true)" -ge 10 ]'
if pg_stop; then ok "PostgreSQL stopped"; else bad "PostgreSQL stopped"; fi
down_ok=$(n_replies true)
rep=$("$bin/zsend" -t 10000 "$EP" '{"id":"pgdown-1","action":"enable","service":"xmpp","domain":"z00056.test"}' 2>/dev/null)
check "enable while PostgreSQL is down: ok:false, code unavailable ($rep)" \
  test "$(jq -r '"\(.ok) \(.error.code)"' <<<"$rep" 2>/dev/null)" = "false unavailable"
check "in-flight requests get 'unavailable' while it is down" wait_until 10 '[ "$(n_replies false)" -ge 5 ]'
check "regzoned keeps running without PostgreSQL" alive "$DPID"
if pg_start; then ok "PostgreSQL started again"; else bad "PostgreSQL started again"; fi
rep=$("$bin/zsend" -t 10000 "$EP" '{"id":"pgup-1","action":"enable","service":"xmpp","domain":"z00056.test"}' 2>/dev/null)
check "the same enable (new id) once it is back: ok ($rep)" test "$(jq -r .ok <<<"$rep" 2>/dev/null)" = true
# shellcheck disable=SC2034 # used by the condition wait_until evals
after=$(n_replies true)
check "in-flight requests get ok again" wait_until 15 '[ "$(n_replies true)" -ge $((after + 10)) ]'
touch "$tmp/bg.stop"
wait_until 20 not_alive "$SENDER"; wait "$SENDER" 2>/dev/null; SENDER=""
mapfile -t okids < <(jq -r 'select(.ok == true) | .id' "$tmp/bg" 2>/dev/null)
okids+=(pgup-1)
nst=$(stored "${okids[@]}")
check "every id that got ok:true is in events (${nst:-?}/${#okids[@]})" test "${nst:-0}" = "${#okids[@]}"
others=$(jq -r 'select(.ok == false and .error.code != "unavailable") | .error.code' "$tmp/bg" 2>/dev/null | sort | uniq -c | tr '\n' ' ')
check "every refusal is 'unavailable' (${others:-none other})" test -z "$others"
mapfile -t unav < <(jq -r 'select(.ok == false) | .id' "$tmp/bg" 2>/dev/null)
nun=0
if ((${#unav[@]})); then nun=$(stored "${unav[@]}"); fi
note "in flight: ${#okids[@]} ok, ${#unav[@]} unavailable (${nun:-?} of them stored anyway), $(grep -c '^TIMEOUT' "$tmp/bg") bursts timed out; ok before the stop: $down_ok"
check "regzoned still running" alive "$DPID"
if wait_published 40 z00056.test z00057.test; then ok "z00056.test and z00057.test end published"
else bad "z00056.test and z00057.test end published"; logtail "$LOG" 4; fi
check "both servers serve them exactly once" served "$REGZONE_DNS_PORT" z00056.test z00057.test
check "secondary serves them exactly once" served "$REGZONE_DNS2_PORT" z00056.test z00057.test

# ---------------------------------------------------- 3. knotd stopped
note "3. primary knotd stopped"
if knot1_stop; then ok "knotd (primary) stopped"; else bad "knotd (primary) stopped"; fi
rep=$("$bin/zsend" -t 10000 "$EP" '{"id":"knotdown-1","action":"enable","service":"xmpp","domain":"z00058.test"}' 2>/dev/null)
if [[ "$(jq -r .ok <<<"$rep" 2>/dev/null)" == true ]]; then
  ok "enable while knotd is down: accepted from the cached zone list"
  check "... and stored" test "$(stored knotdown-1)" = 1
else
  bad "enable while knotd is down: not accepted, backoff cannot be tested ($rep)"
fi
# The job's attempts, each with its delay (next_attempt_at - updated_at).
: >"$tmp/att"
sample() {
  q "select j.attempts || ' ' || round(extract(epoch from j.next_attempt_at - j.updated_at)::numeric, 3) from jobs j where j.domain = 'z00058.test' and j.attempts > 0" >>"$tmp/att"
  [[ "$(cut -d' ' -f1 "$tmp/att" | sort -un | tail -n1)" -ge "$1" ]]
}
check "attempts grow while knotd is down: 2 within 5 s" wait_until 5 sample 2
wait_until 5 sample 3   # one more, for the spacing
sort -un "$tmp/att" | awk '!seen[$1]++' >"$tmp/att.u"
note "attempt delay_s: $(tr '\n' ',' <"$tmp/att.u")"
# attempt k waits 2^(k-1) s, +-25%: each delay in range, each longer than the last.
check "retries spaced increasingly, 1 s, 2 s, 4 s +-25%" awk '
  { want = 2 ^ ($1 - 1); if ($2 < 0.75 * want - 0.01 || $2 > 1.25 * want + 0.01) bad = 1
    if (NR > 1 && $2 <= prev) bad = 1; prev = $2 }
  END { exit (bad || NR < 2) }' "$tmp/att.u"
err=$(q "select last_error from services where domain = 'z00058.test'")
check "services.last_error names the control socket ($err)" grep -qiE 'control socket|knot' <<<"$err"
check "dns not published meanwhile" test "$(q "select dns from services where domain = 'z00058.test'")" != published
if knot1_start; then ok "knotd (primary) started again"; else bad "knotd (primary) started again"; fi
check "it serves z00058.test again" wait_until 15 soa_served "$REGZONE_DNS_PORT" z00058.test
tk=$SECONDS
if wait_published 30 z00058.test; then ok "z00058.test published $((SECONDS - tk)) s after knotd came back"
else bad "z00058.test published within 30 s of knotd coming back"; logtail "$LOG" 4; fi
check "primary serves it exactly once" served "$REGZONE_DNS_PORT" z00058.test
check "secondary serves it exactly once" served "$REGZONE_DNS2_PORT" z00058.test
check "ledger: 6 live rows, none pending" ledger_ok z00058.test

check "regzoned stops on SIGTERM with status 0" term_wait "$DPID" 10
"$src/deploy/devstack" down "$S" >/dev/null 2>&1
check "stack 1 down, nothing of it left running" wait_until 10 '[ -z "$(pgrep -f "$S/")" ]'

# ============================================ 4. two daemons, 200 zones
note "4. two daemons on one database"
if ! stack_up "$tmp/s2" 200; then
  bad "devstack up (200 demo zones)"
else
  ok "devstack up (200 demo zones)"
  CFG2=$S/regzone-2.yaml LOGA=$S/regzoned-a.log LOGB=$S/regzoned-b.log
  EP2="ipc://$S/run-b/requests"
  sed -e "/^  requests:/s|: .*|: \"$EP2\"|" \
      -e "/^  feed:/s|: .*|: \"ipc://$S/run-b/feed\"|" "$REGZONE_CONFIG" >"$CFG2"
  without_metrics "$CFG2"
  check "second config listens on its own ipc sockets" \
    test "$(grep -cE "^  (requests|feed): \"ipc://$S/run-b/(requests|feed)\"" "$CFG2")" = 2
  check "second config passes --check" eval '"$bin/regzoned" -c "$CFG2" --check >/dev/null'
  if daemon_start "$REGZONE_CONFIG" "$LOGA" "$REGZONE_REQUESTS"; then ok "daemon A started"; else bad "daemon A started"; logtail "$LOGA"; fi
  PA=$DPID
  if daemon_start "$CFG2" "$LOGB" "$EP2"; then ok "daemon B started"; else bad "daemon B started"; logtail "$LOGB"; fi
  PB=$DPID
  mapfile -t D4 < <(zones 1 200)
  burst "$tmp/b4a" two-a 1 100
  burst "$tmp/b4b" two-b 101 200
  "$bin/zsend" -t 30000 -m "$tmp/b4a" "$REGZONE_REQUESTS" >"$tmp/r4a" 2>/dev/null &
  za=$!
  "$bin/zsend" -t 30000 -m "$tmp/b4b" "$EP2" >"$tmp/r4b" 2>/dev/null &
  zb=$!
  wait "$za"; wait "$zb"
  check "100 enables acknowledged by each daemon ($(n_ok "$tmp/r4a")+$(n_ok "$tmp/r4b"))" \
    test "$(n_ok "$tmp/r4a")" -eq 100 -a "$(n_ok "$tmp/r4b")" -eq 100
  tp=$SECONDS
  if wait_published 90 "${D4[@]}"; then ok "all 200 published ($((SECONDS - tp)) s)"
  else bad "all 200 published within 90 s"; logtail "$LOGA" 3; logtail "$LOGB" 3; fi
  check "ledger: 6 live rows per domain, none pending" ledger_ok "${D4[@]}"
  nadd=$(q "select count(*) from audit where kind = 'record_added'")
  check "audit: record_added = 1200 exactly (${nadd:-?})" test "${nadd:-0}" = 1200
  check "primary serves each record exactly once" served "$REGZONE_DNS_PORT" "${D4[@]}"
  check "secondary serves each record exactly once" served "$REGZONE_DNS2_PORT" "${D4[@]}"
  check "no job left claimed" test "$(claimed "${D4[@]}")" = 0
  # a primary's writers go to knotd together: some control sessions of
  # daemon A wrote more than one zone (each still its own transaction)
  mtx=$(curl -fsS --max-time 5 "$REGZONE_METRICS" 2>/dev/null)
  kb=$(awk '/^regzone_knot_batches_total / { print $2 }' <<<"$mtx")
  kz=$(awk '/^regzone_knot_batch_zones_total / { print $2 }' <<<"$mtx")
  check "daemon A batched its writes: ${kz:-?} zone transactions in ${kb:-?} control sessions" \
    awk -v z="${kz:-0}" -v b="${kb:-0}" 'BEGIN { exit !(b > 0 && z > b) }'
  pa_n=$(grep -c 'publish:' "$LOGA") pb_n=$(grep -c 'publish:' "$LOGB")
  note "publish steps: daemon A $pa_n, daemon B $pb_n"
  if ((pa_n == 0 || pb_n == 0)); then
    note "FINDING: one daemon did no publish step (A $pa_n, B $pb_n)"
  fi
  kill -TERM "$PA" "$PB" 2>/dev/null
  check "daemon A exits 0 within 10 s of SIGTERM" reap "$PA" 10
  check "daemon B exits 0 within 10 s of SIGTERM" reap "$PB" 10

  # 4b. Daemon A dies holding claims: B alone finishes them.  A lock on the
  # ledger stops every worker of both before it touches Knot.
  note "4b. two daemons, one killed -9 while holding claims"
  if daemon_start "$REGZONE_CONFIG" "$LOGA" "$REGZONE_REQUESTS"; then ok "daemon A started again"; else bad "daemon A started again"; fi
  PA=$DPID
  mapfile -t D5 < <(zones 1 50 x)
  burst "$tmp/b5" takeover 1 50 x
  check "the ledger is locked against reads" lock_table rzfaults-ledger published_records "ACCESS EXCLUSIVE"
  "$bin/zsend" -t 20000 -m "$tmp/b5" "$REGZONE_REQUESTS" >"$tmp/r5" 2>/dev/null
  check "50 enables acknowledged by daemon A ($(n_ok "$tmp/r5")/50)" test "$(n_ok "$tmp/r5")" -eq 50
  claimed_by_a() { q "select count(*) from jobs where claimed_pid is not null and claimed_by like '%:$PA:w%'"; }
  # A worker claims a due dns job with up to 31 others of its step: A's
  # workers hold all 50 (a batch each, stopped at the ledger), B none.
  check "daemon A's workers hold the 50 jobs in batches ($(claimed "${D5[@]}") claims)" \
    wait_until 10 '[ "$(claimed_by_a)" = 50 ]'
  if daemon_start "$CFG2" "$LOGB" "$EP2"; then ok "daemon B started again"; else bad "daemon B started again"; fi
  PB=$DPID
  kill9 "$PA"
  ca=$(claimed_by_a)
  check "daemon A killed holding ${ca:-?} claims" test "${ca:-0}" -ge 1
  unlock_table rzfaults-ledger
  tp=$SECONDS
  if wait_published 30 "${D5[@]}"; then ok "daemon B alone publishes all 50 ($((SECONDS - tp)) s)"
  else bad "daemon B alone publishes all 50"; logtail "$LOGB" 4; fi
  check "ledger: 6 live rows per domain, none pending" ledger_ok "${D5[@]}"
  check "audit: each record added once ($(added "${D5[@]}")/300 record_added)" test "$(added "${D5[@]}")" = 300
  check "primary serves each record exactly once" served "$REGZONE_DNS_PORT" "${D5[@]}"
  check "secondary serves each record exactly once" served "$REGZONE_DNS2_PORT" "${D5[@]}"
  check "no job left claimed" test "$(claimed "${D5[@]}")" = 0
  check "daemon B exits 0 within 10 s of SIGTERM" term_wait "$PB" 10
fi

"$src/deploy/devstack" down "$S" >/dev/null 2>&1
check "stack 2 down, nothing of it left running" wait_until 10 '[ -z "$(pgrep -f "$S/")" ]'
note "run time $((SECONDS - t0)) s"
echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
