# Shared by the integration scripts (sourced): counters and TAP-like lines.
#   ok MSG / bad MSG     one check passed / failed ("ok N - MSG", "FAIL N - MSG")
#   check MSG CMD...     ok or bad by CMD's exit status
#   note MSG             a comment line ("# MSG")
#   summary              "P passed, F failed"
# Messages are put on one line (newlines as " | ") and cut at 700 bytes.
fails=0 n=0 t0=$SECONDS
oneline() { local m="$*"; m=${m//$'\n'/ | }; printf '%s' "${m:0:700}"; }
ok()   { n=$((n + 1)); echo "ok $n - $(oneline "$@")"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL $n - $(oneline "$@")"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
note() { echo "# $*"; }
summary() { echo "$((n - fails)) passed, $fails failed"; }
