//! Analysis results: findings with evidence pointers, scores and verdicts, and the per-host
//! summary reporters turn into documents. Analyzers produce these from bundle records only;
//! every finding points at hashed members of the bundle it came from.

pub mod message;
pub mod policy;

pub use message::{Arg, Message};

use crate::CollectorStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How bad a finding is on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Upper-case label (`HIGH`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Where a claim comes from: a bundle member (by name and SHA-256) and, for records, the
/// record that matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Bundle member (`records/systemd.jsonl`, `raw/etc/systemd/system/python.service`).
    pub member: String,
    pub sha256: String,
    /// 1-based line of the record in a `records/*.jsonl` member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Short description of what in the member matters (`unit python.service`), in English.
    pub what: String,
    /// The same description as a catalogue message, for reports in the responder's language
    /// (built-in rules give one; plugins and analyses written before messages have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_message: Option<Message>,
}

/// An indicator of compromise worth searching for elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Ioc {
    Path(String),
    Sha256(String),
    Pid(u32),
    Unit(String),
    CronCommand(String),
    Port(u16),
    Address(String),
    /// An account name (extra uid 0, service account made usable...).
    Account(String),
    /// A configuration line worth searching for on other hosts (a sudoers rule, a hook line).
    ConfigLine(String),
}

impl Ioc {
    /// Type name (`path`, `sha256`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Ioc::Path(_) => "path",
            Ioc::Sha256(_) => "sha256",
            Ioc::Pid(_) => "pid",
            Ioc::Unit(_) => "unit",
            Ioc::CronCommand(_) => "cron_command",
            Ioc::Port(_) => "port",
            Ioc::Address(_) => "address",
            Ioc::Account(_) => "account",
            Ioc::ConfigLine(_) => "config_line",
        }
    }

    /// The value as text.
    pub fn value(&self) -> String {
        match self {
            Ioc::Path(s)
            | Ioc::Sha256(s)
            | Ioc::Unit(s)
            | Ioc::CronCommand(s)
            | Ioc::Address(s)
            | Ioc::Account(s)
            | Ioc::ConfigLine(s) => s.clone(),
            Ioc::Pid(p) => p.to_string(),
            Ioc::Port(p) => p.to_string(),
        }
    }
}

/// What kind of evidence a finding is (see the scoring model in the analyzers crate).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// What a thing does (downloads and runs code, runs from /tmp, imitates a system name...):
    /// scored.
    #[default]
    Behaviour,
    /// Provenance and other facts normal on real hosts on their own (no package owns it,
    /// created locally...): shown, never scored on its own; adds its weight once to the score
    /// when a scored finding is on the same subject (a boost).
    Context,
}

impl Class {
    /// Lower-case label (`behaviour`, `context`).
    pub fn label(self) -> &'static str {
        match self {
            Class::Behaviour => "behaviour",
            Class::Context => "context",
        }
    }

    /// Whether this is [`Class::Behaviour`] (serde helper: the default is not written).
    pub fn is_behaviour(&self) -> bool {
        *self == Class::Behaviour
    }
}

/// One rule hit on one subject.
///
/// The fields after `iocs` were added with the behaviour/context scoring model; all default
/// when absent, so older `findings.json` files and analyzer plugins that do not know them keep
/// working (a plugin's findings are behaviour unless it says `"class": "context"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub mitre: Vec<String>,
    pub severity: Severity,
    /// The rule's weight (counted once per host however many findings it has).
    pub weight: u32,
    /// What was found, in one sentence.
    pub explanation: String,
    /// What it is about (a path, a unit, a PID).
    pub subject: String,
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iocs: Vec<Ioc>,
    /// Behaviour (scored) or context (shown; boosts behaviour on the same subject).
    #[serde(default, skip_serializing_if = "Class::is_behaviour")]
    pub class: Class,
    /// The observation this finding reports, when other rules may report it too
    /// (`fileless-exe:pid:812`, `exe-location:/var/log/log`): one observation counts once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact: Option<String>,
    /// Set when another rule's finding of the same fact was counted instead (the rule with
    /// the highest weight): this finding explains, its rule adds no weight for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_under: Option<String>,
    /// For a behaviour finding: context rules with a finding on the same subject, whose
    /// weights raise the score (each once per host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boosted_by: Vec<String>,
    /// For a context finding: the counted behaviour rules with a finding on the same subject
    /// (empty when the context stands alone and scores nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_to: Vec<String>,
    /// The explanation as a catalogue message, for reports in other languages
    /// (`explanation` is its English rendering); absent for plugins' findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

