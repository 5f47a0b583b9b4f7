#!/usr/bin/env bash
# Certificates end to end, on the devstack's real PostgreSQL, knotd (primary
# + secondary) and Pebble (its default 5% badNonce on): enable -> active with
# a certificate that verifies against Pebble's root, SANs exactly the
# profile's names, the key 0600 in a 0700 directory and matching; no
# _acme-challenge left on either server; renew -> a new serial and the hook
# again; kill -9 in the middle of an order -> the same order resumed after
# a restart, one certificate, nothing left in the zone; a name the CA refuses
# (blocked.test) -> failed with rejectedIdentifier, nothing in the zone,
# the others unaffected; 20 domains at once all active.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/certs.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-21500}
export REGZONE_PORT_BASE=$base
export REGZONE_DEMO_ZONES=20
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzcerts.XXXXXX)
dir=$tmp/stack
daemon_pid=
pebble_pid() { pgrep -f "pebble -config $dir/pebble/pebble.json" | head -n1; }
cleanup() {
  local p
  p=$(pebble_pid); [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
  stop_pid "$daemon_pid"
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1"; }
dig_short() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 +short "$2" "$3" 2>/dev/null; }
# The daemon starts with fds 0-2 only (whatever this shell holds), so that
# every other fd it has is one it opened itself.
start_daemon() {
  (
    for f in /proc/$BASHPID/fd/*; do
      n=${f##*/}; ((n > 2)) && eval "exec $n>&-"
    done
    exec "$bin/regzoned" -c "$dir/regzone.yaml"
  ) </dev/null >>"$tmp/regzoned.log" 2>&1 &
  daemon_pid=$!
}
# fds_cloexec PID: every fd above 2 of the process is close-on-exec.  A
# library's fd in the middle of a step (before the daemon's sweep) is
# transient: only one seen in two looks 0.5 s apart counts.
no_cloexec() {
  local f n fl
  for f in /proc/"$1"/fdinfo/*; do
    n=${f##*/}; ((n > 2)) || continue
    fl=$(awk '/^flags:/ {print $2}' "$f" 2>/dev/null) || continue
    [ -n "$fl" ] || continue
    (( (8#$fl & 02000000) != 0 )) || echo "$n:$(readlink "/proc/$1/fd/$n")"
  done
}
fds_cloexec() {
  local a b bad
  a=$(no_cloexec "$1" | sort); sleep 0.5; b=$(no_cloexec "$1" | sort)
  bad=$(comm -12 <(printf '%s\n' "$a") <(printf '%s\n' "$b") | grep . | tr '\n' ' ')
  [ -z "$bad" ] || { echo "# not close-on-exec: $bad" >&2; return 1; }
}
# no_challenge DOMAIN...: no _acme-challenge TXT for any certificate name of
# the domains on either server, and no live acme row in the ledger.
no_challenge() {
  local d p name got rc=0
  for d in "$@"; do
    for name in "$d" "conference.$d" "proxy.$d" "share.$d"; do
      for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
        got=$(dig_short "$p" "_acme-challenge.$name" TXT)
        if [ -n "$got" ]; then echo "# port $p: _acme-challenge.$name TXT $got" >&2; rc=1; fi
      done
    done
    got=$(sql "select count(*) from published_records where domain = '$d' and purpose = 'acme' and removed_at is null")
    [ "$got" = 0 ] || { echo "# $d: $got live acme ledger rows" >&2; rc=1; }
  done
  return $rc
}
cert_field() { sql "select $2 from certificates where domain = '$1' and revoked_at is null order by id desc limit 1"; }
# leaf/chain of DOMAIN's fullchain.pem split into $tmp/leaf.pem, $tmp/chain.pem
split_chain() {
  awk -v l="$tmp/leaf.pem" -v c="$tmp/chain.pem" 'BEGIN { n = 0 } /BEGIN CERTIFICATE/ { n++ }
    { if (n == 1) print > l; else print > c }' "$REGZONE_CERT_DIR/$1/fullchain.pem"
}
sans() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr ',' '\n' | sed 's/^DNS://' | sort | tr '\n' ' '; }
perm() { stat -L -c %a "$1"; }

# ---------------------------------------------------------------- 1. stack
REGZONE_DEVSTACK_DEFAULT_PROFILE=xmpp "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
cat >"$tmp/hook.sh" <<EOF
#!/bin/sh
if [ -e "$tmp/hook-fail" ]; then echo "hook: refusing \$REGZONE_DOMAIN"; exit 3; fi
if [ -e "$tmp/hook-slow" ] && [ "\$REGZONE_ACTION" = remove ]; then sleep 3; fi
echo "\$REGZONE_ACTION \$REGZONE_DOMAIN \$REGZONE_CERT_DIR" >>"$tmp/hook.log"
env | sort >"$tmp/hook.env.\$REGZONE_DOMAIN"
echo "hook: \$REGZONE_ACTION \$REGZONE_DOMAIN"
EOF
chmod 0755 "$tmp/hook.sh"
# The operator's mode on certificates.dir: regzone never changes it.
chmod 0751 "$REGZONE_CERT_DIR"
# The devstack's hook (reloading its Prosody) gives way to the test's own.
# Without certificates.group (the devstack sets Prosody's): 0700 and 0600.
sed -i -e "s|^  deploy_hook: .*|  deploy_hook: \"$tmp/hook.sh\"|" -e '/^  group: /d' \
  -e "s|^  hook_timeout_s: .*|  hook_timeout_s: 60\\n  hook_max_failures: 2|" "$dir/regzone.yaml"
grep -q "^  deploy_hook: \"$tmp/hook.sh\"" "$dir/regzone.yaml" || { echo "FAIL - the test's hook is not in regzone.yaml"; exit 1; }
ctl migrate >/dev/null || { echo "FAIL - migrate"; exit 1; }
start_daemon

# ---------------------------------------------------------------- 2. enable -> active
ctl enable example.test >/dev/null
out=$(ctl wait example.test --until active --timeout 60 --json 2>&1); rc=$?
check "example.test active within 60 s ($out)" test "$rc" = 0
out=$(ctl status example.test --json 2>&1)
check "status: certificate issued with serial and not_after ($out)" \
  grep -q '"state":"issued"' <<<"$out"
d=$REGZONE_CERT_DIR/example.test
check "fullchain.pem and privkey.pem present" test -s "$d/fullchain.pem" -a -s "$d/privkey.pem"
check "privkey.pem is 0600 ($(perm "$d/privkey.pem"))" test "$(perm "$d/privkey.pem")" = 600
check "the domain's directory is 0700 ($(perm "$d"))" test "$(perm "$d")" = 700
check "it is a link to the certificate's generation ($(readlink "$d"))" \
  test "$(readlink "$d")" = ".example.test.d/$(cert_field example.test serial)"
check "the hook's environment: REGZONE_DOMAIN, _SERVICE, _CERT_DIR, _ACTION, PATH; no database settings" \
  eval 'grep -qx "REGZONE_SERVICE=xmpp" "$tmp/hook.env.example.test" &&
        grep -qx "REGZONE_CERT_DIR=$d" "$tmp/hook.env.example.test" &&
        grep -q "^PATH=" "$tmp/hook.env.example.test" &&
        ! grep -qE "^(REGZONE_PG|REGZONE_CONFIG|PGPASSWORD|PGHOST|HOME)=" "$tmp/hook.env.example.test" &&
        test "$(grep -c "^REGZONE_" "$tmp/hook.env.example.test")" = 4'
check "certificates.dir keeps the operator's mode 0751 ($(stat -c %a "$REGZONE_CERT_DIR"))" \
  test "$(stat -c %a "$REGZONE_CERT_DIR")" = 751
split_chain example.test
check "the chain verifies against Pebble's root" \
  openssl verify -CAfile "$REGZONE_ACME_ROOTS" -untrusted "$tmp/chain.pem" "$tmp/leaf.pem"
want="conference.example.test example.test proxy.example.test share.example.test "
got=$(sans "$tmp/leaf.pem")
check "SANs are exactly the profile's certificate names ($got)" test "$got" = "$want"
check "the key matches the certificate" \
  cmp -s <(openssl x509 -in "$tmp/leaf.pem" -noout -pubkey) <(openssl pkey -in "$d/privkey.pem" -pubout)
check "serial in PostgreSQL is the certificate's" \
  test "$(cert_field example.test serial)" = "$(openssl x509 -in "$tmp/leaf.pem" -noout -serial | cut -d= -f2)"
check "no _acme-challenge left on either server" no_challenge example.test
check "the deploy hook ran once for example.test" \
  test "$(grep -c '^deploy example.test ' "$tmp/hook.log" 2>/dev/null)" = 1
check "the hook's exit status and output are in the audit trail" \
  test -n "$(sql "select 1 from audit where domain = 'example.test' and kind = 'hook' and message like '%exited 0%hook: deploy example.test%'")"
check "regzonectl logs shows the ACME steps" \
  grep -q 'challenges answered' <(ctl logs example.test 2>&1)

# ---------------------------------------------------------------- 3. renew
serial1=$(cert_field example.test serial)
out=$(ctl renew example.test 2>&1); rc=$?
check "regzonectl renew accepted ($out)" test "$rc" = 0
deadline=$((SECONDS + 60))
while [ "$(cert_field example.test serial)" = "$serial1" ] && ((SECONDS < deadline)); do sleep 0.2; done
while [ "$(grep -c '^deploy example.test ' "$tmp/hook.log")" -lt 2 ] && ((SECONDS < deadline)); do sleep 0.2; done
serial2=$(cert_field example.test serial)
check "renew: a new serial ($serial1 -> $serial2)" test -n "$serial2" -a "$serial2" != "$serial1"
check "renew: the hook ran again" test "$(grep -c '^deploy example.test ' "$tmp/hook.log")" = 2
split_chain example.test
check "renew: the files carry the new certificate" \
  test "$(openssl x509 -in "$tmp/leaf.pem" -noout -serial | cut -d= -f2)" = "$serial2"
check "renew: key matches, still 0600" \
  cmp -s <(openssl x509 -in "$tmp/leaf.pem" -noout -pubkey) <(openssl pkey -in "$d/privkey.pem" -pubout)
out=$(ctl wait example.test --until active --timeout 30 2>&1); rc=$?
check "renew: still active ($out)" test "$rc" = 0
check "renew: no _acme-challenge left" no_challenge example.test

# ---------------------------------------------------------------- 4. kill -9 during the order
# Pebble is stopped (SIGSTOP) as soon as the order exists, so the daemon
# is caught mid-order; it is killed, Pebble continued, the daemon restarted.
pp=$(pebble_pid)
check "found Pebble's pid" test -n "$pp"
dom=example.org.test caught=no
for try in 1 2 3 4 5; do
  n0=$(sql "select count(*) from acme_orders where domain = '$dom'")
  if [ "$try" = 1 ]; then ctl enable "$dom" >/dev/null; else ctl renew "$dom" >/dev/null; fi
  deadline=$((SECONDS + 30))
  while [ "$(sql "select count(*) from acme_orders where domain = '$dom'")" = "$n0" ] &&
        ((SECONDS < deadline)); do :; done
  kill -STOP "$pp"
  state=$(sql "select cert_state from services where domain = '$dom'")
  if [ "$state" = ordering ] || [ "$state" = renewing ]; then caught=$try; break; fi
  kill -CONT "$pp"
  note "try $try: $dom was $state before Pebble could be stopped; again with a renewal"
  ctl wait "$dom" --until active --timeout 30 >/dev/null 2>&1
done
check "an order of $dom caught in flight (try $caught)" test "$caught" != no
if [ "$caught" != no ]; then
  n1=$(sql "select count(*) from acme_orders where domain = '$dom'")
  url1=$(sql "select order_url from acme_orders where domain = '$dom' order by id desc limit 1")
  step=$(sql "select step from jobs where domain = '$dom' and kind = 'cert'")
  note "kill -9 with the cert job of $dom at step '$step', order $url1"
  kill -KILL "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
  kill -CONT "$pp"
  start_daemon
  out=$(ctl wait "$dom" --until active --timeout 90 2>&1); rc=$?
  deadline=$((SECONDS + 30))
  while [ "$(sql "select cert_state from services where domain = '$dom'")" != issued ] &&
        ((SECONDS < deadline)); do sleep 0.2; done
  check "$dom active and issued after the restart ($out)" \
    test "$rc" = 0 -a "$(sql "select cert_state from services where domain = '$dom'")" = issued
  check "the same order resumed: order count unchanged ($n1), newest order the same" \
    test "$(sql "select count(*) from acme_orders where domain = '$dom'") $(sql "select order_url from acme_orders where domain = '$dom' order by id desc limit 1")" = "$n1 $url1"
  check "one certificate per order for $dom" \
    test "$(sql "select count(*) from certificates where domain = '$dom'")" = "$n1"
  check "no _acme-challenge left for $dom" no_challenge "$dom"
fi
kill -CONT "$pp" 2>/dev/null

# ---------------------------------------------------------------- 5. refused by the CA
serial_before=$(cert_field example.test serial)
ctl enable blocked.test >/dev/null
out=$(ctl wait blocked.test --until failed --timeout 60 2>&1); rc=$?
st=$(ctl status blocked.test --json 2>&1)
check "blocked.test: certificate failed ($rc: $st)" grep -q '"state":"failed"' <<<"$st"
check "blocked.test: last_error carries rejectedIdentifier" grep -q 'rejectedIdentifier' <<<"$st"
check "blocked.test: nothing left in the zone" no_challenge blocked.test
check "blocked.test: no certificate files" test ! -e "$REGZONE_CERT_DIR/blocked.test/fullchain.pem"
ctl retry blocked.test >/dev/null 2>&1
deadline=$((SECONDS + 30))
until [ -n "$(sql "select 1 from audit where domain = 'blocked.test' and message like 'certificate: a new order after the failure%'")" ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
out=$(ctl wait blocked.test --until failed --timeout 30 2>&1); rc=$?
check "blocked.test: regzonectl retry orders again, and fails again ($rc)" \
  test -n "$(sql "select 1 from audit where domain = 'blocked.test' and message like 'certificate: a new order after the failure%'")" -a "$rc" = 0
check "blocked.test: still nothing in the zone" no_challenge blocked.test
check "example.test unaffected (same serial, active)" \
  test "$(cert_field example.test serial)" = "$serial_before" -a \
       "$(sql "select active from services where domain = 'example.test'")" = t

# ---------------------------------------------------------------- 6. 20 domains at once
doms=()
for i in $(seq 1 20); do doms+=("$(printf 'z%05d.test' "$i")"); done
for dd in "${doms[@]}"; do ctl enable "$dd" >/dev/null & done
enablers=$(jobs -p | grep -vx "$daemon_pid")
for j in $enablers; do wait "$j"; done
t1=$SECONDS all=1
for dd in "${doms[@]}"; do
  ctl wait "$dd" --until active --timeout 120 >/dev/null 2>&1 || { all=0; note "$dd not active"; }
done
check "20 domains enabled at once are all active ($((SECONDS - t1)) s)" test "$all" = 1
check "each of them has exactly one certificate" \
  test "$(sql "select count(*) from (select domain from certificates where domain like 'z000%' group by domain having count(*) = 1) x")" = 20
check "no _acme-challenge left for any of them" no_challenge "${doms[@]}"
check "every fd regzoned opened is close-on-exec ($(ls /proc/$daemon_pid/fd | wc -l) fds)" fds_cloexec "$daemon_pid"

# A profile with other certificate names: the next certificate carries them.
ctl enable z00004.test --profile xmpp-verified --param token=t0k3n >/dev/null
deadline=$((SECONDS + 60))
until [ "$(sql "select array_to_string(array(select unnest(names) order by 1), ' ') from certificates where domain = 'z00004.test' order by id desc limit 1")" = "conference.z00004.test proxy.z00004.test upload.z00004.test z00004.test" ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
deadline=$((SECONDS + 30))
while [ "$(sql "select cert_state from services where domain = 'z00004.test'")" != issued ] &&
      ((SECONDS < deadline)); do sleep 0.2; done
split_chain z00004.test
got=$(sans "$tmp/leaf.pem")
check "profile changed: the new certificate carries the new profile's names ($got)" \
  test "$got" = "conference.z00004.test proxy.z00004.test upload.z00004.test z00004.test "
check "profile changed: issued, no _acme-challenge left" \
  test "$(sql "select cert_state from services where domain = 'z00004.test'")" = issued
for name in z00004.test upload.z00004.test; do
  check "no _acme-challenge.$name left" test -z "$(dig_short "$REGZONE_DNS_PORT" "_acme-challenge.$name" TXT)"
done

# A failing hook: audited with its status and output, retried with backoff;
# the new certificate is in place meanwhile.
dom=z00005.test serial_h=$(cert_field z00005.test serial)
touch "$tmp/hook-fail"
ctl renew "$dom" >/dev/null
deadline=$((SECONDS + 30))
until [ -n "$(sql "select 1 from audit where domain = '$dom' and kind = 'hook' and message like '%exited 3%refusing $dom%'")" ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "a failing hook is in the audit trail with its status and output" \
  test -n "$(sql "select 1 from audit where domain = '$dom' and kind = 'hook' and message like '%exited 3%refusing $dom%'")"
split_chain "$dom"
check "the new certificate stays in place while the hook fails" \
  test "$(openssl x509 -in "$tmp/leaf.pem" -noout -serial | cut -d= -f2)" = "$(cert_field "$dom" serial)" -a \
       "$(cert_field "$dom" serial)" != "$serial_h"
check "the deploy step is retried later (backoff)" \
  test "$(sql "select step || ' ' || (attempts > 0) || ' ' || (next_attempt_at > now()) from jobs where domain = '$dom' and kind = 'cert'")" = "deploy true true"
# hook_max_failures: 2 here: the second failure in a row ends in "failed",
# with the hook's output, instead of retrying forever.
deadline=$((SECONDS + 40))
until [ "$(sql "select cert_state from services where domain = '$dom'")" = failed ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "a hook that keeps failing ends in 'failed' with its output ($(sql "select cert_state || ': ' || coalesce(last_error, '') from services where domain = '$dom'"))" \
  test -n "$(sql "select 1 from services where domain = '$dom' and cert_state = 'failed' and last_error like '%deploy hook exited 3 (failure 2 of 2)%refusing $dom%'")"
check "... and is not retried any more (parked)" \
  test "$(sql "select step || ' ' || (next_attempt_at = 'infinity') from jobs where domain = '$dom' and kind = 'cert'")" = "deploy true"
rm -f "$tmp/hook-fail"
ctl retry "$dom" >/dev/null
deadline=$((SECONDS + 40))
while [ "$(sql "select cert_state from services where domain = '$dom'")" != issued ] &&
      ((SECONDS < deadline)); do sleep 0.2; done
check "regzonectl retry runs the hook again: issued with the same certificate ($(sql "select cert_state || ' ' || coalesce(last_error, '') from services where domain = '$dom'"))" \
  test "$(sql "select cert_state from services where domain = '$dom'")" = issued -a \
       -n "$(grep "^deploy $dom " "$tmp/hook.log")" -a \
       "$(sql "select count(*) from certificates where domain = '$dom' and serial <> '$serial_h'")" = 1

# ---------------------------------------------------------------- 6a. the CA restarted mid-order
# Pebble keeps everything in memory: killed and started again, it knows
# neither the account nor the order.  The job registers again, cleans up
# and makes a new order; nothing is left in the zone.
pp=$(pebble_pid)
mapfile -d '' pargv <"/proc/$pp/cmdline"
dom=z00003.test serial_a=$(cert_field z00003.test serial) caught=no
for try in 1 2 3 4 5; do
  n0=$(sql "select count(*) from acme_orders where domain = '$dom'")
  ctl renew "$dom" >/dev/null
  deadline=$((SECONDS + 30))
  while [ "$(sql "select count(*) from acme_orders where domain = '$dom'")" = "$n0" ] &&
        ((SECONDS < deadline)); do :; done
  kill -STOP "$pp"
  if [ "$(sql "select cert_state from services where domain = '$dom'")" = renewing ]; then caught=$try; break; fi
  kill -CONT "$pp"
  ctl wait "$dom" --until active --timeout 30 >/dev/null 2>&1
done
check "a renewal of $dom caught in flight (try $caught)" test "$caught" != no
kill -KILL "$pp"; kill -CONT "$pp" 2>/dev/null
sleep 1
setsid env PEBBLE_VA_NOSLEEP=1 "${pargv[@]}" </dev/null >>"$dir/pebble/pebble.log" 2>&1 &
echo $! >"$dir/pids/pebble.pid"
deadline=$((SECONDS + 20))
until curl -fsS --max-time 2 --cacert "$REGZONE_ACME_CA" "$REGZONE_ACME_DIRECTORY" >/dev/null 2>&1 ||
      ((SECONDS >= deadline)); do sleep 0.1; done
deadline=$((SECONDS + 90))
while [ "$(cert_field "$dom" serial)" = "$serial_a" ] && ((SECONDS < deadline)); do sleep 0.2; done
check "after the CA's restart $dom got a new certificate ($serial_a -> $(cert_field "$dom" serial)): $(sql "select step || ' ' || coalesce(last_error, '') from jobs where domain = '$dom' and kind = 'cert'")" \
  test "$(cert_field "$dom" serial)" != "$serial_a"
# the new row is written at download; cleanup and the hook come after it
deadline=$((SECONDS + 30))
while [ "$(sql "select cert_state from services where domain = '$dom'")" != issued ] &&
      ((SECONDS < deadline)); do sleep 0.2; done
check "$dom issued and active again" \
  test "$(sql "select cert_state || ' ' || active from services where domain = '$dom'")" = "issued true"
check "the lost order is marked abandoned" \
  test "$(sql "select count(*) from acme_orders where domain = '$dom' and status = 'abandoned'")" -ge 1
check "no _acme-challenge left for $dom" no_challenge "$dom"

# ---------------------------------------------------------------- 6a'. enabled again during the removal
# The removal (its hook made slow) is still running when the domain is
# enabled again and its records are published: the certificate job must
# not stay parked without a certificate.
dom=z00006.test
touch "$tmp/hook-slow"
ctl disable "$dom" >/dev/null
removing() { test -n "$(sql "select 1 from jobs where domain = '$dom' and kind = 'cert' and step = 'remove' and claimed_pid is not null")"; }
deadline=$((SECONDS + 20))
until removing || ((SECONDS >= deadline)); do sleep 0.05; done
check "$dom: the certificate's removal is running" removing
serial_e=$(cert_field "$dom" serial)
ctl enable "$dom" >/dev/null
rm -f "$tmp/hook-slow"
deadline=$((SECONDS + 20))
while removing && ((SECONDS < deadline)); do sleep 0.1; done
renewed() {
  test "$(sql "select cert_state || ' ' || active from services where domain = '$dom'")" = "issued true" -a \
       -s "$REGZONE_CERT_DIR/$dom/privkey.pem" -a "$(cert_field "$dom" serial)" != "$serial_e"
}
deadline=$((SECONDS + 60))
until renewed || ((SECONDS >= deadline)); do sleep 0.2; done
check "$dom enabled again during the removal: a new certificate after it ($serial_e -> $(cert_field "$dom" serial); $(sql "select dns || ' ' || cert_state || ' ' || active from services where domain = '$dom'"); job $(sql "select step || ' ' || next_attempt_at from jobs where domain = '$dom' and kind = 'cert'"))" \
  renewed

# ---------------------------------------------------------------- 6b. budget, retry
# "regzonectl retry" of an issued domain does not renew it (not due yet).
serial_r=$(cert_field z00002.test serial)
ctl retry z00002.test >/dev/null 2>&1
sleep 1
check "retry of an issued domain keeps its certificate ($serial_r)" \
  test "$(cert_field z00002.test serial)" = "$serial_r" -a \
       "$(sql "select step || ' ' || (next_attempt_at > now() + interval '1 day') from jobs where domain = 'z00002.test' and kind = 'cert'")" = "renew true"
# acme.concurrency 1: orders waiting for the slot are woken when it frees,
# not polled (each looks at the limit a couple of times, not every second).
stop_pid "$daemon_pid"
cp "$dir/regzone.yaml" "$tmp/regzone.yaml.orig"
sed -i 's/^  concurrency: .*/  concurrency: 1/' "$dir/regzone.yaml"
start_daemon
slot_doms=(z00009.test z00010.test z00011.test z00012.test)
declare -A slot_serial=()
for dd in "${slot_doms[@]}"; do slot_serial[$dd]=$(cert_field "$dd" serial); done
renewers=()
for dd in "${slot_doms[@]}"; do ctl renew "$dd" >/dev/null & renewers+=($!); done
for j in "${renewers[@]}"; do wait "$j"; done
renewed_all() {
  local dd
  for dd in "${slot_doms[@]}"; do
    [ "$(cert_field "$dd" serial)" != "${slot_serial[$dd]}" ] || return 1
    [ "$(sql "select cert_state from services where domain = '$dd'")" = issued ] || return 1
  done
}
deadline=$((SECONDS + 90))
until renewed_all || ((SECONDS >= deadline)); do sleep 0.3; done
check "concurrency 1: the 4 renewals all got a new certificate" renewed_all
looks=$(sql "select coalesce(max(substring(message from 'after ([0-9]+) looks')::int), 0) || ' ' || count(*) from audit where kind = 'wait' and message like 'acme: an order slot freed%' and domain in ('z00009.test', 'z00010.test', 'z00011.test', 'z00012.test')")
check "concurrency 1: the waiting orders were woken, not polled (most looks, waits: $looks)" \
  test "${looks%% *}" -ge 2 -a "${looks%% *}" -le 3 -a "${looks##* }" -ge 2
# certs_per_domain counts registered domains (the Public Suffix List):
# sub.z00013.test shares z00013.test's, which has a certificate already.
stop_pid "$daemon_pid"
cp "$tmp/regzone.yaml.orig" "$dir/regzone.yaml"
sed -i "s|^  revoke_on_disable: false|  revoke_on_disable: false\n  limits:\n    certs_per_domain: 1|" "$dir/regzone.yaml"
start_daemon
orders=$(sql "select count(*) from acme_orders")
ctl enable sub.z00013.test >/dev/null
deadline=$((SECONDS + 30))
until [ -n "$(sql "select 1 from jobs where domain = 'sub.z00013.test' and kind = 'cert' and last_error like '%rate-limit budget (certs-per-domain%'")" ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "certs_per_domain 1: sub.z00013.test waits for its registered domain's budget ($(sql "select step || ': ' || coalesce(last_error, '') from jobs where domain = 'sub.z00013.test' and kind = 'cert'"))" \
  test -n "$(sql "select 1 from jobs where domain = 'sub.z00013.test' and kind = 'cert' and step = 'order' and last_error like '%rate-limit budget (certs-per-domain, 1 counted)%'")"
check "... and no order was made for it" test "$(sql "select count(*) from acme_orders")" = "$orders"
ctl disable sub.z00013.test >/dev/null
cp "$tmp/regzone.yaml.orig" "$dir/regzone.yaml"

# Over the new-orders budget (acme.limits), a renewal waits instead of ordering.
stop_pid "$daemon_pid"
used=$(sql "select count(*) from acme_events where kind = 'order_created'")
sed -i "s|^  revoke_on_disable: false|  revoke_on_disable: true\n  limits:\n    new_orders: $used|" "$dir/regzone.yaml"
start_daemon
orders=$(sql "select count(*) from acme_orders")
ctl renew z00001.test >/dev/null
deadline=$((SECONDS + 20))
until [ -n "$(sql "select 1 from jobs where domain = 'z00001.test' and kind = 'cert' and last_error like '%rate-limit budget (new-orders%'")" ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "over the budget: the renewal waits for it ($(sql "select step || ': ' || coalesce(last_error, '') from jobs where domain = 'z00001.test' and kind = 'cert'"))" \
  test -n "$(sql "select 1 from jobs where domain = 'z00001.test' and kind = 'cert' and step = 'order' and next_attempt_at > now() + interval '1 minute' and last_error like '%rate-limit budget (new-orders%'")"
check "over the budget: no new order at the CA" test "$(sql "select count(*) from acme_orders")" = "$orders"
check "over the budget: the old certificate still serves (renewing, active)" \
  test "$(sql "select cert_state || ' ' || active from services where domain = 'z00001.test'")" = "renewing true"

# ---------------------------------------------------------------- 7. disable
ctl disable example.test >/dev/null
deadline=$((SECONDS + 30))
while [ -e "$d/fullchain.pem" ] && ((SECONDS < deadline)); do sleep 0.2; done
check "disable: certificate files removed" test ! -e "$d/fullchain.pem" -a ! -e "$d/privkey.pem"
check "disable: the hook was told (REGZONE_ACTION=remove)" grep -q '^remove example.test ' "$tmp/hook.log"
check "disable: certificate state none, inactive" \
  test "$(sql "select cert_state || ' ' || active from services where domain = 'example.test'")" = "none false"
# z00003.test's certificate comes from the restarted Pebble (example.test's
# issuer is gone with the old instance): revoked on disable.
ctl disable z00003.test >/dev/null
deadline=$((SECONDS + 20))
until [ "$(sql "select count(*) from certificates where domain = 'z00003.test' and revoked_at is not null")" -ge 1 ] ||
      ((SECONDS >= deadline)); do sleep 0.2; done
check "disable with acme.revoke_on_disable: the certificate revoked at the CA ($(sql "select message from audit where domain = 'z00003.test' and kind = 'acme' order by id desc limit 1"))" \
  test -n "$(sql "select 1 from audit where domain = 'z00003.test' and kind = 'acme' and message = 'certificate revoked (cessationOfOperation)'")"
check "disable: z00003.test's files removed" test ! -e "$REGZONE_CERT_DIR/z00003.test/privkey.pem"
check "disable: nothing of example.test left under certificates.dir ($(ls -A "$REGZONE_CERT_DIR" | grep example.test | tr '\n' ' '))" \
  test -z "$(ls -A "$REGZONE_CERT_DIR" | grep '^\.\?example\.test')"
check "certificates.dir still has the operator's mode 0751 ($(stat -c %a "$REGZONE_CERT_DIR"))" \
  test "$(stat -c %a "$REGZONE_CERT_DIR")" = 751

if grep -qiE 'BEGIN (EC |RSA )?PRIVATE KEY' "$tmp/regzoned.log"; then bad "a private key in the log"; else ok "no private key in the log"; fi

echo "# $n checks, $fails failed, $((SECONDS - t0)) s"
if [ "$fails" -ne 0 ]; then
  echo "# regzoned log (tail):"; tail -n 40 "$tmp/regzoned.log" | sed 's/^/#   /'
  exit 1
fi
exit 0
