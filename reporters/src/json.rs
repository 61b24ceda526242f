//! Machine-readable findings (`findings.json`) for SIEMs.
//!
//! Schema `dossier-findings` version 1, one JSON object pretty-printed with two-space
//! indentation, keys in alphabetical order at every level:
//!
//! ```text
//! { "attack": "MITRE ATT&CK v18.1",
//!   "fleet_findings": [FleetFinding...],
//!   "hosts": [HostAnalysis...],
//!   "not_collected": [{outcome, reason, target}...],
//!   "schema": "dossier-findings",
//!   "stacking": {...},            // only when several hosts were analyzed together
//!   "unanalyzed": [{reason, subject}...],
//!   "version": 1 }
//! ```
//!
//! Each host carries bundle name and SHA-256, score, verdict, rule hits, findings (rule, title,
//! mitre, severity, weight, explanation, subject, evidence [{member, sha256, line, what}], iocs
//! [{type, value}]), rules not evaluated, rules evaluated on partial data (`partial`: [{rule,
//! title, collectors, missing}], left out when none), executables, listeners and collection
//! gaps (`detail` summarizes all of a collector's issues by kind). Hosts are
//! sorted by hostname and bundle name. `not_collected` lists targets no bundle could be made of
//! (outcome `unreachable`, `auth_failed`, `host_key_refused`, `timed_out` or `failed`);
//! `unanalyzed` lists bundles that failed verification. `fleet_findings` are the fleet-level
//! findings of analyzer plugins (rule, title, mitre, severity, subject, explanation, hosts,
//! evidence [{hostname, bundle, evidence}]); a host's `plugins` lists the dynamic plugins
//! (kind, name, version, path, sha256) that collected or analyzed it. Both are left out of a
//! host, or empty, when no plugin was used, so documents without plugins are unchanged.
//!
//! A host's `policy` (left out when empty) holds what site policy and fleet context did:
//! `allowed` [{finding, reason, entry}] (moved out of the score by `[[analysis.allow]]`),
//! `known` `[Finding]` (subject matches the baseline exactly), `common` [{finding, hosts, of}]
//! (`[analysis.stacking] common_share`), `allow_changed` [{path, allowed_sha256,
//! seen_sha256, reason, evidence}] and `baseline` {baseline, baseline_sha256, known, new
//! `[Seen]`, changed [{now, was}], removed `[Item]`} (items: {kind, key, sha256?, detail?}, seen
//! items add {member, line?}). `stacking` is fleet stacking: {hosts, rare_at_most, kinds
//! [{kind, distinct, rare}], rare_persistence [{kind, key, sha256?, detail?, hosts, seen
//! [{hostname, bundle, member, line?}], known? (true: in the baseline given)}], listed_at_most, left_out, common_share?,
//! common_findings, findings [{rule, subject, hosts}] (rarest first)}. These fields are
//! additions: version 1 readers that ignore unknown fields read the document unchanged.
//!
//! Every `mitre` list of technique ids (rule hits, findings, context, fleet findings) has a
//! `mitre_names` object beside it: id → technique name ("T1036.005": "Masquerading: Match
//! Legitimate Resource Name or Location") for the ids in the bundled ATT&CK table, whose
//! release the top-level `attack` names (added within version 1). An executable's `packaged`
//! is true when a package owns it and its content verified unchanged (never an IOC).
//!
//! Scoring fields (added within version 1; readers that do not know them can ignore them, and
//! documents written before them read as "none"): a host's `context` lists its context
//! findings (provenance such as "no package owns it": shown, never scored on their own), each
//! with `"class": "context"`; behaviour findings (the `findings` list) leave `class` out. A
//! finding may carry `fact` (the observation it reports, `fileless-exe:pid:812`,
//! `exe-location:/var/log/log`), `counted_under` (the rule under which that observation was
//! counted instead: this finding adds no weight), `boosted_by` (context rules on the same
//! subject, for a behaviour finding) and `linked_to` (the counted behaviour rules on the same
//! subject, for a context finding). A rule hit may carry `counted_under` (no weight of its own
//! is added), `boost` and `boosted_by` (context weights added through it); the score is the sum
//! of each hit's weight (unless `counted_under`) and boost, capped at 100. All of these are
//! left out when empty.
//!
//! [`FindingsWriter`] writes the document one host at a time, so memory does not grow with the
//! number of hosts; [`render`] is the same code writing to memory.

use dossier_plugin_api::analysis::{HostAnalysis, NotCollected, Unanalyzed};
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::attack;
use dossier_plugin_api::policy::StackingSummary;
use serde::Serialize;
use std::io::{self, Write};

/// Schema name.
pub const SCHEMA: &str = "dossier-findings";
/// Schema version.
pub const VERSION: u32 = 1;

