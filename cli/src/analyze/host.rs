//! The analysis of one host: a verified bundle's records go through the built-in rules, then
//! the analyzer plugins, then site policy (allowlist, baseline); the worker side of a run
//! ([`examine`]) also renders the host report, so the main thread only writes.

use super::open::{Ledgers, Refusal, custody_in, open_checked_streaming};
use super::timings::{Stage, Timings};
use crate::playbook::Playbook;
use crate::plugins::{Registry, use_of};
use dossier_analyzers::baseline::BaselineIndex;
use dossier_analyzers::{BundleInput, Header, analyze, completeness, inventory, policy};
use dossier_bundle::crypt::Identities;
use dossier_bundle::manifest::CollectorRun;
use dossier_bundle::reader::{Bundle, Limits};
use dossier_plugin_api::analysis::{HostAnalysis, PluginUse};
use dossier_plugin_api::analyzer::{AnalysisInput, CollectorState, NumberedRecord};
use dossier_plugin_api::policy::Seen;
use dossier_plugin_api::{Analyzer, CollectorStatus};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Largest records member read.
const MAX_RECORDS: u64 = 1 << 30;

/// Fleet facts of one host, by analyzer (index in the registry).
pub type HostFacts = Vec<(usize, serde_json::Value)>;

/// Records by collector, with their line numbers.
type RecordsBy = BTreeMap<String, Vec<(usize, serde_json::Value)>>;

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

