//! Elastic Common Schema (ECS 9.4.0) documents, one per finding, written as NDJSON.
//!
//! Exported: every behaviour finding of every host (informational ones too: `event.severity`
//! says how bad each is), every context finding linked to a behaviour finding (standing alone
//! it is not an alert; `rule.category` is `context`), every fleet-level finding of an
//! analyzer plugin, and every alert of imported events (see [`crate::events`]). Each document
//! has:
//!
//! - `@timestamp`: when the bundle's collection finished (the state it shows is as of then),
//!   in milliseconds; for a fleet finding, the latest collection among its hosts. `ecs.version`
//!   ([`ECS_VERSION`]).
//! - `event.kind` `alert`, `event.category` (`intrusion_detection`, plus `process` when it
//!   names a PID, `file` a path or hash, `network` an address or port, `configuration` a unit,
//!   cron command or configuration line, `iam` an account), `event.type` `info` (a snapshot
//!   shows state, not a change: `info` is an expected type of each of those categories),
//!   `event.severity` and `event.risk_score` (info 1, low 21, medium 47, high 73, critical
//!   99, the bands of Elastic's detection rules), `event.id` (UUIDv5 of the bundle's SHA-256
//!   and the finding), `event.module` `dossier`, `event.dataset` `dossier.finding` or
//!   `dossier.fleet_finding`, `event.reason` (the explanation), `event.original` (the finding
//!   as `findings.json` has it, evidence included), `message` (title: explanation).
//! - `host.name`, `host.hostname`, `host.os.type` `linux`, `host.os.full`, `host.os.kernel`;
//!   `observer.vendor`/`observer.product` `dossier`.
//! - `rule.id`, `rule.name` (title), `rule.ruleset` `dossier`, `rule.category` (`behaviour`
//!   or `context`).
//! - `threat.framework` `MITRE ATT&CK`, `threat.technique.id`/`name`/`reference` (the parent
//!   technique of a sub-technique), `threat.technique.subtechnique.*`, `threat.tactic.id`/
//!   `name`/`reference` (the tactics of the techniques).
//! - From the IOCs: with a PID, `process.pid` and the first path as `process.executable`,
//!   `process.name` and its SHA-256 as `process.hash.sha256`; without one, the first path as
//!   `file.path`, `file.name`, `file.directory`, `file.hash.sha256`; a cron command as
//!   `process.command_line`; the first port as `destination.port` (a listener's port, or the
//!   remote port of a connection: where connections go); an account as `user.name`;
//!   `related.hash`, `related.ip` (addresses that are IPs), `related.user`, `related.hosts`.
//! - `labels.dossier_bundle`, `labels.dossier_bundle_sha256`, `labels.dossier_subject`,
//!   `labels.dossier_verdict`, `labels.dossier_score`, `labels.dossier_case` and
//!   `labels.dossier_unit` (a unit IOC: ECS has no field for it).

use crate::attack::{FRAMEWORK, tactics_of, technique};
use crate::ids::uuid5;
use crate::{Analyses, millis};
use dossier_plugin_api::analysis::{Class, ExecutableSeen, Finding, HostAnalysis, Ioc, Severity};
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::time::Timestamp;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The ECS release the documents follow (and the tests check them against).
pub const ECS_VERSION: &str = "9.4.0";

/// A document being built: dotted ECS field names → values, nested at the end.
#[derive(Default)]
pub(crate) struct Flat(BTreeMap<String, Value>);

impl Flat {
    pub(crate) fn set(&mut self, field: &str, v: impl Into<Value>) {
        self.0.insert(field.to_string(), v.into());
    }

    pub(crate) fn set_opt(&mut self, field: &str, v: Option<impl Into<Value>>) {
        if let Some(v) = v {
            self.set(field, v);
        }
    }

