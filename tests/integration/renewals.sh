#!/usr/bin/env bash
# Renewals that never storm, the budget side, on the devstack's real
# PostgreSQL, knotd and Pebble: 200 demo zones enabled in one burst with
# acme.limits.new_orders scaled down (20 orders per 15 s), served by TWO
# regzoned on the same database (4 workers each, acme.concurrency 10 each):
#   - while the burst drains, the backlog shows: "list --state waiting" and
#     "list --state ordering" name domains, "status --json" (no DOMAIN) has
#     the budget (new-orders used/max/window) and the orders waiting for it;
#   - no window of 15 s ever holds more than 20 orders, read back from
#     PostgreSQL (acme_events.order_created and acme_orders.created_at, a
#     sliding window over every order's time);
#   - no rateLimited anywhere (acme_orders.problem, either daemon's log);
#   - every domain active in the end with exactly one certificate, and no
#     budget unit left without its order;
#   - acme.renew_window_percent is checked with acme.renew_percent
#     (regzoned --check refuses a window outside 30..95 % of the lifetime).
# Figures (time to drain, orders per window, waits) are printed as notes.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/renewals.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-23000}
export REGZONE_PORT_BASE=$base
export REGZONE_DEMO_ZONES=200
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=200 LIMIT=20 WINDOW=15
tmp=$(mktemp -d /tmp/rzrenew.XXXXXX)
dir=$tmp/stack
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1"; }
# The most rows of the query's times (column t) inside any window of
# WINDOW seconds: for each t, those in (t - WINDOW, t].
most_in_window() {
  sql "with e as ($1) select coalesce(max(c), 0) from (select (select count(*) from e e2
       where e2.t > e1.t - make_interval(secs => $WINDOW) and e2.t <= e1.t) c from e e1) x"
}

# ---------------------------------------------------------------- 1. stack
"$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
# No deploy hook (Prosody reloaded 200 times is not what is measured); the
# new-orders limit scaled down; the other limits as Let's Encrypt's.
sed -i -e '/^  deploy_hook: /d' \
  -e "s|^  revoke_on_disable: false|  revoke_on_disable: false\n  renew_window_percent: 10\n  limits:\n    new_orders: $LIMIT\n    new_orders_window_s: $WINDOW|" \
  "$dir/regzone.yaml"
check "regzone.yaml has the scaled-down limit" grep -q "^    new_orders_window_s: $WINDOW" "$dir/regzone.yaml"

# acme.renew_window_percent against acme.renew_percent
sed -e "s|^  renew_percent: .*|  renew_percent: 90|" -e "s|^  renew_window_percent: .*|  renew_window_percent: 12|" \
  "$dir/regzone.yaml" >"$tmp/bad.yaml"
out=$("$bin/regzoned" -c "$tmp/bad.yaml" --check 2>&1); rc=$?
check "--check refuses renew_window_percent 12 around renew_percent 90 (rc $rc: $out)" \
  eval 'test "$rc" = 1 && grep -q "bad.yaml:[0-9]*:[0-9]*: .*renew_window_percent" <<<"$out"'
sed -e "s|^  renew_window_percent: .*|  renew_window_percent: 41|" "$dir/regzone.yaml" >"$tmp/bad2.yaml"
check "--check refuses renew_window_percent 41" eval '! "$bin/regzoned" -c "$tmp/bad2.yaml" --check >/dev/null 2>&1'
sed -e "s|^  renew_percent: .*|  renew_percent: 90|" -e "s|^  renew_window_percent: .*|  renew_window_percent: 10|" \
  "$dir/regzone.yaml" >"$tmp/good.yaml"
check "--check takes renew_window_percent 10 around renew_percent 90" \
  eval '"$bin/regzoned" -c "$tmp/good.yaml" --check >/dev/null 2>&1'

ctl migrate >/dev/null || { echo "FAIL - migrate"; exit 1; }
# Daemon B: the same database, its own sockets, no metrics port.
mkdir -m 0700 "$tmp/run-b"
EP2="ipc://$tmp/run-b/requests"
sed -e "/^  requests:/s|: .*|: \"$EP2\"|" -e "/^  feed:/s|: .*|: \"ipc://$tmp/run-b/feed\"|" \
  "$dir/regzone.yaml" >"$tmp/b.yaml"
without_metrics "$tmp/b.yaml"
check "daemon A answers" start_answering "$dir/regzone.yaml" "$tmp/a.log"
check "daemon B answers" start_answering "$tmp/b.yaml" "$tmp/b.log" "$EP2"

# ---------------------------------------------------------------- 2. the burst
: >"$tmp/enables"
for i in $(seq 1 $N); do enable_json "burst-$i" "$(printf 'z%05d.test' "$i")" >>"$tmp/enables"; echo >>"$tmp/enables"; done
t1=$SECONDS
check "$N enables answered in one burst" "$bin/zsend" -t 60000 -m "$tmp/enables" "$REGZONE_REQUESTS" >"$tmp/replies" 2>"$tmp/zsend.err"
note "$(cat "$tmp/zsend.err")"
check "every enable acknowledged ok" test "$(grep -c '"ok":true' "$tmp/replies")" = "$N"

