#!/usr/bin/env bash
# Several Knot primaries (knot.primaries), on a devstack with two of them
# (REGZONE_DEVSTACK_PRIMARIES=2: p1 with its secondary, p2 with its own),
# certificates off so that only the DNS spine runs:
#   1. domains of both primaries publish; each one's records are served by
#      its primary's two servers (and not by the other's); list and status
#      (text, --json) name the primary; "status" without a domain lists both
#   2. p2's knotd stopped (SIGSTOP): a batch on p1 publishes all the same
#      (the rate before and during is printed), p2's batch stays unpublished
#      with an error naming p2; status and regzone_up{knot:p2} say so; once
#      resumed, p2's domains publish
#   3. a zone added to both primaries is ambiguous: an enable in it is refused
#      naming the zone and both primaries (nothing stored), "status" names
#      it, and regzoned logs it at start-up
#   4. a service whose primary left the configuration fails its step with a
#      clear error, and regzoned goes on
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/primaries.sh
#
# Ports: B+0..B+19 the devstack.
set -uo pipefail
export REGZONE_CERT_AUTO=false REGZONE_DEVSTACK_PRIMARIES=2 REGZONE_DEMO_ZONES=20
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-22000}
export REGZONE_PORT_BASE=$base
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzprim.XXXXXX)
dir=$tmp/stack
pids=()
cleanup() {
  local p f
  for f in "$dir"/pids/knot*.pid; do
    [ -r "$f" ] && kill -CONT "$(cat "$f")" 2>/dev/null
  done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1"; }
dig_short() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 +short "$2" "$3" 2>/dev/null; }
# served PORT DOMAIN: the xmpp-devstack profile's client SRV at DOMAIN
served() { test -n "$(dig_short "$1" "_xmpp-client._tcp.$2" SRV)"; }
# n_state STATE DOMAIN...: how many of them have services.dns = STATE
n_state() {
  local IFS=,
  sql "select count(*) from services where dns = '$1' and domain = any(string_to_array('${*:2}', ','))"
}
# wait_published SECS DOMAIN...: all published within SECS (bounded poll)
wait_published() {
  local secs=$1 deadline; shift
  deadline=$((SECONDS + secs))
  while (($(n_state published "$@") < $#)); do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
now_ms() { date +%s%3N; }
# enable_all DOMAIN...: one regzonectl enable each; false when one is refused
enable_all() {
  local d
  for d in "$@"; do ctl enable "$d" >/dev/null 2>>"$tmp/enable.err" || return 1; done
}
p1=(); p2=()   # batches: subdomains of the odd (p1) and even (p2) demo zones
batch() {      # batch TAG COUNT: fills p1 and p2 with COUNT domains each
  local i z
  p1=(); p2=()
  for ((i = 0; i < $2; i++)); do
    printf -v z 'z%05d.test' $((2 * (i % 10) + 1)); p1+=("$1$i.$z")
    printf -v z 'z%05d.test' $((2 * (i % 10) + 2)); p2+=("$1$i.$z")
  done
}

# ------------------------------------------------------------ 1. both publish
if ! "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then
  bad "devstack up with two primaries: $(tail -5 "$tmp/up.log")"
  summary
  exit 1
fi
# shellcheck disable=SC1091
. "$dir/env"
ok "devstack up with two primaries on port base $base"
check "the generated regzone.yaml lists knot.primaries p1 and p2" \
  eval 'grep -q "^  primaries:" "$dir/regzone.yaml" && grep -q "name: p2" "$dir/regzone.yaml" &&
        ! grep -q "^  socket:" "$dir/regzone.yaml"'
out=$("$bin/regzoned" -c "$dir/regzone.yaml" --check 2>&1)
rc=$?
check "regzoned --check accepts it ($out)" test "$rc" = 0
check "example.net.test is p2's only, example.test p1's only" \
  eval 'test -n "$(dig_short "$REGZONE_PRIMARY2_DNS_PORT" example.net.test SOA)" &&
        test -z "$(dig_short "$REGZONE_DNS_PORT" example.net.test SOA)" &&
        test -z "$(dig_short "$REGZONE_PRIMARY2_DNS_PORT" example.test SOA)"'

start_answering "$dir/regzone.yaml" "$dir/regzoned.log"
rc=$?
check "regzoned answers" test "$rc" = 0
main_pid=$daemon_pid
one1=(www.example.test a.z00001.test) one2=(a.example.net.test a.z00002.test)
enable_all "${one1[@]}" "${one2[@]}"
rc=$?
check "enables on both primaries are accepted ($(tail -1 "$tmp/enable.err" 2>/dev/null))" test "$rc" = 0
wait_published 30 "${one1[@]}" "${one2[@]}"
rc=$?
check "domains of both primaries publish ($(n_state published "${one1[@]}" "${one2[@]}")/4)" \
  test "$rc" = 0
ok_dns=1
for d in "${one1[@]}"; do
  served "$REGZONE_DNS_PORT" "$d" && served "$REGZONE_DNS2_PORT" "$d" || ok_dns=0
  served "$REGZONE_PRIMARY2_DNS_PORT" "$d" && ok_dns=0
done
for d in "${one2[@]}"; do
  served "$REGZONE_PRIMARY2_DNS_PORT" "$d" && served "$REGZONE_PRIMARY2_DNS2_PORT" "$d" || ok_dns=0
  served "$REGZONE_DNS_PORT" "$d" && ok_dns=0
done
check "each domain's records are served by its primary and that primary's secondary only" \
  test "$ok_dns" = 1
check "services.knot_primary: p1 for www.example.test, p2 for a.example.net.test" \
  test "$(sql "select string_agg(domain || '=' || knot_primary, ' ' order by domain) from services
               where domain in ('www.example.test', 'a.example.net.test')")" \
       = "a.example.net.test=p2 www.example.test=p1"
out=$(ctl list)
check "list has a PRIMARY column naming p1 and p2" \
  eval 'head -1 <<<"$out" | grep -q PRIMARY &&
        grep -E "^a\.example\.net\.test .* p2 " <<<"$out" >/dev/null &&
        grep -E "^www\.example\.test .* p1 " <<<"$out" >/dev/null'
out=$(ctl list --json)
check "list --json: \"primary\" of each" \
  eval 'grep -q "\"domain\":\"a.example.net.test\"[^}]*}[^}]*\"primary\":\"p2\"" <<<"$out"'
out=$(ctl status a.example.net.test --json)
check "status --json names the primary ($out)" test "$(jstr primary <<<"$out")" = p2
out=$(ctl status www.example.test)
check "status names the primary" grep -qE '^primary +p1$' <<<"$out"
out=$(ctl status 2>&1); rc=$?
check "status without a domain: both primaries answer, exit 0 ($rc: $out)" \
  eval 'test $rc = 0 && grep -q "^primary p1 .*answers" <<<"$out" &&
        grep -q "^primary p2 .*answers" <<<"$out"'
out=$(ctl diff a.example.net.test 2>&1)
check "diff reads the domain's own primary ($out)" test "$out" = "in sync"

# ------------------------------------------- 2. p2 stopped, p1 goes on
batch before 20
t=$(now_ms)
enable_all "${p1[@]}"
wait_published 60 "${p1[@]}"
rc=$?
check "a batch of ${#p1[@]} on p1 publishes" test "$rc" = 0
before_ms=$(($(now_ms) - t))
k3=$(cat "$dir/pids/knot3.pid")
kill -STOP "$k3"
note "p2's knotd (pid $k3) stopped"
batch during 20
t=$(now_ms)
enable_all "${p2[@]}" "${p1[@]}"   # p2's first: they take the workers first
rc=$?
check "enables on both are accepted while p2 is stopped (p2's from the zone list)" test "$rc" = 0
wait_published 90 "${p1[@]}"
rc=$?
check "p1's batch of ${#p1[@]} publishes while p2 does not answer" test "$rc" = 0
during_ms=$(($(now_ms) - t))
note "p1: ${#p1[@]} domains published in $before_ms ms with p2 up" \
     "($(awk -v n=${#p1[@]} -v t="$before_ms" 'BEGIN { printf "%.1f", n * 1000 / (t ? t : 1) }')/s)," \
     "in $during_ms ms with p2 stopped and ${#p2[@]} of its enables in flight" \
     "($(awk -v n=${#p1[@]} -v t="$during_ms" 'BEGIN { printf "%.1f", n * 1000 / (t ? t : 1) }')/s)"
# every p2 service: attempted, not published, its error naming p2
deadline=$((SECONDS + 40))
while (($(sql "select count(*) from services where domain = any(string_to_array('$(IFS=,; echo "${p2[*]}")', ','))
               and last_error like '%''p2''%'") < ${#p2[@]})) && ((SECONDS < deadline)); do
  sleep 0.2
done
n_err=$(sql "select count(*) from services where domain = any(string_to_array('$(IFS=,; echo "${p2[*]}")', ','))
             and last_error like '%''p2''%' and dns <> 'published'")
example=$(sql "select last_error from services where domain = '${p2[0]}'")
check "p2's ${#p2[@]} stay unpublished, each with an error naming p2 ($n_err; $example)" \
  test "$n_err" = "${#p2[@]}"
check "none of p2's domains is published" test "$(n_state published "${p2[@]}")" = 0
out=$(ctl status 2>&1); rc=$?
check "status without a domain: p2 NOT answering, exit 1 ($rc: $(head -2 <<<"$out"))" \
  eval 'test $rc = 1 && grep -q "^primary p2 .*NOT answering" <<<"$out" &&
        grep -q "^primary p1 .*answers" <<<"$out"'
m=$(curl -fsS --max-time 5 "$REGZONE_METRICS" 2>/dev/null)
check "regzone_up: knot:p1 1, knot:p2 0" \
  eval 'grep -q "^regzone_up{component=\"knot:p1\"} 1" <<<"$m" &&
        grep -q "^regzone_up{component=\"knot:p2\"} 0" <<<"$m"'
kill -CONT "$k3"
t=$(now_ms)
wait_published 90 "${p2[@]}"
rc=$?
check "once p2 is resumed, its ${#p2[@]} publish ($(n_state published "${p2[@]}")/${#p2[@]})" test "$rc" = 0
note "p2's batch published $(($(now_ms) - t)) ms after the resume (retries with backoff)"
ok_dns=1
for d in "${p2[@]}"; do served "$REGZONE_PRIMARY2_DNS2_PORT" "$d" || ok_dns=0; done
check "... and p2's secondary serves them" test "$ok_dns" = 1
check "regzoned is still running" kill -0 "$main_pid"

# ------------------------------------------------------- 3. an ambiguous zone
for k in knot1 knot3; do
  printf '$ORIGIN dup.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\n' \
    >"$dir/$k/zones/dup.test.zone"
  { HOME=/nonexistent knotc -s "$dir/$k/knot.sock" conf-begin &&
    HOME=/nonexistent knotc -s "$dir/$k/knot.sock" conf-set 'zone[dup.test]' &&
    HOME=/nonexistent knotc -s "$dir/$k/knot.sock" conf-commit; } >/dev/null 2>&1 ||
    bad "knotc: dup.test on $k"
done
check "dup.test is served by both primaries" \
  eval 'test -n "$(dig_short "$REGZONE_DNS_PORT" dup.test SOA)" &&
        test -n "$(dig_short "$REGZONE_PRIMARY2_DNS_PORT" dup.test SOA)"'
events=$(sql "select count(*) from events")
out=$(ctl enable www.dup.test 2>&1); rc=$?
check "an enable in dup.test is refused naming the zone and both primaries ($rc: $out)" \
  eval 'test $rc = 1 && grep -q "zone_not_served" <<<"$out" && grep -q "dup.test" <<<"$out" &&
        grep -q "p1" <<<"$out" && grep -q "p2" <<<"$out"'
check "... and stored nothing" \
  test "$(sql "select count(*) from services where domain = 'www.dup.test'")/$(sql "select count(*) from events")" = "0/$events"
check "... and regzoned logged the refusal" grep -q "www.dup.test.*dup.test is served by two" "$dir/regzoned.log"
out=$(ctl status 2>&1); rc=$?
check "status without a domain names dup.test as ambiguous, exit 1 ($rc)" \
  eval 'test $rc = 1 && grep -q "^ambiguous zone dup.test: listed by p1, p2" <<<"$out"'
out=$(ctl status --json 2>&1)
check "status --json: ambiguous [{zone: dup.test, primaries: [p1, p2]}]" \
  grep -q '"ambiguous":\[{"zone":"dup.test","primaries":\["p1","p2"\]}\]' <<<"$out"
stop_pid "$main_pid"
start_answering "$dir/regzone.yaml" "$dir/regzoned-2.log"
main_pid=$daemon_pid
for ((i = 0; i < 50; i++)); do grep -q "ready:" "$dir/regzoned-2.log" && break; sleep 0.1; done
check "after a restart regzoned logs dup.test as listed by both primaries" \
  grep -q "error: zone dup.test (p1, p2) is listed by more than one knot primary" "$dir/regzoned-2.log"

# ------------------------------------------ 4. a primary no longer configured
sed '/^    - name: p2$/,/^      servers: /d' "$dir/regzone.yaml" >"$dir/p1only.yaml"
out=$("$bin/regzoned" -c "$dir/p1only.yaml" --check 2>&1)
rc=$?
check "a config with p1 only is valid ($out)" test "$rc" = 0
stop_pid "$main_pid"
start_answering "$dir/p1only.yaml" "$dir/regzoned-3.log"
main_pid=$daemon_pid
out=$("$bin/regzonectl" -c "$dir/p1only.yaml" disable a.example.net.test 2>&1)
rc=$?
check "a disable of p2's a.example.net.test is accepted" test "$rc" = 0
deadline=$((SECONDS + 20))
while ! sql "select last_error from services where domain = 'a.example.net.test'" |
        grep -q "knot primary 'p2' is not in the configuration" && ((SECONDS < deadline)); do
  sleep 0.2
done
err=$(sql "select last_error from services where domain = 'a.example.net.test'")
check "its removal fails with a clear error ($err)" \
  grep -q "knot primary 'p2' is not in the configuration" <<<"$err"
check "regzoned is still running, and p1 still works" \
  eval 'kill -0 "$main_pid" && enable_all last.z00003.test && wait_published 20 last.z00003.test'
stop_pid "$main_pid"

summary
((fails == 0))
