//! Fleet sweeps over SSH: probe networks, collect every host with the playbook's collectors
//! through [`dossier_remote::ssh::SshHost`] (one bundle per host, the same format as a local
//! collection), keep going whatever one host does, and write `sweep.json`.
//!
//! - Targets are collected by `jobs` worker threads; each host has a deadline: a watchdog
//!   cuts its connection when it passes, the collectors that had not run are recorded as not
//!   run in the (still complete and verifiable) bundle, and the host's outcome is `timed_out`.
//! - Network targets (CIDR) are probed first: a short TCP connect to the SSH port on every
//!   address, many at a time; addresses that answer become targets, the others are counted.
//! - `sweep.json` is rewritten atomically after every host, so a sweep killed half-way leaves
//!   an accurate summary of what finished. With `resume`, hosts whose earlier bundle in the
//!   output directory verifies and is complete are not collected again.

use crate::cost::{self, CollectorCost, TargetCost};
use crate::orchestrate::{self, Custody};
use crate::playbook::Playbook;
use crate::progress::SweepProgress;
use crate::shard::ShardRecord;
use dossier_bundle::fsio::{ensure_out_dir, sync_dir, write_synced};
use dossier_bundle::reader::{self, Limits};
use dossier_plugin_api::{Collector, HostKind, Timestamp};
use dossier_remote::ssh::{self, SshAuth, SshSettings, SshTarget};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name of the sweep summary in the output directory.
pub const SUMMARY_NAME: &str = "sweep.json";
/// Format name and version of `sweep.json`.
pub const SUMMARY_FORMAT: &str = "dossier-sweep";
pub const SUMMARY_VERSION: u32 = 1;

/// One host to collect.
#[derive(Clone, Debug)]
pub struct SweepTarget {
    pub ssh: SshTarget,
    /// Identity files for this host (from `~/.ssh/config`), tried before the global ones.
    pub identities: Vec<PathBuf>,
    /// The network this address was discovered in, for CIDR targets.
    pub via: Option<String>,
    /// `IdentitiesOnly yes` in `~/.ssh/config`: only the identity files, no agent.
    pub identities_only: bool,
    /// `UserKnownHostsFile` of `~/.ssh/config` for this host (unless --known-hosts).
    pub known_hosts: Option<PathBuf>,
}

/// A network to probe.
#[derive(Clone, Debug)]
pub struct NetworkTarget {
    /// As written (`10.0.0.0/24`, `ops@10.0.0.0/28`).
    pub spec: String,
    pub addresses: Vec<IpAddr>,
    pub user: String,
    pub port: u16,
}

/// A validated sweep.
pub struct SweepPlan {
    pub hosts: Vec<SweepTarget>,
    pub networks: Vec<NetworkTarget>,
    /// Targets refused before any connection (spec, outcome, reason).
    pub refused: Vec<(String, String, String)>,
    pub auth: SshAuth,
    /// Identity files named with `-i` (kept for hosts with `IdentitiesOnly`).
    pub explicit_identities: Vec<PathBuf>,
    pub settings: SshSettings,
    pub jobs: usize,
    /// Whole-host limit: connect, authenticate and collect.
    pub deadline: Duration,
    pub probe_timeout: Duration,
    pub out: PathBuf,
    /// With `--out s3://...`: each bundle is uploaded once written (`out` is the staging).
    pub upload: Option<crate::store::Upload>,
    pub playbook: Playbook,
    pub custody: Custody,
    pub resume: bool,
    /// With `--shard`: the shard and how many targets it kept of how many.
    pub shard: Option<ShardRecord>,
}

/// What happened to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    /// The target as written, or the address found in a network.
    pub target: String,
    /// `ssh:user@host:port`, also recorded in the bundle manifest.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// `collected`, `resumed` (an earlier verified bundle kept), `timed_out`, `failed`,
    /// `unreachable`, `auth_failed`, `host_key_refused`, `refused`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub started: Timestamp,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// Bytes of file content and command output read from the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
    /// What each collector asked of the host and cost here, in run order, and their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collectors: Vec<CollectorCost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<CollectorCost>,
    /// The target's side: CPU and disk reads of its SFTP server, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cost: Option<TargetCost>,
}

