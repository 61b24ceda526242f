#!/usr/bin/env bash
# Builds a release tarball of dossier with its SHA256SUMS:
#   dist/out/dossier-<version>-<target>.tar.gz  (bin/dossier, plugins/libdossier_ssh_keys.so,
#                                                 plugin-template/, playbooks/, man/,
#                                                 completions/, README.md, LICENSE)
#   dist/out/SHA256SUMS          (the tarball and any .deb already in dist/out)
#   dist/out/SHA256SUMS.minisig  (when DOSSIER_RELEASE_KEY names a dossier/minisign secret key;
#                                 minisign asks for its passphrase)
# Usage: dist/build-release.sh   (from anywhere; needs cargo, tar, sha256sum; minisign to sign)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dossier-cli -p dossier-ssh-keys
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
target=$(rustc -vV | sed -n 's/^host: //p')
name="dossier-${version}-${target}"
out=dist/out
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/plugins" "$out"
install -m 0755 target/release/dossier "$stage/$name/bin/dossier"
# The ssh-keys plugin: load it with --plugin, or copy it to ~/.local/share/dossier/plugins.
install -m 0644 target/release/libdossier_ssh_keys.so "$stage/$name/plugins/"
mkdir -p "$stage/$name/plugin-template"
cp -r dist/plugin-template/Cargo.toml dist/plugin-template/README.md dist/plugin-template/src \
  "$stage/$name/plugin-template/"
cp -r playbooks README.md LICENSE "$stage/$name/"
mkdir -p "$stage/$name/man" "$stage/$name/completions"
target/release/dossier man --out "$stage/$name/man"
for sh in bash zsh fish; do
  target/release/dossier completions "$sh" > "$stage/$name/completions/dossier.$sh"
done
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" $(ls dossier_*.deb 2>/dev/null) > SHA256SUMS && cat SHA256SUMS)
if [ -n "${DOSSIER_RELEASE_KEY:-}" ]; then
  minisign -S -s "$DOSSIER_RELEASE_KEY" -m "$out/SHA256SUMS" -t "dossier $version release checksums"
  echo "signed: $out/SHA256SUMS.minisig (check: minisign -V -p dossier.pub -m SHA256SUMS)"
fi
