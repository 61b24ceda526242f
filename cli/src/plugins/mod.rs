//! The plugin registry: built-in collectors, and dynamic plugins, each library run in plugin
//! host child processes (never loaded into the dossier process).
//!
//! Discovery, in this order (a plugin name found again later is skipped with a note):
//! 1. `--plugin PATH` (repeatable): a library file, or a directory of `*.so` files;
//! 2. `DOSSIER_PLUGIN_PATH` (files or directories separated by `:`), only with `--plugin-env`:
//!    set but not asked for, it is ignored with a warning;
//! 3. the per-user directory `$XDG_DATA_HOME/dossier/plugins` (default
//!    `~/.local/share/dossier/plugins`).
//!
//! Every library file, the folder holding it and every folder above that must be owned by the
//! running user or root and not group- or world-writable (a folder with the sticky bit may
//! be), checked on the open file before it is loaded ([`check_owner_mode`],
//! [`load::check_folder_chain`]); the per-user directory itself is checked too. A library given
//! by the first two that cannot be used is an error (the command does not run); one found in
//! the per-user directory is skipped with a warning.
//!
//! Loading: dossier starts `dossier __plugin-host` ([`child`]) for the library; the child
//! closes every inherited descriptor, sets its memory limit, hashes the file (SHA-256) and
//! loads it (`dlopen`) through the same open descriptor, so the code loaded is the code hashed.
//! `dlopen` runs the library's initializers (ELF constructors, `.init_array`) before any check
//! of the library's own, but in the child, never here. Then, before any dossier entry point
//! other than `dossier_plugin_info` is called, its ABI version, plugin API major version and
//! target triple are checked (in the child, [`PluginLib::check`], and again here on what it
//! reports). Calls go to the child as frames of the ABI's own JSON (`frame.rs`); the host
//! callbacks come back and are served here against the real target and bundle writer. Each
//! call has a time limit and each child a memory limit ([`Limits`], the playbook's
//! `[plugin_limits]`); a child that dies or hangs fails that call with a one-line reason
//! (`plugin crashy: killed by SIGSEGV during collect`) and is replaced at the next call
//! (`pool.rs`). The hash goes into every bundle and report the plugin contributes to.

use crate::playbook::{Available, BUILTIN_REPORTERS};
use dossier_plugin_abi::bridge::{DynAnalyzer, DynCollector, DynReporter, PluginLib, valid_name};
use dossier_plugin_abi::{KIND_ANALYZER, KIND_COLLECTOR, KIND_REPORTER};
use dossier_plugin_api::analysis::PluginUse;
use dossier_plugin_api::{Analyzer, Collector, Reporter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod child;
mod frame;
pub mod load;
mod pool;
mod process;

pub use child::HOST_ARG;
pub use load::check_owner_mode;
pub use pool::Limits;

/// How a library was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// `--plugin`.
    Flag,
    /// `DOSSIER_PLUGIN_PATH`.
    Env,
    /// The per-user plugin directory.
    UserDir,
}

impl Found {
    fn label(self) -> &'static str {
        match self {
            Found::Flag => "--plugin",
            Found::Env => "DOSSIER_PLUGIN_PATH (--plugin-env)",
            Found::UserDir => "user plugin directory",
        }
    }
}

/// A loaded plugin library.
#[derive(Debug)]
pub struct Loaded {
    pub lib: Arc<PluginLib>,
    pub found: Found,
    /// Time to hash, load and check the library and make its instances.
    pub load_time: Duration,
}

/// A plugin reporter of the registry (one instance per analysis run).
#[derive(Debug)]
pub struct PluginReporter {
    pub reporter: Mutex<DynReporter>,
    pub info: dossier_plugin_api::ReporterInfo,
}

/// Everything dossier can run: built-in collectors and dynamic plugins.
#[derive(Default)]
pub struct Registry {
    /// Built-in collectors, then plugin collectors.
    pub collectors: Vec<Arc<dyn Collector>>,
    pub analyzers: Vec<Arc<DynAnalyzer>>,
    pub reporters: Vec<PluginReporter>,
    pub libs: Vec<Loaded>,
    /// Plugins skipped (duplicates, unusable libraries in the per-user directory).
    pub warnings: Vec<String>,
    /// The limits of every plugin call (the playbook's `[plugin_limits]`).
    pub limits: Arc<Limits>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field(
                "collectors",
                &self
                    .collectors
                    .iter()
                    .map(|c| c.info().name)
                    .collect::<Vec<_>>(),
            )
            .field("libs", &self.libs)
            .finish()
    }
}

/// A plugin that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("plugin {path}: {message}")]
pub struct PluginLoadError {
    pub path: String,
    pub message: String,
}

