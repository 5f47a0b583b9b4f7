#!/usr/bin/env bash
# The Knot writer (zonegen/knot.c) against the devstack's real knotd.
set -euo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
dir=$(mktemp -d)
trap '"$src/deploy/devstack" down "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$src/deploy/devstack" up "$dir" >"$dir.log" 2>&1 || { cat "$dir.log"; rm -f "$dir.log"; exit 1; }
rm -f "$dir.log"
# shellcheck disable=SC1091
. "$dir/env"
"$bin/test_knot_writer"
