//! Known-good baselines (`dossier baseline`, `analyze --baseline`, `sweep --baseline`).
//!
//! Schema `dossier-baseline` version 1, one JSON object (keys sorted, two-space indentation):
//!
//! ```text
//! { "hosts": [{bundle, bundle_sha256, hostname}...],      // the bundles it was built from
//!   "items": [{detail?, hosts: [hostname...], key, kind, sha256?}...],
//!   "schema": "dossier-baseline",
//!   "version": 1 }
//! ```
//!
//! Items are the inventory items of [`crate::inventory`] (same keys as fleet stacking), sorted,
//! each with the hostnames it was seen on. A host compared with a baseline gets, per item: known
//! (same kind, key, hash and detail), *new* (a key the baseline lacks), *changed* (a key the
//! baseline has with another hash or detail) and *removed*: when the host's hostname is one the
//! baseline was built from, the items of that hostname it no longer has; otherwise the items
//! every baseline host had (a golden image's items). Unknown fields, another schema or version,
//! a kind that does not exist, a malformed hash or a host not listed are refused.

use dossier_plugin_api::policy::{BaselineDiff, ChangedItem, Item, KINDS, Seen};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Schema name.
pub const SCHEMA: &str = "dossier-baseline";
/// Schema version.
pub const VERSION: u32 = 1;

/// A bundle a baseline was built from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineHost {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
}

/// One baseline item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineItem {
    pub kind: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Hostnames it was seen on.
    pub hosts: Vec<String>,
}

impl BaselineItem {
    fn item(&self) -> Item {
        Item {
            kind: self.kind.clone(),
            key: self.key.clone(),
            sha256: self.sha256.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// The baseline document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub schema: String,
    pub version: u32,
    pub hosts: Vec<BaselineHost>,
    pub items: Vec<BaselineItem>,
}

/// Why a baseline file was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BaselineError {
    /// Not JSON of this schema (the parser's message, with line and column).
    Syntax(String),
    /// Another schema or version.
    Schema(String),
    /// A field with an impossible value (`items[3].sha256: ...`).
    Invalid(String),
}

impl std::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineError::Syntax(m) => write!(f, "not a dossier baseline: {m}"),
            BaselineError::Schema(m) | BaselineError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BaselineError {}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Longest key or detail accepted.
const MAX_TEXT: usize = 64 << 10;

impl Baseline {
    /// Parses and checks a baseline document.
    pub fn parse(data: &[u8]) -> Result<Baseline, BaselineError> {
        // The schema first, so that another document says what it is.
        let head: serde_json::Value =
            serde_json::from_slice(data).map_err(|e| BaselineError::Syntax(e.to_string()))?;
        if head.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
            return Err(BaselineError::Schema(format!(
                "schema: not a {SCHEMA} document"
            )));
        }
        match head.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            v => {
                return Err(BaselineError::Schema(format!(
                    "version: {} is not supported (this dossier reads version {VERSION})",
                    v.map_or("missing".to_string(), |v| v.to_string())
                )));
            }
        }
        let b: Baseline = serde_json::from_value(head)
            .map_err(|e| BaselineError::Syntax(e.to_string().replace('\n', " ")))?;
        if b.hosts.is_empty() {
            return Err(BaselineError::Invalid("hosts: empty".into()));
        }
        let names: HashSet<&str> = b.hosts.iter().map(|h| h.hostname.as_str()).collect();
        for (i, it) in b.items.iter().enumerate() {
            let at = format!("items[{i}]");
            if !KINDS.contains(&it.kind.as_str()) {
                return Err(BaselineError::Invalid(format!(
                    "{at}.kind: unknown kind {:?}",
                    it.kind
                )));
            }
            if it.key.is_empty() || it.key.len() > MAX_TEXT || it.detail.len() > MAX_TEXT {
                return Err(BaselineError::Invalid(format!(
                    "{at}: key empty or key/detail longer than {MAX_TEXT} bytes"
                )));
            }
            if let Some(s) = &it.sha256 {
                if !is_sha256(s) {
                    return Err(BaselineError::Invalid(format!(
                        "{at}.sha256: not 64 lower-case hex digits"
                    )));
                }
            }
            if it.hosts.is_empty() {
                return Err(BaselineError::Invalid(format!("{at}.hosts: empty")));
            }
            if let Some(h) = it.hosts.iter().find(|h| !names.contains(h.as_str())) {
                return Err(BaselineError::Invalid(format!(
                    "{at}.hosts: {h:?} is not one of the baseline's hosts"
                )));
            }
        }
        Ok(b)
    }

    /// The document as written by `dossier baseline` (sorted keys, two-space indentation).
    pub fn to_json(&self) -> String {
        let v = serde_json::to_value(self).expect("plain data");
        serde_json::to_string_pretty(&v).expect("plain data") + "\n"
    }
}

