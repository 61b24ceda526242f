//! dossier's findings in the formats other tools ingest: Elastic Common Schema documents for a
//! SIEM ([`ecs`]) and a STIX 2.1 bundle of indicators for a threat-intelligence platform
//! ([`stix`]).
//!
//! Everything here is a pure function of analyses ([`HostAnalysis`], as `dossier analyze`
//! makes them and `findings.json` stores them, and the fleet-level findings of analyzer
//! plugins): no clock, no randomness, no I/O beyond the bytes given, so the same analyses give
//! the same bytes. [`findings`] reads a `findings.json` document (schema `dossier-findings`
//! version 1) back into those types, [`events`] the alerts of imported events of an
//! `events.json`. The ATT&CK vocabulary both formats need (technique and
//! sub-technique split, tactic ids, reference URLs) is [`attack`]; the deterministic
//! identifiers (UUIDv5) are [`ids`].

#![forbid(unsafe_code)]

pub mod attack;
pub mod ecs;
pub mod events;
pub mod findings;
pub mod ids;
pub mod stix;

pub use dossier_plugin_api::analysis::HostAnalysis;
pub use dossier_plugin_api::analyzer::FleetFinding;

use dossier_plugin_api::time::Timestamp;

/// A time as both formats write it: RFC 3339, UTC, milliseconds (truncated). STIX asks
/// millisecond precision of `created` and `modified`; Elasticsearch's `date` keeps
/// milliseconds.
pub fn millis(t: Timestamp) -> String {
    t.datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// What is exported: the analyzed hosts, the fleet-level findings of analyzer plugins and the
/// alerts of imported events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analyses {
    /// Hosts in the order they are exported (callers sort them: hostname, then bundle name).
    pub hosts: Vec<HostAnalysis>,
    pub fleet: Vec<FleetFinding>,
    /// Events reports (`events.json`), each with its alerts.
    pub events: Vec<events::EventsReport>,
}

impl Analyses {
    /// Appends another set (hosts of several report directories and bundles).
    pub fn extend(&mut self, other: Analyses) {
        self.hosts.extend(other.hosts);
        self.fleet.extend(other.fleet);
        self.events.extend(other.events);
    }

    /// Sorts hosts by hostname, bundle name and bundle SHA-256, and drops an analysis equal to
    /// the one before it (the same bundle given as a bundle and in a report directory made
    /// with the same playbook); fleet findings and events reports keep their order, duplicates
    /// dropped.
    pub fn normalize(&mut self) {
        self.hosts.sort_by(|a, b| {
            (&a.hostname, &a.bundle, &a.bundle_sha256).cmp(&(
                &b.hostname,
                &b.bundle,
                &b.bundle_sha256,
            ))
        });
        self.hosts.dedup_by(|a, b| a == b);
        dedup(&mut self.fleet);
        dedup(&mut self.events);
    }
}

/// Drops the items equal to an earlier one.
fn dedup<T: PartialEq>(v: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::with_capacity(v.len());
    for x in v.drain(..) {
        if !kept.contains(&x) {
            kept.push(x);
        }
    }
    *v = kept;
}
