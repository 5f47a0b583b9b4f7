#!/usr/bin/env bash
# Two services on one domain, on the devstack: example.test gets XMPP (a
# profile with the hosting's verification TXT at the apex) and mail
# (mail-devstack: MX, SPF at the apex, DKIM CNAME, DMARC, MTA-STS, ...).
# Both record sets are served side by side (two TXT at the apex, one of
# each), each service has its own state, billing row and certificate
# files (XMPP's where Prosody reads them, mail's under certs/mail/); an
# XMPP profile that would add a second SPF record is refused (conflict);
# a customer's own SPF makes mail 'conflict' on another domain, naming it;
# disabling mail removes exactly its records and files, XMPP untouched.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/mail.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-24300}
export REGZONE_PORT_BASE=$base
unset REGZONE_DEMO_ZONES REGZONE_CERT_AUTO REGZONE_CERT_POSH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzmail.XXXXXX)
dir=$tmp/stack
D=example.test
D2=example.org.test
daemon_pid=
pids=()
t0=$SECONDS
trap stack_cleanup EXIT

if "$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1; then ok "devstack up (port base $base)"
else bad "devstack up"; tail -n 20 "$tmp/up.log"; exit 1; fi
# shellcheck disable=SC1091
. "$dir/env"
export HOME=/nonexistent
cfg=$tmp/regzone.yaml
# Two XMPP profiles of the test: the devstack's with the hosting's
# verification TXT at the apex, and one that would publish an SPF record.
cp "$REGZONE_CONFIG" "$cfg"
xmpp_profile() {  # NAME APEX-TXT
  sed -n '/^  xmpp-devstack:$/,/^    certificate:/p' "$REGZONE_CONFIG" |
    sed "s/^  xmpp-devstack:\$/  $1:/" |
    sed "s|^    records:\$|    records:\n      - { owner: \"@\", type: TXT, text: \"$2\" }|"
}
{ echo; xmpp_profile xmpp-devstack-verified "xmpp-hosting-verification=devstack-token"
  echo; xmpp_profile xmpp-devstack-spf "v=spf1 -all"; } >>"$cfg"
ctl() { "$bin/regzonectl" -c "$cfg" "$@"; }
q() { psql "$REGZONE_PG" -XAtqc "$1"; }
# "mail:N,xmpp:N": billing's active flags, the ledger's live service rows
billing_of() { q "select string_agg(service || ':' || active, ',' order by service) from billing_service_status where domain = '$1'"; }
ledger_of() { q "select string_agg(service || ':' || n, ',' order by service) from (select service, count(*) filter (where removed_at is null) n from published_records where domain = '$1' and purpose = 'service' group by service) x"; }
served() {  # PORT NAME TYPE: the records' data, sorted, one per line
  kdig @127.0.0.1 -p "$1" +short "$2" "$3" 2>/dev/null | sort
}
served_both() {  # NAME TYPE EXPECTED (sorted lines): on the primary and the secondary
  local p i
  for p in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
    for ((i = 0; i < 50; i++)); do
      [ "$(served "$p" "$1" "$2")" = "$3" ] && continue 2
      sleep 0.1
    done
    echo "$1 $2 on :$p: $(served "$p" "$1" "$2" | tr '\n' ' ')" >&2
    return 1
  done
}
sans() { openssl x509 -noout -ext subjectAltName -in "$1" 2>/dev/null | tr ', ' '\n\n' | sed -n 's/^DNS://p' | sort | tr '\n' ' '; }

if start_answering "$cfg" "$tmp/regzoned.log"; then ok "regzoned started"
else bad "regzoned started"; tail -n 20 "$tmp/regzoned.log"; exit 1; fi

# ------------------------------------------------------ both services
check "enable $D for xmpp (profile xmpp-devstack-verified)" eval 'ctl enable "$D" --profile xmpp-devstack-verified >/dev/null'
check "enable $D for mail (profile $REGZONE_MAIL_PROFILE)" eval 'ctl enable "$D" --profile "$REGZONE_MAIL_PROFILE" >/dev/null'
check "xmpp of $D active" eval 'ctl wait "$D" --profile xmpp-devstack-verified --until active --timeout 60 >/dev/null'
check "mail of $D active" eval 'ctl wait "$D" --profile "$REGZONE_MAIL_PROFILE" --until active --timeout 60 >/dev/null'
apex_txt=$(printf '%s\n' '"v=spf1 include:spf.hosting.test ~all"' '"xmpp-hosting-verification=devstack-token"' | sort)
check "the apex holds both services' TXT records, on both servers" served_both "$D" TXT "$apex_txt"
check "mail's MX served" served_both "$D" MX "10 mx.hosting.test."
check "xmpp's SRV served" served_both "_xmpp-client._tcp.$D" SRV "5 1 $REGZONE_XMPP_C2S_PORT $REGZONE_XMPP_HOST."
check "mail's DKIM CNAME served" served_both "rz1._domainkey.$D" CNAME "rz1._domainkey.hosting.test."
check "mail's DMARC served" served_both "_dmarc.$D" TXT '"v=DMARC1; p=reject; rua=mailto:dmarc@hosting.test"'
check "mail's 'no such service' SRV served as 0 0 0 ." served_both "_imap._tcp.$D" SRV "0 0 0 ."
sts=$(served "$REGZONE_DNS_PORT" "_mta-sts.$D" TXT)
check "mail's MTA-STS TXT carries an id ($sts)" eval '[[ $sts =~ ^\"v=STSv1\;\ id=[0-9a-f]{16}\"$ ]]'
sx=$(ctl status "$D" --profile xmpp-devstack-verified --json 2>/dev/null)
sm=$(ctl status "$D" --profile "$REGZONE_MAIL_PROFILE" --json 2>/dev/null)
check "status of each service: its own state" \
  eval 'grep -q "\"service\":\"xmpp\"" <<<"$sx" && grep -q "\"service\":\"mail\"" <<<"$sm" && [ "$(jstr serial <<<"$sx")" != "$(jstr serial <<<"$sm")" ]'
