//! The `ssh-keys` collector: every account's authorized keys, with raw copies of the files.
//!
//! Records (`records/ssh-keys.jsonl`):
//! - `sshd_keys_config`: the `AuthorizedKeysFile` patterns in force (and those only inside
//!   `Match` blocks), `AuthorizedKeysCommand` (keys a program returns cannot be collected:
//!   recorded as an issue), `PermitRootLogin`, and the configuration files read;
//! - `authorized_keys_file`: one per file found: account, path, metadata, number of keys;
//! - `authorized_key`: one per key: account, uid, whether it is a system account, file, line,
//!   key type, fingerprint, comment, options, `command`, `from`.

use crate::NAME;
use crate::parse::{self, Account, DEFAULT_FILES, SshdKeys};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, Collector, CollectorInfo, IssueKind,
};
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::records::SourceRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// The collector (see the module documentation).
#[derive(Debug, Default)]
pub struct SshKeysCollector;

/// Playbook section `[collectors.ssh-keys]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Largest file read (bytes); larger files are truncated and the cut recorded.
    #[serde(default = "default_max")]
    max_file_size: u64,
    /// Also read the files of `AuthorizedKeysFile` lines inside `Match` blocks.
    #[serde(default = "yes")]
    match_blocks: bool,
}

fn default_max() -> u64 {
    1 << 20
}

fn yes() -> bool {
    true
}

/// One authorized key.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    pub user: String,
    pub uid: u32,
    /// uid 1-999 or 65534: an account of a service, not of a person.
    pub system_account: bool,
    pub file: String,
    pub line: usize,
    pub key_type: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it; absent when the key does not decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub comment: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub source: SourceRef,
}

/// Whether a uid belongs to a service account.
pub fn is_system_uid(uid: u32) -> bool {
    (1..1000).contains(&uid) || uid == 65534
}

/// Largest configuration file read.
const MAX_CONFIG: u64 = 1 << 20;
/// Largest number of included configuration files followed.
const MAX_INCLUDES: usize = 64;

impl SshKeysCollector {
    /// Reads `sshd_config` and its includes (each copied into the bundle).
    fn sshd(&self, ctx: &mut CollectContext<'_>) -> (SshdKeys, Vec<SourceRef>) {
        let mut k = SshdKeys::default();
        let mut sources = Vec::new();
        let main = Path::new("/etc/ssh/sshd_config");
        let Some(c) = ctx.capture(main, MAX_CONFIG) else {
            return (k, sources);
        };
        sources.push(c.source_ref(main));
        let mut in_match = false;
        let mut read = 1;
        let mut include = |pattern: &str| -> Vec<String> {
            let pattern = if pattern.starts_with('/') {
                pattern.to_string()
            } else {
                format!("/etc/ssh/{pattern}")
            };
            let mut texts = Vec::new();
            for path in self.glob(ctx, &pattern) {
                if read >= MAX_INCLUDES {
                    break;
                }
                read += 1;
                let p = Path::new(&path);
                if let Some(c) = ctx.capture(p, MAX_CONFIG) {
                    sources.push(c.source_ref(p));
                    texts.push(String::from_utf8_lossy(&c.data).into_owned());
                }
            }
            texts
        };
        parse::sshd_config(
            &String::from_utf8_lossy(&c.data),
            &mut k,
            &mut in_match,
            &mut include,
        );
        (k, sources)
    }

    /// Files matching a pattern whose last component may hold one `*`.
    fn glob(&self, ctx: &mut CollectContext<'_>, pattern: &str) -> Vec<String> {
        let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        let Some((pre, post)) = name.split_once('*') else {
            return vec![pattern.to_string()];
        };
        let dir = if dir.is_empty() { "/" } else { dir };
        ctx.list_dir(Path::new(dir))
            .unwrap_or_default()
            .into_iter()
            .map(|e| bytes_to_text(std::os::unix::ffi::OsStrExt::as_bytes(e.name.as_os_str())))
            .filter(|n| {
                n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
            })
            .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
            .collect()
    }
}

