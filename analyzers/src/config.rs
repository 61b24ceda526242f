//! The analysis part of a playbook: thresholds, keyword and port lists, per-rule overrides
//! of enablement, weight and severity.

use dossier_plugin_api::analysis::{Severity, Thresholds};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Playbook settings for one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// The analysis part of a playbook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Case-insensitive strings that mark an executable as a miner or attack tool.
    #[serde(default = "default_keywords")]
    pub keywords: Vec<String>,
    /// Ports of mining pools and common backdoors.
    #[serde(default = "default_ports")]
    pub suspicious_ports: Vec<u16>,
    /// Largest executable copy scanned for keywords.
    #[serde(default = "default_scan_cap")]
    pub max_scan_bytes: u64,
    /// Per-rule overrides by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSettings>,
}

fn default_keywords() -> Vec<String> {
    [
        "stratum+tcp://",
        "stratum+ssl://",
        "stratum2+tcp://",
        "xmrig",
        "--donate-level",
        "cryptonight",
        "randomx",
        "nicehash",
        "minexmr",
        "supportxmr",
        "nanopool",
        "moneroocean",
        "c3pool",
        "2miners",
        "hashvault",
        "mining.subscribe",
        "\"algo\":",
        "cpuminer",
        "kdevtmpfsi",
        "kinsing",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn default_ports() -> Vec<u16> {
    vec![
        1337, 3333, 4444, 5555, 6666, 6667, 7777, 8888, 9999, 14433, 14444, 31337, 45560, 45700,
    ]
}

fn default_scan_cap() -> u64 {
    64 << 20
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            thresholds: Thresholds::default(),
            keywords: default_keywords(),
            suspicious_ports: default_ports(),
            max_scan_bytes: default_scan_cap(),
            rules: BTreeMap::new(),
        }
    }
}

impl AnalysisConfig {
    /// Effective enablement, weight and severity of rule `id` with these defaults.
    pub fn effective_for(
        &self,
        id: &str,
        weight: u32,
        severity: Severity,
    ) -> (bool, u32, Severity) {
        let s = self.rules.get(id);
        (
            s.and_then(|s| s.enabled).unwrap_or(true),
            s.and_then(|s| s.weight).unwrap_or(weight),
            s.and_then(|s| s.severity).unwrap_or(severity),
        )
    }
}
