#!/usr/bin/env bash
# Safe by default, on the devstack's real PostgreSQL and knotd:
#   1. who may talk to regzoned: the ipc sockets are the file system's (user
#      nobody can neither send nor subscribe; a socket_group member can),
#      tcp:// needs CURVE unless insecure_tcp says so (logged), --check
#      refuses a secret key that is not Z85 and a public key that is not
#      the secret's;
#   2. what a peer can make it hold: a 100 MiB message and a 100,000-frame
#      message leave its RSS bounded and it answering;
#   3. a SIGSTOPped primary knotd: status answers stay under a second while
#      enables of served and unserved zones keep arriving;
#   4. an operator's open knotc transaction with a staged record survives
#      30 s of enables on its zone, commits afterwards, and regzone's
#      records publish then;
#   5. a database lock held elsewhere: statement_timeout answers
#      'unavailable', and SIGTERM still stops the daemon within 10 s.
# ctest runs it with RZ_SRCDIR, RZ_BINDIR and REGZONE_PORT_BASE (B..B+19:
# the devstack; B+30: a tcp endpoint).
set -uo pipefail
export REGZONE_CERT_AUTO=false   # DNS only: certificates are certs.sh's
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-20900}
export REGZONE_PORT_BASE=$base
export REGZONE_DEMO_ZONES=12
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzsec.XXXXXX)
chmod 0755 "$tmp"
dir=$tmp/stack
pids=() lockers=()
cleanup() {
  local p
  [ -r "$dir/pids/knot1.pid" ] && kill -CONT "$(cat "$dir/pids/knot1.pid")" 2>/dev/null
  for p in "${lockers[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  [ -n "${RZ_KEEP:-}" ] && return; rm -rf "$tmp"
}
trap cleanup EXIT

sql() { psql "$REGZONE_PG" -X -Atc "$1" 2>/dev/null; }
kc() { HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" "$@"; }
ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# exit_within PID SECONDS: the child exited (status in $exit_rc) in time.
exit_within() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; exit_rc=$?; return 0; fi
    sleep 0.1
  done
  exit_rc=timeout
  return 1
}
# listen_cfg OUT REQUESTS FEED [LINE...]: the stack's config with these
# endpoints, the LINEs added to its listen section, and workers: 0 (the
# stack's own daemon does the work).
listen_cfg() {
  local out=$1 rq=$2 fd=$3; shift 3
  local extra; extra=$(printf '%s\n' "$@")
  awk -v rq="$rq" -v fd="$fd" -v extra="$extra" '
    /^  requests:/ { print "  requests: \"" rq "\""; next }
    /^  feed:/ { print "  feed: \"" fd "\""; if (extra != "") printf "%s", extra; next }
    /^workers:/ { print "workers: 0"; next }
    { print }' "$dir/regzone.yaml" >"$out"
  without_metrics "$out"
}

if ! "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up: $(tail -5 "$tmp/up.log")"
  summary; exit 1
fi
ok "devstack up on port base $base"
# shellcheck disable=SC1091
. "$dir/env"
if start_answering "$REGZONE_CONFIG" "$dir/regzoned.log" "$REGZONE_REQUESTS"; then
  ok "regzoned answers on $REGZONE_REQUESTS"
else
  bad "regzoned answers: $(tail -5 "$dir/regzoned.log")"; summary; exit 1
fi
main_pid=$daemon_pid

# ------------------------------------------------------- 1. who may talk
note "1. who may talk to regzoned"
run=$dir/run
check "the ipc directory is 0700, root's ($(stat -c '%a %U' "$run"))" test "$(stat -c '%a %U' "$run")" = "700 root"
check "the sockets are 0600 ($(stat -c %a "$run/requests") $(stat -c %a "$run/feed"))" \
  test "$(stat -c %a "$run/requests")$(stat -c %a "$run/feed")" = 600600
