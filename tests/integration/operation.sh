#!/usr/bin/env bash
# Running regzone the way an operator does, on the devstack's real
# PostgreSQL and knotd:
#   1. conventions: --help and "help COMMAND" exit 0, -c defaults to
#      $REGZONE_CONFIG, --json refusals print {"ok":false,...} on stdout;
#   2. the service manager (no systemd here: a datagram socket as
#      NOTIFY_SOCKET): READY=1 once the sockets answer, STATUS= lines,
#      WATCHDOG=1 while the threads make progress and none while a lock held
#      elsewhere wedges one, STOPPING=1 on SIGTERM;
#   3. SIGHUP: a profile added to the file is used by the next request; a
#      broken file is named with its line and changes nothing; a key that
#      needs a restart is named and kept;
#   4. a PostgreSQL restart: the next status and enable are answered (not
#      "unavailable"); regzonectl wait and status ride out a database that
#      is down for a few seconds;
#   5. the metrics endpoint (metrics.listen): Prometheus text that promtool
#      accepts, and counters that move with the work.
# ctest runs it with RZ_SRCDIR, RZ_BINDIR and REGZONE_PORT_BASE (B..B+19).
set -uo pipefail
export REGZONE_CERT_AUTO=false   # DNS only: certificates are certs.sh's
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-21700}
export REGZONE_PORT_BASE=$base
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzop.XXXXXX)
dir=$tmp/stack
pids=()
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
AS_PG=()
if ((EUID == 0)); then AS_PG=(runuser -u postgres --); fi
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  [ -n "${RZ_KEEP:-}" ] && return; rm -rf "$tmp"
}
trap cleanup EXIT