    /// Sets an array field to the values of `v`, each once in the order given, unless `v` is
    /// empty.
    pub(crate) fn set_list<T: Into<Value>>(&mut self, field: &str, v: Vec<T>) {
        let mut list: Vec<Value> = Vec::with_capacity(v.len());
        for x in v.into_iter().map(Into::into) {
            if !list.contains(&x) {
                list.push(x);
            }
        }
        if !list.is_empty() {
            self.set(field, list);
        }
    }

    /// The nested document (`host.os.full` → `{"host": {"os": {"full": ...}}}`).
    pub(crate) fn nest(self) -> Value {
        let mut root = Map::new();
        for (field, v) in self.0 {
            let mut parts: Vec<&str> = field.split('.').collect();
            let last = parts.pop().unwrap_or_default();
            let mut at = &mut root;
            for p in parts {
                at = at
                    .entry(p)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("no ECS field is both a value and an object");
            }
            at.insert(last.to_string(), v);
        }
        Value::Object(root)
    }
}

/// The ECS documents of `a`, in order: each host's findings then its linked context, then the
/// fleet findings, then the alerts of imported events ([`alerts::document`]; one whose
/// time is not RFC 3339 is left out).
pub fn documents(a: &Analyses) -> Vec<Value> {
    let mut docs = Vec::new();
    for h in &a.hosts {
        let linked = h.context.iter().filter(|f| !f.linked_to.is_empty());
        for f in h.findings.iter().chain(linked) {
            docs.push(finding_doc(h, f));
        }
    }
    for f in &a.fleet {
        if let Some(d) = fleet_doc(f, &a.hosts) {
            docs.push(d);
        }
    }
    let event_alerts = a.events.iter().flat_map(|r| &r.alerts);
    docs.extend(event_alerts.filter_map(alerts::document));
    docs
}