/// Builds a baseline from the inventories of analyzed bundles.
#[derive(Debug, Default)]
pub struct BaselineBuilder {
    hosts: BTreeSet<BaselineHost>,
    items: BTreeMap<Item, BTreeSet<String>>,
}

impl BaselineBuilder {
    /// Adds one bundle's inventory.
    pub fn add(&mut self, host: BaselineHost, inv: &[Seen]) {
        for s in inv {
            self.items
                .entry(s.item.clone())
                .or_default()
                .insert(host.hostname.clone());
        }
        self.hosts.insert(host);
    }

    /// The baseline (the same whatever the order bundles were added in).
    pub fn finish(self) -> Baseline {
        Baseline {
            schema: SCHEMA.into(),
            version: VERSION,
            hosts: self.hosts.into_iter().collect(),
            items: self
                .items
                .into_iter()
                .map(|(i, hosts)| BaselineItem {
                    kind: i.kind,
                    key: i.key,
                    sha256: i.sha256,
                    detail: i.detail,
                    hosts: hosts.into_iter().collect(),
                })
                .collect(),
        }
    }
}

/// A loaded baseline, indexed for comparisons.
#[derive(Debug)]
pub struct BaselineIndex {
    /// File name and SHA-256, as reports name the baseline.
    pub name: String,
    pub sha256: String,
    known: HashSet<Item>,
    by_key: HashMap<(String, String), Vec<Item>>,
    /// Items per baseline hostname.
    of_host: HashMap<String, Vec<Item>>,
    /// Items every baseline host had.
    everywhere: Vec<Item>,
}

impl BaselineIndex {
    /// Indexes a parsed baseline.
    pub fn new(b: Baseline, name: String, sha256: String) -> BaselineIndex {
        let all: BTreeSet<&str> = b.hosts.iter().map(|h| h.hostname.as_str()).collect();
        let mut idx = BaselineIndex {
            name,
            sha256,
            known: HashSet::new(),
            by_key: HashMap::new(),
            of_host: HashMap::new(),
            everywhere: Vec::new(),
        };
        for it in &b.items {
            let item = it.item();
            let on: BTreeSet<&str> = it.hosts.iter().map(String::as_str).collect();
            if on == all {
                idx.everywhere.push(item.clone());
            }
            for h in &it.hosts {
                idx.of_host.entry(h.clone()).or_default().push(item.clone());
            }
            idx.by_key
                .entry((item.kind.clone(), item.key.clone()))
                .or_default()
                .push(item.clone());
            idx.known.insert(item);
        }
        idx
    }

    /// Whether the baseline has this exact item.
    pub fn knows(&self, item: &Item) -> bool {
        self.known.contains(item)
    }

