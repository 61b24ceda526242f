//! Event rules: what imported telemetry (Defender for Endpoint exports, audit logs, the
//! journal; see `dossier_events`) shows a host *doing*, as explained alerts with ATT&CK ids.
//!
//! Streaming: [`EventAnalyzer::push`] takes one event at a time (in time order), keeps
//! bounded state (windows per host and peer for brute force, per parent process for
//! discovery bursts, the processes seen, files downloaded, processes of the intrusion; at
//! most [`MAX_EVIDENCE`] evidence events per alert) and [`EventAnalyzer::finish`] gives the
//! [`EventAnalysis`]. Repeats of the same thing (same rule, host and subject) fold into one
//! alert with a count, so a benign-heavy day never becomes an alert storm.
//!
//! Every alert has a [`Category`] from a small fixed taxonomy, a severity (routine activity
//! such as sysstat collection or an EDR's inventory scripts is [`Severity::Info`] or
//! [`Severity::Low`], never high), the rule's description, an explanation of this event, a
//! risk assessment of this event and the indicators ([`Ioc`]) it shares with other sources.
//!
//! This module is the streaming driver: it resolves each event's process ancestry
//! ([`view`]), hands the event to the rule families and folds their hits into alerts. The
//! rules themselves are in [`catalog`] (the table: id, title, category, severity, ATT&CK ids,
//! description) and one module per family: [`exec`] (download and execute, reverse shells,
//! encoded commands, unusual locations, connections from them, and the routine scripts of
//! monitoring and security agents), [`credentials`], [`discovery`], [`evasion`] (log and
//! history clearing), [`persistence`], [`privilege`] and [`logons`] (new sources, brute
//! force). What a command line does is judged by the snapshot rules' content detectors
//! ([`crate::rules::content`]), so that a unit, a cron entry and an executed command are held
//! to the same standard.

pub mod catalog;
pub mod credentials;
pub mod discovery;
pub mod evasion;
pub mod exec;
pub mod logons;
pub mod persistence;
pub mod privilege;
#[cfg(test)]
mod tests;
pub mod view;

pub use catalog::{EVENT_RULES, EventRule};

use dossier_events::{Event, EventRef, Origin};
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use view::{Lineage, View};

/// At most this many alerts are kept (distinct rule, host and subject); past it only High
/// and Critical ones are still added (up to twice as many), the rest counted in
/// [`EventAnalysis::suppressed`]. Folding makes this a bound for hostile input, not a
/// number a real day reaches.
pub const MAX_ALERTS: usize = 10_000;

/// At most this many indicators are kept per alert.
pub const MAX_INDICATORS: usize = 32;

/// At most this many evidence events are kept per alert (the count says how many there were).
pub const MAX_EVIDENCE: usize = 8;

/// The fixed alert taxonomy (documented in ARCHITECTURE.md, "Event categories").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Execution,
    CommandAndControl,
    CredentialAccess,
    Discovery,
    DefenseEvasion,
    Persistence,
    PrivilegeEscalation,
    InitialAccess,
    Impact,
    SystemMonitoring,
    SoftwareInventory,
}

impl Category {
    /// Every category, in documentation order.
    pub const ALL: [Category; 11] = [
        Category::Execution,
        Category::CommandAndControl,
        Category::CredentialAccess,
        Category::Discovery,
        Category::DefenseEvasion,
        Category::Persistence,
        Category::PrivilegeEscalation,
        Category::InitialAccess,
        Category::Impact,
        Category::SystemMonitoring,
        Category::SoftwareInventory,
    ];

    /// How reports name it (`Command and Control`).
    pub fn label(self) -> &'static str {
        match self {
            Category::Execution => "Execution",
            Category::CommandAndControl => "Command and Control",
            Category::CredentialAccess => "Credential Access",
            Category::Discovery => "Discovery",
            Category::DefenseEvasion => "Defense Evasion",
            Category::Persistence => "Persistence",
            Category::PrivilegeEscalation => "Privilege Escalation",
            Category::InitialAccess => "Initial Access",
            Category::Impact => "Impact",
            Category::SystemMonitoring => "System Monitoring",
            Category::SoftwareInventory => "Software Inventory / Security Scanning",
        }
    }
}

