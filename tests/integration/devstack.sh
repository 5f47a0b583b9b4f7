#!/usr/bin/env bash
# Integration test of deploy/devstack against the real servers.
# ctest runs it with RZ_SRCDIR (repository), RZ_BINDIR (build/bin) and
# REGZONE_PORT_BASE (this test owns BASE..BASE+49).
set -euo pipefail

RZ_SRCDIR=${RZ_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RZ_BINDIR=${RZ_BINDIR:-$RZ_SRCDIR/build/bin}
BASE=${REGZONE_PORT_BASE:-18000}
DEVSTACK=$RZ_SRCDIR/deploy/devstack
export REGZONECTL=$RZ_BINDIR/regzonectl
unset REGZONE_DEMO_ZONES REGZONE_DEVSTACK_PEBBLE REGZONE_DEVSTACK_KNOTD REGZONE_DEVSTACK_PROSODY

FAILS=0
ok() { printf 'ok - %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

DIRS=()
D0="" D1="" DIR="" DIR2=""
BLOCKER=""
cleanup() {
  local d
  if [[ -n "$BLOCKER" ]]; then kill "$BLOCKER" 2>/dev/null || true; wait "$BLOCKER" 2>/dev/null || true; fi
  for d in "${DIRS[@]}"; do
    "$DEVSTACK" down "$d" >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}
trap cleanup EXIT

# newdir VAR: a fresh temporary directory in VAR, removed at exit.
newdir() { local d; d=$(mktemp -d); DIRS+=("$d"); printf -v "$1" '%s' "$d"; }

stack_pids() { cat "$1"/pids/*.pid 2>/dev/null || true; }

# A pid is alive when it exists and is not a zombie (a zombie is already dead;
# whether one lingers depends on who reaps it, not on devstack).
pid_running() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

# Nothing alive from stack DIR: no process naming DIR, no listed pid running.
nothing_left() { # nothing_left DIR [PID...]
  local d=$1 p; shift
  for p in "$@"; do
    if pid_running "$p"; then echo "  pid $p still running: $(tr '\0' ' ' <"/proc/$p/cmdline")"; return 1; fi
  done
  if pgrep -f "$d" >/dev/null; then
    echo "  still running:"; pgrep -af "$d" | sed 's/^/    /'
    return 1
  fi
  return 0
}

soa() { kdig @127.0.0.1 -p "$1" +timeout=2 +retry=1 "$2" SOA +short 2>/dev/null; }

wait_listening() { # wait_listening PORT
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -n "$(ss -Hltn "sport = :$1")" ]] && return 0
    sleep 0.05
  done
  return 1
}

# --------------------------------------------------------------------------
# 1. A port already taken: up refuses before starting anything.
newdir D0
python3 -m http.server --bind 127.0.0.1 $((BASE + 3)) >/dev/null 2>&1 &
BLOCKER=$!
if wait_listening $((BASE + 3)); then
  if out=$(REGZONE_PORT_BASE=$BASE "$DEVSTACK" up "$D0" 2>&1); then
    fail "up with port $((BASE + 3)) taken succeeded"
  else
    check "up with a taken port fails with a clear message" grep -q "port $((BASE + 3)).*in use" <<<"$out"
  fi
  # shellcheck disable=SC2046
  check "up with a taken port leaves nothing running" nothing_left "$D0" $(stack_pids "$D0")
else
  fail "could not start the port blocker on $((BASE + 3))"
fi
kill "$BLOCKER" 2>/dev/null || true
wait "$BLOCKER" 2>/dev/null || true
BLOCKER=""

# 2. A service failing mid-way (Pebble) or last (Prosody): up stops what it
#    had started.
for svc in PEBBLE PROSODY; do
  name=${svc,,}
  newdir D1
  if out=$(env REGZONE_PORT_BASE="$BASE" "REGZONE_DEVSTACK_$svc=false" "$DEVSTACK" up "$D1" 2>&1); then
    fail "up with a failing $name succeeded"
  else
    check "up with a failing $name reports it" grep -q "$name exited" <<<"$out"
    check "up with a failing $name stopped everything it had started" nothing_left "$D1"
  fi
done

# --------------------------------------------------------------------------
# 3. The stack itself.
newdir DIR
t0=$SECONDS
if ! REGZONE_PORT_BASE=$BASE "$DEVSTACK" up "$DIR"; then
  fail "devstack up $DIR"
  exit 1
fi
ok "devstack up ($((SECONDS - t0)) s)"
check "up takes less than 15 s" test $((SECONDS - t0)) -lt 15

# shellcheck disable=SC1091
. "$DIR/env"
for v in REGZONE_PG REGZONE_DNS_ADDR REGZONE_DNS_PORT REGZONE_DNS2_PORT REGZONE_KNOT_SOCKET \
         REGZONE_KNOT2_SOCKET REGZONE_ACME_DIRECTORY REGZONE_ACME_ROOTS REGZONE_ACME_CA \
         REGZONE_REQUESTS REGZONE_FEED REGZONE_CERT_DIR REGZONE_CONFIG REGZONE_PORT_BASE; do
  check "env sets $v" test -n "${!v:-}"
done
if ((EUID == 0)) && getent passwd prosody >/dev/null; then
  # Prosody runs as its own user: its group may enter the directory.
  check "REGZONE_CERT_DIR is mode 0750, group prosody ($(stat -c '%a %G' "$REGZONE_CERT_DIR"))" \
    test "$(stat -c '%a %G' "$REGZONE_CERT_DIR")" = "750 $(id -gn prosody)"
  check "regzone.yaml sets certificates.group to Prosody's" \
    grep -q "^  group: \"$(id -gn prosody)\"" "$DIR/regzone.yaml"
else
  check "REGZONE_CERT_DIR is mode 0700" test "$(stat -c %a "$REGZONE_CERT_DIR")" = 700
fi
check "the request and feed sockets are ipc sockets in DIR/run, mode 0700" \
  test "$REGZONE_REQUESTS/$REGZONE_FEED/$(stat -c %a "$DIR/run")" = "ipc://$DIR/run/requests/ipc://$DIR/run/feed/700"
check "regzone.yaml exists" test -s "$REGZONE_CONFIG"
check "regzone.yaml carries the example's profiles" grep -q '^default_profile:' "$REGZONE_CONFIG"

check "PostgreSQL answers select 1" test "$(psql "$REGZONE_PG" -X -A -t -c 'select 1' 2>&1)" = 1
if [[ -x "$RZ_BINDIR/regzonectl" ]]; then
  n=$(psql "$REGZONE_PG" -X -A -t -c 'select count(*) from schema_migrations' 2>&1 || true)
  check "migrations applied (schema_migrations has $n rows)" test "${n:-0}" -ge 1 2>/dev/null
else
  echo "# regzonectl not built: migration check skipped"
fi

for z in example.test example.org.test blocked.test; do
  check "primary serves $z SOA" test -n "$(soa "$REGZONE_DNS_PORT" "$z")"
  check "secondary serves $z SOA" test -n "$(soa "$REGZONE_DNS2_PORT" "$z")"
done
check "example.test has the customer record www" \
  test -n "$(kdig @127.0.0.1 -p "$REGZONE_DNS_PORT" www.example.test A +short)"
knotc_status() { knotc -s "$1" -t 2 status >/dev/null; }
check "knotc answers on the primary's socket" knotc_status "$REGZONE_KNOT_SOCKET"
check "knotc answers on the secondary's socket" knotc_status "$REGZONE_KNOT2_SOCKET"

dir_json=$(curl -fsS --max-time 5 --cacert "$REGZONE_ACME_CA" "$REGZONE_ACME_DIRECTORY" 2>&1 || true)
check "Pebble directory over verified TLS has newOrder" grep -q '"newOrder"' <<<"$dir_json"
check "REGZONE_ACME_ROOTS is a PEM certificate" openssl x509 -noout -in "$REGZONE_ACME_ROOTS"

# Prosody, the XMPP hosting: its ports on 127.0.0.1 only, its name in DNS.
ppid=$(cat "$DIR/pids/prosody.pid" 2>/dev/null || true)
check "Prosody runs (pid ${ppid:-none})" pid_running "${ppid:-0}"
got=$(ss -Hltnp 2>/dev/null | grep "pid=${ppid:-0}," | awk '{print $4}' | sort | tr '\n' ' ')
want=$(for p in 9 10 11 12 13 14; do echo "127.0.0.1:$((BASE + p))"; done | sort | tr '\n' ' ')
check "Prosody listens on B+9..B+14 on 127.0.0.1 only ($got)" test "$got" = "$want"
check "Prosody's config uses regzone's certificate directory" \
  grep -q "^certificates = \"$REGZONE_CERT_DIR\"" "$REGZONE_PROSODY_CONFIG"
check "prosodyctl status finds it" prosodyctl --config "$REGZONE_PROSODY_CONFIG" status
for v in REGZONE_XMPP_PROFILE REGZONE_XMPP_HOST REGZONE_XMPP_C2S_PORT REGZONE_XMPP_C2S_TLS_PORT \
         REGZONE_XMPP_HTTPS_PORT REGZONE_PROSODY_CONFIG REGZONE_PROSODY_PIDFILE; do
  check "env sets $v" test -n "${!v:-}"
done
check "the hosting name $REGZONE_XMPP_HOST is 127.0.0.1 on the secondary" \
  test "$(kdig @127.0.0.1 -p "$REGZONE_DNS2_PORT" +short "$REGZONE_XMPP_HOST" A)" = 127.0.0.1
if [[ -x "$RZ_BINDIR/regzonectl" ]]; then
  out=$("$RZ_BINDIR/regzonectl" -c "$REGZONE_CONFIG" preview example.test --profile "$REGZONE_XMPP_PROFILE" 2>&1 || true)
  check "profile $REGZONE_XMPP_PROFILE: client SRV to Prosody's c2s port" \
    grep -q "_xmpp-client._tcp.example.test.*SRV.*$REGZONE_XMPP_C2S_PORT $REGZONE_XMPP_HOST\." <<<"$out"
fi

# 4. up again is harmless.
pids_before=$(stack_pids "$DIR")
check "5 pids recorded" test "$(wc -w <<<"$pids_before")" -eq 5
if out=$(REGZONE_PORT_BASE=$BASE "$DEVSTACK" up "$DIR" 2>&1); then
  check "second up says already running" grep -q "already running" <<<"$out"
else
  fail "second up failed: $out"
fi
check "second up keeps the same pids" test "$(stack_pids "$DIR")" = "$pids_before"

# 5. A second stack side by side.
newdir DIR2
if REGZONE_PORT_BASE=$((BASE + 20)) "$DEVSTACK" up "$DIR2" >/dev/null; then
  ok "second stack up on base $((BASE + 20))"
  check "second stack's primary serves example.test" test -n "$(soa $((BASE + 21)) example.test)"
  check "second stack's secondary serves example.org.test" test -n "$(soa $((BASE + 22)) example.org.test)"
  check "second stack's Pebble answers" \
    curl -fsS --max-time 5 -o /dev/null --cacert "$DIR2/pebble/tls-ca.pem" "https://127.0.0.1:$((BASE + 23))/dir"
  check "first stack still serves" test -n "$(soa "$REGZONE_DNS_PORT" example.test)"
  pids2=$(stack_pids "$DIR2")
  check "second stack down" "$DEVSTACK" down "$DIR2"
  # shellcheck disable=SC2086
  check "second stack left nothing running" nothing_left "$DIR2" $pids2
else
  fail "second stack up on base $((BASE + 20))"
fi
check "first stack survives the second's down" test -n "$(soa "$REGZONE_DNS2_PORT" example.test)"

# 6. down stops exactly what up started.
check "devstack down" "$DEVSTACK" down "$DIR"
# shellcheck disable=SC2086
check "down left none of the recorded pids and no process naming DIR" nothing_left "$DIR" $pids_before
check "down removed the pid files" test -z "$(stack_pids "$DIR")"
check "down on a stopped stack is harmless" "$DEVSTACK" down "$DIR"

if ((FAILS)); then
  echo "FAIL: $FAILS check(s) failed"
  exit 1
fi
echo "ok - all devstack checks passed"
