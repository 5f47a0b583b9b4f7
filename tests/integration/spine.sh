#!/usr/bin/env bash
# The DNS spine end to end, on the devstack's real PostgreSQL and knotd
# (primary + secondary): requests over ZeroMQ (zsend, regzonectl), the
# reconciler writing into Knot, propagation to both servers, idempotent
# replays, refusals that store nothing, conflicts with a customer's own
# records, disable removing exactly what regzone added, the PUB feed, the
# billing views and role, CURVE, and a clean SIGTERM.  Beyond those: a
# disable of a domain never enabled (6b), "published" withheld while the
# secondary does not answer (7b), work interrupted by SIGTERM finished after
# a restart, and a crash (SIGKILL) between knotd's zone-begin and
# zone-commit recovered after a restart (10b).
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/spine.sh
#
# Ports: B+0..B+19 the devstack (its regzoned on ipc sockets under the
# stack), B+30/B+31 a second regzoned with CURVE on tcp, B+32/B+33 a
# regzoned that must refuse to start.
set -uo pipefail
# The DNS spine alone: its checks count every ledger row, audit line and job;
# certificates (the cert job) are tested by certs.sh.
export REGZONE_CERT_AUTO=false
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-20100}
export REGZONE_PORT_BASE=$base
export REGZONE_DEMO_ZONES=22
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzspine.XXXXXX)
dir=$tmp/stack
pids=()   # every regzoned this script started
cleanup() {
  local p f
  for f in "$dir"/pids/knot1.pid "$dir"/pids/knot2.pid; do
    [ -r "$f" ] && kill -CONT "$(cat "$f")" 2>/dev/null
  done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  [ -n "${wpid:-}" ] && stop_pid "$wpid"
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
kc() { HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1"; }
# zreq JSON: one request on the plain request socket, the reply on stdout.
zreq() { "$bin/zsend" -t 10000 "$REGZONE_REQUESTS" "$1"; }
# jstr KEY < JSON: the first string value of KEY in a compact JSON text.
# dig_short PORT NAME TYPE: the rdata the server at PORT answers, one per line.
dig_short() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 +short "$2" "$3" 2>/dev/null; }
dns_state() { sql "select dns from services where domain = '$1' and service = 'xmpp'"; }
# wait_dns DOMAIN STATE SECS: poll PostgreSQL until services.dns = STATE.
wait_dns() {
  local d=$1 want=$2 secs=$3 deadline got
  deadline=$((SECONDS + secs))
  while :; do
    got=$(dns_state "$d")
    [ "$got" = "$want" ] && return 0
    ((SECONDS < deadline)) || { echo "# $d: dns '$got' after $secs s, wanted '$want'" >&2; return 1; }
    sleep 0.1
  done
}
# wait_served PORT NAME TYPE RDATA SECS: until the server answers exactly RDATA.
wait_served() {
  local deadline=$((SECONDS + $5))
  while [ "$(dig_short "$1" "$2" "$3")" != "$4" ]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
# Row counts of everything a request or a step could write.
counts() {
  sql "select (select count(*) from events) || ' ' || (select count(*) from services) || ' ' ||
              (select count(*) from jobs) || ' ' || (select count(*) from published_records) || ' ' ||
              (select count(*) from audit)"
}
# The counts plus a digest of the services' and jobs' contents.
snapshot() {
  echo "$(counts) $(sql "select md5(coalesce(string_agg(x, '|' order by x), '')) from (
      select concat_ws(',', domain, service, desired, generation, dns, active, last_error,
                       updated_at) x from services
      union all select concat_ws(',', id, step, generation, attempts, next_attempt_at, state)
      from jobs) s")"
}

# The xmpp profile's records: owner (relative), type, exact rdata.
owners=(_xmpp-client._tcp _xmpps-client._tcp _xmpp-server._tcp conference proxy share)
types=(SRV SRV SRV CNAME CNAME CNAME)
rdatas=("5 1 5222 xmpp-hosting.example.net." "1 1 443 xmpps-hosting.example.net."
        "1 1 5269 xmpp-hosting.example.net." "xmpp-hosting.example.net."
        "xmpp-hosting.example.net." "xmpp-hosting.example.net.")
# profile_served DOMAIN: every record, exactly, on both servers (else prints what differs).
profile_served() {
  local d=$1 i p got rc=0
  for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
    for i in "${!owners[@]}"; do
      got=$(dig_short "$p" "${owners[i]}.$d" "${types[i]}")
      if [ "$got" != "${rdatas[i]}" ]; then
        echo "# port $p: ${owners[i]}.$d ${types[i]} -> '$got', wanted '${rdatas[i]}'" >&2
        rc=1
      fi
    done
  done
  return $rc
}
# profile_absent DOMAIN [SKIP_OWNER]: none of the records on either server.
profile_absent() {
  local d=$1 skip=${2:-} i p got rc=0
  for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
    for i in "${!owners[@]}"; do
      [ "${owners[i]}" = "$skip" ] && continue
      got=$(dig_short "$p" "${owners[i]}.$d" "${types[i]}")
      if [ -n "$got" ]; then
        echo "# port $p: ${owners[i]}.$d ${types[i]} still answers '$got'" >&2
        rc=1
      fi
    done
  done
  return $rc
}
# both_serve NAME TYPE RDATA: both servers answer exactly RDATA (waits up to 10 s).
both_serve() {
  wait_served "$REGZONE_DNS_PORT" "$1" "$2" "$3" 10 && wait_served "$REGZONE_DNS2_PORT" "$1" "$2" "$3" 10
}
start_daemon() {  # start_daemon CONFIG LOG: sets $daemon_pid
  "$bin/regzoned" -c "$1" >"$2" 2>&1 &
  daemon_pid=$!
  pids+=("$daemon_pid")
}
# exited_within PID SECS: the process is gone within SECS (bounded poll).
exited_within() {
  local p=$1 deadline=$((SECONDS + $2))
  while kill -0 "$p" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
# finish_wait: the exit status of the background "regzonectl wait" $wpid in rc.
finish_wait() {
  if exited_within "$wpid" 35; then wait "$wpid"; rc=$?; else stop_pid "$wpid"; rc=timeout; fi
  wpid=""
}
# open_txns: the zones of the primary with an open control transaction.
open_txns() { kc zone-status 2>/dev/null | grep 'transaction: open' | cut -d' ' -f1 | tr '\n' ' '; }
# claimed DOMAIN: the domain's job is claimed by a worker.
claimed() { test "$(sql "select count(*) from jobs where domain = '$1' and claimed_pid is not null")" = 1; }
# subscribed PID PORT: PID holds an established TCP connection to 127.0.0.1:PORT.
subscribed() { ipc_connected "$1" "$2"; }

# ---------------------------------------------------------------- 1. start
# the article's profile: this test checks its exact records
if ! REGZONE_DEVSTACK_DEFAULT_PROFILE=xmpp "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up: $(tail -5 "$tmp/up.log")"
  echo "$((n - fails)) passed, $fails failed"
  exit 1
fi
ok "devstack up on port base $base"
# shellcheck disable=SC1091
. "$dir/env"
feed_port=${REGZONE_FEED#ipc://}   # the feed's socket path
start_daemon "$dir/regzone.yaml" "$dir/regzoned.log"
main_pid=$daemon_pid
status_req='{"id":"spine-status-1","action":"status","service":"xmpp","domain":"example.test"}'
reply=""
for ((i = 0; i < 20; i++)); do
  kill -0 "$main_pid" 2>/dev/null || break
  reply=$("$bin/zsend" -t 1000 "$REGZONE_REQUESTS" "$status_req") && break
done
check "regzoned answers a status request ($reply)" \
  grep -q '^{"id":"spine-status-1","ok":true,"state":{"domain":"example.test",' <<<"$reply"
if ! kill -0 "$main_pid" 2>/dev/null; then
  bad "regzoned is not running: $(tail -5 "$dir/regzoned.log")"
  echo "$((n - fails)) passed, $fails failed"
  exit 1
fi

# ---------------------------------------------------------------- 2. enable
enable1='{"id":"spine-enable-1","action":"enable","service":"xmpp","domain":"example.test"}'
r1=$(zreq "$enable1")
check "enable example.test: ok, desired enabled ($r1)" \
  test "$(grep -c '"ok":true' <<<"$r1")" = 1 -a "$(jstr desired <<<"$r1")" = enabled \
       -a "$(jstr id <<<"$r1")" = spine-enable-1
check "example.test published within 30 s" wait_dns example.test published 30
check "all 6 records, exact rdata, on the primary and the secondary" profile_served example.test
check "customer's www A untouched on both servers" both_serve www.example.test A 192.0.2.10
out=$(ctl status example.test --json 2>&1); rc=$?
check "regzonectl status --json: published, active ($out)" \
  test "$rc" = 0 -a "$(jstr dns <<<"$out")" = published -a -n "$(grep '"active":true' <<<"$out")"
check "ledger: 6 live rows for example.test" \
  test "$(sql "select count(*) from published_records where domain = 'example.test' and removed_at is null and state = 'live'")" = 6

# ---------------------------------------------------------------- 3. replay
before=$(snapshot)
r2=$(zreq "$enable1")
check "same id, same body: byte-identical reply" test "$r2" = "$r1"
r3=$(zreq '{ "service" : "xmpp", "domain":"example.test", "action":"enable", "id":"spine-enable-1" }')
check "same id, same body with other key order and spacing: identical reply" test "$r3" = "$r1"
check "replays changed nothing (events services jobs ledger audit + digest)" test "$(snapshot)" = "$before"
r4=$(zreq '{"id":"spine-enable-1","action":"disable","service":"xmpp","domain":"example.test"}')
check "same id, other body: bad_request ($r4)" \
  test "$(jstr code <<<"$r4")" = bad_request -a -n "$(grep '"ok":false' <<<"$r4")"
r5=$(zreq '{"id":"spine-enable-1","action":"enable","service":"xmpp","domain":"example.test","params":{"target":"other.example.net"}}')
check "same id, other params: bad_request ($r5)" test "$(jstr code <<<"$r5")" = bad_request
check "nothing changed by the refused re-uses" test "$(snapshot)" = "$before"
check "example.test still published, records still served" \
  eval 'test "$(dns_state example.test)" = published && profile_served example.test'
r6=$(zreq "$enable1")
check "the first reply is still the one returned afterwards" test "$r6" = "$r1"

# ---------------------------------------------------------------- 4. refusals
# refused NAME CODE WANT_ID JSON: an error reply with that code (and id, or null).
refused() {
  local name=$1 code=$2 want_id=$3 body=$4 rep
  rep=$("$bin/zsend" -t 10000 "$REGZONE_REQUESTS" "$body")
  refused_check "$name" "$code" "$want_id" "$rep"
}
refused_raw() {  # same, the body from stdin, byte for byte
  local name=$1 code=$2 want_id=$3 rep
  rep=$("$bin/zsend" -t 10000 "$REGZONE_REQUESTS" -)
  refused_check "$name" "$code" "$want_id" "$rep"
}
refused_check() {
  local name=$1 code=$2 want_id=$3 rep=$4 idok
  if [ "$want_id" = null ]; then idok=$(grep -c '^{"id":null,' <<<"$rep"); else
    idok=$(grep -c "^{\"id\":\"$want_id\"," <<<"$rep"); fi
  if [ "$(jstr code <<<"$rep")" = "$code" ] && grep -q '"ok":false' <<<"$rep" &&
     [ "$idok" = 1 ] && grep -q '"message":"[^"]' <<<"$rep"; then
    ok "refused: $name -> $code"
  else
    bad "refused: $name -> wanted $code (id $want_id), got: ${rep:0:300}"
  fi
}
req() {  # req ID ACTION DOMAIN [EXTRA]: a request body
  printf '{"id":"%s","action":"%s","service":"xmpp","domain":"%s"%s}' "$1" "$2" "$3" "${4:-}"
}
before=$(snapshot)
long_id=$(printf 'i%.0s' {1..200})
long_domain=$(printf 'a%.0s' {1..10240}).example.test
long_label=$(printf 'b%.0s' {1..64}).example.test
refused "not JSON" bad_json null 'hello, regzone'
refused "truncated JSON" bad_json null '{"id":"bad-02","action":"enable","service":"xmpp","domain":"exa'
refused "empty message" bad_json null ''
refused "trailing garbage" bad_json null "$(req bad-04 enable example.test) x"
refused "[]" bad_request null '[]'
refused "null" bad_request null 'null'
refused "a bare string" bad_request null '"enable"'
refused "missing id" bad_request null '{"action":"enable","service":"xmpp","domain":"example.test"}'
refused "missing action" bad_request bad-09 '{"id":"bad-09","service":"xmpp","domain":"example.test"}'
refused "missing service" bad_request bad-10 '{"id":"bad-10","action":"enable","domain":"example.test"}'
refused "missing domain" bad_request bad-11 '{"id":"bad-11","action":"enable","service":"xmpp"}'
refused "numeric id" bad_request null '{"id":12,"action":"enable","service":"xmpp","domain":"example.test"}'
refused "null id" bad_request null '{"id":null,"action":"enable","service":"xmpp","domain":"example.test"}'
refused "array domain" bad_request bad-14 '{"id":"bad-14","action":"enable","service":"xmpp","domain":["example.test"]}'
refused "object action" bad_request bad-15 '{"id":"bad-15","action":{"do":"enable"},"service":"xmpp","domain":"example.test"}'
refused "params as an array" bad_request bad-16 "$(req bad-16 enable example.org.test ',"params":["target"]')"
refused "param value a number" bad_request bad-17 "$(req bad-17 enable example.org.test ',"params":{"target":5}')"
refused "empty id" bad_request null "$(req '' enable example.test)"
refused "id with a space" bad_request null "$(req 'bad 19' enable example.test)"
refused "200-character id" bad_request null "$(req "$long_id" enable example.test)"
refused "unknown action" bad_request bad-21 "$(req bad-21 frobnicate example.test)"
refused "action in upper case" bad_request bad-22 "$(req bad-22 ENABLE example.test)"
refused "unknown service" bad_request bad-23 '{"id":"bad-23","action":"enable","service":"mail","domain":"example.test"}'
refused "unknown field" bad_request bad-24 "$(req bad-24 enable example.org.test ',"colour":"blue"')"
refused "10 kB domain" invalid_domain bad-25 "$(req bad-25 enable "$long_domain")"
refused "64-character label" invalid_domain bad-26 "$(req bad-26 enable "$long_label")"
refused "example.test;rm -rf" invalid_domain bad-27 "$(req bad-27 enable 'example.test;rm -rf')"
refused "domain with an embedded newline" invalid_domain bad-28 "$(req bad-28 enable 'example\ntest')"
# jansson refuses \u0000 while parsing: documented as bad_json (daemon/request.h).
refused "domain with \\u0000" bad_json null "$(req bad-29 enable 'x\u0000.example.test')"
refused "IDN U-label" invalid_domain bad-30 "$(req bad-30 enable 'bücher.example.test')"
refused "wildcard" invalid_domain bad-31 "$(req bad-31 enable '*.example.test')"
refused "trailing space" invalid_domain bad-32 "$(req bad-32 enable 'example.org.test ')"
refused "single label" invalid_domain bad-33 "$(req bad-33 enable 'localhost')"
refused "unknown profile" unknown_profile bad-34 "$(req bad-34 enable example.org.test ',"profile":"nope"')"
refused "unknown param" bad_request bad-35 "$(req bad-35 enable example.org.test ',"params":{"nope":"1"}')"
refused "hostile param a.example;rm" bad_request bad-36 "$(req bad-36 enable example.org.test ',"params":{"target":"a.example;rm"}')"
refused "hostile param x\\ny" bad_request bad-37 "$(req bad-37 enable example.org.test ',"params":{"target":"x\ny"}')"
refused "profile on a disable" bad_request bad-38 "$(req bad-38 disable example.test ',"profile":"xmpp"')"
refused "params on a status" bad_request bad-39 "$(req bad-39 status example.test ',"params":{"target":"a.example"}')"
refused "duplicate key" bad_json null '{"id":"bad-40","action":"enable","service":"xmpp","domain":"example.org.test","domain":"example.test"}'
printf '{"id":"bad-41","action":"enable","service":"xmpp","domain":"\xff\xfe.example.test"}' >"$tmp/utf8"
refused_raw "invalid UTF-8 bytes" bad_json null <"$tmp/utf8"
{ printf '{"id":"bad-42","action":"enable","service":"xmpp","domain":"example.test","params":{"target":"'
  head -c 70000 /dev/zero | tr '\0' a; printf '"}}'; } >"$tmp/big"
refused_raw "request over 64 KiB" bad_request null <"$tmp/big"
refused "zone not served" zone_not_served bad-43 "$(req bad-43 enable nothere.example)"
refused "domain is the hosting target" invalid_domain bad-44 \
  "$(req bad-44 enable example.org.test ',"params":{"target":"example.org.test"}')"
after=$(snapshot)
check "nothing stored by the refusals (before: $before, after: $after)" test "$after" = "$before"
check "no event, service or audit line of any refused request" \
  test "$(sql "select (select count(*) from events where id like 'bad%') + (select count(*) from audit where event_id like 'bad%') + (select count(*) from services where domain <> 'example.test')")" = 0
check "regzoned still running after the hostile requests" kill -0 "$main_pid"
for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
  check "nothing of example.org.test served on port $p" \
    test -z "$(dig_short "$p" conference.example.org.test CNAME)$(dig_short "$p" _xmpp-client._tcp.example.org.test SRV)"
done

# ---------------------------------------------------------------- 5. conflict
cust_srv="0 5 5222 other.example."
kc zone-begin example.org.test >/dev/null &&
  kc zone-set example.org.test _xmpp-client._tcp 3600 SRV $cust_srv >/dev/null &&
  kc zone-commit example.org.test >/dev/null
check "customer SRV in example.org.test served by both servers" \
  both_serve _xmpp-client._tcp.example.org.test SRV "$cust_srv"
r=$(zreq '{"id":"spine-conflict-1","action":"enable","service":"xmpp","domain":"example.org.test"}')
check "enable example.org.test accepted ($r)" test "$(jstr desired <<<"$r")" = enabled
check "example.org.test: dns conflict within 30 s" wait_dns example.org.test conflict 30
err=$(sql "select last_error from services where domain = 'example.org.test'")
check "last_error names the customer's record ($err)" \
  grep -q '_xmpp-client._tcp.example.org.test.*other.example' <<<"$err"
out=$(ctl status example.org.test --json 2>&1)
check "status shows the conflict and its record" \
  test "$(jstr dns <<<"$out")" = conflict -a -n "$(grep -F 'other.example' <<<"$out")"
for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
  check "port $p: the customer's SRV unchanged, alone" \
    test "$(dig_short "$p" _xmpp-client._tcp.example.org.test SRV)" = "$cust_srv"
done
check "none of the profile's other records in example.org.test" \
  profile_absent example.org.test _xmpp-client._tcp
check "zone example.org.test has no CNAME conference (knotc)" \
  test -z "$(kc zone-read example.org.test conference.example.org.test 2>/dev/null | grep -i CNAME)"
check "ledger empty for example.org.test" \
  test "$(sql "select count(*) from published_records where domain = 'example.org.test'")" = 0
# 7 (PUB feed, robust half): subscribe while the state is a stable
# "conflict"; "wait" asks the state once, so "published" can only come
# from the feed.
"$bin/regzonectl" -c "$dir/regzone.yaml" wait example.org.test --until published --timeout 30 --json >"$tmp/wait1.out" 2>"$tmp/wait1.err" &
wpid=$!
for ((i = 0; i < 100; i++)); do subscribed "$wpid" "$feed_port" && break; sleep 0.05; done
check "regzonectl wait is subscribed to the feed $(kill -0 "$wpid" 2>/dev/null || echo "(it exited: $(cat "$tmp/wait1.err"))")" \
  subscribed "$wpid" "$feed_port"
kc zone-begin example.org.test >/dev/null &&
  kc zone-unset example.org.test _xmpp-client._tcp SRV $cust_srv >/dev/null &&
  kc zone-commit example.org.test >/dev/null
check "customer SRV removed from both servers" both_serve _xmpp-client._tcp.example.org.test SRV ""
out=$(ctl retry example.org.test 2>&1); rc=$?
check "regzonectl retry example.org.test exits 0 ($out)" test "$rc" = 0
check "example.org.test published within 30 s after the retry" wait_dns example.org.test published 30
check "all 6 records of example.org.test on both servers" profile_served example.org.test
finish_wait
check "wait --until published returned 0 with the published state from the feed ($(cat "$tmp/wait1.out" "$tmp/wait1.err"))" \
  test "$rc" = 0 -a "$(jstr dns <"$tmp/wait1.out")" = published
check "ledger: 6 live rows for example.org.test" \
  test "$(sql "select count(*) from published_records where domain = 'example.org.test' and removed_at is null and state = 'live'")" = 6

# ---------------------------------------------------------------- 6. disable
kc zone-begin example.test >/dev/null &&
  kc zone-set example.test mail 3600 A 192.0.2.25 >/dev/null &&
  kc zone-set example.test @ 3600 TXT '"v=spf1 -all"' >/dev/null &&
  kc zone-commit example.test >/dev/null
check "customer's mail A and apex TXT served by both servers" \
  both_serve mail.example.test A 192.0.2.25
check "... and the TXT" both_serve example.test TXT '"v=spf1 -all"'
r=$(zreq '{"id":"spine-disable-1","action":"disable","service":"xmpp","domain":"example.test"}')
check "disable example.test: ok, desired disabled ($r)" \
  test "$(jstr desired <<<"$r")" = disabled -a -n "$(grep '"ok":true' <<<"$r")"
check "example.test: dns removed within 30 s" wait_dns example.test removed 30
check "none of the 6 records served by either server" profile_absent example.test
check "customer's www A still on both" both_serve www.example.test A 192.0.2.10
check "customer's mail A still on both" both_serve mail.example.test A 192.0.2.25
check "customer's apex TXT still on both" both_serve example.test TXT '"v=spf1 -all"'
check "example.org.test untouched by the disable" profile_served example.org.test
check "ledger: the 6 rows of example.test all closed (removed_at set)" \
  test "$(sql "select count(*) filter (where removed_at is null) || '/' || count(*) from published_records where domain = 'example.test'")" = 0/6
kc zone-read example.test >"$tmp/zone.raw" 2>&1
sed 's/^\[[^]]*\] //' "$tmp/zone.raw" >"$tmp/example.test.zone"
out=$(kzonecheck -o example.test "$tmp/example.test.zone" 2>&1); rc=$?
check "zone example.test still valid (kzonecheck on knotc zone-read: $out)" test "$rc" = 0
check "zone holds the customer's records and nothing of the profile" \
  test "$(grep -c -e 'www.example.test. 3600 A 192.0.2.10' -e 'mail.example.test. 3600 A 192.0.2.25' \
          -e 'example.test. 3600 TXT "v=spf1 -all"' "$tmp/example.test.zone")" = 3 \
       -a -z "$(grep -E 'xmpp|conference|proxy|share' "$tmp/example.test.zone")"
check "audit: 6 record_added and 6 record_removed lines for example.test" \
  test "$(sql "select count(*) filter (where kind = 'record_added') || ' ' || count(*) filter (where kind = 'record_removed') from audit where domain = 'example.test'")" = "6 6"
out=$(ctl logs example.test 2>&1)
check "regzonectl logs shows the removals" \
  test "$(grep -c 'record_removed' <<<"$out")" = 6

# ------------------------------------------- 6b. disable of a domain never enabled
# Not malformed: the database is up, so "unavailable" (retry later) is a lie.
# Acceptable: ok with desired disabled (idempotent), or a clear bad_request.
before_jobs=$(sql "select count(*) from jobs")
r=$(zreq '{"id":"spine-never-1","action":"disable","service":"xmpp","domain":"never.example.test"}')
code=$(jstr code <<<"$r")
check "disable of a never-enabled domain: ok/desired disabled or bad_request, not '$code' ($r)" \
  test "$code" != unavailable -a \( "$code" = bad_request -o "$(jstr desired <<<"$r")" = disabled \)
check "... and no job or ledger row for it" \
  test "$(sql "select count(*) from jobs where domain = 'never.example.test'") $(sql "select count(*) from published_records where domain = 'never.example.test'") $(sql "select count(*) from jobs")" = "0 0 $before_jobs"
printf '%s\n' '{"id":"spine-batch-1","action":"enable","service":"xmpp","domain":"batch1.example.org.test"}' \
  '{"id":"spine-batch-2","action":"disable","service":"xmpp","domain":"never2.example.test"}' \
  '{"id":"spine-batch-3","action":"enable","service":"xmpp","domain":"batch3.example.org.test"}' >"$tmp/batch"
out=$("$bin/zsend" -t 10000 -m "$tmp/batch" "$REGZONE_REQUESTS" 2>/dev/null)
check "a batch holding that disable still stores the enables next to it" \
  test "$(grep -c -e '"id":"spine-batch-1","ok":true' -e '"id":"spine-batch-3","ok":true' <<<"$out")" = 2 \
       -a "$(sql "select count(*) from events where id in ('spine-batch-1', 'spine-batch-3')")" = 2
check "batch1 and batch3 published within 30 s" \
  eval 'wait_dns batch1.example.org.test published 30 && wait_dns batch3.example.org.test published 30'

# ---------------------------------------------------------------- 7. feed
"$bin/regzonectl" -c "$dir/regzone.yaml" wait feed.example.org.test --until published --timeout 30 --json >"$tmp/wait2.out" 2>"$tmp/wait2.err" &
wpid=$!
for ((i = 0; i < 100; i++)); do subscribed "$wpid" "$feed_port" && break; sleep 0.05; done
check "regzonectl wait subscribed before the enable $(kill -0 "$wpid" 2>/dev/null || echo "(it exited: $(cat "$tmp/wait2.err"))")" \
  subscribed "$wpid" "$feed_port"
r=$(zreq '{"id":"spine-feed-1","action":"enable","service":"xmpp","domain":"feed.example.org.test"}')
check "enable feed.example.org.test accepted" test "$(jstr desired <<<"$r")" = enabled
finish_wait
check "wait saw feed.example.org.test published ($(cat "$tmp/wait2.out" "$tmp/wait2.err"))" \
  test "$rc" = 0 -a "$(jstr dns <"$tmp/wait2.out")" = published -a "$(jstr domain <"$tmp/wait2.out")" = feed.example.org.test
check "feed.example.org.test served by both servers" profile_served feed.example.org.test

# ------------------------------------------- 7b. published only when every server serves
knot2_pid=$(cat "$dir/pids/knot2.pid")
kill -STOP "$knot2_pid"
r=$(zreq '{"id":"spine-lag-1","action":"enable","service":"xmpp","domain":"z00021.test"}')
check "enable z00021.test with the secondary frozen: accepted" test "$(jstr desired <<<"$r")" = enabled
check "the primary serves z00021.test's records" \
  wait_served "$REGZONE_DNS_PORT" conference.z00021.test CNAME xmpp-hosting.example.net. 30
early=""
for ((i = 0; i < 30; i++)); do   # 3 s of watching: never "published" meanwhile
  st=$(dns_state z00021.test)
  [ "$st" = published ] && { early=yes; break; }
  sleep 0.1
done
check "not published while the secondary does not answer (dns '$st')" test -z "$early" -a "$st" = pending
kill -CONT "$knot2_pid"
check "published within 30 s once the secondary is back" wait_dns z00021.test published 30
check "z00021.test served by both servers" profile_served z00021.test

# ---------------------------------------------------------------- 8. billing
check "billing_service_status: example.test disabled, inactive" \
  test "$(sql "select desired || ' ' || active from billing_service_status where domain = 'example.test' and service = 'xmpp'")" = "disabled false"
check "billing_service_status: example.org.test enabled, active" \
  test "$(sql "select desired || ' ' || active from billing_service_status where domain = 'example.org.test'")" = "enabled true"
check "billing_service_periods: example.test has one closed interval, no open one" \
  test "$(sql "select count(*) filter (where ended_at is not null and ended_at >= started_at) || ' ' || count(*) filter (where ended_at is null) from billing_service_periods where domain = 'example.test'")" = "1 0"
check "billing_service_periods: example.org.test has one open interval" \
  test "$(sql "select count(*) filter (where ended_at is null) || ' ' || count(*) from billing_service_periods where domain = 'example.org.test'")" = "1 1"
out=$(psql "$REGZONE_PG" -X -Atc "SET ROLE regzone_billing; SELECT count(*) FROM billing_service_status; SELECT count(*) FROM billing_service_periods" 2>&1); rc=$?
check "role regzone_billing reads the two views ($out)" test "$rc" = 0 -a "$(tail -n1 <<<"$out")" -ge 2
for t in services events jobs published_records audit service_periods; do
  out=$(psql "$REGZONE_PG" -X -Atc "SET ROLE regzone_billing; SELECT count(*) FROM $t" 2>&1); rc=$?
  check "role regzone_billing may not read $t" test "$rc" != 0 -a -n "$(grep 'permission denied' <<<"$out")"
done

# ---------------------------------------------------------------- 9. CURVE
for k in srv cli other; do
  out=$("$bin/regzonectl" keygen "$dir/$k" 2>&1); rc=$?
  check "regzonectl keygen $k ($rc)" test "$rc" = 0 -a -s "$dir/$k/curve.key" -a -s "$dir/$k/curve.pub"
done
check "server secret key is 0600" test "$(stat -c %a "$dir/srv/curve.key")" = 600
srv_pub=$(head -c 40 "$dir/srv/curve.pub")
cli_pub=$(head -c 40 "$dir/cli/curve.pub")
curve_req="tcp://127.0.0.1:$((base + 30))"
# write_curve_config OUT KEYFILE REQPORT FEEDPORT: CURVE on tcp; the server
# names its public key for clients too.
write_curve_config() {
  awk -v sk="$2" -v pk="$dir/srv/curve.pub" -v cli="$cli_pub" -v rq="tcp://127.0.0.1:$3" -v fd="tcp://127.0.0.1:$4" '
    /^  requests:/ { print "  requests: \"" rq "\""; next }
    /^  feed:/ { print "  feed: \"" fd "\""; print "  curve:"
                 print "    secret_key_file: \"" sk "\""
                 print "    public_key_file: \"" pk "\""; print "    clients:"
                 print "      - \"" cli "\""; next }
    { print }' "$dir/regzone.yaml" >"$1"
  without_metrics "$1"
}
write_curve_config "$dir/curve.yaml" "$dir/srv/curve.key" $((base + 30)) $((base + 31))
# What a client reads: the server's public key only, never its secret.
sed -e '/secret_key_file:/d' "$dir/curve.yaml" >"$dir/curve-client.yaml"
out=$("$bin/regzoned" -c "$dir/curve.yaml" --check 2>&1)
check "CURVE config passes --check ($out)" test $? = 0
start_daemon "$dir/curve.yaml" "$dir/regzoned-curve.log"
curve_pid=$daemon_pid
r=$("$bin/zsend" -t 10000 -k "$dir/cli" -s "$srv_pub" "$curve_req" \
     '{"id":"spine-curve-1","action":"status","service":"xmpp","domain":"example.org.test"}')
check "CURVE: listed client gets its reply ($r)" \
  grep -q '^{"id":"spine-curve-1","ok":true,"state":{"domain":"example.org.test"' <<<"$r"
out=$(ctl -c "$dir/curve-client.yaml" --key "$dir/cli" status example.org.test --json 2>&1); rc=$?
check "CURVE: regzonectl --key with the listed key and a config without the server's secret ($rc)" \
  test "$rc" = 0 -a "$(jstr dns <<<"$out")" = published
check "CURVE: that config holds no secret key file" test -z "$(grep secret_key_file "$dir/curve-client.yaml")"
before=$(snapshot)
r=$("$bin/zsend" -t 2000 -k "$dir/other" -s "$srv_pub" "$curve_req" \
     '{"id":"spine-curve-2","action":"enable","service":"xmpp","domain":"curve.example.org.test"}' 2>/dev/null); rc=$?
check "CURVE: unlisted client key gets no reply (zsend exit $rc, '$r')" test "$rc" = 3 -a -z "$r"
r=$("$bin/zsend" -t 2000 "$curve_req" \
     '{"id":"spine-curve-3","action":"enable","service":"xmpp","domain":"curve.example.org.test"}' 2>/dev/null); rc=$?
check "CURVE: client without a key gets no reply (zsend exit $rc, '$r')" test "$rc" = 3 -a -z "$r"
out=$(ctl -c "$dir/curve.yaml" --key "$dir/other" --timeout 5 enable curve.example.org.test 2>&1); rc=$?
check "CURVE: regzonectl with an unlisted key is refused ($rc: $out)" test "$rc" != 0
check "CURVE: nothing stored by refused clients" \
  test "$(snapshot)" = "$before" -a "$(sql "select count(*) from services where domain = 'curve.example.org.test'")" = 0
# The feed is CURVE too: a listed key reads it, a plain SUB reads nothing.
"$bin/zsend" -t 4000 -k "$dir/cli" -s "$srv_pub" -S curve-feed.example.org.test "tcp://127.0.0.1:$((base + 31))" >"$tmp/sub-key" 2>/dev/null &
sub_key=$!
"$bin/zsend" -t 4000 -S curve-feed.example.org.test "tcp://127.0.0.1:$((base + 31))" >"$tmp/sub-plain" 2>/dev/null &
sub_plain=$!
sleep 1   # setup: both subscribers connect (or fail their handshake)
r=$("$bin/zsend" -t 10000 -k "$dir/cli" -s "$srv_pub" "$curve_req" \
     '{"id":"spine-curve-on","action":"enable","service":"xmpp","domain":"curve-feed.example.org.test"}')
wait "$sub_key"; wait "$sub_plain"
check "CURVE feed: a listed client key receives the state changes ($(grep -c . "$tmp/sub-key") messages)" \
  grep -q '^curve-feed.example.org.test {"domain":"curve-feed.example.org.test"' "$tmp/sub-key"
check "CURVE feed: a subscriber without a key receives nothing ($(grep -c . "$tmp/sub-plain") messages)" \
  test ! -s "$tmp/sub-plain"
r=$("$bin/zsend" -t 10000 -k "$dir/cli" -s "$srv_pub" "$curve_req" \
     '{"id":"spine-curve-off2","action":"disable","service":"xmpp","domain":"curve-feed.example.org.test"}')
cp -p "$dir/srv/curve.key" "$dir/srv/loose.key"
chmod 0644 "$dir/srv/loose.key"
write_curve_config "$dir/loose.yaml" "$dir/srv/loose.key" $((base + 32)) $((base + 33))
timeout 20 "$bin/regzoned" -c "$dir/loose.yaml" >"$dir/regzoned-loose.log" 2>&1; rc=$?
check "regzoned refuses a 0644 secret key: exit $rc ($(grep -i curve "$dir/regzoned-loose.log" | head -n1))" \
  test "$rc" != 0 -a "$rc" != 124 -a -n "$(grep -F "$dir/srv/loose.key" "$dir/regzoned-loose.log" | grep -i -e 'chmod' -e 'readable')"
stop_pid_status() {  # TERM PID, bounded wait, exit status in $stop_rc, elapsed in $stop_s
  local p=$1 s0=$SECONDS
  kill -TERM "$p"
  if exited_within "$p" 10; then wait "$p"; stop_rc=$?; else stop_rc=timeout; fi
  stop_s=$((SECONDS - s0))
}
stop_pid_status "$curve_pid"
check "CURVE regzoned: SIGTERM -> exit 0 within 10 s (got $stop_rc)" test "$stop_rc" = 0
leaks=""
for k in srv cli other; do
  key=$(head -c 40 "$dir/$k/curve.key")
  hit=$(grep -rlF --include='*.log' -e "$key" "$tmp" 2>/dev/null)
  [ -n "$hit" ] && leaks="$leaks $k:$hit"
done
check "no secret key text in any log under the stack (${leaks:-none})" test -z "$leaks"

# ---------------------------------------------------------------- 10. SIGTERM
# With work in flight: 20 enables, then SIGTERM right after their replies.
: >"$tmp/many"
for ((i = 1; i <= 20; i++)); do
  printf '{"id":"spine-many-%d","action":"enable","service":"xmpp","domain":"z%05d.test"}\n' "$i" "$i" >>"$tmp/many"
done
out=$("$bin/zsend" -t 10000 -m "$tmp/many" "$REGZONE_REQUESTS" 2>&1)
check "20 enables accepted at once" test "$(grep -c '"ok":true' <<<"$out")" = 20
stop_pid_status "$main_pid"
check "regzoned: SIGTERM with work in flight -> exit 0 within 10 s (got $stop_rc after ${stop_s} s)" \
  test "$stop_rc" = 0
check "no job stays claimed" \
  test "$(sql "select count(*) from jobs where claimed_pid is not null or claimed_by is not null")" = 0
check "every acknowledged enable is stored" \
  test "$(sql "select count(*) from events where id like 'spine-many-%'")" = 20
check "the daemon logged its stop" grep -q 'stopped' "$dir/regzoned.log"
txns=$(open_txns)
check "no Knot transaction left open by the stopped daemon (${txns:-none})" test -z "$txns"

# ------------------------------------------- 10b. restart, and a crash inside a Knot transaction
start_daemon "$dir/regzone.yaml" "$dir/regzoned-2.log"
main_pid=$daemon_pid
resumed() { test "$(sql "select count(*) from services where domain ~ '^z000(0[1-9]|1[0-9]|20)\.test$' and dns = 'published'")" = 20; }
deadline=$((SECONDS + 30))
until resumed || ((SECONDS >= deadline)); do sleep 0.1; done
check "after a restart the 20 enables interrupted by SIGTERM are all published" resumed
r=$(zreq '{"id":"spine-crash-0","action":"enable","service":"xmpp","domain":"z00022.test"}')
check "z00022.test published (the daemon has listed knotd's zones)" wait_dns z00022.test published 30
# Widen the window between zone-begin and zone-commit: freeze the primary,
# let a worker send its zone-begin, SIGKILL regzoned, thaw the primary.
knot1_pid=$(cat "$dir/pids/knot1.pid")
kill -STOP "$knot1_pid"
r=$(zreq '{"id":"spine-crash-1","action":"enable","service":"xmpp","domain":"crash.z00022.test"}')
check "enable crash.z00022.test accepted with the primary frozen ($r)" test "$(jstr desired <<<"$r")" = enabled
deadline=$((SECONDS + 10))
until claimed crash.z00022.test || ((SECONDS >= deadline)); do sleep 0.05; done
check "a worker claimed crash.z00022.test" claimed crash.z00022.test
sleep 0.5   # setup, not an assertion: the worker writes its zone-begin to the socket
kill -KILL "$main_pid"; wait "$main_pid" 2>/dev/null
kill -CONT "$knot1_pid"
sleep 0.5   # knotd reads what was queued on its control socket
note "after the crash, zones with an open transaction: $(open_txns)"
start_daemon "$dir/regzone.yaml" "$dir/regzoned-3.log"
main_pid=$daemon_pid
wait_dns crash.z00022.test published 30; rc=$?
check "after the crash and a restart, crash.z00022.test is published within 30 s (dns: $(dns_state crash.z00022.test); $(sql "select last_error from services where domain = 'crash.z00022.test'"))" \
  test "$rc" = 0
check "crash.z00022.test served by both servers" profile_served crash.z00022.test
led=$(sql "select count(*) filter (where state = 'live' and removed_at is null) || ' live, ' || count(*) filter (where state = 'pending') || ' pending' from published_records where domain = 'crash.z00022.test'")
check "its ledger: 6 live rows, none pending ($led)" test "$led" = "6 live, 0 pending"
stop_pid_status "$main_pid"
check "restarted regzoned: SIGTERM -> exit 0 within 10 s (got $stop_rc)" test "$stop_rc" = 0
check "no job stays claimed" \
  test "$(sql "select count(*) from jobs where claimed_pid is not null or claimed_by is not null")" = 0
txns=$(open_txns)
if [ -n "$txns" ]; then   # leave knotd as we found it
  for z in $txns; do kc zone-abort "${z//[\[\]]/}" >/dev/null 2>&1; done
  note "aborted the transactions left open: $txns"
fi

# ------------------------------------------- 10c. an intake-only process (workers: 0)
# Its own endpoints: the daemon with workers binds the devstack's.
intake_req="ipc://$dir/run-intake/requests"
sed -e 's/^workers: .*/workers: 0/' -e "s|^  requests: .*|  requests: \"$intake_req\"|" \
    -e "s|^  feed: .*|  feed: \"ipc://$dir/run-intake/feed\"|" \
    "$dir/regzone.yaml" >"$dir/intake-only.yaml"
without_metrics "$dir/intake-only.yaml"
start_daemon "$dir/intake-only.yaml" "$dir/regzoned-intake.log"
intake_pid=$daemon_pid
r=""
for ((i = 0; i < 50; i++)); do
  r=$("$bin/zsend" -t 500 "$intake_req" '{"id":"spine-intake-1","action":"enable","service":"xmpp","domain":"intake.z00022.test"}' 2>/dev/null) && break
  sleep 0.1
done
check "workers: 0 acknowledges an enable ($r)" test "$(jstr desired <<<"$r")" = enabled
check "workers: 0 says so in its log" grep -q "intake only" "$dir/regzoned-intake.log"
sleep 1   # setup for the next check: time in which a worker would have published
check "workers: 0 publishes nothing (dns: $(dns_state intake.z00022.test))" \
  test "$(dns_state intake.z00022.test)" = pending -a -z "$(dig_short "$REGZONE_DNS_PORT" _xmpp-client._tcp.intake.z00022.test SRV)"
start_daemon "$dir/regzone.yaml" "$dir/regzoned-4.log"
main_pid=$daemon_pid
wait_dns intake.z00022.test published 30; rc=$?
check "a daemon with workers publishes what the intake-only one stored" test "$rc" = 0
[ "$rc" = 0 ] || { sed "s/^/#   /" "$dir/regzoned-4.log" | tail -n 20; sql "select id, kind, step, claimed_pid, next_attempt_at, last_error from jobs where domain = 'intake.z00022.test'"; }
stop_pid_status "$intake_pid"
check "intake-only regzoned: SIGTERM -> exit 0 (got $stop_rc)" test "$stop_rc" = 0

# ------------------------------------------- 10d. one batch mixing new, unchanged and other actions
# (all in flight at once: the intake stores them in as few transactions as
# it can, enables of distinct domains as one set-based statement)
{
  for i in 1 2 3 4 5 6 7 8; do
    printf '{"id":"spine-mix-%d","action":"enable","service":"xmpp","domain":"mix%d.z00021.test"}\n' "$i" "$i"
  done
  echo '{"id":"spine-mix-same","action":"enable","service":"xmpp","domain":"intake.z00022.test"}'
  echo '{"id":"spine-mix-off","action":"disable","service":"xmpp","domain":"crash.z00022.test"}'
  echo '{"id":"spine-mix-never","action":"disable","service":"xmpp","domain":"never.z00021.test"}'
  echo '{"id":"spine-mix-p","action":"enable","service":"xmpp","domain":"mix9.z00021.test","params":{"target":"other.example.net"}}'
  # array-literal syntax inside a parameter, in the set-based statement
  echo '{"id":"spine-mix-tok","action":"enable","service":"xmpp","domain":"mixt.z00021.test","profile":"xmpp-verified","params":{"token":"a,b{c} '"'"'d'"'"' NULL"}}'
  # bad input in the same burst: refused, alone
  echo '{"id":"spine-mix-baddom","action":"enable","service":"xmpp","domain":"bad..z00021.test"}'
  echo '{"id":"spine-mix-badprof","action":"enable","service":"xmpp","domain":"mixb.z00021.test","profile":"nope"}'
} >"$tmp/mix.req"
ev0=$(sql "select count(*) from events")
"$bin/zsend" -t 10000 -m "$tmp/mix.req" "$REGZONE_REQUESTS" >"$tmp/mix.out" 2>/dev/null
check "mixed batch: 13 replies ok ($(grep -c '"ok":true' "$tmp/mix.out"))" \
  test "$(grep -c '"ok":true' "$tmp/mix.out")" = 13
check "mixed batch: the bad domain refused as invalid_domain" \
  grep -q '"id":"spine-mix-baddom","ok":false,"error":{"code":"invalid_domain"' "$tmp/mix.out"
check "mixed batch: the unknown profile refused as unknown_profile" \
  grep -q '"id":"spine-mix-badprof","ok":false,"error":{"code":"unknown_profile"' "$tmp/mix.out"
check "mixed batch: 13 events stored, none of the refused ones" \
  test "$(sql "select count(*) from events") $(sql "select count(*) from events where id like 'spine-mix-bad%'") $(sql "select count(*) from services where domain = 'mixb.z00021.test'")" = "$((ev0 + 13)) 0 0"
check "mixed batch: a parameter with array-literal syntax stored exactly" \
  test "$(sql "select params->>'token' from services where domain = 'mixt.z00021.test'")" = "a,b{c} 'd' NULL"
r=$(grep '"spine-mix-3"' "$tmp/mix.out")
check "mixed batch: a new domain is enabled and pending ($r)" \
  test "$(jstr desired <<<"$r")/$(jstr dns <<<"$r")" = enabled/pending
r=$(grep '"spine-mix-same"' "$tmp/mix.out")
check "mixed batch: an unchanged enable replies the served state ($r)" \
  test "$(jstr desired <<<"$r")/$(jstr dns <<<"$r")" = enabled/published
check "mixed batch: the unchanged enable is audited as such" \
  test "$(sql "select count(*) from audit where event_id = 'spine-mix-same' and message like '%already the desired state%'")" = 1
r=$(grep '"spine-mix-off"' "$tmp/mix.out")
check "mixed batch: the disable in it is applied ($r)" test "$(jstr desired <<<"$r")" = disabled
r=$(grep '"spine-mix-never"' "$tmp/mix.out")
check "mixed batch: disabling a domain never enabled changes nothing ($r)" \
  test "$(jstr dns <<<"$r")" = removed -a "$(sql "select count(*) from services where domain = 'never.z00021.test'")" = 0
check "mixed batch: the params of mix9 are stored" \
  test "$(sql "select params->>'target' from services where domain = 'mix9.z00021.test'")" = other.example.net
check "mixed batch: one dns job per new domain" \
  test "$(sql "select count(*) from jobs where domain like 'mix_.z00021.test' and kind = 'dns'")" = 10
mix_ok() { test "$(sql "select count(*) from services where domain like 'mix_.z00021.test' and dns = 'published'")" = 10; }
deadline=$((SECONDS + 30))
until mix_ok || ((SECONDS >= deadline)); do sleep 0.1; done
check "mixed batch: the 10 new domains get published" mix_ok
check "mixed batch: the token served in its TXT record ($(dig_short "$REGZONE_DNS_PORT" mixt.z00021.test TXT))" \
  test "$(dig_short "$REGZONE_DNS_PORT" mixt.z00021.test TXT)" = "\"xmpp-hosting-verification=a,b{c} 'd' NULL\""
check "mixed batch: mix9 served with its own target" \
  test "$(dig_short "$REGZONE_DNS_PORT" conference.mix9.z00021.test CNAME)" = "other.example.net."
wait_dns crash.z00022.test removed 30; rc=$?
check "mixed batch: crash.z00022.test removed" test "$rc" = 0
stop_pid_status "$main_pid"

# ---------------------------------------------------------------- 11. down
out=$("$src/deploy/devstack" down "$dir" 2>&1); rc=$?
check "devstack down ($out)" test "$rc" = 0
left=""
for ((i = 0; i < 50; i++)); do
  left=$(pgrep -af -- "$dir")
  [ -z "$left" ] && break
  sleep 0.1
done
check "no process of the stack or regzoned left (${left:-none})" test -z "$left"

echo "# $((SECONDS - t0)) s"
echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