impl TargetResult {
    /// A result with the given outcome and nothing collected yet.
    pub fn new(
        target: &str,
        label: &str,
        via: Option<String>,
        outcome: &str,
        reason: Option<String>,
        started: Timestamp,
    ) -> Self {
        TargetResult {
            target: target.to_string(),
            label: label.to_string(),
            via,
            outcome: outcome.to_string(),
            reason,
            started,
            duration_ms: 0,
            hostname: None,
            bundle: None,
            sha256: None,
            host_key: None,
            bytes_read: None,
            collectors: Vec::new(),
            totals: None,
            target_cost: None,
        }
    }

    /// Whether the host's evidence is complete (collected now or earlier).
    pub fn complete(&self) -> bool {
        matches!(self.outcome.as_str(), "collected" | "resumed")
    }
}

/// Probe results of one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkResult {
    pub network: String,
    pub port: u16,
    pub probed: usize,
    pub answered: usize,
}

/// `sweep.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub format: String,
    pub format_version: u32,
    pub started: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    pub playbook: String,
    pub playbook_sha256: String,
    pub jobs: usize,
    pub networks: Vec<NetworkResult>,
    pub targets: Vec<TargetResult>,
    /// The shard of a `--shard` sweep (`index` from 0), with the targets it `kept` of `of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
}

impl SweepSummary {
    /// The targets that gave no bundle, as the reports list them.
    pub fn not_collected(&self) -> Vec<dossier_plugin_api::analysis::NotCollected> {
        self.targets
            .iter()
            .filter(|t| t.bundle.is_none())
            .map(|t| dossier_plugin_api::analysis::NotCollected {
                target: t.label.clone(),
                outcome: t.outcome.clone(),
                reason: t.reason.clone().unwrap_or_default(),
            })
            .collect()
    }
}

/// The sweep's result.
#[derive(Debug)]
pub struct SweepOutcome {
    pub summary: SweepSummary,
    pub summary_path: PathBuf,
    /// Bundles to analyze (complete and partial), sorted.
    pub bundles: Vec<PathBuf>,
}

/// Complete, verified bundles in `out` by target label (newest per label), of the same
/// playbook and case.
fn verified_bundles(
    out: &Path,
    playbook_sha256: &str,
    case_id: Option<&str>,
) -> BTreeMap<String, (String, String, String)> {
    let mut found: BTreeMap<String, (Timestamp, String, String, String)> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(out) else {
        return BTreeMap::new();
    };
    let limits = Limits::default();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".zip") || name.starts_with('.') {
            continue;
        }
        let v = reader::verify(&e.path(), &limits);
        let (true, Some(m), Some(sha)) = (v.ok(), v.manifest.as_ref(), v.sha256.clone()) else {
            continue;
        };
        // Only a whole collection of the same playbook for the same case counts.
        if m.target.kind != HostKind::Ssh
            || !orchestrate::collection_complete(&m.collectors)
            || m.playbook.sha256 != playbook_sha256
            || m.case_id.as_deref() != case_id
        {
            continue;
        }
        let t = m.collection.started;
        let newer = found.get(&m.target.label).is_none_or(|(old, ..)| t > *old);
        if newer {
            found.insert(
                m.target.label.clone(),
                (t, name, sha, m.host.hostname.clone()),
            );
        }
    }
    found
        .into_iter()
        .map(|(k, (_, n, s, h))| (k, (n, s, h)))
        .collect()
}

/// Probes `port` on every address of `net`, `parallel` at a time; returns those that accept.
pub fn probe(addresses: &[IpAddr], port: u16, timeout: Duration, parallel: usize) -> Vec<IpAddr> {
    let next = Mutex::new(addresses.iter());
    let found = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, 256).min(addresses.len().max(1)) {
            s.spawn(|| {
                while let Some(a) = next.lock().map(|mut i| i.next().copied()).unwrap_or(None) {
                    if TcpStream::connect_timeout(&SocketAddr::new(a, port), timeout).is_ok() {
                        if let Ok(mut f) = found.lock() {
                            f.push(a);
                        }
                    }
                }
            });
        }
    });
    let mut v = found.into_inner().unwrap_or_default();
    v.sort();
    v
}

struct Shared<'a> {
    plan: &'a SweepPlan,
    registry: &'a [Arc<dyn Collector>],
    progress: &'a dyn SweepProgress,
    summary: Mutex<SweepSummary>,
    summary_path: PathBuf,
}