sql() { psql "$REGZONE_PG" -X -Atc "$1" 2>/dev/null; }
ctl() { "$bin/regzonectl" "$@"; }
stop_daemon() {
  local i
  kill -TERM "$daemon_pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$daemon_pid" 2>/dev/null
}
pg_stop() {
  (cd "$dir/pg" && "${AS_PG[@]}" "$PGBIN/pg_ctl" stop -D "$dir/pg/data" -m fast -w -t 30 -s) \
    >/dev/null 2>&1
}
pg_start() {
  local pid
  (cd "$dir/pg" && setsid -w "${AS_PG[@]}" "$PGBIN/pg_ctl" start -D "$dir/pg/data" \
     -l "$dir/pg/postgres.log" -w -t 30 -s </dev/null >/dev/null 2>>"$tmp/pg_ctl.log") || return 1
  pid=$(head -n1 "$dir/pg/data/postmaster.pid" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid" >"$dir/pids/postgres.pid"
}

if ! "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up: $(tail -5 "$tmp/up.log")"; summary; exit 1
fi
ok "devstack up on port base $base"
# shellcheck disable=SC1091
. "$dir/env"
ctl -c "$REGZONE_CONFIG" migrate >/dev/null

# ------------------------------------------------------------ 1. conventions
note "1. conventions"
out=$("$bin/regzoned" --help 2>&1); rc=$?
check "regzoned --help: exit 0, the usage on stdout" eval 'test $rc = 0 && grep -q "usage: regzoned" <<<"$out"'
out=$(ctl --help 2>/dev/null); rc=$?
check "regzonectl --help: exit 0, every command listed" \
  eval 'test $rc = 0 && for c in preview migrate keygen enable disable renew status wait list diff retry logs; do grep -q "^  $c" <<<"$out" || exit 1; done'
out=$(ctl help wait); rc=$?
check "regzonectl help wait: exit 0, its synopsis and what it does" \
  eval 'test $rc = 0 && grep -q "^usage: regzonectl \[-c FILE\] wait DOMAIN --until" <<<"$out" && grep -q "timeout" <<<"$out"'
out=$(ctl status --help); rc=$?
check "regzonectl status --help: the same as help status" test "$rc" = 0 -a "$out" = "$(ctl help status)"
ctl help nonsense >/dev/null 2>&1; rc=$?
check "regzonectl help nonsense: a usage error (exit $rc)" test "$rc" = 2
out=$(REGZONE_CONFIG="$REGZONE_CONFIG" ctl preview example.test 2>&1); rc=$?
check "regzonectl without -c reads \$REGZONE_CONFIG (the devstack's default profile leads to Prosody)" \
  eval 'test $rc = 0 && grep -q "$REGZONE_XMPP_HOST" <<<"$out"'
out=$(REGZONE_CONFIG=/nonexistent/regzone.yaml ctl preview example.test 2>&1); rc=$?
check "... and names the file it could not read ($out)" eval 'test $rc = 1 && grep -q /nonexistent/regzone.yaml <<<"$out"'
out=$(env -u REGZONE_CONFIG "$bin/regzoned" --check 2>&1); rc=$?
check "regzoned without -c nor \$REGZONE_CONFIG reads /etc/regzone/regzone.yaml ($out)" \
  eval 'grep -q "/etc/regzone/regzone.yaml" <<<"$out"'
out=$(REGZONE_CONFIG="$REGZONE_CONFIG" "$bin/regzoned" --check 2>&1); rc=$?
check "regzoned --check reads \$REGZONE_CONFIG ($out)" test "$rc" = 0

export REGZONE_CONFIG
if start_answering "$REGZONE_CONFIG" "$tmp/regzoned.log"; then ok "regzoned answers"; else
  bad "regzoned answers: $(tail -5 "$tmp/regzoned.log")"; summary; exit 1; fi
out=$(ctl enable 'bad_domain!' --json 2>/dev/null); rc=$?
check "--json: a refused enable prints the refusal on stdout ($out)" \
  eval 'test $rc = 1 && jq -e ".ok == false and .error.code == \"invalid_domain\" and (.error.message | length > 0)" <<<"$out" >/dev/null'
out=$(ctl enable example.test --json); rc=$?
check "--json: an accepted enable prints the state ($out)" \
  eval 'test $rc = 0 && jq -e ".desired == \"enabled\"" <<<"$out" >/dev/null'
ctl wait example.test --until published --timeout 60 >/dev/null
stop_daemon
out=$(ctl status example.test --json --timeout 1 2>/dev/null); rc=$?
check "--json: no daemon: exit 3, {\"ok\":false} with code unreachable on stdout ($out)" \
  eval 'test $rc = 3 && jq -e ".ok == false and .error.code == \"unreachable\"" <<<"$out" >/dev/null'

# ------------------------------------------------- 2. the service manager
note "2. sd_notify: READY, STATUS, WATCHDOG, STOPPING"
sock=$tmp/notify.sock
python3 - "$sock" >"$tmp/notify.log" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
while True:
    m = s.recv(4096).decode(errors="replace").replace("\n", "|")
    print("%.2f %s" % (time.monotonic() - t0, m), flush=True)
PYEOF
listener=$!
pids+=("$listener")
until_ok 5 test -S "$sock"
cfg2=$tmp/notify.yaml
# A lock held elsewhere must not be cut short here: no statement timeout;
# a thread busy for 10 s is wedged (the hook may take 5).
sed -e 's/^  conninfo: \(.*\)$/  conninfo: \1\n  statement_timeout_ms: 0/' \
    -e 's/^  hook_timeout_s: .*/  hook_timeout_s: 5/' "$REGZONE_CONFIG" >"$cfg2"
printf 'step_timeout_s: 10\n' >>"$cfg2"
NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 "$bin/regzoned" -c "$cfg2" >>"$tmp/notify-daemon.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
check "READY=1 arrives" until_ok 15 grep -q "READY=1" "$tmp/notify.log"
check "... with a STATUS= line" grep -q "READY=1|STATUS=jobs: " "$tmp/notify.log"
check "... once the daemon answers requests" \
  "$bin/zsend" -t 2000 "$REGZONE_REQUESTS" "$(status_json n1 example.test)"
pings() { grep -c 'WATCHDOG=1' "$tmp/notify.log"; }
check "WATCHDOG=1 pings arrive (half the 2 s interval)" \
  until_ok 5 eval 'test "$(pings)" -ge 3'
# Wedge the intake: a transaction elsewhere holds example.test's service row;
# a disable waits on it (no statement timeout) longer than step_timeout_s.
(psql "$REGZONE_PG" -X -q -c "BEGIN; SELECT 1 FROM services WHERE domain = 'example.test' FOR UPDATE; SELECT pg_sleep(90); COMMIT;" >/dev/null 2>&1) &
locker=$!
pids+=("$locker")
sleep 1
"$bin/zsend" -t 1500 "$REGZONE_REQUESTS" \
  '{"id":"wedge-1","action":"disable","service":"xmpp","domain":"example.test"}' >/dev/null 2>&1
check "the wedge is logged once the intake is busy longer than step_timeout_s" \
  until_ok 30 grep -q "thread wedged (thread .* busy for" "$tmp/notify-daemon.log"
n_before=$(pings)
sleep 4
n_after=$(pings)
check "no WATCHDOG=1 while it is wedged ($n_before, then $n_after 4 s later)" test "$n_after" = "$n_before"
kill -KILL "$locker" 2>/dev/null; wait "$locker" 2>/dev/null
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(90)%' AND pid <> pg_backend_pid()" >/dev/null
check "pings resume once the lock is gone" until_ok 10 eval 'test "$(pings)" -gt "$n_after"'
check "... and the log says so" grep -q "every thread makes progress again" "$tmp/notify-daemon.log"
kill -TERM "$daemon_pid"
check "STOPPING=1 on SIGTERM" until_ok 10 grep -q "STOPPING=1" "$tmp/notify.log"
wait "$daemon_pid" 2>/dev/null
check "the order: READY=1 first, STOPPING=1 last" \
  eval 'test "$(grep -o "READY=1\|STOPPING=1" "$tmp/notify.log" | head -1)" = READY=1 && tail -1 "$tmp/notify.log" | grep -q STOPPING=1'
kill -KILL "$listener" 2>/dev/null

# ---------------------------------------------------------- 3. SIGHUP reload
note "3. SIGHUP reload"
cfg3=$tmp/reload.yaml
cp "$REGZONE_CONFIG" "$cfg3"
if start_answering "$cfg3" "$tmp/reload.log"; then ok "regzoned on $cfg3"; else
  bad "regzoned on $cfg3: $(tail -5 "$tmp/reload.log")"; summary; exit 1; fi
added_json() { printf '{"id":"%s","action":"enable","service":"xmpp","domain":"example.org.test","profile":"xmpp-added"}' "$1"; }
out=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(added_json add-1)")
check "before the reload: profile xmpp-added is unknown to regzoned ($out)" grep -q '"code":"unknown_profile"' <<<"$out"
cat >>"$cfg3" <<EOF
  xmpp-added:
    service: xmpp
    ttl: 120
    records:
      - { owner: _xmpp-client._tcp, type: SRV, priority: 0, weight: 0, port: 5222, target: $REGZONE_XMPP_HOST }
    certificate: ["@"]
EOF
kill -HUP "$daemon_pid"
check "the reload is logged" until_ok 5 grep -q "reload: .* applied" "$tmp/reload.log"
out=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(added_json add-2)")
check "after the reload a request uses the new profile ($out)" grep -q '"ok":true' <<<"$out"
check "... and its record is published" \
  eval 'ctl -c "$cfg3" wait example.org.test --until published --timeout 30 >/dev/null'
cp "$cfg3" "$tmp/reload.good"
printf 'workers: [broken\n' >>"$cfg3"
kill -HUP "$daemon_pid"
check "a broken file: FILE:LINE:COL in the log, the running configuration kept" \
  until_ok 5 grep -q "reload: $cfg3:[0-9]*:[0-9]*: .*running configuration is kept" "$tmp/reload.log"
out=$(ctl -c "$tmp/reload.good" status example.org.test --profile xmpp-added 2>&1); rc=$?
check "... and the daemon still serves with it ($rc)" test "$rc" = 0
sed 's/^workers: .*/workers: 2/' "$tmp/reload.good" >"$cfg3"
kill -HUP "$daemon_pid"
check "a key that needs a restart is named and kept" \
  until_ok 5 grep -q "reload: workers changed in $cfg3: it needs a restart; the running value is kept" "$tmp/reload.log"
ok_before=$(grep -c "reload: .* applied" "$tmp/reload.log")
check "... while the rest applies" test "$ok_before" -ge 2

# --------------------------------------------------- 4. PostgreSQL restarts
note "4. PostgreSQL restarts"
pg_stop && pg_start
check "PostgreSQL restarted" test -s "$dir/pids/postgres.pid"
out=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json pgr-1 example.test)"); rc=$?
check "the first status after the restart is answered ($out)" grep -q '"ok":true' <<<"$out"
"$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json pgr-2 example.test)" >/dev/null
pg_stop && pg_start
out=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" \
  '{"id":"pgr-3","action":"enable","service":"xmpp","domain":"example.test"}'); rc=$?
