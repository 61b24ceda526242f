//! A STIX 2.1 bundle of indicators for the IOCs of flagged findings.
//!
//! Flagged: behaviour findings above `info`, and context findings above `info` linked to a
//! behaviour finding, as the reports' IOC lists take them; never a packaged, unmodified
//! executable (its path or hash would match every host). The alerts of imported events above
//! `info` add the indicators the events report lists with them. Each IOC with a pattern
//! ([`pattern`]) gives one `indicator` per distinct pattern over all hosts:
//!
//! - `pattern` (`pattern_type` `stix`, `pattern_version` `2.1`), `name` (what it matches),
//!   `description` (the hosts, the rules and the highest severity);
//! - `valid_from`, `created` and `modified`: the earliest collection time (start of the
//!   bundle's collection) among the hosts it was flagged on (for an alert of imported events,
//!   the time of its first event);
//! - `indicator_types` `malicious-activity` (highest severity high or critical) or
//!   `anomalous-activity`; `kill_chain_phases` (`mitre-attack`) and `labels`: the ATT&CK
//!   tactics of the findings' techniques;
//! - `created_by_ref`: dossier's `identity` (`identity_class` `system`).
//!
//! Each ATT&CK technique of those findings is an `attack-pattern` (name, `mitre-attack`
//! external reference with id and URL, kill-chain phases), and each indicator `indicates` the
//! attack patterns of its findings through a `relationship`. Identifiers are UUIDv5 over the
//! object's content ([`crate::ids`]): the same analyses give the same bundle, byte for byte,
//! and an indicator whose content changes gets a new id. Timestamps have millisecond
//! precision (truncated), as STIX asks of `created` and `modified`.

pub mod pattern;

use crate::attack::{KILL_CHAIN, tactics_of};
use crate::ids::{stix_id, uuid5};
use crate::{Analyses, millis};
use dossier_plugin_api::analysis::{Finding, HostAnalysis, Ioc, Severity};
use dossier_plugin_api::attack;
use dossier_plugin_api::time::Timestamp;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The STIX version written.
pub const SPEC_VERSION: &str = "2.1";

/// `created` and `modified` of the objects that do not come from a bundle (dossier's identity,
/// the attack patterns): fixed, so their ids and content never change.
pub const VOCABULARY_TIME: &str = "2026-12-03T00:00:00.000Z";

/// What one pattern gathered over every host and finding.
struct Gathered {
    name: String,
    valid_from: Timestamp,
    hosts: BTreeSet<String>,
    rules: BTreeSet<String>,
    mitre: BTreeSet<String>,
    severity: Severity,
}

/// The findings whose IOCs are exported.
fn flagged(h: &HostAnalysis) -> impl Iterator<Item = &Finding> {
    let linked = h.context.iter().filter(|f| !f.linked_to.is_empty());
    h.findings
        .iter()
        .chain(linked)
        .filter(|f| f.severity > Severity::Info)
}

/// Where one IOC was flagged.
struct Seen<'a> {
    at: Timestamp,
    host: &'a str,
    rule: &'a str,
    mitre: &'a [String],
    severity: Severity,
}

/// Adds one IOC to what its pattern gathered (nothing when it has no pattern).
fn add(by_pattern: &mut BTreeMap<String, Gathered>, ioc: &Ioc, s: &Seen<'_>) {
    let Some((pattern, name)) = pattern::of(ioc) else {
        return;
    };
    let g = by_pattern.entry(pattern).or_insert_with(|| Gathered {
        name,
        valid_from: s.at,
        hosts: BTreeSet::new(),
        rules: BTreeSet::new(),
        mitre: BTreeSet::new(),
        severity: s.severity,
    });
    g.valid_from = g.valid_from.min(s.at);
    g.hosts.insert(s.host.to_string());
    g.rules.insert(s.rule.to_string());
    g.mitre.extend(s.mitre.iter().map(|m| m.trim().to_string()));
    g.severity = g.severity.max(s.severity);
}

/// Every pattern of every flagged IOC, with what it gathered: the IOCs of the hosts' flagged
/// findings, and the indicators of the alerts of imported events above info (flagged at the
/// time of their first event).
fn gather(a: &Analyses) -> BTreeMap<String, Gathered> {
    let mut by_pattern: BTreeMap<String, Gathered> = BTreeMap::new();
    for h in &a.hosts {
        for f in flagged(h) {
            let seen = Seen {
                at: h.collected_started,
                host: &h.hostname,
                rule: &f.rule,
                mitre: &f.mitre,
                severity: f.severity,
            };
            for ioc in f.iocs.iter().filter(|i| !h.is_packaged(i)) {
                add(&mut by_pattern, ioc, &seen);
            }
        }
    }
    for alert in a.events.iter().flat_map(|r| &r.alerts) {
        let (Some(at), Some(severity)) = (alert.time(), alert.severity()) else {
            continue;
        };
        if severity == Severity::Info {
            continue;
        }
        let mitre = alert.mitre();
        let seen = Seen {
            at,
            host: &alert.evidence.device,
            rule: &alert.rule,
            mitre: &mitre,
            severity,
        };
        for ioc in &alert.indicators {
            add(&mut by_pattern, ioc, &seen);
        }
    }
    by_pattern
}

