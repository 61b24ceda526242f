//! Analysis of bundles: verify each bundle (and check it against the custody ledger beside
//! it), feed its records to the analyzers, write the host reports, the fleet report and
//! findings JSON, and record the analysis in the custody ledger.
//!
//! Reports are built only from bundle content, the playbook, the plugins loaded and the
//! baseline given (its name and SHA-256 are in the reports and the custody ledger), so
//! re-analysing the same bundles (here or after copying them elsewhere) gives byte-identical
//! files.
//!
//! Analyzer plugins run after the built-in rules on the records of the collectors they read;
//! their findings are scored with the same playbook overrides, and a plugin that fails leaves
//! its rules *not evaluated* with the reason in the report. Their per-host fleet facts are kept
//! (small) until every bundle is analyzed, then each plugin's fleet phase gives the fleet-level
//! findings of the fleet report and findings JSON. Plugin reporters enabled by the playbook
//! receive the hosts in report order during the final pass, then the fleet. Every dynamic
//! plugin used is listed with the SHA-256 of its library in the reports and the ledger.
//!
//! Site policy and fleet context (see `dossier_analyzers::policy`): the playbook's allowlist
//! and a `--baseline` are applied to each host right after its rules (findings they match
//! leave the score, the host is rescored, *Changed since baseline* is added). When several
//! bundles are analyzed together, each host's inventory is counted for fleet stacking (counts
//! per distinct item, not the items of every host); with `[analysis.stacking] common_share`,
//! a pass over the spool then leaves out of the score the findings common to more than that
//! share of hosts, rewriting those hosts' reports (the custody ledger keeps the verdict before
//! that pass).
//!
//! Memory does not grow with the number of bundles: each bundle's host report is written as
//! soon as it is analyzed, and its analysis goes to a spool (an unnamed temporary file in the
//! output directory, mode 0600, gone when closed) while only a small index entry per host
//! stays in memory. The fleet report and findings JSON are then written in one pass over the
//! spool in report order (hostname, bundle name); the fleet report's alerts go through five
//! temporary files, one per severity, copied into the report at the end (rarest first within a
//! severity when several bundles are stacked).
//!
//! Bundles are verified and analyzed by a small pool of worker threads (one per CPU, at most
//! [`MAX_WORKERS`]), at most two per worker in flight; the main thread takes their results in
//! bundle order and does everything that writes (custody ledger, host reports, spool), so the
//! output is the same whatever the timing. Host reports and ledger lines are written without
//! a sync each; before the fleet report is renamed into place the output file system is
//! synced once and every ledger appended to is synced once, so a finished run is durable and
//! an interrupted one leaves no fleet report. `DOSSIER_TIMINGS=1` prints where the time went
//! (per stage, summed over workers) on stderr.

use crate::playbook::Playbook;
use crate::plugins::{Registry, use_of};
use dossier_analyzers::baseline::BaselineIndex;
use dossier_analyzers::stacking::Stacker;
use dossier_analyzers::{BundleInput, Header, analyze, completeness, inventory, policy};
use dossier_bundle::fsio::{create_private, ensure_out_dir, file_safe, sync_dir, write_synced};
use dossier_bundle::ledger::{self, Beside};
use dossier_bundle::reader::{Bundle, Limits};
use dossier_bundle::writer::BundleError;
use dossier_plugin_api::analysis::{Finding, HostAnalysis, NotCollected, PluginUse, Unanalyzed};
use dossier_plugin_api::analyzer::{
    AnalysisInput, CollectorState, FleetFacts, FleetFinding, NumberedRecord,
};
use dossier_plugin_api::policy::Seen;
use dossier_plugin_api::reporter::FleetInput;
use dossier_plugin_api::{Analyzer, Reporter};
use dossier_reporters::fleet::{FleetWriter, HostEntry};
use dossier_reporters::json::FindingsWriter;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

/// Largest records member read.
const MAX_RECORDS: u64 = 1 << 30;

/// What [`analyze_bundles`] wrote.
#[derive(Debug)]
pub struct Analysis {
    /// Analyzed bundles, sorted by hostname and bundle name.
    pub hosts: Vec<HostSummary>,
    /// Bundles refused (failed verification or the custody ledger check), by file name.
    pub unanalyzed: Vec<Unanalyzed>,
    pub fleet_report: PathBuf,
    pub findings_json: PathBuf,
}

/// One analyzed bundle.
#[derive(Debug)]
pub struct HostSummary {
    pub hostname: String,
    pub bundle: PathBuf,
    pub verdict: String,
    pub score: u32,
    pub findings: usize,
    pub report: PathBuf,
}

fn bundle_header(b: &Bundle) -> Header {
    let m = &b.manifest;
    Header {
        hostname: m.host.hostname.clone(),
        bundle: b
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bundle_sha256: b.sha256.clone(),
        case_id: m.case_id.clone(),
        target: m.target.label.clone(),
        live: m.target.live,
        started: m.collection.started,
        finished: m.collection.finished,
        playbook: m.playbook.name.clone(),
        playbook_sha256: m.playbook.sha256.clone(),
        tool: format!("{} {} ({})", m.tool.name, m.tool.version, m.tool.build),
        os: m.host.os_pretty_name.clone(),
        kernel: m.host.kernel_release.clone(),
    }
}

