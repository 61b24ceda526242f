//! The `sessions` collector: who is logged in (`/run/utmp`), who logged in (`/var/log/wtmp`
//! and its last rotation `wtmp.1`) and who failed to (`/var/log/btmp`, `btmp.1`).
//!
//! The binary files are copied verbatim (capped) and every record parsed into a `login`
//! record: type, PID, terminal, user, remote host and address, time. The layout is glibc's
//! `struct utmp` on Linux (384 bytes, 32-bit times, the same on 64-bit hosts); a trailing
//! partial record is reported as malformed.

use crate::util::{ByteSize, canonicalize, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::records::{LoginRecord, Record};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, Timestamp};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The `sessions` collector.
pub struct SessionsCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Cap for each file copied and parsed (wtmp of a busy host grows large).
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
}

fn default_cap() -> ByteSize {
    ByteSize(64 << 20)
}

/// Size of glibc's `struct utmp` on Linux.
pub const UTMP_SIZE: usize = 384;

const FILES: &[(&str, &str)] = &[
    ("/run/utmp", "utmp"),
    ("/var/run/utmp", "utmp"),
    ("/var/log/wtmp", "wtmp"),
    ("/var/log/wtmp.1", "wtmp"),
    ("/var/log/btmp", "btmp"),
    ("/var/log/btmp.1", "btmp"),
];

fn type_name(t: i16) -> String {
    match t {
        0 => "empty",
        1 => "run_lvl",
        2 => "boot_time",
        3 => "new_time",
        4 => "old_time",
        5 => "init_process",
        6 => "login_process",
        7 => "user_process",
        8 => "dead_process",
        9 => "accounting",
        _ => return format!("unknown_{t}"),
    }
    .to_string()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    bytes_to_text(&b[..end])
}

/// Parses one 384-byte record (`None` for an all-zero, empty slot); `log`, `index` and
/// `source` are left for the caller.
pub fn parse_utmp_record(r: &[u8]) -> Option<LoginRecord> {
    if r.len() < UTMP_SIZE || r.iter().all(|b| *b == 0) {
        return None;
    }
    let i16_at = |o: usize| i16::from_le_bytes([r[o], r[o + 1]]);
    let i32_at = |o: usize| i32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
    let t = i16_at(0);
    let pid = i32_at(4);
    let line = cstr(&r[8..40]);
    let user = cstr(&r[44..76]);
    let host = cstr(&r[76..332]);
    let sec = i32_at(340);
    let usec = i32_at(344);
    let a: Vec<u8> = r[348..364].to_vec();
    let address = if a.iter().all(|b| *b == 0) {
        None
    } else if a[4..].iter().all(|b| *b == 0) {
        Some(Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string())
    } else {
        let mut o = [0u8; 16];
        o.copy_from_slice(&a);
        Some(Ipv6Addr::from(o).to_string())
    };
    let time = (sec > 0)
        .then(|| Timestamp::from_unix(i64::from(sec), (usec.clamp(0, 999_999) as u32) * 1000))
        .flatten();
    Some(LoginRecord {
        entry_type: type_name(t),
        pid,
        line,
        user,
        host,
        address,
        time,
        ..Default::default()
    })
}

impl Collector for SessionsCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "sessions".into(),
            version: crate::util::VERSION.into(),
            description: "Logged-in users (utmp), login history (wtmp) and failed logins (btmp), parsed from the binary records".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cap = ctx.config::<Config>()?.max_file_size.0;
        let mut seen = HashSet::new();
        let mut any = false;
        for (path, log) in FILES {
            let path = Path::new(path);
            // /var/run is a link to /run on current systems: read each file once.
            let Some(real) = canonicalize(ctx.host(), path) else {
                continue;
            };
            if !seen.insert(real) {
                continue;
            }
            let Some(c) = ctx.capture(path, cap) else {
                continue;
            };
            any = true;
            let source = c.source_ref(path);
            let whole = c.data.len() / UTMP_SIZE * UTMP_SIZE;
            if whole != c.data.len() && !c.truncated {
                ctx.issue(
                    ptext(path),
                    IssueKind::Malformed,
                    format!(
                        "{} trailing bytes do not make a whole {UTMP_SIZE}-byte record",
                        c.data.len() - whole
                    ),
                );
            }
            for (i, r) in c.data[..whole].chunks(UTMP_SIZE).enumerate() {
                let Some(rec) = parse_utmp_record(r) else {
                    continue;
                };
                ctx.emit(&Record::Login(LoginRecord {
                    log: log.to_string(),
                    index: i as u32,
                    source: source.clone(),
                    ..rec
                }))?;
            }
        }
        if !any {
            ctx.not_available("utmp/wtmp/btmp", "none of the login records exists");
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    /// Builds one record the way glibc writes it.
    pub fn utmp(
        t: i16,
        pid: i32,
        line: &str,
        user: &str,
        host: &str,
        addr: [u8; 4],
        sec: i32,
    ) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_SIZE];
        r[0..2].copy_from_slice(&t.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..8 + line.len()].copy_from_slice(line.as_bytes());
        r[44..44 + user.len()].copy_from_slice(user.as_bytes());
        r[76..76 + host.len()].copy_from_slice(host.as_bytes());
        r[340..344].copy_from_slice(&sec.to_le_bytes());
        r[348..352].copy_from_slice(&addr);
        r
    }

    #[test]
    fn parses_the_three_logs() {
        let mut wtmp = utmp(2, 0, "~", "reboot", "6.1.0-13-amd64", [0; 4], 1_763_000_000);
        wtmp.extend(utmp(
            7,
            812,
            "pts/0",
            "alice",
            "192.0.2.10",
            [192, 0, 2, 10],
            1_763_000_100,
        ));
        wtmp.extend(vec![0u8; UTMP_SIZE]);
        wtmp.extend(b"oops");
        let btmp = utmp(
            6,
            900,
            "ssh:notty",
            "oracle",
            "203.0.113.77",
            [203, 0, 113, 77],
            1_763_000_050,
        );
        let h = MemHost::new(false)
            .link("/var/run", "/run")
            .file_bytes_path(b"/var/log/wtmp", wtmp)
            .file_bytes_path(b"/var/log/btmp", btmp)
            .file_bytes_path(
                b"/run/utmp",
                utmp(
                    7,
                    812,
                    "pts/0",
                    "alice",
                    "192.0.2.10",
                    [192, 0, 2, 10],
                    1_763_000_100,
                ),
            );
        let (sink, r) = run_collector(
            &SessionsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("sessions", "login");
        assert_eq!(recs.len(), 4, "{recs:?}");
        let w: Vec<_> = recs.iter().filter(|r| r["log"] == "wtmp").collect();
        assert_eq!(w[0]["entry_type"], "boot_time");
        assert_eq!(w[1]["user"], "alice");
        assert_eq!(w[1]["address"], "192.0.2.10");
        assert_eq!(w[1]["time"], "2025-11-13T02:15:00Z");
        let b: Vec<_> = recs.iter().filter(|r| r["log"] == "btmp").collect();
        assert_eq!(b[0]["line"], "ssh:notty");
        assert_eq!(
            recs.iter().filter(|r| r["log"] == "utmp").count(),
            1,
            "utmp read once"
        );
        assert_eq!(sink.issues_about("/var/log/wtmp").len(), 1);
        assert!(sink.raw.contains_key("raw/var/log/btmp"));
    }
}