# The backlog while it drains: waiting orders, listed and counted.
seen_waiting=0 seen_ordering=0 status_ok=0 peak_wait=0
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
  w=$(ctl list --state waiting 2>/dev/null | tail -n +2 | grep -c '^z')
  o=$(ctl list --state ordering 2>/dev/null | tail -n +2 | grep -c '^z')
  ((w > seen_waiting)) && seen_waiting=$w
  ((o > seen_ordering)) && seen_ordering=$o
  js=$(ctl status --json 2>/dev/null)
  if grep -q "\"limit\":\"new-orders\"" <<<"$js" && grep -q "\"max\":$LIMIT" <<<"$js" &&
     grep -q "\"window_s\":$WINDOW" <<<"$js"; then
    tw=$(grep -o '"waiting_for_budget":{[^}]*}' <<<"$js" | grep -o '"total":[0-9]*' | cut -d: -f2)
    [ -n "$tw" ] && ((tw > peak_wait)) && peak_wait=$tw && status_ok=1 && cp <(printf '%s\n' "$js") "$tmp/status.json"
  fi
  ((seen_waiting > 0 && seen_ordering > 0 && peak_wait > 0)) && break
  sleep 1
done
check "list --state waiting names orders held back by the budget (most seen: $seen_waiting)" test "$seen_waiting" -gt 0
check "list --state ordering names the first certificates being ordered (most seen: $seen_ordering)" test "$seen_ordering" -gt 0
check "status (no DOMAIN) shows the new-orders budget and the orders waiting for it (most: $peak_wait)" \
  test "$status_ok" = 1 -a "$peak_wait" -gt 0
ctl status >"$tmp/status.txt" 2>&1
check "status prints the budget for people ($(grep -E '^(budget new-orders|orders waiting)' "$tmp/status.txt" | tr '\n' ';'))" \
  eval 'grep -Eq "^budget new-orders +[0-9]+/$LIMIT per $WINDOW s, per account" "$tmp/status.txt" &&
        grep -q "^orders waiting for the budget: [0-9]* (urgent [0-9]*, first [0-9]*, renewal [0-9]*)" "$tmp/status.txt"'

# ---------------------------------------------------------------- 3. drained
active=0
deadline=$((SECONDS + 420))
while ((SECONDS < deadline)); do
  active=$(sql "select count(*) from services where domain like 'z%' and active")
  ((active >= N)) && break
  sleep 2
done
drain=$((SECONDS - t1))
check "all $N domains active in the end ($active after $drain s)" test "$active" = "$N"
check "each has exactly one certificate" \
  test "$(sql "select count(*) from (select domain from certificates where domain like 'z%' group by domain having count(*) = 1) x")" = "$N"
orders=$(sql "select count(*) from acme_orders where domain like 'z%'")
note "$orders orders for $N domains in $drain s; the limit allows $LIMIT per $WINDOW s: at least $(( (N + LIMIT - 1) / LIMIT - 1 )) windows after the first"
check "no order abandoned or made twice ($orders orders)" test "$orders" = "$N"
most_ev=$(most_in_window "select at t from acme_events where kind = 'order_created'")
most_ord=$(most_in_window "select created_at t from acme_orders")
check "no $WINDOW s window holds more than $LIMIT budget events (most: $most_ev)" test "$most_ev" -le "$LIMIT"
check "no $WINDOW s window holds more than $LIMIT orders stored (most: $most_ord)" test "$most_ord" -le "$LIMIT"
check "the limit was used (a window reached $LIMIT: $most_ev)" test "$most_ev" = "$LIMIT"
a_did=$(grep -c "acme: order " "$tmp/a.log") b_did=$(grep -c "acme: order " "$tmp/b.log")
check "both daemons made orders (A $a_did, B $b_did)" test "$a_did" -gt 0 -a "$b_did" -gt 0
rl=$(sql "select count(*) from acme_orders where problem::text like '%rateLimited%'")
check "no rateLimited problem stored ($rl)" test "$rl" = 0
check "no rateLimited in either log" eval '! grep -qi "ratelimited" "$tmp/a.log" "$tmp/b.log"'
check "no budget unit left without its order" \
  test "$(sql "select count(*) from acme_events where kind = 'order_created' and order_id is null")" = 0
waits=$(sql "select count(*) from audit where kind = 'wait' and message like 'certificate: waiting for the rate-limit budget (new-orders%'")
claims=$(sql "select sum(claims) from jobs where kind = 'cert' and domain like 'z%'")
note "orders that waited for the budget: $waits; cert job claims: $claims ($((claims / N)) per domain)"
per=$(sql "select string_agg(c::text, ' ' order by w) from (select floor(extract(epoch from at - (select min(at) from acme_events))/$WINDOW) w, count(*) c from acme_events where kind = 'order_created' group by 1) x")
note "orders per $WINDOW s window from the first: $per"
check "after the burst, nothing waits for the budget" test "$(ctl list --state waiting | tail -n +2 | grep -c '^z')" = 0

summary
[ "$fails" = 0 ]
