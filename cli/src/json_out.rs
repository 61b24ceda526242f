//! The `--json` documents of the commands that print information. Each command prints one
//! JSON document (an object with `schema` and `version`), never JSON lines; the field names
//! below are stable: new fields may be added, none renamed or removed without a new
//! `version`. The README ("Machine-readable output") lists them.

use serde::Serialize;

/// Every document's head: which document and which version of its fields.
#[derive(Debug, Serialize)]
pub struct Doc<T: Serialize> {
    /// `dossier-rules`, `dossier-verify`, `dossier-plugins`, `dossier-collectors`,
    /// `dossier-playbooks`, `dossier-sweep`, `dossier-actions`, `dossier-analyze`.
    pub schema: &'static str,
    /// 1.
    pub version: u32,
    #[serde(flatten)]
    pub body: T,
}

/// Prints `body` as the one JSON document of the command `schema` on stdout.
pub fn print<T: Serialize>(schema: &'static str, body: T) -> anyhow::Result<()> {
    let doc = Doc {
        schema,
        version: 1,
        body,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    crate::manual::print(text.as_bytes())?;
    Ok(())
}

/// `dossier collectors --json`.
#[derive(Debug, Serialize)]
pub struct Collectors {
    pub collectors: Vec<Collector>,
}

/// A built-in collector.
#[derive(Debug, Serialize)]
pub struct Collector {
    pub name: String,
    pub version: String,
    pub description: String,
}

/// `dossier rules --json`: every rule as the playbook sets it.
#[derive(Debug, Serialize)]
pub struct Rules {
    /// The playbook's name.
    pub playbook: String,
    /// Verdict thresholds: score >= `malicious` is Malicious likely, >= `suspicious`
    /// Suspicious.
    pub thresholds: Thresholds,
    /// The ATT&CK release the technique names come from.
    pub attack_release: String,
    pub rules: Vec<Rule>,
}

/// Verdict thresholds.
#[derive(Debug, Serialize)]
pub struct Thresholds {
    pub malicious: u32,
    pub suspicious: u32,
}

/// One rule.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    /// ATT&CK technique ids, and their names in the same order.
    pub mitre: Vec<String>,
    pub mitre_names: Vec<String>,
    /// The weight in force (playbook override or default).
    pub weight: u32,
    /// `info`, `low`, `medium`, `high`, `critical` (lower case).
    pub severity: String,
    /// `behaviour` or `context`.
    pub class: String,
    /// When some findings of a behaviour rule are context instead, why; else null.
    pub context_when: Option<String>,
    /// Off in this playbook.
    pub enabled: bool,
    /// `builtin`, or the analyzer plugin's name.
    pub source: String,
    /// `host` or `fleet` (plugin rules may look at the whole fleet).
    pub scope: String,
    /// The collectors whose records the rule reads.
    pub needs: Vec<String>,
    /// What the rule catches.
    pub doc: String,
}

/// `dossier plugins --json`.
#[derive(Debug, Serialize)]
pub struct Plugins {
    pub plugins: Vec<PluginEntry>,
    pub abi_version: u32,
    pub api_version: String,
    pub target: String,
    /// The per-user plugin folder searched, null without HOME.
    pub user_dir: Option<String>,
}

/// A built-in or loaded plugin, one per kind it provides.
#[derive(Debug, Serialize)]
pub struct PluginEntry {
    /// `collector`, `analyzer`, `reporter`.
    pub kind: String,
    pub name: String,
    pub version: String,
    /// `builtin` or `plugin`.
    pub source: String,
    /// For plugins: library name, path, SHA-256 and load time; null for built-ins.
    pub library: Option<String>,
    pub path: Option<String>,
    pub sha256: Option<String>,
    pub load_ms: Option<f64>,
    /// What a built-in reporter writes, or the number of built-in rules; else null.
    pub detail: Option<String>,
}