/// Adds `mitre_names` (technique id → ATT&CK name, for the ids the bundled table knows)
/// beside every `mitre` list of ids in `v`.
fn name_techniques(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            let names: Option<serde_json::Map<String, serde_json::Value>> =
                o.get("mitre").and_then(|m| m.as_array()).map(|ids| {
                    ids.iter()
                        .filter_map(|id| id.as_str())
                        .filter_map(|id| attack::name(id).map(|n| (id.to_string(), n.into())))
                        .collect()
                });
            for (_, child) in o.iter_mut() {
                name_techniques(child);
            }
            if let Some(names) = names {
                o.insert("mitre_names".into(), names.into());
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(name_techniques),
        _ => {}
    }
}

/// `v` pretty-printed with sorted keys, as it appears at nesting depth `depth` of the document.
fn pretty_at(v: &impl Serialize, depth: usize) -> io::Result<String> {
    let mut value = serde_json::to_value(v).map_err(io::Error::other)?;
    name_techniques(&mut value);
    let text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
    // Strings are escaped, so every newline of the text is layout.
    Ok(text.replace('\n', &format!("\n{}", "  ".repeat(depth))))
}

/// Writes `findings.json` one host at a time: [`FindingsWriter::new`], [`FindingsWriter::host`]
/// for each host in order, then [`FindingsWriter::finish`].
pub struct FindingsWriter<'a> {
    out: &'a mut dyn Write,
    hosts: usize,
    stacking: Option<&'a StackingSummary>,
}

impl<'a> FindingsWriter<'a> {
    /// Starts the document with the fleet-level findings (known before the hosts are
    /// written: they come from the analysis pass).
    pub fn new(out: &'a mut dyn Write, fleet_findings: &[FleetFinding]) -> io::Result<Self> {
        writeln!(
            out,
            "{{\n  \"attack\": {},\n  \"fleet_findings\": {},",
            pretty_at(&attack::release(), 1)?,
            pretty_at(&fleet_findings, 1)?
        )?;
        out.write_all(b"  \"hosts\": [")?;
        Ok(FindingsWriter {
            out,
            hosts: 0,
            stacking: None,
        })
    }

    /// Adds the `stacking` object (fleet stacking of several hosts).
    pub fn with_stacking(mut self, s: &'a StackingSummary) -> Self {
        self.stacking = Some(s);
        self
    }

    /// Appends one host.
    pub fn host(&mut self, h: &HostAnalysis) -> io::Result<()> {
        let sep = if self.hosts == 0 { "" } else { "," };
        write!(self.out, "{sep}\n    {}", pretty_at(h, 2)?)?;
        self.hosts += 1;
        Ok(())
    }

    /// Ends the document with what was not collected or not analyzed.
    pub fn finish(
        self,
        unanalyzed: &[Unanalyzed],
        not_collected: &[NotCollected],
    ) -> io::Result<()> {
        let o = self.out;
        if self.hosts > 0 {
            o.write_all(b"\n  ")?;
        }
        writeln!(o, "],")?;
        writeln!(o, "  \"not_collected\": {},", pretty_at(&not_collected, 1)?)?;
        writeln!(o, "  \"schema\": {},", pretty_at(&SCHEMA, 1)?)?;
        if let Some(st) = self.stacking {
            writeln!(o, "  \"stacking\": {},", pretty_at(st, 1)?)?;
        }
        writeln!(o, "  \"unanalyzed\": {},", pretty_at(&unanalyzed, 1)?)?;
        writeln!(o, "  \"version\": {VERSION}\n}}")
    }
}

