//! Playbooks: the TOML files that say what to collect and with which limits.
//!
//! A playbook is validated completely before anything is collected: unknown keys, unknown
//! collectors and collector settings a collector rejects are errors naming the file, the line
//! and the key. The built-in playbooks are embedded in the binary, so `dossier collect` works
//! with no files around; the SHA-256 of the exact bytes used goes into every bundle.

use dossier_analyzers::AnalysisConfig;
use dossier_plugin_api::Collector;
use dossier_plugin_api::encoding::hex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Built-in playbooks: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[("triage", include_str!("../../playbooks/triage.toml"))];

/// Name of the playbook used when none is given.
pub const DEFAULT: &str = "triage";

/// Largest playbook file read.
const MAX_PLAYBOOK: u64 = 4 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    collectors: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    analysis: Option<toml::Spanned<AnalysisConfig>>,
}

/// A loaded, validated playbook.
#[derive(Clone, Debug)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    /// `builtin:<name>` or the file path.
    pub source: String,
    /// SHA-256 of the exact bytes.
    pub sha256: String,
    pub text: String,
    /// Enabled collectors with their settings (without `enabled`), by name.
    pub collectors: BTreeMap<String, serde_json::Value>,
    /// Rules, weights, thresholds and keyword lists.
    pub analysis: AnalysisConfig,
}

/// A playbook that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("playbook `{0}` not found: not a built-in playbook ({1}) and no such file")]
    NotFound(String, String),
    #[error("playbook {file}: {message}")]
    Read { file: String, message: String },
    #[error("playbook {file}, line {line}{}: {message}", key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Invalid {
        file: String,
        line: usize,
        key: Option<String>,
        message: String,
    },
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Resolves `--playbook NAME|FILE`: a built-in name, or a path to a TOML file.
pub fn load(
    spec: Option<&str>,
    collectors: &[Arc<dyn Collector>],
) -> Result<Playbook, PlaybookError> {
    let spec = spec.unwrap_or(DEFAULT);
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return parse(text, &format!("builtin:{name}"), collectors);
    }
    let path = Path::new(spec);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => {
            return Err(PlaybookError::NotFound(
                spec.to_string(),
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    };
    let read_err = |message: String| PlaybookError::Read {
        file: spec.to_string(),
        message,
    };
    if !meta.is_file() {
        return Err(read_err("not a regular file".into()));
    }
    if meta.len() > MAX_PLAYBOOK {
        return Err(read_err(format!("larger than {MAX_PLAYBOOK} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| read_err("not UTF-8".into()))?;
    parse(&text, spec, collectors)
}

/// Parses and validates playbook text; `source` names it in errors.
pub fn parse(
    text: &str,
    source: &str,
    collectors: &[Arc<dyn Collector>],
) -> Result<Playbook, PlaybookError> {
    let file: PlaybookFile = toml::from_str(text).map_err(|e| PlaybookError::Invalid {
        file: source.to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        key: None,
        message: e.message().trim().to_string(),
    })?;
    let mut enabled = BTreeMap::new();
    for (name, spanned) in file.collectors {
        let line = line_of(text, spanned.span().start);
        let invalid = |key: String, message: String| PlaybookError::Invalid {
            file: source.to_string(),
            line,
            key: Some(key),
            message,
        };
        let mut table = spanned.into_inner();
        let on = match table.remove("enabled") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(other) => {
                return Err(invalid(
                    format!("collectors.{name}.enabled"),
                    format!("must be true or false, not {other}"),
                ));
            }
        };
        let Some(collector) = collectors.iter().find(|c| c.info().name == name) else {
            let known: Vec<String> = collectors.iter().map(|c| c.info().name).collect();
            return Err(invalid(
                format!("collectors.{name}"),
                format!("unknown collector (known: {})", known.join(", ")),
            ));
        };
        let config = serde_json::to_value(&table)
            .map_err(|e| invalid(format!("collectors.{name}"), e.to_string()))?;
        collector
            .validate_config(&config)
            .map_err(|e| invalid(format!("collectors.{name}"), e))?;
        if on {
            enabled.insert(name, config);
        }
    }
    if enabled.is_empty() {
        return Err(PlaybookError::Invalid {
            file: source.to_string(),
            line: 1,
            key: Some("collectors".into()),
            message: "no collector enabled".into(),
        });
    }
    let analysis = match file.analysis {
        None => AnalysisConfig::default(),
        Some(a) => {
            let line = line_of(text, a.span().start);
            let a = a.into_inner();
            a.validate().map_err(|message| PlaybookError::Invalid {
                file: source.to_string(),
                line,
                key: Some("analysis".into()),
                message,
            })?;
            a
        }
    };
    Ok(Playbook {
        analysis,
        name: file.name,
        description: file.description,
        source: source.to_string(),
        sha256: hex(&Sha256::digest(text.as_bytes())),
        text: text.to_string(),
        collectors: enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Arc<dyn Collector>> {
        dossier_collectors::builtin()
    }

    #[test]
    fn builtin_triage_loads_with_the_five_collectors() {
        let p = load(None, &all()).unwrap();
        assert_eq!(p.name, "triage");
        assert_eq!(p.source, "builtin:triage");
        for c in ["facts", "systemd", "cron", "proc", "sockets", "packages"] {
            assert!(p.collectors.contains_key(c), "{c}");
        }
        assert_eq!(p.sha256, hex(&Sha256::digest(BUILTIN[0].1.as_bytes())));
    }

    #[test]
    fn errors_name_line_and_key() {
        let text = "name = \"t\"\n\n[collectors.cron]\nmax_file_size = \"1 MiB\"\n\n[collectors.proc]\ncopy_executables = \"sometimes\"\n";
        let e = parse(text, "t.toml", &all()).unwrap_err().to_string();
        assert!(
            e.contains("t.toml") && e.contains("line 6") && e.contains("collectors.proc"),
            "{e}"
        );

        let e = parse("name = \"t\"\n[collectors.nosuch]\n", "t.toml", &all())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("unknown collector"),
            "{e}"
        );

        let e = parse("name = \"t\"\nbogus = 1\n", "t.toml", &all())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("bogus"), "{e}");

        let e = parse(
            "name = \"t\"\n[collectors.cron]\nenabled = \"yes\"\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("enabled"), "{e}");
    }

    #[test]
    fn analysis_section_is_validated() {
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n\n[analysis.rules.no-such-rule]\nweight = 5\n",
            "t",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown rule") && e.contains("line 4"), "{e}");
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n[analysis]\nthreshold = 1\n",
            "t",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("threshold"), "{e}");
        let p = parse(
            "name = \"t\"\n[collectors.cron]\n[analysis.rules.exec-unowned]\nweight = 40\n",
            "t",
            &all(),
        )
        .unwrap();
        assert_eq!(p.analysis.rules["exec-unowned"].weight, Some(40));
    }

    #[test]
    fn disabled_collectors_are_left_out() {
        let p = parse(
            "name = \"t\"\n[collectors.cron]\n[collectors.proc]\nenabled = false\n",
            "t",
            &all(),
        )
        .unwrap();
        assert_eq!(p.collectors.keys().collect::<Vec<_>>(), ["cron"]);
    }
}
