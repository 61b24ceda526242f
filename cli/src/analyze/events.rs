//! The events stage of an analysis run: import bundles (written by `dossier import`) are
//! verified like any bundle, then their events (`records/events.jsonl`) go, in the order of
//! their own times, through one run of the event rules (`dossier_analyzers::events`), so that
//! a brute force in one source and the logon that follows it in another are seen together,
//! and a process is known before the file it writes. The events of every import bundle are
//! read on the main thread into an external sort ([`crate::extsort`]: memory bounded by its
//! budget, the rest in an unnamed temporary file in the output directory), then streamed
//! through the rules: nothing of an import bundle is held but the sort's budget and the
//! rules' bounded state. Equal times are ordered by the event's bytes, so the alerts do not
//! depend on the order of the bundles. The one import bundle of a run whose events come in
//! time order skips the sort: its events go through the rules on a thread of their own as
//! they are read, in the order the sort would give ([`stream`]).
//!
//! Once every bundle is analyzed, [`finish`] correlates: an alert's indicators (hash, address,
//! path, account) are looked up in the findings of the triage bundles of the same run (read
//! back from the spool) and in the other devices' alerts. It writes `DIR/events-report.md`
//! and `DIR/events.json` (the seed's fleet alert report, see `dossier_reporters::events`),
//! adds an *Imported events* section to the host report of each device that also has a triage
//! bundle (the same host: name compared case-insensitively, FQDN or short, see
//! [`host_key`]) and writes a host report of its own for a device with events only, and gives
//! the fleet report a summary paragraph.

use super::error::{AnalyzeError, ReportError};
use super::files::{HostDirs, host_dir, write_report_unsynced};
use super::spool::{Indexed, Spool};
use crate::extsort::{Sorter, time_key};
use crate::import::{COLLECTOR, PLAYBOOK};
use dossier_analyzers::events::{EventAlert, EventAnalysis, host_key};
use dossier_bundle::fsio::ensure_out_dir;
use dossier_bundle::reader::Bundle;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{Ioc, Message, Severity};
use dossier_plugin_api::attack;
use dossier_reporters::events::{
    AlertView, DeviceView, EventsReport, EvidenceView, RoutineView, SCHEMA, SCHEMA_VERSION,
    SourceView, TechniqueView,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod stream;

/// The records member of imported events.
pub(crate) const EVENTS_MEMBER: &str = "records/events.jsonl";
/// Longest line of it read (an event with a long script is a few hundred KiB).
const MAX_LINE: usize = 16 << 20;
/// Unreadable lines named one by one per bundle (the rest are counted).
const NAMED_ERRORS: usize = 20;
/// Triage findings shown per indicator in an alert's *Seen in other sources*.
const RELATED_PER_IOC: usize = 4;
/// Memory of the sort of imported events (the rest goes to a temporary file).
const SORT_BUDGET: usize = 64 << 20;

/// Whether a verified bundle is an import bundle (its manifest names the `import`
/// pseudo-playbook and its collector is the import collector).
pub(crate) fn is_import(b: &Bundle) -> bool {
    b.manifest.playbook.name == PLAYBOOK
        && b.manifest.collectors.iter().any(|c| c.name == COLLECTOR)
}

/// The import bundles of a run: their events, sorted by time, then through the rules.
pub(crate) struct Imports {
    sorter: Sorter,
    /// The output directory (where the sort spills; for errors).
    dir: PathBuf,
    /// The first error writing the sort's temporary file.
    spill_error: Option<String>,
    sources: Vec<SourceView>,
    /// Lines of `records/events.jsonl` that are not events (should not happen in a bundle that
    /// verifies; reported, never silently skipped).
    pub(crate) errors: Vec<String>,
    /// The bundles (names as the sorted lines end) refused after their events were taken:
    /// their lines are dropped at the end of the sort.
    refused: BTreeSet<String>,
    /// Whether the first import bundle may stream (no other can be one: see [`stream`]),
    /// whether one was taken, and the one that streamed.
    direct_ok: bool,
    taken_any: bool,
    direct: Option<stream::Direct>,
    /// The stream's reorder window ([`stream::WINDOW`]; smaller in tests).
    window: usize,
}

/// The time of an event line, read without the rest of the event.
#[derive(serde::Deserialize)]
struct EventTime<'a> {
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
}

