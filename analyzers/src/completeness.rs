//! How complete each collector's data is, from the issues it recorded in the bundle manifest,
//! and which rules therefore ran on partial data.
//!
//! A collector whose status is `partial` may have missed what a rule looks for (an unprivileged
//! sweep cannot read `/etc/shadow`, so `system-account-usable` cannot see a usable service
//! account): such rules are still evaluated on what was read, but reported as *evaluated on
//! partial data*, with the collectors and a summary of what they missed, so that a clean result
//! is not mistaken for proof.
//!
//! Not every issue makes the data incomplete (see [`matters`]):
//! - `error: not_found` is churn: a process that exited or a file removed between listing and
//!   reading no longer exists, so there is nothing left that a rule could have seen;
//! - `not_available` means the data does not exist on this kind of host (no live `/proc` on an
//!   image, no rpm database on Debian); rules needing data that is absent altogether are
//!   already *not evaluated* (collector status `not_available`, or no records of a kind);
//! - `error: unsupported` is the transport lacking a capability (no `exec` on an image), the
//!   same situation as `not_available`;
//! - `changed` means the file was read whole but changed while it was read (logs being
//!   appended to): the copy and the metadata before and after are in the bundle;
//! - `not_copied` means a file was hashed in full but, over a copy cap or budget (a 100 MB
//!   executable), not copied: every record and hash a rule reads is there (only the miner
//!   keyword scan, which reads copies, sees less).
//!
//! Everything else (permission denied, truncated at a cap, too large, not a regular file, a
//! symlink loop or escape, malformed content, a timeout, the host lost, a cut-short
//! collection, other errors) means something on the host was not read, and counts. A collector
//! that ended with an error but still has records (the host lost mid-run) counts too.

use dossier_i18n::{Lang, catalog};
use dossier_plugin_api::CollectorStatus;
use dossier_plugin_api::analysis::{Arg, Message};
use dossier_plugin_api::collect::{Issue, IssueKind};
use dossier_plugin_api::host::HostErrorKind;
use std::collections::BTreeMap;

/// Subjects named per issue kind in a summary; the rest are counted.
const SUBJECTS_SHOWN: usize = 3;
/// Longest subject shown (in characters); longer ones are cut with `…`.
const SUBJECT_CHARS: usize = 160;

/// Whether an issue of this kind means the collector's data is incomplete (see the module
/// documentation for the choice).
pub fn matters(kind: IssueKind) -> bool {
    match kind {
        IssueKind::Error(HostErrorKind::NotFound | HostErrorKind::Unsupported) => false,
        // Hashed in full, only the copy is missing (a copy cap): no rule lacks data.
        IssueKind::NotAvailable | IssueKind::Changed | IssueKind::NotCopied => false,
        IssueKind::Error(_)
        | IssueKind::Truncated
        | IssueKind::Malformed
        | IssueKind::Incomplete => true,
    }
}

/// Label of an issue kind (`permission denied`, `truncated`).
pub fn kind_label(kind: IssueKind) -> String {
    let v = serde_json::to_value(kind).unwrap_or_default();
    let raw = match &v {
        serde_json::Value::String(s) => s.clone(),
        // `{"error": "permission_denied"}`
        serde_json::Value::Object(m) => m
            .values()
            .next()
            .and_then(|x| x.as_str())
            .unwrap_or("error")
            .to_string(),
        _ => "issue".to_string(),
    };
    raw.replace('_', " ")
}

fn short(s: &str) -> String {
    if s.chars().count() <= SUBJECT_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(SUBJECT_CHARS).collect();
        t.push('…');
        t
    }
}

/// Summary of issues: per kind (sorted by label), the count and the first few subjects in
/// manifest order, e.g. `2 permission denied: /etc/shadow, /etc/gshadow; 1 truncated:
/// /var/log/wtmp`. Empty when there are no issues.
pub fn summarize<'a>(issues: impl IntoIterator<Item = &'a Issue>) -> String {
    summary(issues).0
}