check "the first enable after a restart is stored ($out)" grep -q '"ok":true' <<<"$out"
pg_stop
out=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json pgr-4 example.test)")
check "with PostgreSQL down: unavailable ($(cut -c1-90 <<<"$out"))" grep -q '"code":"unavailable"' <<<"$out"
ctl -c "$cfg3" status example.test --timeout 20 >"$tmp/st.out" 2>"$tmp/st.err" &
st_pid=$!
ctl -c "$cfg3" wait example.test --until published --timeout 20 >"$tmp/wait.out" 2>"$tmp/wait.err" &
wait_pid=$!
sleep 3
pg_start
wait "$st_pid"; st_rc=$?
wait "$wait_pid"; wait_rc=$?
check "regzonectl status rides out 3 s of a database down (exit $st_rc: $(tr '\n' ' ' <"$tmp/st.err"))" \
  eval 'test $st_rc = 0 && grep -q "asking again" "$tmp/st.err"'
check "regzonectl wait too (exit $wait_rc)" test "$wait_rc" = 0

# ------------------------------------------------------------- 5. metrics
note "5. metrics"
metrics() { curl -fsS --max-time 5 "$REGZONE_METRICS"; }
m1=$(metrics); rc=$?
check "GET $REGZONE_METRICS: 200" test "$rc" = 0
check "promtool check metrics accepts it" eval 'test -n "$m1" && promtool check metrics <<<"$m1" >/dev/null 2>&1'
req_before=$(awk '/^regzone_requests_total\{.*action="status".*code="ok"/ { s += $2 } END { print s + 0 }' <<<"$m1")
for i in 1 2 3; do "$bin/zsend" -t 2000 "$REGZONE_REQUESTS" "$(status_json m-$i example.test)" >/dev/null; done
m2=$(metrics)
req_after=$(awk '/^regzone_requests_total\{.*action="status".*code="ok"/ { s += $2 } END { print s + 0 }' <<<"$m2")
check "requests by action and code move with the work ($req_before -> $req_after)" \
  test "$req_after" -ge $((req_before + 3))
check "a publication latency histogram" grep -q '^regzone_publication_seconds_bucket{le="+Inf"}' <<<"$m2"
check "DNS checks counted for both authoritative servers" \
  eval 'grep -q "^regzone_dns_checks_total{server=\"127.0.0.1@$REGZONE_DNS_PORT\",outcome=\"served\"}" <<<"$m2" && grep -q "^regzone_dns_checks_total{server=\"127.0.0.1@$REGZONE_DNS2_PORT\",outcome=\"served\"}" <<<"$m2"'
check "Knot transactions counted" grep -q '^regzone_knot_transactions_total{outcome="committed"} [1-9]' <<<"$m2"
check "database and knotd reachability" eval 'grep -q "^regzone_up{component=\"database\"} 1" <<<"$m2" && grep -q "^regzone_up{component=\"knotd\"} 1" <<<"$m2"'
curl -fsS --max-time 5 -X POST "$REGZONE_METRICS" >/dev/null 2>&1; rc=$?
check "POST is refused" test "$rc" != 0
stop_daemon

summary
((fails == 0))
