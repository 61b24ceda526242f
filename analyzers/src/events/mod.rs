//! Event rules: what imported telemetry (Defender for Endpoint exports, audit logs, the
//! journal; see `dossier_events`) shows a host *doing*, as explained alerts with ATT&CK ids.
//!
//! Streaming: [`EventAnalyzer::push`] takes one event at a time, keeps bounded state (windows
//! per host and peer for brute force, per host for discovery bursts; at most
//! [`MAX_EVIDENCE`] evidence events per alert) and [`EventAnalyzer::finish`] gives the
//! [`EventAnalysis`]. Repeats of the same thing (same rule, host and subject) fold into one
//! alert with a count, so a benign-heavy day never becomes an alert storm.
//!
//! Every alert has a [`Category`] from a small fixed taxonomy, a severity (routine activity
//! such as sysstat collection or an EDR's inventory scripts is [`Severity::Info`] or
//! [`Severity::Low`], never high), the rule's description, an explanation of this event, a
//! risk assessment of this event and the indicators ([`Ioc`]) it shares with other sources.

use dossier_events::{Event, Origin};
use dossier_plugin_api::analysis::{Ioc, Severity};
use serde::Serialize;
use std::collections::BTreeMap;

/// At most this many evidence events are kept per alert (the count says how many there were).
pub const MAX_EVIDENCE: usize = 8;

/// The fixed alert taxonomy (documented in ARCHITECTURE.md, "Event categories").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Execution,
    CommandAndControl,
    CredentialAccess,
    Discovery,
    DefenseEvasion,
    Persistence,
    PrivilegeEscalation,
    InitialAccess,
    Impact,
    SystemMonitoring,
    SoftwareInventory,
}

impl Category {
    /// Every category, in documentation order.
    pub const ALL: [Category; 11] = [
        Category::Execution,
        Category::CommandAndControl,
        Category::CredentialAccess,
        Category::Discovery,
        Category::DefenseEvasion,
        Category::Persistence,
        Category::PrivilegeEscalation,
        Category::InitialAccess,
        Category::Impact,
        Category::SystemMonitoring,
        Category::SoftwareInventory,
    ];

    /// How reports name it (`Command and Control`).
    pub fn label(self) -> &'static str {
        match self {
            Category::Execution => "Execution",
            Category::CommandAndControl => "Command and Control",
            Category::CredentialAccess => "Credential Access",
            Category::Discovery => "Discovery",
            Category::DefenseEvasion => "Defense Evasion",
            Category::Persistence => "Persistence",
            Category::PrivilegeEscalation => "Privilege Escalation",
            Category::InitialAccess => "Initial Access",
            Category::Impact => "Impact",
            Category::SystemMonitoring => "System Monitoring",
            Category::SoftwareInventory => "Software Inventory / Security Scanning",
        }
    }
}

/// One event behind an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceEvent {
    /// The event's own time.
    pub time: String,
    /// The device as the source names it.
    pub host: String,
    /// The event's action (`ScriptContent`, `EXECVE`, `logon_failed`...).
    pub action: String,
    /// `defender-csv DeviceEvents`, `audit SYSCALL`, `journal sshd`.
    pub source: String,
    /// Key fields, in display order (`Command`, `Script`, `Remote`, `File`, `Account`...).
    pub fields: Vec<(String, String)>,
    /// Where the event is in its source file.
    pub origin: Origin,
}

/// One alert: one rule, one host, one subject, however many events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventAlert {
    /// Rule id (`event-download-exec`).
    pub rule: &'static str,
    pub title: String,
    pub category: Category,
    pub severity: Severity,
    /// ATT&CK ids (names via `dossier_plugin_api::attack::name`).
    pub techniques: Vec<&'static str>,
    /// What the rule looks for (the rule's text).
    pub description: String,
    /// What this event did, in this alert's words.
    pub explanation: String,
    /// A risk assessment of this event.
    pub risk: String,
    /// The device (as the first event names it).
    pub host: String,
    pub first_time: String,
    pub last_time: String,
    /// How many events the alert covers.
    pub count: u64,
    /// The first [`MAX_EVIDENCE`] of them.
    pub evidence: Vec<EvidenceEvent>,
    /// Hashes, addresses, paths and accounts, for correlation with other sources.
    pub indicators: Vec<Ioc>,
}

/// Events seen on one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeviceCount {
    /// The name the first event gave.
    pub name: String,
    pub events: u64,
}

/// The result of a run of the event rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventAnalysis {
    /// Sorted: severity (worst first), then first time, host, rule.
    pub alerts: Vec<EventAlert>,
    pub events: u64,
    /// Earliest and latest event time (RFC 3339 as the events give it).
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// Per device, keyed by [`host_key`].
    pub devices: BTreeMap<String, DeviceCount>,
}

impl EventAnalysis {
    /// Alerts above informational per event analyzed (0 when there were none).
    pub fn alert_ratio(&self) -> f64 {
        let n = self
            .alerts
            .iter()
            .filter(|a| a.severity > Severity::Info)
            .count();
        if self.events == 0 {
            0.0
        } else {
            n as f64 / self.events as f64
        }
    }

    /// The worst alert's severity.
    pub fn highest(&self) -> Option<Severity> {
        self.alerts.iter().map(|a| a.severity).max()
    }
}

/// The key that says two names are the same host: lower case, the first label of a DNS name
/// (`WAZUH1.x.internal.cloudapp.net` → `wazuh1`), an IP address as it is.
pub fn host_key(name: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.parse::<std::net::IpAddr>().is_ok() {
        return n;
    }
    n.split('.').next().unwrap_or("").to_string()
}

/// The streaming analyzer.
#[derive(Default)]
pub struct EventAnalyzer {
    analysis: EventAnalysis,
}

impl EventAnalyzer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event (in any order; time windows use the events' own times).
    pub fn push(&mut self, event: &Event) {
        let a = &mut self.analysis;
        a.events += 1;
        let d = a.devices.entry(host_key(&event.host)).or_default();
        if d.name.is_empty() {
            d.name = event.host.clone();
        }
        d.events += 1;
        if a.first_time
            .as_deref()
            .is_none_or(|t| event.time.as_str() < t)
        {
            a.first_time = Some(event.time.clone());
        }
        if a.last_time
            .as_deref()
            .is_none_or(|t| event.time.as_str() > t)
        {
            a.last_time = Some(event.time.clone());
        }
        // SKELETON: the rules are being written (helper E).
    }

    /// The alerts, sorted.
    pub fn finish(self) -> EventAnalysis {
        self.analysis
    }
}

/// Runs the event rules over `events`.
pub fn analyze_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> EventAnalysis {
    let mut a = EventAnalyzer::new();
    for e in events {
        a.push(e);
    }
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_fold_case_and_domain_but_not_addresses() {
        assert_eq!(host_key("WAZUH1.x0r.internal.cloudapp.net"), "wazuh1");
        assert_eq!(host_key("web1"), "web1");
        assert_eq!(host_key("10.0.0.5"), "10.0.0.5");
    }
}
