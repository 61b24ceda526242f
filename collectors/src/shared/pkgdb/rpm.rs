//! rpm's database, read by running `rpm -qa` on a live host that allows it (the database
//! files themselves are not parsed offline).

use super::db::PackageDb;
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::collect::IssueKind;
use dossier_plugin_api::host::{ExecLimits, FileKind};
use dossier_plugin_api::records::{PackageRecord, SourceRef};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// `rpm -qa` query of every package: name, epoch:version-release, architecture, install
/// time (seconds since the epoch).
const PACKAGES_QUERY: &str =
    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n";
/// `rpm -qa` query of every file: package, digest algorithm, digest, path.
const FILES_QUERY: &str = "[%{=NAME}\\t%{=FILEDIGESTALGO}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]";

/// Reads the rpm database at `dbdir` by running rpm (live hosts that allow it only).
pub(super) fn load(ctx: &mut CollectContext<'_>, dbdir: &str) -> PackageDb {
    let mut db = PackageDb::default();
    let info = ctx.host().info();
    if !info.live || !info.can_exec {
        let why =
            format!("rpm database at {dbdir} cannot be read without running rpm on a live host");
        ctx.not_available(dbdir, &why);
        db.unavailable = Some(why);
        return db;
    }
    let Some(rpm) = ["/usr/bin/rpm", "/bin/rpm"].into_iter().find(|p| {
        ctx.host()
            .stat(Path::new(p))
            .is_ok_and(|m| m.kind == FileKind::File)
    }) else {
        db.unavailable = Some("rpm database present but no rpm program".into());
        ctx.not_available(dbdir, "rpm database present but no rpm program");
        return db;
    };
    let Some((pk, src)) = query(ctx, &[rpm, "-qa", "--qf", PACKAGES_QUERY]) else {
        db.unavailable = Some("rpm -qa failed".into());
        return db;
    };
    db.manager = Some("rpm".into());
    add_packages(&mut db, &pk, &src);
    if let Some((fl, src)) = query(ctx, &[rpm, "-qa", "--qf", FILES_QUERY]) {
        add_files(&mut db, &fl, &src);
    }
    db
}

/// Runs one rpm query; its output is stored in the bundle as `exec:<argv>`. `None` (and an
/// issue) when rpm fails.
fn query(ctx: &mut CollectContext<'_>, argv: &[&str]) -> Option<(Vec<u8>, SourceRef)> {
    let limits = ExecLimits {
        max_output: 512 << 20,
        timeout: Duration::from_secs(120),
    };
    match ctx.host().exec(argv, &limits) {
        Ok(out) if out.status == Some(0) => {
            let subject = format!("exec:{}", argv.join(" "));
            let source = dossier_plugin_api::collect::RawSource {
                path: subject.clone(),
                meta: None,
                meta_after: None,
                truncated: out.truncated,
                changed_during_read: false,
            };
            let out_data = out.stdout;
            let r = ctx_store(ctx, &source, &out_data);
            Some((
                out_data,
                SourceRef {
                    path: subject,
                    member: r.as_ref().map(|m| m.name.clone()),
                    sha256: r.map(|m| m.sha256),
                },
            ))
        }
        Ok(out) => {
            ctx.issue(
                "rpm",
                IssueKind::Incomplete,
                format!("`{}` exited with {:?}", argv.join(" "), out.status),
            );
            None
        }
        Err(e) => {
            ctx.host_error(&e);
            None
        }
    }
}

/// Packages from the output of [`PACKAGES_QUERY`] (epoch 0 left out of the version; an
/// install time that is not a number, `(none)`, left out).
fn add_packages(db: &mut PackageDb, out: &[u8], src: &SourceRef) {
    for line in String::from_utf8_lossy(out).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 3 || f.len() == 4 {
            let install_time = f
                .get(3)
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|t| dossier_plugin_api::Timestamp::from_unix(t, 0));
            db.packages.push(PackageRecord {
                manager: "rpm".into(),
                name: f[0].into(),
                version: f[1].trim_start_matches("0:").into(),
                arch: Some(f[2].into()),
                status: None,
                source_package: None,
                install_time,
                source: src.clone(),
            });
        }
    }
}

/// File lists and file digests from the output of [`FILES_QUERY`].
fn add_files(db: &mut PackageDb, out: &[u8], src: &SourceRef) {
    let mut per_pkg: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(out).lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        if f.len() != 4 {
            continue;
        }
        let algo = match f[1] {
            "1" => "md5",
            "2" => "sha1",
            "8" => "sha256",
            "9" => "sha384",
            "10" => "sha512",
            other => other,
        };
        if !f[2].is_empty() {
            db.rpm_digests
                .insert(f[3].to_string(), (algo.to_string(), f[2].to_string()));
        }
        per_pkg
            .entry(f[0].to_string())
            .or_default()
            .push(f[3].to_string());
    }
    for (package, files) in per_pkg {
        db.files.add("rpm", package, files, src.clone());
    }
    db.files.finish();
}

fn ctx_store(
    ctx: &mut CollectContext<'_>,
    source: &dossier_plugin_api::collect::RawSource,
    data: &[u8],
) -> Option<dossier_plugin_api::collect::MemberRef> {
    let out = dossier_plugin_api::host::ReadOutcome {
        data: data.to_vec(),
        truncated: source.truncated,
        meta: empty_meta(data.len() as u64),
        changed_during_read: false,
        meta_after: None,
    };
    ctx.store_read(Path::new(&source.path), out)
        .map(|c| c.member)
}

fn empty_meta(size: u64) -> dossier_plugin_api::FileMeta {
    dossier_plugin_api::FileMeta {
        kind: FileKind::File,
        mode: 0o600,
        uid: 0,
        gid: 0,
        size,
        nlink: None,
        mtime: None,
        ctime: None,
        atime: None,
        dev: None,
        inode: None,
    }
}
