//! The host-independent orchestrator: runs a playbook's collectors against one [`Host`] and
//! writes one bundle.
//!
//! Collectors run in registry order, except that a collector runs after those it names in
//! `after` (the packages collector verifies what proc, systemd and cron found). Each runs
//! under `catch_unwind`: a panic or error becomes that collector's `failed` status in the
//! manifest and the next collector runs. A host lost mid-run (SSH) marks the remaining
//! collectors as not run. Every collector writes through [`crate::guard::GuardedSink`] and reads
//! through [`crate::guard::CheckedHost`], so no copy and no record can bring a never-copied
//! secret into the bundle. The bundle is registered in the output
//! directory's custody ledger.

use crate::cost::{CollectorCost, Counting, Meter};
use crate::guard::{CheckedHost, GuardedSink, SecretGuard};
use crate::playbook::Playbook;
use crate::progress::Progress;
use dossier_bundle::crypt::Recipients;
use dossier_bundle::fsio::file_safe;
use dossier_bundle::ledger;
use dossier_bundle::manifest::{
    CollectionTimes, CollectorRun, FORMAT, FORMAT_VERSION, Manifest, PlaybookRef, ToolInfo,
};
use dossier_bundle::signature::SigningKey;
use dossier_bundle::writer::{BundleError, BundleWriter, FinishedBundle};
use dossier_plugin_api::collect::{Issue, IssueKind};
use dossier_plugin_api::records::HostFacts;
use dossier_plugin_api::{
    CollectContext, Collector, CollectorStatus, Host, HostKind, PriorRecords, Timestamp,
};
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Marks, in a collector's error, that the host was lost while it ran or before it could
/// run: the bundle is then an incomplete collection (see [`collection_complete`]).
pub const HOST_LOST: &str = "host lost";

/// Member bytes the bundle of a host collected over SSH holds in memory at most (see
/// [`BundleWriter::limit_memory`]): a sweep collects many hosts at once, and what each
/// holds adds up. Larger files and records stream into the bundle as they are read.
pub const SSH_BUNDLE_MEMORY: u64 = 1 << 20;

/// Whether a bundle's collectors all ran to the end (no host lost mid-collection).
pub fn collection_complete(runs: &[CollectorRun]) -> bool {
    !runs
        .iter()
        .any(|c| c.error.as_deref().is_some_and(|e| e.contains(HOST_LOST)))
}

/// Build description recorded in bundles.
pub fn tool_info() -> ToolInfo {
    ToolInfo {
        name: "dossier".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        build: crate::build_info::manifest_build(),
    }
}

/// Who collects, for the manifest, the key that signs each bundle (`--sign`) and the
/// recipients it is encrypted to (`--encrypt-to`).
#[derive(Clone, Debug, Default)]
pub struct Custody {
    pub case_id: Option<String>,
    pub examiner: Option<String>,
    pub signer: Option<Arc<SigningKey>>,
    /// `--tsa`: the TSA asked for an RFC 3161 token over each bundle.
    pub tsa: Option<crate::tsa::TsaUrl>,
    /// The recipients each bundle is encrypted to (`--encrypt-to`).
    pub recipients: Option<Arc<Recipients>>,
}

/// What [`collect_host`] produced.
#[derive(Debug)]
pub struct Collected {
    pub bundle: FinishedBundle,
    pub manifest_collectors: Vec<CollectorRun>,
    /// What each collector that ran asked of the target and cost here (see [`crate::cost`]).
    pub costs: Vec<CollectorCost>,
    pub hostname: String,
    /// Set when the custody ledger could not be written (the bundle itself is complete).
    pub ledger_error: Option<String>,
    /// With `--sign`: the signature written, or why the complete bundle was not signed.
    pub signature: Option<Result<PathBuf, String>>,
    /// With `--tsa`: the token stored and what it says, or why there is none.
    pub timestamp: Option<Result<crate::tsa::Stamped, String>>,
}

