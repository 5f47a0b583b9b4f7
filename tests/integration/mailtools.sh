#!/usr/bin/env bash
# The mail profile proven with real mail tools (Debian's, nobody here wrote
# them), on the devstack where example.test has service xmpp and service
# mail at once:
#   SPF    python3-spf: 127.0.0.1 (the hosting's MX) passes for
#          someone@example.test, another address soft-fails (~all)
#   DKIM   python3-dkim: a message signed with the hosting's key (d=example.test,
#          s=rz1) verifies, the key found through regzone's
#          rz1._domainkey.example.test CNAME; a tampered one does not
#   MTA-STS postfix-mta-sts-resolver's mta-sts-query reads _mta-sts TXT and
#          fetches the policy over HTTPS from a policy server presenting
#          regzone's certificate for mta-sts.example.test, trusting only the
#          devstack's ACME root; the id is the TXT's
#   DMARC  opendmarc-check reads _dmarc: policy reject
# Every check fails before mail is enabled and after it is disabled; the
# MTA-STS fetch also fails with another CA and with a certificate for other
# names.  Disabling mail leaves xmpp alone: still active, its records
# served, its certificate in place, a real XMPP login still works.
#
# mta-sts-query (c-ares) and opendmarc-check (libresolv) only know port 53
# and the fetch only port 443: they run in a private network and mount
# namespace (unshare) whose /etc/resolv.conf says 127.0.0.1, where
# mailtools/dnsbridge answers from the devstack's knotd and
# mailtools/policyserver listens on 443.  Needs root (or skips).
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/mailtools.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-21500}
export REGZONE_PORT_BASE=$base
unset REGZONE_DEMO_ZONES REGZONE_CERT_AUTO
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt=$src/tests/integration/mailtools
D=example.test

if ((EUID != 0)); then echo "# skipped: needs root (unshare --net, port 53 and 443 in a namespace)"; exit 0; fi
for t in /usr/bin/mta-sts-query /usr/sbin/opendmarc-check; do
  [ -x "$t" ] || { echo "FAIL - $t is missing (deploy/install-deps)"; exit 1; }
done
/usr/bin/python3 -c 'import spf, dkim, dns.resolver' 2>/dev/null ||
  { echo "FAIL - python3-spf, python3-dkim or python3-dnspython is missing (deploy/install-deps)"; exit 1; }

tmp=$(mktemp -d /tmp/rzmailtools.XXXXXX)
dir=$tmp/stack
daemon_pid='' ns_pid='' bridge_pid='' policy_pid=''
cleanup() {
  stop_pid "$policy_pid"; stop_pid "$bridge_pid"; stop_pid "$ns_pid"
  stack_cleanup
}
trap cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
dig_short() { kdig @127.0.0.1 -p "$REGZONE_DNS_PORT" +timeout=2 +retry=1 +short "$1" "$2" 2>/dev/null; }
has() { grep -qF -- "$1" <<<"$out"; }
show() { sed 's/^/#   /' <<<"$out"; }
# in_ns CMD...: CMD in the private namespaces (resolv.conf -> the bridge)
in_ns() { nsenter -t "$ns_pid" -n -m "$@"; }