impl Collector for SshKeysCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "SSH authorized keys of every account (sshd AuthorizedKeysFile), with fingerprints and options".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        let v = if config.is_null() {
            serde_json::json!({})
        } else {
            config.clone()
        };
        serde_json::from_value::<Config>(v)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let passwd = ctx.capture(Path::new("/etc/passwd"), 16 << 20);
        let mut accounts = match &passwd {
            Some(c) => parse::passwd(&String::from_utf8_lossy(&c.data)),
            None => {
                ctx.not_available(
                    "/etc/passwd",
                    "no /etc/passwd: only root's keys are looked for",
                );
                Vec::new()
            }
        };
        if !accounts.iter().any(|a| a.uid == 0) {
            accounts.push(Account {
                name: "root".into(),
                uid: 0,
                home: "/root".into(),
                shell: String::new(),
            });
        }
        let (sshd, config_sources) = self.sshd(ctx);
        if let Some(cmd) = &sshd.command {
            ctx.issue(
                "/etc/ssh/sshd_config",
                IssueKind::NotAvailable,
                format!(
                    "AuthorizedKeysCommand {cmd}: keys returned by a program are not collected"
                ),
            );
        }
        let patterns: Vec<String> = sshd
            .files
            .clone()
            .unwrap_or_else(|| DEFAULT_FILES.iter().map(|s| s.to_string()).collect());
        ctx.emit(&serde_json::json!({
            "kind": "sshd_keys_config",
            "authorized_keys_files": patterns,
            "default": sshd.files.is_none(),
            "match_block_files": sshd.match_files,
            "authorized_keys_command": sshd.command,
            "authorized_keys_command_user": sshd.command_user,
            "permit_root_login": sshd.permit_root_login,
            "sources": config_sources,
        }))?;
        let mut all = patterns;
        if cfg.match_blocks {
            all.extend(sshd.match_files.iter().cloned());
        }
        let mut done = BTreeSet::new();
        for a in &accounts {
            for pat in &all {
                let Some(path) = parse::expand(pat, a) else {
                    continue;
                };
                if !done.insert((a.name.clone(), path.clone())) {
                    continue;
                }
                if ctx.host_lost().is_some() {
                    return Ok(());
                }
                self.keys_file(ctx, a, &path, cfg.max_file_size)?;
            }
        }
        Ok(())
    }
}