/// The summary of [`summarize`] and its catalogue message (`coverage.parts` of
/// `coverage.issues`: the kinds and the words translated, the subjects kept).
fn summary<'a>(issues: impl IntoIterator<Item = &'a Issue>) -> (String, Message) {
    let mut by: BTreeMap<String, (usize, Vec<&str>)> = BTreeMap::new();
    for i in issues {
        let e = by.entry(kind_label(i.kind)).or_default();
        e.0 += 1;
        if e.1.len() < SUBJECTS_SHOWN && !e.1.contains(&i.subject.as_str()) {
            e.1.push(&i.subject);
        }
    }
    let mut texts = Vec::new();
    let mut parts = Vec::new();
    for (label, (n, subjects)) in &by {
        let shown: Vec<String> = subjects.iter().map(|s| short(s)).collect();
        let more = n.saturating_sub(subjects.len());
        texts.push(format!(
            "{n} {label}: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            }
        ));
        let more = if more > 0 {
            Arg::Message(Message::new("coverage.more").text("n", more))
        } else {
            Arg::Text(String::new())
        };
        let mut m = Message::new("coverage.issues")
            .text("n", n)
            .text("subjects", shown.join(", "));
        m.args.insert("kind".into(), kind_arg(label));
        m.args.insert("more".into(), more);
        parts.push(Arg::Message(m));
    }
    (texts.join("; "), parts_message(parts))
}

/// The catalogue message of an issue kind (`coverage.kind.permission_denied`), or its label as
/// it is when the catalogue has none (a kind newer than the catalogue).
fn kind_arg(label: &str) -> Arg {
    let id = format!("coverage.kind.{}", label.replace(' ', "_"));
    if catalog(Lang::En).get(&id) == Some(label) {
        Arg::Message(Message::new(id))
    } else {
        Arg::Text(label.to_string())
    }
}

/// A text a collector recorded (an issue's message, a subject that is a label such as `unit
/// active state`) as the catalogue message whose English is exactly that text
/// (`coverage.<table>.*`), so that the sentences collectors write the same way on every host
/// read in the report's language; any other text (paths, errors of the host) as it is.
fn known(table: &str, text: &str) -> Arg {
    static BY_TEXT: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    let by_text = BY_TEXT.get_or_init(|| {
        let en = catalog(Lang::En);
        en.ids()
            .filter(|id| id.starts_with("coverage.note.") || id.starts_with("coverage.subject."))
            .map(|id| {
                let table = id.split('.').nth(1).unwrap_or_default();
                (format!("{table}\n{}", en.text(id)), id.to_string())
            })
            .collect()
    });
    match by_text.get(&format!("{table}\n{text}")) {
        Some(id) => Arg::Message(Message::new(id.clone())),
        None => Arg::Text(text.to_string()),
    }
}

/// Parts joined by the language's list separator (`; `), as one message.
pub fn parts_message(parts: Vec<Arg>) -> Message {
    Message::new("coverage.parts").list("parts", parts)
}

/// What analysis needs to know about one collector run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorHealth {
    /// Its error, then a summary of all its issues (for "Collection gaps").
    pub detail: String,
    /// Why its data is incomplete, when it is: `None` for a complete collection, and for
    /// collectors that failed or had nothing to collect (their rules are not evaluated).
    pub incomplete: Option<String>,
    /// The detail and the reason as catalogue messages, for reports in other languages.
    pub messages: HealthMessages,
}

/// The catalogue messages of a collector's [`CollectorHealth`]: the summaries' words
/// translated, the collector's own error and issue texts kept as arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthMessages {
    pub detail: Option<Message>,
    pub incomplete: Option<Message>,
}

/// Health of a collector run from its manifest status, error and issues. The detail is the
/// error, then the only issue (`subject: message`) or a summary of all of them.
pub fn health(status: CollectorStatus, error: Option<&str>, issues: &[Issue]) -> CollectorHealth {
    // One issue is shown whole (subject and message), as reports always showed it; several
    // are counted by kind.
    let (all, all_msg) = match issues {
        [one] => (format!("{}: {}", short(&one.subject), one.message), {
            let mut m = Message::new("coverage.issue");
            m.args
                .insert("subject".into(), known("subject", &short(&one.subject)));
            m.args.insert("message".into(), known("note", &one.message));
            m
        }),
        _ => summary(issues),
    };
    let error_arg = |e: &str| known("note", e);
    let (detail, detail_msg) = match (error, all.is_empty()) {
        (Some(e), true) => (e.to_string(), parts_message(vec![error_arg(e)])),
        (Some(e), false) => (
            format!("{e}; {all}"),
            parts_message(vec![error_arg(e), Arg::Message(all_msg)]),
        ),
        (None, _) => (all, all_msg),
    };
    let (incomplete, incomplete_msg) = if status.gave_nothing() {
        (None, None)
    } else {
        let (relevant, relevant_msg) = summary(issues.iter().filter(|i| matters(i.kind)));
        let mut parts: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        if let Some(e) = error {
            parts.push(e.to_string());
            args.push(error_arg(e));
        }
        if !relevant.is_empty() {
            parts.push(relevant);
            args.push(Arg::Message(relevant_msg));
        }
        if parts.is_empty() {
            (None, None)
        } else {
            (Some(parts.join("; ")), Some(parts_message(args)))
        }
    };
    CollectorHealth {
        detail,
        incomplete,
        messages: HealthMessages {
            detail: Some(detail_msg),
            incomplete: incomplete_msg,
        },
    }
}

