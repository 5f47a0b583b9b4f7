#!/usr/bin/env bash
# POSH (RFC 7711) on the devstack, certificates.posh on: enabling
# example.test writes xmpp-client.json and xmpp-server.json beside its
# certificate, whose sha-256 fingerprint is the one of the certificate
# Prosody (the hosting) presents on its c2s port, taken from a real
# STARTTLS handshake verified against the devstack's ACME root; the hook
# is told where they are (REGZONE_POSH_DIR); a renewal rewrites them for
# the new certificate; disable removes them.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/posh.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-24200}
export REGZONE_PORT_BASE=$base
unset REGZONE_DEMO_ZONES REGZONE_CERT_AUTO
export REGZONE_CERT_POSH=true
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzposh.XXXXXX)
dir=$tmp/stack
D=example.test
daemon_pid=
trap stack_cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
serial_of() { ctl status "$D" --json 2>/dev/null | sed -n 's/.*"serial":"\([0-9A-F]*\)".*/\1/p'; }
# base64(SHA-256(DER)) of the certificate on stdin (the first one)
fp_of() { openssl x509 -outform der 2>/dev/null | openssl dgst -sha256 -binary | base64; }
# ... of the certificate Prosody presents for $D on its c2s port (STARTTLS),
# verified against the devstack's ACME root only; empty when it does not verify
presented() {
  openssl s_client -starttls xmpp -xmpphost "$D" -servername "$D" \
    -connect "127.0.0.1:$REGZONE_XMPP_C2S_PORT" -CAfile "$REGZONE_ACME_ROOTS" \
    -verify_return_error </dev/null 2>/dev/null | fp_of
}
# the sha-256 of a POSH document, after checking its shape:
# exactly {"fingerprints": [{"sha-256": S}], "expires": N}, N a non-negative integer
doc_fp() {
  python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict) and sorted(d) == ["expires", "fingerprints"], d
f = d["fingerprints"]
assert isinstance(f, list) and len(f) == 1 and isinstance(f[0], dict) and list(f[0]) == ["sha-256"], f
e = d["expires"]
assert type(e) is int and e >= 0, e
print(f[0]["sha-256"])
EOF
}
doc_expires() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["expires"])' "$1"; }
# Prosody reloads asynchronously after the hook's SIGHUP: a few tries
presents() { local i; for ((i = 0; i < 50; i++)); do [ "$(presented)" = "$1" ] && return 0; sleep 0.2; done; return 1; }

# ---------------------------------------------------------------- 1. stack
"$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
live=$REGZONE_CERT_DIR/$D
check "the devstack config has certificates.posh: true (REGZONE_CERT_POSH)" \
  grep -qx '  posh: true' "$dir/regzone.yaml"
# The devstack's hook, behind a wrapper that keeps its REGZONE_ variables.
cat >"$tmp/wrap.sh" <<EOF
#!/bin/sh
env | grep '^REGZONE_' | sort >"$tmp/hook-env.\$REGZONE_ACTION"
exec "\$@"
EOF
chmod 0755 "$tmp/wrap.sh"
sed -i "s|^  deploy_hook: \"\\(.*\\)\"\$|  deploy_hook: \"$tmp/wrap.sh \\1\"|" "$dir/regzone.yaml"
check "the hook wrapped ($(grep deploy_hook "$dir/regzone.yaml"))" grep -q "deploy_hook: \"$tmp/wrap.sh " "$dir/regzone.yaml"
out=$("$bin/regzoned" -c "$dir/regzone.yaml" --check 2>&1)
check "the config passes --check ($out)" test $? = 0
"$bin/regzoned" -c "$dir/regzone.yaml" >>"$tmp/regzoned.log" 2>&1 &
daemon_pid=$!

# ---------------------------------------------------------------- 2. enable
out=$(ctl enable "$D" --profile "$REGZONE_XMPP_PROFILE" 2>&1)
check "enable $D ($out)" test $? = 0
out=$(ctl wait "$D" --until active --timeout 60 2>&1)
check "$D active: certificate issued and deployed ($out)" test $? = 0
serial1=$(serial_of)
for f in xmpp-client.json xmpp-server.json; do
  check "$f is in the live directory" test -f "$live/$f"
  check "$f is 0644 like the chain ($(stat -L -c %a "$live/$f" 2>&1))" test "$(stat -L -c %a "$live/$f" 2>&1)" = 644
  check "$f is in the certificate's generation ($(readlink "$live"))" test -f "$REGZONE_CERT_DIR/$(readlink "$live")/$f"
