//! `ssh-keys`: a dossier plugin (collector + analyzer) for SSH authorized keys, loaded at run
//! time as a shared library (`dossier collect --plugin libdossier_ssh_keys.so`).
//!
//! The **collector** reads `/etc/passwd` and the OpenSSH server configuration
//! (`/etc/ssh/sshd_config` and its `Include`s) to find every `AuthorizedKeysFile` of every
//! account (root included even without a passwd entry), copies each file found into the
//! bundle and records one `authorized_key` per key: account, uid, key type, SHA-256
//! fingerprint in OpenSSH's format (`SHA256:` + unpadded base64), comment and options (with
//! `command=` and `from=` broken out). It only reads files, so it works the same on a live
//! host, a `--root` image and over SSH.
//!
//! The **analyzer** flags keys on root and on system accounts, keys with a forced command or a
//! source restriction, and, across a fleet, keys present on only some of the hosts (an
//! attacker's key planted on the machines it reached, rather than the administrators' keys
//! deployed everywhere). Every rule is MITRE ATT&CK T1098.004 (SSH Authorized Keys).

pub mod analyzer;
pub mod collector;
/// The key-line, `sshd_config` and passwd parsers, shared with the built-in `sshd` collector.
pub use dossier_collectors::shared::sshkeys as parse;

pub use analyzer::SshKeysAnalyzer;
pub use collector::SshKeysCollector;

/// Collector and analyzer name (also the records member, `records/ssh-keys.jsonl`).
pub const NAME: &str = "ssh-keys";

dossier_plugin_abi::export_plugin! {
    name: "ssh-keys",
    version: env!("CARGO_PKG_VERSION"),
    collector: SshKeysCollector,
    analyzer: SshKeysAnalyzer,
}
