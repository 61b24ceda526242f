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
    /// Fleet stacking (`[analysis.stacking]`).
    #[serde(default)]
    pub stacking: StackingConfig,
    /// Site allowlist (`[[analysis.allow]]`; applied by [`crate::policy`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowEntry>,
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
            stacking: StackingConfig::default(),
            allow: Vec::new(),
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

/// `[analysis.stacking]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackingConfig {
    /// When set (0 < share <= 1): a finding whose rule and subject are the same on more than
    /// this share of the hosts analyzed together is left out of the score (weight 0) and
    /// listed as common. Off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_share: Option<f64>,
}

// Validated finite, so equality is an equivalence.
impl Eq for StackingConfig {}

/// One `[[analysis.allow]]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// Absolute path of the allowed file, unit fragment or script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// SHA-256 of the allowed content (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why the site allows it (mandatory; shown in every report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Only findings of this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl AllowEntry {
    /// How reports name the entry.
    pub fn label(&self) -> String {
        let mut v = Vec::new();
        if let Some(p) = &self.path {
            v.push(format!("path {p}"));
        }
        if let Some(s) = &self.sha256 {
            v.push(format!("sha256 {s}"));
        }
        if let Some(r) = &self.rule {
            v.push(format!("rule {r}"));
        }
        v.join(", ")
    }
}