/// `dossier playbooks --json`.
#[derive(Debug, Serialize)]
pub struct Playbooks {
    pub playbooks: Vec<PlaybookEntry>,
}

/// A built-in playbook.
#[derive(Debug, Serialize)]
pub struct PlaybookEntry {
    pub name: String,
    /// SHA-256 of its text, as recorded in manifests.
    pub sha256: String,
    pub description: String,
    pub default: bool,
}

/// `dossier verify --json`.
#[derive(Debug, Serialize)]
pub struct Verify {
    pub bundles: Vec<Verified>,
    /// How many bundles failed (the exit code is 1 when any did).
    pub failed: usize,
}

/// One bundle's verification.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub path: String,
    pub ok: bool,
    /// SHA-256 of the bundle file as read now (null when it could not be read).
    pub sha256: Option<String>,
    /// Members checked, the manifest included.
    pub members: usize,
    /// `none`, `decrypted`, `not_decrypted` (encrypted, contents not checked).
    pub encryption: &'static str,
    pub problems: Vec<ProblemEntry>,
    /// The good signature (with --pubkey/--trusted-keys), else null.
    pub signature: Option<SignatureEntry>,
    /// The timestamp token's check, as `verify` says it in text, else null.
    pub timestamp: Option<String>,
}

/// A verification problem.
#[derive(Debug, Serialize)]
pub struct ProblemEntry {
    /// The member or part (`bundle`, `sidecar`, `manifest.json`, `signature`...).
    pub subject: String,
    pub message: String,
}

/// A good signature.
#[derive(Debug, Serialize)]
pub struct SignatureEntry {
    pub key_id: String,
    pub signer: String,
    pub trusted_comment: String,
    /// The custody ledger's signed head, when checked.
    pub ledger_head_key_id: Option<String>,
}

/// One bundle's verification as JSON.
pub fn verified(
    path: &std::path::Path,
    v: &dossier_bundle::reader::Verification,
    signed: Option<&(
        dossier_bundle::signature::Signed,
        Option<dossier_bundle::signature::LedgerHead>,
    )>,
    timestamp: Option<String>,
) -> Verified {
    use dossier_bundle::reader::Encryption;
    Verified {
        path: path.display().to_string(),
        ok: v.ok(),
        sha256: v.sha256.clone(),
        members: if v.encryption == Encryption::NotDecrypted || !v.ok() {
            v.members_checked
        } else {
            v.members_checked + 1
        },
        encryption: match v.encryption {
            Encryption::None => "none",
            Encryption::Decrypted => "decrypted",
            Encryption::NotDecrypted => "not_decrypted",
        },
        problems: v
            .problems
            .iter()
            .map(|p| ProblemEntry {
                subject: p.subject.to_string(),
                message: p.message.clone(),
            })
            .collect(),
        signature: signed.map(|(s, head)| SignatureEntry {
            key_id: s.key_id.clone(),
            signer: s.signer.clone(),
            trusted_comment: s.trusted_comment.clone(),
            ledger_head_key_id: head.as_ref().map(|h| h.key_id.clone()),
        }),
        timestamp,
    }
}

/// `dossier actions --json`: the action records of each host.
#[derive(Debug, Serialize)]
pub struct Actions {
    pub hosts: Vec<ActionsHost>,
}

/// One host's action records.
#[derive(Debug, Serialize)]
pub struct ActionsHost {
    /// `local` or the SSH target's label.
    pub host: String,
    /// The newest transition of each record, oldest action first, as stored on the host
    /// (`id`, `seq`, `host`, `state`, `step`, times...: `contain/src/record.rs`).
    pub records: Vec<dossier_contain::record::Record>,
    /// Record files that could not be read (the exit code is 1 when any).
    pub problems: Vec<String>,
}