check "user nobody cannot reach the socket directory" eval '! runuser -u nobody -- test -e "$run/requests"'
# nobody subscribes while root (the stack's user) also does and enables
# (nobody runs a copy of zsend: the checkout may be private).
public_copy "$tmp/pub" "$bin/zsend" || { bad "a copy of zsend for user nobody"; summary; exit 1; }
pub=$tmp/pub
runuser -u nobody -- "$pub/zsend" -t 4000 -S "" "$REGZONE_FEED" >"$tmp/nobody.sub" 2>&1 &
nsub=$!
"$bin/zsend" -t 4000 -S evil2.example.test "$REGZONE_FEED" >"$tmp/root.sub" 2>/dev/null &
rsub=$!
sleep 0.5   # setup: both subscribers try to connect
out=$(runuser -u nobody -- "$pub/zsend" -t 3000 "$REGZONE_REQUESTS" "$(enable_json evil-1 evil.example.test)" 2>&1); rc=$?
check "nobody's enable of evil.example.test gets no reply (exit $rc: $out)" \
  eval 'test "$rc" = 3 && grep -q "no reply within" <<<"$out"'
r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(enable_json sec-root-1 evil2.example.test)")
check "the stack's user enables with plain ZeroMQ ($(jstr desired <<<"$r"))" test "$(jstr desired <<<"$r")" = enabled
wait "$nsub"; nrc=$?; wait "$rsub"
check "nobody's subscription reads nothing (exit $nrc, $(wc -c <"$tmp/nobody.sub") bytes)" \
  eval 'test "$nrc" = 3 && test -z "$(grep -v "Permission denied" "$tmp/nobody.sub" | grep "{")"'
check "the stack's user reads the feed" grep -q '^evil2.example.test {' "$tmp/root.sub"
check "nothing of nobody's stored: no event evil-1, no service evil.example.test" \
  test "$(sql "select count(*) from events where id = 'evil-1'")$(sql "select count(*) from services where domain = 'evil.example.test'")" = 00

# A group that may: listen.socket_group (nobody's primary group, nogroup).
listen_cfg "$dir/group.yaml" "ipc://$dir/run-g/requests" "ipc://$dir/run-g/feed" "  socket_group: nogroup"
if start_answering "$dir/group.yaml" "$dir/regzoned-g.log" "ipc://$dir/run-g/requests"; then
  ok "a regzoned with socket_group nogroup answers"
  check "its directory is 0750, group nogroup ($(stat -c '%a %G' "$dir/run-g"))" \
    test "$(stat -c '%a %G' "$dir/run-g")" = "750 nogroup"
  r=$(runuser -u nobody -- "$pub/zsend" -t 5000 "ipc://$dir/run-g/requests" "$(status_json grp-1 example.test)" 2>&1)
  check "a member of the group (nobody) is answered ($(cut -c1-60 <<<"$r"))" grep -q '"id":"grp-1","ok":true' <<<"$r"
  stop_pid "$daemon_pid"
else
  bad "a regzoned with socket_group nogroup answers: $(tail -3 "$dir/regzoned-g.log")"
fi

# tcp:// without CURVE: refused, unless insecure_tcp says so (and is logged).
tcp="tcp://127.0.0.1:$((base + 30))"
sed -e "s|^  requests: .*|  requests: \"$tcp\"|" "$REGZONE_CONFIG" >"$dir/tcp.yaml"
without_metrics "$dir/tcp.yaml"
out=$("$bin/regzoned" -c "$dir/tcp.yaml" --check 2>&1); rc=$?
check "--check refuses a tcp:// endpoint without CURVE (exit $rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "without CURVE" <<<"$out" && grep -q "tcp.yaml:[0-9]*:[0-9]*: " <<<"$out"'
timeout 10 "$bin/regzoned" -c "$dir/tcp.yaml" >"$dir/regzoned-tcp.log" 2>&1; rc=$?
check "regzoned refuses to start with it (exit $rc)" test "$rc" = 1
listen_cfg "$dir/insecure.yaml" "$tcp" "ipc://$dir/run-t/feed" "  insecure_tcp: true"
out=$("$bin/regzoned" -c "$dir/insecure.yaml" --check 2>&1); rc=$?
check "--check accepts it with insecure_tcp: true (exit $rc: $out)" test "$rc" = 0
if start_answering "$dir/insecure.yaml" "$dir/regzoned-insecure.log" "$tcp"; then
  check "and regzoned warns at start" grep -q 'warning: listen.insecure_tcp is true' "$dir/regzoned-insecure.log"
  stop_pid "$daemon_pid"
