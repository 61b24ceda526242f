//! Test helpers shared by the engine's and the rule families' tests: a bundle input built from
//! records, the subjects a rule fired on, process records, and the check of
//! findings' catalogue messages that every analysis of the tests runs.

use crate::input::{BundleInput, Header, MemberReader};
use dossier_i18n::{Lang, catalog, placeholders};
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, HostAnalysis, Message};
use dossier_plugin_api::{CollectorStatus, Timestamp};
use serde_json::json;
use std::collections::BTreeMap;

/// A bundle input holding `records`, every collector `ok`.
pub fn input<'a>(
    records: BTreeMap<String, Vec<(usize, serde_json::Value)>>,
    read: &'a mut MemberReader<'a>,
) -> BundleInput<'a> {
    let t = Timestamp::from_unix(1_790_000_000, 0).unwrap();
    let collectors = records
        .keys()
        .map(|k| (k.clone(), (CollectorStatus::Ok, String::new())))
        .collect();
    BundleInput {
        header: Header {
            hostname: "h".into(),
            bundle: "b.zip".into(),
            bundle_sha256: "0".repeat(64),
            case_id: None,
            target: "local".into(),
            live: true,
            started: t,
            finished: t,
            playbook: "triage".into(),
            playbook_sha256: "1".repeat(64),
            tool: "dossier".into(),
            os: None,
            kernel: None,
        },
        collectors,
        incomplete: BTreeMap::new(),
        health: BTreeMap::new(),
        records,
        members: [
            ("records/proc.jsonl".to_string(), "a".repeat(64)),
            ("records/sockets.jsonl".to_string(), "b".repeat(64)),
        ]
        .into_iter()
        .collect(),
        read_member: read,
        record_errors: vec![],
    }
}

/// The subjects of `rule`'s findings and context entries, in their order.
pub fn subjects(a: &HostAnalysis, rule: &str) -> Vec<String> {
    classes(a, rule).into_iter().map(|(s, _)| s).collect()
}

/// The subjects of `rule`'s findings and context entries, each with whether its class is
/// behaviour.
pub fn classes(a: &HostAnalysis, rule: &str) -> Vec<(String, bool)> {
    a.findings
        .iter()
        .chain(&a.context)
        .filter(|f| f.rule == rule)
        .map(|f| (f.subject.clone(), f.class.is_behaviour()))
        .collect()
}

