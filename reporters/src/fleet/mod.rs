//! The fleet Markdown report: executive summary, alerts grouped by severity (category, MITRE
//! ATT&CK, description, evidence, risk assessment; the structure of `seeds/001`), cross-host
//! correlation of IOCs (the same SHA-256, path, unit or cron command on which hosts), and the
//! bundles that could not be analyzed and targets that could not be collected (and, after a
//! `dossier merge`, the older bundles of hosts collected twice: [`Superseded`]). Hosts whose
//! rules ran on partial data (collected with gaps) are counted in the summary and marked in
//! the host table's `data` column.
//!
//! The report is written in one pass over the hosts so that memory does not grow with their
//! number: the caller keeps a small [`HostEntry`] per host (enough for the summary and to
//! number the alerts), and [`FleetWriter`] writes each host's alerts into one of five sinks,
//! one per severity, keeping only where each alert is; it then copies them into the report
//! numbered by severity and, with fleet stacking, rarest first ([`FleetWriter::with_stacking`]:
//! each alert and finding says on how many hosts it is, and a *Stacking* section follows).
//! Only maps keyed by distinct IOC, finding or item grow with the fleet (correlation, site
//! policy and baseline sections), and they are what those sections print.
//! [`render`] is the same code with in-memory sinks.
//!
//! Modules, bottom up: `severity` (order, urgency), `risk` (risk assessments in prose),
//! `entry` ([`HostEntry`]), `head` (summary and host table, from the entries), `alert` (the
//! text of one alert, [`Prevalence`]), `plugin_findings` (fleet-level findings of analyzer plugins), `writer`
//! ([`FleetWriter`], on all of them); `check` ([`summary_mismatches`], for tests) reads
//! reports back.

mod alert;
mod check;
mod entry;
mod head;
mod plugin_findings;
mod risk;
mod severity;
mod writer;

pub use alert::Prevalence;
pub use check::summary_mismatches;
pub use entry::HostEntry;
pub use head::Superseded;
pub use severity::{ORDER, slot};
pub use writer::FleetWriter;

use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{HostAnalysis, NotCollected, Unanalyzed};
use std::io;

