//! Fleet and site context of an analysis (part of the [`HostAnalysis`](super::HostAnalysis)
//! it annotates, re-exported as `dossier_plugin_api::policy`): the inventory items stacking and baselines compare
//! (persistence items, executables, listeners, accounts, sudo rules), what a site allowlist or
//! a known-good baseline took out of a host's score, and the fleet stacking summary.
//!
//! An [`Item`] is keyed by `(kind, key)` (what it is: a unit name, a path, an account name...)
//! and identified by `(kind, key, sha256, detail)` (what it is *now*: its hash and what it
//! runs), so the same unit on two hosts with different content is two items in stacking, and a
//! key seen in a baseline with another identity is *changed*.

use super::{Evidence, Finding, Ioc};
use serde::{Deserialize, Serialize};

/// Kinds of inventory item that persist (run again by themselves): the Stacking section of the
/// fleet report lists rare items of these kinds.
pub const PERSISTENCE_KINDS: &[&str] = &[
    "unit",
    "cron",
    "hook",
    "generator",
    "ld_preload",
    "module_config",
    "authorized_key",
];

/// Every inventory kind, in report order.
pub const KINDS: &[&str] = &[
    "unit",
    "cron",
    "hook",
    "generator",
    "ld_preload",
    "module_config",
    "authorized_key",
    "executable",
    "listener",
    "account",
    "sudo_rule",
];

/// One inventory item of a host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Item {
    /// One of [`KINDS`].
    pub kind: String,
    /// What it is: unit name, crontab path + run-as user + command, hook/generator/config path,
    /// preloaded library, `user fingerprint`, executable path, `process/protocol:port`,
    /// account name, `sudoers path: rule text`.
    pub key: String,
    /// SHA-256 of its content, where there is one (unit fragment, hook, generator, module
    /// configuration, executable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What else identifies it: what a unit runs, a cron schedule, `uid N shell S`, key
    /// options. Empty when nothing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Item {
    /// Whether it is a persistence item ([`PERSISTENCE_KINDS`]).
    pub fn persistence(&self) -> bool {
        PERSISTENCE_KINDS.contains(&self.kind.as_str())
    }

    /// `kind key` with the short hash: how reports name it.
    pub fn label(&self) -> String {
        let mut s = format!("{} {}", self.kind, self.key);
        if let Some(h) = &self.sha256 {
            s.push_str(&format!(" (sha256 {})", &h[..h.len().min(16)]));
        }
        if !self.detail.is_empty() {
            s.push_str(&format!(" [{}]", self.detail));
        }
        s
    }
}

/// An item with the evidence it was read from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Seen {
    #[serde(flatten)]
    pub item: Item,
    /// Bundle member (`records/systemd.jsonl`) and line of the record.
    pub member: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The file it is, when its key is not that path (a unit's fragment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Seen {
    /// The file it is: its `path`, or its key when that is an absolute path (not a cron
    /// entry, whose key is a crontab line).
    pub fn file(&self) -> Option<&str> {
        self.path.as_deref().or_else(|| {
            (self.item.key.starts_with('/')
                && !(self.item.kind == "cron" && self.item.key.contains(": ")))
            .then_some(self.item.key.as_str())
        })
    }
}

/// A finding the site allowlist took out of the score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Allowed {
    pub finding: Finding,
    /// The allowlist entry's reason.
    pub reason: String,
    /// Which entry matched (its `path`, `sha256` and `rule`, as written).
    pub entry: String,
}

/// A finding left out of the score because the same finding is on most hosts
/// (`[analysis.stacking] common_share`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Common {
    pub finding: Finding,
    /// Hosts with the same finding (same rule and subject), and the number analyzed.
    pub hosts: u32,
    pub of: u32,
}

/// An allowlist entry with both path and SHA-256 whose path is on the host with another hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllowChanged {
    pub path: String,
    pub allowed_sha256: String,
    pub seen_sha256: String,
    pub reason: String,
    pub evidence: Vec<Evidence>,
}