impl Shared<'_> {
    fn record(&self, r: TargetResult) {
        self.progress.outcome(
            &r.label,
            &r.outcome,
            r.reason
                .as_deref()
                .or(r.bundle.as_deref())
                .unwrap_or_default(),
        );
        if let Ok(mut s) = self.summary.lock() {
            s.targets.push(r);
            if let Err(e) = write_summary(&self.summary_path, &s) {
                self.progress.event(
                    "sweep",
                    &format!("warning: {SUMMARY_NAME} not written: {e}"),
                );
            }
        }
    }
}

fn write_summary(path: &Path, s: &SweepSummary) -> std::io::Result<()> {
    let mut sorted = s.clone();
    sorted
        .targets
        .sort_by(|a, b| (&a.label, &a.target).cmp(&(&b.label, &b.target)));
    let mut text = serde_json::to_string_pretty(&sorted).map_err(std::io::Error::other)?;
    text.push('\n');
    let tmp = path.with_extension("json.partial");
    write_synced(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// The result of a target whose collection panicked.
fn failed(t: &SweepTarget, why: String) -> TargetResult {
    TargetResult::new(
        &t.ssh.spec,
        &t.ssh.label(),
        t.via.clone(),
        "failed",
        Some(format!("internal error: {why}")),
        Timestamp::now(),
    )
}

/// Messages to a host's deadline watchdog.
enum Watch {
    /// The connection is up: this cuts it.
    Armed(ssh::AbortHandle),
    /// The host is done.
    Stop,
}

/// A host's deadline watchdog: armed as soon as TCP connects, it cuts the connection when the
/// host's time is up, whatever the host is doing (handshake, auth, collection, close).
struct Watchdog {
    tx: mpsc::Sender<Watch>,
    thread: std::thread::JoinHandle<()>,
    expired: Arc<AtomicBool>,
}

impl Watchdog {
    /// A watchdog for a host whose time is up at `deadline`.
    fn start(deadline: Instant) -> Watchdog {
        let expired = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Watch>();
        let flag = expired.clone();
        let thread = std::thread::spawn(move || {
            let mut handle = None;
            loop {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(Watch::Armed(h)) => handle = Some(h),
                    Ok(Watch::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        flag.store(true, Ordering::SeqCst);
                        if let Some(h) = handle {
                            h.abort();
                        }
                        return;
                    }
                }
            }
        });
        Watchdog {
            tx,
            thread,
            expired,
        }
    }

    /// Whether the deadline passed.
    fn expired(&self) -> bool {
        self.expired.load(Ordering::SeqCst)
    }

    /// The host is done: stops the watchdog, records the host's duration in `r`, and says
    /// whether the deadline passed.
    fn stop(self, r: &mut TargetResult, clock: Instant) -> bool {
        let _ = self.tx.send(Watch::Stop);
        r.duration_ms = clock.elapsed().as_millis() as u64;
        let _ = self.thread.join();
        self.expired.load(Ordering::SeqCst)
    }
}

/// Credentials and connection settings of every target (each host's own identity and
/// known_hosts files from `~/.ssh/config` are added per host: [`target_access`]).
pub struct Access {
    pub auth: SshAuth,
    /// Identity files named with `-i` (kept for hosts with `IdentitiesOnly`).
    pub explicit_identities: Vec<PathBuf>,
    pub settings: SshSettings,
}

/// The credentials and settings of one host: its own identity files first (only those and
/// the `-i` ones with `IdentitiesOnly`), its known_hosts file.
pub fn target_access(access: &Access, t: &SweepTarget) -> (SshAuth, SshSettings) {
    let mut auth = access.auth.clone();
    let mut ids = t.identities.clone();
    if t.identities_only {
        auth.use_agent = false;
        ids.extend(access.explicit_identities.iter().cloned());
    } else {
        ids.append(&mut auth.identities);
    }
    auth.identities = ids;
    let mut settings = access.settings.clone();
    if let Some(kh) = &t.known_hosts {
        settings.known_hosts = kh.clone();
    }
    (auth, settings)
}

/// The credentials and SSH settings of one target ([`target_access`]), the connect timeout
/// within the host's deadline.
fn credentials(plan: &SweepPlan, t: &SweepTarget) -> (SshAuth, SshSettings) {
    let access = Access {
        auth: plan.auth.clone(),
        explicit_identities: plan.explicit_identities.clone(),
        settings: plan.settings.clone(),
    };
    let (auth, mut settings) = target_access(&access, t);
    settings.connect_timeout = settings.connect_timeout.min(plan.deadline);
    (auth, settings)
}

/// Collects one target.
fn sweep_one(sh: &Shared<'_>, t: &SweepTarget) -> TargetResult {
    let plan = sh.plan;
    let started = Timestamp::now();
    let clock = Instant::now();
    let label = t.ssh.label();
    let mut r = TargetResult::new(&t.ssh.spec, &label, t.via.clone(), "", None, started);
    sh.progress.event(&label, "connecting");
    let (auth, settings) = credentials(plan, t);
    let watchdog = Watchdog::start(clock + plan.deadline);
    let arm_tx = watchdog.tx.clone();
    let host = match ssh::connect_with(&t.ssh, &auth, &settings, &mut |h| {
        let _ = arm_tx.send(Watch::Armed(h));
    }) {
        Ok(h) => h,
        Err(e) => {
            if watchdog.stop(&mut r, clock) {
                r.outcome = "timed_out".into();
                r.reason = Some(format!(
                    "host deadline of {} s passed before collection started ({})",
                    plan.deadline.as_secs(),
                    e.detail()
                ));
            } else {
                r.outcome = e.outcome().into();
                r.reason = Some(e.detail().to_string());
            }
            return r;
        }
    };
    r.host_key = Some(host.fingerprint().to_string());
    let collected = orchestrate::collect_host(
        &host,
        sh.registry,
        &plan.playbook,
        &plan.custody,
        &plan.out,
        sh.progress.as_progress(),
    );
    r.bytes_read = Some(host.bytes_read());
    if !watchdog.expired() {
        r.target_cost = cost::target_cost(&host);
        host.close();
    } else {
        drop(host);
    }
    let timed_out = watchdog.stop(&mut r, clock);
    match collected {
        Ok(c) => {
            if let Some(e) = &c.ledger_error {
                sh.progress.event(
                    &label,
                    &format!("warning: bundle complete but custody ledger not updated: {e}"),
                );
            }
            let unsigned = match (&c.signature, &c.timestamp) {
                (Some(Err(e)), _) => Some(format!("bundle complete but not signed: {e}")),
                (_, Some(Err(e))) => Some(format!("bundle complete but not timestamped: {e}")),
                _ => None,
            };
            outcome_of_collection(&mut r, c, timed_out, plan.deadline);
            if let Some(why) = unsigned {
                sh.progress.event(&label, &format!("error: {why}"));
                r.outcome = "failed".into();
                r.reason = Some(why);
            }
        }
        Err(e) => {
            r.outcome = if timed_out { "timed_out" } else { "failed" }.into();
            r.reason = Some(format!("bundle not written: {e}"));
        }
    }
    r
}

/// The outcome of a target whose bundle was written: collected, or cut short (by the
/// deadline or a lost connection) with what was collected before.
fn outcome_of_collection(
    r: &mut TargetResult,
    c: orchestrate::Collected,
    timed_out: bool,
    deadline: Duration,
) {
    r.hostname = Some(c.hostname.clone());
    r.bundle = c
        .bundle
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    r.sha256 = Some(c.bundle.sha256.clone());
    r.totals = Some(CollectorCost::total(&c.costs));
    r.collectors = c.costs.clone();
    let lost = c.manifest_collectors.iter().find_map(|run| {
        run.error
            .as_deref()
            .filter(|e| e.contains(orchestrate::HOST_LOST))
            .map(|e| format!("{}: {e}", run.name))
    });
    // The deadline matters only if it cut a collector: one that passes while the
    // bundle is being finished leaves a complete collection.
    if timed_out && lost.is_some() {
        r.outcome = "timed_out".into();
        r.reason = Some(format!(
            "host deadline of {} s passed during collection; the bundle holds what was \
             collected before it",
            deadline.as_secs()
        ));
    } else if let Some(why) = lost {
        r.outcome = "failed".into();
        r.reason = Some(format!(
            "connection lost during collection ({why}); the bundle holds what was \
             collected before it"
        ));
    } else {
        r.outcome = "collected".into();
    }
}

/// Probes the networks of the plan (recorded in `summary`): the addresses that answer, as
/// targets.
fn probe_networks(
    plan: &SweepPlan,
    progress: &dyn SweepProgress,
    summary: &mut SweepSummary,
) -> Vec<SweepTarget> {
    let mut found = Vec::new();
    for n in &plan.networks {
        progress.event(
            "sweep",
            &format!(
                "probing {} ({} addresses, port {})",
                n.spec,
                n.addresses.len(),
                n.port
            ),
        );
        let up = probe(&n.addresses, n.port, plan.probe_timeout, 64);
        summary.networks.push(NetworkResult {
            network: n.spec.clone(),
            port: n.port,
            probed: n.addresses.len(),
            answered: up.len(),
        });
        progress.event(
            "sweep",
            &format!(
                "{}: {} of {} addresses answer on port {}",
                n.spec,
                up.len(),
                n.addresses.len(),
                n.port
            ),
        );
        for a in up {
            found.push(SweepTarget {
                ssh: network_address(n, a),
                identities: vec![],
                via: Some(n.spec.clone()),
                identities_only: false,
                known_hosts: None,
            });
        }
    }
    found
}

/// An address of a network, as an SSH target.
fn network_address(n: &NetworkTarget, a: IpAddr) -> SshTarget {
    SshTarget {
        spec: a.to_string(),
        host: a.to_string(),
        port: n.port,
        user: n.user.clone(),
    }
}

/// With `resume`: takes out of `queue` the targets that have a complete, verified bundle in
/// the output directory, and returns their results (`resumed`).
fn resume(
    plan: &SweepPlan,
    started: Timestamp,
    queue: &mut VecDeque<SweepTarget>,
) -> Vec<TargetResult> {
    let done = verified_bundles(
        &plan.out,
        &plan.playbook.sha256,
        plan.custody.case_id.as_deref(),
    );
    let resumed = |spec: &str, label: &str, via: Option<String>| {
        let (bundle, sha, hostname) = &done[label];
        TargetResult {
            hostname: Some(hostname.clone()),
            bundle: Some(bundle.clone()),
            sha256: Some(sha.clone()),
            ..TargetResult::new(
                spec,
                label,
                via,
                "resumed",
                Some("a complete bundle of this target verifies: not collected again".into()),
                started,
            )
        }
    };
    let mut results = Vec::new();
    let mut kept = std::collections::HashSet::new();
    queue.retain(|t| {
        let label = t.ssh.label();
        if done.contains_key(&label) {
            results.push(resumed(&t.ssh.spec, &label, t.via.clone()));
            kept.insert(label);
            false
        } else {
            true
        }
    });
    // Hosts of a network collected earlier stay in the sweep even if they no longer
    // answer the probe (isolated, shut down).
    for n in &plan.networks {
        for a in &n.addresses {
            let t = network_address(n, *a);
            let label = t.label();
            if done.contains_key(&label) && kept.insert(label.clone()) {
                results.push(resumed(&t.spec, &label, Some(n.spec.clone())));
            }
        }
    }
    results
}

/// Runs the sweep.
pub fn run(
    plan: &SweepPlan,
    registry: &[Arc<dyn Collector>],
    progress: &dyn SweepProgress,
) -> Result<SweepOutcome, dossier_bundle::writer::BundleError> {
    crate::memory::limit_malloc();
    ensure_out_dir(&plan.out)?;
    let summary_path = plan.out.join(SUMMARY_NAME);
    let started = Timestamp::now();
    let mut summary = SweepSummary {
        format: SUMMARY_FORMAT.into(),
        format_version: SUMMARY_VERSION,
        started,
        finished: None,
        playbook: plan.playbook.name.clone(),
        playbook_sha256: plan.playbook.sha256.clone(),
        jobs: plan.jobs,
        networks: vec![],
        targets: vec![],
        shard: plan.shard.clone(),
    };
    let mut queue: VecDeque<SweepTarget> = plan.hosts.iter().cloned().collect();
    queue.extend(probe_networks(plan, progress, &mut summary));
    // The same host reached twice (listed and inside a network) is collected once.
    let mut seen = std::collections::HashSet::new();
    queue.retain(|t| seen.insert(t.ssh.label()));
    let mut results_now: Vec<TargetResult> = plan
        .refused
        .iter()
        .map(|(spec, outcome, reason)| {
            TargetResult::new(spec, spec, None, outcome, Some(reason.clone()), started)
        })
        .collect();
    if plan.resume {
        results_now.extend(resume(plan, started, &mut queue));
    }
    progress.set_targets(queue.len() + results_now.len());
    let shared = Shared {
        plan,
        registry,
        progress,
        summary: Mutex::new(summary),
        summary_path: summary_path.clone(),
    };
    for r in results_now {
        shared.record(r);
    }
    collect_all(&shared, queue);
    let summary = shared
        .summary
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    Ok(finish(plan, summary, summary_path, progress))
}

/// Collects the targets of `queue` on `jobs` worker threads.
fn collect_all(shared: &Shared<'_>, queue: VecDeque<SweepTarget>) {
    let queue = Mutex::new(queue);
    std::thread::scope(|s| {
        for _ in 0..shared.plan.jobs.max(1) {
            s.spawn(|| {
                while let Some(t) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    // A panic (a bug) costs this host only, not the worker or the sweep.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        sweep_one(shared, &t)
                    }))
                    .unwrap_or_else(|p| failed(&t, orchestrate::panic_text(p.as_ref())));
                    crate::memory::release_free();
                    shared.record(uploaded(shared.plan, r));
                }
            });
        }
    });
}