/// Renders the fleet report of `hosts` (in this order) in memory, in the language of `c`.
pub fn render(
    hosts: &[HostAnalysis],
    (unanalyzed, not_collected): (&[Unanalyzed], &[NotCollected]),
    c: &Catalog,
) -> String {
    let index: Vec<HostEntry> = hosts.iter().map(HostEntry::of).collect();
    let mut w = FleetWriter::new(&index).with_catalog(c);
    let mut out = Vec::new();
    let mut sections: [io::Cursor<Vec<u8>>; 5] = Default::default();
    let done = (|| {
        w.write_head(&mut out, unanalyzed, not_collected)?;
        for h in hosts {
            w.add(h, &mut sections)?;
        }
        w.write_alerts(&mut out, &mut sections)?;
        w.write_tail(&mut out, &[], &[])
    })();
    done.expect("writing to memory with a matching index cannot fail");
    String::from_utf8(out).expect("the report is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;
    use crate::words::english as en;
    use dossier_plugin_api::analysis::{Finding, Ioc, Severity};
    use dossier_plugin_api::policy::StackingSummary;

    fn alert_lines(report: &str) -> Vec<&str> {
        report
            .lines()
            .filter(|l| l.starts_with("### ALERT-"))
            .collect()
    }

    #[test]
    fn alerts_are_numbered_by_severity_then_host() {
        let hosts = [
            host("a", "a.zip", &[Severity::Low, Severity::High]),
            host("b", "b.zip", &[Severity::High, Severity::Critical]),
            host("c", "c.zip", &[]),
        ];
        let r = render(&hosts, (&[], &[]), en());
        assert_eq!(
            alert_lines(&r),
            [
                "### ALERT-001: Title of rule-critical-1 on b",
                "### ALERT-002: Title of rule-high-1 on a",
                "### ALERT-003: Title of rule-high-0 on b",
                "### ALERT-004: Title of rule-low-0 on a",
            ]
        );
        assert!(!r.contains("No alerts."));
        // Text from the analyses is escaped for Markdown.
        assert!(
            r.contains("matched rule-low-0 \\| with a pipe and a newline"),
            "{r}"
        );
    }

    #[test]
    fn with_stacking_alerts_show_prevalence_and_rank_rarest_first_within_a_severity() {
        let hosts = [
            host("a", "a.zip", &[Severity::Low]),
            host("b", "b.zip", &[Severity::Low]),
            host("c", "c.zip", &[Severity::High, Severity::Low]),
        ];
        let index: Vec<HostEntry> = hosts.iter().map(HostEntry::of).collect();
        let summary = StackingSummary {
            hosts: 3,
            rare_at_most: 1,
            ..StackingSummary::default()
        };
        let prevalence = |f: &Finding| if f.rule == "rule-low-0" { 2 } else { 1 };
        let mut w = FleetWriter::new(&index).with_stacking(&summary, &prevalence);
        let mut out = Vec::new();
        let mut sections: [io::Cursor<Vec<u8>>; 5] = Default::default();
        w.write_head(&mut out, &[], &[]).unwrap();
        for h in &hosts {
            w.add(h, &mut sections).unwrap();
        }
        w.write_alerts(&mut out, &mut sections).unwrap();
        w.write_tail(&mut out, &[], &[]).unwrap();
        let r = String::from_utf8(out).unwrap();
        assert_eq!(
            alert_lines(&r),
            [
                "### ALERT-001: Title of rule-high-0 on c",
                "### ALERT-002: Title of rule-low-1 on c",
                "### ALERT-003: Title of rule-low-0 on a",
                "### ALERT-004: Title of rule-low-0 on b",
            ]
        );
        assert!(r.contains("**Prevalence:** on 2 of 3 hosts"), "{r}");
        assert!(r.contains("(on 1 of 3 hosts)"), "{r}");
        assert!(r.contains("## Stacking\n"), "{r}");
        // Without stacking: host order, no prevalence.
        let plain = render(&hosts, (&[], &[]), en());
        assert_eq!(
            alert_lines(&plain)[1..],
            [
                "### ALERT-002: Title of rule-low-0 on a",
                "### ALERT-003: Title of rule-low-0 on b",
                "### ALERT-004: Title of rule-low-1 on c",
            ]
        );
        assert!(!plain.contains("Prevalence") && !plain.contains("## Stacking"));
    }

    #[test]
    fn no_alerts_and_nothing_to_correlate() {
        let r = render(&[host("c", "c.zip", &[])], (&[], &[]), en());
        assert!(r.contains("## Security Alerts\n\nNo alerts.\n\n## Cross-host Correlation\n\nNo IOC to correlate.\n"), "{r}");
        assert!(r.contains("0 bundle(s) could not be analyzed."), "{r}");
        assert!(
            !r.contains("not collected") && !r.contains("Not collected"),
            "{r}"
        );
    }

    #[test]
    fn correlation_counts_hosts_not_bundles_and_skips_pids() {
        let hosts = [
            host("a", "a-1.zip", &[Severity::Low]),
            host("a", "a-2.zip", &[Severity::Low]),
            host("b", "b.zip", &[Severity::Medium]),
        ];
        let r = render(&hosts, (&[], &[]), en());
        assert!(r.contains("| `/tmp/x` | path | 2 of 3 | a, b |"), "{r}");
        assert!(r.contains("| `a.service` | unit | 1 of 3 | a |"), "{r}");
        assert!(!r.contains("| pid |"), "{r}");
        // Most widespread first.
        let path = r.find("| `/tmp/x` |").unwrap();
        let unit = r.find("| `a.service` |").unwrap();
        assert!(path < unit);
    }

    #[test]
    fn targets_not_collected_are_counted_and_listed() {
        let nc = [
            NotCollected {
                target: "10.0.0.7".into(),
                outcome: "unreachable".into(),
                reason: "connection timed out after 10 s".into(),
            },
            NotCollected {
                target: "db9".into(),
                outcome: "auth_failed".into(),
                reason: "publickey refused".into(),
            },
            NotCollected {
                target: "10.0.0.8".into(),
                outcome: "unreachable".into(),
                reason: "no route to host".into(),
            },
        ];
        let un = [Unanalyzed {
            subject: "x.zip".into(),
            reason: "verification failed".into(),
        }];
        let r = render(&[host("a", "a.zip", &[])], (&un, &nc), en());
        assert!(
            r.contains("**Targets not collected:** 3 (auth_failed: 1, unreachable: 2)  \n"),
            "{r}"
        );
        assert!(
            r.contains("1 bundle(s) could not be analyzed. 3 target(s) could not be collected (auth_failed: 1, unreachable: 2)"),
            "{r}"
        );
        assert!(
            r.contains("**Not collected:**\n\n- `10.0.0.7`: unreachable: connection timed out after 10 s\n- `db9`: auth_failed: publickey refused\n"),
            "{r}"
        );
        assert!(r.contains("**Not analyzed:**\n\n- `x.zip`: verification failed\n"));
    }

    #[test]
    fn superseded_bundles_are_listed_before_the_alerts() {
        let hosts = [HostEntry::of(&host("a", "a-new.zip", &[]))];
        let sup = [Superseded {
            hostname: "a".into(),
            bundle: "shard-0/a-old.zip".into(),
            sha256: "0123456789abcdef0123".into(),
            collected: dossier_plugin_api::Timestamp::from_unix(1_700_000_000, 0).unwrap(),
            by: "shard-1/a-new.zip".into(),
        }];
        let mut out = Vec::new();
        FleetWriter::new(&hosts)
            .with_superseded(&sup)
            .write_head(&mut out, &[], &[])
            .unwrap();
        let r = String::from_utf8(out).unwrap();
        let listed = "**Superseded** (1: older bundles of hosts collected again; the newest verified bundle of each host is analyzed):\n\n- `shard-0/a-old.zip` (`0123456789abcdef`) of a, collected 2023-11-14T22:13:20Z: superseded by `shard-1/a-new.zip`\n";
        assert!(r.contains(listed), "{r}");
        assert!(r.find(listed) < r.find("## Security Alerts"), "{r}");
        // Without a merge, nothing.
        let mut out = Vec::new();
        FleetWriter::new(&hosts)
            .write_head(&mut out, &[], &[])
            .unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("Superseded"));
    }

    #[test]
    fn hosts_collected_with_gaps_are_counted_and_marked() {
        let mut a = host("a", "a.zip", &[]);
        a.partial = vec![crate::sample::partial("system-account-usable")];
        a.partial.push(crate::sample::partial("sudo-nopasswd-all"));
        let mut b = host("b", "b.zip", &[Severity::Low]);
        let mut one = b.clone();
        one.hostname = "one".into();
        one.partial = vec![crate::sample::partial("sudo-nopasswd-all")];
        let r = render(&[one], (&[], &[]), en());
        assert!(r.contains("| partial (1 rule) |"), "{r}");
        b.partial.clear();
        let r = render(&[a, b.clone()], (&[], &[]), en());
        assert!(r.contains("**Hosts collected with gaps:** 1  \n"), "{r}");
        assert!(
            r.contains("1 host(s) collected with gaps: some rules ran on partial data"),
            "{r}"
        );
        assert!(
            r.contains("| a | Unclear/Benign | 0 | 0 | - | partial (2 rules) | `a.zip`"),
            "{r}"
        );
        assert!(
            r.contains("| b | Unclear/Benign | 10 | 1 | LOW | complete | `b.zip`"),
            "{r}"
        );
        let r = render(&[b], (&[], &[]), en());
        assert!(r.contains("**Hosts collected with gaps:** 0  \n"), "{r}");
        assert!(!r.contains("host(s) collected with gaps"), "{r}");
    }

    #[test]
    fn hosts_must_come_in_index_order_and_all_of_them() {
        let a = host("a", "a.zip", &[Severity::Low]);
        let b = host("b", "b.zip", &[Severity::Low]);
        let index = [HostEntry::of(&a), HostEntry::of(&b)];
        let mut sections: [Vec<u8>; 5] = Default::default();
        let mut w = FleetWriter::new(&index);
        assert!(w.add(&b, &mut sections).is_err());
        let mut w = FleetWriter::new(&index);
        w.add(&a, &mut sections).unwrap();
        assert!(w.write_tail(&mut Vec::new(), &[], &[]).is_err());
    }

    #[test]
    fn summary_counts_match_the_alerts_and_hosts_listed() {
        let mut off = host("img", "img.zip", &[Severity::High, Severity::Low]);
        off.target = "image:/mnt/disk".into();
        let hosts = [
            host("a", "a.zip", &[Severity::Low, Severity::High]),
            host(
                "b",
                "b.zip",
                &[Severity::High, Severity::Critical, Severity::Medium],
            ),
            host("c", "c.zip", &[]),
            host(
                "d",
                "d.zip",
                &[
                    Severity::High,
                    Severity::High,
                    Severity::Medium,
                    Severity::Low,
                    Severity::Critical,
                    Severity::Info,
                ],
            ),
            off,
        ];
        let r = render(&hosts, (&[], &[]), en());
        assert_eq!(summary_mismatches(&r), Vec::<String>::new(), "{r}");
        assert!(
            r.contains("**Alerts:** 13 (CRITICAL: 2, HIGH: 5, MEDIUM: 2, LOW: 3, INFO: 1)  \n"),
            "{r}"
        );
        // The checker does catch a summary that says something else.
        let wrong = r.replace("**Alerts:** 13 (", "**Alerts:** 12 (");
        assert_eq!(summary_mismatches(&wrong).len(), 1, "{wrong}");
        let wrong = r.replace("Suspicious: 1", "Suspicious: 3");
        assert!(!summary_mismatches(&wrong).is_empty());
        let r = render(&[host("c", "c.zip", &[])], (&[], &[]), en());
        assert_eq!(summary_mismatches(&r), Vec::<String>::new(), "{r}");
        assert!(r.contains("**Alerts:** 0  \n"), "{r}");
    }

    #[test]
    fn an_offline_image_with_rules_not_evaluated_is_not_complete() {
        let mut a = host("img", "img.zip", &[]);
        a.target = "image:/mnt/disk".into();
        for rule in ["deleted-exe-running", "interpreter-listening"] {
            a.not_evaluated
                .push(dossier_plugin_api::analysis::NotEvaluated {
                    rule: rule.into(),
                    title: rule.into(),
                    reason: "collector 'proc' not available: no live /proc (offline image)".into(),
                    reason_message: None,
                });
        }
        let mut live = host("live", "live.zip", &[]);
        live.not_evaluated = a.not_evaluated[..1].to_vec();
        let r = render(&[a, live, host("ok", "ok.zip", &[])], (&[], &[]), en());
        assert!(
            r.contains("| offline image (2 rules not evaluated) |"),
            "{r}"
        );
        assert!(r.contains("| incomplete (1 rule not evaluated) |"), "{r}");
        assert!(
            r.contains("| ok | Unclear/Benign | 0 | 0 | - | complete |"),
            "{r}"
        );
    }

    #[test]
    fn risk_assessments_speak_of_their_finding_and_name_techniques() {
        let mut h = host("a", "a.zip", &[Severity::High, Severity::Low]);
        h.hits[0].mitre = vec!["T1036.005".into()];
        h.findings[0].subject = "/var/log/log".into();
        h.findings[0].explanation =
            "unit python.service runs /var/log/log: it lives in /var/log".into();
        h.hits[1].mitre = vec!["T1053.003".into()];
        let r = render(&[h], (&[], &[]), en());
        assert!(
            r.contains("**MITRE ATT&CK:** T1036.005 Masquerading: Match Legitimate Resource Name or Location\n"),
            "{r}"
        );
        assert!(
            r.contains("**Risk Assessment:** HIGH: On `/var/log/log`: unit python.service runs /var/log/log: it lives in /var/log. As T1036.005 Masquerading: Match Legitimate Resource Name or Location, it lets an attacker hide from administrators and security tools. Typical of intrusions"),
            "{r}"
        );
        assert!(r.contains("it lets an attacker run code of their choice on the host, keep access across reboots and password changes and gain higher privileges"), "{r}");
        let risks: Vec<&str> = r
            .lines()
            .filter(|l| l.starts_with("**Risk Assessment:**"))
            .collect();
        assert_eq!(risks.len(), 2);
        assert_ne!(risks[0], risks[1]);
        assert!(r.contains("**Technique names:** MITRE ATT&CK v"), "{r}");
    }

    #[test]
    fn packaged_unmodified_files_are_no_iocs() {
        let mut h = host("a", "a.zip", &[Severity::High]);
        h.findings[0]
            .iocs
            .push(Ioc::Path("/usr/bin/python3.11".into()));
        h.executables
            .push(dossier_plugin_api::analysis::ExecutableSeen {
                path: "/usr/bin/python3.11".into(),
                sha256: Some("12".repeat(32)),
                referenced_by: vec!["process 7".into()],
                referenced_by_messages: vec![],
                member: None,
                packaged: true,
            });
        h.findings[0].iocs.push(Ioc::Sha256("12".repeat(32)));
        let r = render(&[h.clone()], (&[], &[]), en());
        assert!(!r.contains("python3.11"), "{r}");
        assert!(!r.contains(&"12".repeat(32)), "{r}");
        assert!(r.contains("| `/tmp/x` | path |"), "{r}");
        let host_report = crate::host::render(&h, en());
        assert!(
            !host_report
                .split("## Evidence")
                .next()
                .unwrap()
                .contains("python3.11"),
            "{host_report}"
        );
    }
}
