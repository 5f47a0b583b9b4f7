#!/usr/bin/env bash
# regzoned under valgrind on its daemon paths: intake (good, replayed and
# refused requests), publication, conflict, removal, SIGTERM.  Fails on any
# memory error or leak, or an exit status other than 0.
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
command -v valgrind >/dev/null || { echo "valgrind missing"; exit 1; }
dir=$(mktemp -d)
vg_pid=
cleanup() {
  [[ -n "$vg_pid" ]] && kill -KILL "$vg_pid" 2>/dev/null
  "$src/deploy/devstack" down "$dir" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGZONE_DEMO_ZONES=10 "$src/deploy/devstack" up "$dir" >"$dir/up.log" 2>&1 || { cat "$dir/up.log"; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
ctl() { "$bin/regzonectl" -c "$REGZONE_CONFIG" "$@"; }

valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
  --log-file="$dir/valgrind.log" "$bin/regzoned" -c "$REGZONE_CONFIG" >"$dir/regzoned.log" 2>&1 &
vg_pid=$!
for _ in $(seq 150); do
  "$bin/zsend" -t 200 "$REGZONE_REQUESTS" '{"id":"p","action":"status","service":"xmpp","domain":"example.test"}' >/dev/null 2>&1 && break
done

for i in $(seq 1 10); do
  printf '{"id":"v%d","action":"enable","service":"xmpp","domain":"z%05d.test"}\n' "$i" "$i"
done >"$dir/enables"
printf '%s\n' '{"id":"v1","action":"enable","service":"xmpp","domain":"z00001.test"}' \
  'not json' '[1]' '{"id":"bad","action":"enable","service":"xmpp","domain":"a;b.test"}' \
  '{"id":"nz","action":"enable","service":"xmpp","domain":"nothere.example"}' >>"$dir/enables"
check "15 requests answered" "$bin/zsend" -t 30000 -m "$dir/enables" "$REGZONE_REQUESTS" >"$dir/replies"
check "10 published" ctl wait z00010.test --until published --timeout 60 >/dev/null
HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-begin example.org.test >/dev/null
HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-set example.org.test proxy 3600 A 192.0.2.1 >/dev/null
HOME=/nonexistent knotc -s "$REGZONE_KNOT_SOCKET" zone-commit example.org.test >/dev/null
ctl enable example.org.test >/dev/null
check "conflict reported" ctl wait example.org.test --until conflict --timeout 60 >/dev/null
for i in $(seq 1 5); do
  printf '{"id":"d%d","action":"disable","service":"xmpp","domain":"z%05d.test"}\n' "$i" "$i"
done >"$dir/disables"
"$bin/zsend" -t 30000 -m "$dir/disables" "$REGZONE_REQUESTS" >/dev/null
check "5 removed" ctl wait z00005.test --until disabled --timeout 60 >/dev/null

kill -TERM "$vg_pid"
wait "$vg_pid"; rc=$?
vg_pid=
check "exit status 0 under valgrind (got $rc)" test "$rc" -eq 0
check "no valgrind report" test ! -s "$dir/valgrind.log"
[[ -s "$dir/valgrind.log" ]] && head -40 "$dir/valgrind.log"
echo "$((n - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
