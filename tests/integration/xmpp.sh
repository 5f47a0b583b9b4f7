#!/usr/bin/env bash
# The real proof, on the devstack: Prosody (Debian's, nobody here wrote it)
# as the hosting, regzone publishing example.test's records and obtaining
# its certificate, and a real XMPP client (slixmpp) that finds the server
# through the SRV records served by the devstack's Knot, verifies the
# certificate against the devstack's ACME root only, and logs in over
# STARTTLS and over direct TLS, joins a room, makes an HTTP upload round
# trip.  Then a renewal reaches Prosody through the hook without a restart,
# and disable makes the server unfindable.  A wrong CA makes the client fail.
#
#   RZ_SRCDIR=repo RZ_BINDIR=build/bin REGZONE_PORT_BASE=B bash tests/integration/xmpp.sh
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
export RZ_BINDIR=$bin
base=${REGZONE_PORT_BASE:-21600}
export REGZONE_PORT_BASE=$base
unset REGZONE_DEMO_ZONES REGZONE_CERT_AUTO
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/rzxmpp.XXXXXX)
dir=$tmp/stack
daemon_pid=
trap stack_cleanup EXIT

ctl() { "$bin/regzonectl" -c "$dir/regzone.yaml" "$@"; }
dig_short() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 +short "$2" "$3" 2>/dev/null; }
# login PASSWORD_FILE CA TLS [more xmpp-login arguments]: output in $out, status in $rc
login() {
  local pw=$1 ca=$2 tls=$3
  shift 3
  out=$(timeout 120 /usr/bin/python3 "$src/deploy/xmpp-login" --dns "127.0.0.1:$REGZONE_DNS_PORT" \
          --ca "$ca" --jid "alice@example.test" --password-file "$pw" --tls "$tls" \
          --timeout 20 "$@" 2>&1)
  rc=$?
}
has() { grep -qF -- "$1" <<<"$out"; }
# Seconds since boot at which PID started (changes when a process restarts).
started_at() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# ---------------------------------------------------------------- 1. stack
"$src/deploy/devstack" up "$dir" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL - devstack up"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
ppid_file=$REGZONE_PROSODY_PIDFILE
prosody_pid=$(cat "$dir/pids/prosody.pid" 2>/dev/null)
started=$(started_at "$prosody_pid")
check "Prosody runs (pid $prosody_pid)" kill -0 "${prosody_pid:-0}"
check "Prosody's own pidfile names the same process" test "$(cat "$ppid_file" 2>/dev/null)" = "$prosody_pid"
if ((EUID == 0)); then
  check "Prosody runs as its own user, not regzoned's ($(ps -o user= -p "$prosody_pid"))" \
    test "$(ps -o user= -p "$prosody_pid")" = prosody
fi
listen=$(ss -Hltnp 2>/dev/null | grep "pid=$prosody_pid," | awk '{print $4}' | sort | tr '\n' ' ')
want=""
for p in $((base + 9)) $((base + 10)) $((base + 11)) $((base + 12)) $((base + 13)) $((base + 14)); do
  want+="127.0.0.1:$p "
done
check "Prosody listens on exactly its ports, on 127.0.0.1 only ($listen)" \
  test "$(tr ' ' '\n' <<<"$listen" | sort | tr '\n' ' ')" = "$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ')"
check "the hosting name resolves to 127.0.0.1 on both servers" \
  test "$(dig_short "$REGZONE_DNS_PORT" "$REGZONE_XMPP_HOST" A)/$(dig_short "$REGZONE_DNS2_PORT" "$REGZONE_XMPP_HOST" A)" = "127.0.0.1/127.0.0.1"

"$bin/regzoned" -c "$dir/regzone.yaml" >>"$tmp/regzoned.log" 2>&1 &
daemon_pid=$!

printf 'pw-%s\n' "$(openssl rand -hex 12)" >"$tmp/alice.pw"
echo "not-the-password" >"$tmp/wrong.pw"
out=$(prosodyctl --config "$REGZONE_PROSODY_CONFIG" register alice example.test "$(cat "$tmp/alice.pw")" 2>&1)
check "prosodyctl register alice@example.test ($out)" test $? = 0

# Before regzone: no SRV record, the client cannot find the server.
login "$tmp/alice.pw" "$REGZONE_ACME_ROOTS" starttls
check "before enable: the client finds no server (rc $rc: $out)" test "$rc" != 0
check "before enable: for want of the SRV record" has "no SRV record for _xmpp-client._tcp.example.test"

