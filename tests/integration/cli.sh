#!/usr/bin/env bash
# regzoned --check and regzonectl's local commands (preview, keygen, migrate)
# run as an operator would, on the shipped example config and on a devstack.
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d)
stack=$tmp/stack
cleanup() { "$src/deploy/devstack" down "$stack" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
example=$src/config/regzone.example.yaml
ctl() { "$bin/regzonectl" "$@"; }

# --check on the example and on broken files
check "example config passes --check" "$bin/regzoned" -c "$example" --check
printf 'listen:\n  requests: "tcp://x:1"\n  feed: [unclosed\n' > "$tmp/broken.yaml"
out=$("$bin/regzoned" -c "$tmp/broken.yaml" --check 2>&1); rc=$?
check "broken YAML exits 1" test "$rc" -eq 1
check "broken YAML names FILE:LINE:COL ($out)" \
  grep -Eq "^$tmp/broken.yaml:[0-9]+:[0-9]+: " <<<"$out"
sed 's/^workers: 4/workers: 400/' "$example" > "$tmp/range.yaml"
line=$(grep -n '^workers:' "$tmp/range.yaml" | cut -d: -f1)
out=$("$bin/regzoned" -c "$tmp/range.yaml" --check 2>&1); rc=$?
check "out-of-range value reported at line $line ($out)" \
  grep -q "^$tmp/range.yaml:$line:[0-9]*: .*workers" <<<"$out"
out=$("$bin/regzoned" -c "$tmp/missing.yaml" --check 2>&1); rc=$?
check "missing file exits 1 and names it" test "$rc" -eq 1 -a -n "$(grep missing.yaml <<<"$out")"
out=$(env -u REGZONE_CONFIG "$bin/regzoned" --check 2>&1); rc=$?
check "no -c: the default file, /etc/regzone/regzone.yaml, named ($rc: $out)" \
  eval 'test "$rc" != 2 && grep -q /etc/regzone/regzone.yaml <<<"$out"'
"$bin/regzoned" --check extra >/dev/null 2>&1; rc=$?
check "a stray argument is a usage error (2)" test "$rc" -eq 2

# preview: the article's record set, exactly
expected='_xmpp-client._tcp.example.test. 3600 IN SRV 5 1 5222 xmpp-hosting.example.net.
_xmpps-client._tcp.example.test. 3600 IN SRV 1 1 443 xmpps-hosting.example.net.
_xmpp-server._tcp.example.test. 3600 IN SRV 1 1 5269 xmpp-hosting.example.net.
conference.example.test. 3600 IN CNAME xmpp-hosting.example.net.
proxy.example.test. 3600 IN CNAME xmpp-hosting.example.net.
share.example.test. 3600 IN CNAME xmpp-hosting.example.net.'
out=$(ctl -c "$example" preview example.test); rc=$?
check "preview exits 0" test "$rc" -eq 0
check "preview prints the article's records" test "$(grep -v '^;' <<<"$out")" = "$expected"
check "preview names the certificate's names" \
  grep -q '^; certificate names: example.test conference.example.test proxy.example.test share.example.test$' <<<"$out"
check "preview never emits _xmppconnect" test -z "$(grep -i xmppconnect <<<"$out")"
out=$(ctl -c "$example" preview example.test --profile xmpp-snikket --param ipv4=192.0.2.7)
check "snikket profile with a parameter" grep -q '^example.test. 3600 IN A 192.0.2.7$' <<<"$out"
out=$(ctl -c "$example" preview Example.Test. --param target=chat.hosting.example)
check "--param overrides a default, names normalised" \
  grep -q '^_xmpp-client._tcp.example.test. 3600 IN SRV 5 1 5222 chat.hosting.example.$' <<<"$out"
printf '%s\n%s\n' "example.test. 3600 IN SOA ns1.example.test. h.example.test. 1 3600 900 604800 300" \
  "example.test. 3600 IN NS ns1.example.test." > "$tmp/zone"
ctl -c "$example" preview example.test >> "$tmp/zone"
echo "ns1.example.test. 3600 IN A 192.0.2.53" >> "$tmp/zone"
check "preview behind an SOA and NS passes kzonecheck" kzonecheck -o example.test "$tmp/zone"

# refusals: exit 1 with a message, usage errors exit 2
refuse() {  # refuse WANT_RC WHAT ARGS...
  local want=$1 what=$2; shift 2
  local err; err=$(ctl "$@" 2>&1 >/dev/null); local rc=$?
  if [ "$rc" -eq "$want" ] && [ -n "$err" ]; then ok "$what -> $rc"; else bad "$what -> $rc ($err)"; fi
}
refuse 1 "invalid domain" -c "$example" preview 'example.test;rm'
refuse 1 "U-label" -c "$example" preview 'bücher.example'
refuse 1 "wildcard" -c "$example" preview '*.example.test'
refuse 1 "unknown profile" -c "$example" preview example.test --profile nope
refuse 1 "unknown param" -c "$example" preview example.test --param nope=1
refuse 1 "hostile param" -c "$example" preview example.test --param 'target=a.example;rm'
refuse 1 "missing required param" -c "$example" preview example.test --profile xmpp-snikket
refuse 1 "domain is the hosting target" -c "$example" preview xmpp-hosting.example.net
refuse 2 "no command" -c "$example"
refuse 2 "unknown command" -c "$example" frobnicate
refuse 2 "missing DOMAIN" -c "$example" preview
refuse 2 "--param without =" -c "$example" preview example.test --param x
refuse 2 "unknown option" -c "$example" preview example.test --frob
# nothing listens on the example's request endpoint
refuse 3 "status: daemon unreachable" -c "$example" status example.test --timeout 1
refuse 3 "enable: daemon unreachable" -c "$example" enable example.test --timeout 1

# keygen: a CURVE pair, secret 0600, never overwritten
check "keygen writes a pair" ctl keygen "$tmp/keys"
check "secret key is 0600" test "$(stat -c %a "$tmp/keys/curve.key")" = 600
check "public key is 40 Z85 chars" test "$(head -c 40 "$tmp/keys/curve.pub" | wc -c)" -eq 40
sum=$(sha256sum < "$tmp/keys/curve.key")
ctl keygen "$tmp/keys" >/dev/null 2>&1; rc=$?
check "keygen refuses to overwrite (rc $rc)" test "$rc" -eq 1 -a "$(sha256sum < "$tmp/keys/curve.key")" = "$sum"

# valgrind on the paths that parse outside input
if command -v valgrind >/dev/null; then
  vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=99 "$@" >/dev/null 2>&1; [ $? -ne 99 ]; }
  check "valgrind: --check on the example" vg "$bin/regzoned" -c "$example" --check
  check "valgrind: --check on broken YAML" vg "$bin/regzoned" -c "$tmp/broken.yaml" --check
  check "valgrind: preview" vg "$bin/regzonectl" -c "$example" preview example.test
  check "valgrind: refused preview" vg "$bin/regzonectl" -c "$example" preview 'a;b.example'