impl Finding {
    /// A finding of no rule yet (the engine fills in rule, title, MITRE ids, severity and
    /// weight); behaviour, no fact.
    pub fn new(
        subject: impl Into<String>,
        explanation: impl Into<String>,
        evidence: Vec<Evidence>,
        iocs: Vec<Ioc>,
    ) -> Finding {
        Finding {
            rule: String::new(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            weight: 0,
            explanation: explanation.into(),
            subject: subject.into(),
            evidence,
            iocs,
            class: Class::Behaviour,
            fact: None,
            counted_under: None,
            boosted_by: vec![],
            linked_to: vec![],
            message: None,
        }
    }

    /// Marks the finding as context.
    pub fn context(mut self) -> Finding {
        self.class = Class::Context;
        self
    }

    /// Sets the fact the finding reports.
    pub fn with_fact(mut self, fact: impl Into<String>) -> Finding {
        self.fact = Some(fact.into());
        self
    }
}

/// A rule that could not be evaluated for lack of data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotEvaluated {
    pub rule: String,
    pub title: String,
    /// Why, in English.
    pub reason: String,
    /// The reason as a catalogue message (none from plugins and older analyses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_message: Option<Message>,
}

/// A rule that was evaluated although some data it needs could not be collected (permission
/// denied, a file truncated at the cap, the host lost mid-collection...): a clean result for it
/// is not proof, and a hit may have missed other subjects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialEvaluation {
    pub rule: String,
    pub title: String,
    /// The needed collectors whose data is incomplete, sorted.
    pub collectors: Vec<String>,
    /// What was missing, per collector
    /// (`accounts: 1 permission denied: /etc/shadow; sessions: ...`), in English.
    pub missing: String,
    /// The same as a catalogue message (none in older analyses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_message: Option<Message>,
}

/// A fired behaviour rule and its contribution to the score: `weight` (unless
/// `counted_under` is set) plus `boost`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHit {
    pub rule: String,
    pub title: String,
    pub mitre: Vec<String>,
    pub severity: Severity,
    pub weight: u32,
    pub findings: usize,
    /// Every finding of the rule reports a fact counted under this other rule: the rule's
    /// weight is not added (one observation, one score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_under: Option<String>,
    /// Weights of context rules added to the score through this hit (context on the same
    /// subject as one of its counted findings; each context rule counts once per host, on the
    /// first hit it is linked to).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub boost: u32,
    /// The context rules whose weights make up `boost`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boosted_by: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RuleHit {
    /// What the hit adds to the score.
    pub fn points(&self) -> u32 {
        if self.counted_under.is_some() {
            self.boost
        } else {
            self.weight + self.boost
        }
    }
}

/// An executable the analysis looked at (reports list them with their SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExecutableSeen {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why it matters (`unit python.service`, `process 812`), in English.
    pub referenced_by: Vec<String>,
    /// The same referrers as catalogue messages, in the same order (empty in older
    /// analyses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by_messages: Vec<Message>,
    /// Bundle member holding a copy, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Owned by an installed package and its content verified unchanged against the
    /// package's digest: never an IOC (a finding about what it does names it in its
    /// explanation, but hunting the fleet for `/usr/bin/python3.11` finds every host).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub packaged: bool,
}

/// A listening socket in the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    pub protocol: String,
    pub address: String,
    pub port: u16,
    pub processes: Vec<String>,
    pub pids: Vec<u32>,
}

/// A collector that did not fully succeed, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorGap {
    pub collector: String,
    pub status: CollectorStatus,
    /// Its error and a summary of all its issues (count by kind, first few subjects).
    pub detail: String,
    /// The detail as a catalogue message: the summary's words translated, the collector's
    /// own error and issue texts kept as arguments (none in older analyses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_message: Option<Message>,
}

