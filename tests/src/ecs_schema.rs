//! Checks ECS documents against the vendored field definitions of `tests/data/ecs/`
//! (`ecs-fields.json`, converted from the ECS release's `ecs_flat.yml`; see its README): every
//! field of a document must be an ECS field (or a key under an `object` field such as
//! `labels`, whose values are keywords), its value of the field's type (`keyword` and the
//! other string types: a string; `long`/`integer`: an integer in range; `float`/`double`/
//! `scaled_float`: a number; `date`: RFC 3339; `ip`: an IPv4 or IPv6 address; `boolean`), an
//! array exactly when ECS normalizes the field to an array, and among the allowed (or
//! expected) values when ECS lists them; each `event.type` must be an expected type of each
//! `event.category`; `@timestamp` and `ecs.version` are required.
//!
//! `dossier-tests` exports it (`dossier_tests::ecs_schema`); the unit tests of `exports/`
//! include this same file with `#[path]`, as they cannot depend on `dossier-tests`.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One ECS field as the vendored file describes it.
#[derive(Debug, serde::Deserialize)]
pub struct FieldDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub array: bool,
    /// Allowed value → (for `event.category`) its expected event types.
    #[serde(default)]
    pub allowed_values: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub expected_values: Option<Vec<String>>,
}

/// The vendored definitions.
#[derive(Debug, serde::Deserialize)]
pub struct Schema {
    pub ecs_version: String,
    pub commit: String,
    pub fields: BTreeMap<String, FieldDef>,
}

impl Schema {
    /// Reads `tests/data/ecs/ecs-fields.json` under the repository root `root`.
    pub fn load(root: &Path) -> Schema {
        let p = root.join("tests/data/ecs/ecs-fields.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Everything wrong with one document (empty: it conforms).
    pub fn check(&self, doc: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let mut leaves = Vec::new();
        flatten("", doc, self, &mut leaves, &mut errors);
        let by_name: BTreeMap<&str, &Value> =
            leaves.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        for required in ["@timestamp", "ecs.version"] {
            if !by_name.contains_key(required) {
                errors.push(format!("{required}: missing"));
            }
        }
        for (name, v) in &leaves {
            match self.fields.get(name.as_str()) {
                Some(def) => check_field(name, v, def, &mut errors),
                None if under_object(name, self) => {
                    if !v.is_string() {
                        errors.push(format!("{name}: {v} is not a keyword (string)"));
                    }
                }
                None => errors.push(format!("{name}: not an ECS {} field", self.ecs_version)),
            }
        }
        self.check_event_types(&by_name, &mut errors);
        errors
    }

    /// Each `event.type` must be an expected type of each `event.category`.
    fn check_event_types(&self, doc: &BTreeMap<&str, &Value>, errors: &mut Vec<String>) {
        let (Some(cats), Some(types)) = (doc.get("event.category"), doc.get("event.type")) else {
            return;
        };
        let Some(allowed) = self
            .fields
            .get("event.category")
            .and_then(|d| d.allowed_values.as_ref())
        else {
            return;
        };
        for c in as_strings(cats) {
            let Some(expected) = allowed.get(c) else {
                continue;
            };
            for t in as_strings(types) {
                if !expected.iter().any(|e| e == t) {
                    errors.push(format!(
                        "event.type {t:?} is not an expected type of event.category {c:?} ({expected:?})"
                    ));
                }
            }
        }
    }
}

fn as_strings(v: &Value) -> Vec<&str> {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => vec![],
    }
}

/// Whether `name` is a key below a field of type `object` (`labels.x`).
fn under_object(name: &str, schema: &Schema) -> bool {
    let mut prefix = name;
    while let Some((head, _)) = prefix.rsplit_once('.') {
        if schema.fields.get(head).is_some_and(|d| d.kind == "object") {
            return true;
        }
        prefix = head;
    }
    false
}

/// Collects (dotted name, value) of every leaf; an object is descended into unless it is the
/// value of a field ECS defines as a value (that is an error).
fn flatten<'a>(
    prefix: &str,
    v: &'a Value,
    schema: &Schema,
    out: &mut Vec<(String, &'a Value)>,
    errors: &mut Vec<String>,
) {
    match v {
        Value::Object(o) => {
            if let Some(def) = schema.fields.get(prefix)
                && def.kind != "object"
            {
                errors.push(format!("{prefix}: an object, but ECS says {}", def.kind));
                return;
            }
            for (k, child) in o {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, child, schema, out, errors);
            }
        }
        _ => out.push((prefix.to_string(), v)),
    }
}

