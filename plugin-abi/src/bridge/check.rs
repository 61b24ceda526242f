//! The checks a library's static metadata must pass before any of its code beyond
//! `dossier_plugin_info` runs: ABI version first, then plugin API version, target triple,
//! names, kinds and vtable size. A library that passes becomes a [`PluginLib`].

use super::transport::{InProcess, Transport};
use crate::{
    ABI_VERSION, KIND_ANALYZER, KIND_COLLECTOR, KIND_REPORTER, PluginInfo, PluginVTable, TARGET,
    kind_names,
};
use dossier_plugin_api::collect::PluginOrigin;
use std::sync::Arc;

/// Why a library is refused before any of its code beyond `dossier_plugin_info` runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("dossier_plugin_info returned a null pointer")]
    Null,
    #[error(
        "plugin ABI version {found}, but this dossier speaks plugin ABI version {expected}: rebuild the plugin against dossier-plugin-abi {abi_crate} and dossier-plugin-api {api}",
        abi_crate = env!("CARGO_PKG_VERSION"),
        api = dossier_plugin_api::API_VERSION
    )]
    AbiVersion { found: u32, expected: u32 },
    #[error(
        "plugin built against plugin API {found}, but this dossier has plugin API {expected} (major versions differ): rebuild the plugin against dossier-plugin-api {expected}"
    )]
    ApiVersion { found: String, expected: String },
    #[error(
        "plugin built for target {found}, but this dossier runs on {expected}: build the plugin for {expected}"
    )]
    Target { found: String, expected: String },
    #[error("invalid plugin metadata: {0}")]
    Metadata(String),
}

/// Longest metadata string accepted.
const MAX_META: usize = 256;

/// `major.minor.patch` of a semver string (pre-release and build metadata ignored).
fn semver_triple(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

/// Whether a plugin built against plugin API `plugin` works with this crate's API `host`:
/// the same major version (for 0.x, the same minor, as Cargo's caret rule says).
pub fn api_compatible(plugin: &str, host: &str) -> bool {
    match (semver_triple(plugin), semver_triple(host)) {
        (Some((pm, pn, _)), Some((hm, hn, _))) => pm == hm && (pm != 0 || pn == hn),
        _ => false,
    }
}

/// Whether `name` is a valid plugin or component name: `[a-z0-9][a-z0-9-]*`, at most 64.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// A plugin library whose metadata passed every check.
#[derive(Debug)]
pub struct PluginLib {
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub target: String,
    pub kinds: u32,
    /// Where it was loaded from and the SHA-256 of that file.
    pub path: String,
    pub sha256: String,
    /// Where its entry points are called: this process or a plugin host process.
    pub(super) transport: Arc<dyn Transport>,
}

/// What a library says of itself (from `dossier_plugin_info`), and where it was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibMeta {
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub target: String,
    pub kinds: u32,
    pub path: String,
    pub sha256: String,
}

impl LibMeta {
    /// Checks the fields every library must have right, in the order of [`PluginLib::check`]
    /// after the ABI version: API semver, target triple, names, kinds.
    pub fn check(&self) -> Result<(), Refusal> {
        if !api_compatible(&self.api_version, dossier_plugin_api::API_VERSION) {
            return Err(Refusal::ApiVersion {
                found: self.api_version.clone(),
                expected: dossier_plugin_api::API_VERSION.to_string(),
            });
        }
        if self.target != TARGET {
            return Err(Refusal::Target {
                found: self.target.clone(),
                expected: TARGET.to_string(),
            });
        }
        if !valid_name(&self.name) {
            return Err(Refusal::Metadata(format!(
                "plugin name `{}`: use lower-case letters, digits and `-`",
                self.name
            )));
        }
        if semver_triple(&self.version).is_none() {
            return Err(Refusal::Metadata(format!(
                "version `{}` is not semver",
                self.version
            )));
        }
        let all = KIND_COLLECTOR | KIND_ANALYZER | KIND_REPORTER;
        if self.kinds == 0 || self.kinds & !all != 0 {
            return Err(Refusal::Metadata(format!(
                "kinds {:#x}: unknown kind bits",
                self.kinds
            )));
        }
        Ok(())
    }
}

