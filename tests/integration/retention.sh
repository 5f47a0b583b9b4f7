#!/usr/bin/env bash
# Retention (daemon/retention.c) on the devstack's real PostgreSQL:
#   1. --check refuses events.retention_days below its floor (FILE:LINE:COL)
#      and takes 0 (kept forever);
#   2. rows made by real enables are backdated, and old synthetic rows are
#      added in bulk (events, audit, acme_events: several batches each);
#      regzoned started with short retentions deletes the old rows in
#      batches and keeps the recent ones, the rows a live thing needs (the
#      latest event and the audit lines of a service not settled) and the
#      budget's events inside the longest acme.limits window; of the
#      certificates and orders, only those replaced or finished long ago
#      that nothing names;
#   3. events.retention_days 0 keeps every event; SIGHUP with 7 starts a
#      round that deletes them; the log lines and
#      regzone_retention_deleted_total say what went; the batches read the
#      tables through their indexes (no sequential scan);
#   4. a re-sent request whose event is recent gets its first reply byte for
#      byte; one whose event was trimmed is a new request (the enable is
#      already the desired state: ok, nothing changes, the id is stored
#      again);
#   5. status requests are answered while the rows go (latency as a note);
#      SIGTERM stops the daemon promptly.
# ctest runs it with RZ_SRCDIR, RZ_BINDIR and REGZONE_PORT_BASE (B..B+49).
set -uo pipefail
export REGZONE_CERT_AUTO=false   # DNS only: certificates are certs.sh's
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-24100}
export REGZONE_PORT_BASE=$base
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzret.XXXXXX)
dir=$tmp/stack
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  [ -n "${RZ_KEEP:-}" ] && return; rm -rf "$tmp"
}
trap cleanup EXIT

sql() { psql "$REGZONE_PG" -X -Atc "$1" 2>/dev/null; }
ctl() { "$bin/regzonectl" -c "$REGZONE_CONFIG" "$@"; }
zreq() { "$bin/zsend" -t 10000 "$REGZONE_REQUESTS" "$1"; }
metric() { curl -s "$REGZONE_METRICS" | awk -v k="$1" '$1 == k { print $2 }'; }

if ! "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up: $(tail -5 "$tmp/up.log")"; summary; exit 1
fi
ok "devstack up on port base $base"
# shellcheck disable=SC1091
. "$dir/env"
ctl migrate >/dev/null

# ------------------------------------------------------------ 1. --check
note "1. the floor of events.retention_days"
cfg=$tmp/retention.yaml
cp "$REGZONE_CONFIG" "$cfg"
printf 'audit:\n  retention_days: 2\nevents:\n  retention_days: 7\n' >>"$cfg"
out=$("$bin/regzoned" -c "$cfg" --check 2>&1); rc=$?
check "--check takes audit 2 days, events 7 days ($out)" test "$rc" = 0
low=$tmp/low.yaml
cp "$REGZONE_CONFIG" "$low"
printf 'events:\n  retention_days: 6\n' >>"$low"
line=$(($(wc -l <"$low")))
out=$("$bin/regzoned" -c "$low" --check 2>&1); rc=$?
check "--check refuses events.retention_days 6: exit 1, $low:$line:19 ($out)" \
  eval 'test $rc = 1 && grep -q "^$low:$line:19: .*at least 7" <<<"$out"'
sed -i 's/retention_days: 6/retention_days: 0/' "$low"
out=$("$bin/regzoned" -c "$low" --check 2>&1); rc=$?
check "--check takes events.retention_days 0 (kept forever) ($out)" test "$rc" = 0

# ------------------------------------------- 2. real rows, then old ones
note "2. rows of real enables, backdated; synthetic old and recent rows"
if start_answering "$REGZONE_CONFIG" "$tmp/regzoned.log"; then ok "regzoned answers"; else
  bad "regzoned answers: $(tail -5 "$tmp/regzoned.log")"; summary; exit 1; fi