check "list shows a row per service" eval '[ "$(ctl list | awk -v d="$D" "\$1 == d" | wc -l)" = 2 ]'
check "billing: one row per (domain, service), both active ($(billing_of "$D"))" \
  eval '[ "$(billing_of "$D")" = "mail:true,xmpp:true" ]'
check "the ledger: each service owns its own rows ($(ledger_of "$D"))" \
  eval '[ "$(ledger_of "$D")" = "mail:12,xmpp:7" ]'
xc=$REGZONE_CERT_DIR/$D/fullchain.pem mc=$REGZONE_CERT_DIR/mail/$D/fullchain.pem
check "xmpp's certificate where Prosody reads it ($(sans "$xc"))" \
  eval '[ "$(sans "$xc")" = "conference.$D example.test proxy.$D upload.$D " ]'
check "mail's certificate under certs/mail/ ($(sans "$mc"))" \
  eval '[ "$(sans "$mc")" = "autoconfig.$D mta-sts.$D " ]'
check "mail's private key is 0600 or 0640" eval '[[ "$(stat -L -c %a "$REGZONE_CERT_DIR/mail/$D/privkey.pem")" =~ ^6[04]0$ ]]'

# The monitor counts the certificates' expiry at its first reading, then
# every few minutes: a restarted daemon shows both (Pebble's are valid 5
# years: none within 60 days).
expiring() { curl -fsS --max-time 5 "$REGZONE_METRICS" 2>/dev/null | sed -n "s/^regzone_certificates_expiring{within_days=\"$1\"} //p"; }
stop_pid "$daemon_pid"
if start_answering "$cfg" "$tmp/regzoned.log"; then ok "regzoned restarted"
else bad "regzoned restarted"; fi
check "the metrics count both certificates (+Inf: $(expiring +Inf), 60 days: $(expiring 60))" \
  until_ok 10 eval '[ "$(expiring +Inf)" = 2 ] && [ "$(expiring 60)" = 0 ]'

# --------------------------------------------- records that must be unique
out=$(ctl enable "$D" --profile xmpp-devstack-spf 2>&1); rc=$?
check "an xmpp profile adding a second SPF record is refused (exit $rc: $out)" \
  eval '[ "$rc" = 1 ] && grep -q "two v=spf1 records" <<<"$out" && grep -q "mail-devstack" <<<"$out"'
check "the refused enable changed nothing: xmpp keeps its profile" \
  eval '[ "$(q "select profile from services where domain = '"'$D'"' and service = '"'xmpp'"'")" = xmpp-devstack-verified ]'
check "... and the apex still holds the two TXT records" served_both "$D" TXT "$apex_txt"
HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-begin "$D2" >/dev/null &&
  HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-set "$D2" @ 3600 TXT '"v=spf1 -all"' >/dev/null &&
  HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-commit "$D2" >/dev/null
check "a customer's own SPF record in $D2" served_both "$D2" TXT '"v=spf1 -all"'
ctl enable "$D2" --profile "$REGZONE_MAIL_PROFILE" >/dev/null
ctl wait "$D2" --profile "$REGZONE_MAIL_PROFILE" --until conflict --timeout 60 >/dev/null
err=$(ctl status "$D2" --profile "$REGZONE_MAIL_PROFILE" --json 2>/dev/null | jq -r '.. | .last_error? // empty' | head -n1)
check "mail of $D2 is 'conflict', naming the customer's SPF ($err)" \
  eval 'grep -q "v=spf1 -all" <<<"$err" && grep -q "only one may exist" <<<"$err"'
check "... and no second SPF record was added" served_both "$D2" TXT '"v=spf1 -all"'

# ---------------------------------------------------- disable one of two
check "disable mail of $D" eval 'ctl disable "$D" --profile "$REGZONE_MAIL_PROFILE" >/dev/null'
check "mail of $D disabled" eval 'ctl wait "$D" --profile "$REGZONE_MAIL_PROFILE" --until disabled --timeout 60 >/dev/null'
check "the apex keeps xmpp's TXT only" served_both "$D" TXT '"xmpp-hosting-verification=devstack-token"'
check "no MX any more" served_both "$D" MX ""
check "no DKIM CNAME any more" served_both "rz1._domainkey.$D" CNAME ""
check "no DMARC any more" served_both "_dmarc.$D" TXT ""
check "xmpp's SRV still served" served_both "_xmpp-client._tcp.$D" SRV "5 1 $REGZONE_XMPP_C2S_PORT $REGZONE_XMPP_HOST."
check "mail's certificate files gone" eval '[ ! -e "$REGZONE_CERT_DIR/mail/$D" ] && [ -z "$(ls -A "$REGZONE_CERT_DIR/mail" 2>/dev/null | grep -F "$D")" ]'
check "xmpp's certificate still in place" eval '[ "$(sans "$xc")" = "conference.$D example.test proxy.$D upload.$D " ]'
check "xmpp of $D still active" eval 'ctl status "$D" --profile xmpp-devstack-verified --json | grep -q "\"active\":true"'
check "the ledger: xmpp's 7 rows live, mail's all closed ($(ledger_of "$D"))" \
  eval '[ "$(ledger_of "$D")" = "mail:0,xmpp:7" ]'
check "billing: mail inactive, xmpp active ($(billing_of "$D"))" \
  eval '[ "$(billing_of "$D")" = "mail:false,xmpp:true" ]'

note "run time $((SECONDS - t0)) s"
summary
[ "$fails" -eq 0 ]
