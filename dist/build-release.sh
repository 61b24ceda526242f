#!/usr/bin/env bash
# Builds a release tarball of dossier with its SHA256SUMS:
#   dist/out/dossier-<version>-<target>.tar.gz  (bin/dossier, plugins/libdossier_ssh_keys.so,
#                                                 plugin-template/, playbooks/, README.md)
#   dist/out/SHA256SUMS
# Usage: dist/build-release.sh   (from anywhere; needs cargo, tar, sha256sum)
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
cp -r playbooks README.md "$stage/$name/"
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > SHA256SUMS && cat SHA256SUMS)
