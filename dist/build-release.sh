#!/usr/bin/env bash
# Builds a release tarball of dossier with its SHA256SUMS:
#   dist/out/dossier-<version>-<target>.tar.gz  (bin/dossier, playbooks/, README.md)
#   dist/out/SHA256SUMS
# Usage: dist/build-release.sh   (from anywhere; needs cargo, tar, sha256sum)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dossier-cli
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
target=$(rustc -vV | sed -n 's/^host: //p')
name="dossier-${version}-${target}"
out=dist/out
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$out"
install -m 0755 target/release/dossier "$stage/$name/bin/dossier"
cp -r playbooks README.md "$stage/$name/"
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > SHA256SUMS && cat SHA256SUMS)