else
  bad "regzoned with insecure_tcp: $(tail -3 "$dir/regzoned-insecure.log")"
fi
# CURVE keys: Z85 and matching, checked by --check.
"$bin/regzonectl" keygen "$tmp/srv" >/dev/null && "$bin/regzonectl" keygen "$tmp/other" >/dev/null
cli_pub=$(head -c 40 "$tmp/other/curve.pub")
curve_cfg() {   # curve_cfg OUT SECRET PUBLIC_FILE
  awk -v sk="$2" -v pk="$3" -v cli="$cli_pub" -v rq="$tcp" '
    /^  requests:/ { print "  requests: \"" rq "\""; print "  curve:"
                     print "    secret_key_file: \"" sk "\""
                     if (pk != "") print "    public_key_file: \"" pk "\""
                     print "    clients: [\"" cli "\"]"; next }
    { print }' "$REGZONE_CONFIG" >"$1"
  without_metrics "$1"
}
printf '%s\n' "$(printf '~%.0s' $(seq 40))" >"$tmp/notz85.key"; chmod 0600 "$tmp/notz85.key"
curve_cfg "$dir/c1.yaml" "$tmp/notz85.key" ""
out=$("$bin/regzoned" -c "$dir/c1.yaml" --check 2>&1); rc=$?
check "--check refuses a secret key file that is not Z85 (exit $rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "not a CURVE key" <<<"$out"'
curve_cfg "$dir/c2.yaml" "$tmp/srv/curve.key" "$tmp/other/curve.pub"
out=$("$bin/regzoned" -c "$dir/c2.yaml" --check 2>&1); rc=$?
check "--check refuses a public key that is not the secret's (exit $rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "does not belong to secret_key_file" <<<"$out"'
curve_cfg "$dir/c3.yaml" "$tmp/srv/curve.key" "$tmp/srv/curve.pub"
out=$("$bin/regzoned" -c "$dir/c3.yaml" --check 2>&1); rc=$?
check "--check accepts the matching pair (exit $rc: $out)" test "$rc" = 0
cp "$tmp/srv/curve.key" "$tmp/loose.key"; chmod 0640 "$tmp/loose.key"
curve_cfg "$dir/c4.yaml" "$tmp/loose.key" ""
out=$("$bin/regzoned" -c "$dir/c4.yaml" --check 2>&1); rc=$?
check "--check refuses a secret key readable by its group (exit $rc)" \
  eval 'test "$rc" = 1 && grep -q "chmod 600" <<<"$out"'

# ------------------------------------------------ 2. what a peer can make it hold
note "2. message limits"
r0=$(rss_kb "$main_pid")
out=$("$bin/zsend" -t 4000 -B $((100 * 1024 * 1024)) "$REGZONE_REQUESTS" 2>&1); rc=$?
r1=$(rss_kb "$main_pid")
check "a 100 MiB message: the peer is dropped, no reply (exit $rc)" test "$rc" = 3
check "... RSS bounded: $r0 -> $r1 kB (less than 8 MiB more)" test $((r1 - r0)) -lt 8192
r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json after-big example.test)")
check "... and it answers" grep -q '"id":"after-big","ok":true' <<<"$r"
r=$("$bin/zsend" -t 20000 -F 100000 "$REGZONE_REQUESTS" "$(status_json frames example.test)")
r2=$(rss_kb "$main_pid")
check "a 100,000-frame message is refused as bad_request ($r)" test "$(jstr code <<<"$r")" = bad_request
check "... RSS bounded: $r0 -> $r2 kB (less than 64 MiB more)" test $((r2 - r0)) -lt 65536
r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json after-frames example.test)")
check "... and it answers" grep -q '"id":"after-frames","ok":true' <<<"$r"
note "RSS of regzoned: $r0 kB before, $r1 kB after 100 MiB, $r2 kB after 100,000 frames"