# The four checks; each sets $out (what the tool said) and $rc.
spf_of() {   # IP
  out=$(/usr/bin/python3 -B "$mt/spfcheck" --dns "127.0.0.1:$REGZONE_DNS_PORT" "$1" "someone@$D" mx.hosting.test 2>&1); rc=$?
}
dkim_of() {  # [--tamper]
  out=$(/usr/bin/python3 -B "$mt/dkimcheck" --dns "127.0.0.1:$REGZONE_DNS_PORT" --key "$REGZONE_MAIL_DKIM_KEY" \
          --domain "$D" --selector rz1 "$@" 2>&1); rc=$?
}
sts_of() {   # [CA file] (default: the devstack's ACME roots)
  out=$(in_ns env SSL_CERT_FILE="${1:-$REGZONE_ACME_ROOTS}" timeout 30 /usr/bin/mta-sts-query -v warn "$D" 2>&1); rc=$?
}
dmarc_of() {
  out=$(in_ns timeout 30 /usr/sbin/opendmarc-check "$D" 2>&1); rc=$?
}
# policy_server CERT_DIR: (re)start the MTA-STS web server on 127.0.0.1:443
# in the namespace with CERT_DIR/{fullchain,privkey}.pem
policy_server() {
  stop_pid "$policy_pid"; policy_pid=
  rm -f "$tmp/policy.ready"
  nsenter -t "$ns_pid" -n /usr/bin/python3 -B "$mt/policyserver" --listen 127.0.0.1:443 \
    --cert "$1/fullchain.pem" --key "$1/privkey.pem" --ready "$tmp/policy.ready" 2>>"$tmp/policy.log" &
  policy_pid=$!
  until_ok 10 test -s "$tmp/policy.ready"
}
# login: the XMPP login of xmpp.sh (SRV lookup on the devstack, STARTTLS,
# the certificate verified against the ACME root only)
login() {
  out=$(timeout 120 /usr/bin/python3 "$src/deploy/xmpp-login" --dns "127.0.0.1:$REGZONE_DNS_PORT" \
          --ca "$REGZONE_ACME_ROOTS" --jid "alice@$D" --password-file "$tmp/alice.pw" --tls starttls \
          --timeout 20 2>&1); rc=$?
}

# ---------------------------------------------------------------- 1. stack
"$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
check "the stack has a mail profile ($REGZONE_MAIL_PROFILE) and its DKIM key" test -s "$REGZONE_MAIL_DKIM_KEY"
check "start regzoned" start_answering "$dir/regzone.yaml" "$tmp/regzoned.log"

# The namespace: its own loopback, its own /etc/resolv.conf; a process
# holds it (unshare execs sleep), the tools join it with nsenter.
echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
unshare --net --mount --propagation private sleep 600 &
ns_pid=$!
until_ok 5 test "$(readlink "/proc/$ns_pid/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)"
nsenter -t "$ns_pid" -n ip link set lo up &&
  nsenter -t "$ns_pid" -m mount --bind "$tmp/resolv.conf" /etc/resolv.conf
check "a private network+mount namespace (pid $ns_pid), its resolv.conf: $(in_ns cat /etc/resolv.conf)" \
  test "$(in_ns cat /etc/resolv.conf)" = "nameserver 127.0.0.1"
/usr/bin/python3 -B "$mt/dnsbridge" --netns "/proc/$ns_pid/ns/net" --listen 127.0.0.1:53 \
  --upstream "127.0.0.1:$REGZONE_DNS_PORT" --ready "$tmp/dns.ready" 2>>"$tmp/dns.log" &
bridge_pid=$!
check "the DNS bridge listens on the namespace's 127.0.0.1:53" until_ok 10 test -s "$tmp/dns.ready"
out=$(in_ns getent hosts mx.hosting.test)
check "in the namespace, the system resolver finds the devstack's names ($out)" has "127.0.0.1"
out=$(in_ns kdig +tcp +short +timeout=2 @127.0.0.1 mx.hosting.test A 2>&1)
check "... over TCP too ($out)" test "$out" = 127.0.0.1
out=$(getent hosts mx.hosting.test)
check "... and outside it the host's resolver is untouched (mx.hosting.test: ${out:-unknown there})" test -z "$out"

# ---------------------------------------------------------------- 2. xmpp only
printf 'pw-%s\n' "$(openssl rand -hex 12)" >"$tmp/alice.pw"
out=$(prosodyctl --config "$REGZONE_PROSODY_CONFIG" register alice "$D" "$(cat "$tmp/alice.pw")" 2>&1)
check "prosodyctl register alice@$D ($out)" test $? = 0
out=$(ctl enable "$D" --profile "$REGZONE_XMPP_PROFILE" 2>&1)
check "enable $D for xmpp" test $? = 0
out=$(ctl wait "$D" --profile xmpp --until active --timeout 60 2>&1)
check "$D xmpp active" test $? = 0
xmpp_serial=$(ctl status "$D" --profile xmpp --json | sed -n 's/.*"serial":"\([0-9A-F]*\)".*/\1/p')