/// One event behind an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceEvent {
    /// The event's own time.
    pub time: String,
    /// The device as the source names it.
    pub host: String,
    /// The event's action (`ScriptContent`, `EXECVE`, `logon_failed`...).
    pub action: String,
    /// `defender-csv DeviceEvents`, `audit SYSCALL`, `journal sshd`.
    pub source: String,
    /// Key fields, in display order (`Command`, `Script`, `Remote`, `File`, `Account`...).
    pub fields: Vec<(String, String)>,
    /// Where the event is in its source file.
    pub origin: Origin,
}

/// One alert: one rule, one host, one subject, however many events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventAlert {
    /// Rule id (`event-download-exec`).
    pub rule: &'static str,
    pub title: String,
    /// What the alert is about (a command, a file, an address, an account): with the rule
    /// and the host, what repeats fold on.
    pub subject: String,
    pub category: Category,
    pub severity: Severity,
    /// ATT&CK ids (names via `dossier_plugin_api::attack::name`).
    pub techniques: Vec<&'static str>,
    /// What the rule looks for (the rule's text).
    pub description: String,
    /// What this event did, in this alert's words.
    pub explanation: String,
    /// The explanation as a catalogue message (`event-said.*`), when the rule family gives
    /// one (not yet every family does: the report shows the English `explanation` then).
    #[serde(skip)]
    pub explanation_message: Option<Message>,
    /// A risk assessment of this event.
    pub risk: String,
    /// The risk assessment as a catalogue message (`event-risk.*`), for reports in the
    /// responder's language; the rule's description is `event-rule.<rule>.description`.
    #[serde(skip)]
    pub risk_message: Message,
    /// The device (as the first event names it).
    pub host: String,
    pub first_time: String,
    pub last_time: String,
    /// How many events the alert covers.
    pub count: u64,
    /// The first [`MAX_EVIDENCE`] of them.
    pub evidence: Vec<EvidenceEvent>,
    /// Hashes, addresses, paths and accounts, for correlation with other sources.
    pub indicators: Vec<Ioc>,
}

/// Events seen on one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeviceCount {
    /// The name the first event gave.
    pub name: String,
    pub events: u64,
}

/// The result of a run of the event rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventAnalysis {
    /// Sorted: severity (worst first), then first time, host, rule.
    pub alerts: Vec<EventAlert>,
    pub events: u64,
    /// Earliest and latest event time (RFC 3339 as the events give it).
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// Per device, keyed by [`host_key`].
    pub devices: BTreeMap<String, DeviceCount>,
    /// Alerts not kept because [`MAX_ALERTS`] was reached (0 on any real input).
    pub suppressed: u64,
}

impl EventAnalysis {
    /// Alerts above informational per event analyzed (0 when there were none).
    pub fn alert_ratio(&self) -> f64 {
        let n = self
            .alerts
            .iter()
            .filter(|a| a.severity > Severity::Info)
            .count();
        if self.events == 0 {
            0.0
        } else {
            n as f64 / self.events as f64
        }
    }

    /// The worst alert's severity.
    pub fn highest(&self) -> Option<Severity> {
        self.alerts.iter().map(|a| a.severity).max()
    }
}

/// The key that says two names are the same host: lower case, the first label of a DNS name
/// (`WAZUH1.x.internal.cloudapp.net` → `wazuh1`), an IP address as it is.
pub fn host_key(name: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.parse::<std::net::IpAddr>().is_ok() {
        return n;
    }
    n.split('.').next().unwrap_or("").to_string()
}