/// The input of an analyzer plugin: the records of the collectors it reads, and every member
/// of the bundle (a raw copy may be shared with another collector that read the same file).
fn plugin_input(
    b: &Bundle,
    header: &Header,
    reads: &[String],
    states: &BTreeMap<String, CollectorState>,
    records: &RecordsBy,
) -> AnalysisInput {
    let mut input = AnalysisInput {
        hostname: header.hostname.clone(),
        bundle: header.bundle.clone(),
        bundle_sha256: header.bundle_sha256.clone(),
        target: header.target.clone(),
        live: header.live,
        collectors: states.clone(),
        records: BTreeMap::new(),
        members: member_hashes(b),
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
    input
}

/// Member name → SHA-256, for every member of the bundle.
fn member_hashes(b: &Bundle) -> BTreeMap<String, String> {
    b.manifest
        .members
        .iter()
        .map(|m| (m.name.clone(), m.sha256.clone()))
        .collect()
}

/// What the records members of a bundle gave.
struct RecordsRead {
    /// Collector name → (status, error and summary of its issues).
    collectors: BTreeMap<String, (CollectorStatus, String)>,
    /// Collector name → why its data is incomplete.
    incomplete: BTreeMap<String, String>,
    /// Collector name → its detail and reason as catalogue messages.
    health: BTreeMap<String, completeness::HealthMessages>,
    records: RecordsBy,
    /// Malformed record lines and unreadable records members.
    errors: Vec<String>,
}

/// Reads the records of every collector run of the bundle, with each collector's health.
fn read_records(b: &mut Bundle, runs: &[CollectorRun]) -> RecordsRead {
    let mut read = RecordsRead {
        collectors: BTreeMap::new(),
        incomplete: BTreeMap::new(),
        health: BTreeMap::new(),
        records: BTreeMap::new(),
        errors: Vec::new(),
    };
    for run in runs {
        // The detail summarizes all issues; what makes the data incomplete (not mere churn such
        // as a process that exited) marks the rules that need it as evaluated on partial data.
        let health = completeness::health(run.status, run.error.as_deref(), &run.issues);
        if let Some(why) = health.incomplete {
            read.incomplete.insert(run.name.clone(), why);
        }
        read.collectors
            .insert(run.name.clone(), (run.status, health.detail));
        read.health.insert(run.name.clone(), health.messages);
        match b.records(&run.name, MAX_RECORDS) {
            Ok((recs, bad)) => {
                read.records.insert(run.name.clone(), recs);
                read.errors.extend(bad);
            }
            Err(e) => read.errors.push(e.to_string()),
        }
    }
    read
}

/// The state of each collector as analyzer plugins see it.
fn collector_states(
    collectors: &BTreeMap<String, (CollectorStatus, String)>,
) -> BTreeMap<String, CollectorState> {
    collectors
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
        .collect()
}

/// The plugin collectors that wrote the bundle, for the reports.
fn used_collectors(runs: &[CollectorRun]) -> Vec<PluginUse> {
    runs.iter()
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
        .collect()
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
    analyze_bundle_timed(b, playbook, registry, &Timings::off(), want_inventory)
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
    let runs = b.manifest.collectors.clone();
    let read = read_records(b, &runs);
    timings.add(Stage::Records, t_records);
    let states = collector_states(&read.collectors);
    let plugin_inputs: Vec<AnalysisInput> = registry
        .analyzers
        .iter()
        .map(|a| plugin_input(b, &header, &a.info().reads, &states, &read.records))
        .collect();
    let members = member_hashes(b);
    let member_nanos = AtomicU64::new(0);
    let mut reader = |name: &str, cap: u64| {
        let t = Instant::now();
        let r = b.read_member(name, cap).map_err(|e| e.to_string());
        if timings.on {
            member_nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        r
    };
    let mut input = BundleInput {
        header,
        collectors: read.collectors,
        incomplete: read.incomplete,
        health: read.health,
        records: read.records,
        members,
        read_member: &mut reader,
        record_errors: read.errors,
    };
    let mut a = run_rules(&mut input, playbook, timings, &member_nanos);
    a.plugins = used_collectors(&runs);
    let t_plugins = Instant::now();
    let facts = run_plugins(&mut a, &mut input, plugin_inputs, playbook, registry);
    timings.add(Stage::Plugins, t_plugins);
    let inv = if want_inventory {
        inventory::inventory(&input, &a)
    } else {
        Vec::new()
    };
    (a, facts, inv)
}

/// The built-in rules over `input`, timed apart from the member reads they make.
fn run_rules(
    input: &mut BundleInput<'_>,
    playbook: &Playbook,
    timings: &Timings,
    member_nanos: &AtomicU64,
) -> HostAnalysis {
    let mut context = 0;
    if timings.on {
        // Measured apart (the engine builds its own, counted here and not under rules): the
        // typed parsing of the records.
        let t = Instant::now();
        drop(std::hint::black_box(dossier_analyzers::context::Ctx::new(
            input,
        )));
        context = t.elapsed().as_nanos() as u64;
        timings.add_nanos(Stage::Context, context);
    }
    let t_rules = Instant::now();
    let a = analyze(input, &playbook.analysis);
    let members_read = member_nanos.swap(0, Ordering::Relaxed);
    let rules = (t_rules.elapsed().as_nanos() as u64).saturating_sub(members_read + context);
    timings.add_nanos(Stage::Rules, rules);
    timings.add_nanos(Stage::Members, members_read);
    a
}

/// The analyzer plugins of `registry`, each on its input: their findings merged into `a`,
/// their fleet facts returned.
fn run_plugins(
    a: &mut HostAnalysis,
    input: &mut BundleInput<'_>,
    plugin_inputs: Vec<AnalysisInput>,
    playbook: &Playbook,
    registry: &Registry,
) -> HostFacts {
    let mut facts = Vec::new();
    let mut members = Members(&mut *input.read_member);
    for (i, (an, pin)) in registry.analyzers.iter().zip(plugin_inputs).enumerate() {
        let info = an.info();
        let used = use_of("analyzer", &info.name, an.origin_lib());
        let result = an.analyze(&pin, &mut members).map_err(|e| e.0);
        if let Some(f) = dossier_analyzers::plugins::merge(
            a,
            &info,
            used,
            result,
            &input.collectors,
            &input.incomplete,
            &input.health,
            &playbook.analysis,
        ) {
            facts.push((i, f));
        }
    }
    facts
}

/// Bundle members for analyzer plugins, read through the bundle reader (hash re-checked).
struct Members<'r, 'a>(&'r mut dossier_analyzers::engine::MemberReader<'a>);

impl dossier_plugin_api::analyzer::MemberReader for Members<'_, '_> {
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        (self.0)(name, cap)
    }
}

/// What a worker made of one bundle: its analysis and host report, or why it was refused.
pub(crate) type Examined = Result<Done, Refusal>;

/// What a worker made of a bundle that verified.
pub(crate) enum Done {
    /// A triage bundle, analyzed.
    Host(Box<Examination>),
    /// An import bundle, verified: its events go through the event rules on the main thread
    /// (one run over every import bundle, see [`super::events`]).
    Import(Box<Bundle>),
}

/// A verified bundle, analyzed, with its host report and spool entry rendered.
pub(crate) struct Examination {
    pub(crate) sha256: String,
    pub(crate) analysis: HostAnalysis,
    pub(crate) facts: HostFacts,
    /// The bundle's inventory, kept for fleet stacking (empty when not stacking).
    pub(crate) inventory: Vec<Seen>,
    pub(crate) report: String,
    /// The analysis serialized for the spool (cannot fail in practice; reported if it does).
    pub(crate) json: Result<Vec<u8>, String>,
}

/// What site policy and fleet context need of each host's analysis.
pub(crate) struct HostPolicy<'b> {
    pub(crate) baseline: Option<&'b BaselineIndex>,
    /// Whether the inventory is needed at all (allowlist, baseline or stacking).
    pub(crate) inventory: bool,
    /// Whether it is kept for stacking.
    pub(crate) keep_inventory: bool,
}