/// Collectors of `playbook` in the order they must run.
pub fn plan_order(registry: &[Arc<dyn Collector>], playbook: &Playbook) -> Vec<Arc<dyn Collector>> {
    let selected: Vec<Arc<dyn Collector>> = registry
        .iter()
        .filter(|c| playbook.collectors.contains_key(&c.info().name))
        .cloned()
        .collect();
    let by_name: HashMap<String, Arc<dyn Collector>> = selected
        .iter()
        .map(|c| (c.info().name, c.clone()))
        .collect();
    let mut order = Vec::new();
    let mut done = HashSet::new();
    let mut visiting = HashSet::new();
    fn visit(
        c: &Arc<dyn Collector>,
        by_name: &HashMap<String, Arc<dyn Collector>>,
        done: &mut HashSet<String>,
        visiting: &mut HashSet<String>,
        order: &mut Vec<Arc<dyn Collector>>,
    ) {
        let name = c.info().name;
        if done.contains(&name) || !visiting.insert(name.clone()) {
            return; // done, or a cycle: break it here
        }
        for dep in c.info().after {
            if let Some(d) = by_name.get(&dep) {
                visit(d, by_name, done, visiting, order);
            }
        }
        visiting.remove(&name);
        done.insert(name);
        order.push(c.clone());
    }
    for c in &selected {
        visit(c, &by_name, &mut done, &mut visiting, &mut order);
    }
    order
}

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Status of a collector run from its outcome.
fn status_of(error: bool, records: usize, issues: &[Issue]) -> CollectorStatus {
    if error {
        return CollectorStatus::Failed;
    }
    let not_avail = issues
        .iter()
        .filter(|i| i.kind == IssueKind::NotAvailable)
        .count();
    if issues.len() > not_avail {
        CollectorStatus::Partial
    } else if not_avail > 0 && records == 0 {
        CollectorStatus::NotAvailable
    } else if not_avail > 0 {
        CollectorStatus::Partial
    } else {
        CollectorStatus::Ok
    }
}

/// Collects `host` with `playbook` into a new bundle in `out_dir`.
pub fn collect_host(
    host: &dyn Host,
    registry: &[Arc<dyn Collector>],
    playbook: &Playbook,
    custody: &Custody,
    out_dir: &std::path::Path,
    progress: &dyn Progress,
) -> Result<Collected, BundleError> {
    collect_host_as(
        host, registry, playbook, custody, out_dir, progress, "created",
    )
}

/// [`collect_host`], with the custody ledger's entry for the new bundle named `ledger_action`
/// (`created` for a collection, `imported` for `dossier import`).
pub fn collect_host_as(
    host: &dyn Host,
    registry: &[Arc<dyn Collector>],
    playbook: &Playbook,
    custody: &Custody,
    out_dir: &std::path::Path,
    progress: &dyn Progress,
    ledger_action: &str,
) -> Result<Collected, BundleError> {
    let label = host.info().label.clone();
    let started = Timestamp::now();
    let clock = Instant::now();
    let stem = format!(
        "{}-{}-{}",
        file_safe(&label),
        started.compact(),
        std::process::id()
    );
    let mut writer = BundleWriter::create_with(out_dir, &stem, custody.recipients.as_deref())?;
    // Hosts reached over SSH are collected many at once (a sweep): each bundle holds little
    // in memory; the network, not the compression, sets the pace.
    if host.info().kind == HostKind::Ssh {
        writer.limit_memory(SSH_BUNDLE_MEMORY);
    }
    let order = plan_order(registry, playbook);
    progress.start(&label, order.len());
    writer.log_event(
        None,
        &format!(
            "collection of {label} started with playbook {} ({})",
            playbook.name, playbook.sha256
        ),
    );
    let mut session = Session {
        host,
        writer,
        playbook,
        progress,
        label,
        prior: HashMap::new(),
        cache: HashMap::new(),
        lost: None,
        guard: SecretGuard::for_host(host),
        costs: Vec::new(),
    };
    let mut runs = Vec::new();
    for c in &order {
        runs.push(session.run(c, &order)?);
    }
    let Session {
        mut writer,
        prior,
        label,
        costs,
        ..
    } = session;
    let (facts, hostname) = host_identity(&prior, &label);
    writer.log_event(
        None,
        &format!("collection finished in {} ms", clock.elapsed().as_millis()),
    );
    let manifest = manifest_of(
        host,
        playbook,
        custody,
        (facts, &hostname),
        (started, clock),
        runs.clone(),
    );
    let bundle = writer.finish(
        manifest,
        &format!("{}-{}", file_safe(&hostname), started.compact()),
    )?;
    let ledger_error = register(out_dir, &bundle, &hostname, playbook, ledger_action);
    let signature = custody
        .signer
        .as_deref()
        .map(|key| sign(out_dir, &bundle, key));
    let timestamp = custody
        .tsa
        .as_ref()
        .map(|url| crate::tsa::timestamp(out_dir, &bundle, url, custody.signer.as_deref()));
    progress.finish(
        &label,
        &format!(
            "bundle {} ({} bytes, {} members)",
            bundle.path.display(),
            bundle.size,
            bundle.members
        ),
    );
    Ok(Collected {
        bundle,
        manifest_collectors: runs,
        costs,
        hostname,
        ledger_error,
        signature,
        timestamp,
    })
}