/// What a rule family found in one event: folded into an alert by rule, host and subject.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub rule: &'static str,
    pub severity: Severity,
    pub subject: String,
    /// A title more specific than the rule's (`Cron persistence written`).
    pub title: Option<String>,
    /// The techniques of this hit when narrower than the rule's.
    pub techniques: Option<Vec<&'static str>>,
    /// The explanation in English; None for one given as a catalogue message, rendered
    /// only when an alert keeps it (most hits fold into an alert that keeps its own).
    pub explanation: Option<String>,
    pub explanation_message: Option<Message>,
    /// The risk assessment (rendered in English, as the explanation, only when kept).
    pub risk_message: Message,
    /// Fields shown first in this event's evidence (the matched line, the decoded text).
    pub fields: Vec<(String, String)>,
    pub indicators: Vec<Ioc>,
    /// Earlier events that belong to the hit (a window's failures, a burst's commands).
    pub earlier: Vec<EvidenceEvent>,
    /// How many events the hit stands for (1 unless it carries a window).
    pub count: u64,
    /// The hit's first time when earlier events belong to it.
    pub first_time: Option<String>,
    /// Whether this event's own evidence is added (a window's own bookkeeping may have
    /// added it already).
    pub own_evidence: bool,
}

impl Hit {
    pub fn new(
        rule: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        explanation: impl Into<String>,
        risk: Message,
    ) -> Hit {
        Hit {
            rule,
            severity,
            subject: subject.into(),
            title: None,
            techniques: None,
            explanation: Some(explanation.into()),
            explanation_message: None,
            risk_message: risk,
            fields: Vec::new(),
            indicators: Vec::new(),
            earlier: Vec::new(),
            count: 1,
            first_time: None,
            own_evidence: true,
        }
    }

    /// A hit whose explanation is a catalogue message (its English rendering is kept).
    pub fn said(
        rule: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        explanation: Message,
        risk: Message,
    ) -> Hit {
        let mut h = Hit::new(rule, severity, subject, String::new(), risk);
        h.explanation = None;
        h.explanation_message = Some(explanation);
        h
    }

    pub fn field(mut self, k: &str, v: impl Into<String>) -> Hit {
        self.fields.push((k.to_string(), v.into()));
        self
    }

    pub fn iocs(mut self, iocs: impl IntoIterator<Item = Ioc>) -> Hit {
        for i in iocs {
            if !self.indicators.contains(&i) {
                self.indicators.push(i);
            }
        }
        self
    }

    pub fn techniques(mut self, t: Vec<&'static str>) -> Hit {
        self.techniques = Some(t);
        self
    }

    pub fn title(mut self, t: impl Into<String>) -> Hit {
        self.title = Some(t.into());
        self
    }
}

/// The English catalogue (what alerts keep in their English fields).
pub(crate) fn catalog_en() -> &'static dossier_i18n::Catalog {
    dossier_i18n::catalog(dossier_i18n::Lang::En)
}

/// A sentence of an alert as a catalogue message: `id` with its arguments as text
/// (accounts, paths, addresses, host names: never translated).
pub(crate) fn say(id: &str, args: &[(&str, &dyn std::fmt::Display)]) -> Message {
    crate::context::what(id, args)
}

/// Who an event ran as: the account, or the words "an unknown account".
pub(crate) fn who_arg(v: &View) -> Arg {
    match v.user() {
        Some(u) => Arg::Text(u.to_string()),
        None => Arg::Message(Message::new("event-said.unknown-account")),
    }
}

/// ` (parent LABEL)` after an actor, or nothing.
pub(crate) fn parent_arg(v: &View) -> Arg {
    match v.ancestors.first() {
        Some(p) => Arg::Message(Message::new("event-said.parent").arg("process", process_arg(p))),
        None => Arg::Text(String::new()),
    }
}

/// A process as [`view::ProcInfo::label`] names it (`/usr/bin/bash (pid 4187)`).
pub(crate) fn process_arg(p: &view::ProcInfo) -> Arg {
    let what = match p.exe.as_deref().or(p.name.as_deref()) {
        Some(w) => Arg::Text(w.to_string()),
        None => Arg::Message(Message::new("event-said.unknown-process")),
    };
    match p.pid {
        Some(pid) => Arg::Message(
            Message::new("event-said.process")
                .arg("what", what)
                .text("pid", pid),
        ),
        None => what,
    }
}