/// Fleet facts of one host, by analyzer (index in the registry).
pub type HostFacts = Vec<(usize, serde_json::Value)>;

/// The input of an analyzer plugin: the records of the collectors it reads, and every member
/// of the bundle (a raw copy may be shared with another collector that read the same file).
fn plugin_input(
    b: &Bundle,
    header: &Header,
    reads: &[String],
    states: &BTreeMap<String, CollectorState>,
    records: &BTreeMap<String, Vec<(usize, serde_json::Value)>>,
) -> AnalysisInput {
    let mut input = AnalysisInput {
        hostname: header.hostname.clone(),
        bundle: header.bundle.clone(),
        bundle_sha256: header.bundle_sha256.clone(),
        target: header.target.clone(),
        live: header.live,
        collectors: states.clone(),
        records: BTreeMap::new(),
        members: BTreeMap::new(),
    };
    for c in reads {
        if let Some(recs) = records.get(c) {
            input.records.insert(
                c.clone(),
                recs.iter()
                    .map(|(line, record)| NumberedRecord {
                        line: *line,
                        record: record.clone(),
                    })
                    .collect(),
            );
        }
    }
    for m in &b.manifest.members {
        input.members.insert(m.name.clone(), m.sha256.clone());
    }
    input
}

/// Analyzes one opened bundle: built-in rules, then the analyzer plugins of `registry`.
pub fn analyze_bundle(
    b: &mut Bundle,
    playbook: &Playbook,
    registry: &Registry,
) -> (HostAnalysis, HostFacts) {
    let (a, facts, _) = analyze_bundle_with(b, playbook, registry, false);
    (a, facts)
}

/// [`analyze_bundle`], and the bundle's inventory (for stacking, baselines and the allowlist)
/// when `want_inventory` is set (empty otherwise).
pub fn analyze_bundle_with(
    b: &mut Bundle,
    playbook: &Playbook,
    registry: &Registry,
    want_inventory: bool,
) -> (HostAnalysis, HostFacts, Vec<Seen>) {
    let off = Timings {
        on: false,
        start: Instant::now(),
        nanos: Default::default(),
    };
    analyze_bundle_timed(b, playbook, registry, &off, want_inventory)
}