/// Signs a finished bundle (`BUNDLE.minisig`) and records it in the custody ledger of
/// `out_dir`; a ledger that cannot be written is an error too (the signature stays).
fn sign(
    out_dir: &std::path::Path,
    bundle: &FinishedBundle,
    key: &SigningKey,
) -> Result<PathBuf, String> {
    let sig = key
        .sign_bundle(&bundle.path, &bundle.sha256)
        .map_err(|e| e.to_string())?;
    ledger::append(
        out_dir,
        &ledger::Event {
            action: "signed",
            bundle: &ledger::bundle_name(&bundle.path),
            sha256: Some(&bundle.sha256),
            detail: Some(&format!(
                "key {}, signature {}",
                key.key_id(),
                ledger::bundle_name(&sig)
            )),
        },
    )
    .map_err(|e| format!("signed, but the custody ledger was not updated: {e}"))?;
    key.sign_ledger_head(out_dir)
        .map_err(|e| format!("signed, but the custody ledger's head was not: {e}"))?;
    Ok(sig)
}

/// One collection in progress: the bundle being written and what collectors leave for
/// later ones.
struct Session<'a> {
    host: &'a dyn Host,
    writer: BundleWriter,
    playbook: &'a Playbook,
    progress: &'a dyn Progress,
    label: String,
    /// Records of the collectors that ran, for those that run after them.
    prior: PriorRecords,
    cache: HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>,
    /// Why the host was lost, once it is: the remaining collectors do not run.
    lost: Option<String>,
    /// What no copy may bring into the bundle (see [`crate::guard`]).
    guard: SecretGuard,
    /// What each collector that ran cost, in run order.
    costs: Vec<CollectorCost>,
}