# Without the mail service every mail check fails.
spf_of 127.0.0.1
check "xmpp only: SPF for 127.0.0.1 is none, not pass ($out)" has "spf: none"
dkim_of
check "xmpp only: DKIM does not verify (rc $rc)" bash -c '[ "$1" = 1 ] && grep -q "verify: fail" <<<"$2"' _ "$rc" "$out"
show
sts_of
check "xmpp only: mta-sts-query finds no policy ($out)" has "STSFetchResult.NONE"
dmarc_of
check "xmpp only: opendmarc-check finds no DMARC record (rc $rc: $out)" \
  bash -c '[ "$1" != 0 ] && grep -q "lacked a DMARC record" <<<"$2"' _ "$rc" "$out"

# ---------------------------------------------------------------- 3. mail too
out=$(ctl enable "$D" --profile "$REGZONE_MAIL_PROFILE" 2>&1)
check "enable $D for mail ($REGZONE_MAIL_PROFILE)" test $? = 0
out=$(ctl wait "$D" --profile mail --until active --timeout 60 2>&1)
check "$D mail active: records published, certificate issued ($(ctl status "$D" --profile mail --json))" test $? = 0
out=$(ctl wait "$D" --profile xmpp --until active --timeout 5 2>&1)
check "$D xmpp still active beside it" test $? = 0
mcd=$REGZONE_CERT_DIR/mail/$D
check "the mail certificate is in $mcd" test -s "$mcd/fullchain.pem" -a -s "$mcd/privkey.pem"
sans=$(openssl x509 -in "$mcd/fullchain.pem" -noout -ext subjectAltName 2>/dev/null | tail -n1 | tr -d ' ')
check "... for mta-sts.$D and autoconfig.$D ($sans)" test "$sans" = "DNS:mta-sts.$D,DNS:autoconfig.$D"
sts_id=$(dig_short "_mta-sts.$D" TXT | sed -n 's/.*id=\([0-9a-f]*\).*/\1/p')
check "_mta-sts.$D TXT has an id ($sts_id)" test -n "$sts_id"

spf_of 127.0.0.1
check "SPF (pyspf): 127.0.0.1, someone@$D, helo mx.hosting.test: pass" has "spf: pass"
show
spf_of 192.0.2.7
check "SPF (pyspf): 192.0.2.7: softfail (the profile's ~all)" has "spf: softfail"
show
dkim_of
check "DKIM (python3-dkim): signed d=$D s=rz1 with the hosting's key, verified (rc $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "verify: pass" <<<"$2"' _ "$rc" "$out"
check "DKIM: the key was found through rz1._domainkey.$D CNAME rz1._domainkey.hosting.test" \
  has "rz1._domainkey.$D. -> rz1._domainkey.hosting.test."
show
dkim_of --tamper
check "DKIM: a tampered message does not verify (rc $rc)" \
  bash -c '[ "$1" = 1 ] && grep -q "body hash mismatch" <<<"$2"' _ "$rc" "$out"

# MTA-STS, first with a certificate for other names (the XMPP one).
check "policy server on the namespace's 127.0.0.1:443 with the XMPP certificate" policy_server "$REGZONE_CERT_DIR/$D"
sts_of
check "MTA-STS: a certificate not for mta-sts.$D is refused ($out)" \
  bash -c 'grep -q "FETCH_ERROR" <<<"$1" && grep -qi "hostname mismatch\|not valid for" <<<"$1"' _ "$out"