/// [`analyze_bundle_with`], adding the time of its stages to `timings`.
fn analyze_bundle_timed(
    b: &mut Bundle,
    playbook: &Playbook,
    registry: &Registry,
    timings: &Timings,
    want_inventory: bool,
) -> (HostAnalysis, HostFacts, Vec<Seen>) {
    let header = bundle_header(b);
    let t_records = Instant::now();
    let mut collectors = BTreeMap::new();
    let mut records = BTreeMap::new();
    let mut record_errors = Vec::new();
    let runs = b.manifest.collectors.clone();
    let mut incomplete = BTreeMap::new();
    for run in &runs {
        // The detail summarizes all issues; what makes the data incomplete (not mere churn such
        // as a process that exited) marks the rules that need it as evaluated on partial data.
        let health = completeness::health(run.status, run.error.as_deref(), &run.issues);
        if let Some(why) = health.incomplete {
            incomplete.insert(run.name.clone(), why);
        }
        collectors.insert(run.name.clone(), (run.status, health.detail));
        match b.records(&run.name, MAX_RECORDS) {
            Ok((recs, bad)) => {
                records.insert(run.name.clone(), recs);
                record_errors.extend(bad);
            }
            Err(e) => record_errors.push(e.to_string()),
        }
    }
    timings.add(Stage::Records, t_records);
    let states: BTreeMap<String, CollectorState> = collectors
        .iter()
        .map(|(n, (status, detail))| {
            (
                n.clone(),
                CollectorState {
                    status: *status,
                    detail: detail.clone(),
                },
            )
        })
        .collect();
    let plugin_inputs: Vec<AnalysisInput> = registry
        .analyzers
        .iter()
        .map(|a| plugin_input(b, &header, &a.info().reads, &states, &records))
        .collect();
    let members = b
        .manifest
        .members
        .iter()
        .map(|m| (m.name.clone(), m.sha256.clone()))
        .collect();
    let used_collectors: Vec<PluginUse> = runs
        .iter()
        .filter_map(|r| {
            Some(PluginUse {
                kind: "collector".into(),
                name: r.name.clone(),
                version: r.version.clone(),
                path: r
                    .source
                    .strip_prefix("plugin:")
                    .unwrap_or(&r.source)
                    .to_string(),
                sha256: r.plugin_sha256.clone()?,
            })
        })
        .collect();
    let member_nanos = AtomicU64::new(0);
    let mut read = |name: &str, cap: u64| {
        let t = Instant::now();
        let r = b.read_member(name, cap).map_err(|e| e.to_string());
        if timings.on {
            member_nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        r
    };
    let mut input = BundleInput {
        header,
        collectors,
        incomplete,
        records,
        members,
        read_member: &mut read,
        record_errors,
    };
    let mut context = 0;
    if timings.on {
        // Measured apart (the engine builds its own, counted here and not under rules): the
        // typed parsing of the records.
        let t = Instant::now();
        drop(std::hint::black_box(dossier_analyzers::context::Ctx::new(
            &input,
        )));
        context = t.elapsed().as_nanos() as u64;
        timings.add_nanos(Stage::Context, context);
    }
    let t_rules = Instant::now();
    let mut a = analyze(&mut input, &playbook.analysis);
    let members_read = member_nanos.swap(0, Ordering::Relaxed);
    let rules = (t_rules.elapsed().as_nanos() as u64).saturating_sub(members_read + context);
    timings.add_nanos(Stage::Rules, rules);
    timings.add_nanos(Stage::Members, members_read);
    a.plugins = used_collectors;
    let t_plugins = Instant::now();
    let mut facts = Vec::new();
    let mut members = Members(&mut *input.read_member);
    for (i, (an, pin)) in registry.analyzers.iter().zip(plugin_inputs).enumerate() {
        let info = an.info();
        let used = use_of("analyzer", &info.name, an.origin_lib());
        let result = an.analyze(&pin, &mut members).map_err(|e| e.0);
        if let Some(f) = dossier_analyzers::plugins::merge(
            &mut a,
            &info,
            used,
            result,
            &input.collectors,
            &input.incomplete,
            &playbook.analysis,
        ) {
            facts.push((i, f));
        }
    }
    timings.add(Stage::Plugins, t_plugins);
    let inv = if want_inventory {
        inventory::inventory(&input, &a)
    } else {
        Vec::new()
    };
    (a, facts, inv)
}

/// Opens and verifies a bundle and checks it against its custody ledger (if any): the bundle,
/// or why it is refused (a short reason for the ledger, and the full one).
pub fn open_checked(
    path: &Path,
    custody: Option<&Beside>,
    limits: &Limits,
) -> Result<Bundle, (&'static str, String)> {
    let name = ledger::bundle_name(path);
    match Bundle::open(path, limits) {
        Err(e) => Err(("failed verification", e.to_string().replace('\n', " "))),
        Ok((b, _)) => {
            let problems = custody.map_or_else(Vec::new, |l| l.problems(&name, Some(&b.sha256)));
            if problems.is_empty() {
                Ok(b)
            } else {
                Err((
                    "custody ledger check failed",
                    format!(
                        "{}: custody ledger: {}",
                        path.display(),
                        problems
                            .iter()
                            .map(|p| p.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ))
            }
        }
    }
}

/// The custody ledger beside `path` (noted once per directory when there is none).
pub fn custody_of<'l>(
    ledgers: &'l mut HashMap<PathBuf, Option<Beside>>,
    path: &Path,
) -> Option<&'l Beside> {
    ledgers
        .entry(ledger::bundle_dir(path).to_path_buf())
        .or_insert_with(|| {
            let l = Beside::of(path);
            if l.is_none() {
                eprintln!(
                    "dossier: note: no custody ledger beside {}: analyses of bundles in that directory are not recorded",
                    path.display()
                );
            }
            l
        })
        .as_ref()
}

/// Bundle members for analyzer plugins, read through the bundle reader (hash re-checked).
struct Members<'r, 'a>(&'r mut dossier_analyzers::engine::MemberReader<'a>);

impl dossier_plugin_api::analyzer::MemberReader for Members<'_, '_> {
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        (self.0)(name, cap)
    }
}

