//! The plugin registry: built-in collectors, and dynamic plugins loaded with libloading.
//!
//! Discovery, in this order (a plugin name found again later is skipped with a note):
//! 1. `--plugin PATH` (repeatable): a library file, or a directory of `*.so` files;
//! 2. `DOSSIER_PLUGIN_PATH` (files or directories separated by `:`), only with `--plugin-env`:
//!    set but not asked for, it is ignored with a warning;
//! 3. the per-user directory `$XDG_DATA_HOME/dossier/plugins` (default
//!    `~/.local/share/dossier/plugins`).
//!
//! Every library file and the folder holding it must be owned by the running user or root
//! and not group- or world-writable (a folder with the sticky bit may be), checked before the
//! file is loaded ([`check_owner_mode`]); the per-user directory itself is checked too. A
//! library given by the first two that cannot be used is an error (the command does not run);
//! one found in the per-user directory is skipped with a warning. Loading (`dlopen`) runs the
//! library's initializers (ELF constructors, `.init_array`): that code runs before any check
//! of the library's own; then, before any dossier entry point of it other than
//! `dossier_plugin_info` is called, its ABI version, plugin API major version and target
//! triple are checked ([`PluginLib::check`]). The file is hashed (SHA-256) and then loaded
//! through the same open file descriptor, so the code loaded is the code hashed; the hash goes
//! into every bundle and report the plugin contributes to. Libraries are never unloaded
//! (thread-local destructors of a plugin would crash after `dlclose`).

use crate::playbook::{Available, BUILTIN_REPORTERS};
use dossier_plugin_abi::bridge::{DynAnalyzer, DynCollector, DynReporter, PluginLib, valid_name};
use dossier_plugin_abi::{INFO_SYMBOL, KIND_ANALYZER, KIND_COLLECTOR, KIND_REPORTER, PluginInfo};
use dossier_plugin_api::analysis::PluginUse;
use dossier_plugin_api::encoding::hex;
use dossier_plugin_api::{Analyzer, Collector, Reporter};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let meta = std::fs::metadata(path).map_err(|e| load_error(path, e.to_string()))?;
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

/// Refuses a plugin file or folder that anyone but the running user or root could change:
/// owned by another user, or group- or world-writable (a folder with the sticky bit, like
/// `/tmp`, may be: others cannot replace what is ours there, and their files are refused by
/// owner).
pub fn check_owner_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    folder: bool,
) -> Result<(), PluginLoadError> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let what = if folder { "folder" } else { "file" };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(load_error(
            path,
            format!(
                "refused: the plugin {what} is owned by uid {}, not by you (uid {me}) or root",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && !(folder && mode & 0o1000 != 0) {
        return Err(load_error(
            path,
            format!(
                "refused: the plugin {what} is group- or world-writable (mode {mode:04o}); \
                 remove that with chmod go-w"
            ),
        ));
    }
    Ok(())
}

/// Checks the folder that really holds a library file (symbolic links resolved).
fn check_folder_of(path: &Path) -> Result<(), PluginLoadError> {
    let real = std::fs::canonicalize(path).map_err(|e| load_error(path, e.to_string()))?;
    let dir = real.parent().unwrap_or(Path::new("/"));
    let meta = std::fs::metadata(dir).map_err(|e| load_error(dir, e.to_string()))?;
    check_owner_mode(dir, &meta, true)
}

/// Largest plugin library read.
const MAX_LIBRARY: u64 = 1 << 30;

/// Hashes a library file and loads it through the same open descriptor; checks its metadata.
fn open_library(path: &Path) -> Result<PluginLib, PluginLoadError> {
    let mut file = std::fs::File::open(path).map_err(|e| load_error(path, e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| load_error(path, e.to_string()))?;
    if !meta.is_file() {
        return Err(load_error(path, "not a regular file"));
    }
    // The file checked is the open file, hashed and loaded below.
    check_owner_mode(path, &meta, false)?;
    check_folder_of(path)?;
    if meta.len() > MAX_LIBRARY {
        return Err(load_error(path, format!("larger than {MAX_LIBRARY} bytes")));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| load_error(path, e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let sha256 = hex(&h.finalize());
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let target = if by_fd.exists() {
        by_fd
    } else {
        path.to_path_buf()
    };
    let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL;
    // SAFETY: loading a library runs its initializers; that is what loading a plugin means,
    // and the user named this file (or put it in their plugin directory), which is owned by
    // them or root and writable by no one else (checked above).
    let lib = unsafe { libloading::os::unix::Library::open(Some(&target), flags) }
        .map_err(|e| load_error(path, format!("not a loadable shared library: {e}")))?;
    // The descriptor stays open for the life of the process, like the library: the dynamic
    // loader knows the library by the name `/proc/self/fd/N`, and would take a later plugin
    // opened through the same reused descriptor number for this one.
    std::mem::forget(file);
    // Never unloaded: see the module documentation.
    let lib: &'static libloading::os::unix::Library = Box::leak(Box::new(lib));
    // SAFETY: a plugin exports `dossier_plugin_info` with exactly this signature.
    let info_fn = unsafe { lib.get::<unsafe extern "C" fn() -> *const PluginInfo>(INFO_SYMBOL) }
        .map_err(|_| {
            load_error(
                path,
                "not a dossier plugin: it exports no `dossier_plugin_info` symbol",
            )
        })?;
    // SAFETY: calling the plugin's metadata accessor, which returns a pointer to static data.
    let info = unsafe { info_fn() };
    let shown = path.display().to_string();
    // SAFETY: the library stays loaded for the life of the process.
    unsafe { PluginLib::check(info, &shown, &sha256) }.map_err(|e| load_error(path, e.to_string()))
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
            let checked = std::fs::metadata(&dir)
                .map_err(|e| load_error(&dir, e.to_string()))
                .and_then(|m| check_owner_mode(&dir, &m, true))
                .and_then(|()| expand(&dir));
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
        let lib = Arc::new(open_library(path)?);
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
    fn a_file_that_is_not_a_library_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.so");
        std::fs::write(&p, "not ELF").unwrap();
        let e = open_library(&p).unwrap_err().to_string();
        assert!(
            e.contains("notes.so") && e.contains("not a loadable shared library"),
            "{e}"
        );
        assert!(expand(&d.path().join("missing")).is_err());
        assert_eq!(expand(d.path()).unwrap(), [p]);
    }

    #[test]
    fn files_and_folders_others_can_write_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.so");
        std::fs::write(&p, "x").unwrap();
        let set = |m: u32| {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
            std::fs::metadata(&p).unwrap()
        };
        assert!(check_owner_mode(&p, &set(0o755), false).is_ok());
        let e = check_owner_mode(&p, &set(0o775), false).unwrap_err();
        assert!(
            e.to_string()
                .contains("group- or world-writable (mode 0775)"),
            "{e}"
        );
        assert!(check_owner_mode(&p, &set(0o757), true).is_err());
        // A sticky folder (like /tmp) may be world-writable; a file may not.
        assert!(check_owner_mode(&p, &set(0o1777), true).is_ok());
        assert!(check_owner_mode(&p, &set(0o1777), false).is_err());
        // A library in such a folder is refused before it is loaded.
        set(0o644);
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
        let e = open_library(&p).unwrap_err().to_string();
        assert!(
            e.contains("plugin folder is group- or world-writable"),
            "{e}"
        );
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