/// With `--out s3://...`: the bundle of `r` (and its sidecars) uploaded now; a target whose
/// bundle could not be uploaded failed (the bundle stays in the staging folder, kept).
fn uploaded(plan: &SweepPlan, mut r: TargetResult) -> TargetResult {
    let Some(Err(e)) = plan
        .upload
        .as_ref()
        .zip(r.bundle.as_ref())
        .map(|(up, b)| up.bundle(&plan.out.join(b)))
    else {
        return r;
    };
    r.outcome = "failed".into();
    r.reason = Some(format!(
        "bundle not uploaded: {}",
        crate::messages::one_line(&e)
    ));
    r
}

/// The sweep's end: `sweep.json` written finished, and the bundles to analyze.
fn finish(
    plan: &SweepPlan,
    mut summary: SweepSummary,
    summary_path: PathBuf,
    progress: &dyn SweepProgress,
) -> SweepOutcome {
    summary.finished = Some(Timestamp::now());
    summary
        .targets
        .sort_by(|a, b| (&a.label, &a.target).cmp(&(&b.label, &b.target)));
    if let Err(e) = write_summary(&summary_path, &summary) {
        // The bundles exist and verify; analysis goes on.
        progress.event(
            "sweep",
            &format!("warning: {SUMMARY_NAME} not written: {e}"),
        );
    }
    let mut bundles: Vec<PathBuf> = summary
        .targets
        .iter()
        .filter_map(|t| t.bundle.as_ref().map(|b| plan.out.join(b)))
        .collect();
    bundles.sort();
    bundles.dedup();
    SweepOutcome {
        summary,
        summary_path,
        bundles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_finds_listeners_on_loopback_only() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let addrs: Vec<IpAddr> = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let up = probe(&addrs, port, Duration::from_millis(300), 8);
        assert_eq!(up, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert!(probe(&[], port, Duration::from_millis(10), 8).is_empty());
    }

    #[test]
    fn summary_round_trips_and_is_sorted() {
        let d = tempfile::tempdir().unwrap();
        let t = |label: &str| {
            TargetResult::new(
                label,
                label,
                None,
                "unreachable",
                Some("x".into()),
                Timestamp::now(),
            )
        };
        let s = SweepSummary {
            format: SUMMARY_FORMAT.into(),
            format_version: 1,
            started: Timestamp::now(),
            finished: None,
            playbook: "triage".into(),
            playbook_sha256: "00".into(),
            jobs: 2,
            networks: vec![],
            targets: vec![t("ssh:b"), t("ssh:a")],
            shard: None,
        };
        let p = d.path().join(SUMMARY_NAME);
        write_summary(&p, &s).unwrap();
        let back: SweepSummary = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back.targets[0].label, "ssh:a");
        assert!(!d.path().join("sweep.json.partial").exists());
    }
}