/// dossier's identity (every object's `created_by_ref`).
pub fn identity() -> Value {
    let mut o = json!({
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "created": VOCABULARY_TIME,
        "modified": VOCABULARY_TIME,
        "name": "dossier",
        "description": "dossier, forensic triage toolkit: indicators from the findings of its analyses",
        "identity_class": "system",
    });
    with_id(&mut o, "identity");
    o
}

/// Sets `id` to the UUIDv5 of the object's content (its JSON without `id`, keys sorted).
fn with_id(o: &mut Value, kind: &str) -> String {
    let id = stix_id(kind, &o.to_string());
    o["id"] = Value::String(id.clone());
    id
}

/// The kill-chain phases of some techniques (`None` when they have none: STIX forbids an
/// empty list).
fn phases(mitre: &[String]) -> Option<Vec<Value>> {
    let t = tactics_of(mitre);
    (!t.is_empty()).then(|| {
        t.iter()
            .map(|t| json!({"kill_chain_name": KILL_CHAIN, "phase_name": t.phase}))
            .collect()
    })
}

fn attack_pattern(id: &str, by: &str) -> Value {
    let mut o = json!({
        "type": "attack-pattern",
        "spec_version": SPEC_VERSION,
        "created": VOCABULARY_TIME,
        "modified": VOCABULARY_TIME,
        "created_by_ref": by,
        "name": attack::name(id).unwrap_or(id),
        "external_references": [{
            "source_name": KILL_CHAIN,
            "external_id": id,
            "url": technique_url(id),
        }],
    });
    if let Some(p) = phases(&[id.to_string()]) {
        o["kill_chain_phases"] = p.into();
    }
    with_id(&mut o, "attack-pattern");
    o
}

/// `https://attack.mitre.org/techniques/T1053/003/`.
fn technique_url(id: &str) -> String {
    let path = id.replace('.', "/");
    format!("https://attack.mitre.org/techniques/{path}/")
}

fn indicator(pattern: &str, g: &Gathered, by: &str) -> Value {
    let hosts: Vec<&str> = g.hosts.iter().map(String::as_str).collect();
    let rules: Vec<&str> = g.rules.iter().map(String::as_str).collect();
    let mitre: Vec<String> = g.mitre.iter().cloned().collect();
    let at = millis(g.valid_from);
    let kind = if g.severity >= Severity::High {
        "malicious-activity"
    } else {
        "anomalous-activity"
    };
    let mut o = json!({
        "type": "indicator",
        "spec_version": SPEC_VERSION,
        "created": at,
        "modified": at,
        "created_by_ref": by,
        "name": g.name,
        "description": format!(
            "Flagged by dossier on {} (rules {}; highest severity {})",
            hosts.join(", "),
            rules.join(", "),
            g.severity.label().to_ascii_lowercase()
        ),
        "indicator_types": [kind],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": SPEC_VERSION,
        "valid_from": at,
    });
    if let Some(p) = phases(&mitre) {
        o["kill_chain_phases"] = p.into();
        o["labels"] = tactics_of(&mitre).iter().map(|t| t.phase).collect();
    }
    with_id(&mut o, "indicator");
    o
}

fn relationship(from: &Value, to: &str, by: &str) -> Value {
    let mut o = json!({
        "type": "relationship",
        "spec_version": SPEC_VERSION,
        "created": from["created"],
        "modified": from["modified"],
        "created_by_ref": by,
        "relationship_type": "indicates",
        "source_ref": from["id"],
        "target_ref": to,
    });
    with_id(&mut o, "relationship");
    o
}

/// The STIX bundle of `a`: dossier's identity, the attack patterns (by technique id), the
/// indicators (by pattern), then the relationships.
pub fn bundle(a: &Analyses) -> Value {
    let ident = identity();
    let by = ident["id"].as_str().expect("set").to_string();
    let gathered = gather(a);
    let techniques: BTreeSet<&String> = gathered.values().flat_map(|g| &g.mitre).collect();
    let patterns: BTreeMap<&String, Value> = techniques
        .iter()
        .map(|t| (*t, attack_pattern(t, &by)))
        .collect();
    let indicators: Vec<(Value, &Gathered)> = gathered
        .iter()
        .map(|(p, g)| (indicator(p, g, &by), g))
        .collect();
    let relationships: Vec<Value> = indicators
        .iter()
        .flat_map(|(i, g)| {
            g.mitre.iter().map(|t| {
                let to = patterns[t]["id"].as_str().expect("set");
                relationship(i, to, &by)
            })
        })
        .collect();
    let mut objects = vec![ident];
    objects.extend(patterns.into_values());
    objects.extend(indicators.into_iter().map(|(i, _)| i));
    objects.extend(relationships);
    let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    let id = format!("bundle--{}", uuid5(&ids.join("\n")));
    json!({"type": "bundle", "id": id, "objects": objects})
}

/// [`bundle`] as pretty-printed JSON ending in a newline.
pub fn to_json(a: &Analyses) -> String {
    let mut s = serde_json::to_string_pretty(&bundle(a)).expect("JSON values serialize");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