fi

# migrate against a real PostgreSQL
if "$src/deploy/devstack" up "$stack" >"$tmp/up.log" 2>&1; then
  ok "devstack up"
  # shellcheck disable=SC1091
  . "$stack/env"
  out=$(ctl -c "$stack/regzone.yaml" migrate 2>&1); rc=$?
  check "migrate again applies nothing ($out)" grep -q '^0 migrations applied' <<<"$out"
  tables=$(psql "$REGZONE_PG" -Atc "select count(*) from information_schema.tables where table_schema='public' and table_name in ('events','services','jobs','published_records','certificates','acme_orders','audit','schema_migrations')")
  check "schema has the core tables ($tables/8)" test "$tables" = 8
  orig=$(psql "$REGZONE_PG" -Atc "select checksum from schema_migrations where version = 1")
  psql "$REGZONE_PG" -qc "update schema_migrations set checksum = 'tampered' where version = 1"
  out=$(ctl -c "$stack/regzone.yaml" migrate 2>&1); rc=$?
  check "a changed migration is refused ($out)" test "$rc" -eq 1 -a -n "$(grep 'changed after' <<<"$out")"
  psql "$REGZONE_PG" -qc "insert into schema_migrations values (999, 'future', 'x')"
  psql "$REGZONE_PG" -qc "update schema_migrations set checksum = '$orig' where version = 1"
  out=$(ctl -c "$stack/regzone.yaml" migrate 2>&1); rc=$?
  check "a newer schema is refused ($out)" test "$rc" -eq 1 -a -n "$(grep 'does not know' <<<"$out")"
  sed -i "s|^  conninfo: .*|  conninfo: \"host=127.0.0.1 port=1 dbname=regzone connect_timeout=2\"|" "$stack/regzone.yaml"
  out=$(ctl -c "$stack/regzone.yaml" migrate 2>&1); rc=$?
  check "PostgreSQL unreachable: exit 1 with a message" test "$rc" -eq 1 -a -n "$(grep -i 'cannot connect' <<<"$out")"
else
  bad "devstack up: $(tail -5 "$tmp/up.log")"
fi

echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