pub fn proc(
    pid: u32,
    comm: &str,
    argv: &[&str],
    exe: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut v = json!({"kind": "process", "pid": pid, "ppid": 1, "state": "S", "comm": comm, "argv": argv, "uid": 0, "euid": 0, "gid": 0, "egid": 0, "kernel_thread": false, "exe": exe, "start_ticks": 1, "threads": 1});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Checks the catalogue message of each finding of a built-in rule (every analysis of the
/// tests runs it, see `engine::analyze`): there is one, every id it uses is in both catalogues, its English rendering is the finding's
/// explanation, and its Chinese rendering fills every placeholder and shows every text
/// argument unchanged.
pub fn check_messages(findings: &[Finding]) -> Result<(), String> {
    for f in findings {
        let built_in = crate::rules::CATALOG.iter().any(|r| r.id == f.rule);
        let Some(m) = &f.message else {
            if built_in {
                return Err(format!("{}: {} has no message", f.rule, f.explanation));
            }
            continue;
        };
        for e in &f.evidence {
            check_evidence(e).map_err(|err| format!("{}: {err}", f.rule))?;
        }
        let en = catalog(Lang::En).render(m);
        if en != f.explanation {
            return Err(format!(
                "{}: English message {en:?} is not the explanation {:?}",
                f.rule, f.explanation
            ));
        }
        check_message(m).map_err(|e| format!("{}: {e}", f.rule))?;
        let zh = catalog(Lang::ZhCn).render(m);
        let mut texts = Vec::new();
        text_args(m, &mut texts);
        if let Some(t) = texts.iter().find(|t| !zh.contains(t.as_str())) {
            return Err(format!(
                "{}: Chinese {zh:?} lacks the argument {t:?}",
                f.rule
            ));
        }
    }
    Ok(())
}

/// Checks the catalogue messages of what an analysis could not see (every analysis of the
/// tests runs it, see `engine::analyze`): every rule not evaluated and every rule evaluated
/// on partial data has a message rendering its English text, and so does every collection
/// gap that has one and every executable's referrers.
pub fn check_coverage_messages(a: &HostAnalysis) -> Result<(), String> {
    let pairs = a
        .not_evaluated
        .iter()
        .map(|n| (&n.reason, n.reason_message.as_ref(), true))
        .chain(
            a.partial
                .iter()
                .map(|p| (&p.missing, p.missing_message.as_ref(), true)),
        )
        .chain(
            a.gaps
                .iter()
                .map(|g| (&g.detail, g.detail_message.as_ref(), false)),
        );
    for (text, m, needed) in pairs {
        let Some(m) = m else {
            if needed {
                return Err(format!("{text:?} has no message"));
            }
            continue;
        };
        check_message(m)?;
        let en = catalog(Lang::En).render(m);
        if en != *text {
            return Err(format!("message {en:?} is not {text:?}"));
        }
    }
    for e in &a.executables {
        let en: Vec<String> = e
            .referenced_by_messages
            .iter()
            .map(|m| catalog(Lang::En).render(m))
            .collect();
        if en != e.referenced_by {
            return Err(format!("referrers {en:?} are not {:?}", e.referenced_by));
        }
    }
    Ok(())
}

/// An event alert's message (its explanation or risk assessment): every id is in both
/// catalogues with its placeholders given, and the Chinese rendering keeps every text
/// argument.
pub fn check_said(m: &Message) -> Result<(), String> {
    check_message(m)?;
    let zh = catalog(Lang::ZhCn).render(m);
    let mut texts = Vec::new();
    text_args(m, &mut texts);
    match texts.iter().find(|t| !zh.contains(t.as_str())) {
        Some(t) => Err(format!("Chinese {zh:?} lacks the argument {t:?}")),
        None => Ok(()),
    }
}

/// A built-in finding's evidence describes itself with a catalogue message whose English is
/// its `what` and whose Chinese keeps every argument.
fn check_evidence(e: &Evidence) -> Result<(), String> {
    let m = e
        .what_message
        .as_ref()
        .ok_or_else(|| format!("evidence {:?} has no message", e.what))?;
    let en = catalog(Lang::En).render(m);
    if en != e.what {
        return Err(format!("evidence message {en:?} is not {:?}", e.what));
    }
    check_message(m)?;
    let zh = catalog(Lang::ZhCn).render(m);
    let mut texts = Vec::new();
    text_args(m, &mut texts);
    match texts.iter().find(|t| !zh.contains(t.as_str())) {
        Some(t) => Err(format!("evidence {zh:?} lacks the argument {t:?}")),
        None => Ok(()),
    }
}

/// Every id of a message (nested ones too) is in both catalogues with all its placeholders
/// given.
fn check_message(m: &Message) -> Result<(), String> {
    for lang in Lang::ALL {
        let t = catalog(lang)
            .get(&m.id)
            .ok_or_else(|| format!("{lang} has no {}", m.id))?;
        if let Some(p) = placeholders(t).iter().find(|p| !m.args.contains_key(*p)) {
            return Err(format!("{lang} {}: no argument {p}", m.id));
        }
    }
    let mut nested = Vec::new();
    for a in m.args.values() {
        collect_nested(a, &mut nested);
    }
    nested.into_iter().try_for_each(check_message)
}

fn collect_nested<'a>(a: &'a Arg, out: &mut Vec<&'a Message>) {
    match a {
        Arg::Text(_) => {}
        Arg::Message(m) => out.push(m),
        Arg::List(items) => items.iter().for_each(|i| collect_nested(i, out)),
    }
}

fn text_args(m: &Message, out: &mut Vec<String>) {
    fn arg(a: &Arg, out: &mut Vec<String>) {
        match a {
            Arg::Text(t) => out.push(t.clone()),
            Arg::Message(m) => text_args(m, out),
            Arg::List(items) => items.iter().for_each(|i| arg(i, out)),
        }
    }
    m.args.values().for_each(|a| arg(a, out));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, explanation: &str, m: Option<Message>) -> Finding {
        let mut f = Finding::new("s", explanation, vec![], vec![]);
        f.rule = rule.into();
        f.message = m;
        f
    }

    #[test]
    fn message_checks_fail_on_a_missing_wrong_or_incomplete_message() {
        let why = Message::new("reason.location.dir").text("dir", "/tmp");
        let good = Message::new("finding.exec.unusual-path")
            .msg("who", crate::context::referrer::process(7))
            .text("path", "/tmp/x")
            .msg("why", why.clone());
        let text = "process 7 runs /tmp/x: it lives in /tmp";
        assert_eq!(
            check_messages(&[finding("exec-unusual-path", text, Some(good.clone()))]),
            Ok(())
        );
        // A plugin's finding needs none; a built-in rule's does.
        assert!(check_messages(&[finding("plugin-x", text, None)]).is_ok());
        assert!(check_messages(&[finding("exec-unusual-path", text, None)]).is_err());
        // English differs from the explanation.
        assert!(
            check_messages(&[finding("exec-unusual-path", "other", Some(good.clone()))]).is_err()
        );
        // A placeholder without its argument, an unknown id.
        let mut no_path = good.clone();
        no_path.args.remove("path");
        let e = check_messages(&[finding(
            "exec-unusual-path",
            "process 7 runs {path}: it lives in /tmp",
            Some(no_path),
        )]);
        assert!(e.unwrap_err().contains("no argument path"));
        let unknown = Message::new("finding.nope");
        assert!(
            check_messages(&[finding("exec-unusual-path", "finding.nope", Some(unknown))]).is_err()
        );
    }
}