impl SshKeysCollector {
    fn keys_file(
        &self,
        ctx: &mut CollectContext<'_>,
        a: &Account,
        path: &str,
        max: u64,
    ) -> Result<(), CollectError> {
        let p = Path::new(path);
        let Some(c) = ctx.capture(p, max) else {
            return Ok(());
        };
        let source = c.source_ref(p);
        let text = String::from_utf8_lossy(&c.data);
        let mut keys = 0;
        for (i, line) in text.lines().enumerate() {
            let rec = match parse::key_line(line) {
                Ok(None) => continue,
                Ok(Some(k)) => {
                    let (fingerprint, error) = match parse::fingerprint(&k.blob) {
                        Ok((fp, inner)) if inner == k.key_type => (Some(fp), None),
                        Ok((fp, inner)) => (
                            Some(fp),
                            Some(format!("key says {inner}, line says {}", k.key_type)),
                        ),
                        Err(e) => (None, Some(e)),
                    };
                    KeyRecord {
                        user: a.name.clone(),
                        uid: a.uid,
                        system_account: is_system_uid(a.uid),
                        file: path.to_string(),
                        line: i + 1,
                        command: parse::option_value(&k.options, "command"),
                        from: parse::option_value(&k.options, "from"),
                        key_type: k.key_type,
                        fingerprint,
                        comment: k.comment,
                        options: k.options,
                        error,
                        source: source.clone(),
                    }
                }
                Err(e) => {
                    ctx.issue(
                        format!("{path}:{}", i + 1),
                        IssueKind::Malformed,
                        format!("not a key line: {e}"),
                    );
                    continue;
                }
            };
            keys += 1;
            let mut v =
                serde_json::to_value(&rec).map_err(|e| CollectError::Other(e.to_string()))?;
            v["kind"] = "authorized_key".into();
            ctx.emit(&v)?;
        }
        ctx.emit(&serde_json::json!({
            "kind": "authorized_keys_file",
            "user": a.name,
            "uid": a.uid,
            "path": path,
            "meta": c.meta,
            "keys": keys,
            "source": source,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";

    #[test]
    fn keys_of_every_account_with_sshd_patterns_and_includes() {
        let host = MemHost::new(false)
            .file(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n",
            )
            .file(
                "/etc/ssh/sshd_config",
                "Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile /etc/ignored/%u\n",
            )
            .file(
                "/etc/ssh/sshd_config.d/keys.conf",
                "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n",
            )
            .file(
                "/root/.ssh/authorized_keys",
                format!("# admins\nssh-ed25519 {KEY} admin@jump\ncommand=\"/tmp/.x/run\",no-pty ssh-ed25519 {KEY} \nnot a key\n"),
            )
            .file("/etc/ssh/keys/www-data", format!("from=\"203.0.113.0/24\" ssh-ed25519 {KEY} deploy\n"))
            .file("/home/alice/.ssh/authorized_keys", format!("ssh-rsa {KEY} wrong type\n"));
        let (sink, r) = run_collector(
            &SshKeysCollector,
            &host,
            serde_json::json!({}),
            &Default::default(),
        );
        r.unwrap();
        let keys = sink.of_kind(NAME, "authorized_key");
        assert_eq!(keys.len(), 4, "{keys:#?}");
        let root_cmd = keys.iter().find(|k| k["command"].is_string()).unwrap();
        assert_eq!(root_cmd["user"], "root");
        assert_eq!(root_cmd["line"], 3);
        assert_eq!(root_cmd["command"], "/tmp/.x/run");
        assert_eq!(
            root_cmd["source"]["member"],
            "raw/root/.ssh/authorized_keys"
        );
        assert!(
            root_cmd["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:")
        );
        let www = keys.iter().find(|k| k["user"] == "www-data").unwrap();
        assert_eq!(
            (www["system_account"].as_bool(), www["from"].as_str()),
            (Some(true), Some("203.0.113.0/24"))
        );
        let alice = keys.iter().find(|k| k["user"] == "alice").unwrap();
        assert!(
            alice["error"]
                .as_str()
                .unwrap()
                .contains("key says ssh-ed25519")
        );
        assert!(sink.issues_about("/root/.ssh/authorized_keys:4").len() == 1);
        let cfg = &sink.of_kind(NAME, "sshd_keys_config")[0];
        assert_eq!(cfg["authorized_keys_files"][1], "/etc/ssh/keys/%u");
        assert_eq!(cfg["sources"].as_array().unwrap().len(), 2);
        assert_eq!(sink.of_kind(NAME, "authorized_keys_file").len(), 3);
        assert!(sink.raw.contains_key("raw/etc/ssh/sshd_config.d/keys.conf"));
    }

    #[test]
    fn without_passwd_or_sshd_config_root_and_defaults_are_used() {
        let host = MemHost::new(false).file(
            "/root/.ssh/authorized_keys2",
            format!("ssh-ed25519 {KEY} x\n"),
        );
        let (sink, r) = run_collector(
            &SshKeysCollector,
            &host,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(
            sink.of_kind(NAME, "authorized_key")[0]["file"],
            "/root/.ssh/authorized_keys2"
        );
        assert_eq!(
            sink.issues_about("/etc/passwd")[0].kind,
            IssueKind::NotAvailable
        );
        assert!(
            SshKeysCollector
                .validate_config(&serde_json::json!({"max_file_size": "x"}))
                .is_err()
        );
        assert!(
            SshKeysCollector
                .validate_config(&serde_json::json!({"bogus": 1}))
                .is_err()
        );
    }
}