first_old=$(zreq "$(enable_json ret-old example.test)")
first_new=$(zreq "$(enable_json ret-new example.org.test)")
check "two real enables answered ($first_old)" \
  eval 'grep -q "\"ok\":true" <<<"$first_old" && grep -q "\"ok\":true" <<<"$first_new"'
check "both published" eval 'ctl wait example.test --until published --timeout 60 >/dev/null &&
  ctl wait example.org.test --until published --timeout 60 >/dev/null'
stop_pid "$daemon_pid"
gen_before=$(sql "SELECT generation FROM services WHERE domain = 'example.test'")
real_audit=$(sql "SELECT count(*) FROM audit WHERE domain = 'example.test'")
check "the enable of example.test left audit lines ($real_audit)" test "${real_audit:-0}" -gt 3

# example.test's event and audit lines: a month old.  A service left
# pending (no job: nobody works on it) whose event and audit lines are as
# old: a live thing, kept.  Bulk: 5000 old and 1000 recent events, 20000
# old and 1000 recent audit lines, acme_events 40, 5 and 1 days old.
sql "UPDATE events SET received_at = now() - interval '30 days' WHERE id = 'ret-old';
     UPDATE audit SET at = now() - interval '30 days' WHERE domain = 'example.test';
     INSERT INTO services (domain, service, zone, profile, desired, dns, desired_at)
       VALUES ('pending.example.test', 'xmpp', 'example.test', 'p', 'enabled', 'pending',
               now() - interval '30 days');
     INSERT INTO events (id, received_at, action, service, domain, body_sha256, reply)
       VALUES ('ret-pending', now() - interval '30 days', 'enable', 'xmpp',
               'pending.example.test', 'x', '{}');
     INSERT INTO audit (at, domain, service, kind, message)
       SELECT now() - interval '30 days', 'pending.example.test', 'xmpp', 'event', 'm'
       FROM generate_series(1, 10);
     INSERT INTO events (id, received_at, action, service, domain, body_sha256, reply)
       SELECT 'syn-old-' || g, now() - interval '30 days' + g * interval '1 ms', 'enable',
              'xmpp', 's' || g || '.test', 'x', '{}' FROM generate_series(1, 5000) g;
     INSERT INTO events (id, received_at, action, service, domain, body_sha256, reply)
       SELECT 'syn-new-' || g, now() - interval '6 days', 'enable', 'xmpp',
              's' || g || '.test', 'x', '{}' FROM generate_series(1, 1000) g;
     INSERT INTO audit (at, domain, service, kind, message)
       SELECT now() - interval '3 days' - g * interval '1 ms', 's' || g || '.test', 'xmpp',
              'event', 'old' FROM generate_series(1, 20000) g;
     INSERT INTO audit (at, domain, service, kind, message)
       SELECT now() - interval '1 day', 's' || g || '.test', 'xmpp', 'event', 'new'
       FROM generate_series(1, 1000) g;
     INSERT INTO acme_events (at, kind, domain, reg_domain, names)
       SELECT now() - make_interval(days => d), 'order_created', 's.test', 's.test',
              ARRAY['s.test'] FROM generate_series(1, 3000) g,
              LATERAL (SELECT CASE WHEN g <= 2000 THEN 40 WHEN g <= 2500 THEN 5 ELSE 1 END) x(d);
     ANALYZE events; ANALYZE audit; ANALYZE acme_events;" >/dev/null