/// Renders the findings document in memory.
pub fn render(
    hosts: &[HostAnalysis],
    unanalyzed: &[Unanalyzed],
    not_collected: &[NotCollected],
) -> String {
    let mut out = Vec::new();
    let done = (|| {
        let mut w = FindingsWriter::new(&mut out, &[])?;
        for h in hosts {
            w.host(h)?;
        }
        w.finish(unanalyzed, not_collected)
    })();
    done.expect("writing to memory cannot fail");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;
    use dossier_plugin_api::analysis::{Class, Severity};
    use dossier_plugin_api::policy::StackingSummary;

    #[test]
    fn scoring_fields_are_written_when_set_and_old_documents_still_read() {
        let mut h = host("a", "a.zip", &[Severity::High]);
        let plain = serde_json::to_value(&h).unwrap();
        assert!(
            plain.get("context").is_none(),
            "context written while empty"
        );
        assert!(plain["findings"][0].get("class").is_none());
        assert!(plain["hits"][0].get("boost").is_none());
        // A document written before these fields existed reads with them empty.
        let old: HostAnalysis = serde_json::from_value(plain).unwrap();
        assert!(old.context.is_empty() && old.findings[0].fact.is_none());
        let mut c = h.findings[0].clone();
        c.class = Class::Context;
        c.linked_to = vec!["rule-high-0".into()];
        h.context = vec![c];
        h.findings[0].fact = Some("exe-location:/tmp/x".into());
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["context"][0]["class"], "context");
        assert_eq!(v["context"][0]["linked_to"][0], "rule-high-0");
        assert_eq!(v["findings"][0]["fact"], "exe-location:/tmp/x");
        let back: HostAnalysis = serde_json::from_value(v).unwrap();
        assert_eq!(back, h);
    }

    /// The whole document built as one value and pretty-printed: what the streaming writer
    /// must reproduce byte for byte.
    fn whole(hosts: &[HostAnalysis], un: &[Unanalyzed], nc: &[NotCollected]) -> String {
        let mut hosts = serde_json::to_value(hosts).unwrap();
        name_techniques(&mut hosts);
        let doc = serde_json::json!({ "schema": SCHEMA, "version": VERSION, "hosts": hosts,
            "unanalyzed": un, "not_collected": nc, "fleet_findings": [],
            "attack": attack::release() });
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    }

    #[test]
    fn streamed_document_equals_the_whole_document() {
        let a = host("web01", "web01-1.zip", &[Severity::High, Severity::Low]);
        let b = host("db02", "db02-1.zip", &[]);
        let un = [Unanalyzed {
            subject: "x.zip".into(),
            reason: "verification failed: \"bad\"".into(),
        }];
        let nc = [NotCollected {
            target: "10.0.0.9:2222".into(),
            outcome: "auth_failed".into(),
            reason: "publickey refused".into(),
        }];
        for (hosts, un, nc) in [
            (vec![], &[][..], &[][..]),
            (vec![a.clone()], &un[..], &[][..]),
            (vec![a.clone(), b.clone()], &[][..], &nc[..]),
            (vec![b, a], &un[..], &nc[..]),
        ] {
            let got = render(&hosts, un, nc);
            assert_eq!(got, whole(&hosts, un, nc));
            let v: serde_json::Value = serde_json::from_str(&got).unwrap();
            assert_eq!(v["hosts"].as_array().unwrap().len(), hosts.len());
            assert_eq!(v["not_collected"].as_array().unwrap().len(), nc.len());
        }
    }

    #[test]
    fn stacking_is_written_in_key_order_when_given() {
        let a = host("web01", "web01-1.zip", &[Severity::High]);
        let st = StackingSummary {
            hosts: 2,
            rare_at_most: 1,
            ..StackingSummary::default()
        };
        let mut out = Vec::new();
        let mut w = FindingsWriter::new(&mut out, &[])
            .unwrap()
            .with_stacking(&st);
        w.host(&a).unwrap();
        w.finish(&[], &[]).unwrap();
        let got = String::from_utf8(out).unwrap();
        let mut hosts = serde_json::to_value([&a]).unwrap();
        name_techniques(&mut hosts);
        let doc = serde_json::json!({ "schema": SCHEMA, "version": VERSION, "hosts": hosts,
            "unanalyzed": [], "not_collected": [], "fleet_findings": [], "stacking": st,
            "attack": attack::release() });
        assert_eq!(got, serde_json::to_string_pretty(&doc).unwrap() + "\n");
    }

    #[test]
    fn host_analysis_survives_a_json_round_trip() {
        // The analysis spool stores hosts as JSON and reports from what it reads back.
        let a = host(
            "web01",
            "web01-1.zip",
            &[Severity::Critical, Severity::Info],
        );
        let back: HostAnalysis = serde_json::from_slice(&serde_json::to_vec(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn rules_on_partial_data_are_carried_and_absent_when_none() {
        let mut a = host("web01", "web01-1.zip", &[]);
        let doc = render(std::slice::from_ref(&a), &[], &[]);
        assert!(!doc.contains("\"partial\""), "{doc}");
        a.partial = vec![crate::sample::partial("system-account-usable")];
        let doc = render(std::slice::from_ref(&a), &[], &[]);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let p = &v["hosts"][0]["partial"][0];
        assert_eq!(p["rule"], "system-account-usable");
        assert_eq!(p["collectors"], serde_json::json!(["accounts"]));
        assert_eq!(p["missing"], "accounts: 1 permission denied: /etc/shadow");
        let back: HostAnalysis = serde_json::from_value(v["hosts"][0].clone()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn technique_names_sit_beside_every_mitre_list() {
        let mut h = host("a", "a.zip", &[Severity::High]);
        h.hits[0].mitre = vec!["T1105".into(), "T9999".into()];
        h.findings[0].mitre = vec!["T1036.005".into()];
        let doc: serde_json::Value = serde_json::from_str(&render(&[h], &[], &[])).unwrap();
        assert!(
            doc["attack"]
                .as_str()
                .unwrap()
                .starts_with("MITRE ATT&CK v")
        );
        let host = &doc["hosts"][0];
        assert_eq!(
            host["hits"][0]["mitre_names"],
            serde_json::json!({"T1105": "Ingress Tool Transfer"})
        );
        assert_eq!(
            host["findings"][0]["mitre_names"]["T1036.005"],
            "Masquerading: Match Legitimate Resource Name or Location"
        );
        // Still reads back as an analysis.
        let _: HostAnalysis = serde_json::from_value(host.clone()).unwrap();
    }
}