/// Everything reporters need about one analyzed bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostAnalysis {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub target: String,
    pub collected_started: Timestamp,
    pub collected_finished: Timestamp,
    pub playbook: String,
    pub playbook_sha256: String,
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    pub score: u32,
    pub verdict: String,
    pub hits: Vec<RuleHit>,
    /// Behaviour findings (scored).
    pub findings: Vec<Finding>,
    /// Context findings: shown, never scored on their own (absent from analyses written
    /// before this field existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<Finding>,
    pub not_evaluated: Vec<NotEvaluated>,
    /// Rules evaluated on incomplete collections (absent from analyses written before this
    /// field existed, which read as "none").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<PartialEvaluation>,
    pub executables: Vec<ExecutableSeen>,
    pub listeners: Vec<Listener>,
    pub gaps: Vec<CollectorGap>,
    /// Problems found while reading records (malformed lines): the analysis is partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_errors: Vec<String>,
    /// Dynamic plugins whose code produced this analysis: collectors (from the manifest) and
    /// analyzers, with the SHA-256 of each library file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginUse>,
    /// What the site allowlist, a baseline and fleet stacking took out of the score, and what
    /// changed since the baseline (absent when none of them applied).
    #[serde(default, skip_serializing_if = "policy::Policy::is_empty")]
    pub policy: policy::Policy,
}

/// A dynamic plugin used to collect or analyze a bundle.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PluginUse {
    /// `collector`, `analyzer` or `reporter`.
    pub kind: String,
    /// Name of the collector, analyzer or reporter.
    pub name: String,
    pub version: String,
    /// Library path it was loaded from.
    pub path: String,
    /// SHA-256 of the library file.
    pub sha256: String,
}

impl HostAnalysis {
    /// Highest severity among findings.
    pub fn highest(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether some rule ran on incomplete data (the host was collected with gaps that matter).
    pub fn partial_data(&self) -> bool {
        !self.partial.is_empty()
    }

    /// Every IOC of every behaviour finding and of every context finding linked to one,
    /// deduplicated and sorted. Context standing alone (an unowned but harmless file) gives
    /// none, and neither does a packaged, unmodified executable ([`ExecutableSeen::packaged`]:
    /// its path and SHA-256), whatever finding mentions it.
    pub fn iocs(&self) -> Vec<Ioc> {
        let mut v: Vec<Ioc> = self
            .findings
            .iter()
            .chain(self.context.iter().filter(|f| !f.linked_to.is_empty()))
            .flat_map(|f| f.iocs.iter().cloned())
            .filter(|i| !self.is_packaged(i))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether an IOC names a packaged, unmodified executable (its path or its SHA-256).
    pub fn is_packaged(&self, ioc: &Ioc) -> bool {
        self.executables
            .iter()
            .filter(|e| e.packaged)
            .any(|e| match ioc {
                Ioc::Path(p) => *p == e.path,
                Ioc::Sha256(s) => e.sha256.as_deref() == Some(s.as_str()),
                _ => false,
            })
    }
}

/// A bundle that could not be analyzed (failed verification, a broken custody ledger,
/// unreadable), for the fleet report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unanalyzed {
    /// Bundle file name.
    pub subject: String,
    pub reason: String,
}

/// A target that could not be collected (for example by an SSH sweep), so there is no bundle
/// of it: the fleet report counts and lists these beside the analyzed hosts, since a host
/// nobody could look at is not a clean host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NotCollected {
    /// The target as given (`web01`, `10.0.0.7:2222`).
    pub target: String,
    /// Why, as one word: `unreachable`, `auth_failed`, `host_key_refused`, `timed_out` or
    /// `failed`.
    pub outcome: String,
    /// What happened, in one sentence.
    pub reason: String,
}

/// Verdict bands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Score at or above which the verdict is "Malicious likely".
    pub malicious: u32,
    /// Score at or above which the verdict is "Suspicious".
    pub suspicious: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            malicious: 60,
            suspicious: 30,
        }
    }
}

impl Thresholds {
    /// Verdict for a score.
    pub fn verdict(&self, score: u32) -> &'static str {
        if score >= self.malicious {
            "Malicious likely"
        } else if score >= self.suspicious {
            "Suspicious"
        } else {
            "Unclear/Benign"
        }
    }
}
