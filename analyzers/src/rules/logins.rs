//! Login records: odd session users, failed-login bursts, brute force followed by a login.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Message};

pub(crate) fn login_ev(
    ctx: &Ctx,
    l: &At<dossier_plugin_api::records::LoginRecord>,
) -> Vec<Evidence> {
    ctx.ev(
        l,
        what(
            "evidence.login-record",
            &[("log", &l.rec.log), ("index", &l.rec.index)],
        ),
        Some(&l.rec.source),
    )
}

/// Whether a session user name looks forged.
pub fn odd_user(name: &str) -> bool {
    name.is_empty()
        || name == "LOGIN"
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@$\\".contains(c))
}

pub(crate) fn odd_login_user(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.logins
        .iter()
        .filter(|l| {
            l.rec.log != "btmp" && l.rec.entry_type == "user_process" && odd_user(&l.rec.user)
        })
        .map(|l| {
            let mut iocs = vec![Ioc::Account(l.rec.user.clone())];
            iocs.extend(l.rec.address.clone().map(Ioc::Address));
            let m = match l.rec.time {
                Some(t) => Message::new("finding.logins.odd-user-at").text("time", t.to_rfc3339()),
                None => Message::new("finding.logins.odd-user"),
            };
            explained(
                format!("{} record {}", l.rec.log, l.rec.index),
                m.text("log", &l.rec.log)
                    .text("user", &l.rec.user)
                    .text("tty", &l.rec.line)
                    .text(
                        "host",
                        if l.rec.host.is_empty() {
                            "?"
                        } else {
                            &l.rec.host
                        },
                    ),
                login_ev(ctx, l),
                iocs,
            )
        })
        .collect()
}

/// Sources with at least 20 failed logins within 10 minutes: (source, count in the densest
/// window, first, last, the records of that window).
#[allow(clippy::type_complexity)]
pub(crate) fn bursts(
    ctx: &Ctx,
) -> Vec<(
    String,
    usize,
    i64,
    i64,
    Vec<&At<dossier_plugin_api::records::LoginRecord>>,
)> {
    const MIN: usize = 20;
    const WINDOW: i64 = 600;
    let mut by: std::collections::BTreeMap<
        String,
        Vec<&At<dossier_plugin_api::records::LoginRecord>>,
    > = std::collections::BTreeMap::new();
    for l in ctx
        .logins
        .iter()
        .filter(|l| l.rec.log == "btmp" && l.rec.time.is_some())
    {
        let src = l.rec.address.clone().unwrap_or_else(|| l.rec.host.clone());
        if !src.is_empty() {
            by.entry(src).or_default().push(l);
        }
    }
    let mut out = Vec::new();
    for (src, mut v) in by {
        v.sort_by_key(|l| l.rec.time.map(|t| t.unix_seconds()));
        let t = |l: &At<dossier_plugin_api::records::LoginRecord>| {
            l.rec.time.map_or(0, |t| t.unix_seconds())
        };
        let mut best = (0usize, 0usize);
        let mut j = 0;
        for i in 0..v.len() {
            while t(v[i]) - t(v[j]) > WINDOW {
                j += 1;
            }
            if i + 1 - j > best.1 - best.0 {
                best = (j, i + 1);
            }
        }
        if best.1 - best.0 >= MIN {
            let w = v[best.0..best.1].to_vec();
            out.push((src, w.len(), t(w[0]), t(w[w.len() - 1]), w));
        }
    }
    out
}

pub(crate) fn failed_login_burst(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    bursts(ctx)
        .into_iter()
        .map(|(src, n, first, last, w)| {
            let mut users: Vec<&str> = w.iter().map(|l| l.rec.user.as_str()).collect();
            users.sort();
            users.dedup();
            explained(
                &src,
                Message::new("finding.logins.failed-burst")
                    .text("n", n)
                    .text("source", &src)
                    .text("seconds", last - first)
                    .text(
                        "users",
                        users
                            .iter()
                            .take(10)
                            .map(|u| format!("`{u}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                login_ev(ctx, w[0]),
                vec![Ioc::Address(src.clone())],
            )
        })
        .collect()
}

pub(crate) fn bruteforce_then_login(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (src, n, first, _, w) in bursts(ctx) {
        let success = ctx.logins.iter().find(|l| {
            l.rec.log != "btmp"
                && l.rec.entry_type == "user_process"
                && (l.rec.address.as_deref() == Some(src.as_str()) || l.rec.host == src)
                && l.rec.time.is_some_and(|t| t.unix_seconds() >= first)
        });
        if let Some(s) = success {
            let mut ev = login_ev(ctx, w[0]);
            ev.extend(login_ev(ctx, s));
            let m = match s.rec.time {
                Some(t) => Message::new("finding.logins.bruteforce-then-login-at")
                    .text("time", t.to_rfc3339()),
                None => Message::new("finding.logins.bruteforce-then-login"),
            };
            out.push(explained(
                &src,
                m.text("source", &src)
                    .text("n", n)
                    .text("user", &s.rec.user)
                    .text("tty", &s.rec.line),
                ev,
                vec![Ioc::Address(src.clone()), Ioc::Account(s.rec.user.clone())],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::engine::analyze_records;
    use crate::testkit;
    use dossier_plugin_api::Timestamp;
    use serde_json::json;

    #[test]
    fn session_rules() {
        let src = json!({"path": "/var/log/btmp"});
        let rec = |i: usize, log: &str, t: &str, user: &str, addr: &str, secs: i64| {
            let time = Timestamp::from_unix(secs, 0).unwrap();
            (
                i + 1,
                json!({"kind": "login", "log": log, "index": i, "entry_type": t, "pid": 1, "line": "pts/0", "user": user, "host": addr, "address": addr, "time": time, "source": src}),
            )
        };
        let mut recs: Vec<(usize, serde_json::Value)> = (0..25)
            .map(|i| {
                rec(
                    i,
                    "btmp",
                    "login_process",
                    "root",
                    "203.0.113.77",
                    1_763_000_000 + i as i64 * 10,
                )
            })
            .collect();
        recs.extend((0..5).map(|i| {
            rec(
                30 + i,
                "btmp",
                "login_process",
                "admin",
                "198.51.100.1",
                1_763_000_000 + i as i64,
            )
        }));
        recs.push(rec(
            40,
            "wtmp",
            "user_process",
            "root",
            "203.0.113.77",
            1_763_000_400,
        ));
        recs.push(rec(
            41,
            "wtmp",
            "user_process",
            "alice",
            "192.0.2.10",
            1_763_000_500,
        ));
        recs.push(rec(
            42,
            "utmp",
            "user_process",
            "LOGIN",
            "203.0.113.77",
            1_763_000_600,
        ));
        recs.push(rec(43, "utmp", "login_process", "LOGIN", "", 1_763_000_600));
        let records = [("sessions".to_string(), recs)].into_iter().collect();
        let a = analyze_records(records);
        let subjects = |rule: &str| testkit::subjects(&a, rule);
        assert_eq!(subjects("failed-login-burst"), ["203.0.113.77"]);
        assert_eq!(subjects("bruteforce-then-login"), ["203.0.113.77"]);
        assert_eq!(subjects("odd-login-user"), ["utmp record 42"]);
        assert!(
            crate::rules::logins::odd_user("ro ot") && !crate::rules::logins::odd_user("alice.b")
        );
    }
}