/// Which of `needs` are incomplete per `incomplete` (collector → why), and the text naming
/// them (`accounts: 1 permission denied: /etc/shadow; sessions: ...`). `None` when all the
/// data needed is complete. `needs` may repeat a collector.
pub fn partial_reason<'a>(
    needs: impl IntoIterator<Item = &'a str>,
    incomplete: &BTreeMap<String, String>,
    messages: &BTreeMap<String, HealthMessages>,
) -> Option<(Vec<String>, String, Message)> {
    let mut hit: BTreeMap<&str, &str> = BTreeMap::new();
    for n in needs {
        if let Some((k, why)) = incomplete.get_key_value(n) {
            hit.insert(k, why);
        }
    }
    if hit.is_empty() {
        return None;
    }
    let text = hit
        .iter()
        .map(|(c, why)| format!("{c}: {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    let parts = hit
        .iter()
        .map(|(c, why)| {
            let why = match messages.get(*c).and_then(|m| m.incomplete.clone()) {
                Some(m) => Arg::Message(m),
                None => Arg::Text(why.to_string()),
            };
            let mut m = Message::new("coverage.collector").text("collector", c);
            m.args.insert("why".into(), why);
            Arg::Message(m)
        })
        .collect();
    Some((
        hit.keys().map(|c| c.to_string()).collect(),
        text,
        parts_message(parts),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(subject: &str, kind: IssueKind) -> Issue {
        Issue {
            subject: subject.into(),
            kind,
            message: "m".into(),
        }
    }

    #[test]
    fn summary_counts_by_kind_and_names_the_first_subjects() {
        let denied = IssueKind::Error(HostErrorKind::PermissionDenied);
        let issues = vec![
            issue("/etc/shadow", denied),
            issue("/var/log/wtmp", IssueKind::Truncated),
            issue("/etc/gshadow", denied),
            issue("/etc/sudoers.d/a", denied),
            issue("/etc/sudoers.d/b", denied),
            issue("/etc/sudoers.d/c", denied),
        ];
        assert_eq!(
            summarize(&issues),
            "5 permission denied: /etc/shadow, /etc/gshadow, /etc/sudoers.d/a (+2 more); 1 truncated: /var/log/wtmp"
        );
        assert_eq!(summarize(&[]), "");
        let long = "x".repeat(500);
        let s = summarize(&[issue(&long, IssueKind::Malformed)]);
        assert!(s.ends_with('…') && s.chars().count() < 200, "{s}");
    }

    #[test]
    fn churn_and_absent_data_do_not_make_a_collector_incomplete() {
        let churn = vec![
            issue("/proc/4242", IssueKind::Error(HostErrorKind::NotFound)),
            issue("rpm database", IssueKind::NotAvailable),
            issue("/var/log/syslog", IssueKind::Changed),
            issue("/usr/bin/dockerd", IssueKind::NotCopied),
        ];
        let h = health(CollectorStatus::Partial, None, &churn);
        assert_eq!(h.incomplete, None);
        assert!(
            h.detail.contains("1 not copied: /usr/bin/dockerd"),
            "{}",
            h.detail
        );
        assert!(h.detail.contains("1 not found: /proc/4242"), "{}", h.detail);
        assert!(h.detail.contains("1 not available: rpm database"));
        let mut denied = churn.clone();
        denied.push(issue(
            "/etc/shadow",
            IssueKind::Error(HostErrorKind::PermissionDenied),
        ));
        let h = health(CollectorStatus::Partial, None, &denied);
        assert_eq!(
            h.incomplete.as_deref(),
            Some("1 permission denied: /etc/shadow")
        );
        // Cut short by a lost host, with what it had.
        let h = health(
            CollectorStatus::Partial,
            Some("host lost: connection reset"),
            &[],
        );
        assert_eq!(h.incomplete.as_deref(), Some("host lost: connection reset"));
        assert_eq!(h.detail, "host lost: connection reset");
        let one = [issue("/proc", IssueKind::NotAvailable)];
        assert_eq!(
            health(CollectorStatus::NotAvailable, None, &one).detail,
            "/proc: m"
        );
        assert_eq!(
            health(CollectorStatus::Partial, Some("host lost: eof"), &one).detail,
            "host lost: eof; /proc: m"
        );
        // Failed or not available: not evaluated elsewhere, not partial.
        assert_eq!(
            health(CollectorStatus::Failed, Some("boom"), &denied).incomplete,
            None
        );
        assert_eq!(health(CollectorStatus::Ok, None, &[]).incomplete, None);
        for k in [
            IssueKind::Truncated,
            IssueKind::Malformed,
            IssueKind::Incomplete,
            IssueKind::Error(HostErrorKind::NotRegular),
            IssueKind::Error(HostErrorKind::TooLarge),
            IssueKind::Error(HostErrorKind::Disconnected),
        ] {
            assert!(matters(k), "{k:?}");
        }
    }

    #[test]
    fn partial_reason_names_each_incomplete_collector_once() {
        let inc: BTreeMap<String, String> = [
            (
                "accounts".to_string(),
                "1 permission denied: /etc/shadow".to_string(),
            ),
            (
                "sessions".to_string(),
                "1 permission denied: /var/log/btmp".to_string(),
            ),
        ]
        .into_iter()
        .collect();
        let none = BTreeMap::new();
        let (cs, text, m) =
            partial_reason(["sessions", "accounts", "sessions", "cron"], &inc, &none).unwrap();
        assert_eq!(cs, ["accounts", "sessions"]);
        assert_eq!(
            text,
            "accounts: 1 permission denied: /etc/shadow; sessions: 1 permission denied: /var/log/btmp"
        );
        assert_eq!(catalog(Lang::En).render(&m), text);
        assert_eq!(partial_reason(["cron"], &inc, &none), None);
    }

    #[test]
    fn messages_render_the_english_texts_and_read_in_chinese() {
        let denied = IssueKind::Error(HostErrorKind::PermissionDenied);
        let mut many: Vec<Issue> = (0..5)
            .map(|i| issue(&format!("/etc/sudoers.d/{i}"), denied))
            .collect();
        many.push(issue("/var/log/wtmp", IssueKind::Truncated));
        many.push(issue("/proc/1", IssueKind::Error(HostErrorKind::NotFound)));
        let offline = Issue {
            subject: "/proc".into(),
            kind: IssueKind::NotAvailable,
            message: "not collected: no live /proc (offline image)".into(),
        };
        let cases = [
            health(CollectorStatus::Partial, None, &many),
            health(CollectorStatus::Partial, Some("host lost: eof"), &many),
            health(CollectorStatus::Partial, Some("host lost: eof"), &[]),
            health(
                CollectorStatus::NotAvailable,
                None,
                std::slice::from_ref(&offline),
            ),
            health(CollectorStatus::Partial, Some("boom"), &[offline]),
            health(CollectorStatus::Ok, None, &[]),
        ];
        let (en, zh) = (catalog(Lang::En), catalog(Lang::ZhCn));
        for h in &cases {
            let d = h.messages.detail.as_ref().unwrap();
            assert_eq!(en.render(d), h.detail);
            assert_eq!(
                h.messages.incomplete.as_ref().map(|m| en.render(m)),
                h.incomplete
            );
        }
        let zh_many = zh.render(cases[0].messages.incomplete.as_ref().unwrap());
        assert_eq!(
            zh_many,
            "权限不足 5 项：/etc/sudoers.d/0, /etc/sudoers.d/1, /etc/sudoers.d/2（另有 2 项）；已截断 1 项：/var/log/wtmp"
        );
        assert_eq!(
            zh.render(cases[3].messages.detail.as_ref().unwrap()),
            "/proc：未采集：没有运行中的 /proc（离线镜像）"
        );
    }
}