/// The server to block: the host of a URL, or the words "the server".
pub(crate) fn server(host: Option<&String>) -> Arg {
    match host {
        Some(h) => Arg::Text(h.clone()),
        None => Arg::Message(Message::new("event-risk.server")),
    }
}

/// Adds an argument built elsewhere (a text or a message) to a message.
pub(crate) trait ArgExt {
    fn arg(self, name: &str, a: Arg) -> Message;
}

impl ArgExt for Message {
    fn arg(mut self, name: &str, a: Arg) -> Message {
        self.args.insert(name.to_string(), a);
        self
    }
}

/// Indicators an event carries by itself: the acting program's path and hash (when it is
/// in an unusual place), the file's hash, the remote address.
pub(crate) fn event_iocs(v: &View) -> Vec<Ioc> {
    let mut out = Vec::new();
    if let Some(p) = &v.ev.process {
        if let Some(exe) = &p.exe
            && crate::rules::common::unusual_location(exe).is_some()
        {
            out.push(Ioc::Path(exe.to_string()));
            out.extend(p.sha256.as_deref().map(|h| Ioc::Sha256(h.to_string())));
        }
    }
    out.extend(
        v.ev.file_sha256
            .as_deref()
            .map(|h| Ioc::Sha256(h.to_string())),
    );
    if let Some(a) = v.ev.peer.as_ref().and_then(|p| p.addr.as_deref())
        && !view::private_addr(a)
    {
        out.push(Ioc::Address(a.to_string()));
    }
    out
}

/// Per-family state, all bounded.
#[derive(Default)]
struct State {
    lineage: Lineage,
    taint: view::Taint,
    exec: exec::State,
    discovery: discovery::State,
    logons: logons::State,
}

/// The streaming analyzer.
#[derive(Default)]
pub struct EventAnalyzer {
    analysis: EventAnalysis,
    /// By (host key, rule, subject).
    alerts: BTreeMap<AlertKey, EventAlert>,
    state: State,
    /// Host keys numbered, for the per-process state.
    hosts: std::collections::HashMap<String, u32>,
    /// The last event's host and its key.
    last_host: Option<(String, String)>,
}

impl EventAnalyzer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event. Time windows use the events' own times, but what earlier events
    /// taught (process ancestry, files a download wrote, processes of the intrusion, the
    /// addresses known for an account) is only known to later ones: give the events in time
    /// order (per host; a merge of the sources by time), as an investigator reads them.
    pub fn push(&mut self, event: &Event) {
        self.push_ref(&EventRef::from(event));
    }

    /// Takes one event as [`EventAnalyzer::push`] does, borrowed (read from its JSON line
    /// without copying its text).
    pub fn push_ref(&mut self, event: &EventRef<'_>) {
        self.push_in(event, None);
    }

    /// [`EventAnalyzer::push_ref`] of an event read from the bundle named `bundle`: its
    /// evidence names the bundle before the origin's file (`BUNDLE: FILE`), as an event whose
    /// origin file said so would.
    pub fn push_ref_from(&mut self, event: &EventRef<'_>, bundle: &str) {
        self.push_in(event, Some(bundle));
    }

    fn push_in(&mut self, event: &EventRef<'_>, bundle: Option<&str>) {
        let a = &mut self.analysis;
        a.events += 1;
        // Events come in runs of one host: its key is made once per run.
        if self
            .last_host
            .as_ref()
            .is_none_or(|(h, _)| *h != *event.host)
        {
            self.last_host = Some((event.host.to_string(), host_key(&event.host)));
        }
        let hk = self.last_host.as_ref().map_or("", |(_, k)| k.as_str());
        let d = match a.devices.get_mut(hk) {
            Some(d) => d,
            None => a.devices.entry(hk.to_string()).or_default(),
        };
        if d.name.is_empty() {
            d.name = event.host.to_string();
        }
        d.events += 1;
        if a.first_time
            .as_deref()
            .is_none_or(|t| event.time.as_str() < t)
        {
            a.first_time = Some(event.time.to_string());
        }
        match &mut a.last_time {
            Some(t) if event.time.as_str() > t.as_str() => {
                t.clear();
                t.push_str(&event.time);
            }
            Some(_) => {}
            None => a.last_time = Some(event.time.to_string()),
        }
        let next = u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
        let host = match self.hosts.get(hk) {
            Some(&h) => h,
            None => *self.hosts.entry(hk.to_string()).or_insert(next),
        };
        let st = &mut self.state;
        let mut view = View::new(event, hk, host, &st.lineage);
        view.bundle = bundle;
        view.taint = st.taint.of(host, &view);
        let mut hits = Vec::new();
        exec::check(&view, &mut st.exec, &mut hits);
        credentials::check(&view, &mut hits);
        discovery::check(&view, &mut st.discovery, &mut hits);
        evasion::check(&view, &mut hits);
        persistence::check(&view, &mut hits);
        privilege::check(&view, &mut hits);
        logons::check(&view, &mut st.logons, &mut hits);
        taint(&mut st.taint, host, &view, &hits);
        for h in hits {
            fold(&mut self.alerts, &mut self.analysis.suppressed, &view, h);
        }
        st.lineage.record(host, event);
    }
}