done
check "xmpp-client.json and xmpp-server.json are the same document" \
  cmp -s "$live/xmpp-client.json" "$live/xmpp-server.json"
doc1=$(doc_fp "$live/xmpp-client.json" 2>&1)
check "xmpp-client.json has the RFC 7711 shape ($doc1)" test -n "$doc1" -a "${#doc1}" = 44
chain1=$(fp_of <"$live/fullchain.pem")
check "its sha-256 is the installed leaf's ($doc1 = $chain1)" test "$doc1" = "$chain1"
check "... and the one Prosody presents on c2s, STARTTLS, verified against the ACME root ($(presented))" \
  presents "$doc1"
end=$(date -d "$(openssl x509 -noout -enddate <"$live/fullchain.pem" | cut -d= -f2)" +%s)
exp=$(doc_expires "$live/xmpp-client.json")
want=$(((end - $(date +%s)) / 10)); ((want > 86400)) && want=86400
check "expires ($exp) is min(86400, a tenth of the lifetime left) (~$want)" \
  test "$exp" -le 86400 -a "$exp" -ge $((want - 60)) -a "$exp" -le $((want + 60))
check "the deploy hook got REGZONE_POSH_DIR=$live ($(tr '\n' ' ' <"$tmp/hook-env.deploy" 2>&1))" \
  grep -qx "REGZONE_POSH_DIR=$live" "$tmp/hook-env.deploy"

# ---------------------------------------------------------------- 3. renew
rm -f "$tmp/hook-env.deploy"
out=$(ctl renew "$D" 2>&1)
check "renew $D ($out)" test $? = 0
for ((i = 0; i < 300; i++)); do
  serial2=$(serial_of)
  [ -n "$serial2" ] && [ "$serial2" != "$serial1" ] && [ -e "$tmp/hook-env.deploy" ] && break
  sleep 0.1
done
check "renew: a new certificate, deployed ($serial1 -> $serial2)" test -n "$serial2" -a "$serial2" != "$serial1" -a -e "$tmp/hook-env.deploy"
doc2=$(doc_fp "$live/xmpp-client.json" 2>&1)
check "renew: xmpp-client.json names the new certificate ($doc2 = $(fp_of <"$live/fullchain.pem"))" \
  test "$doc2" = "$(fp_of <"$live/fullchain.pem")" -a "$doc2" != "$doc1"
check "renew: xmpp-server.json too" test "$(doc_fp "$live/xmpp-server.json" 2>&1)" = "$doc2"
check "renew: Prosody presents the certificate the documents name" presents "$doc2"

# ---------------------------------------------------------------- 4. disable
gen=$REGZONE_CERT_DIR/$(readlink "$live")
out=$(ctl disable "$D" 2>&1)
check "disable $D ($out)" test $? = 0
out=$(ctl wait "$D" --until disabled --timeout 30 2>&1)
check "disable: done ($out)" test $? = 0
for ((i = 0; i < 50; i++)); do [ -e "$live" ] || [ -L "$live" ] || break; sleep 0.1; done
for f in xmpp-client.json xmpp-server.json; do
  check "disable: $f gone" test ! -e "$live/$f" -a ! -e "$gen/$f"
done
check "disable: the certificate files gone with them" test ! -e "$live/fullchain.pem" -a ! -L "$live"
check "the remove hook got REGZONE_POSH_DIR too" grep -qx "REGZONE_POSH_DIR=$live" "$tmp/hook-env.remove"

kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=
echo "# $n checks, $fails failed, $((SECONDS - t0)) s"
if [ "$fails" -gt 0 ]; then
  echo "# regzoned log (tail):"; tail -n 30 "$tmp/regzoned.log" | sed 's/^/#   /'
fi
[ "$fails" = 0 ]
