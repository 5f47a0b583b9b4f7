#!/usr/bin/env bash
# The Debian package (deploy/package): its files and control fields,
# lintian (no E: line), the man pages (they render without a warning and
# document every regzonectl command and every configuration key, read from
# the sources), then, as root on a machine without a regzone package,
# dpkg -i (the user, its group knot, the unit's paths, --check on the
# shipped configuration), an upgrade in place, remove and purge, after
# which nothing of the package is left.  The machine is left as it was
# found, also when a check fails (the trap purges).
set -uo pipefail
src=${RZ_SRCDIR:?} bin=${RZ_BINDIR:?}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d)
chmod 0755 "$tmp"       # dpkg and lintian read the .deb from here
installed=0 made_user=0
knot_before=$(getent group knot || true)
cleanup() {
  if [ "$installed" = 1 ] && [ -n "$(dpkg-query -W -f='${Status}' regzone 2>/dev/null)" ]; then
    dpkg --purge regzone >/dev/null 2>&1 || echo "# cleanup: dpkg --purge regzone failed"
  fi
  if [ "$made_user" = 1 ]; then
    userdel regzone >/dev/null 2>&1
    getent group regzone >/dev/null && groupdel regzone >/dev/null 2>&1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
skip() { n=$((n + 1)); echo "ok $n # skip $(oneline "$@")"; }

# ---- the names the sources define -------------------------------------------
version=$(sed -n 's/^project(regzone VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
revision=$(sed -n '1s/^regzone ([^)]*-\([^)]*\)).*/\1/p' "$src/deploy/debian/changelog")
arch=$(dpkg --print-architecture)
commands=$(sed -n '/^static const struct ctl_cmd commands\[\] = {/,/^};/p' "$src/daemon/regzonectl.c" |
  grep -oE '^[[:space:]]*\{ "[a-z-]+"' | grep -oE '[a-z-]+' | sort -u)
keys=$(grep -oE '(K_(STR|UINT|BOOL|LIST|SECTION)\(|\.name = )"[a-z0-9_]+"' \
  "$src/daemon/config_schema.c" | grep -oE '"[a-z0-9_]+"' | tr -d '"' | sort -u)
check "the project's version ($version) and the changelog's revision ($revision)" \
  test -n "$version" -a -n "$revision"
check "commands[] of regzonectl.c read ($(wc -w <<<"$commands") names)" \
  test "$(wc -w <<<"$commands")" -ge 12
check "the keys of config_schema.c read ($(wc -w <<<"$keys") names)" \
  test "$(wc -w <<<"$keys")" -ge 60

# ---- build ----------------------------------------------------------------
# A build directory of its own beside the tree's build, kept between runs.
export REGZONE_PKG_BUILD=${REGZONE_PKG_BUILD:-$(dirname "$bin")/deb-build}
t0=$SECONDS
if "$src/deploy/package" "$tmp/out" > "$tmp/package.log" 2>&1; then
  ok "deploy/package built it in $((SECONDS - t0)) s: $(tr '\n' ' ' < "$tmp/package.log")"
else
  bad "deploy/package failed: $(tail -20 "$tmp/package.log")"
  summary; exit 1
fi
deb=$tmp/out/regzone_${version}-${revision}_${arch}.deb
if ! check "the package is $(basename "$deb")" test -f "$deb"; then
  note "$(ls "$tmp/out")"; summary; exit 1
fi
check "the debug symbols are beside it (regzone-dbgsym .ddeb)" \
  test -f "$tmp/out/regzone-dbgsym_${version}-${revision}_${arch}.ddeb"

# ---- control fields ------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: regzone" test "$(field Package)" = regzone
check "Version: $version-$revision" test "$(field Version)" = "$version-$revision"
check "Architecture: $arch" test "$(field Architecture)" = "$arch"
check "Section: net, Priority: optional" test "$(field Section)/$(field Priority)" = net/optional
check "Maintainer: $(field Maintainer)" grep -qE '^[^<]+ <[^@> ]+@[^> ]+>$' <<<"$(field Maintainer)"
check "a Description with a summary and a long text" \
  test -n "$(field Description | head -1)" -a "$(field Description | wc -l)" -ge 5
depends=$(field Depends)
note "Depends: $depends"
note "Recommends: $(field Recommends)"
has_dep() { grep -qE "(^|, )$1( |,|$)" <<<"$depends"; }
for d in adduser libc6 'libknot[0-9]+' 'libzmq[0-9]+' 'libpq[0-9]+' 'libssl[0-9.]+' \
    'libcurl[0-9]+' 'libjansson[0-9]+' 'libyaml-0-[0-9]+'; do
  check "Depends names $d" has_dep "$d"
done
for r in knot postgresql publicsuffix; do
  check "Recommends $r" grep -qE "(^|, )$r(,|$| )" <<<"$(field Recommends)"
done

# ---- files ------------------------------------------------------------------------
dpkg-deb -c "$deb" > "$tmp/contents"
awk '{ print $6 }' "$tmp/contents" | sed 's|^\./|/|; s|/$||' | grep -v '^$' > "$tmp/paths"
awk '$1 !~ /^d/ { print $6 }' "$tmp/contents" | sed 's|^\./|/|' > "$tmp/files"
want=(/usr/bin/regzoned /usr/bin/regzonectl /etc/regzone/regzone.yaml
  /lib/systemd/system/regzoned.service /usr/lib/regzone/hooks/prosody
  /usr/share/doc/regzone/README.md /usr/share/doc/regzone/regzone.example.yaml
  /usr/share/doc/regzone/knot.conf.example /usr/share/doc/regzone/copyright
  /usr/share/doc/regzone/changelog.Debian.gz /usr/share/man/man8/regzoned.8.gz
  /usr/share/man/man8/regzonectl.8.gz /usr/share/man/man5/regzone.yaml.5.gz)
for f in "$src"/sql/*.sql; do want+=("/usr/share/regzone/sql/$(basename "$f")"); done
missing=()
for f in "${want[@]}"; do grep -qxF "$f" "$tmp/files" || missing+=("$f"); done
check "the package holds its ${#want[@]} files${missing[*]:+; missing: ${missing[*]}}" \
  test "${#missing[@]}" -eq 0
stray=$(grep -E '^/usr/(etc|local|lib/systemd)(/|$)' "$tmp/paths")
check "nothing under /usr/etc, /usr/local or /usr/lib/systemd${stray:+: $stray}" test -z "$stray"
check "every entry is root's" test -z "$(awk '$2 != "root/root"' "$tmp/contents")"
check "the binaries and the hook are executable" \
  test "$(grep -cE '^-rwxr-xr-x .*\./usr/(bin/regzone(d|ctl)|lib/regzone/hooks/prosody)$' "$tmp/contents")" -eq 3
mkdir -p "$tmp/x/DEBIAN" && dpkg-deb -x "$deb" "$tmp/x" && dpkg-deb -e "$deb" "$tmp/x/DEBIAN"
check "the binaries are stripped (symbols in the .ddeb)" \
  test -z "$(file "$tmp/x/usr/bin/regzoned" "$tmp/x/usr/bin/regzonectl" | grep -v ', stripped')"
# every library the binaries link, by the package that holds it
needed=$(objdump -p "$tmp/x/usr/bin/regzoned" "$tmp/x/usr/bin/regzonectl" |
  awk '$1 == "NEEDED" { print $2 }' | sort -u)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
nodep=()
for so in $needed; do
  pkg=$(dpkg -S "/lib/$ma/$so" "/usr/lib/$ma/$so" 2>/dev/null | sed -n '1s/[:,].*//p')
  [ -n "$pkg" ] && has_dep "$pkg" || nodep+=("$so${pkg:+ ($pkg)}")
done
check "Depends holds the package of each of the $(wc -w <<<"$needed") libraries linked${nodep[*]:+; not: ${nodep[*]}}" \
  test "${#nodep[@]}" -eq 0 -a -n "$needed"
check "conffiles is /etc/regzone/regzone.yaml" \
  test "$(cat "$tmp/x/DEBIAN/conffiles")" = /etc/regzone/regzone.yaml
check "every file in /etc is a conffile" test "$(grep '^/etc/' "$tmp/files")" = /etc/regzone/regzone.yaml
check "the shipped regzone.yaml is config/regzone.example.yaml" \
  cmp -s "$tmp/x/etc/regzone/regzone.yaml" "$src/config/regzone.example.yaml"
check "postinst, prerm and postrm are there, mode 0755" \
  test "$(stat -c %a "$tmp/x/DEBIAN/postinst" "$tmp/x/DEBIAN/prerm" "$tmp/x/DEBIAN/postrm" | sort -u)" = 755
for s in postinst prerm postrm; do
  check "$s passes sh -n" sh -n "$tmp/x/DEBIAN/$s"
done
gz_plain=1
for g in $(grep '\.gz$' "$tmp/files"); do
  # gzip -n: no name (FLG byte 3 is 0) and no time (bytes 4-7 are 0)
  [ "$(od -An -tu1 -j3 -N5 "$tmp/x$g" | tr -s ' ')" = " 0 0 0 0 0" ] || { gz_plain=0; note "$g: not gzip -n"; }
done
check "the .gz files are made by gzip -n (no name, no time)" test "$gz_plain" = 1

unit=$tmp/x/lib/systemd/system/regzoned.service
unit_has() { grep -qxF "$1" "$unit"; }
check "the unit runs ExecStart=/usr/bin/regzoned -c /etc/regzone/regzone.yaml" \
  unit_has "ExecStart=/usr/bin/regzoned -c /etc/regzone/regzone.yaml"
check "the unit checks first: ExecStartPre= ... --check" \
  unit_has "ExecStartPre=/usr/bin/regzoned -c /etc/regzone/regzone.yaml --check"
for l in Type=notify NotifyAccess=main WatchdogSec=30 'ExecReload=/bin/kill -HUP $MAINPID' \
    User=regzone Group=knot ProtectSystem=strict NoNewPrivileges=yes \
    Documentation=file:///usr/share/doc/regzone/README.md; do
  check "the unit says $l" unit_has "$l"
done
check "no @VAR@ and no /usr/local in the unit" test -z "$(grep -E '@[A-Z_]+@|/usr/local' "$unit")"

# ---- lintian --------------------------------------------------------------------
if command -v lintian >/dev/null; then
  lintian --pedantic "$deb" > "$tmp/lintian" 2>&1
  while IFS= read -r l; do note "lintian: $l"; done < <(grep -E '^[EWIPX]:' "$tmp/lintian")
  errors=$(grep -c '^E:' "$tmp/lintian")
  check "lintian: no error ($errors E:, $(grep -c '^W:' "$tmp/lintian") W:)" test "$errors" -eq 0
else
  bad "lintian is missing (deploy/install-deps installs it)"
fi

# ---- man pages -------------------------------------------------------------------
# A definition term: a line starting with a bold name whose block follows.
terms() {  # terms ROFF: the bold names that start a term line
  awk 'prev != "" && /^\.RS/ { print prev } { prev = "" }
       match($0, /^\\fB[^\\]+\\fR/) { prev = substr($0, 4, RLENGTH - 6) }' "$1" | sort -u
}
key_terms() {  # key_terms ROFF: terms "NAME (type...)"
  awk 'prev != "" && /^\.RS/ { print prev } { prev = "" }
       match($0, /^\\fB[a-z0-9_]+\\fR \(/) { prev = substr($0, 4, RLENGTH - 8) }' "$1" | sort -u
}
undocumented() {  # undocumented TERMS-FILE NAMES...: the names that have no term
  local t=$1; shift
  for w in "$@"; do grep -qxF "$w" "$t" || echo "$w"; done
}
mandir=$tmp/x/usr/share/man
for p in man8/regzoned.8 man8/regzonectl.8 man5/regzone.yaml.5; do
  zcat "$mandir/$p.gz" > "$tmp/$(basename "$p")"
  # the words, without roff's fonts and escapes, for the mentions below
  sed 's/\\&//g; s/\\f[BIRP]//g; s/\\-/-/g; s/\\(..//g' "$tmp/$(basename "$p")" > "$tmp/$(basename "$p").txt"
  warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$mandir/$p.gz" 2>&1 >/dev/null)
  check "$(basename "$p") renders without a warning${warn:+: $warn}" test -z "$warn"
  check "$(basename "$p") renders to text" \
    test "$(MANWIDTH=80 man -l "$mandir/$p.gz" 2>/dev/null | wc -l)" -ge 60
done
terms "$tmp/regzonectl.8" > "$tmp/cmd_terms"
key_terms "$tmp/regzone.yaml.5" > "$tmp/key_terms"
# shellcheck disable=SC2086 # the names are words
miss=$(undocumented "$tmp/cmd_terms" $commands | tr '\n' ' ')
check "regzonectl(8) has an entry for each of the $(wc -w <<<"$commands") commands${miss:+; none for: $miss}" \
  test -z "$miss"
# shellcheck disable=SC2086
miss=$(undocumented "$tmp/key_terms" $keys | tr '\n' ' ')
check "regzone.yaml(5) has an entry (name, type, default) for each of the $(wc -w <<<"$keys") keys${miss:+; none for: $miss}" \
  test -z "$miss"
# The check can fail: a page without the entry of certificates.dir.
sed 's/^\\fBdir\\fR (/dir (/' "$tmp/regzone.yaml.5" > "$tmp/planted.5"
key_terms "$tmp/planted.5" > "$tmp/planted_terms"
check "the key check finds a key without an entry (dir, planted)" \
  test "$(undocumented "$tmp/planted_terms" dir)" = dir -a -z "$(undocumented "$tmp/key_terms" dir)"
for w in SIGTERM SIGHUP REGZONE_CONFIG /etc/regzone/regzone.yaml Type=notify WatchdogSec=30 \
    --check; do
  check "regzoned(8) mentions $w" grep -qF -- "$w" "$tmp/regzoned.8.txt"
done
for w in REGZONE_CONFIG REGZONE_CURVE_KEY_DIR /etc/regzone/regzone.yaml; do
  check "regzonectl(8) mentions $w" grep -qF -- "$w" "$tmp/regzonectl.8.txt"
done
check "regzonectl(8) gives the exit codes 0 to 3" \
  test "$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$tmp/regzonectl.8" | grep -cxE '\\fB[0-3]\\fR')" -eq 4

# ---- install, upgrade, remove, purge (root, no regzone package before) ----------------
state=$(dpkg-query -W -f='${Status}' regzone 2>/dev/null)
left=$(ls -d /etc/regzone /var/lib/regzone /usr/lib/regzone 2>/dev/null | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ]; then
  skip "dpkg -i, upgrade and purge: not root"
elif [ -n "$state" ]; then
  skip "dpkg -i, upgrade and purge: a regzone package is there ($state): left alone"
elif [ -n "$left" ]; then
  skip "dpkg -i, upgrade and purge: $left exist without the package: left alone"
else
  getent passwd regzone >/dev/null || made_user=1
  installed=1
  if DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1; then
    ok "dpkg -i $(basename "$deb")"
  else
    bad "dpkg -i: $(tail -15 "$tmp/dpkg.log")"
  fi
  check "dpkg says: install ok installed" \
    test "$(dpkg-query -W -f='${Status}' regzone 2>/dev/null)" = "install ok installed"
  check "/usr/bin/regzoned is there" test -x /usr/bin/regzoned
  check "the installed unit runs /usr/bin/regzoned" \
    grep -qx 'ExecStart=/usr/bin/regzoned -c /etc/regzone/regzone.yaml' /lib/systemd/system/regzoned.service
  pw=$(getent passwd regzone)
  check "user regzone: a system user, home /var/lib/regzone ($pw)" \
    awk -F: '$3 < 1000 && $6 == "/var/lib/regzone" { found = 1 } END { exit !found }' <<<"$pw"
  check "group regzone exists" test -n "$(getent group regzone)"
  if getent group knot >/dev/null; then
    check "regzone is in group knot ($(id -nG regzone))" grep -qw knot <<<"$(id -nG regzone)"
  else
    skip "group knot: knot is not installed here"
  fi
  out=$(/usr/bin/regzoned -c /etc/regzone/regzone.yaml --check 2>&1)
  check "regzoned --check on the shipped configuration exits 0 ($out)" test $? -eq 0
  out=$(runuser -u regzone -g knot -- /usr/bin/regzoned -c /etc/regzone/regzone.yaml --check 2>&1)
  check "the same as user regzone, group knot (the unit's ExecStartPre) ($out)" test $? -eq 0
  out=$(/usr/bin/regzonectl -c /etc/regzone/regzone.yaml preview example.test 2>&1)
  check "regzonectl preview with the shipped configuration" grep -q 'IN SRV 5 1 5222' <<<"$out"
  check "man finds regzoned(8), regzonectl(8) and regzone.yaml(5)" \
    test "$(man -w regzoned.8 regzonectl.8 regzone.yaml.5 2>/dev/null | wc -l)" -eq 3
  if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify /lib/systemd/system/regzoned.service 2>&1 |
      grep -v 'running with root privileges' | grep -i regzoned)
    check "systemd-analyze verify: nothing about regzoned.service${out:+: $out}" test -z "$out"
  fi
  check "the unit is neither enabled nor started by the package" \
    test ! -e /etc/systemd/system/multi-user.target.wants/regzoned.service
  # Again over itself (postinst configure with the old version): idempotent.
  if DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1; then
    ok "dpkg -i again (an upgrade in place)"
  else
    bad "dpkg -i again: $(tail -15 "$tmp/dpkg.log")"
  fi
  check "one user regzone after it" test "$(getent passwd | grep -c '^regzone:')" -eq 1
  # What regzoned and an operator would have left: purge removes it.
  mkdir -p /var/lib/regzone/certs /etc/regzone/curve
  echo key > /var/lib/regzone/account.key
  echo key > /etc/regzone/curve/server.key
  chown -R regzone: /var/lib/regzone
  if dpkg -r regzone > "$tmp/dpkg.log" 2>&1; then ok "dpkg -r regzone"; else bad "dpkg -r: $(tail -5 "$tmp/dpkg.log")"; fi
  check "after remove the conffile stays" test -f /etc/regzone/regzone.yaml
  check "after remove the binaries are gone" test ! -e /usr/bin/regzoned
  if dpkg --purge regzone > "$tmp/dpkg.log" 2>&1; then ok "dpkg --purge regzone"; else bad "dpkg --purge: $(tail -5 "$tmp/dpkg.log")"; fi
  check "dpkg knows no regzone any more" test -z "$(dpkg-query -W -f='${Status}' regzone 2>/dev/null)"
  remain=()
  while IFS= read -r f; do [ -e "$f" ] || [ -L "$f" ] && remain+=("$f"); done < "$tmp/files"
  for d in /etc/regzone /var/lib/regzone /run/regzone /usr/lib/regzone /usr/share/regzone \
      /usr/share/doc/regzone /etc/systemd/system/regzoned.service; do
    [ -e "$d" ] || [ -L "$d" ] && remain+=("$d")
  done
  for f in /var/lib/systemd/deb-systemd-helper-*/regzoned.service*; do
    [ -e "$f" ] && remain+=("$f")
  done
  check "after purge nothing of the package is left${remain[*]:+: ${remain[*]}}" \
    test "${#remain[@]}" -eq 0
  check "/etc/regzone is gone" test ! -e /etc/regzone
  check "purge keeps the system user regzone (Debian's way)" test -n "$(getent passwd regzone)"
  installed=0
  if [ "$made_user" = 1 ]; then
    userdel regzone && { ! getent group regzone >/dev/null || groupdel regzone; }
    made_user=0
    check "the test's user and group regzone removed, group knot as before" \
      test -z "$(getent passwd regzone; getent group regzone)" -a "$(getent group knot || true)" = "$knot_before"
  fi
fi

summary
[ "$fails" -eq 0 ]
