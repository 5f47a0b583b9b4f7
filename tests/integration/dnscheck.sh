#!/usr/bin/env bash
# zonegen/dnscheck.c against real servers: the devstack's primary knotd and
# its secondary (fed by NOTIFY + zone transfer), through dnscheck_probe.
# ctest runs it with RZ_SRCDIR (repository), RZ_BINDIR (build/bin) and
# REGZONE_PORT_BASE (this test owns BASE..BASE+49).
set -uo pipefail
src=${RZ_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${RZ_BINDIR:-$src/build/bin}
export REGZONE_PORT_BASE=${REGZONE_PORT_BASE:-18400}
BASE=$REGZONE_PORT_BASE
probe=${DNSCHECK_PROBE:-$bin/dnscheck_probe}
unset REGZONE_DEMO_ZONES REGZONE_DEVSTACK_PEBBLE REGZONE_DEVSTACK_KNOTD

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d)
stack=$tmp/stack
SINK=""
cleanup() {
  if [[ -n "$SINK" ]]; then kill "$SINK" 2>/dev/null; wait "$SINK" 2>/dev/null; fi
  "$src/deploy/devstack" down "$stack" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -x "$probe" ]]; then
  bad "dnscheck_probe is built ($probe)"
  summary; exit 1
fi

if ! "$src/deploy/devstack" up "$stack" >"$tmp/up.log" 2>&1; then
  cat "$tmp/up.log"
  bad "devstack up"
  summary; exit 1
fi
ok "devstack up"
# shellcheck disable=SC1091
. "$stack/env"
P1=$REGZONE_DNS_ADDR@$REGZONE_DNS_PORT
P2=$REGZONE_DNS_ADDR@$REGZONE_DNS2_PORT
BOTH=$P1,$P2
ZONE=example.test

# knotc against the primary; HOME elsewhere so it writes no history.
knot() { HOME=$tmp/nohome knotc -s "$REGZONE_KNOT_SOCKET" -t 5 "$@" 2>&1; }
# kc ARGS...: one knotc command that must answer OK.
kc() {
  local out
  out=$(knot "$@")
  [[ "$out" == OK ]] && return 0
  echo "  knotc $*: $out" >&2
  return 1
}
# edit: run "zone-set"/"zone-unset" lines (one per argument, fields split
# at the first 4 spaces: OWNER TTL TYPE DATA) in one transaction.
edit() {
  local verb=$1 line owner ttl type data rc=0; shift
  kc zone-begin "$ZONE" || return 1
  for line in "$@"; do
    read -r owner ttl type data <<<"$line"
    if [[ "$verb" == set ]]; then
      kc zone-set "$ZONE" "$owner" "$ttl" "$type" "$data" || { rc=1; break; }
    else
      kc zone-unset "$ZONE" "$owner" "$type" "$data" || { rc=1; break; }
    fi
  done
  if ((rc == 0)); then
    kc zone-commit "$ZONE" || rc=1
  else
    knot zone-abort "$ZONE" >/dev/null
  fi
  return "$rc"
}

