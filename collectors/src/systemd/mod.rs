//! The `systemd` collector: every unit file in systemd's search path (system and user scope,
//! including per-user `~/.config/systemd/user`), drop-ins, enablement links, timers and
//! generator executables. Each file is copied verbatim; each unit becomes one record holding
//! what systemd would load (the winning fragment plus drop-ins), whether it is enabled, and on
//! live hosts whether it runs (from `systemctl` when systemd is PID 1, otherwise from the
//! cgroups of the processes the `proc` collector saw). Lingering users
//! (`/var/lib/systemd/linger/<user>`: their user manager and its enabled units start at boot)
//! are recorded, and the loader variables (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`) of
//! the files a unit's `EnvironmentFile=` names are kept with the unit (no other variable of
//! those files is stored).
//!
//! `scan` reads one scope's directories, `live` the running state, `units` turns a scan into
//! unit records, and [`parse`] reads one unit file; this module runs them and records
//! generators and lingering users.

mod live;
pub mod parse;
mod scan;
mod units;

pub use live::parse_list_units;

use live::{LiveStates, live_states};
use scan::{Scan, scan_scope};
use units::build_units;

use crate::util::{Accounts, ByteSize, DEFAULT_TEXT_CAP, canonicalize, name_text, ptext};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{GeneratorRecord, LingerRecord, Record, SourceRef, UnitRecord};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// System unit directories, highest priority first (systemd.unit(5)).
pub const SYSTEM_UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// Global user unit directories, highest priority first.
pub const USER_UNIT_DIRS: &[&str] = &[
    "/etc/systemd/user.control",
    "/run/systemd/user",
    "/etc/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
    "/lib/systemd/user",
];

/// Per-user unit directories, relative to the home directory.
pub const HOME_UNIT_DIRS: &[&str] = &[".config/systemd/user", ".local/share/systemd/user"];

/// Generator directories and their scope.
pub const GENERATOR_DIRS: &[(&str, &str)] = &[
    ("/etc/systemd/system-generators", "system"),
    ("/run/systemd/system-generators", "system"),
    ("/usr/local/lib/systemd/system-generators", "system"),
    ("/usr/lib/systemd/system-generators", "system"),
    ("/lib/systemd/system-generators", "system"),
    ("/etc/systemd/user-generators", "user"),
    ("/run/systemd/user-generators", "user"),
    ("/usr/local/lib/systemd/user-generators", "user"),
    ("/usr/lib/systemd/user-generators", "user"),
    (
        "/etc/systemd/system-environment-generators",
        "system-environment",
    ),
    (
        "/usr/lib/systemd/system-environment-generators",
        "system-environment",
    ),
    (
        "/usr/lib/systemd/user-environment-generators",
        "user-environment",
    ),
];

/// The `systemd` collector.
pub struct SystemdCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Cap for each unit file, drop-in and generator copied.
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
    /// Ask `systemctl list-units` for the active state when systemd is PID 1 (live hosts only).
    #[serde(default = "yes")]
    query_systemctl: bool,
    /// Look for per-user units in every home directory.
    #[serde(default = "yes")]
    user_units: bool,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}
fn yes() -> bool {
    true
}

impl Collector for SystemdCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "systemd".into(),
            version: crate::util::VERSION.into(),
            description: "Unit files from every systemd search directory (system and user), drop-ins, enablement links, timers, generators, active state".into(),
            after: vec!["proc".into()],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<Config>(with_default(config))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let cap = cfg.max_file_size.0;
        let mut seen_dirs: HashSet<PathBuf> = HashSet::new();

        let system = scan_scope(
            ctx,
            SYSTEM_UNIT_DIRS.iter().map(PathBuf::from).collect(),
            cap,
            &mut seen_dirs,
        );
        let mut groups: Vec<(String, Option<String>, Scan)> = vec![("system".into(), None, system)];
        let global_user = scan_scope(
            ctx,
            USER_UNIT_DIRS.iter().map(PathBuf::from).collect(),
            cap,
            &mut seen_dirs,
        );
        groups.push(("user".into(), None, global_user));
        if cfg.user_units {
            let accounts = Accounts::load(ctx);
            for (home, user) in accounts.homes() {
                let dirs = HOME_UNIT_DIRS
                    .iter()
                    .map(|d| Path::new(&home).join(d))
                    .collect();
                let scan = scan_scope(ctx, dirs, cap, &mut seen_dirs);
                if !scan.fragments.is_empty() || !scan.dropins.is_empty() {
                    groups.push(("user".into(), Some(user), scan));
                }
            }
        }

        let live_state = if ctx.is_live() {
            live_states(ctx, cfg.query_systemctl)
        } else {
            LiveStates::default()
        };
        if !ctx.is_live() {
            ctx.not_available(
                "unit active state",
                "not a running system: only enablement (links) can be read from an image",
            );
        }

        for (scope, owner, scan) in &groups {
            for mut rec in build_units(scope, owner.as_deref(), scan, &live_state) {
                rec.env_file_ld = environment_files_ld(ctx, &rec);
                ctx.emit(&Record::Unit(rec))?;
            }
        }
        collect_generators(ctx, cap, &mut seen_dirs)?;
        collect_linger(ctx)
    }
}