# Orders and certificates (ids 900001..4): 1 valid, finished 10 days ago,
# named by certificate 1 only; 2 valid, named by certificate 2; 3 still
# pending; 4 valid, finished long ago, named by a cert job's step data.
# Certificates: 1 expired 10 days ago and replaced by 2 (expired too, but
# example.test's newest); 3 and 4 example.org.test's, 3 replaced by 4 but
# not expired.
sql "INSERT INTO acme_orders (id, domain, service, names, status, created_at, finished_at)
       SELECT 900000 + g, 'example.test', 'xmpp', ARRAY['example.test'],
              CASE g WHEN 3 THEN 'pending' ELSE 'valid' END, now() - interval '100 days',
              CASE g WHEN 3 THEN NULL ELSE now() - interval '10 days' END
       FROM generate_series(1, 4) g;
     INSERT INTO certificates (id, domain, service, order_id, serial, issuer, names, profile,
                               not_before, not_after, chain_pem, created_at)
       SELECT 900000 + g, CASE WHEN g <= 2 THEN 'example.test' ELSE 'example.org.test' END,
              'xmpp', CASE WHEN g <= 2 THEN 900000 + g END, 'serial-' || g, 'test CA',
              ARRAY['x.test'], 'p', now() - interval '100 days',
              now() + CASE g WHEN 1 THEN interval '-10 days' WHEN 2 THEN interval '-5 days'
                             ELSE interval '80 days' END, 'PEM',
              now() - interval '100 days' + g * interval '1 s'
       FROM generate_series(1, 4) g;
     INSERT INTO jobs (domain, service, kind, step, generation, next_attempt_at, state)
       VALUES ('example.test', 'xmpp', 'cert', 'renew', 1, 'infinity', '{\"order_id\": 900004}')
       ON CONFLICT (domain, service, kind) DO UPDATE SET state = EXCLUDED.state,
              next_attempt_at = 'infinity';" >/dev/null
check "orders, certificates and the cert job in place" \
  test "$(sql "SELECT count(*) FROM acme_orders WHERE id > 900000") $(sql "SELECT count(*) FROM certificates WHERE id > 900000")" = "4 4"