/// What one worker needs to examine bundles.
pub(crate) struct Examiner<'r> {
    pub(crate) limits: Limits,
    /// Decrypt encrypted bundles (`--identity`).
    pub(crate) identities: &'r Identities,
    pub(crate) ledgers: &'r Ledgers,
    pub(crate) playbook: &'r Playbook,
    pub(crate) registry: &'r Registry,
    pub(crate) policy: HostPolicy<'r>,
    pub(crate) timings: &'r Timings,
}

impl Examiner<'_> {
    /// Verifies a bundle, checks it against the custody ledger beside it (as it was before
    /// this run), analyzes it, applies the site allowlist and the baseline, and renders its
    /// host report (worker side: nothing is written).
    pub(crate) fn examine(&self, path: &Path) -> Examined {
        let (playbook, timings) = (self.playbook, self.timings);
        let custody = custody_in(self.ledgers, path);
        let t = Instant::now();
        let opened = open_checked_streaming(path, custody, &self.limits, self.identities);
        timings.add(Stage::Open, t);
        let mut b = opened?;
        if super::events::is_import(&b) {
            return Ok(Done::Import(Box::new(b)));
        }
        let (mut analysis, facts, inv) = analyze_bundle_timed(
            &mut b,
            playbook,
            self.registry,
            timings,
            self.policy.inventory,
        );
        self.apply_policy(&b, &mut analysis, &inv);
        let inventory = if self.policy.keep_inventory {
            inv
        } else {
            Vec::new()
        };
        let t = Instant::now();
        let report =
            dossier_reporters::host::render(&analysis, dossier_i18n::catalog(playbook.report.lang));
        let json = serde_json::to_vec(&analysis).map_err(|e| e.to_string());
        timings.add(Stage::Render, t);
        Ok(Done::Host(Box::new(Examination {
            sha256: b.sha256.clone(),
            analysis,
            facts,
            inventory,
            report,
            json,
        })))
    }

    /// The site allowlist and the baseline: findings they match leave the score.
    fn apply_policy(&self, b: &Bundle, analysis: &mut HostAnalysis, inv: &[Seen]) {
        let cfg = &self.playbook.analysis;
        let mut moved = false;
        if !cfg.allow.is_empty() {
            moved = policy::apply_allow(analysis, inv, cfg, &member_hashes(b));
        }
        if let Some(base) = self.policy.baseline {
            moved |= policy::apply_baseline(analysis, inv, base);
        }
        if moved {
            policy::rescore(analysis, cfg);
        }
    }
}
