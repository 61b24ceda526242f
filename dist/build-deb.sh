#!/usr/bin/env bash
# Builds the Debian package with cargo-deb: dist/out/dossier_<version>-1_<arch>.deb holding
# /usr/bin/dossier, the ssh-keys plugin in /usr/lib/dossier/plugins/, the playbooks in
# /usr/share/dossier/playbooks/, one man page per subcommand, bash/zsh/fish completions, the
# README and the licence (see [package.metadata.deb] in cli/Cargo.toml).
# Usage: dist/build-deb.sh [--profile dev|release]   (default release; needs cargo-deb:
#        `cargo install cargo-deb --locked`)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = "--profile" ]; then profile=${2:?--profile needs dev or release}; fi
case "$profile" in
  release) dir=target/release; cargo build --release --locked -p dossier-cli -p dossier-ssh-keys ;;
  dev) dir=target/debug; cargo build --locked -p dossier-cli -p dossier-ssh-keys ;;
  *) echo "build-deb.sh: --profile $profile: expected dev or release" >&2; exit 2 ;;
esac
assets="$dir/deb-assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions" dist/out
"$dir/dossier" man --out "$assets/man"
gzip -9n "$assets"/man/*.1
"$dir/dossier" completions bash > "$assets/completions/dossier"
"$dir/dossier" completions zsh > "$assets/completions/_dossier"
"$dir/dossier" completions fish > "$assets/completions/dossier.fish"
cargo deb -p dossier-cli --no-build --profile "$profile" --output dist/out/
ls dist/out/*.deb