check "policy server with regzone's mail certificate" policy_server "$mcd"
sts_of /etc/ssl/certs/ca-certificates.crt
check "MTA-STS: trusting the system CAs instead of the ACME root, refused ($out)" \
  bash -c 'grep -q "FETCH_ERROR" <<<"$1" && grep -q "CERTIFICATE_VERIFY_FAILED" <<<"$1"' _ "$out"
sts_of
check "MTA-STS (mta-sts-query): policy fetched and valid ($out)" has "STSFetchResult.VALID"
check "MTA-STS: the id is the _mta-sts TXT's ($sts_id)" has "('$sts_id', {"
check "MTA-STS: mode enforce, mx mx.hosting.test" \
  bash -c 'grep -q "'"'mode': 'enforce'"'" <<<"$1" && grep -q "'"'mx': \['mx.hosting.test'\]"'" <<<"$1"' _ "$out"
check "MTA-STS: fetched over HTTPS as mta-sts.$D (SNI and Host)" \
  grep -q "Host mta-sts.$D, SNI mta-sts.$D: \"GET /.well-known/mta-sts.txt HTTP/1.1\" 200" "$tmp/policy.log"
dmarc_of
check "DMARC (opendmarc-check): a record, policy reject (rc $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "Domain policy: reject" <<<"$2"' _ "$rc" "$out"
check "DMARC: aggregate reports to mailto:dmarc@hosting.test" has "mailto:dmarc@hosting.test"
show

# ---------------------------------------------------------------- 4. disable mail
out=$(ctl disable "$D" --profile mail 2>&1)
check "disable $D for mail" test $? = 0
out=$(ctl wait "$D" --profile mail --until disabled --timeout 60 2>&1)
check "$D mail disabled ($out)" test $? = 0
spf_of 127.0.0.1
check "after disable: SPF for 127.0.0.1 is none ($out)" has "spf: none"
dkim_of
check "after disable: DKIM does not verify, no key (rc $rc)" \
  bash -c '[ "$1" = 1 ] && grep -q "missing public key" <<<"$2"' _ "$rc" "$out"
sts_of
check "after disable: mta-sts-query finds no policy, the policy server still up ($out)" \
  bash -c 'grep -q "STSFetchResult.NONE" <<<"$1" && kill -0 "$2"' _ "$out" "$policy_pid"
dmarc_of
check "after disable: opendmarc-check finds no DMARC record (rc $rc: $out)" \
  bash -c '[ "$1" != 0 ] && grep -q "lacked a DMARC record" <<<"$2"' _ "$rc" "$out"
check "after disable: the mail certificate files are gone" test ! -e "$mcd/fullchain.pem" -a ! -e "$mcd/privkey.pem"

# XMPP untouched.
st=$(ctl status "$D" --profile xmpp --json 2>&1)
check "xmpp still active, same certificate ($st)" \
  bash -c 'grep -q "\"active\":true" <<<"$1" && grep -q "\"serial\":\"$2\"" <<<"$1"' _ "$st" "$xmpp_serial"
got=$(dig_short "_xmpp-client._tcp.$D" SRV)
check "xmpp's SRV record still served ($got)" test "$got" = "5 1 $REGZONE_XMPP_C2S_PORT $REGZONE_XMPP_HOST."
check "xmpp's certificate files still there" test -s "$REGZONE_CERT_DIR/$D/fullchain.pem" -a -s "$REGZONE_CERT_DIR/$D/privkey.pem"
login
check "XMPP login as alice@$D still works (rc $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "ok login: session as alice@" <<<"$2"' _ "$rc" "$out"
show

echo "# $n checks, $fails failed, $((SECONDS - t0)) s"
if [ "$fails" -gt 0 ]; then
  echo "# regzoned log (tail):"; tail -n 30 "$tmp/regzoned.log" | sed 's/^/#   /'
  echo "# dnsbridge log (tail):"; tail -n 20 "$tmp/dns.log" | sed 's/^/#   /'
  echo "# policy server log:"; sed 's/^/#   /' "$tmp/policy.log" 2>/dev/null
fi
[ "$fails" = 0 ]