fn load_error(path: &Path, message: impl Into<String>) -> PluginLoadError {
    PluginLoadError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The per-user plugin directory.
pub fn user_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("dossier/plugins"))
}

/// Library files of a directory (`*.so`), sorted; a file is itself.
fn expand(path: &Path) -> Result<Vec<PathBuf>, PluginLoadError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => load_error(
            path,
            "does not exist; give a plugin library (.so) or a folder of them",
        ),
        _ => load_error(path, crate::inputs::io_reason(&e)),
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !meta.is_dir() {
        return Err(load_error(path, "not a file or directory"));
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| load_error(path, e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "so") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

impl Registry {
    /// Built-in collectors only.
    pub fn builtin() -> Registry {
        Registry {
            collectors: dossier_collectors::builtin(),
            ..Default::default()
        }
    }

    /// Built-ins plus the plugins of `--plugin`, `DOSSIER_PLUGIN_PATH` (only if `use_env`:
    /// `--plugin-env`) and the per-user directory.
    pub fn load(flags: &[PathBuf], use_env: bool) -> Result<Registry, PluginLoadError> {
        let mut r = Registry::builtin();
        for p in flags {
            for f in expand(p)? {
                r.add(&f, Found::Flag)?;
            }
        }
        match std::env::var_os("DOSSIER_PLUGIN_PATH") {
            Some(env) if use_env => {
                for p in std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()) {
                    for f in expand(&p)? {
                        r.add(&f, Found::Env)?;
                    }
                }
            }
            Some(env) if !env.is_empty() => r.warnings.push(
                "DOSSIER_PLUGIN_PATH is set but ignored: give --plugin-env to load plugins from it"
                    .into(),
            ),
            _ => {}
        }
        if let Some(dir) = user_dir().filter(|d| d.is_dir()) {
            let checked = load::check_folder_chain(&dir).and_then(|()| expand(&dir));
            match checked {
                Ok(files) => {
                    for f in files {
                        if let Err(e) = r.add(&f, Found::UserDir) {
                            r.warnings.push(format!("{e} (skipped)"));
                        }
                    }
                }
                Err(e) => r.warnings.push(format!("{e} (skipped)")),
            }
        }
        Ok(r)
    }

    /// Loads one library and registers what it provides.
    fn add(&mut self, path: &Path, found: Found) -> Result<(), PluginLoadError> {
        let start = Instant::now();
        let (host, meta) = pool::PluginHost::start(path, self.limits.clone())?;
        let lib = Arc::new(PluginLib::with_transport(meta, Arc::new(host)));
        if let Some(other) = self.libs.iter().find(|l| l.lib.name == lib.name) {
            if other.lib.sha256 == lib.sha256 || other.found != found {
                self.warnings.push(format!(
                    "plugin {} from {} ignored: already loaded from {} ({})",
                    lib.name,
                    path.display(),
                    other.lib.path,
                    other.found.label()
                ));
                return Ok(());
            }
            return Err(load_error(
                path,
                format!(
                    "plugin `{}` is also provided by {}: give only one",
                    lib.name, other.lib.path
                ),
            ));
        }
        let kinds = lib.kinds;
        let collector = (kinds & KIND_COLLECTOR != 0)
            .then(|| self.collector_of(&lib, path))
            .transpose()?;
        let analyzer = (kinds & KIND_ANALYZER != 0)
            .then(|| self.analyzer_of(&lib, path))
            .transpose()?;
        let reporter = (kinds & KIND_REPORTER != 0)
            .then(|| self.reporter_of(&lib, path))
            .transpose()?;
        self.collectors
            .extend(collector.map(|c| Arc::new(c) as Arc<dyn Collector>));
        self.analyzers.extend(analyzer.map(Arc::new));
        self.reporters.extend(reporter);
        self.libs.push(Loaded {
            lib,
            found,
            load_time: start.elapsed(),
        });
        Ok(())
    }

    /// The collector of a library: a valid name no other collector has.
    fn collector_of(
        &self,
        lib: &Arc<PluginLib>,
        path: &Path,
    ) -> Result<DynCollector, PluginLoadError> {
        let c = DynCollector::new(lib).map_err(|e| load_error(path, e.to_string()))?;
        let name = c.info().name;
        if !valid_name(&name) {
            return Err(load_error(
                path,
                format!("collector name `{name}` is not valid"),
            ));
        }
        if self.collectors.iter().any(|x| x.info().name == name) {
            return Err(load_error(
                path,
                format!("collector `{name}` already exists (built in or another plugin)"),
            ));
        }
        Ok(c)
    }

    /// The analyzer of a library: valid rule ids no other rule has.
    fn analyzer_of(
        &self,
        lib: &Arc<PluginLib>,
        path: &Path,
    ) -> Result<DynAnalyzer, PluginLoadError> {
        let a = DynAnalyzer::new(lib).map_err(|e| load_error(path, e.to_string()))?;
        let info = a.info();
        for rule in &info.rules {
            if !valid_name(&rule.id) {
                return Err(load_error(
                    path,
                    format!("rule id `{}` is not valid", rule.id),
                ));
            }
            if self.rule_exists(&rule.id) {
                return Err(load_error(
                    path,
                    format!(
                        "rule `{}` already exists (built in or another plugin)",
                        rule.id
                    ),
                ));
            }
        }
        Ok(a)
    }

    /// The reporter of a library: a valid name no other reporter has, plain file names.
    fn reporter_of(
        &self,
        lib: &Arc<PluginLib>,
        path: &Path,
    ) -> Result<PluginReporter, PluginLoadError> {
        let r = DynReporter::new(lib).map_err(|e| load_error(path, e.to_string()))?;
        let info = r.info();
        let bad = |f: &Option<String>| {
            f.as_ref().is_some_and(|f| {
                f.is_empty() || f.contains('/') || f.starts_with('.') || f.len() > 128
            })
        };
        if !valid_name(&info.name) || bad(&info.host_file) || bad(&info.fleet_file) {
            return Err(load_error(
                path,
                format!("reporter `{}`: invalid name or output file name", info.name),
            ));
        }
        if BUILTIN_REPORTERS.iter().any(|(n, _)| *n == info.name)
            || self.reporters.iter().any(|x| x.info.name == info.name)
        {
            return Err(load_error(
                path,
                format!("reporter `{}` already exists", info.name),
            ));
        }
        Ok(PluginReporter {
            reporter: Mutex::new(r),
            info,
        })
    }

    /// Whether a rule id is taken (built in or by a loaded analyzer).
    pub fn rule_exists(&self, id: &str) -> bool {
        dossier_analyzers::CATALOG.iter().any(|r| r.id == id)
            || self
                .analyzers
                .iter()
                .any(|a| a.info().rules.iter().any(|r| r.id == id))
    }

    /// Ids of the rules of loaded analyzer plugins.
    pub fn plugin_rule_ids(&self) -> Vec<String> {
        self.analyzers
            .iter()
            .flat_map(|a| a.info().rules.into_iter().map(|r| r.id))
            .collect()
    }

    /// A loaded plugin by name.
    pub fn lib(&self, name: &str) -> Option<&Arc<PluginLib>> {
        self.libs.iter().map(|l| &l.lib).find(|l| l.name == name)
    }

    /// Sets the limits of the plugin calls from here on (from the playbook).
    pub fn set_limits(&self, limits: &crate::playbook::PluginLimits) {
        self.limits.set(limits.timeout_secs, limits.memory_mib);
    }

    /// Prints the warnings of loading on stderr.
    pub fn print_warnings(&self) {
        for w in &self.warnings {
            eprintln!("dossier: warning: {w}");
        }
    }
}