    /// A host's inventory compared with the baseline.
    pub fn diff(&self, hostname: &str, inv: &[Seen]) -> BaselineDiff {
        let mut d = BaselineDiff {
            baseline: self.name.clone(),
            baseline_sha256: self.sha256.clone(),
            ..BaselineDiff::default()
        };
        let mut keys: HashSet<(&str, &str)> = HashSet::new();
        let mut changed: BTreeMap<(String, String), ChangedItem> = BTreeMap::new();
        for s in inv {
            keys.insert((&s.item.kind, &s.item.key));
            if self.knows(&s.item) {
                d.known += 1;
                continue;
            }
            match self.by_key.get(&(s.item.kind.clone(), s.item.key.clone())) {
                None => d.new.push(s.clone()),
                Some(was) => {
                    changed
                        .entry((s.item.kind.clone(), s.item.key.clone()))
                        .or_insert_with(|| ChangedItem {
                            now: s.clone(),
                            was: was.clone(),
                        });
                }
            }
        }
        // A key seen both as known and with another identity (two hooks of one path...) is
        // changed only if no identity of it is known.
        d.changed = changed
            .into_values()
            .filter(|c| {
                !inv.iter().any(|s| {
                    s.item.kind == c.now.item.kind
                        && s.item.key == c.now.item.key
                        && self.knows(&s.item)
                })
            })
            .collect();
        let expected = self.of_host.get(hostname).unwrap_or(&self.everywhere);
        let mut removed: Vec<Item> = expected
            .iter()
            .filter(|i| !keys.contains(&(i.kind.as_str(), i.key.as_str())))
            .cloned()
            .collect();
        removed.sort();
        removed.dedup_by(|a, b| a.kind == b.kind && a.key == b.key);
        d.removed = removed;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(kind: &str, key: &str, sha: Option<&str>) -> Seen {
        Seen {
            item: Item {
                kind: kind.into(),
                key: key.into(),
                sha256: sha.map(str::to_string),
                detail: String::new(),
            },
            member: format!("records/{kind}.jsonl"),
            line: Some(1),
            path: None,
        }
    }

    fn host(n: &str) -> BaselineHost {
        BaselineHost {
            hostname: n.into(),
            bundle: format!("{n}.zip"),
            bundle_sha256: "0".repeat(64),
        }
    }

    #[test]
    fn built_parsed_and_compared() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let mut bb = BaselineBuilder::default();
        bb.add(
            host("gold"),
            &[
                seen("unit", "x.service", Some(&a)),
                seen("account", "root", None),
                seen("hook", "/etc/profile", Some(&a)),
            ],
        );
        let base = bb.finish();
        let text = base.to_json();
        assert_eq!(Baseline::parse(text.as_bytes()).unwrap(), base);
        let idx = BaselineIndex::new(base, "b.json".into(), "1".repeat(64));
        let d = idx.diff(
            "other",
            &[
                seen("unit", "x.service", Some(&b)),
                seen("account", "root", None),
                seen("cron", "/etc/crontab root: /tmp/x", None),
            ],
        );
        assert_eq!(d.known, 1);
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].was[0].sha256.as_deref(), Some(a.as_str()));
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].key, "/etc/profile");
    }

    #[test]
    fn hostile_or_foreign_documents_are_refused_in_one_line() {
        let ok = r#"{"schema":"dossier-baseline","version":1,"hosts":[{"hostname":"h","bundle":"b","bundle_sha256":"0"}],"items":[]}"#;
        assert!(Baseline::parse(ok.as_bytes()).is_ok());
        for (doc, want) in [
            ("{", "not a dossier baseline"),
            ("[]", "schema"),
            (
                r#"{"schema":"dossier-findings","version":1}"#,
                "schema: not a dossier-baseline",
            ),
            (
                r#"{"schema":"dossier-baseline","version":9}"#,
                "version: 9 is not supported",
            ),
            (
                &ok.replace("\"items\"", "\"extra\":1,\"items\""),
                "unknown field",
            ),
            (
                &ok.replace("[]}", r#"[{"kind":"rootkit","key":"k","hosts":["h"]}]}"#),
                "items[0].kind",
            ),
            (
                &ok.replace(
                    "[]}",
                    r#"[{"kind":"unit","key":"k","sha256":"zz","hosts":["h"]}]}"#,
                ),
                "items[0].sha256",
            ),
            (
                &ok.replace("[]}", r#"[{"kind":"unit","key":"k","hosts":["x"]}]}"#),
                "items[0].hosts",
            ),
        ] {
            let e = Baseline::parse(doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{doc}: {e}");
        }
    }
}
