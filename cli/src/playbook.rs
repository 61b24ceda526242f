//! Playbooks: the TOML files that say what to collect and with which limits.
//!
//! A playbook is validated completely before anything is collected: unknown keys, unknown
//! collectors and collector settings a collector rejects, unknown rules, bad weights or
//! thresholds, unknown reporters, and plugin requirements (`[plugins] name = "semver range"`)
//! that no loaded plugin satisfies are errors naming the file, the line and the key. The
//! built-in playbooks are embedded in the binary, so `dossier collect` works with no files
//! around; the SHA-256 of the exact bytes used goes into every bundle and report.
//!
//! `[report] lang = "zh-CN"` sets the language of the host, fleet and events reports (English
//! by default); `--lang` on the command line wins over it.

use dossier_analyzers::AnalysisConfig;
use dossier_i18n::Lang;
use dossier_plugin_api::Collector;
use dossier_plugin_api::encoding::hex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Built-in playbooks: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("triage", include_str!("../../playbooks/triage.toml")),
    (
        "miner-hunt",
        include_str!("../../playbooks/miner-hunt.toml"),
    ),
    ("full", include_str!("../../playbooks/full.toml")),
];

/// Names of the built-in reporters (always run, so a playbook cannot configure them).
pub const BUILTIN_REPORTERS: [(&str, &str); 3] = [
    ("host-markdown", "per-host report.md"),
    ("fleet-markdown", "fleet-report.md"),
    (
        "findings-json",
        "findings.json (schema dossier-findings v1)",
    ),
];

/// What a playbook is validated against: the collectors, analyzer plugin rules, plugin
/// reporters and plugin libraries available. The plugin registry is one; tests use a table.
pub trait Available {
    /// Collectors that can run (built in and plugin).
    fn collectors(&self) -> &[Arc<dyn Collector>];
    /// Version and path of a loaded plugin library, by plugin name.
    fn plugin(&self, name: &str) -> Option<(&str, &str)>;
    /// Ids of the rules of loaded analyzer plugins.
    fn plugin_rule_ids(&self) -> Vec<String>;
    /// Names of the loaded plugin reporters.
    fn reporters(&self) -> Vec<&str>;
}

/// Name of the playbook used when none is given.
pub const DEFAULT: &str = "triage";

/// Where the per-user plugin directory is, for error messages.
const USER_DIR_HINT: &str = "~/.local/share/dossier/plugins";

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
    /// Plugin requirements: name -> semver range.
    #[serde(default)]
    plugins: BTreeMap<String, toml::Spanned<String>>,
    /// Plugin reporters and their settings.
    #[serde(default)]
    reporters: BTreeMap<String, toml::Spanned<toml::Table>>,
    /// Limits of each call into a dynamic plugin.
    #[serde(default)]
    plugin_limits: Option<toml::Spanned<PluginLimits>>,
    /// How reports are written.
    #[serde(default)]
    report: Option<ReportFile>,
}

/// `[report]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportFile {
    #[serde(default)]
    lang: Option<toml::Spanned<String>>,
}

/// `[report]`: how the host, fleet and events reports are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportConfig {
    /// Their language (`lang = "zh-CN"`; English by default).
    pub lang: Lang,
}

/// `[plugin_limits]`: the time limit of each call into a dynamic plugin (`timeout_secs`, the
/// time the plugin runs, not the time dossier spends serving its host operations) and the
/// memory limit of each plugin host process (`memory_mib`, its address space).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_memory")]
    pub memory_mib: u64,
}

/// Default time limit of one call into a plugin, in seconds.
pub const DEFAULT_PLUGIN_TIMEOUT_SECS: u64 = 60;
/// Default memory limit (address space) of a plugin host process, in MiB.
pub const DEFAULT_PLUGIN_MEMORY_MIB: u64 = 1024;

fn default_timeout() -> u64 {
    DEFAULT_PLUGIN_TIMEOUT_SECS
}

fn default_memory() -> u64 {
    DEFAULT_PLUGIN_MEMORY_MIB
}

impl Default for PluginLimits {
    fn default() -> PluginLimits {
        PluginLimits {
            timeout_secs: default_timeout(),
            memory_mib: default_memory(),
        }
    }
}