impl Available for Registry {
    fn collectors(&self) -> &[Arc<dyn Collector>] {
        &self.collectors
    }

    fn plugin(&self, name: &str) -> Option<(&str, &str)> {
        self.lib(name)
            .map(|l| (l.version.as_str(), l.path.as_str()))
    }

    fn plugin_rule_ids(&self) -> Vec<String> {
        Registry::plugin_rule_ids(self)
    }

    fn reporters(&self) -> Vec<&str> {
        self.reporters
            .iter()
            .map(|r| r.info.name.as_str())
            .collect()
    }
}

/// The record of a plugin used, for reports.
pub fn use_of(kind: &str, name: &str, lib: &PluginLib) -> PluginUse {
    PluginUse {
        kind: kind.into(),
        name: name.into(),
        version: lib.version.clone(),
        path: lib.path.clone(),
        sha256: lib.sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_expanded_to_their_libraries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.so");
        std::fs::write(&p, "not ELF").unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        assert!(expand(&d.path().join("missing")).is_err());
        assert_eq!(expand(&p).unwrap(), expand(d.path()).unwrap());
        assert_eq!(expand(&p).unwrap(), [p]);
    }

    #[test]
    fn builtin_registry_has_the_builtin_collectors_and_no_plugin() {
        let r = Registry::builtin();
        assert_eq!(r.collectors.len(), dossier_collectors::builtin().len());
        assert!(r.libs.is_empty() && r.analyzers.is_empty());
        assert!(r.rule_exists("exec-unowned"));
        assert!(!r.rule_exists("ssh-key-root"));
    }
}