/// Where logind keeps one empty file per lingering user.
pub const LINGER_DIR: &str = "/var/lib/systemd/linger";

/// One `linger` record per file of [`LINGER_DIR`].
fn collect_linger(ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
    let accounts = Accounts::load(ctx);
    let dir = Path::new(LINGER_DIR);
    for e in ctx.list_dir(dir).unwrap_or_default() {
        let user = name_text(&e.name);
        let path = dir.join(&e.name);
        let meta = ctx.lstat(&path);
        ctx.emit(&Record::Linger(LingerRecord {
            account_exists: accounts.list.iter().any(|a| a.name == user),
            user,
            path: ptext(&path),
            meta,
        }))?;
    }
    Ok(())
}

/// Loader variables kept from environment files: the rest can hold secrets.
const LD_VARS: &[&str] = &["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"];
/// Largest environment file read.
const ENV_FILE_CAP: u64 = 256 << 10;

/// `LD_*` assignments of the unit's readable `EnvironmentFile=`s (a leading `-` makes a
/// missing file acceptable to systemd; it is the same here). The files are read, not copied:
/// only the loader variables are kept.
fn environment_files_ld(ctx: &mut CollectContext<'_>, u: &UnitRecord) -> Vec<String> {
    let mut out = Vec::new();
    for v in u
        .properties
        .get("Service.EnvironmentFile")
        .into_iter()
        .flatten()
    {
        let path = v.trim().trim_start_matches('-');
        if !path.starts_with('/') || path.contains('%') {
            continue;
        }
        let data = match ctx.host().read(Path::new(path), ENV_FILE_CAP) {
            Ok(o) => o.data,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                ctx.host_error(&e);
                continue;
            }
        };
        out.extend(env_file_ld_vars(&String::from_utf8_lossy(&data)));
    }
    out
}

/// `VAR=value` lines of an environment file that set a loader variable (quotes removed).
pub fn env_file_ld_vars(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            let (k, v) = l.split_once('=')?;
            let k = k.trim();
            LD_VARS.contains(&k).then(|| {
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                format!("{k}={v}")
            })
        })
        .collect()
}

fn with_default(v: &serde_json::Value) -> serde_json::Value {
    if v.is_null() {
        serde_json::json!({})
    } else {
        v.clone()
    }
}