# ---------------------------------------------------------------- 2. enable
out=$(ctl enable example.test --profile "$REGZONE_XMPP_PROFILE" 2>&1)
check "enable example.test with the devstack's profile" test $? = 0
out=$(ctl wait example.test --until active --timeout 90 2>&1)
check "example.test active: records published, certificate issued ($(ctl status example.test --json))" test $? = 0
serial1=$(ctl status example.test --json | sed -n 's/.*"serial":"\([0-9A-F]*\)".*/\1/p')
check "a serial in the status ($serial1)" test -n "$serial1"

for port in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
  got=$(dig_short "$port" _xmpp-client._tcp.example.test SRV)
  check "port $port: _xmpp-client._tcp SRV -> Prosody's c2s ($got)" \
    test "$got" = "5 1 $REGZONE_XMPP_C2S_PORT $REGZONE_XMPP_HOST."
  got=$(dig_short "$port" _xmpps-client._tcp.example.test SRV)
  check "port $port: _xmpps-client._tcp SRV -> Prosody's direct TLS ($got)" \
    test "$got" = "1 1 $REGZONE_XMPP_C2S_TLS_PORT $REGZONE_XMPP_HOST."
  for c in conference upload proxy; do
    got=$(dig_short "$port" "$c.example.test" CNAME)
    check "port $port: $c.example.test CNAME $got" test "$got" = "$REGZONE_XMPP_HOST."
  done
done
check "Prosody was told by the hook (audit trail)" \
  grep -q "hook.*Prosody (pid $prosody_pid) told to reload" <<<"$(ctl logs example.test)"
if ((EUID == 0)); then
  cd_=$REGZONE_CERT_DIR/example.test
  check "certificates.group: the directory is 0750 and the key 0640, group prosody ($(stat -L -c '%a %G' "$cd_") $(stat -L -c '%a %G' "$cd_/privkey.pem"))" \
    test "$(stat -L -c '%a %G' "$cd_")/$(stat -L -c '%a %G' "$cd_/privkey.pem")" = "750 prosody/640 prosody"
  check "Prosody's user reads the key" runuser -u prosody -- test -r "$cd_/privkey.pem"
  check "... and nobody else does" eval '! runuser -u nobody -- test -r "$cd_/privkey.pem"'
fi

# ---------------------------------------------------------------- 3. log in
# mode, SRV service, what that SRV record says
for how in "starttls xmpp-client 5 1 $REGZONE_XMPP_C2S_PORT" "direct xmpps-client 1 1 $REGZONE_XMPP_C2S_TLS_PORT"; do
  read -r tls srv prio weight port <<<"$how"
  login "$tmp/alice.pw" "$REGZONE_ACME_ROOTS" "$tls" \
    --muc "lobby@conference.example.test" --upload upload.example.test
  check "$tls: login, room and upload all worked (rc $rc)" test "$rc" = 0
  check "$tls: the server was found through _$srv._tcp" \
    has "ok dns: _$srv._tcp.example.test SRV $prio $weight $port $REGZONE_XMPP_HOST -> 127.0.0.1:$port"
  check "$tls: the certificate verified for example.test with regzone's serial" \
    has "ok tls ($tls): certificate verified for example.test, serial $serial1"
  check "$tls: logged in as alice" has "ok login: session as alice@example.test/"
  check "$tls: joined a room on conference.example.test" has "ok muc: joined lobby@conference.example.test"
  check "$tls: a message came back from the room" has "came back from lobby@conference.example.test"
  check "$tls: HTTP upload round trip on upload.example.test" \
    has "read back over HTTPS (upload.example.test:$REGZONE_XMPP_HTTPS_PORT"
  echo "$out" | sed 's/^/#   /'
done

# The client's own bad input: usage errors, exit 2.
out=$(/usr/bin/python3 "$src/deploy/xmpp-login" --dns 127.0.0.1 --ca "$REGZONE_ACME_ROOTS" \
        --jid alice@example.test --password-file "$tmp/alice.pw" 2>&1); rc=$?
check "xmpp-login: --dns without a port is a usage error (rc $rc: $out)" \
  bash -c '[ "$1" = 2 ] && grep -q "ADDR:PORT" <<<"$2"' _ "$rc" "$out"
out=$(/usr/bin/python3 "$src/deploy/xmpp-login" --dns "127.0.0.1:$REGZONE_DNS_PORT" --ca "$tmp/no-such.pem" \
        --jid alice@example.test --password-file "$tmp/alice.pw" 2>&1); rc=$?
check "xmpp-login: a CA file that does not exist is a usage error (rc $rc)" \
  bash -c '[ "$1" = 2 ] && grep -q "no-such.pem" <<<"$2"' _ "$rc" "$out"

