#!/usr/bin/env bash
# CAA on the devstack (acme.caa_identities: pebble.letsencrypt.org; Pebble
# itself checks no CAA, so what refuses here is regzone's own check before
# an order):
#   1. the profile xmpp-caa-devstack publishes CAA issue "...;
#      accounturi={acme_account_uri}; validationmethods=dns-01", enabled
#      first thing (the dns job makes sure of the account itself): both
#      servers serve it with regzone's account URL (the one it logged and
#      ordered with), and the certificate is issued anyway (regzone's check
#      accepts its own account); regzonectl diff takes the account from the
#      orders and finds it in sync;
#   2. a customer's CAA at the zone's apex that allows another CA only ->
#      the certificate is failed with "CAA at example.org.test allows only
#      other-ca.example" and no ACME order was made; the record removed and
#      `regzonectl retry` -> issued.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/caa.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-24400}
export REGZONE_PORT_BASE=$base
unset REGZONE_DEMO_ZONES REGZONE_CERT_AUTO REGZONE_CERT_POSH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzcaa.XXXXXX)
dir=$tmp/stack
D1=example.org.test D2=example.test
daemon_pid=
trap stack_cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
sql() { psql "$REGZONE_PG" -X -Atc "$1"; }
knot() { HOME=$tmp/nohome knotc -s "$REGZONE_KNOT_SOCKET" -t 5 "$@" 2>&1; }
caa_of() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 +short "$2" CAA 2>/dev/null; }
orders() { sql "select count(*) from acme_orders where domain = '$1'"; }

"$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
check "the devstack config names Pebble's CAA identity" \
  grep -qx '    - pebble.letsencrypt.org' "$dir/regzone.yaml"

# a customer's CAA on D1 (section 2), written before the daemon starts
out=$(knot zone-begin "$D1"; knot zone-set "$D1" @ 3600 CAA 0 issue '"other-ca.example"'
      knot zone-commit "$D1")
check "customer CAA written with knotc ($out)" test -n "$(caa_of "$REGZONE_DNS_PORT" "$D1")"
until_ok 10 test -n "$(caa_of "$REGZONE_DNS2_PORT" "$D1")"
check "the secondary serves it too" test -n "$(caa_of "$REGZONE_DNS2_PORT" "$D1")"

# -------------------------------- 1. CAA with regzone's own account URL
# First thing after the start: the daemon knows no account yet, so the dns
# job registers (looks up) the account itself before writing the record.
"$bin/regzoned" -c "$dir/regzone.yaml" >>"$tmp/regzoned.log" 2>&1 &
daemon_pid=$!
out=$(ctl preview "$D2" --profile xmpp-caa-devstack 2>&1)
check "preview shows the placeholder and says so" \
  grep -q '^; {acme_account_uri} is shown as https://acme-account.invalid/' <<<"$out"
out=$(ctl enable "$D2" --profile xmpp-caa-devstack 2>&1)
check "enable $D2 with the accounturi profile ($out)" test $? = 0
out=$(ctl wait "$D2" --until active --timeout 40 2>&1)
check "$D2 active: certificate issued despite its CAA ($out $(ctl status "$D2" --json 2>&1))" \
  test $? = 0
acct=$(sed -n 's/.*acme: account \(https:[^ ]*\).*/\1/p' "$tmp/regzoned.log" | tail -n1)
ordered=$(sql "select account from acme_events where domain = '$D2' and kind = 'order_created' order by id desc limit 1")
check "the account regzone logged is the one it ordered with ($acct, $ordered)" \
  test -n "$acct" -a "$acct" = "$ordered"
want="0 issue \"pebble.letsencrypt.org; accounturi=$acct; validationmethods=dns-01\""
for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
  got=$(caa_of "$p" "$D2" | sed 's/ *$//')
  check "port $p serves CAA with regzone's account URL ($got)" test "$got" = "$want"
done
check "regzone's own check accepted its account (log)" \
  grep -q "CAA at $D2 allows pebble.letsencrypt.org (for $D2)" "$tmp/regzoned.log"
out=$(ctl diff "$D2" 2>&1)
check "regzonectl diff $D2: in sync (its account from the orders: $out)" grep -q 'in sync' <<<"$out"

# ------------------------------------- 2. a customer's CAA forbids our CA
out=$(ctl enable "$D1" --profile xmpp-devstack 2>&1)
check "enable $D1 ($out)" test $? = 0
out=$(ctl wait "$D1" --until failed --timeout 40 2>&1)
st=$(ctl status "$D1" --json 2>&1)
check "$D1: certificate failed ($st)" grep -q '"certificate":{"state":"failed"' <<<"$st"
check "$D1: last_error says which CAA forbids it" \
  grep -q 'CAA at example.org.test allows only other-ca.example' <<<"$st"
check "$D1: no ACME order made ($(orders "$D1") in acme_orders)" test "$(orders "$D1")" = 0
check "$D1: no order counted in the budget either" \
  test "$(sql "select count(*) from acme_events where domain = '$D1'")" = 0
check "$D1: the records are published all the same" grep -q '"dns":"published"' <<<"$st"

out=$(knot zone-begin "$D1"; knot zone-unset "$D1" @ CAA; knot zone-commit "$D1")
until_ok 10 test -z "$(caa_of "$REGZONE_DNS_PORT" "$D1")$(caa_of "$REGZONE_DNS2_PORT" "$D1")"
check "customer CAA removed ($out)" test -z "$(caa_of "$REGZONE_DNS2_PORT" "$D1")"
out=$(ctl retry "$D1" 2>&1)
check "retry $D1 ($out)" test $? = 0
out=$(ctl wait "$D1" --until active --timeout 40 2>&1)
check "$D1 active after the retry: certificate issued ($out)" test $? = 0
check "$D1: one order now" test "$(orders "$D1")" = 1

stop_pid "$daemon_pid"
daemon_pid=
echo "# $((SECONDS - t0)) s"
summary
[ "$fails" = 0 ]