/// The size of the version-1 vtable: every entry dossier uses.
const VTABLE_V1: usize = std::mem::size_of::<PluginVTable>();

impl PluginLib {
    /// Checks a plugin's static metadata: ABI version first (before reading anything else),
    /// then the API semver, the target triple, the names and the vtable size.
    ///
    /// # Safety
    /// `info` must be what the library's `dossier_plugin_info` returned, and the library must
    /// stay loaded for the rest of the process (it is never unloaded).
    pub unsafe fn check(
        info: *const PluginInfo,
        path: &str,
        sha256: &str,
    ) -> Result<PluginLib, Refusal> {
        if info.is_null() {
            return Err(Refusal::Null);
        }
        // SAFETY: the first field of every ABI version is the u32 version; read it alone.
        let abi = unsafe { info.cast::<u32>().read_unaligned() };
        if abi != ABI_VERSION {
            return Err(Refusal::AbiVersion {
                found: abi,
                expected: ABI_VERSION,
            });
        }
        // SAFETY: same ABI version, so the layout is ours; static data of a loaded library.
        let info: &'static PluginInfo = unsafe { &*info };
        let text = |what: &str, s: &crate::StrRef| -> Result<String, Refusal> {
            // SAFETY: static strings of the loaded library.
            unsafe { s.to_str(MAX_META) }
                .map(str::to_string)
                .ok_or_else(|| {
                    Refusal::Metadata(format!(
                        "{what} is not UTF-8 text of at most {MAX_META} bytes"
                    ))
                })
        };
        let meta = LibMeta {
            api_version: text("api_version", &info.api_version)?,
            target: text("target", &info.target)?,
            name: text("name", &info.name)?,
            version: text("version", &info.version)?,
            kinds: info.kinds,
            path: path.to_string(),
            sha256: sha256.to_string(),
        };
        meta.check()?;
        if info.vtable.is_null() {
            return Err(Refusal::Metadata("null vtable".into()));
        }
        // SAFETY: non-null static vtable; read its size before anything else.
        let size = unsafe { info.vtable.cast::<usize>().read_unaligned() };
        if size < VTABLE_V1 {
            return Err(Refusal::Metadata(format!(
                "vtable of {size} bytes, smaller than the {VTABLE_V1} of ABI version {ABI_VERSION}"
            )));
        }
        // SAFETY: checked non-null and large enough; static.
        let vtable: &'static PluginVTable = unsafe { &*info.vtable };
        Ok(PluginLib::with_transport(
            meta,
            Arc::new(InProcess { vtable }),
        ))
    }

    /// A library whose metadata was checked elsewhere (by [`LibMeta::check`] and, in the
    /// process that loaded it, [`PluginLib::check`]), called through `transport`.
    pub fn with_transport(meta: LibMeta, transport: Arc<dyn Transport>) -> PluginLib {
        PluginLib {
            name: meta.name,
            version: meta.version,
            api_version: meta.api_version,
            target: meta.target,
            kinds: meta.kinds,
            path: meta.path,
            sha256: meta.sha256,
            transport,
        }
    }

    /// What it says of itself.
    pub fn meta(&self) -> LibMeta {
        LibMeta {
            name: self.name.clone(),
            version: self.version.clone(),
            api_version: self.api_version.clone(),
            target: self.target.clone(),
            kinds: self.kinds,
            path: self.path.clone(),
            sha256: self.sha256.clone(),
        }
    }

    /// Where its entry points are called.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Names of the kinds it provides.
    pub fn kind_names(&self) -> Vec<&'static str> {
        kind_names(self.kinds)
    }

    /// Provenance recorded in bundles and reports.
    pub fn origin(&self) -> PluginOrigin {
        PluginOrigin {
            plugin: self.name.clone(),
            version: self.version.clone(),
            path: self.path.clone(),
            sha256: self.sha256.clone(),
        }
    }
}
