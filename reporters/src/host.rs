//! The per-host Markdown report: host and collection, findings (executables with SHA-256),
//! rule hits with weights and reasons, score and verdict, IOCs, recommended actions, and the
//! evidence pointer and MITRE id of every finding. The sections follow the reference
//! incident report (`seeds/000`). Rules that could not be evaluated, and rules evaluated on
//! partial data (a collector they read could not read everything), are listed after the score,
//! and an Unclear/Benign verdict on partial data says so: it is not proof of a clean host.
//! Context findings (provenance: not scored on their own) have their own section with their
//! evidence; a rule hit says when its findings were counted under another rule (one
//! observation, one score) or when context on the same subject raised its weight (a boost).

use crate::md;
use dossier_analyzers::attack;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use std::fmt::Write;

/// Renders one host's report.
pub fn render(a: &HostAnalysis) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Incident Analysis Report: {}\n", md(&a.hostname));
    let _ = writeln!(o, "- Host: `{}` ({})", md(&a.hostname), md(&a.target));
    if let Some(os) = &a.os {
        let _ = writeln!(
            o,
            "- OS: {}{}",
            md(os),
            a.kernel
                .as_ref()
                .map(|k| format!(", kernel {}", md(k)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        o,
        "- Collected: {} to {} (UTC)",
        a.collected_started, a.collected_finished
    );
    if let Some(c) = &a.case_id {
        let _ = writeln!(o, "- Case: {}", md(c));
    }
    let _ = writeln!(o, "- Bundle: `{}`", md(&a.bundle));
    let _ = writeln!(o, "- Bundle SHA-256: `{}`", a.bundle_sha256);
    let _ = writeln!(
        o,
        "- Playbook: {} (`{}`)",
        md(&a.playbook),
        a.playbook_sha256
    );
    let _ = writeln!(o, "- Collected with: {}", md(&a.tool));
    for p in &a.plugins {
        let _ = writeln!(
            o,
            "- Plugin {} `{}` {}: `{}` SHA-256 `{}`",
            p.kind,
            md(&p.name),
            md(&p.version),
            md(&p.path),
            p.sha256
        );
    }
    let _ = writeln!(
        o,
        "\n## Verdict\n\n**{}** (score {} / 100){}\n",
        a.verdict,
        a.score,
        if a.partial_data() && a.verdict == "Unclear/Benign" {
            format!(
                ", on partial data: {} rule(s) ran on incomplete collections (see \"Evaluated on partial data\")",
                a.partial.len()
            )
        } else {
            String::new()
        }
    );

    let _ = writeln!(o, "## Findings\n");
    // Paths of behaviour findings and of context linked to them (never a lone unowned file).
    let iocs = a.iocs();
    let flagged: Vec<&str> = iocs
        .iter()
        .filter_map(|i| {
            if let Ioc::Path(p) = i {
                Some(p.as_str())
            } else {
                None
            }
        })
        .collect();
    let execs: Vec<_> = a
        .executables
        .iter()
        .filter(|e| flagged.contains(&e.path.as_str()))
        .collect();
    if execs.is_empty() {
        let _ = writeln!(o, "- No flagged executable.");
    }
    for e in execs {
        let _ = writeln!(
            o,
            "- Exec: `{}`  SHA256: `{}`  (run by {}){}",
            md(&e.path),
            e.sha256.as_deref().unwrap_or("not read"),
            md(&e.referenced_by.join(", ")),
            e.member
                .as_ref()
                .map(|m| format!("; copy in bundle: `{}`", md(m)))
                .unwrap_or_default()
        );
    }

    let _ = writeln!(o, "\n### Rule hits & reasons\n");
    if a.hits.is_empty() {
        let _ = writeln!(o, "- No rule fired.");
    }
    for h in &a.hits {
        let points = match &h.counted_under {
            Some(r) => format!("+0: the same observation is counted under `{r}`"),
            None => format!("+{}", h.weight),
        };
        let boost = if h.boost > 0 {
            format!(
                ", +{} boost from context on the same subject: {}",
                h.boost,
                h.boosted_by
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "- **{}** ({points}{boost}) [{}] `{}` {}",
            md(&h.title),
            h.severity.label(),
            h.rule,
            md(&attack::labels(&h.mitre))
        );
        for f in a.findings.iter().filter(|f| f.rule == h.rule) {
            let mut notes = Vec::new();
            if let Some(r) = &f.counted_under {
                notes.push(format!("counted under `{r}`"));
            }
            if !f.boosted_by.is_empty() {
                notes.push(format!(
                    "context: {}",
                    f.boosted_by
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            let _ = writeln!(o, "  - {}{notes}", md(&f.explanation));
        }
    }

    if !a.context.is_empty() {
        let _ = writeln!(o, "\n### Context (not scored on its own)\n");
        let _ = writeln!(
            o,
            "Provenance and other facts that are normal on real hosts on their own. They add their weight only to behaviour on the same subject (shown as a boost above).\n"
        );
        for f in &a.context {
            let linked = if f.linked_to.is_empty() {
                String::new()
            } else {
                format!(
                    " (same subject as {}: +{} once)",
                    f.linked_to
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    f.weight
                )
            };
            let _ = writeln!(
                o,
                "- `{}` {}: {}{linked}",
                f.rule,
                md(&f.title),
                md(&f.explanation)
            );
            for e in &f.evidence {
                let _ = writeln!(
                    o,
                    "  - evidence: `{}` SHA-256 `{}`{}",
                    md(&e.member),
                    e.sha256,
                    e.line.map(|l| format!(" line {l}")).unwrap_or_default()
                );
            }
        }
    }

    let _ = writeln!(
        o,
        "\n### Score\n\n- Total score: **{}** (>=60: Malicious likely, 30-59: Suspicious, <30: Unclear/Benign; thresholds from the playbook)",
        a.score
    );
    if !a.not_evaluated.is_empty() {
        let _ = writeln!(
            o,
            "\n### Not evaluated (data missing: these are not clean)\n"
        );
        for n in &a.not_evaluated {
            let _ = writeln!(o, "- `{}` {}: {}", n.rule, md(&n.title), md(&n.reason));
        }
    }
    if !a.partial.is_empty() {
        let _ = writeln!(
            o,
            "\n### Evaluated on partial data (a clean result here is not proof)\n"
        );
        for p in &a.partial {
            let fired = if a.hits.iter().any(|h| h.rule == p.rule)
                || a.context.iter().any(|f| f.rule == p.rule)
            {
                " (fired on what was read)"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "- `{}` {}{fired}: missing {}",
                p.rule,
                md(&p.title),
                md(&p.missing)
            );
        }
    }
    if !a.gaps.is_empty() || !a.record_errors.is_empty() {
        let _ = writeln!(o, "\n### Collection gaps\n");
        for g in &a.gaps {
            // Analyzer plugins that failed are listed here too (`analyzer plugin NAME`).
            let who = match g.collector.strip_prefix("analyzer plugin ") {
                Some(name) => format!("analyzer plugin `{}`", md(name)),
                None => format!("collector `{}`", g.collector),
            };
            let _ = writeln!(o, "- {who}: {} ({})", g.status.words(), md(&g.detail));
        }
        for e in &a.record_errors {
            let _ = writeln!(o, "- malformed record: {}", md(e));
        }
    }

    crate::policy::host_sections(&mut o, a);

    let _ = writeln!(o, "\n## IOCs\n");
    for kind in [
        "path",
        "sha256",
        "unit",
        "cron_command",
        "pid",
        "port",
        "address",
        "account",
        "config_line",
    ] {
        let vals: Vec<String> = iocs
            .iter()
            .filter(|i| i.kind() == kind)
            .map(|i| i.value())
            .collect();
        if !vals.is_empty() {
            let _ = writeln!(
                o,
                "- {}: {}",
                kind.replace('_', " "),
                vals.iter()
                    .map(|v| format!("`{}`", md(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if iocs.is_empty() {
        let _ = writeln!(o, "- No IOC: no finding flagged a subject to search for.");
    }
    let _ = writeln!(o, "- Listening ports (snapshot):");
    if a.listeners.is_empty() {
        let _ = writeln!(o, "  - none recorded (no live socket data in this bundle)");
    }
    for l in &a.listeners {
        // Only what is known: no empty process name or pid list.
        let mut who = Vec::new();
        if !l.processes.is_empty() {
            who.push(md(&l.processes.join(",")));
        }
        if !l.pids.is_empty() {
            who.push(format!(
                "(pid {})",
                l.pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if who.is_empty() {
            who.push("(no process recorded)".to_string());
        }
        let _ = writeln!(
            o,
            "  - {} {}:{} {}",
            l.protocol,
            l.address,
            l.port,
            who.join(" ")
        );
    }

    let _ = writeln!(o, "\n## Evidence\n");
    let _ = writeln!(o, "Technique names from {}.\n", attack::release());
    let _ = writeln!(
        o,
        "| rule | MITRE ATT&CK | severity | subject | bundle member | SHA-256 | line |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for f in &a.findings {
        for e in &f.evidence {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | `{}` | `{}` | {} |",
                f.rule,
                md(&attack::labels(&f.mitre)),
                f.severity.label(),
                md(&f.subject),
                md(&e.member),
                e.sha256,
                e.line.map(|l| l.to_string()).unwrap_or_default()
            );
        }
    }
    if a.findings.is_empty() {
        let _ = writeln!(o, "| - | - | - | - | - | - | - |");
    }

    let _ = writeln!(o, "\n## Recommended actions\n");
    if a.score >= 30
        || a.findings
            .iter()
            .any(|f| f.severity >= dossier_plugin_api::analysis::Severity::High)
    {
        let units: Vec<String> = iocs
            .iter()
            .filter(|i| matches!(i, Ioc::Unit(_)))
            .map(|i| i.value())
            .collect();
        let stop_units = if units.is_empty() {
            String::new()
        } else {
            format!(
                "stop and mask the flagged units ({}) at runtime only (`systemctl mask --runtime`), ",
                units
                    .iter()
                    .map(|u| format!("`{}`", md(u)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            o,
            "1. **Contain without destroying evidence:** isolate the host from the network; {stop_units}comment out the flagged cron entries, and move flagged binaries to quarantine after this bundle (which already holds their hashes and copies)."
        );
        let _ = writeln!(
            o,
            "2. **Rotate credentials:** root and service-account passwords, SSH keys (authorized_keys of every account), API tokens and any secret readable by the compromised accounts."
        );
        let hunted: Vec<String> = iocs
            .iter()
            .filter(|i| !matches!(i, Ioc::Pid(_)))
            .map(|i| format!("{} `{}`", i.kind().replace('_', " "), md(&i.value())))
            .collect();
        let _ = if hunted.is_empty() {
            writeln!(
                o,
                "3. **Hunt laterally:** no flagged subject gives an IOC to search for elsewhere; sweep the same network with `dossier sweep` and compare hosts with the fleet report."
            )
        } else {
            writeln!(
                o,
                "3. **Hunt laterally:** sweep the same network and cluster with `dossier sweep` for the IOCs of the flagged findings: {}; the fleet report's correlation shows where each was seen.",
                hunted.join(", ")
            )
        };
        let _ = writeln!(
            o,
            "4. **Review logs:** auth logs (`last`, `lastb`, journal of sshd), package-manager and command audit logs, web access logs for uploads and execution around {}.",
            a.collected_started
        );
        let _ = writeln!(
            o,
            "5. **Analyse offline:** the executable copies in the bundle (sandbox, YARA, reverse engineering); open a formal incident if compliance requires it."
        );
    } else {
        let _ = writeln!(
            o,
            "1. No action required by this analysis. Keep the bundle: re-analyse it with newer rules later (`dossier analyze`)."
        );
        let mut n = 2;
        if !a.not_evaluated.is_empty() {
            let _ = writeln!(
                o,
                "{n}. Some rules could not be evaluated (see above): collect the missing data before calling this host clean."
            );
            n += 1;
        }
        if a.partial_data() {
            let _ = writeln!(
                o,
                "{n}. Some rules ran on partial data (see above): collect again with the access that was missing (for example `--sudo`) before calling this host clean."
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{host, partial};
    use dossier_plugin_api::analysis::{Class, Evidence, Finding, Severity};

    #[test]
    fn context_boosts_and_shared_facts_are_shown() {
        let mut a = host("a", "a.zip", &[Severity::High, Severity::Medium]);
        a.hits[0].boost = 15;
        a.hits[0].boosted_by = vec!["exec-unowned".into()];
        a.hits[1].counted_under = Some("rule-high-0".into());
        a.findings[1].counted_under = Some("rule-high-0".into());
        a.findings[0].boosted_by = vec!["exec-unowned".into()];
        let mut c = Finding::new(
            "/usr/local/bin/backup",
            "/usr/local/bin/backup is not owned by any installed package",
            vec![Evidence {
                member: "records/packages.jsonl".into(),
                sha256: "ab".repeat(32),
                line: Some(7),
                what: "package verification".into(),
            }],
            vec![Ioc::Path("/usr/local/bin/backup".into())],
        );
        c.rule = "exec-unowned".into();
        c.title = "Executable not owned by any package".into();
        c.weight = 15;
        c.class = Class::Context;
        a.context = vec![c];
        let r = render(&a);
        assert!(r.contains("(+10, +15 boost from context on the same subject: `exec-unowned`) [HIGH] `rule-high-0`"), "{r}");
        assert!(
            r.contains("(+0: the same observation is counted under `rule-high-0`) [MEDIUM]"),
            "{r}"
        );
        assert!(r.contains("(counted under `rule-high-0`)"), "{r}");
        assert!(r.contains("### Context (not scored on its own)"), "{r}");
        assert!(r.contains("- `exec-unowned` Executable not owned by any package: /usr/local/bin/backup is not owned by any installed package\n  - evidence: `records/packages.jsonl` SHA-256 `abab"), "{r}");
        // A lone context finding's path is no IOC.
        let iocs = r.split("## IOCs").nth(1).unwrap();
        assert!(
            !iocs
                .split("## Evidence")
                .next()
                .unwrap()
                .contains("/usr/local/bin/backup"),
            "{r}"
        );
    }

    #[test]
    fn rules_on_partial_data_are_listed_and_qualify_a_benign_verdict() {
        let mut a = host("a", "a.zip", &[Severity::Low]);
        a.partial = vec![partial("rule-low-0"), partial("system-account-usable")];
        let r = render(&a);
        assert!(
            r.contains("**Unclear/Benign** (score 10 / 100), on partial data: 2 rule(s) ran on incomplete collections"),
            "{r}"
        );
        assert!(
            r.contains("### Evaluated on partial data (a clean result here is not proof)\n\n- `rule-low-0` Title of rule-low-0 (fired on what was read): missing accounts: 1 permission denied: /etc/shadow\n- `system-account-usable` Title of system-account-usable: missing accounts: 1 permission denied: /etc/shadow\n"),
            "{r}"
        );
        // After "Not evaluated" when both exist.
        a.not_evaluated
            .push(dossier_plugin_api::analysis::NotEvaluated {
                rule: "x".into(),
                title: "X".into(),
                reason: "no data".into(),
            });
        let r = render(&a);
        let ne = r.find("### Not evaluated").unwrap();
        let pa = r.find("### Evaluated on partial data").unwrap();
        assert!(ne < pa, "{r}");
        assert!(
            r.contains("collect again with the access that was missing"),
            "{r}"
        );

        // A suspicious verdict keeps its wording; a complete host says nothing of partial data.
        let mut s = host("s", "s.zip", &[Severity::High; 4]);
        s.partial = vec![partial("system-account-usable")];
        let r = render(&s);
        assert_ne!(s.verdict, "Unclear/Benign");
        let line = format!("**{}** (score 40 / 100)\n", s.verdict);
        assert!(r.contains(&line), "{r}");
        let r = render(&host("c", "c.zip", &[]));
        assert!(r.contains("**Unclear/Benign** (score 0 / 100)\n"), "{r}");
        assert!(!r.contains("partial data"), "{r}");
    }
}