/// The sort key of an event time; a time that does not parse sorts last (the rules see the
/// event, with no time to place it by).
fn time_key_of(time: &str) -> String {
    match Timestamp::parse(time) {
        Some(t) => {
            let dt = t.datetime();
            time_key(dt.timestamp(), dt.timestamp_subsec_nanos())
        }
        None => "f".repeat(crate::extsort::KEY_LEN),
    }
}

/// The time of an event line as `dossier import` writes it (`{"time":"...",` first, a
/// time has no escape), without reading the rest of the line; None for any other line,
/// which is then read with [`EventTime`]. The rest of the line is read (and a line that is
/// not an event reported) when the rules read it.
fn leading_time(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(br#"{"time":""#)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' || !matches!(rest.get(end + 1), Some(b',' | b'}')) {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

impl Imports {
    /// No import bundle yet; the sort spills into `dir` (the output directory).
    pub(crate) fn new(dir: &Path) -> Imports {
        Imports {
            sorter: Sorter::new(dir, SORT_BUDGET),
            dir: dir.to_path_buf(),
            spill_error: None,
            sources: Vec::new(),
            errors: Vec::new(),
            refused: BTreeSet::new(),
            direct_ok: false,
            taken_any: false,
            direct: None,
            window: stream::WINDOW,
        }
    }

    /// Lets the first import bundle stream when none of the `order` but one can be an
    /// import bundle ([`stream::may_import`]).
    pub(crate) fn allow_direct(&mut self, order: &[&PathBuf]) {
        self.direct_ok = order.iter().filter(|p| stream::may_import(p)).count() <= 1;
    }

    /// Whether any import bundle was taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Reads the events of the verified import bundle `b` (file name `name`) into the sort;
    /// returns (events, unreadable lines). Each event's origin names the bundle, so the report
    /// can say where every piece of evidence is. The events member's check was deferred to
    /// this read ([`super::open::open_checked_streaming`]): when it differs from the manifest,
    /// the events taken are dropped again and the bundle is refused (the error).
    ///
    /// The one import bundle of a run ([`Imports::allow_direct`]) goes straight through the
    /// rules on a thread of their own when its events come in time order ([`stream`]).
    pub(crate) fn take(&mut self, mut b: Box<Bundle>, name: &str) -> Result<(u64, u64), String> {
        // The bundle's name is written after the line (a JSON line never holds a raw tab), so
        // that events of one time sort by their own bytes, whatever the order of the bundles.
        let tail_name = name.replace(['\t', '\n'], " ");
        let first = !std::mem::replace(&mut self.taken_any, true);
        if let Some(d) = self.direct.take() {
            // Another import bundle after all: the first one's events go into the sort too.
            self.replay(d);
        }
        // The other large members (the source files) are checked on the other core
        // meanwhile.
        let apart = b.spawn_deferred(EVENTS_MEMBER);
        let mut errors = Vec::new();
        let mut direct = None;
        if first && self.direct_ok {
            let mut s = stream::Stream::start(self.window);
            let read =
                stream::read_events(&mut b, name, &tail_name, &mut errors, &mut |k| s.push(k));
            if s.ordered() {
                direct = Some((s.finish(), read));
            } else {
                errors.clear();
            }
        }
        let (running, (events, mut bad, read)) = match direct {
            Some((running, read)) => (Some(running), read),
            None => {
                let (sorter, spill_error) = (&mut self.sorter, &mut self.spill_error);
                let read =
                    stream::read_events(&mut b, name, &tail_name, &mut errors, &mut |keyed| {
                        if spill_error.is_none()
                            && let Err(err) = sorter.push(keyed)
                        {
                            *spill_error = Some(err.to_string());
                        }
                        true
                    });
                (None, read)
            }
        };
        self.errors.append(&mut errors);
        let apart = apart.map_or(Ok(()), |h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        // A read that failed before the member's check (or skipped it): checked now.
        if let Err(e) = apart.and_then(|()| b.verify_deferred()) {
            self.refused.insert(tail_name);
            return Err(format!(
                "{}: verification failed: {e} (read as it was analyzed)",
                b.path.display()
            ));
        }
        let ended = read.as_ref().err().map(ToString::to_string);
        if let Err(e) = read {
            bad += 1;
            if bad as usize <= NAMED_ERRORS {
                self.errors.push(format!("{name}: {e}"));
            }
        }
        if bad as usize > NAMED_ERRORS {
            self.errors.push(format!(
                "{name}: {} more unreadable lines not listed",
                bad as usize - NAMED_ERRORS
            ));
        }
        self.sources.push(SourceView {
            bundle: name.to_string(),
            sha256: b.sha256.clone(),
            events,
        });
        if let Some(rules) = running {
            self.direct = Some(stream::Direct {
                rules,
                bundle: b,
                name: name.to_string(),
                tail_name,
                ended,
            });
        }
        Ok((events, bad))
    }

    /// The events of the bundle that went straight through the rules, read again into the
    /// sort (its rules are dropped). A bundle that no longer reads as it did (changed since)
    /// fails the run.
    fn replay(&mut self, d: stream::Direct) {
        let stream::Direct {
            rules,
            mut bundle,
            name,
            tail_name,
            ended,
        } = d;
        drop(rules);
        let (sorter, spill_error) = (&mut self.sorter, &mut self.spill_error);
        let (_, _, read) =
            stream::read_events(&mut bundle, &name, &tail_name, &mut Vec::new(), &mut |k| {
                if spill_error.is_none()
                    && let Err(err) = sorter.push(k)
                {
                    *spill_error = Some(err.to_string());
                }
                true
            });
        let again = read.as_ref().err().map(ToString::to_string);
        if again != ended && self.spill_error.is_none() {
            self.spill_error = Some(format!(
                "{}: changed while it was analyzed: {}",
                bundle.path.display(),
                again.unwrap_or_default()
            ));
        }
    }

    /// Every event taken, in time order, through the event rules.
    fn analyze(self) -> Result<(EventAnalysis, Vec<SourceView>, Vec<String>), AnalyzeError> {
        if let Some(e) = self.spill_error {
            return Err(AnalyzeError::spool(&self.dir, e));
        }
        let mut rules = match self.direct {
            Some(d) => d.rules.join(),
            None => {
                let mut rules = stream::Rules::new(self.refused);
                self.sorter
                    .finish(&mut rules)
                    .map_err(|e| AnalyzeError::spool(&self.dir, e))?;
                rules
            }
        };
        let mut errors = self.errors;
        errors.append(&mut rules.errors);
        if rules.bad as usize > NAMED_ERRORS {
            errors.push(format!(
                "{} more lines that are not events not listed",
                rules.bad as usize - NAMED_ERRORS
            ));
        }
        Ok((rules.analyzer.finish(), self.sources, errors))
    }
}

/// What a triage finding is, as an alert's *Seen in other sources* names it: in English (the
/// line of events.json, also the order) and as a catalogue message.
type Mention = (String, Message);

/// The indicators of the triage bundles' findings (above informational), keyed by
/// [`ioc_key`], and the command-like ones (cron commands, configuration lines) to look paths
/// up in.
#[derive(Default)]
struct TriageIocs {
    exact: BTreeMap<String, BTreeSet<Mention>>,
    commands: Vec<(String, Mention)>,
}

/// The key two sources' indicators are compared by: kind and value, addresses without a
/// port, hashes in lower case.
fn ioc_key(i: &Ioc) -> Option<String> {
    Some(match i {
        Ioc::Sha256(h) => format!("sha256:{}", h.to_ascii_lowercase()),
        Ioc::Path(p) => format!("path:{p}"),
        Ioc::Account(a) => format!("account:{a}"),
        Ioc::Address(a) => format!("address:{}", bare_address(a)),
        _ => return None,
    })
}

/// `203.0.113.45` of `203.0.113.45:4444`, `[2001:db8::1]:22` or `2001:db8::1`.
fn bare_address(a: &str) -> String {
    if let Ok(s) = a.parse::<std::net::SocketAddr>() {
        return s.ip().to_string();
    }
    if let Ok(ip) = a.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    a.to_string()
}

/// Collects the indicators of every triage host's findings from the spool.
fn triage_iocs(index: &[Indexed], spool: &Spool) -> Result<TriageIocs, AnalyzeError> {
    let mut t = TriageIocs::default();
    let mut buf = Vec::new();
    for i in index {
        let a = spool.read(i, &mut buf)?;
        for f in a.findings.iter().filter(|f| f.severity > Severity::Info) {
            let mention = (
                format!(
                    "{} triage ({}): {} {} ({}): {}",
                    a.hostname,
                    a.bundle,
                    f.severity.label(),
                    f.rule,
                    f.title,
                    f.subject
                ),
                Message::new("events.related.triage")
                    .text("host", &a.hostname)
                    .text("bundle", &a.bundle)
                    .msg(
                        "severity",
                        Message::new(severity_id("severity", f.severity)),
                    )
                    .text("rule", &f.rule)
                    .msg("title", title_message(&f.rule, &f.title))
                    .text("subject", &f.subject),
            );
            for ioc in &f.iocs {
                match ioc {
                    Ioc::CronCommand(c) | Ioc::ConfigLine(c) => {
                        t.commands.push((c.clone(), mention.clone()));
                    }
                    _ => {
                        if let Some(k) = ioc_key(ioc) {
                            let set = t.exact.entry(k).or_default();
                            if set.len() < RELATED_PER_IOC {
                                set.insert(mention.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(t)
}

/// What the events stage wrote, for the fleet report and the command's summary.
pub(crate) struct EventsDone {
    pub(crate) report: PathBuf,
    pub(crate) json: PathBuf,
    /// The fleet report's paragraph.
    pub(crate) summary: String,
    pub(crate) alerts: usize,
    pub(crate) events: u64,
}

/// The triage host reports of the run, by [`host_key`]: (hostname, bundle file name, report).
fn triage_hosts(index: &[Indexed]) -> BTreeMap<String, Vec<(String, String, PathBuf)>> {
    let mut m: BTreeMap<String, Vec<(String, String, PathBuf)>> = BTreeMap::new();
    for i in index {
        let e = i.entry.as_ref().expect("not taken yet");
        m.entry(host_key(&e.hostname)).or_default().push((
            e.hostname.clone(),
            e.bundle.clone(),
            i.report.clone(),
        ));
    }
    m
}

/// Correlates, writes the events report, JSON and host sections. `index` is in report order
/// (entries not taken yet).
pub(crate) fn finish(
    out: &Path,
    imports: Imports,
    index: &[Indexed],
    spool: &Spool,
    dirs: &mut HostDirs,
    lang: &dossier_i18n::Catalog,
) -> Result<Option<EventsDone>, AnalyzeError> {
    if imports.is_empty() {
        return Ok(None);
    }
    let (analysis, mut sources, errors) = imports.analyze()?;
    let triage = triage_iocs(index, spool)?;
    let hosts = triage_hosts(index);
    sources.sort_by(|a, b| a.bundle.cmp(&b.bundle));
    let report = view(&analysis, sources, &triage, &hosts);
    let md = render_with_errors(&report, &errors, lang);
    let report_path = out.join("events-report.md");
    write_report_unsynced(&report_path, &md)?;
    let json_path = out.join("events.json");
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| ReportError::write(&json_path, e))?;
    write_report_unsynced(&json_path, &(json + "\n"))?;
    host_sections(out, &report, &analysis, &hosts, dirs, lang)?;
    Ok(Some(EventsDone {
        summary: dossier_reporters::events::fleet_paragraph(&report, lang),
        alerts: report.alerts.len(),
        events: report.events_analyzed,
        report: report_path,
        json: json_path,
    }))
}

/// The Markdown report, with the lines that could not be read, if any.
fn render_with_errors(
    report: &EventsReport,
    errors: &[String],
    lang: &dossier_i18n::Catalog,
) -> String {
    let mut md = dossier_reporters::events::render(report, lang);
    md.push_str(&dossier_reporters::events::unreadable(errors, lang));
    md
}

/// `LOW`... as the events report names severities.
fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The report of an analysis: alerts above informational numbered in order, each with its
/// correlations.
fn view(
    analysis: &EventAnalysis,
    sources: Vec<SourceView>,
    triage: &TriageIocs,
    hosts: &BTreeMap<String, Vec<(String, String, PathBuf)>>,
) -> EventsReport {
    let listed: Vec<&EventAlert> = analysis
        .alerts
        .iter()
        .filter(|a| a.severity > Severity::Info)
        .collect();
    let ids: Vec<String> = (1..=listed.len())
        .map(|n| format!("ALERT-{n:03}"))
        .collect();
    // Indicator key → (alert index, device key) of every listed alert, for cross-device links.
    let mut by_ioc: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, a) in listed.iter().enumerate() {
        for k in a.indicators.iter().filter_map(ioc_key) {
            by_ioc.entry(k).or_default().push(n);
        }
    }
    let alerts = listed
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let (related, related_messages) = related(n, &listed, &ids, &by_ioc, triage)
                .into_iter()
                .unzip();
            AlertView {
                id: ids[n].clone(),
                rule: a.rule.to_string(),
                title: a.title.clone(),
                severity: severity_label(a.severity).to_string(),
                category: a.category.label().to_string(),
                techniques: a
                    .techniques
                    .iter()
                    .map(|t| TechniqueView {
                        id: t.to_string(),
                        name: attack::name(t).unwrap_or("").to_string(),
                    })
                    .collect(),
                description: format!("{}\n\n_{}: {}_", a.explanation, a.rule, a.description),
                description_message: Some(described(a)),
                evidence: evidence(a),
                risk: a.risk.clone(),
                risk_message: Some(a.risk_message.clone()),
                related,
                related_messages,
                indicators: a.indicators.clone(),
            }
        })
        .collect::<Vec<_>>();
    let mut alerts_per: BTreeMap<String, u64> = BTreeMap::new();
    for a in &listed {
        *alerts_per.entry(host_key(&a.host)).or_default() += 1;
    }
    let devices = analysis
        .devices
        .iter()
        .map(|(k, d)| DeviceView {
            device: d.name.clone(),
            events: d.events,
            alerts: alerts_per.get(k).copied().unwrap_or(0),
            triage_bundle: hosts.get(k).map(|v| {
                v.iter()
                    .map(|(_, b, _)| b.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        })
        .collect();
    EventsReport {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        period_start: analysis.first_time.clone().unwrap_or_default(),
        period_end: analysis.last_time.clone().unwrap_or_default(),
        events_analyzed: analysis.events,
        highest_severity: analysis
            .highest()
            .filter(|s| *s > Severity::Info)
            .map_or("NONE", severity_label)
            .to_string(),
        alert_ratio: analysis.alert_ratio(),
        informational: (analysis.alerts.len() - listed.len()) as u64,
        routine: analysis
            .alerts
            .iter()
            .filter(|a| a.severity <= Severity::Info)
            .map(|a| RoutineView {
                rule: a.rule.to_string(),
                title: a.title.clone(),
                category: a.category.label().to_string(),
                device: a.host.clone(),
                first_time: a.first_time.clone(),
                events: a.count,
                techniques: a.techniques.iter().map(|t| t.to_string()).collect(),
            })
            .collect(),
        devices,
        sources,
        alerts,
    }
}

/// The evidence of an alert: its first event's time, action, source and key fields, and where
/// each event kept is.
/// What an alert's event did (its explanation's message when the rule family gives one),
/// then its rule's description, as a catalogue message.
fn described(a: &EventAlert) -> Message {
    let explained = match &a.explanation_message {
        Some(m) => Message::new("events.alert.described").msg("explanation", m.clone()),
        None => Message::new("events.alert.described").text("explanation", &a.explanation),
    };
    explained.text("rule", a.rule).msg(
        "description",
        Message::new(format!("event-rule.{}.description", a.rule)),
    )
}

fn evidence(a: &EventAlert) -> EvidenceView {
    let first = a.evidence.first();
    EvidenceView {
        time: a.first_time.clone(),
        last_time: (a.count > 1).then(|| a.last_time.clone()),
        device: a.host.clone(),
        action_type: first.map(|e| e.action.clone()).unwrap_or_default(),
        source: first.map(|e| e.source.clone()).unwrap_or_default(),
        fields: first.map(|e| e.fields.clone()).unwrap_or_default(),
        origins: a
            .evidence
            .iter()
            .map(|e| format!("{}, {}", e.origin.file, e.origin.record))
            .collect(),
        events: a.count,
    }
}

/// The catalogue id of a severity's label in table `table` (`severity.high`,
/// `events.severity.informational`).
fn severity_id(table: &str, s: Severity) -> String {
    let key = match s {
        Severity::Info if table == "events.severity" => "informational",
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    };
    format!("{table}.{key}")
}

/// A rule's title as a message: the catalogue's `rule.<id>.title` for built-in and event
/// rules, else (a plugin's rule) the title it carries, as it is.
fn title_message(rule: &str, title: &str) -> Message {
    let id = format!("rule.{rule}.title");
    if dossier_i18n::catalog(dossier_i18n::Lang::En)
        .get(&id)
        .is_some()
    {
        Message::new(id)
    } else {
        Message::new("events.related.as-is").text("text", title)
    }
}

/// *Seen in other sources* of alert `n`: triage findings sharing one of its indicators (a
/// path also where a triage cron command or configuration line names it), then the other
/// devices' alerts sharing one; each in English (sorted by it) and as a catalogue message.
fn related(
    n: usize,
    listed: &[&EventAlert],
    ids: &[String],
    by_ioc: &BTreeMap<String, Vec<usize>>,
    triage: &TriageIocs,
) -> Vec<(String, Message)> {
    let a = listed[n];
    let mut out: BTreeMap<String, Message> = BTreeMap::new();
    let on = |kind: &str, value: &str, what: Message| {
        Message::new("events.related.on")
            .msg("kind", Message::new(format!("events.ioc.{kind}")))
            .text("value", value)
            .msg("what", what)
    };
    for ioc in &a.indicators {
        let Some(k) = ioc_key(ioc) else { continue };
        let shown = ioc.value();
        for (line, m) in triage.exact.get(&k).into_iter().flatten() {
            out.entry(format!("{} `{shown}`: {line}", ioc.kind()))
                .or_insert_with(|| on(ioc.kind(), &shown, m.clone()));
        }
        if let Ioc::Path(p) = ioc {
            for (cmd, (line, m)) in &triage.commands {
                if names_path(cmd, p) {
                    out.entry(format!("path `{p}`: {line}"))
                        .or_insert_with(|| on("path", p, m.clone()));
                }
            }
        }
        let me = host_key(&a.host);
        for &other in by_ioc.get(&k).into_iter().flatten() {
            let o = listed[other];
            if other != n && host_key(&o.host) != me {
                let what = Message::new("events.related.events")
                    .text("host", &o.host)
                    .text("id", &ids[other])
                    .msg("title", title_message(o.rule, &o.title))
                    .msg(
                        "severity",
                        Message::new(severity_id("events.severity", o.severity)),
                    );
                out.entry(format!(
                    "{} `{shown}`: {} events: {} {} ({})",
                    ioc.kind(),
                    o.host,
                    ids[other],
                    o.title,
                    severity_label(o.severity)
                ))
                .or_insert_with(|| on(ioc.kind(), &shown, what));
            }
        }
    }
    // A line whose message does not say the same in English (a finding whose title is not
    // its rule's) is shown as it is in every language.
    let en = dossier_i18n::catalog(dossier_i18n::Lang::En);
    out.into_iter()
        .map(|(line, m)| {
            if en.render(&m) == line {
                (line, m)
            } else {
                let m = Message::new("events.related.as-is").text("text", &line);
                (line, m)
            }
        })
        .collect()
}

/// Whether command `cmd` names `path` as a word (not `/tmp/.x/syncd2` for `/tmp/.x/syncd`).
fn names_path(cmd: &str, path: &str) -> bool {
    cmd.match_indices(path).any(|(i, _)| {
        let after = cmd[i + path.len()..].chars().next();
        let before = cmd[..i].chars().next_back();
        !after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
            && !before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

/// Adds each device's section to the host report of its triage bundles, or writes a host
/// report of its own for a device with events only.
fn host_sections(
    out: &Path,
    r: &EventsReport,
    analysis: &EventAnalysis,
    hosts: &BTreeMap<String, Vec<(String, String, PathBuf)>>,
    dirs: &mut HostDirs,
    lang: &dossier_i18n::Catalog,
) -> Result<(), AnalyzeError> {
    for (key, d) in analysis.devices.keys().zip(&r.devices) {
        let mine: Vec<&AlertView> = r
            .alerts
            .iter()
            .filter(|a| host_key(&a.evidence.device) == *key)
            .collect();
        let section = dossier_reporters::events::device_section(r, d, &mine, lang);
        match hosts.get(key) {
            Some(reports) => {
                for (_, _, path) in reports {
                    let mut text =
                        std::fs::read_to_string(path).map_err(|e| ReportError::write(path, e))?;
                    text.push_str(&section);
                    write_report_unsynced(path, &text)?;
                }
            }
            None => {
                let hdir = out.join(host_dir(&d.device, dirs));
                ensure_out_dir(&hdir).map_err(ReportError::OutDir)?;
                let text = dossier_reporters::events::events_only_host(d, &section, lang);
                write_report_unsynced(&hdir.join("report.md"), &text)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_without_ports_and_hashes_without_case() {
        assert_eq!(
            ioc_key(&Ioc::Address("203.0.113.45:4444".into())),
            ioc_key(&Ioc::Address("203.0.113.45".into()))
        );
        assert_eq!(
            ioc_key(&Ioc::Address("[2001:db8::1]:22".into())).unwrap(),
            "address:2001:db8::1"
        );
        assert_eq!(
            ioc_key(&Ioc::Sha256("AB".into())),
            ioc_key(&Ioc::Sha256("ab".into()))
        );
        assert_eq!(ioc_key(&Ioc::Pid(3)), None);
    }

    fn alert(host: &str, severity: Severity, iocs: Vec<Ioc>) -> EventAlert {
        EventAlert {
            rule: "event-test",
            title: format!("test on {host}"),
            category: dossier_analyzers::events::Category::Execution,
            severity,
            techniques: vec!["T1105"],
            description: "rule text".into(),
            explanation: "this event".into(),
            risk: "risk".into(),
            risk_message: Message::new("event-risk.server"),
            explanation_message: None,
            host: host.into(),
            first_time: "2026-11-20T02:10:00Z".into(),
            last_time: "2026-11-20T02:10:00Z".into(),
            count: 1,
            evidence: Vec::new(),
            indicators: iocs,
            subject: host.to_string(),
        }
    }

    #[test]
    fn alerts_are_linked_to_triage_findings_and_other_devices_by_indicator() {
        let analysis = EventAnalysis {
            alerts: vec![
                alert(
                    "web1",
                    Severity::High,
                    vec![
                        Ioc::Path("/tmp/.x/syncd".into()),
                        Ioc::Address("203.0.113.45".into()),
                    ],
                ),
                alert(
                    "DB1.corp.example",
                    Severity::High,
                    vec![Ioc::Address("203.0.113.45:4444".into())],
                ),
                alert(
                    "web1",
                    Severity::Info,
                    vec![Ioc::Address("203.0.113.45".into())],
                ),
            ],
            events: 10,
            ..Default::default()
        };
        let mut triage = TriageIocs::default();
        triage.commands.push((
            "*/5 * * * * root /tmp/.x/syncd".into(),
            (
                "web1 triage (web1.zip): HIGH cron-x (Cron): /etc/cron.d/syncd".into(),
                Message::new("events.related.triage")
                    .text("host", "web1")
                    .text("bundle", "web1.zip")
                    .msg("severity", Message::new("severity.high"))
                    .text("rule", "cron-x")
                    .msg("title", title_message("cron-x", "Cron"))
                    .text("subject", "/etc/cron.d/syncd"),
            ),
        ));
        let r = view(&analysis, Vec::new(), &triage, &BTreeMap::new());
        assert_eq!(r.alerts.len(), 2, "informational alerts are not listed");
        assert_eq!(r.informational, 1);
        assert_eq!(r.routine.len(), 1);
        assert_eq!(r.alerts[0].techniques[0].name, "Ingress Tool Transfer");
        let rel = &r.alerts[0].related;
        assert!(
            rel.iter()
                .any(|x| x.starts_with("path `/tmp/.x/syncd`: web1 triage")),
            "{rel:?}"
        );
        assert!(
            rel.iter()
                .any(|x| x.contains("`203.0.113.45`: DB1.corp.example events: ALERT-002")),
            "{rel:?}"
        );
        // Each line has its message, which says the same in English and names the rule by
        // its title in Chinese when the catalogue has one (not the plugin-like `cron-x`).
        let (en, zh) = (
            dossier_i18n::catalog(dossier_i18n::Lang::En),
            dossier_i18n::catalog(dossier_i18n::Lang::ZhCn),
        );
        let msgs = &r.alerts[0].related_messages;
        assert_eq!(msgs.len(), rel.len());
        for (line, m) in rel.iter().zip(msgs) {
            assert_eq!(&en.render(m), line);
        }
        let zh_lines: Vec<String> = msgs.iter().map(|m| zh.render(m)).collect();
        assert!(
            zh_lines
                .iter()
                .any(|l| l == "路径 `/tmp/.x/syncd`：web1 取证证据包（web1.zip）：高危 cron-x（Cron）：/etc/cron.d/syncd"),
            "{zh_lines:?}"
        );
        // The informational alert on web1 is not a link, and an alert is not its own.
        assert_eq!(r.alerts[1].related.len(), 1, "{:?}", r.alerts[1].related);
        assert!((r.alert_ratio - 0.2).abs() < 1e-9);
    }

    #[test]
    fn the_leading_time_is_read_only_as_import_writes_it() {
        let line = br#"{"time":"2025-11-20T00:00:00.032Z","host":"web1"}"#;
        assert_eq!(leading_time(line), Some("2025-11-20T00:00:00.032Z"));
        assert_eq!(leading_time(br#"{"time":"t"}"#), Some("t"));
        // Anything else is read by serde: an escape, another first key, spaces, no end.
        for other in [
            &br#"{"time":"2025\u002d11","host":"h"}"#[..],
            br#"{"host":"h","time":"2025-11-20T00:00:00Z"}"#,
            br#"{ "time":"2025-11-20T00:00:00Z"}"#,
            br#"{"time":"2025-11-20T00:00:00Z"x"#,
            br#"{"time":"2025-11-20"#,
            br#"{"time":1}"#,
        ] {
            assert_eq!(
                leading_time(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        // Where serde reads a time too, it is the same.
        let t = serde_json::from_slice::<EventTime<'_>>(line).unwrap().time;
        assert_eq!(leading_time(line), Some(t.as_ref()));
    }

    #[test]
    fn a_path_is_named_by_a_command_only_as_a_whole_word() {
        assert!(names_path(
            "*/5 * * * * root /tmp/.x/syncd >/dev/null",
            "/tmp/.x/syncd"
        ));
        assert!(names_path("/tmp/.x/syncd", "/tmp/.x/syncd"));
        assert!(!names_path("/tmp/.x/syncd2 -d", "/tmp/.x/syncd"));
        assert!(!names_path("/var/tmp/.x/syncd", "/tmp/.x/syncd"));
    }
}
