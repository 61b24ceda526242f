//! The ECS document of an alert of imported events (read from `events.json` by
//! [`crate::events`]; the fields are described there).

use super::{Flat, alert, subject_fields};
use crate::events::Alert;
use crate::ids::uuid5;
use dossier_plugin_api::time::Timestamp;
use serde_json::Value;

/// `event.category` of an alert category.
fn categories(category: &str) -> Vec<&'static str> {
    let mut c = vec!["intrusion_detection"];
    c.extend(match category {
        "Execution" | "Discovery" | "System Monitoring" => Some("process"),
        s if s.starts_with("Software Inventory") => Some("process"),
        "Command and Control" => Some("network"),
        "Persistence" => Some("configuration"),
        "Privilege Escalation" => Some("iam"),
        "Initial Access" => Some("authentication"),
        _ => None,
    });
    c
}

/// The ECS document of one alert (`None` when its time or severity cannot be read).
pub fn document(a: &Alert) -> Option<Value> {
    let at = a.time()?;
    let severity = a.severity()?;
    let mut d = Flat::default();
    alert(
        &mut d,
        at,
        (&a.rule, &a.title, &a.mitre()),
        severity,
        &a.description,
    );
    let original = serde_json::to_string(a).expect("an alert serializes");
    d.set(
        "event.id",
        uuid5(&format!("events\n{original}")).to_string(),
    );
    d.set("event.dataset", "dossier.event_alert");
    d.set("event.category", categories(&a.category));
    d.set("event.original", original);
    d.set("event.start", crate::millis(at));
    if let Some(end) = a.evidence.last_time.as_deref().and_then(Timestamp::parse) {
        d.set("event.end", crate::millis(end));
    }
    let e = &a.evidence;
    if !e.action_type.is_empty() {
        d.set("event.action", e.action_type.as_str());
    }
    if !e.source.is_empty() {
        d.set("event.provider", e.source.as_str());
    }
    d.set("rule.category", a.category.as_str());
    d.set("tags", vec!["dossier", "imported-events"]);
    d.set("host.name", e.device.as_str());
    d.set("related.hosts", vec![e.device.as_str()]);
    d.set("labels.dossier_alert", a.id.as_str());
    d.set("labels.dossier_events", e.events.to_string());
    subject_fields(&mut d, &[], &a.indicators);
    Some(d.nest())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::parse;
    use crate::events::tests::sample_report;

    #[test]
    fn an_alert_is_an_ecs_document() {
        let r = parse(sample_report().to_string().as_bytes()).unwrap();
        let d = document(&r.alerts[0]).unwrap();
        let f = |n: &str| crate::ecs::field(&d, n).cloned().unwrap_or(Value::Null);
        assert_eq!(f("@timestamp"), "2026-11-20T02:11:00.123Z");
        assert_eq!(f("event.dataset"), "dossier.event_alert");
        assert_eq!(
            f("event.category"),
            serde_json::json!(["intrusion_detection", "network"])
        );
        assert_eq!(f("event.severity"), 99);
        assert_eq!(f("event.provider"), "audit");
        assert_eq!(f("host.name"), "web1");
        assert_eq!(f("destination.port"), 4444);
        assert_eq!(f("related.ip"), serde_json::json!(["203.0.113.45"]));
        assert_eq!(
            f("threat.technique.subtechnique.id"),
            serde_json::json!(["T1059.004"])
        );
        let d = document(&r.alerts[1]).unwrap();
        let f = |n: &str| crate::ecs::field(&d, n).cloned().unwrap_or(Value::Null);
        assert_eq!(f("event.end"), "2026-11-20T02:05:00.000Z");
        assert_eq!(
            f("event.category"),
            serde_json::json!(["intrusion_detection", "authentication"])
        );
        let mut bad = r.alerts[1].clone();
        bad.evidence.time = "yesterday".into();
        assert!(document(&bad).is_none());
    }
}