fn check_field(name: &str, v: &Value, def: &FieldDef, errors: &mut Vec<String>) {
    let items: Vec<&Value> = match v {
        Value::Array(a) => {
            if !def.array {
                errors.push(format!(
                    "{name}: an array, but ECS does not normalize it to one"
                ));
            }
            if a.is_empty() {
                errors.push(format!("{name}: an empty array"));
            }
            a.iter().collect()
        }
        _ => {
            if def.array {
                errors.push(format!("{name}: ECS normalizes it to an array; got {v}"));
            }
            vec![v]
        }
    };
    for item in items {
        if let Some(why) = type_error(item, &def.kind) {
            errors.push(format!("{name}: {item} {why}"));
        }
        let s = item.as_str().unwrap_or_default();
        if let Some(allowed) = &def.allowed_values
            && !allowed.contains_key(s)
        {
            errors.push(format!(
                "{name}: {item} is not an allowed value ({:?})",
                allowed.keys().collect::<Vec<_>>()
            ));
        }
        if let Some(expected) = &def.expected_values
            && !expected.iter().any(|e| e == s)
        {
            errors.push(format!(
                "{name}: {item} is not an expected value ({expected:?})"
            ));
        }
    }
}

/// Why `v` is not a value of ECS type `kind` (`None`: it is).
fn type_error(v: &Value, kind: &str) -> Option<String> {
    let ok = match kind {
        "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => v.is_string(),
        "long" => v.is_i64() || v.is_u64() && v.as_u64() <= Some(i64::MAX as u64),
        "integer" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "float" | "double" | "scaled_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "date" => v
            .as_str()
            .is_some_and(|s| dossier_plugin_api::time::Timestamp::parse(s).is_some()),
        "ip" => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        other => {
            return Some(format!(
                "has ECS type {other}, which these exports never write"
            ));
        }
    };
    (!ok).then(|| format!("is not of ECS type {kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
    }

    #[test]
    fn the_checker_catches_what_it_should() {
        let s = schema();
        assert_eq!(s.ecs_version, "9.4.0");
        let good = json!({"@timestamp": "2026-11-23T01:40:44Z", "ecs": {"version": "9.4.0"},
            "event": {"kind": "alert", "category": ["file"], "type": ["info"], "severity": 73},
            "labels": {"x": "y"}, "related": {"ip": ["203.0.113.45", "2001:db8::1"]}});
        assert_eq!(s.check(&good), Vec::<String>::new());
        let bad = json!({"@timestamp": "yesterday", "event": {"kind": "warning",
            "category": ["file", "dossier"], "type": ["indicator"], "severity": "high"},
            "labels": {"x": 1}, "related": {"ip": "203.0.113.45"}, "nosuch": {"field": 1},
            "host": {"name": {"first": "web01"}}});
        let errors = s.check(&bad);
        for expected in [
            "ecs.version: missing",
            "@timestamp: \"yesterday\" is not of ECS type date",
            "event.kind: \"warning\" is not an allowed value",
            "event.category: \"dossier\" is not an allowed value",
            "event.severity: \"high\" is not of ECS type long",
            "event.type \"indicator\" is not an expected type of event.category \"file\"",
            "labels.x: 1 is not a keyword",
            "related.ip: ECS normalizes it to an array",
            "nosuch.field: not an ECS 9.4.0 field",
            "host.name: an object, but ECS says keyword",
        ] {
            assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{expected:?} not among {errors:#?}"
            );
        }
    }
}
