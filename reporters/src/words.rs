//! The words of the reports in the responder's language: every fixed text comes from the
//! message catalogue of `dossier-i18n` (`i18n/catalog/<lang>/report.toml`, `rules.toml`); this
//! module maps what analyses hold in English (verdicts, severities, collector states, IOC
//! kinds, ATT&CK tactics) to catalogue ids, and renders findings' explanations and rule titles
//! (a built-in rule's title from the catalogue, a plugin's own title otherwise). Identifiers,
//! paths, hashes and ATT&CK ids are arguments and never change with the language.
//!
//! Sits at the bottom of the crate with [`crate::markdown`]: it uses no report module.

use dossier_i18n::Catalog;
use dossier_plugin_api::CollectorStatus;
use dossier_plugin_api::analysis::{Evidence, ExecutableSeen, Finding, Message, Severity};

pub use dossier_i18n::{Lang, catalog};

/// The English catalogue: what reports use when no language is asked for.
pub fn english() -> &'static Catalog {
    catalog(Lang::En)
}

/// A verdict as analyses store it (`Malicious likely`, `Suspicious`, `Unclear/Benign`) in the
/// catalogue's language; any other text as it is.
pub fn verdict<'a>(c: &'a Catalog, v: &'a str) -> &'a str {
    match v {
        "Malicious likely" => c.text("verdict.malicious"),
        "Suspicious" => c.text("verdict.suspicious"),
        "Unclear/Benign" => c.text("verdict.benign"),
        other => other,
    }
}

/// The catalogue id of a severity's name (`critical`...).
pub(crate) fn severity_key(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// A severity's label (`HIGH`) in the catalogue's language.
pub fn severity(c: &Catalog, s: Severity) -> &str {
    match s {
        Severity::Critical => c.text("severity.critical"),
        Severity::High => c.text("severity.high"),
        Severity::Medium => c.text("severity.medium"),
        Severity::Low => c.text("severity.low"),
        Severity::Info => c.text("severity.info"),
    }
}

/// A collector state as reports write it (`not available`).
pub(crate) fn status(c: &Catalog, s: CollectorStatus) -> &str {
    match s {
        CollectorStatus::Ok => c.text("status.ok"),
        CollectorStatus::Partial => c.text("status.partial"),
        CollectorStatus::NotAvailable => c.text("status.not_available"),
        CollectorStatus::Failed => c.text("status.failed"),
    }
}

/// A rule's title: the catalogue's (`rule.<id>.title`) for built-in and event rules, else
/// the title the finding or hit carries (a plugin's rule). In English that is the title
/// carried: the analyzers take it from the same table as the English catalogue (a test of
/// the analyzers crate keeps them equal), and it is what older analyses hold.
pub fn rule_title<'a>(c: &'a Catalog, rule: &str, own: &'a str) -> &'a str {
    if c.lang() == Lang::En {
        return own;
    }
    c.get(&format!("rule.{rule}.title")).unwrap_or(own)
}

/// A finding's explanation: its message rendered in the catalogue's language when it has one,
/// else the English sentence it carries (plugins, findings written before messages).
pub fn explanation(c: &Catalog, f: &Finding) -> String {
    match &f.message {
        Some(m) => c.render(m),
        None => f.explanation.clone(),
    }
}

/// An English text an analysis carries, or its catalogue message rendered in the catalogue's
/// language when it has one (a rule's not-evaluated reason, what a partial evaluation missed,
/// a collection gap's detail). Plugins and older analyses carry the English text only.
pub fn rendered(c: &Catalog, text: &str, message: Option<&Message>) -> String {
    match message {
        Some(m) => c.render(m),
        None => text.to_string(),
    }
}

/// What a piece of evidence is, in the catalogue's language when it has a message.
pub fn evidence_what(c: &Catalog, e: &Evidence) -> String {
    rendered(c, &e.what, e.what_message.as_ref())
}

/// What refers to an executable (`process 812, unit x.service`), in the catalogue's language
/// when the analysis gives the referrers as messages (one per English referrer).
pub fn referrers(c: &Catalog, e: &ExecutableSeen) -> String {
    if e.referenced_by_messages.len() == e.referenced_by.len() {
        let parts: Vec<String> = e
            .referenced_by_messages
            .iter()
            .map(|m| c.render(m))
            .collect();
        comma(c, &parts)
    } else {
        comma(c, &e.referenced_by)
    }
}

/// Joins items with the language's list comma (`, `).
pub(crate) fn comma<S: AsRef<str>>(c: &Catalog, items: &[S]) -> String {
    let parts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    parts.join(c.text("list.comma"))
}

/// Items as prose: "A", "A and B", "A, B and C" (`sep` between all but the last two).
pub(crate) fn prose<S: AsRef<str>>(items: &[S], sep: &str, and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{}{and}{}", rest.join(sep), last.as_ref())
        }
    }
}

/// ` line N` after a bundle member, or nothing.
pub(crate) fn line(c: &Catalog, l: Option<usize>) -> String {
    l.map(|l| c.format("common.line", &[("line", &l)]))
        .unwrap_or_default()
}

/// Text in parentheses after a word (` (text)`).
pub(crate) fn paren(c: &Catalog, text: &str) -> String {
    c.format("common.paren", &[("text", &text)])
}

/// `what: n`.
pub(crate) fn count(c: &Catalog, what: &str, n: impl std::fmt::Display) -> String {
    c.format("common.count", &[("what", &what), ("n", &n)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::attack;

    #[test]
    fn english_words_are_the_words_analyses_hold() {
        let en = english();
        for v in ["Malicious likely", "Suspicious", "Unclear/Benign"] {
            assert_eq!(verdict(en, v), v);
        }
        for s in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ] {
            assert_eq!(severity(en, s), s.label());
        }
        for s in CollectorStatus::ALL {
            assert_eq!(status(en, s), s.words());
        }
    }

    #[test]
    fn every_tactic_has_its_gain_in_every_language_and_english_is_the_attack_tables() {
        for t in [
            "reconnaissance",
            "resource-development",
            "initial-access",
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "credential-access",
            "discovery",
            "lateral-movement",
            "collection",
            "command-and-control",
            "exfiltration",
            "impact",
        ] {
            let id = format!("tactic.{t}");
            assert_eq!(english().get(&id), attack::tactic_gain(t), "{t}");
            assert!(catalog(Lang::ZhCn).get(&id).is_some(), "{t}");
        }
    }

    #[test]
    fn titles_and_explanations_fall_back_to_what_the_finding_carries() {
        let zh = catalog(Lang::ZhCn);
        assert_eq!(
            rule_title(zh, "plugin-rule", "Plugin title"),
            "Plugin title"
        );
        let f = Finding::new("/tmp/x", "plain English", vec![], vec![]);
        assert_eq!(explanation(zh, &f), "plain English");
        let mut g = f.clone();
        g.message = Some(dossier_plugin_api::analysis::Message::new("list.separator"));
        assert_eq!(explanation(zh, &g), "；");
        assert_eq!(prose(&["a", "b", "c"], ", ", " and "), "a, b and c");
    }
}