/// A baseline key seen with another identity (hash, what it runs...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedItem {
    pub now: Seen,
    /// The identities the baseline knows for this key.
    pub was: Vec<Item>,
}

/// A host compared with a baseline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineDiff {
    /// Baseline file name and SHA-256.
    pub baseline: String,
    pub baseline_sha256: String,
    /// Items matching a baseline item exactly.
    pub known: usize,
    /// Keys the baseline does not have.
    pub new: Vec<Seen>,
    /// Keys the baseline has with another identity.
    pub changed: Vec<ChangedItem>,
    /// Baseline items the host should have (see `dossier-baseline`) and does not.
    pub removed: Vec<Item>,
}

/// What site policy and fleet context did to a host's analysis (empty: nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Findings moved out of the score by `[[analysis.allow]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<Allowed>,
    /// Findings moved out of the score because their subject matches the baseline exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<Finding>,
    /// Findings moved out of the score because they are common across the fleet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub common: Vec<Common>,
    /// Allowlisted files seen with another hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_changed: Vec<AllowChanged>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineDiff>,
}

impl Policy {
    /// Nothing to say.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
            && self.known.is_empty()
            && self.common.is_empty()
            && self.allow_changed.is_empty()
            && self.baseline.is_none()
    }
}

/// How findings are grouped when counted across hosts: rule, subject (for a process, the
/// paths it names instead of its PID) and the SHA-256 values it names.
pub fn finding_key(f: &Finding) -> String {
    let mut subject = f.subject.clone();
    if subject.starts_with("pid ") {
        let paths: Vec<&str> = f
            .iocs
            .iter()
            .filter_map(|i| match i {
                Ioc::Path(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        subject = format!("process {}", paths.join(" "));
    }
    let mut hashes: Vec<&str> = f
        .iocs
        .iter()
        .filter_map(|i| match i {
            Ioc::Sha256(h) => Some(h.as_str()),
            _ => None,
        })
        .collect();
    hashes.sort_unstable();
    format!("{}\u{1f}{subject}\u{1f}{}", f.rule, hashes.join(","))
}

/// A rare persistence item in the fleet stacking summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RareItem {
    #[serde(flatten)]
    pub item: Item,
    /// On how many hosts (analyzed bundles).
    pub hosts: u32,
    /// Where: hostname, bundle, evidence member and line (at most [`RARE_HOSTS_LISTED`]).
    pub seen: Vec<SeenOn>,
    /// The baseline given has this exact item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known: bool,
}

/// Hosts listed per rare item at most.
pub const RARE_HOSTS_LISTED: usize = 20;

/// One host where an item was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenOn {
    pub hostname: String,
    pub bundle: String,
    pub member: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// Items of one kind across the fleet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: String,
    /// Distinct items.
    pub distinct: usize,
    /// Distinct items on at most `rare_at_most` hosts.
    pub rare: usize,
}

/// Fleet stacking (least frequency of occurrence), the `stacking` object of `findings.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StackingSummary {
    /// Hosts (analyzed bundles) counted.
    pub hosts: u32,
    /// An item is rare when on at most this many hosts: max(1, 5% of hosts).
    pub rare_at_most: u32,
    /// Per kind, distinct and rare items.
    pub kinds: Vec<KindCount>,
    /// The rarest persistence items, rarest first (at most `listed_at_most`).
    pub rare_persistence: Vec<RareItem>,
    pub listed_at_most: usize,
    /// Rare persistence items left out of the list.
    pub left_out: usize,
    /// `[analysis.stacking] common_share` when set: findings on more than this share of
    /// hosts were left out of the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_share: Option<f64>,
    /// Findings left out of the score as common (over all hosts).
    pub common_findings: usize,
    /// Findings grouped by [`finding_key`] with the hosts that have them, rarest first.
    pub findings: Vec<FindingPrevalence>,
}

/// How many hosts have a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPrevalence {
    pub rule: String,
    pub subject: String,
    pub hosts: u32,
}