# -------------------------------------------------- 3. a SIGSTOPped knotd
note "3. the primary knotd stopped (SIGSTOP) while requests arrive"
knot1=$(cat "$dir/pids/knot1.pid")
kill -STOP "$knot1"
t_stop=$(ms)
: >"$tmp/enables"
(
  for ((i = 1; i <= 16; i++)); do
    for d in "s$i.z0000$((i % 9 + 1)).test" "nope$i.unserved.example"; do
      ( t0=$(ms); r=$("$bin/zsend" -t 15000 "$REGZONE_REQUESTS" "$(enable_json "stop-$i-${d%%.*}" "$d")" 2>/dev/null) || r=TIMEOUT
        printf '%s %s %s %s\n' "$d" "$(( $(ms) - t_stop ))" "$(( $(ms) - t0 ))" "$r" >>"$tmp/enables" ) &
    done
    sleep 0.5
  done
  wait
) &
sender=$!
max_status=0 n_status=0 slow=0
while kill -0 "$sender" 2>/dev/null; do
  t0=$(ms)
  r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json "st-$n_status" example.test)" 2>/dev/null)
  dt=$(( $(ms) - t0 ))
  n_status=$((n_status + 1))
  ((dt > max_status)) && max_status=$dt
  grep -q '"ok":true' <<<"$r" || slow=$((slow + 1))
  sleep 0.2
done
wait "$sender"
check "$n_status status requests while knotd was stopped, each answered in under 1 s (slowest $max_status ms, $slow failed)" \
  test "$max_status" -lt 1000 -a "$slow" = 0 -a "$n_status" -ge 20
served_ok=$(grep -c '^s[0-9]*\.z.* {"id":"[^"]*","ok":true' "$tmp/enables")
check "enables of served zones are stored from the snapshot ($served_ok/16)" test "$served_ok" = 16
unav=$(grep '^nope' "$tmp/enables" | grep -c '"code":"unavailable"')
# knotd.timeout_ms is 5 s: the listing under way at the stop fails then.
late_fast=$(awk '/^nope/ && $2 - $3 > 6000 && $3 < 1000' "$tmp/enables" | grep -c unavailable)
late=$(awk '/^nope/ && $2 - $3 > 6000' "$tmp/enables" | grep -c .)
check "enables of unknown zones: 'unavailable', none left waiting ($unav/16)" test "$unav" = 16
check "... at once once the listing failed: $late_fast of $late sent after 6 s answered within 1 s" \
  test "$late" -ge 1 -a "$late_fast" = "$late"
note "unserved enables: answer times $(awk '/^nope/ {printf "%s ", $3}' "$tmp/enables") ms"
kill -CONT "$knot1"
deadline=$((SECONDS + 15))
until r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(enable_json "after-cont-$SECONDS" nope.unserved.example)") &&
      [ "$(jstr code <<<"$r")" = zone_not_served ] || ((SECONDS >= deadline)); do sleep 0.5; done
check "knotd thawed: an unknown zone is zone_not_served again ($(jstr code <<<"$r"))" \
  test "$(jstr code <<<"$r")" = zone_not_served

# --------------------------------------- 4. an operator's Knot transaction
note "4. an operator's open transaction on z00005.test"
zone=z00005.test
check "knotc zone-begin $zone" kc zone-begin "$zone"
check "knotc zone-set a staged record" kc zone-set "$zone" opstaged 300 TXT '"staged by an operator"'
t_op=$SECONDS i=0 open_ok=1 staged_ok=1
while ((SECONDS - t_op < 30)); do
  i=$((i + 1))
  d=$zone; ((i % 2 == 0)) && d=op$i.$zone
  "$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(enable_json "op-$i" "$d")" >/dev/null 2>&1
  sleep 1.5
  kc zone-status "$zone" 2>/dev/null | grep -q 'transaction: open' || open_ok=0
  kc zone-get "$zone" opstaged TXT 2>/dev/null | grep -q 'staged by an operator' || staged_ok=0