# The check can fail: another CA, a wrong password.
for tls in starttls direct; do
  login "$tmp/alice.pw" "$REGZONE_ACME_CA" "$tls"
  check "$tls with a CA that did not issue the certificate: refused (rc $rc)" test "$rc" != 0
  check "$tls with the wrong CA: certificate verify failed" has "CERTIFICATE_VERIFY_FAILED"
  check "$tls with the wrong CA: never logged in" bash -c '! grep -q "ok login" <<<"$1"' _ "$out"
done
login "$tmp/wrong.pw" "$REGZONE_ACME_ROOTS" starttls
check "a wrong password is refused (rc $rc)" bash -c '[ "$1" != 0 ] && grep -q "authentication as alice@example.test refused" <<<"$2"' _ "$rc" "$out"

# The hook on its own: refuses what it cannot do, signals nothing else.
hook=$src/deploy/hooks/prosody
echo $$ >"$tmp/other.pid"
out=$(REGZONE_DOMAIN=example.test REGZONE_CERT_DIR="$REGZONE_CERT_DIR/example.test" REGZONE_ACTION=deploy \
        "$hook" --pidfile "$tmp/other.pid" 2>&1)
check "hook: a pid that is not Prosody's is not signalled (exit $?: $out)" grep -q "is not a running Prosody" <<<"$out"
out=$(REGZONE_CERT_DIR="$REGZONE_CERT_DIR/example.test" "$hook" --pidfile "$ppid_file" 2>&1)
check "hook: without REGZONE_DOMAIN it refuses ($out)" grep -q "REGZONE_DOMAIN is not set" <<<"$out"
out=$(REGZONE_DOMAIN=nowhere.test REGZONE_CERT_DIR="$REGZONE_CERT_DIR/nowhere.test" REGZONE_ACTION=deploy \
        "$hook" --pidfile "$ppid_file" 2>&1)
check "hook: no certificate files, no reload ($out)" grep -q "fullchain.pem is missing" <<<"$out"
out=$(REGZONE_DOMAIN=example.test REGZONE_CERT_DIR="$REGZONE_CERT_DIR/example.test" REGZONE_ACTION=deploy \
        "$hook" --config "$REGZONE_PROSODY_CONFIG" 2>&1)
check "hook: the prosodyctl reload way works too ($out)" grep -q "prosodyctl reload done" <<<"$out"
if ((EUID == 0)); then
  # A hook of another user than Prosody's: a clear refusal, not EPERM.
  cp "$ppid_file" "$tmp/prosody.pid.copy"; chmod 0644 "$tmp/prosody.pid.copy"
  mkdir -p "$tmp/nobody-certs"; cp "$REGZONE_ACME_ROOTS" "$tmp/nobody-certs/fullchain.pem"
  cp "$REGZONE_ACME_ROOTS" "$tmp/nobody-certs/privkey.pem"; chmod -R a+rX "$tmp/nobody-certs"
  # (a copy of the hook: the checkout may be private)
  public_copy "$tmp/pub" "$hook"
  out=$(runuser -u nobody -- env REGZONE_DOMAIN=example.test REGZONE_CERT_DIR="$tmp/nobody-certs" \
          REGZONE_ACTION=deploy "$tmp/pub/prosody" --pidfile "$tmp/prosody.pid.copy" 2>&1); rc=$?
  check "hook as another user than Prosody's: refused with the reason (exit $rc: $out)" \
    eval 'test "$rc" = 1 && grep -q "runs as uid $(id -u prosody) and this hook as uid $(id -u nobody)" <<<"$out" && grep -q -- "--sudo" <<<"$out"'
  check "... and Prosody was not signalled (same start time)" test "$(started_at "$prosody_pid")" = "$started"
fi
out=$(REGZONE_DOMAIN=example.test REGZONE_CERT_DIR="$REGZONE_CERT_DIR/example.test" REGZONE_ACTION=deploy \
        "$hook" --pidfile "$ppid_file" --sudo prosody 2>&1); rc=$?
check "hook: --sudo goes with --config only (exit $rc)" test "$rc" = 1

# ---------------------------------------------------------------- 4. renew
hooks_before=$(ctl logs example.test | grep -c "told to reload")
out=$(ctl renew example.test 2>&1)
check "regzonectl renew example.test" test $? = 0
serial2=$serial1
for ((i = 0; i < 600; i++)); do
  st=$(ctl status example.test --json 2>/dev/null)
  serial2=$(sed -n 's/.*"serial":"\([0-9A-F]*\)".*/\1/p' <<<"$st")
  if [ "$serial2" != "$serial1" ] && grep -q '"state":"issued"' <<<"$st"; then break; fi
  sleep 0.1