/// A hit's explanation in English: the one it was given, or its message rendered.
fn english(explanation: Option<String>, message: Option<&Message>) -> String {
    match explanation {
        Some(e) => e,
        None => message.map_or_else(String::new, |m| catalog_en().render(m)),
    }
}

/// Marks the processes of an event that raised a High or Critical alert as the intruder's,
/// and what tainted processes start.
fn taint(t: &mut view::Taint, host: u32, v: &View, hits: &[Hit]) {
    let pid = v.proc.as_ref().and_then(|p| p.pid);
    let worst = hits
        .iter()
        .filter(|h| h.severity >= Severity::High)
        .max_by_key(|h| h.severity);
    if let Some(h) = worst {
        let title = catalog::rule(h.rule).map_or(h.rule, |r| r.title);
        let why = format!("{title} ({}) on {}", h.subject, v.ev.time);
        if let Some(pid) = pid {
            t.mark(host, pid, why.clone());
        }
        // The shell that started it is the one the intruder types in.
        if (v.is_exec() || v.is_sudo_command())
            && let Some(parent) = v.ancestors.first()
            && let Some(ppid) = parent.pid
            && matches!(
                parent.base(),
                "bash" | "sh" | "dash" | "zsh" | "ksh" | "ash"
            )
        {
            t.mark(host, ppid, why);
        }
    } else if let (Some(why), Some(pid), true) = (&v.taint, pid, v.is_exec()) {
        t.mark(host, pid, why.clone());
    }
}