impl PluginLimits {
    fn validate(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.timeout_secs) {
            return Err("timeout_secs must be 1 to 86400".into());
        }
        if !(64..=1 << 20).contains(&self.memory_mib) {
            return Err("memory_mib must be 64 to 1048576".into());
        }
        Ok(())
    }
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
    /// Plugins it requires: name -> semver range.
    pub plugins: BTreeMap<String, String>,
    /// Enabled plugin reporters with their settings (without `enabled`), by name.
    pub reporters: BTreeMap<String, serde_json::Value>,
    /// Limits of each call into a dynamic plugin.
    pub plugin_limits: PluginLimits,
    /// How reports are written (`[report]`; `--lang` overrides its language).
    pub report: ReportConfig,
}

impl Playbook {
    /// With the reports in `lang` when one is given (`--lang`, which wins over `[report] lang`).
    pub fn with_lang(mut self, lang: Option<Lang>) -> Playbook {
        if let Some(l) = lang {
            self.report.lang = l;
        }
        self
    }
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

/// Source, SHA-256 and exact text of a playbook (a built-in name or a file), unvalidated.
pub fn text_of(spec: &str) -> Result<(String, String, String), PlaybookError> {
    let (source, text) = read(spec)?;
    let sha = hex(&Sha256::digest(text.as_bytes()));
    Ok((source, sha, text))
}

/// Resolves `--playbook NAME|FILE`: a built-in name, or a path to a TOML file.
pub fn load(spec: Option<&str>, registry: &dyn Available) -> Result<Playbook, PlaybookError> {
    let (source, text) = read(spec.unwrap_or(DEFAULT))?;
    parse(&text, &source, registry)
}

/// The source label and text of a built-in playbook or a playbook file.
fn read(spec: &str) -> Result<(String, String), PlaybookError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return Ok((format!("builtin:{name}"), text.to_string()));
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
    // Opened only as a regular file (a FIFO or device swapped in after the check above is
    // never opened), and read no further than the limit.
    let file = dossier_bundle::fsio::open_input(path).map_err(|e| read_err(e.to_string()))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_PLAYBOOK + 1), &mut bytes)
        .map_err(|e| read_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_PLAYBOOK {
        return Err(read_err(format!("larger than {MAX_PLAYBOOK} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| read_err("not UTF-8".into()))?;
    Ok((spec.to_string(), text))
}

/// Parses and validates playbook text; `source` names it in errors.
pub fn parse(
    text: &str,
    source: &str,
    registry: &dyn Available,
) -> Result<Playbook, PlaybookError> {
    let file: PlaybookFile = toml::from_str(text).map_err(|e| PlaybookError::Invalid {
        file: source.to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        key: None,
        message: e.message().trim().to_string(),
    })?;
    let at = Source { text, source };
    // Plugin requirements first: a missing plugin explains its unknown collectors.
    let plugins = plugin_requirements(&at, file.plugins, registry)?;
    let collectors = enabled_collectors(&at, file.collectors, registry.collectors())?;
    let analysis = match file.analysis {
        None => AnalysisConfig::default(),
        Some(a) => {
            let line = line_of(text, a.span().start);
            let a = a.into_inner();
            a.validate(&registry.plugin_rule_ids())
                .map_err(|message| at.invalid(line, "analysis".into(), message))?;
            a
        }
    };
    let reporters = enabled_reporters(&at, file.reporters, registry)?;
    let plugin_limits = match file.plugin_limits {
        None => PluginLimits::default(),
        Some(l) => {
            let line = line_of(text, l.span().start);
            let l = l.into_inner();
            l.validate()
                .map_err(|message| at.invalid(line, "plugin_limits".into(), message))?;
            l
        }
    };
    let report = match file.report.and_then(|r| r.lang) {
        None => ReportConfig::default(),
        Some(l) => ReportConfig {
            lang: Lang::parse(l.get_ref()).map_err(|e| {
                at.invalid(at.line(l.span().start), "report.lang".into(), e.to_string())
            })?,
        },
    };
    Ok(Playbook {
        report,
        plugin_limits,
        plugins,
        reporters,
        analysis,
        name: file.name,
        description: file.description,
        source: source.to_string(),
        sha256: hex(&Sha256::digest(text.as_bytes())),
        text: text.to_string(),
        collectors,
    })
}

/// The text of a playbook and what names it in errors.
struct Source<'t> {
    text: &'t str,
    source: &'t str,
}

impl Source<'_> {
    fn invalid(&self, line: usize, key: String, message: String) -> PlaybookError {
        PlaybookError::Invalid {
            file: self.source.to_string(),
            line,
            key: Some(key),
            message,
        }
    }

    fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }
}

/// `[plugins]`: each required plugin loaded, in a version of the range.
fn plugin_requirements(
    at: &Source<'_>,
    required: BTreeMap<String, toml::Spanned<String>>,
    registry: &dyn Available,
) -> Result<BTreeMap<String, String>, PlaybookError> {
    let mut plugins = BTreeMap::new();
    for (name, req) in required {
        let line = at.line(req.span().start);
        let range = req.into_inner();
        let invalid = |message: String| at.invalid(line, format!("plugins.{name}"), message);
        let parsed = semver::VersionReq::parse(&range)
            .map_err(|e| invalid(format!("`{range}` is not a semver range: {e}")))?;
        let Some((version, path)) = registry.plugin(&name) else {
            return Err(invalid(format!(
                "plugin `{name}` ({range}) is required but not loaded: load it with --plugin PATH, DOSSIER_PLUGIN_PATH or {USER_DIR_HINT}"
            )));
        };
        let parsed_version = semver::Version::parse(version)
            .map_err(|e| invalid(format!("plugin version {version}: {e}")))?;
        if !parsed.matches(&parsed_version) {
            return Err(invalid(format!(
                "plugin `{name}` {version} (from {path}) does not satisfy the required version {range}"
            )));
        }
        plugins.insert(name, range);
    }
    Ok(plugins)
}

/// `enabled = true|false` taken out of a section's settings (true when absent).
fn take_enabled(table: &mut toml::Table) -> Result<bool, String> {
    match table.remove("enabled") {
        None => Ok(true),
        Some(toml::Value::Boolean(b)) => Ok(b),
        Some(other) => Err(format!("must be true or false, not {other}")),
    }
}

/// `[collectors.NAME]`: known collectors whose settings they accept; the enabled ones.
fn enabled_collectors(
    at: &Source<'_>,
    sections: BTreeMap<String, toml::Spanned<toml::Table>>,
    collectors: &[Arc<dyn Collector>],
) -> Result<BTreeMap<String, serde_json::Value>, PlaybookError> {
    let mut enabled = BTreeMap::new();
    for (name, spanned) in sections {
        let line = at.line(spanned.span().start);
        let invalid = |key: String, message: String| at.invalid(line, key, message);
        let mut table = spanned.into_inner();
        let on = take_enabled(&mut table)
            .map_err(|m| invalid(format!("collectors.{name}.enabled"), m))?;
        let Some(collector) = collectors.iter().find(|c| c.info().name == name) else {
            let known: Vec<String> = collectors.iter().map(|c| c.info().name).collect();
            return Err(invalid(
                format!("collectors.{name}"),
                format!(
                    "unknown collector (known: {}); a plugin collector needs its plugin loaded (--plugin PATH, DOSSIER_PLUGIN_PATH or {})",
                    known.join(", "),
                    USER_DIR_HINT
                ),
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
        return Err(at.invalid(1, "collectors".into(), "no collector enabled".into()));
    }
    Ok(enabled)
}

/// `[reporters.NAME]`: loaded plugin reporters (not the built-in ones); the enabled ones.
fn enabled_reporters(
    at: &Source<'_>,
    sections: BTreeMap<String, toml::Spanned<toml::Table>>,
    registry: &dyn Available,
) -> Result<BTreeMap<String, serde_json::Value>, PlaybookError> {
    let mut reporters = BTreeMap::new();
    for (name, spanned) in sections {
        let line = at.line(spanned.span().start);
        let invalid = |message: String| at.invalid(line, format!("reporters.{name}"), message);
        let mut table = spanned.into_inner();
        let on = take_enabled(&mut table).map_err(|m| invalid(format!("enabled {m}")))?;
        if BUILTIN_REPORTERS.iter().any(|(n, _)| *n == name) {
            return Err(invalid(
                "built-in reporters always run and take no settings".into(),
            ));
        }
        let known = registry.reporters();
        if !known.contains(&name.as_str()) {
            return Err(invalid(format!(
                "unknown reporter (loaded plugin reporters: {}); load its plugin with --plugin PATH, DOSSIER_PLUGIN_PATH or {USER_DIR_HINT}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        let config = serde_json::to_value(&table).map_err(|e| invalid(e.to_string()))?;
        if on {
            reporters.insert(name, config);
        }
    }
    Ok(reporters)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in collectors and no plugin.
    struct Builtin(Vec<Arc<dyn Collector>>);

    impl Available for Builtin {
        fn collectors(&self) -> &[Arc<dyn Collector>] {
            &self.0
        }
        fn plugin(&self, _: &str) -> Option<(&str, &str)> {
            None
        }
        fn plugin_rule_ids(&self) -> Vec<String> {
            Vec::new()
        }
        fn reporters(&self) -> Vec<&str> {
            Vec::new()
        }
    }

    fn all() -> Builtin {
        Builtin(dossier_collectors::builtin())
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
    fn report_language_comes_from_the_playbook_and_the_flag_wins() {
        let p = parse("name = \"t\"\n[collectors.cron]\n", "t.toml", &all()).unwrap();
        assert_eq!(p.report.lang, Lang::En);
        let p = parse(
            "name = \"t\"\n[collectors.cron]\n[report]\nlang = \"zh-CN\"\n",
            "t.toml",
            &all(),
        )
        .unwrap();
        assert_eq!(p.report.lang, Lang::ZhCn);
        assert_eq!(p.clone().with_lang(None).report.lang, Lang::ZhCn);
        assert_eq!(p.with_lang(Some(Lang::En)).report.lang, Lang::En);
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n\n[report]\nlang = \"fr\"\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "playbook t.toml, line 5, key `report.lang`: unknown report language \"fr\": use one of en, zh-CN"
        );
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n[report]\ncolour = 1\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4") && e.contains("colour"), "{e}");
    }

    #[test]
    fn plugin_limits_default_and_are_bounded() {
        let p = parse("name = \"t\"\n[collectors.cron]\n", "t", &all()).unwrap();
        assert_eq!(
            p.plugin_limits,
            PluginLimits {
                timeout_secs: DEFAULT_PLUGIN_TIMEOUT_SECS,
                memory_mib: DEFAULT_PLUGIN_MEMORY_MIB
            }
        );
        let p = parse(
            "name = \"t\"\n[collectors.cron]\n[plugin_limits]\ntimeout_secs = 5\n",
            "t",
            &all(),
        )
        .unwrap();
        assert_eq!(p.plugin_limits.timeout_secs, 5);
        assert_eq!(p.plugin_limits.memory_mib, DEFAULT_PLUGIN_MEMORY_MIB);
        for bad in ["timeout_secs = 0", "memory_mib = 8", "stack = 1"] {
            let e = parse(
                &format!("name = \"t\"\n[collectors.cron]\n[plugin_limits]\n{bad}\n"),
                "t",
                &all(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("line 3") || e.contains("line 4"), "{bad}: {e}");
        }
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
    fn every_builtin_playbook_loads() {
        for (name, text) in BUILTIN {
            let p = load(Some(name), &all()).unwrap();
            assert_eq!(&p.name, name);
            assert_eq!(p.sha256, hex(&Sha256::digest(text.as_bytes())));
        }
        let hunt = load(Some("miner-hunt"), &all()).unwrap();
        assert_eq!(hunt.analysis.rules["miner-strings"].weight, Some(40));
        let full = load(Some("full"), &all()).unwrap();
        assert_eq!(full.collectors["packages"]["verify"], "full");
        assert_eq!(full.collectors["proc"]["copy_executables"], "all");
    }

    #[test]
    fn plugin_requirements_and_reporters_are_checked() {
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n\n[plugins]\nssh-keys = \">=0.1, <0.2\"\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml, line 5, key `plugins.ssh-keys`")
                && e.contains("required but not loaded")
                && e.contains("--plugin"),
            "{e}"
        );
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n[plugins]\nx = \"not a range\"\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 4") && e.contains("not a semver range"),
            "{e}"
        );
        let e = parse(
            "name = \"t\"\n[collectors.cron]\n[reporters.csv]\nsep = \";\"\n",
            "t.toml",
            &all(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 3, key `reporters.csv`") && e.contains("unknown reporter"),
            "{e}"
        );
        let e = parse("name = \"t\"\n[collectors.ssh-keys]\n", "t.toml", &all())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("plugin collector"),
            "{e}"
        );
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