# run_probe VAR ARGS...: the probe's output (stdout+stderr) in VAR, exit code in RC.
RC=0
run_probe() {
  local __v=$1 __out; shift
  __out=$("$probe" "$@" 2>&1)
  RC=$?
  printf -v "$__v" '%s' "$__out"
}
# until_ok SECONDS ARGS...: run the probe until it exits 0 (output in OUT).
OUT=""
until_ok() {
  local secs=$1 deadline; shift
  deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
  while :; do
    run_probe OUT "$@"
    ((RC == 0)) && return 0
    (($(date +%s%N) / 1000000 >= deadline)) && return 1
    sleep 0.05
  done
}
# query_all SERVER FILE: query every (owner, type) of FILE, sorted output.
query_all() {
  local addr=${1%@*} port=${1##*@} owner type
  awk '{print $1, $4}' "$2" | sort -u | while read -r owner type; do
    "$probe" query "$addr" "$port" "$owner" "$type" || echo "query $owner $type failed"
  done | sort
}

# ---------------------------------------------------------------- records
# What regzone would generate, in its format: every type it writes, two
# records in one RRset (MX), a TXT with spaces and ';', an IPv4-compatible
# IPv6 address (Knot prints ::c000:201 for it).
cat >"$tmp/ours" <<'EOF'
_xmpp-client._tcp.dc.example.test. 3600 IN SRV 5 1 5222 xmpp-hosting.example.net.
_xmpps-client._tcp.dc.example.test. 3600 IN SRV 1 1 443 xmpps-hosting.example.net.
conference.dc.example.test. 3600 IN CNAME xmpp-hosting.example.net.
dc.example.test. 3600 IN A 192.0.2.7
dc.example.test. 3600 IN AAAA 2001:db8::7
dc.example.test. 3600 IN TXT "v=xmpp; hosted at example.net"
dc.example.test. 3600 IN MX 10 mail.example.net.
dc.example.test. 3600 IN MX 20 mx2.example.net.
dc.example.test. 3600 IN CAA 0 issue "letsencrypt.org"
v4compat.dc.example.test. 3600 IN AAAA ::192.0.2.1
EOF
# The same records as written to Knot, some in other spellings of the same
# data (upper-case names, uncompressed IPv6): answers must still come back
# in regzone's form.
knot_sets=(
  "_xmpp-client._tcp.dc 3600 SRV 5 1 5222 XMPP-Hosting.Example.NET."
  "_xmpps-client._tcp.dc 3600 SRV 1 1 443 xmpps-hosting.example.net."
  "conference.dc 3600 CNAME Xmpp-Hosting.example.net."
  "dc 3600 A 192.0.2.7"
  "dc 3600 AAAA 2001:DB8:0:0:0:0:0:7"
  "dc 3600 TXT \"v=xmpp; hosted at example.net\""
  "dc 3600 MX 10 mail.example.net."
  "dc 3600 MX 20 MX2.example.net."
  "dc 3600 CAA 0 issue \"letsencrypt.org\""
  "v4compat.dc 3600 AAAA ::192.0.2.1"
  # a delegation (a customer's), for the "not authoritative" case
  "sub 3600 NS ns.elsewhere.example."
)
serial0=$("$probe" soa "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" "$ZONE" 2>&1)
check "SOA serial of the primary is a number ($serial0)" grep -Eqx '[0-9]+' <<<"$serial0"
check "records added to $ZONE with knotc (one transaction)" edit set "${knot_sets[@]}"
serial1=$("$probe" soa "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" "$ZONE" 2>&1)
check "the commit bumped the primary's serial ($serial0 -> $serial1)" \
  test "$serial1" -gt "$serial0" 2>/dev/null

# ---------------------------------------------------------------- query
got=$(query_all "$P1" "$tmp/ours")
if [[ "$got" == "$(sort "$tmp/ours")" ]]; then
  ok "query returns exactly the records, in regzone's format"
else
  bad "query returns exactly the records, in regzone's format"
  diff <(sort "$tmp/ours") <(echo "$got") | sed 's/^/  /'
fi
run_probe out query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" DC.Example.TEST MX
check "query: owner in any case, no trailing dot" \
  test "$RC" -eq 0 -a "$out" = "$(grep ' MX ' "$tmp/ours")"
run_probe out query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" conference.dc.example.test. SRV
check "query: a CNAME where SRV is asked gives no records ($out)" test "$RC" -eq 0 -a -z "$out"
run_probe out query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" nothing.dc.example.test. A
check "query: NXDOMAIN gives no records ($out)" test "$RC" -eq 0 -a -z "$out"

# ---------------------------------------------------------------- present
run_probe out check present "$P1" "$tmp/ours"
check "check present on the primary: ok ($out)" test "$RC" -eq 0 -a "$out" = ok
if until_ok 10 check present "$BOTH" "$tmp/ours"; then
  ok "check present on primary and secondary: ok once the secondary transferred"
else
  bad "check present on primary and secondary within 10 s: $OUT"
fi
got=$(query_all "$P2" "$tmp/ours")
check "the secondary answers the same records in the same format" test "$got" = "$(sort "$tmp/ours")"
if until_ok 10 soa "$REGZONE_DNS_ADDR" "$REGZONE_DNS2_PORT" "$ZONE" && [[ "$OUT" == "$serial1" ]]; then
  ok "the secondary's SOA serial is the primary's ($OUT)"
else
  bad "the secondary's SOA serial ($OUT) is the primary's ($serial1)"
fi

sed 's/ 5222 / 5223 /' "$tmp/ours" >"$tmp/changed"
run_probe out check present "$BOTH" "$tmp/changed"
check "one changed rdata: not yet (1), naming server and record ($out)" \
  test "$RC" -eq 1 -a -n "$(grep -F "$P1: not served yet: _xmpp-client._tcp.dc.example.test. 3600 IN SRV 5 1 5223 xmpp-hosting.example.net." <<<"$out")"
sed 's/^dc.example.test. 3600 IN A /dc.example.test. 300 IN A /' "$tmp/ours" >"$tmp/ttl"
run_probe out check present "$BOTH" "$tmp/ttl"
check "a TTL mismatch: not yet (1) ($out)" \
  test "$RC" -eq 1 -a -n "$(grep -F "$P1: served with TTL 3600 instead of 300: dc.example.test. 300 IN A 192.0.2.7" <<<"$out")"
run_probe out check absent "$BOTH" "$tmp/ours"
check "check absent while they are served: not yet (1) ($out)" \
  test "$RC" -eq 1 -a -n "$(grep -F "$P1: still served: " <<<"$out")"

# ---------------------------------------------------------------- absent
cat >"$tmp/never" <<'EOF'
_xmpp-client._tcp.never.example.test. 3600 IN SRV 5 1 5222 xmpp-hosting.example.net.
never.example.test. 3600 IN CNAME xmpp-hosting.example.net.
dc.example.test. 3600 IN A 192.0.2.99
dc.example.test. 3600 IN TXT "v=xmpp; hosted elsewhere"
www.example.test. 3600 IN A 192.0.2.99
EOF
run_probe out check absent "$BOTH" "$tmp/never"
check "check absent on records never added (other rdata at our owners, a customer's www A): ok ($out)" \
  test "$RC" -eq 0 -a "$out" = ok
run_probe out check present "$BOTH" "$tmp/never"
check "check present on them: not yet (1), first missing named ($out)" \
  test "$RC" -eq 1 -a -n "$(grep -F "$P1: not served yet: _xmpp-client._tcp.never.example.test." <<<"$out")"

# ---------------------------------------------------------------- TCP
# 30 TXT records of 200 bytes at one owner: about 6 KB, truncated over UDP.
big_sets=() big_lines=()
for i in $(seq -w 1 30); do
  txt="big-$i-$(printf 'x%.0s' $(seq 1 193))"
  big_sets+=("big 3600 TXT \"$txt\"")
  big_lines+=("big.example.test. 3600 IN TXT \"$txt\"")
done
printf '%s\n' "${big_lines[@]}" >"$tmp/big"
check "30 TXT records of 200 bytes added" edit set "${big_sets[@]}"
tcflags=$(kdig @"$REGZONE_DNS_ADDR" -p "$REGZONE_DNS_PORT" +notcp +ignore +norec +noedns big.example.test TXT 2>&1 | grep 'Flags:')
check "over UDP the server truncates that answer ($tcflags)" grep -qw tc <<<"$tcflags"
got=$("$probe" query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" big.example.test TXT 2>&1 | sort)
check "query of the large RRset works (TCP after TC): 30 records, exact" test "$got" = "$(sort "$tmp/big")"
if until_ok 10 check present "$BOTH" "$tmp/big"; then
  ok "check present of the large RRset on both servers"
else
  bad "check present of the large RRset on both servers: $OUT"
fi

# ---------------------------------------------------------------- threads
run_probe out threads 8 10 "$BOTH" "$tmp/ours"
check "8 threads x 10 rounds of check + queries at once ($out)" test "$RC" -eq 0

# ---------------------------------------------------------------- errors
closed=$((BASE + 40))
run_probe out check present "$P1,$REGZONE_DNS_ADDR@$closed" "$tmp/ours"
check "a server on a closed port: error (2) naming it ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F "$REGZONE_DNS_ADDR@$closed: connection refused" <<<"$out")"
run_probe out check present "$REGZONE_DNS_ADDR@$closed,$P1" "$tmp/changed"
check "the unreachable server wins over a missing record ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F "$REGZONE_DNS_ADDR@$closed" <<<"$out")"
run_probe out query "$REGZONE_DNS_ADDR" "$closed" dc.example.test A
check "query on a closed port: error (2) ($out)" test "$RC" -eq 2 -a -n "$(grep -F refused <<<"$out")"

# A UDP port that swallows queries: bounded by the timeout, not hung.
sink=$((BASE + 41))
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    s.recv(65535)
' "$sink" &
SINK=$!
for _ in $(seq 1 100); do [[ -n "$(ss -Hlun "sport = :$sink")" ]] && break; sleep 0.05; done
t0=$(date +%s%N)
run_probe out -t 200 check present "$REGZONE_DNS_ADDR@$sink" "$tmp/ours"
ms=$((($(date +%s%N) - t0) / 1000000))
check "a server that never answers: error (2) after 2 x 200 ms ($ms ms: $out)" \
  test "$RC" -eq 2 -a "$ms" -lt 2000 -a -n "$(grep -F 'no answer' <<<"$out")"

cat >"$tmp/foreign" <<'EOF'
xmpp.example.com. 3600 IN A 192.0.2.1
EOF
run_probe out query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" xmpp.example.com A
check "query in a zone the server does not serve: not authoritative (2) ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F 'server is not authoritative for xmpp.example.com.' <<<"$out")"
run_probe out check absent "$BOTH" "$tmp/foreign"
check "check absent there: error (2), not a silent ok ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F 'not authoritative' <<<"$out")"
run_probe out query "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" host.sub.example.test A
check "a name below a delegation (referral without AA): not authoritative (2) ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F 'without the AA flag' <<<"$out")"
run_probe out soa "$REGZONE_DNS_ADDR" "$REGZONE_DNS_PORT" dc.example.test
check "soa of a name that is not a zone apex: error ($out)" test "$RC" -eq 2
run_probe out check present "nonsense@53" "$tmp/ours"
check "an invalid server address: error (2) ($out)" \
  test "$RC" -eq 2 -a -n "$(grep -F 'invalid server address' <<<"$out")"

# ---------------------------------------------------------------- removal
check "records removed with knotc (one transaction)" edit unset "${knot_sets[@]}"
run_probe out check absent "$P1" "$tmp/ours"
check "check absent on the primary right after the commit: ok ($out)" test "$RC" -eq 0 -a "$out" = ok
if until_ok 10 check absent "$BOTH" "$tmp/ours"; then
  ok "check absent on primary and secondary: ok once the secondary transferred"
else
  bad "check absent on primary and secondary within 10 s: $OUT"
fi
run_probe out check present "$BOTH" "$tmp/ours"
check "check present after removal: not yet (1) ($out)" test "$RC" -eq 1
run_probe out check absent "$BOTH" "$tmp/never"
check "the customer's www A is untouched and still not ours ($out)" test "$RC" -eq 0

# ---------------------------------------------------------------- teardown
kill "$SINK" 2>/dev/null; wait "$SINK" 2>/dev/null; SINK=""
"$src/deploy/devstack" down "$stack" >"$tmp/down.log" 2>&1
check "devstack down" test $? -eq 0
left=$(pgrep -af "$stack" || true)
check "no process left running${left:+: $left}" test -z "$left"

summary
((fails == 0))