/// `dossier sweep --json`: the targets (as in `sweep.json`) and, unless `--no-analyze`, the
/// analysis.
#[derive(Debug, Serialize)]
pub struct Sweep<'a> {
    /// Path of the sweep summary (`OUT/sweep.json`).
    pub summary: String,
    /// One per target: `target`, `label`, `outcome` (`collected`, `resumed`, `timed_out`,
    /// `failed`, `unreachable`, `auth_failed`, `host_key_refused`, `refused`), `reason`,
    /// `bundle`, `sha256`, `hostname`, ... exactly as in `sweep.json`.
    pub targets: &'a [crate::sweep::TargetResult],
    /// How many targets were not completely collected (the exit code is 1 when any).
    pub incomplete: usize,
    /// The analysis, null with `--no-analyze` or when nothing was collected.
    pub analysis: Option<AnalysisEntry>,
}

/// What the analysis wrote.
#[derive(Debug, Serialize)]
pub struct AnalysisEntry {
    pub hosts: Vec<HostEntry>,
    /// Bundles not analyzed, with why.
    pub not_analyzed: Vec<ProblemEntry>,
    pub fleet_report: String,
    pub findings: String,
}

/// An analyzed host.
#[derive(Debug, Serialize)]
pub struct HostEntry {
    pub hostname: String,
    pub verdict: String,
    pub score: u32,
    pub findings: usize,
    pub report: String,
}

/// `dossier analyze --json`: what the analysis wrote, and the bundles it refused.
#[derive(Debug, Serialize)]
pub struct Analyze {
    pub hosts: Vec<HostEntry>,
    /// Bundles not analyzed (signature refused, failed verification or custody check).
    pub not_analyzed: Vec<ProblemEntry>,
    /// The fleet report and findings JSON; null when no bundle was left to analyze.
    pub fleet_report: Option<String>,
    pub findings: Option<String>,
    /// The events report of import bundles, null without any.
    pub events: Option<EventsEntry>,
}

/// The events report of an analysis.
#[derive(Debug, Serialize)]
pub struct EventsEntry {
    pub report: String,
    pub json: String,
    pub events: u64,
    pub alerts: usize,
}

/// `dossier analyze --json` from the analysis (`None`: every bundle was refused before it)
/// and the bundles refused for their signature.
pub fn analyzed(
    r: Option<&crate::analyze::Analysis>,
    refused: &[(std::path::PathBuf, String)],
) -> Analyze {
    let mut not_analyzed: Vec<ProblemEntry> = refused
        .iter()
        .map(|(path, why)| ProblemEntry {
            subject: path.display().to_string(),
            message: format!("signature: {why}"),
        })
        .collect();
    let Some(r) = r else {
        return Analyze {
            hosts: Vec::new(),
            not_analyzed,
            fleet_report: None,
            findings: None,
            events: None,
        };
    };
    let a = analysis(r);
    not_analyzed.extend(a.not_analyzed);
    Analyze {
        hosts: a.hosts,
        not_analyzed,
        fleet_report: Some(a.fleet_report),
        findings: Some(a.findings),
        events: r.events.as_ref().map(|e| EventsEntry {
            report: e.report.display().to_string(),
            json: e.json.display().to_string(),
            events: e.events,
            alerts: e.alerts,
        }),
    }
}

/// The analysis as JSON.
pub fn analysis(r: &crate::analyze::Analysis) -> AnalysisEntry {
    AnalysisEntry {
        hosts: r
            .hosts
            .iter()
            .map(|h| HostEntry {
                hostname: h.hostname.clone(),
                verdict: h.verdict.to_string(),
                score: h.score,
                findings: h.findings,
                report: h.report.display().to_string(),
            })
            .collect(),
        not_analyzed: r
            .unanalyzed
            .iter()
            .map(|u| ProblemEntry {
                subject: u.subject.clone(),
                message: crate::messages::without_subject(&u.subject, &u.reason),
            })
            .collect(),
        fleet_report: r.fleet_report.display().to_string(),
        findings: r.findings_json.display().to_string(),
    }
}