fn collect_generators(
    ctx: &mut CollectContext<'_>,
    cap: u64,
    seen: &mut HashSet<PathBuf>,
) -> Result<(), CollectError> {
    for (dir, scope) in GENERATOR_DIRS {
        let dir = Path::new(dir);
        let Some(canon) = canonicalize(ctx.host(), dir) else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        let Some(entries) = ctx.list_dir(dir) else {
            continue;
        };
        for e in entries {
            let path = dir.join(&e.name);
            let Some(meta) = ctx.lstat(&path) else {
                continue;
            };
            let link_target = if meta.kind == FileKind::Symlink {
                ctx.read_link(&path).map(|t| ptext(&t))
            } else {
                None
            };
            let source = if meta.kind == FileKind::Dir {
                None
            } else {
                ctx.copy(&path, cap.max(64 << 20)).map(|c| SourceRef {
                    path: ptext(&path),
                    member: Some(c.member.name),
                    sha256: Some(c.member.sha256),
                })
            };
            ctx.emit(&Record::SystemdGenerator(GeneratorRecord {
                path: ptext(&path),
                scope: scope.to_string(),
                dir: ptext(dir),
                meta: Some(meta),
                link_target,
                source,
            }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::PriorRecords;
    use dossier_plugin_api::testing::{MemHost, run_collector};
    use std::collections::BTreeMap;

    #[test]
    fn lingering_users_and_environment_file_loader_variables() {
        let h = MemHost::new(false)
            .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
            .file("/var/lib/systemd/linger/alice", "")
            .file("/var/lib/systemd/linger/ghost", "")
            .file("/etc/systemd/system/web.service", "[Service]\nEnvironment=LD_PRELOAD=/dev/shm/.l.so\nEnvironmentFile=-/etc/default/web\nEnvironmentFile=-/etc/default/missing\nExecStart=/usr/bin/web\n")
            .file("/etc/default/web", "DB_PASSWORD=secret\nexport LD_LIBRARY_PATH=\"/opt/web/lib\"\n")
            .file("/home/alice/.config/systemd/user/agent.service", "[Service]\nExecStart=/bin/sh -c 'sleep 1'\n[Install]\nWantedBy=default.target\n")
            .link("/home/alice/.config/systemd/user/default.target.wants/agent.service", "/home/alice/.config/systemd/user/agent.service");
        let (sink, r) = run_collector(
            &SystemdCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let linger = sink.of_kind("systemd", "linger");
        assert_eq!(linger.len(), 2);
        assert_eq!(linger[0]["user"], "alice");
        assert_eq!(linger[0]["account_exists"], true);
        assert_eq!(linger[1]["account_exists"], false);
        let units = sink.of_kind("systemd", "unit");
        let web = units.iter().find(|u| u["name"] == "web.service").unwrap();
        assert_eq!(
            web["env_file_ld"],
            serde_json::json!(["LD_LIBRARY_PATH=/opt/web/lib"])
        );
        assert_eq!(
            web["properties"]["Service.Environment"][0],
            "LD_PRELOAD=/dev/shm/.l.so"
        );
        assert!(!serde_json::to_string(&units).unwrap().contains("secret"));
        let agent = units.iter().find(|u| u["name"] == "agent.service").unwrap();
        assert_eq!(agent["owner"], "alice");
        assert_eq!(agent["enabled"], true);
    }

    fn miner_host(live: bool) -> MemHost {
        MemHost::new(live)
            .link("/lib", "usr/lib")
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
            .file("/etc/systemd/system/python.service", "[Unit]\nDescription=Python Service\n[Service]\nExecStart=/var/log/log\nRestart=always\n[Install]\nWantedBy=multi-user.target\n")
            .link("/etc/systemd/system/multi-user.target.wants/python.service", "/etc/systemd/system/python.service")
            .file("/usr/lib/systemd/system/ssh.service", "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n")
            .link("/etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service")
            .link("/etc/systemd/system/multi-user.target.wants/ssh.service", "/lib/systemd/system/ssh.service")
            .file("/usr/lib/systemd/system/cron.service", "[Service]\nExecStart=/usr/sbin/cron -f\n")
            .file("/etc/systemd/system/cron.service.d/override.conf", "[Service]\nExecStart=\nExecStart=/usr/sbin/cron -f -L 15\n")
            .file("/usr/lib/systemd/system/apt-daily.timer", "[Timer]\nOnCalendar=*-*-* 6,18:00\nPersistent=true\n")
            .file("/usr/lib/systemd/system/getty@.service", "[Service]\nExecStart=-/sbin/agetty %I\n")
            .link("/etc/systemd/system/getty.target.wants/getty@tty1.service", "/lib/systemd/system/getty@.service")
            .link("/etc/systemd/system/ctrl-alt-del.target", "/dev/null")
            .file("/home/alice/.config/systemd/user/sync.service", "[Service]\nExecStart=/home/alice/.local/bin/sync\n")
            .file("/usr/lib/systemd/system-generators/systemd-fstab-generator", "\x7fELF")
            .file("/etc/systemd/system/broken.service", "[Service\nExecStart=/x\n")
    }

    fn units(sink: &dossier_plugin_api::testing::MemSink) -> BTreeMap<String, serde_json::Value> {
        sink.of_kind("systemd", "unit")
            .into_iter()
            .map(|u| {
                (
                    format!(
                        "{}:{}",
                        u["owner"].as_str().unwrap_or("-"),
                        u["name"].as_str().unwrap()
                    ),
                    u,
                )
            })
            .collect()
    }

    #[test]
    fn finds_units_dropins_links_and_generators() {
        let (sink, r) = run_collector(
            &SystemdCollector,
            &miner_host(false),
            serde_json::Value::Null,
            &PriorRecords::new(),
        );
        r.unwrap();
        let u = units(&sink);
        let py = &u["-:python.service"];
        assert_eq!(py["exec_start"], serde_json::json!(["/var/log/log"]));
        assert_eq!(py["unit_dir"], "/etc/systemd/system");
        assert_eq!(py["enabled"], true);
        assert_eq!(
            py["enabled_via"][0],
            "/etc/systemd/system/multi-user.target.wants/python.service"
        );
        assert_eq!(
            py["source"]["member"],
            "raw/etc/systemd/system/python.service"
        );
        assert!(py["source"]["sha256"].as_str().unwrap().len() == 64);
        // Drop-in resets and replaces ExecStart.
        assert_eq!(
            u["-:cron.service"]["exec_start"],
            serde_json::json!(["/usr/sbin/cron -f -L 15"])
        );
        assert_eq!(
            u["-:cron.service"]["dropins"][0]["path"],
            "/etc/systemd/system/cron.service.d/override.conf"
        );
        // /lib is /usr/lib: scanned once, no duplicates.
        assert_eq!(u.keys().filter(|k| k.contains("ssh.service")).count(), 1);
        assert_eq!(u["-:ssh.service"]["enabled"], true);
        // The alias symlink in /etc is its own fragment, pointing at the real file.
        assert_eq!(
            u["-:sshd.service"]["link_target"],
            "/lib/systemd/system/ssh.service"
        );
        // Timers.
        assert_eq!(
            u["-:apt-daily.timer"]["timer"]["on_calendar"][0],
            "*-*-* 6,18:00"
        );
        assert_eq!(u["-:apt-daily.timer"]["timer"]["unit"], "apt-daily.service");
        // Template enabled through an instance link, and the instance itself.
        assert_eq!(u["-:getty@.service"]["enabled"], true);
        assert_eq!(
            u["-:getty@tty1.service"]["path"],
            "/usr/lib/systemd/system/getty@.service"
        );
        assert_eq!(u["-:ctrl-alt-del.target"]["masked"], true);
        assert_eq!(u["alice:sync.service"]["scope"], "user");
        // Malformed unit: recorded with warnings and an issue, not dropped.
        assert!(
            !u["-:broken.service"]["parse_warnings"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(sink.issues_about("broken.service").len(), 1);
        let g = sink.of_kind("systemd", "systemd_generator");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0]["scope"], "system");
        // Offline: active state said to be unavailable.
        assert_eq!(sink.issues_about("unit active state").len(), 1);
        assert!(py.get("active_state").is_none());
    }

    #[test]
    fn live_state_from_cgroups_when_systemd_is_not_pid1() {
        let mut prior = PriorRecords::new();
        prior.insert("proc".into(), vec![serde_json::json!({"kind":"process","pid":812,"ppid":1,"state":"S","comm":"log","argv":["/var/log/log"],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":4,"systemd_unit":"python.service"})]);
        let host = miner_host(true).file("/proc/1/comm", "init\n");
        let (sink, r) = run_collector(&SystemdCollector, &host, serde_json::Value::Null, &prior);
        r.unwrap();
        let u = units(&sink);
        assert_eq!(u["-:python.service"]["active_state"], "active");
        assert_eq!(u["-:python.service"]["state_source"], "cgroup");
        assert_eq!(u["-:python.service"]["pids"], serde_json::json!([812]));
    }

    #[test]
    fn live_state_from_systemctl_when_systemd_is_pid1() {
        let host = miner_host(true)
            .file("/proc/1/comm", "systemd\n")
            .exe("/usr/bin/systemctl", "\x7fELF")
            .command(&["/usr/bin/systemctl", "list-units", "--all", "--full", "--plain", "--no-legend", "--no-pager"], "python.service loaded active running Python Service\ncron.service loaded inactive dead Regular background program processing daemon\n");
        let (sink, r) = run_collector(
            &SystemdCollector,
            &host,
            serde_json::Value::Null,
            &PriorRecords::new(),
        );
        r.unwrap();
        let u = units(&sink);
        assert_eq!(u["-:python.service"]["sub_state"], "running");
        assert_eq!(u["-:cron.service"]["active_state"], "inactive");
        assert_eq!(u["-:cron.service"]["state_source"], "systemctl");
    }

    #[test]
    fn config_is_validated() {
        assert!(
            SystemdCollector
                .validate_config(&serde_json::json!({"max_file_size": "1 MiB"}))
                .is_ok()
        );
        assert!(
            SystemdCollector
                .validate_config(&serde_json::json!({"max_fil_size": 1}))
                .unwrap_err()
                .contains("max_fil_size")
        );
    }
}