type AlertKey = (String, &'static str, String);

/// Adds a hit to its alert (rule, host, subject), or makes the alert.
fn fold(alerts: &mut BTreeMap<AlertKey, EventAlert>, suppressed: &mut u64, v: &View, mut h: Hit) {
    let key = (v.hk.to_string(), h.rule, h.subject.clone());
    // This event's own evidence is built only when the alert has room for it (a folded
    // alert of a routine rule is full after its first few events).
    let own = |evidence: &[EvidenceEvent]| {
        (h.own_evidence && evidence.len() < MAX_EVIDENCE).then(|| v.evidence(&h.fields))
    };
    if let Some(a) = alerts.get_mut(&key) {
        a.count += h.count;
        let first = h.first_time.as_deref().unwrap_or(&v.ev.time);
        if first < a.first_time.as_str() {
            a.first_time = first.to_string();
        }
        if *v.ev.time > *a.last_time {
            a.last_time = v.ev.time.to_string();
        }
        if h.severity > a.severity {
            a.severity = h.severity;
            a.explanation = english(h.explanation.take(), h.explanation_message.as_ref());
            a.explanation_message = h.explanation_message;
            a.risk = catalog_en().render(&h.risk_message);
            a.risk_message = h.risk_message;
            if let Some(t) = h.title {
                a.title = t;
            }
        }
        for e in h.earlier {
            if a.evidence.len() < MAX_EVIDENCE && !a.evidence.contains(&e) {
                a.evidence.push(e);
            }
        }
        if let Some(e) = own(&a.evidence)
            && !a.evidence.contains(&e)
        {
            a.evidence.push(e);
        }
        for i in h.indicators {
            if a.indicators.len() < MAX_INDICATORS && !a.indicators.contains(&i) {
                a.indicators.push(i);
            }
        }
        return;
    }
    let limit = if h.severity >= Severity::High {
        2 * MAX_ALERTS
    } else {
        MAX_ALERTS
    };
    if alerts.len() >= limit {
        *suppressed += 1;
        return;
    }
    let Some(rule) = catalog::rule(h.rule) else {
        debug_assert!(false, "rule {} not in the catalog", h.rule);
        return;
    };
    let mut evidence: Vec<EvidenceEvent> = Vec::new();
    for e in h.earlier {
        if evidence.len() < MAX_EVIDENCE && !evidence.contains(&e) {
            evidence.push(e);
        }
    }
    if let Some(e) = own(&evidence)
        && !evidence.contains(&e)
    {
        evidence.push(e);
    }
    let mut indicators = h.indicators;
    indicators.truncate(MAX_INDICATORS);
    let alert = EventAlert {
        rule: rule.id,
        title: h.title.unwrap_or_else(|| rule.title.to_string()),
        subject: h.subject,
        category: rule.category,
        severity: h.severity,
        techniques: h.techniques.unwrap_or_else(|| rule.techniques.to_vec()),
        description: rule.description.to_string(),
        explanation: english(h.explanation.take(), h.explanation_message.as_ref()),
        explanation_message: h.explanation_message,
        risk: catalog_en().render(&h.risk_message),
        risk_message: h.risk_message,
        host: v.ev.host.to_string(),
        first_time: h.first_time.unwrap_or_else(|| v.ev.time.to_string()),
        last_time: v.ev.time.to_string(),
        count: h.count,
        evidence,
        indicators,
    };
    alerts.insert(key, alert);
}

impl EventAnalyzer {
    /// The alerts, sorted: severity (worst first), first time, host, rule, subject.
    pub fn finish(self) -> EventAnalysis {
        let mut analysis = self.analysis;
        let alerts = self.alerts;
        // An address whose guessing led to a logon is reported once, by the worse rule.
        let succeeded: std::collections::BTreeSet<(&str, &str)> = alerts
            .keys()
            .filter(|(_, r, _)| *r == "event-brute-force-success")
            .map(|(h, _, s)| (h.as_str(), s.as_str()))
            .collect();
        let superseded: Vec<(String, &'static str, String)> = alerts
            .keys()
            .filter(|(h, r, s)| {
                *r == "event-brute-force" && succeeded.contains(&(h.as_str(), s.as_str()))
            })
            .cloned()
            .collect();
        let mut alerts = alerts;
        for k in superseded {
            alerts.remove(&k);
        }
        let mut list: Vec<EventAlert> = alerts.into_values().collect();
        // Every run of the tests checks the alerts' catalogue messages (issue 18).
        #[cfg(test)]
        for a in &list {
            assert!(a.explanation_message.is_some(), "{}: no message", a.rule);
            let said = a.explanation_message.iter().chain([&a.risk_message]);
            if let Err(e) = said
                .map(crate::testkit::check_said)
                .collect::<Result<Vec<_>, _>>()
            {
                panic!("{}: {e}", a.rule);
            }
        }
        list.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.first_time.cmp(&b.first_time))
                .then_with(|| a.host.cmp(&b.host))
                .then_with(|| a.rule.cmp(b.rule))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        analysis.alerts = list;
        analysis
    }
}

/// Runs the event rules over `events`.
pub fn analyze_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> EventAnalysis {
    let mut a = EventAnalyzer::new();
    for e in events {
        a.push(e);
    }
    a.finish()
}
