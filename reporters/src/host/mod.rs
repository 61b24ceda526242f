//! The per-host Markdown report: host and collection, findings (executables with SHA-256),
//! rule hits with weights and reasons, score and verdict, IOCs, recommended actions, and the
//! evidence pointer and MITRE id of every finding. The sections follow the reference
//! incident report (`seeds/000`). Rules that could not be evaluated, and rules evaluated on
//! partial data (a collector they read could not read everything), are listed after the score,
//! and an Unclear/Benign verdict on partial data says so: it is not proof of a clean host.
//! Context findings (provenance: not scored on their own) have their own section with their
//! evidence; a rule hit says when its findings were counted under another rule (one
//! observation, one score) or when context on the same subject raised its weight (a boost).
//!
//! Every fixed text comes from the catalogue given ([`crate::words`]): the same analysis
//! renders in English or Chinese; identifiers, paths and hashes stay as they are.

mod actions;
mod coverage;
mod evidence;
mod findings;
mod head;
mod iocs;

use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::HostAnalysis;

/// Renders one host's report, section by section, in the language of `c`.
pub fn render(a: &HostAnalysis, c: &Catalog) -> String {
    let mut o = String::new();
    // IOCs of behaviour findings and of context linked to them (never a lone unowned file).
    let iocs = a.iocs();
    head::host(&mut o, a, c);
    head::verdict(&mut o, a, c);
    findings::executables(&mut o, a, &iocs, c);
    findings::hits(&mut o, a, c);
    findings::context(&mut o, a, c);
    coverage::score(&mut o, a, c);
    coverage::not_evaluated(&mut o, a, c);
    coverage::partial(&mut o, a, c);
    coverage::gaps(&mut o, a, c);
    crate::policy::host_sections(&mut o, a, c);
    iocs::iocs(&mut o, &iocs, c);
    iocs::listeners(&mut o, a, c);
    evidence::evidence(&mut o, a, c);
    actions::actions(&mut o, a, &iocs, c);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{host, partial};
    use crate::words::english as en;
    use dossier_plugin_api::analysis::Ioc;
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
                what_message: None,
            }],
            vec![Ioc::Path("/usr/local/bin/backup".into())],
        );
        c.rule = "exec-unowned".into();
        c.title = "Executable not owned by any package".into();
        c.weight = 15;
        c.class = Class::Context;
        a.context = vec![c];
        let r = render(&a, en());
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
        let r = render(&a, en());
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
                reason_message: None,
            });
        let r = render(&a, en());
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
        let r = render(&s, en());
        assert_ne!(s.verdict, "Unclear/Benign");
        let line = format!("**{}** (score 40 / 100)\n", s.verdict);
        assert!(r.contains(&line), "{r}");
        let r = render(&host("c", "c.zip", &[]), en());
        assert!(r.contains("**Unclear/Benign** (score 0 / 100)\n"), "{r}");
        assert!(!r.contains("partial data"), "{r}");
    }
}
