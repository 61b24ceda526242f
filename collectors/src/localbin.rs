//! The `local-bin` collector: what sits in the `PATH` directories searched before the
//! system's (`/usr/local/sbin`, `/usr/local/bin`).
//!
//! Every entry is recorded with its metadata and link target. An entry named like a program
//! that a package installs in `/usr/bin`, `/usr/sbin`, `/bin` or `/sbin` shadows it for every
//! shell and script that relies on `PATH`: such entries are hashed, and copied into the bundle
//! when no package owns them. Package ownership comes from the package database shared with
//! the `packages` collector (loaded once per host).

use crate::shared::pkgdb::PackageDb;
use crate::util::{ByteSize, canonicalize, copy_capped, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{LocalBinRecord, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::path::Path;

/// The `local-bin` collector.
pub struct LocalBinCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Largest shadowing file copied (larger ones are hashed only).
    #[serde(default = "default_copy_cap")]
    max_copy_size: ByteSize,
    /// Most entries recorded per directory.
    #[serde(default = "default_max_entries")]
    max_entries: usize,
}

fn default_copy_cap() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_max_entries() -> usize {
    10_000
}

/// Searched before the system directories in every distribution's default `PATH`.
const LOCAL_DIRS: &[&str] = &["/usr/local/sbin", "/usr/local/bin"];
const SYSTEM_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

impl Collector for LocalBinCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "local-bin".into(),
            version: crate::util::VERSION.into(),
            description: "Entries of /usr/local/{sbin,bin}; those shadowing a packaged program are hashed and, when unowned, copied".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let db = PackageDb::load(ctx);
        // Hard links (git, git-receive-pack, ...) are copied once.
        let mut copied: std::collections::HashMap<(u64, u64), SourceRef> =
            std::collections::HashMap::new();
        if let Some(why) = &db.unavailable {
            ctx.not_available("package database", why);
        }
        // /bin and /sbin are links into /usr on merged systems: name each directory once.
        let mut system_dirs: Vec<&str> = Vec::new();
        let mut canon_seen = std::collections::HashSet::new();
        for d in SYSTEM_DIRS {
            let c = canonicalize(ctx.host(), Path::new(d)).unwrap_or_else(|| d.into());
            if canon_seen.insert(c) {
                system_dirs.push(d);
            }
        }
        for dir in LOCAL_DIRS {
            let dir = Path::new(dir);
            let entries = ctx.list_dir(dir).unwrap_or_default();
            if entries.len() > cfg.max_entries {
                ctx.issue(
                    ptext(dir),
                    IssueKind::Incomplete,
                    format!(
                        "{} entries; only the first {} recorded",
                        entries.len(),
                        cfg.max_entries
                    ),
                );
            }
            for e in entries.into_iter().take(cfg.max_entries) {
                let path = dir.join(&e.name);
                let name = name_text(&e.name);
                let Some(meta) = ctx.lstat(&path) else {
                    continue;
                };
                if meta.kind == FileKind::Dir {
                    continue;
                }
                let text = ptext(&path);
                let link_target = (meta.kind == FileKind::Symlink)
                    .then(|| ctx.read_link(&path).map(|t| ptext(&t)))
                    .flatten();
                // A link to a packaged file (alternatives, admin conveniences) is as good as
                // owned: it runs the package's program.
                let resolved = (meta.kind == FileKind::Symlink)
                    .then(|| canonicalize(ctx.host(), &path))
                    .flatten()
                    .map(|p| ptext(&p));
                let owned = match (db.is_owned(&text), resolved.as_deref()) {
                    (Some(false), Some(r)) => db.is_owned(r),
                    (o, _) => o,
                };
                let shadows: Vec<String> = system_dirs
                    .iter()
                    .map(|d| format!("{d}/{name}"))
                    .filter(|p| db.is_owned(p) == Some(true))
                    .collect();
                let (mut sha256, mut copy) = (None, None);
                if !shadows.is_empty() {
                    let real = ctx.host().stat(&path).ok();
                    if let Some(real) = real.filter(|m| m.kind == FileKind::File) {
                        let id = real.identity();
                        if owned == Some(false) {
                            match id.and_then(|id| copied.get(&id)) {
                                Some(c) => copy = Some(c.clone()),
                                // One read: the copy's SHA-256 is the file's when it is whole.
                                None => {
                                    if let Some((c, whole)) =
                                        copy_capped(ctx, &path, real.size, cfg.max_copy_size.0)
                                    {
                                        if whole.is_some() {
                                            sha256 = c.sha256.clone();
                                        }
                                        if let Some(id) = id {
                                            copied.insert(id, c.clone());
                                        }
                                        copy = Some(c);
                                    }
                                }
                            }
                        }
                        if sha256.is_none() {
                            sha256 = ctx
                                .host()
                                .hash_file(&path, cfg.max_copy_size.0.max(1 << 30))
                                .ok()
                                .map(|h| h.sha256);
                        }
                    }
                }
                ctx.emit(&Record::LocalBin(LocalBinRecord {
                    path: text,
                    name,
                    meta: Some(meta),
                    link_target,
                    owned,
                    shadows,
                    sha256,
                    copy,
                }))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn shadowing_entries_are_hashed_and_copied() {
        let h = MemHost::new(false)
            .link("/bin", "usr/bin")
            .file("/var/lib/dpkg/status", "Package: coreutils\nStatus: install ok installed\nVersion: 9.1-1\n\nPackage: tool\nStatus: install ok installed\nVersion: 1\n")
            .file("/var/lib/dpkg/info/coreutils.list", "/bin/ls\n/usr/bin/sleep\n")
            .file("/var/lib/dpkg/info/tool.list", "/usr/local/bin/tool\n")
            .exe("/usr/bin/ls", "ls")
            .exe("/usr/bin/sleep", "sleep")
            .exe("/usr/local/bin/ls", "#!/bin/sh\n/usr/bin/ls \"$@\" | grep -v x\n")
            .exe("/usr/local/bin/backup-db", "#!/bin/sh\n")
            .exe("/usr/local/bin/tool", "tool")
            .link("/usr/local/sbin/sleep", "/usr/bin/sleep");
        let (sink, r) = run_collector(
            &LocalBinCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("local-bin", "local_bin");
        let by = |p: &str| recs.iter().find(|r| r["path"] == p).unwrap().clone();
        let ls = by("/usr/local/bin/ls");
        assert_eq!(
            ls["shadows"],
            serde_json::json!(["/usr/bin/ls"]),
            "/bin is /usr/bin"
        );
        assert_eq!(ls["owned"], false);
        assert!(ls["sha256"].is_string());
        assert_eq!(ls["copy"]["member"], "raw/usr/local/bin/ls");
        assert_eq!(
            ls["sha256"], ls["copy"]["sha256"],
            "hashed as it was copied"
        );
        assert_eq!(
            ls["sha256"],
            dossier_plugin_api::encoding::hex(&<sha2::Sha256 as sha2::Digest>::digest(
                b"#!/bin/sh\n/usr/bin/ls \"$@\" | grep -v x\n"
            ))
        );
        let b = by("/usr/local/bin/backup-db");
        assert!(b.get("shadows").is_none() && b.get("copy").is_none());
        assert_eq!(by("/usr/local/bin/tool")["owned"], true);
        let s = by("/usr/local/sbin/sleep");
        assert_eq!(s["link_target"], "/usr/bin/sleep");
        assert_eq!(s["shadows"][0], "/usr/bin/sleep");
        assert!(s.get("copy").is_none());
        assert_eq!(
            s["owned"], true,
            "a link to the packaged file runs the package's program"
        );
    }
}