/// [`documents`] as NDJSON: one compact JSON object per line, each line ending in `\n`.
pub fn ndjson(a: &Analyses) -> String {
    let mut out = String::new();
    for d in documents(a) {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

/// `event.severity` (and `event.risk_score`) of a severity.
pub fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// The fields every alert has: time, version, kind, rule, threat, severity, message.
pub(crate) fn alert(
    d: &mut Flat,
    at: Timestamp,
    rule: (&str, &str, &[String]),
    sev: Severity,
    why: &str,
) {
    let (id, title, mitre) = rule;
    d.set("@timestamp", millis(at));
    d.set("ecs.version", ECS_VERSION);
    d.set("event.kind", "alert");
    d.set("event.type", vec!["info"]);
    d.set("event.module", "dossier");
    d.set("event.severity", severity_number(sev));
    d.set("event.risk_score", f64::from(severity_number(sev)));
    d.set("event.reason", why);
    d.set("message", format!("{title}: {why}"));
    d.set("observer.vendor", "dossier");
    d.set("observer.product", "dossier");
    d.set("rule.id", id);
    d.set("rule.name", title);
    d.set("rule.ruleset", "dossier");
    threat(d, mitre);
}

/// `threat.*` of some technique ids (nothing when there are none).
fn threat(d: &mut Flat, mitre: &[String]) {
    if mitre.is_empty() {
        return;
    }
    d.set("threat.framework", FRAMEWORK);
    let ts: Vec<_> = mitre.iter().map(|m| technique(m)).collect();
    let mut parents: Vec<_> = ts.iter().map(|t| (&t.id, t.name, &t.reference)).collect();
    parents.sort();
    parents.dedup();
    d.set_list(
        "threat.technique.id",
        parents.iter().map(|p| p.0.as_str()).collect(),
    );
    d.set_list(
        "threat.technique.name",
        parents.iter().filter_map(|p| p.1).collect(),
    );
    d.set_list(
        "threat.technique.reference",
        parents.iter().map(|p| p.2.as_str()).collect(),
    );
    let subs: Vec<_> = ts.iter().filter_map(|t| t.sub.as_ref()).collect();
    d.set_list(
        "threat.technique.subtechnique.id",
        subs.iter().map(|s| s.0.as_str()).collect(),
    );
    d.set_list(
        "threat.technique.subtechnique.name",
        subs.iter().filter_map(|s| s.1).collect(),
    );
    d.set_list(
        "threat.technique.subtechnique.reference",
        subs.iter().map(|s| s.2.as_str()).collect(),
    );
    let tactics = tactics_of(mitre);
    d.set_list("threat.tactic.id", tactics.iter().map(|t| t.id).collect());
    d.set_list(
        "threat.tactic.name",
        tactics.iter().map(|t| t.name).collect(),
    );
    d.set_list(
        "threat.tactic.reference",
        tactics.iter().map(|t| t.reference()).collect(),
    );
}

/// `event.category` of a finding with these IOCs.
fn categories(iocs: &[Ioc]) -> Vec<&'static str> {
    let has = |p: fn(&Ioc) -> bool| iocs.iter().any(p);
    let mut c = vec!["intrusion_detection"];
    if has(|i| matches!(i, Ioc::Pid(_))) {
        c.push("process");
    }
    if has(|i| matches!(i, Ioc::Path(_) | Ioc::Sha256(_))) {
        c.push("file");
    }
    if has(|i| matches!(i, Ioc::Address(_) | Ioc::Port(_))) {
        c.push("network");
    }
    if has(|i| matches!(i, Ioc::Unit(_) | Ioc::CronCommand(_) | Ioc::ConfigLine(_))) {
        c.push("configuration");
    }
    if has(|i| matches!(i, Ioc::Account(_))) {
        c.push("iam");
    }
    c
}

/// The values of one kind of IOC.
fn values<'a, T>(iocs: &'a [Ioc], pick: impl Fn(&'a Ioc) -> Option<T>) -> Vec<T> {
    iocs.iter().filter_map(pick).collect()
}

/// `/var/log/log` → (`log`, `/var/log`).
fn split_path(path: &str) -> (&str, Option<&str>) {
    match path.rsplit_once('/') {
        Some(("", name)) => (name, Some("/")),
        Some((dir, name)) => (name, Some(dir)),
        None => (path, None),
    }
}

/// `process.*`, `file.*`, `destination.*`, `user.*`, `related.*` from a finding's IOCs.
pub(crate) fn subject_fields(d: &mut Flat, executables: &[ExecutableSeen], iocs: &[Ioc]) {
    let paths = values(iocs, |i| match i {
        Ioc::Path(p) => Some(p.as_str()),
        _ => None,
    });
    let hashes = values(iocs, |i| match i {
        Ioc::Sha256(s) => Some(s.as_str()),
        _ => None,
    });
    let pid = values(iocs, |i| match i {
        Ioc::Pid(p) => Some(*p),
        _ => None,
    })
    .first()
    .copied();
    let path = paths.first().copied();
    // The hash of the path: the finding's, else what the analysis saw of that executable.
    let hash = hashes.first().copied().or_else(|| {
        let p = path?;
        executables
            .iter()
            .find(|e| e.path == p)
            .and_then(|e| e.sha256.as_deref())
    });
    let prefix = if pid.is_some() { "process" } else { "file" };
    d.set_opt("process.pid", pid);
    if let Some(p) = path {
        let (name, dir) = split_path(p);
        if pid.is_some() {
            d.set("process.executable", p);
        } else {
            d.set("file.path", p);
            d.set_opt("file.directory", dir);
        }
        d.set(&format!("{prefix}.name"), name);
    }
    d.set_opt(&format!("{prefix}.hash.sha256"), hash);
    d.set_opt(
        "process.command_line",
        values(iocs, |i| match i {
            Ioc::CronCommand(c) => Some(c.as_str()),
            _ => None,
        })
        .first()
        .copied(),
    );
    d.set_opt(
        "destination.port",
        values(iocs, |i| match i {
            Ioc::Port(p) => Some(*p),
            _ => None,
        })
        .first()
        .copied(),
    );
    let users = values(iocs, |i| match i {
        Ioc::Account(a) => Some(a.as_str()),
        _ => None,
    });
    d.set_opt("user.name", users.first().copied());
    d.set_list("related.user", users);
    d.set_list("related.hash", hashes);
    d.set_list(
        "related.ip",
        values(iocs, |i| match i {
            Ioc::Address(a) => a.parse::<IpAddr>().ok().map(|ip| ip.to_string()),
            _ => None,
        }),
    );
    d.set_opt(
        "labels.dossier_unit",
        values(iocs, |i| match i {
            Ioc::Unit(u) => Some(u.as_str()),
            _ => None,
        })
        .first()
        .copied(),
    );
}

/// One host finding.
fn finding_doc(h: &HostAnalysis, f: &Finding) -> Value {
    let mut d = Flat::default();
    alert(
        &mut d,
        h.collected_finished,
        (&f.rule, &f.title, &f.mitre),
        f.severity,
        &f.explanation,
    );
    let original = serde_json::to_string(f).expect("a finding serializes");
    d.set(
        "event.id",
        uuid5(&format!("{}\n{original}", h.bundle_sha256)).to_string(),
    );
    d.set("event.dataset", "dossier.finding");
    d.set("event.category", categories(&f.iocs));
    d.set("event.original", original);
    d.set("rule.category", f.class.label());
    d.set("tags", vec!["dossier", f.class.label()]);
    d.set("host.name", h.hostname.as_str());
    d.set("host.hostname", h.hostname.as_str());
    d.set("host.os.type", "linux");
    d.set_opt("host.os.full", h.os.as_deref());
    d.set_opt("host.os.kernel", h.kernel.as_deref());
    d.set("related.hosts", vec![h.hostname.as_str()]);
    d.set("labels.dossier_bundle", h.bundle.as_str());
    d.set("labels.dossier_bundle_sha256", h.bundle_sha256.as_str());
    d.set("labels.dossier_subject", f.subject.as_str());
    d.set("labels.dossier_verdict", h.verdict.as_str());
    d.set("labels.dossier_score", h.score.to_string());
    d.set_opt("labels.dossier_case", h.case_id.as_deref());
    subject_fields(&mut d, &h.executables, &f.iocs);
    debug_assert!(f.class == Class::Behaviour || !f.linked_to.is_empty());
    d.nest()
}

/// One fleet-level finding (`None` when no host at all is known to date it).
fn fleet_doc(f: &FleetFinding, hosts: &[HostAnalysis]) -> Option<Value> {
    let concerned = hosts.iter().filter(|h| f.hosts.contains(&h.hostname));
    let at = concerned
        .map(|h| h.collected_finished)
        .max()
        .or_else(|| hosts.iter().map(|h| h.collected_finished).max())?;
    let mut d = Flat::default();
    alert(
        &mut d,
        at,
        (&f.rule, &f.title, &f.mitre),
        f.severity,
        &f.explanation,
    );
    let original = serde_json::to_string(f).expect("a fleet finding serializes");
    d.set("event.id", uuid5(&format!("fleet\n{original}")).to_string());
    d.set("event.dataset", "dossier.fleet_finding");
    d.set("event.category", vec!["intrusion_detection"]);
    d.set("event.original", original);
    d.set("rule.category", "fleet");
    d.set("tags", vec!["dossier", "fleet"]);
    d.set("labels.dossier_subject", f.subject.as_str());
    let mut names = f.hosts.clone();
    names.sort();
    names.dedup();
    d.set_list("related.hosts", names);
    Some(d.nest())
}

/// The value of a field given with dots (`host.os.full`) in a nested document.
pub fn field<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.').try_fold(doc, |v, p| v.get(p))
}

pub mod alerts;
#[cfg(test)]
pub(crate) mod tests;