impl Session<'_> {
    /// Runs one collector of `order` (or records it as not run when the host is lost).
    fn run(
        &mut self,
        c: &Arc<dyn Collector>,
        order: &[Arc<dyn Collector>],
    ) -> Result<CollectorRun, BundleError> {
        let info = c.info();
        let origin = c.origin();
        let source = origin
            .as_ref()
            .map_or_else(|| "builtin".to_string(), |o| format!("plugin:{}", o.path));
        let plugin_sha256 = origin.as_ref().map(|o| o.sha256.clone());
        if let Some(why) = &self.lost {
            return Ok(CollectorRun {
                name: info.name.clone(),
                version: info.version.clone(),
                source,
                plugin_sha256,
                status: CollectorStatus::Failed,
                duration_ms: 0,
                records: 0,
                error: Some(format!("not run: {HOST_LOST} ({why})")),
                issues: vec![],
            });
        }
        self.progress.step(&self.label, &info.name);
        self.writer.begin_collector(&info.name);
        match &origin {
            Some(o) => self.writer.log_event(
                Some(&info.name),
                &format!(
                    "started (plugin {} {} from {}, SHA-256 {})",
                    o.plugin, o.version, o.path, o.sha256
                ),
            ),
            None => self.writer.log_event(Some(&info.name), "started"),
        }
        let t = Instant::now();
        let (result, cost) = self.call(c, &info.name);
        let elapsed = t.elapsed();
        // Records stay in memory as values only when a later collector reads them (or they
        // name the host); the others are already in the bundle (streamed when large).
        let wanted =
            info.name == "facts" || order.iter().any(|o| o.info().after.contains(&info.name));
        let (output, issues) = self.writer.end_collector_keeping(&info.name, wanted)?;
        let count = output.count;
        let cut = result.as_deref().is_some_and(|e| e.starts_with(HOST_LOST));
        let status = if cut && count > 0 {
            // Cut short by the lost host, with what it had collected by then.
            CollectorStatus::Partial
        } else {
            status_of(result.is_some(), count, &issues)
        };
        self.writer.log_event(
            Some(&info.name),
            &format!(
                "{status} in {} ms: {} records, {} issues{}",
                elapsed.as_millis(),
                count,
                issues.len(),
                result
                    .as_ref()
                    .map(|e| format!("; error: {e}"))
                    .unwrap_or_default()
            ),
        );
        self.writer
            .log_event(Some(&info.name), &format!("cost: {}", cost.describe()));
        self.costs.push(cost);
        self.progress.step_done(
            &self.label,
            &info.name,
            status,
            count,
            issues.len(),
            elapsed,
        );
        self.prior.insert(
            info.name.clone(),
            if wanted { output.values() } else { Vec::new() },
        );
        Ok(CollectorRun {
            name: info.name,
            version: info.version,
            source,
            plugin_sha256,
            status,
            duration_ms: elapsed.as_millis() as u64,
            records: count,
            error: result,
            issues,
        })
    }

    /// Calls the collector under `catch_unwind`: its error, if any (a lost host first), and
    /// what it cost (everything it and its copies asked of the host, counted).
    fn call(&mut self, c: &Arc<dyn Collector>, name: &str) -> (Option<String>, CollectorCost) {
        let null = serde_json::Value::Null;
        let config = self.playbook.collectors.get(name).unwrap_or(&null);
        let meter = Meter::start();
        let counted = Counting::new(self.host);
        // Every raw copy of every collector (and plugin) goes through the guard, and so does
        // every read of file content: the collector sees the host only through it.
        let mut sink = GuardedSink {
            writer: &mut self.writer,
            host: &counted,
            guard: &self.guard,
        };
        let host = CheckedHost::for_collector(&counted, &self.guard, name, c.origin().is_none());
        let mut ctx =
            CollectContext::new(name, &host, &mut sink, config, &self.prior, &mut self.cache);
        let r = catch_unwind(AssertUnwindSafe(|| c.collect(&mut ctx)));
        let host_lost = ctx.host_lost().map(|e| e.to_string());
        drop(ctx);
        let cost = meter.finish(name, counted.cost());
        (self.outcome(r, host_lost), cost)
    }

    /// A collector's error from how its call ended, the lost host first.
    fn outcome(
        &mut self,
        r: std::thread::Result<Result<(), dossier_plugin_api::collect::CollectError>>,
        host_lost: Option<String>,
    ) -> Option<String> {
        let error = match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(p) => Some(format!("collector panicked: {}", panic_text(p.as_ref()))),
        };
        // The collector running when the host was lost was cut short, even when it
        // returned normally with what it had: say so in its own status.
        match host_lost {
            Some(why) => {
                let e = format!("{HOST_LOST}: {why}");
                self.lost = Some(why);
                Some(match error {
                    Some(other) if !other.contains(HOST_LOST) => format!("{e}; {other}"),
                    _ => e,
                })
            }
            None => error,
        }
    }
}

