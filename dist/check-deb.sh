#!/usr/bin/env bash
# Builds the .deb (dist/build-deb.sh, profile dev by default: CI has the dev build already) and
# checks it as a user would get it: lintian with no unexplained warning (each override in
# dist/debian/lintian-overrides says why), then unpacked into a clean folder (dpkg -x): every
# file in place, the binary runs, `man -l` renders each page without a warning, the bash
# completion loads and completes a subcommand.
# Usage: dist/check-deb.sh [--profile dev|release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dev
if [ "${1:-}" = "--profile" ]; then profile=${2:?--profile needs dev or release}; fi
rm -f dist/out/dossier_*.deb
dist/build-deb.sh --profile "$profile"
deb=$(ls dist/out/dossier_*.deb)
fail() { echo "check-deb: $*" >&2; exit 1; }

lintian --fail-on error,warning "$deb" || fail "lintian: warnings or errors above"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
for f in usr/bin/dossier usr/lib/dossier/plugins/libdossier_ssh_keys.so \
  usr/share/dossier/playbooks/triage.toml usr/share/doc/dossier/copyright \
  usr/share/doc/dossier/README.md usr/share/doc/dossier/changelog.Debian.gz \
  usr/share/man/man1/dossier.1.gz usr/share/man/man1/dossier-sweep.1.gz \
  usr/share/man/man1/dossier-collect.1.gz usr/share/man/man1/dossier-analyze.1.gz \
  usr/share/bash-completion/completions/dossier usr/share/zsh/vendor-completions/_dossier \
  usr/share/fish/vendor_completions.d/dossier.fish; do
  [ -f "$root/$f" ] || fail "$f missing from $deb"
done
"$root/usr/bin/dossier" --version | grep -q '^dossier ' || fail "dossier --version"
pages=0
for page in "$root"/usr/share/man/man1/*.1.gz; do
  out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null) || fail "man -l $page failed"
  [ -z "$out" ] || fail "man -l $page: $out"
  pages=$((pages + 1))
done
man -l "$root/usr/share/man/man1/dossier-sweep.1.gz" 2>/dev/null | grep -q 'EXIT STATUS' \
  || fail "dossier-sweep(1) has no EXIT STATUS section"
# The completion completes "swe" to "sweep".
got=$(bash -c '
  source "$1"
  COMP_WORDS=(dossier swe); COMP_CWORD=1; COMP_LINE="dossier swe"; COMP_POINT=${#COMP_LINE}
  _dossier dossier swe dossier 2>/dev/null || true
  printf "%s\n" "${COMPREPLY[@]}"' _ "$root/usr/share/bash-completion/completions/dossier")
grep -qx sweep <<<"$got" || fail "bash completion of 'dossier swe' gave: $got"
echo "check-deb: $deb: lintian clean, $pages man pages render, files in place, completion works"