/// Runs the fleet phase of every analyzer plugin over the facts of the analyzed hosts.
fn fleet_phase(
    registry: &Registry,
    playbook: &Playbook,
    facts: Vec<(String, String, HostFacts)>,
) -> Vec<FleetFinding> {
    let mut per: Vec<Vec<FleetFacts>> = vec![Vec::new(); registry.analyzers.len()];
    for (hostname, bundle, hf) in facts {
        for (i, f) in hf {
            per[i].push(FleetFacts {
                hostname: hostname.clone(),
                bundle: bundle.clone(),
                facts: f,
            });
        }
    }
    let mut out = Vec::new();
    for (an, hosts) in registry.analyzers.iter().zip(per) {
        if hosts.is_empty() {
            continue;
        }
        let info = an.info();
        match an.fleet(&hosts) {
            Ok(found) => out.extend(dossier_analyzers::plugins::fleet_findings(
                &info,
                found,
                &playbook.analysis,
            )),
            Err(e) => eprintln!(
                "dossier: warning: fleet analysis of plugin {} failed: {e}",
                info.name
            ),
        }
    }
    out
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> BundleError {
    BundleError::Write(format!("{}: {e}", path.display()))
}

fn write_report(path: &Path, text: &str) -> Result<(), BundleError> {
    let tmp = path.with_extension("partial");
    write_synced(&tmp, text.as_bytes()).map_err(|e| write_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| BundleError::Write(format!("{}: {e}", path.display())))
}

/// [`write_report`] without the sync: host reports, synced together by one `syncfs` of the
/// output directory's file system before the fleet report is committed.
fn write_report_unsynced(path: &Path, text: &str) -> Result<(), BundleError> {
    let tmp = path.with_extension("partial");
    let mut f = create_private(&tmp).map_err(|e| write_error(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| write_error(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| BundleError::Write(format!("{}: {e}", path.display())))
}

/// A report written under a temporary name (`*.partial`) and renamed into place once complete
/// and synced; removed if dropped before [`Pending::commit`].
struct Pending {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Pending {
    fn create(path: PathBuf) -> Result<Pending, BundleError> {
        let tmp = path.with_extension("partial");
        let f = create_private(&tmp).map_err(|e| write_error(&tmp, e))?;
        Ok(Pending {
            path,
            tmp,
            out: Some(BufWriter::with_capacity(1 << 16, f)),
        })
    }

    fn sink(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("not committed")
    }

    fn commit(mut self) -> Result<PathBuf, BundleError> {
        let out = self.out.take().expect("not committed");
        let f = out
            .into_inner()
            .map_err(|e| write_error(&self.tmp, e.error()))?;
        f.sync_all().map_err(|e| write_error(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| write_error(&self.path, e))?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An unnamed temporary file in `dir` (mode 0600; it disappears when closed).
fn scratch(dir: &Path) -> Result<File, BundleError> {
    tempfile::tempfile_in(dir).map_err(|e| write_error(dir, format!("temporary file: {e}")))
}

/// Directory names given to host reports so far.
#[derive(Default)]
struct HostDirs {
    used: HashSet<String>,
    /// Per base name, the suffix where the search for a free name starts next time.
    next: HashMap<String, usize>,
}

/// Directory of a host's report: its file-safe hostname, then `-2`, `-3`... for further
/// bundles of the same host. Starts where the previous search for the same base ended (every
/// name before it is taken and stays taken), so many bundles of one host cost no more than one.
fn host_dir(hostname: &str, dirs: &mut HostDirs) -> String {
    let base = file_safe(hostname);
    let start = dirs.next.get(&base).copied().unwrap_or(1);
    let (i, name) = (start..)
        .map(|i| {
            let name = if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            };
            (i, name)
        })
        .find(|(_, d)| dirs.used.insert(d.clone()))
        .expect("unbounded");
    dirs.next.insert(base, i + 1);
    name
}

/// What stays in memory of an analyzed bundle until the fleet report is written.
struct Indexed {
    /// Taken out (moved into the fleet writer's slice) once sorted.
    entry: Option<HostEntry>,
    bundle: PathBuf,
    report: PathBuf,
    /// Where its [`HostAnalysis`] (JSON) is in the spool.
    offset: u64,
    len: usize,
}

/// Report order: hostname, then bundle name.
fn sort_key(i: &Indexed) -> (&str, &str) {
    let e = i.entry.as_ref().expect("not taken yet");
    (&e.hostname, &e.bundle)
}

/// Verifies and analyzes `bundles`, writing reports under `out`: `DIR/<host>/report.md` for
/// each bundle, then `DIR/fleet-report.md` and `DIR/findings.json` over all of them and the
/// targets that could not be collected (`not_collected`, empty when every target gave a
/// bundle). A bundle that fails verification, or whose custody ledger (beside it, if any) is
/// broken, lacks its `created` entry or records another SHA-256, is not analyzed but listed.
pub fn analyze_bundles(
    bundles: &[PathBuf],
    playbook: &Playbook,
    registry: &Registry,
    out: &Path,
    not_collected: &[NotCollected],
    baseline: Option<&BaselineIndex>,
) -> Result<Analysis, BundleError> {
    ensure_out_dir(out)?;
    // Stacking when several bundles are analyzed together.
    let stacking = bundles.len() > 1;
    let policy = HostPolicy {
        baseline,
        inventory: stacking || baseline.is_some() || !playbook.analysis.allow.is_empty(),
        keep_inventory: stacking,
    };
    let mut stacker = Stacker::new(bundles.len());
    // Hostname and bundle of each host counted, by the number stacking knows it by.
    let mut names: Vec<(String, String)> = Vec::new();
    let limits = Limits::default();
    let mut order: Vec<&PathBuf> = bundles.iter().collect();
    order.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    let mut detail = format!(
        "playbook {} {}; dossier {}",
        playbook.name,
        playbook.sha256,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(b) = baseline {
        detail.push_str(&format!("; baseline {} {}", b.name, b.sha256));
    }
    for a in &registry.analyzers {
        let lib = a.origin_lib();
        detail.push_str(&format!(
            "; plugin {} {} {}",
            lib.name, lib.version, lib.sha256
        ));
    }
    let mut all_facts = Vec::new();
    let spool_file = scratch(out)?;
    let mut spool = BufWriter::with_capacity(1 << 16, &spool_file);
    let mut spooled = 0u64;
    let mut index: Vec<Indexed> = Vec::with_capacity(bundles.len());
    let mut unanalyzed = Vec::new();
    // Each directory's ledger as it was before this run appended to it (read before the
    // workers start; they only read it).
    let mut ledgers: HashMap<PathBuf, Option<Beside>> = HashMap::new();
    for path in &order {
        custody_of(&mut ledgers, path);
    }
    let mut appended: Vec<PathBuf> = Vec::new();
    let mut used = HostDirs::default();
    let timings = Timings::from_env();
    let work = |path: &&PathBuf| {
        examine(
            path, &limits, &ledgers, playbook, registry, &policy, &timings,
        )
    };
    let mut failed: Option<BundleError> = None;
    in_order(&order, work, |path, mut done| {
        if failed.is_some() {
            return;
        }
        if let (true, Ok(e)) = (stacking, &mut done) {
            let inv = std::mem::take(&mut e.inventory);
            let a = &e.analysis;
            stacker.add(
                names.len() as u32,
                &inv,
                a.findings.iter().chain(&a.context),
            );
            names.push((a.hostname.clone(), a.bundle.clone()));
        }
        if let Err(e) = take_result(
            path,
            done,
            &ledgers,
            &mut appended,
            &detail,
            out,
            &mut used,
            &mut spool,
            &mut spooled,
            &mut index,
            &mut unanalyzed,
            &mut all_facts,
            &timings,
        ) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    spool
        .flush()
        .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
    drop(spool);
    let stacking = stacking && stacker.hosts() > 1;
    let share = playbook.analysis.stacking.common_share.filter(|_| stacking);
    let mut common = 0;
    if let Some(share) = share {
        let hosts_with = |f: &Finding| stacker.hosts_with(f);
        let mut buf = Vec::new();
        for i in &mut index {
            buf.resize(i.len, 0);
            spool_file
                .read_exact_at(&mut buf, i.offset)
                .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
            let mut a: HostAnalysis = serde_json::from_slice(&buf)
                .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
            if !policy::apply_common(&mut a, share, stacker.hosts(), &hosts_with) {
                continue;
            }
            common += a.policy.common.len();
            policy::rescore(&mut a, &playbook.analysis);
            write_report(&i.report, &dossier_reporters::host::render(&a))?;
            let json = serde_json::to_vec(&a).map_err(|e| write_error(out, e))?;
            spool_file
                .write_all_at(&json, spooled)
                .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
            i.entry = Some(HostEntry::of(&a));
            i.offset = spooled;
            i.len = json.len();
            spooled += json.len() as u64;
        }
    }
    let summary = stacking.then(|| {
        let mut s = stacker.summary(&|h| names[h as usize].clone(), share, common);
        if let Some(base) = baseline {
            for r in &mut s.rare_persistence {
                r.known = base.knows(&r.item);
            }
        }
        s
    });
    let prevalence = |f: &Finding| stacker.hosts_with(f);

    // Stable: bundles of one host with the same file name stay in argument order.
    index.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let entries: Vec<HostEntry> = index
        .iter_mut()
        .map(|i| i.entry.take().expect("taken once"))
        .collect();
    let mut not_collected = not_collected.to_vec();
    not_collected.sort();
    let fleet_findings = fleet_phase(registry, playbook, all_facts);
    let mut reporters = PluginReporters::start(registry, playbook);

    let mut fleet = Pending::create(out.join("fleet-report.md"))?;
    let mut findings = Pending::create(out.join("findings.json"))?;
    let fleet_path = fleet.path.clone();
    let findings_path = findings.path.clone();
    let fleet_err = |e: std::io::Error| write_error(&fleet_path, e);
    let findings_err = |e: std::io::Error| write_error(&findings_path, e);
    let mut fw = FleetWriter::new(&entries);
    if let Some(s) = &summary {
        fw = fw.with_stacking(s, &prevalence);
    }
    fw.write_head(fleet.sink(), &unanalyzed, &not_collected)
        .map_err(fleet_err)?;
    let mut sections = Vec::with_capacity(5);
    for _ in 0..5 {
        sections.push(BufWriter::with_capacity(1 << 16, scratch(out)?));
    }
    let mut sections: [BufWriter<File>; 5] = sections.try_into().expect("five sections");
    let mut jw = FindingsWriter::new(findings.sink(), &fleet_findings).map_err(findings_err)?;
    if let Some(s) = &summary {
        jw = jw.with_stacking(s);
    }
    let fleet_pass = Instant::now();
    let mut buf = Vec::new();
    for i in &index {
        buf.resize(i.len, 0);
        spool_file
            .read_exact_at(&mut buf, i.offset)
            .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
        let a: HostAnalysis = serde_json::from_slice(&buf)
            .map_err(|e| write_error(out, format!("analysis spool: {e}")))?;
        fw.add(&a, &mut sections).map_err(fleet_err)?;
        jw.host(&a).map_err(findings_err)?;
        reporters.host(&a, i.report.parent().unwrap_or(out))?;
    }
    drop(spool_file);
    timings.add(Stage::Fleet, fleet_pass);
    jw.finish(&unanalyzed, &not_collected)
        .map_err(findings_err)?;
    let mut files = Vec::with_capacity(5);
    for s in sections {
        files.push(s.into_inner().map_err(|e| fleet_err(e.into_error()))?);
    }
    let mut files: [File; 5] = files.try_into().expect("five sections");
    fw.write_alerts(fleet.sink(), &mut files)
        .map_err(fleet_err)?;
    let used_reporters = reporters.finish(
        out,
        &FleetInput {
            unanalyzed: unanalyzed.clone(),
            not_collected: not_collected.clone(),
            fleet_findings: fleet_findings.clone(),
        },
    )?;
    fw.write_tail(fleet.sink(), &fleet_findings, &used_reporters)
        .map_err(fleet_err)?;
    // Host reports and ledger lines were written unsynced: make them durable before the fleet
    // report (whose presence says the run finished) is.
    let t = Instant::now();
    if let Ok(d) = File::open(out) {
        let _ = nix::unistd::syncfs(&d);
    }
    for dir in &appended {
        if let Err(e) = ledger::sync(dir) {
            eprintln!("dossier: warning: custody ledger not synced: {e}");
        }
    }
    let fleet_report = fleet.commit()?;
    let findings_json = findings.commit()?;
    sync_dir(out);
    timings.add(Stage::Sync, t);
    timings.print(index.len());
    let hosts = entries
        .into_iter()
        .zip(index)
        .map(|(e, i)| HostSummary {
            hostname: e.hostname,
            bundle: i.bundle,
            verdict: e.verdict,
            score: e.score,
            findings: e.findings,
            report: i.report,
        })
        .collect();
    Ok(Analysis {
        hosts,
        unanalyzed,
        fleet_report,
        findings_json,
    })
}

/// Most worker threads verifying and analyzing bundles.
pub const MAX_WORKERS: usize = 8;

/// Runs `work` on every item of `items` on a pool of worker threads and hands each result to
/// `take` in the order of `items`, with at most two items per worker in flight (memory stays
/// flat however many items there are).
fn in_order<I: Sync, R: Send>(
    items: &[I],
    work: impl Fn(&I) -> R + Sync,
    mut take: impl FnMut(&I, R),
) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
        .min(items.len().max(1));
    if workers == 1 {
        for it in items {
            take(it, work(it));
        }
        return;
    }
    let window = 2 * workers;
    let (task_tx, task_rx) = mpsc::channel::<usize>();
    let task_rx = Mutex::new(task_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (task_rx, work) = (&task_rx, &work);
            scope.spawn(move || {
                loop {
                    let next = task_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(i) = next else { break };
                    if done_tx.send((i, work(&items[i]))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut sent = 0;
        while sent < items.len() && sent < window {
            task_tx.send(sent).expect("workers alive");
            sent += 1;
        }
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        for i in 0..items.len() {
            let r = loop {
                if let Some(r) = waiting.remove(&i) {
                    break r;
                }
                let (j, r) = done_rx.recv().expect("a worker panicked");
                waiting.insert(j, r);
            };
            take(&items[i], r);
            if sent < items.len() {
                task_tx.send(sent).expect("workers alive");
                sent += 1;
            }
        }
        drop(task_tx);
    });
}

/// What a worker made of one bundle: its analysis and host report, or why it was refused.
type Examined = Result<Examination, (&'static str, String)>;

/// A verified bundle, analyzed, with its host report and spool entry rendered.
struct Examination {
    sha256: String,
    analysis: HostAnalysis,
    facts: HostFacts,
    /// The bundle's inventory, kept for fleet stacking (empty when not stacking).
    inventory: Vec<Seen>,
    report: String,
    /// The analysis serialized for the spool (cannot fail in practice; reported if it does).
    json: Result<Vec<u8>, String>,
}

/// What site policy and fleet context need of each host's analysis.
struct HostPolicy<'b> {
    baseline: Option<&'b BaselineIndex>,
    /// Whether the inventory is needed at all (allowlist, baseline or stacking).
    inventory: bool,
    /// Whether it is kept for stacking.
    keep_inventory: bool,
}

/// Verifies a bundle, checks it against the custody ledger beside it (as it was before this
/// run), analyzes it, applies the site allowlist and the baseline, and renders its host report
/// (worker side: nothing is written).
fn examine(
    path: &Path,
    limits: &Limits,
    ledgers: &HashMap<PathBuf, Option<Beside>>,
    playbook: &Playbook,
    registry: &Registry,
    hp: &HostPolicy<'_>,
    timings: &Timings,
) -> Examined {
    let custody = ledgers
        .get(ledger::bundle_dir(path))
        .and_then(Option::as_ref);
    let t = Instant::now();
    let opened = open_checked(path, custody, limits);
    timings.add(Stage::Open, t);
    let mut b = opened?;
    let (mut analysis, facts, inv) =
        analyze_bundle_timed(&mut b, playbook, registry, timings, hp.inventory);
    let mut moved = false;
    if !playbook.analysis.allow.is_empty() {
        let members: BTreeMap<String, String> = b
            .manifest
            .members
            .iter()
            .map(|m| (m.name.clone(), m.sha256.clone()))
            .collect();
        moved = policy::apply_allow(&mut analysis, &inv, &playbook.analysis, &members);
    }
    if let Some(base) = hp.baseline {
        moved |= policy::apply_baseline(&mut analysis, &inv, base);
    }
    if moved {
        policy::rescore(&mut analysis, &playbook.analysis);
    }
    let inventory = if hp.keep_inventory { inv } else { Vec::new() };
    let t = Instant::now();
    let report = dossier_reporters::host::render(&analysis);
    let json = serde_json::to_vec(&analysis).map_err(|e| e.to_string());
    timings.add(Stage::Render, t);
    Ok(Examination {
        sha256: b.sha256.clone(),
        analysis,
        facts,
        inventory,
        report,
        json,
    })
}

/// Main-thread side of one bundle, in bundle order: custody ledger, host report, spool.
#[allow(clippy::too_many_arguments)]
fn take_result(
    path: &Path,
    done: Examined,
    ledgers: &HashMap<PathBuf, Option<Beside>>,
    appended: &mut Vec<PathBuf>,
    detail: &str,
    out: &Path,
    used: &mut HostDirs,
    spool: &mut BufWriter<&File>,
    spooled: &mut u64,
    index: &mut Vec<Indexed>,
    unanalyzed: &mut Vec<Unanalyzed>,
    all_facts: &mut Vec<(String, String, HostFacts)>,
    timings: &Timings,
) -> Result<(), BundleError> {
    let name = ledger::bundle_name(path);
    let custody = ledgers
        .get(ledger::bundle_dir(path))
        .and_then(Option::as_ref);
    let mut record = |ev: &ledger::Event<'_>| {
        let Some(l) = custody else { return Ok(()) };
        let t = Instant::now();
        let r = ledger::append_unsynced(&l.dir, ev);
        if !appended.contains(&l.dir) {
            appended.push(l.dir.clone());
        }
        timings.add(Stage::Ledger, t);
        r.map(|_| ())
    };
    let e = match done {
        Ok(e) => e,
        Err((why, reason)) => {
            let _ = record(&ledger::Event {
                action: "analyze_refused",
                bundle: &name,
                sha256: None,
                detail: Some(why),
            });
            unanalyzed.push(Unanalyzed {
                subject: name,
                reason,
            });
            return Ok(());
        }
    };
    let a = e.analysis;
    if !e.facts.is_empty() {
        all_facts.push((a.hostname.clone(), a.bundle.clone(), e.facts));
    }
    if let Err(err) = record(&ledger::Event {
        action: "analyzed",
        bundle: &name,
        sha256: Some(&e.sha256),
        detail: Some(&format!(
            "verdict {} score {}; {detail}",
            a.verdict, a.score
        )),
    }) {
        eprintln!("dossier: warning: custody ledger not updated: {err}");
    }
    let json = e
        .json
        .map_err(|err| write_error(out, format!("analysis spool: {err}")))?;
    let t = Instant::now();
    let hdir = out.join(host_dir(&a.hostname, used));
    ensure_out_dir(&hdir)?;
    let report = hdir.join("report.md");
    write_report_unsynced(&report, &e.report)?;
    spool
        .write_all(&json)
        .map_err(|err| write_error(out, format!("analysis spool: {err}")))?;
    index.push(Indexed {
        entry: Some(HostEntry::of(&a)),
        bundle: path.to_path_buf(),
        report,
        offset: *spooled,
        len: json.len(),
    });
    *spooled += json.len() as u64;
    timings.add(Stage::Write, t);
    Ok(())
}

/// Stages of an analysis run, timed with `DOSSIER_TIMINGS=1`.
#[derive(Clone, Copy)]
enum Stage {
    /// Whole-file SHA-256, zip structure, manifest, every member decompressed and hashed.
    Open,
    /// Records members parsed into JSON values.
    Records,
    /// Typed parsing of the records (the analyzers' context).
    Context,
    /// The built-in rules (without the member reads below).
    Rules,
    /// Members read by rules (executable copies for the miner-string scan...).
    Members,
    /// Analyzer plugins.
    Plugins,
    /// Host report rendering and the analysis serialized for the spool.
    Render,
    /// Custody ledger appends.
    Ledger,
    /// Host reports and spool written.
    Write,
    /// The fleet report and findings JSON, in one pass over the spool.
    Fleet,
    /// The final syncs (file system, ledgers, fleet report, findings).
    Sync,
}

const STAGES: [(Stage, &str); 11] = [
    (Stage::Open, "open+verify"),
    (Stage::Records, "records JSON"),
    (Stage::Context, "typed parsing"),
    (Stage::Rules, "rules"),
    (Stage::Members, "member reads"),
    (Stage::Plugins, "plugins"),
    (Stage::Render, "render"),
    (Stage::Ledger, "ledger"),
    (Stage::Write, "write"),
    (Stage::Fleet, "fleet pass"),
    (Stage::Sync, "final sync"),
];

/// Time spent per [`Stage`] (nanoseconds, summed over threads), when enabled.
struct Timings {
    on: bool,
    start: Instant,
    nanos: [AtomicU64; 11],
}

impl Timings {
    fn from_env() -> Timings {
        Timings {
            on: std::env::var_os("DOSSIER_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0"),
            start: Instant::now(),
            nanos: Default::default(),
        }
    }

    fn add(&self, stage: Stage, since: Instant) {
        if self.on {
            self.add_nanos(stage, since.elapsed().as_nanos() as u64);
        }
    }

    fn add_nanos(&self, stage: Stage, n: u64) {
        if self.on {
            self.nanos[stage as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// One line on stderr: `dossier: timings: N bundles in W ms wall; stage T ms, ...`.
    fn print(&self, bundles: usize) {
        if !self.on {
            return;
        }
        let parts: Vec<String> = STAGES
            .iter()
            .map(|(s, name)| {
                format!(
                    "{name} {:.1}",
                    self.nanos[*s as usize].load(Ordering::Relaxed) as f64 / 1e6
                )
            })
            .collect();
        eprintln!(
            "dossier: timings: {bundles} bundles in {:.1} ms wall; ms per stage (summed over workers): {}",
            self.start.elapsed().as_secs_f64() * 1e3,
            parts.join(", ")
        );
    }
}

/// The plugin reporters a playbook enables, for one analysis run. A reporter that fails is
/// reported on stderr and dropped; the others and the built-in reports go on.
struct PluginReporters<'r> {
    active: Vec<(&'r crate::plugins::PluginReporter, PluginUse)>,
}

impl<'r> PluginReporters<'r> {
    fn start(registry: &'r Registry, playbook: &Playbook) -> PluginReporters<'r> {
        let mut active = Vec::new();
        for (name, config) in &playbook.reporters {
            let Some(r) = registry.reporters.iter().find(|r| &r.info.name == name) else {
                continue;
            };
            let mut rep = r.reporter.lock().unwrap_or_else(|e| e.into_inner());
            match rep.configure(config) {
                Ok(()) => active.push((r, use_of("reporter", name, rep.origin_lib()))),
                Err(e) => eprintln!("dossier: warning: reporter {name} failed: {e}"),
            }
        }
        PluginReporters { active }
    }

    fn write(dir: &Path, file: &Option<String>, doc: Option<String>) -> Result<(), BundleError> {
        if let (Some(f), Some(doc)) = (file, doc) {
            write_report(&dir.join(f), &doc)?;
        }
        Ok(())
    }

    fn host(&mut self, a: &HostAnalysis, dir: &Path) -> Result<(), BundleError> {
        let mut failed = Vec::new();
        for (i, (r, _)) in self.active.iter().enumerate() {
            let doc = r.reporter.lock().unwrap_or_else(|e| e.into_inner()).host(a);
            match doc {
                Ok(doc) => Self::write(dir, &r.info.host_file, doc)?,
                Err(e) => {
                    eprintln!("dossier: warning: reporter {} failed: {e}", r.info.name);
                    failed.push(i);
                }
            }
        }
        for i in failed.into_iter().rev() {
            self.active.remove(i);
        }
        Ok(())
    }

    fn finish(self, out: &Path, fleet: &FleetInput) -> Result<Vec<PluginUse>, BundleError> {
        let mut used = Vec::new();
        for (r, u) in self.active {
            let mut rep = r.reporter.lock().unwrap_or_else(|e| e.into_inner());
            match rep.finish(fleet) {
                Ok(doc) => {
                    Self::write(out, &r.info.fleet_file, doc)?;
                    used.push(u);
                }
                Err(e) => eprintln!("dossier: warning: reporter {} failed: {e}", r.info.name),
            }
            if let Err(e) = rep.close() {
                eprintln!("dossier: warning: {e}");
            }
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_dirs_are_unique_whatever_the_hostnames() {
        let mut dirs = HostDirs::default();
        let got: Vec<String> = ["a", "a-2", "a", "a", "b", "a-2"]
            .iter()
            .map(|h| host_dir(h, &mut dirs))
            .collect();
        assert_eq!(got, ["a", "a-2", "a-3", "a-4", "b", "a-2-2"]);
    }

    #[test]
    fn targets_not_collected_reach_both_reports_and_no_scratch_file_remains() {
        let d = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles");
        for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
            std::fs::copy(fixtures.join(f), d.path().join(f)).unwrap();
        }
        let registry = Registry::builtin();
        let playbook = crate::playbook::load(None, &registry).unwrap();
        let nc = [
            NotCollected {
                target: "web09".into(),
                outcome: "timed_out".into(),
                reason: "no answer within 10 s".into(),
            },
            NotCollected {
                target: "db01".into(),
                outcome: "host_key_refused".into(),
                reason: "the host key changed".into(),
            },
        ];
        let out = d.path().join("rep");
        let r = analyze_bundles(
            &[d.path().join("esxi-web01-snapshot.zip")],
            &playbook,
            &registry,
            &out,
            &nc,
            None,
        )
        .unwrap();
        assert_eq!(r.hosts.len(), 1);
        assert!(r.unanalyzed.is_empty());
        let fleet = std::fs::read_to_string(&r.fleet_report).unwrap();
        assert!(
            fleet.contains("**Targets not collected:** 2 (host_key_refused: 1, timed_out: 1)")
                && fleet.contains(
                    "- `db01`: host_key_refused: the host key changed\n- `web09`: timed_out"
                ),
            "{fleet}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&r.findings_json).unwrap()).unwrap();
        assert_eq!(json["not_collected"].as_array().unwrap().len(), 2);
        assert_eq!(json["not_collected"][0]["target"], "db01");
        assert_eq!(json["hosts"][0]["hostname"], "esxi-web01");
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["esxi-web01", "findings.json", "fleet-report.md"]);
    }

    #[test]
    fn worker_results_are_taken_in_item_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut got = Vec::new();
        in_order(
            &items,
            |&i| {
                // Uneven work so results come back out of order.
                std::thread::sleep(std::time::Duration::from_micros((i * 37) % 500));
                i * 2
            },
            |&i, r| got.push((i, r)),
        );
        assert_eq!(got, items.iter().map(|&i| (i, i * 2)).collect::<Vec<_>>());
        let mut none = Vec::new();
        in_order(&[] as &[u64], |&i| i, |_, r| none.push(r));
        assert!(none.is_empty());
    }
}
