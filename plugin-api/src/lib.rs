//! The contract between dossier's orchestrator and its plugins.
//!
//! Everything here is pure data and traits: no file, network or process I/O happens in this
//! crate. The orchestrator (`dossier-cli`) implements [`host::Host`] for each transport and
//! [`collect::EvidenceSink`] for its bundle writer; collectors are written only against these
//! traits, so the same collector runs on the local machine, a mounted image and an SSH target.
//!
//! Plugins come in three kinds: [`Collector`] (host -> evidence and records), [`Analyzer`]
//! (records -> findings) and [`Reporter`] (analyses -> documents). Built-in ones link
//! statically; a plugin built as its own `cdylib` is loaded at run time through the C ABI of
//! [`abi`], which [`export_plugin!`] implements over the same safe traits.

pub mod abi;
pub mod analysis;
pub mod analyzer;
pub mod collect;
pub mod encoding;
pub mod host;
pub mod policy;
pub mod records;
pub mod reporter;
pub mod status;
pub mod testing;
pub mod time;

/// Version of the plugin API (this crate's semver). Plugins built against another major
/// version are refused.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

pub use analyzer::{Analyzer, AnalyzerInfo};
pub use collect::{
    CollectContext, Collector, CollectorInfo, EvidenceSink, PluginOrigin, PriorRecords,
};
pub use host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, Host, HostError, HostErrorKind, HostInfo,
    HostKind,
};
pub use reporter::{Reporter, ReporterInfo};
#[doc(hidden)]
pub use serde_json;
pub use status::CollectorStatus;
pub use time::Timestamp;