count() { sql "SELECT count(*) FROM $1"; }
ev0=$(count events) au0=$(count audit) ac0=$(count acme_events)
note "before: $ev0 events, $au0 audit lines, $ac0 acme_events"
seq0=$(sql "SELECT sum(seq_scan) FROM pg_stat_user_tables WHERE relname IN
            ('events', 'audit', 'acme_events')")
idx0=$(sql "SELECT sum(idx_scan) FROM pg_stat_user_tables WHERE relname IN
            ('events', 'audit', 'acme_events')")

# ------------------------------------------------- 3. the rounds
note "3. regzoned with audit 2 days, events 0 (forever); then events 7 by SIGHUP"
sed -i -e 's/^  retention_days: 7$/  retention_days: 0/' -e 's/^log_level: .*/log_level: debug/' "$cfg"
log=$tmp/retention.log
# Another daemon trimming (its advisory lock held here): the first round,
# 5 s in, is skipped; the lock freed, a SIGHUP starts one.
PGAPPNAME=rz-holder psql "$REGZONE_PG" -X -Atq -c "SELECT pg_advisory_lock(7450128, 0)" \
  -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
holder=$!
pids+=("$holder")
until_ok 10 eval '[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = '"'advisory'"' AND granted")" -ge 1 ]'
if start_answering "$cfg" "$log"; then ok "regzoned answers"; else
  bad "regzoned answers: $(tail -5 "$log")"; summary; exit 1; fi
check "the lock held elsewhere: the round is skipped" \
  until_ok 30 grep -q "retention: another regzoned is trimming: skipped" "$log"
check "... and nothing deleted" \
  eval '! grep -q "retention: deleted" "$log" &&
        test "$(PGOPTIONS="-c enable_seqscan=off" sql "SELECT count(*) FROM audit")" = "$au0"'
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rz-holder'" \
  >/dev/null
wait "$holder" 2>/dev/null
until_ok 10 eval '[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = '"'advisory'"' AND classid = 7450128")" = 0 ]'
kill -HUP "$daemon_pid"
# status requests while that round runs
lat=$tmp/latency
: >"$lat"
(
  end=$((SECONDS + 40))
  while ((SECONDS < end)) && ! grep -q "retention: deleted" "$log"; do
    t=$(date +%s%N)
    r=$("$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json "st-$t" example.test)")
    echo "$(( ($(date +%s%N) - t) / 1000 )) $(grep -c '"ok":true' <<<"$r")" >>"$lat"
  done
) &
sampler=$!
pids+=("$sampler")
check "a round logged what it deleted" until_ok 40 grep -q "retention: deleted" "$log"
wait "$sampler" 2>/dev/null
round1=$(grep -m1 "retention: deleted" "$log")
note "$round1"
batches1=$(sed -n 's/.* in \([0-9]*\) batches.*/\1/p' <<<"$round1")
check "several batches ($batches1: 20009 old audit lines alone need 21 of 1000)" \
  test "${batches1:-0}" -ge 21
# (through an index: the sequential scans of these tables are counted below)
check "events.retention_days 0: no event deleted" \
  test "$(PGOPTIONS='-c enable_seqscan=off' sql "SELECT count(*) FROM events")" = "$ev0"
sed -i 's/^  retention_days: 0$/  retention_days: 7/' "$cfg"
kill -HUP "$daemon_pid"
check "SIGHUP with events.retention_days 7: a round at once deletes events" \
  until_ok 20 eval '[ "$(grep -c "retention: deleted" "$log")" -ge 2 ]'
round2=$(grep "retention: deleted" "$log" | sed -n 2p)
note "$round2"
batches2=$(sed -n 's/.* in \([0-9]*\) batches.*/\1/p' <<<"$round2")
check "several batches ($batches2: 5001 old events need 6 of 1000)" test "${batches2:-0}" -ge 6
# An idle backend's statistics reach the shared ones within 10 s; the
# checks below read the tables themselves, so this comes first.
sleep 11
seq1=$(sql "SELECT sum(seq_scan) FROM pg_stat_user_tables WHERE relname IN
            ('events', 'audit', 'acme_events')")
idx1=$(sql "SELECT sum(idx_scan) FROM pg_stat_user_tables WHERE relname IN
            ('events', 'audit', 'acme_events')")
check "the batches read events, audit and acme_events through indexes: $((idx1 - idx0)) index scans, $((seq1 - seq0)) sequential" \
  test "$((seq1 - seq0))" = 0 -a "$((idx1 - idx0))" -ge "$((batches1 + batches2))"

# what went and what stayed
check "old synthetic events gone" test "$(sql "SELECT count(*) FROM events WHERE id LIKE 'syn-old-%'")" = 0
check "recent synthetic events kept" test "$(sql "SELECT count(*) FROM events WHERE id LIKE 'syn-new-%'")" = 1000
check "example.test's month-old event gone" test "$(sql "SELECT count(*) FROM events WHERE id = 'ret-old'")" = 0
check "example.org.test's recent event kept" test "$(sql "SELECT count(*) FROM events WHERE id = 'ret-new'")" = 1
check "the event of a service still pending kept (a live thing)" \
  test "$(sql "SELECT count(*) FROM events WHERE id = 'ret-pending'")" = 1
check "old audit lines gone (synthetic and example.test's)" \
  test "$(sql "SELECT count(*) FROM audit WHERE message = 'old' OR domain = 'example.test'")" = 0
check "recent audit lines kept" test "$(sql "SELECT count(*) FROM audit WHERE message = 'new'")" = 1000
check "the audit lines of the pending service kept" \
  test "$(sql "SELECT count(*) FROM audit WHERE domain = 'pending.example.test'")" = 10
check "example.org.test's audit lines kept" \
  test "$(sql "SELECT count(*) FROM audit WHERE domain = 'example.org.test'")" -gt 3
ac40=$(sql "SELECT count(*) FROM acme_events WHERE at < now() - interval '30 days'")
ac5=$(sql "SELECT count(*) FROM acme_events WHERE at < now() - interval '4 days'")
check "acme_events: 40 days old gone ($ac40 left), 5 days old kept though audit is 2 days: the 7-day window of acme.limits ($ac5)" \
  test "$ac40" = 0 -a "$ac5" = 500
check "acme_events of a day kept" test "$(count acme_events)" = 1000

ids() { sql "SELECT string_agg((id - 900000)::text, ' ' ORDER BY id) FROM $1 WHERE id > 900000"; }
check "certificates: the one expired and replaced gone; the newest of a service and one not expired kept ($(ids certificates))" \
  test "$(ids certificates)" = "2 3 4"
check "orders: the finished one nothing names gone; those a certificate, the pending one and a cert job names kept ($(ids acme_orders))" \
  test "$(ids acme_orders)" = "2 3 4"
ev1=$(count events) au1=$(count audit) ac1=$(count acme_events)
m_ev=$(metric 'regzone_retention_deleted_total{table="events"}')
m_au=$(metric 'regzone_retention_deleted_total{table="audit"}')
m_ac=$(metric 'regzone_retention_deleted_total{table="acme_events"}')
check "metric events = rows gone ($m_ev = $ev0 - $ev1)" test "${m_ev:-x}" = $((ev0 - ev1))
check "metric audit = rows gone ($m_au = $au0 - $au1 + the lines written since)" \
  test "${m_au:-x}" -ge $((au0 - au1)) -a "${m_au:-0}" -ge 20000
check "metric acme_events = rows gone ($m_ac = $ac0 - $ac1)" test "${m_ac:-x}" = $((ac0 - ac1))
check "metric certificates 1, acme_orders 1" test \
  "$(metric 'regzone_retention_deleted_total{table="certificates"}') $(metric 'regzone_retention_deleted_total{table="acme_orders"}')" = "1 1"
check "the log lines name each table's count" \
  eval 'grep -q "deleted $m_au audit (2 days), $m_ac acme_events (8 days), 1 certificates (2 days), 1 acme_orders (2 days) in" <<<"$round1" &&
        grep -q "deleted $m_ev events (7 days) in" <<<"$round2"'

# ------------------------------------------------- 4. re-sent requests
note "4. re-sent requests"
again_new=$(zreq "$(enable_json ret-new example.org.test)")
check "ret-new (event kept) again: its first reply byte for byte" test "$again_new" = "$first_new"
again_old=$(zreq "$(enable_json ret-old example.test)")
check "ret-old (event trimmed) again: a new request, answered ok with today's state ($again_old)" \
  eval 'grep -q "\"ok\":true" <<<"$again_old" && grep -q "\"dns\":\"published\"" <<<"$again_old" &&
        test "$again_old" != "$first_old"'
check "... which changed nothing (generation $gen_before) and is stored again" \
  eval 'test "$(sql "SELECT generation FROM services WHERE domain = '"'example.test'"'")" = "$gen_before" &&
        test "$(sql "SELECT count(*) FROM events WHERE id = '"'ret-old'"' AND received_at > now() - interval '"'1 hour'"'")" = 1 &&
        sql "SELECT message FROM audit WHERE event_id = '"'ret-old'"'" | grep -q "already the desired state"'
again2=$(zreq "$(enable_json ret-old example.test)")
check "... and from now on answered with that reply" test "$again2" = "$again_old"

# ------------------------------------------------- 5. answered meanwhile
n_lat=$(wc -l <"$lat")
n_ok=$(awk '$2 == 1' "$lat" | wc -l)
check "status requests during the round all answered ok ($n_ok of $n_lat)" \
  test "$n_lat" -gt 0 -a "$n_ok" = "$n_lat"
pct() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%d samples, p50 %.1f ms, max %.1f ms",
  NR, v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'; }
note "status latency while rows went (zsend process included): $(pct "$lat")"
idle=$tmp/idle
for ((i = 0; i < 100; i++)); do
  t=$(date +%s%N)
  "$bin/zsend" -t 5000 "$REGZONE_REQUESTS" "$(status_json "idle-$i" example.test)" >/dev/null
  echo "$(( ($(date +%s%N) - t) / 1000 ))" >>"$idle"
done
note "... and with no round running: $(pct "$idle")"

t=$(date +%s%N)
stop_pid "$daemon_pid"
note "SIGTERM -> exit: $(( ($(date +%s%N) - t) / 1000000 )) ms"
check "regzoned stopped" eval '! kill -0 $daemon_pid 2>/dev/null'
check "no retention error logged" eval '! grep -q "retention: .*again in" "$log"'

summary
((fails == 0))