/// The host's facts (from the facts collector's records) and the hostname the bundle is
/// named by (the target's label when the facts name none).
fn host_identity(prior: &PriorRecords, label: &str) -> (HostFacts, String) {
    let facts: HostFacts = prior
        .get("facts")
        .and_then(|r| r.iter().find(|v| v["kind"] == "host_facts"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| HostFacts {
            hostname: label.to_string(),
            ..Default::default()
        });
    let hostname = if facts.hostname.is_empty() {
        label.to_string()
    } else {
        facts.hostname.clone()
    };
    (facts, hostname)
}

/// The manifest of a finished collection.
fn manifest_of(
    host: &dyn Host,
    playbook: &Playbook,
    custody: &Custody,
    (facts, hostname): (HostFacts, &str),
    (started, clock): (Timestamp, Instant),
    runs: Vec<CollectorRun>,
) -> Manifest {
    let finished = Timestamp::now();
    let op = ledger::operator();
    let (operator, operator_host) = op
        .split_once('@')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or((op.clone(), String::new()));
    Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        bundle_id: format!(
            "{}-{}-{:08x}",
            file_safe(hostname),
            started.compact(),
            bundle_nonce()
        ),
        case_id: custody.case_id.clone(),
        examiner: custody.examiner.clone(),
        tool: tool_info(),
        host: facts,
        target: host.info(),
        playbook: PlaybookRef {
            name: playbook.name.clone(),
            sha256: playbook.sha256.clone(),
            source: playbook.source.clone(),
        },
        collection: CollectionTimes {
            started,
            finished,
            duration_ms: clock.elapsed().as_millis() as u64,
            operator,
            operator_host,
            signer_key_id: custody.signer.as_ref().map(|k| k.key_id().to_string()),
        },
        collectors: runs,
        members: vec![],
    }
}

/// Registers a new bundle in the custody ledger of `out_dir`: why it could not, if so.
fn register(
    out_dir: &std::path::Path,
    bundle: &FinishedBundle,
    hostname: &str,
    playbook: &Playbook,
    action: &str,
) -> Option<String> {
    let name = bundle
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ledger::append(
        out_dir,
        &ledger::Event {
            action,
            bundle: &name,
            sha256: Some(&bundle.sha256),
            detail: Some(&format!(
                "host {hostname}, playbook {} {}",
                playbook.name, playbook.sha256
            )),
        },
    )
    .err()
    .map(|e| e.to_string())
}

/// A random-ish 32-bit value for bundle ids (time and pid mixed; uniqueness, not secrecy).
fn bundle_nonce() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u32) ^ std::process::id().rotate_left(16)
}

/// Output directory default.
pub fn default_out_dir() -> PathBuf {
    PathBuf::from("dossier-out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_respects_after() {
        let reg = crate::plugins::Registry::builtin();
        let pb = crate::playbook::load(None, &reg).unwrap();
        let names: Vec<String> = plan_order(&reg.collectors, &pb)
            .iter()
            .map(|c| c.info().name)
            .collect();
        let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
        assert!(pos("packages") > pos("proc"));
        assert!(pos("packages") > pos("systemd"));
        assert!(pos("packages") > pos("cron"));
        assert!(pos("systemd") > pos("proc"));
    }

    #[test]
    fn statuses() {
        let na = Issue {
            subject: "/proc".into(),
            kind: IssueKind::NotAvailable,
            message: "x".into(),
        };
        let err = Issue {
            subject: "/x".into(),
            kind: IssueKind::Truncated,
            message: "x".into(),
        };
        assert_eq!(status_of(false, 3, &[]), CollectorStatus::Ok);
        assert_eq!(
            status_of(false, 0, std::slice::from_ref(&na)),
            CollectorStatus::NotAvailable
        );
        assert_eq!(
            status_of(false, 2, std::slice::from_ref(&na)),
            CollectorStatus::Partial
        );
        assert_eq!(status_of(false, 2, &[err]), CollectorStatus::Partial);
        assert_eq!(status_of(true, 2, &[]), CollectorStatus::Failed);
    }
}