done
check "30 s of enables ($i) on the zone: its transaction stayed open all along" test "$open_ok" = 1
check "... with the operator's staged record in it" test "$staged_ok" = 1
st=$(sql "select dns || ' | ' || coalesce(last_error, '') from services where domain = '$zone'")
check "status says the zone is busy ($st)" grep -q '^pending | zone busy: transaction open on zone z00005.test' <<<"$st"
check "the audit trail says it waits" \
  test "$(sql "select count(*) from audit where domain = '$zone' and kind = 'wait' and message like '%zone busy%'")" -ge 1
check "nothing of regzone's is in the operator's transaction" \
  eval '! kc zone-diff "$zone" 2>/dev/null | grep -q _xmpp'
check "the operator commits afterwards" kc zone-commit "$zone"
check "the staged record is served" \
  test "$(kdig @127.0.0.1 -p "$REGZONE_DNS_PORT" +short opstaged.$zone TXT 2>/dev/null)" = '"staged by an operator"'
deadline=$((SECONDS + 25))
until [ "$(sql "select count(*) from services where domain like '%$zone' and dns <> 'published'")" = 0 ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "then regzone's records publish ($(sql "select count(*) from services where domain like '%$zone' and dns = 'published'") of $(sql "select count(*) from services where domain like '%$zone'"))" \
  test "$(sql "select count(*) from services where domain like '%$zone' and dns <> 'published'")" = 0
check "... served by the primary" \
  test -n "$(kdig @127.0.0.1 -p "$REGZONE_DNS_PORT" +short "_xmpp-client._tcp.$zone" SRV 2>/dev/null)"

# ---------------------------------------------------- 5. a held database lock
note "5. a lock held on the events table"
PGAPPNAME=rzsec-lock psql "$REGZONE_PG" -X -q -c "BEGIN" -c "LOCK TABLE events IN EXCLUSIVE MODE" \
  -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
lockers+=($!)
deadline=$((SECONDS + 10))
until [ "$(sql "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'rzsec-lock' and l.relation = 'events'::regclass and l.granted")" = 1 ] ||
      ((SECONDS >= deadline)); do sleep 0.1; done
listen_cfg "$dir/short.yaml" "ipc://$dir/run-s/requests" "ipc://$dir/run-s/feed"
sed -i 's/^  conninfo: \(.*\)$/  conninfo: \1\n  statement_timeout_ms: 1500/' "$dir/short.yaml"
if start_answering "$dir/short.yaml" "$dir/regzoned-s.log" "ipc://$dir/run-s/requests"; then
  t0=$(ms)
  r=$("$bin/zsend" -t 20000 "ipc://$dir/run-s/requests" "$(enable_json lock-1 z00006.test)")
  dt=$(( $(ms) - t0 ))
  check "statement_timeout 1.5 s: the enable is 'unavailable' in $dt ms, not stuck ($(jstr code <<<"$r"))" \
    test "$(jstr code <<<"$r")" = unavailable -a "$dt" -lt 6000
  r=$("$bin/zsend" -t 5000 "ipc://$dir/run-s/requests" "$(status_json lock-st example.test)")
  check "... while status still answers" grep -q '"ok":true' <<<"$r"
  check "... and nothing was stored" test "$(sql "select count(*) from services where domain = 'z00006.test'")" = 0
  stop_pid "$daemon_pid"
fi
"$bin/zsend" -t 30000 "$REGZONE_REQUESTS" "$(enable_json lock-2 z00007.test)" >"$tmp/lock2" 2>&1 &
zs=$!
sleep 1   # setup: the intake waits for the lock
t0=$SECONDS
kill -TERM "$main_pid"
exit_within "$main_pid" 12
check "SIGTERM while the intake waits for a lock: exit $exit_rc within $((SECONDS - t0)) s" test "$exit_rc" = 0
wait "$zs"
check "... the waiting request is answered 'unavailable' ($(cut -c1-80 "$tmp/lock2"))" \
  test "$(jstr code <"$tmp/lock2")" = unavailable
check "... the daemon says it cancelled the statement" grep -q 'cancelled 1 database statement' "$dir/regzoned.log"
check "... and nothing was stored" test "$(sql "select count(*) from events where id = 'lock-2'")" = 0
for p in "${lockers[@]}"; do kill -KILL "$p" 2>/dev/null; done

note "run time $SECONDS s"
summary
[ "$fails" -eq 0 ]