done
check "renew: a new certificate ($serial1 -> $serial2)" test -n "$serial2" -a "$serial2" != "$serial1"
hooks_after=$(ctl logs example.test | grep -c "told to reload")
check "renew: the hook told Prosody again ($hooks_before -> $hooks_after)" test "$hooks_after" -gt "$hooks_before"
# Prosody reloads on SIGHUP asynchronously: a few tries for the new handshake.
for ((i = 0; i < 50; i++)); do
  login "$tmp/alice.pw" "$REGZONE_ACME_ROOTS" direct
  has "serial $serial2" && break
  sleep 0.2
done
check "renew: a new TLS handshake presents the new serial $serial2 (rc $rc)" bash -c '[ "$1" = 0 ] && grep -q "certificate verified for example.test, serial $2" <<<"$3"' _ "$rc" "$serial2" "$out"
login "$tmp/alice.pw" "$REGZONE_ACME_ROOTS" starttls
check "renew: STARTTLS also presents it" has "serial $serial2"
check "Prosody was never restarted (same pid $prosody_pid, same start time)" \
  test "$(started_at "$prosody_pid")" = "$started" -a -n "$started"

# Prosody reloads asynchronously after SIGHUP, host by host: let every
# reload finish before regzone deletes files Prosody may still be reading.
nhosts=$(grep -cE '^(VirtualHost|Component) ' "$REGZONE_PROSODY_CONFIG")
reloads_done() {
  local hup done
  hup=$(grep -c "Received SIGHUP" "$dir/prosody/prosody.log")
  done=$(grep -c "Certificates reloaded" "$dir/prosody/prosody.log")
  [ "$done" -ge $((hup * nhosts)) ]
}
for ((i = 0; i < 100; i++)); do reloads_done && break; sleep 0.1; done
check "Prosody finished every reload ($nhosts hosts each)" reloads_done

# Up to here Prosody has served, reloaded and served again: no error.  (Past
# here regzone deletes files, and a reload racing that may log one.)
check "Prosody logged no error while serving and reloading" \
  bash -c '! grep -P "\terror\t" "$1"' _ "$dir/prosody/prosody.log"

# ---------------------------------------------------------------- 5. disable
out=$(ctl disable example.test 2>&1)
check "disable example.test" test $? = 0
out=$(ctl wait example.test --until disabled --timeout 60 2>&1)
check "disable: records removed ($out)" test $? = 0
for port in "$REGZONE_DNS_PORT" "$REGZONE_DNS2_PORT"; do
  check "port $port: no _xmpp-client SRV any more" test -z "$(dig_short "$port" _xmpp-client._tcp.example.test SRV)"
  check "port $port: no _xmpps-client SRV any more" test -z "$(dig_short "$port" _xmpps-client._tcp.example.test SRV)"
done
for tls in starttls direct; do
  login "$tmp/alice.pw" "$REGZONE_ACME_ROOTS" "$tls"
  check "after disable ($tls): the client no longer finds the server (rc $rc)" \
    bash -c '[ "$1" != 0 ] && grep -q "no SRV record" <<<"$2"' _ "$rc" "$out"
done
logs=$(ctl logs example.test)
check "disable: the hook was told (remove)" grep -q "nothing to remove on Prosody's side" <<<"$logs"
grep -i hook <<<"$logs" | sed 's/^/#   /' 
check "disable: certificate files removed" test ! -e "$REGZONE_CERT_DIR/example.test/privkey.pem"
check "Prosody still runs (pid $prosody_pid)" kill -0 "$prosody_pid"

# ---------------------------------------------------------------- 6. down
kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=
"$src/deploy/devstack" down "$dir" >"$tmp/down.log" 2>&1
check "devstack down ($(cat "$tmp/down.log"))" test $? = 0
# Gone, or a zombie waiting for a reaper that is not ours.
check "devstack down stops Prosody" bash -c '! grep -q "^State:[[:space:]]*[A-Y]" "/proc/$1/status" 2>/dev/null' _ "$prosody_pid"

echo "# $n checks, $fails failed, $((SECONDS - t0)) s"
if [ "$fails" -gt 0 ]; then
  echo "# regzoned log (tail):"; tail -n 30 "$tmp/regzoned.log" | sed 's/^/#   /'
  echo "# prosody log (tail):"; tail -n 30 "$dir/prosody/prosody.log" 2>/dev/null | sed 's/^/#   /'
  cp "$dir/prosody/prosody.log" /tmp/rzxmpp-prosody.log 2>/dev/null
fi
[ "$fails" = 0 ]
