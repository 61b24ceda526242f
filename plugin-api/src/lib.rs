//! The contract between dossier's orchestrator and its plugins.
//!
//! Everything here is pure data and traits: no file, network or process I/O happens in this
//! crate, and no `unsafe`. The orchestrator (`dossier-cli`) implements [`host::Host`] for each
//! transport and [`collect::EvidenceSink`] for its bundle writer; collectors are written only
//! against these traits, so the same collector runs on the local machine, a mounted image and
//! an SSH target.
//!
//! Plugins come in three kinds: [`Collector`] (host -> evidence and records), [`Analyzer`]
//! (records -> findings) and [`Reporter`] (analyses -> documents). Built-in ones link
//! statically; a plugin built as its own `cdylib` is loaded at run time through the C ABI of
//! the separate crate `dossier-plugin-abi`, whose `export_plugin!` implements that ABI over
//! these same safe traits.
//!
//! The vocabulary every stage shares is here too: the MITRE ATT&CK technique table
//! ([`attack`]) that rules cite and reports name.
//!
//! # Versions
//! Two version numbers guard a dynamic plugin, and neither is the version of a crate:
//! - [`API_VERSION`] (here): the version of this contract, the types and traits a plugin is
//!   written against and the JSON shapes of its records, findings and reports. A plugin built
//!   against another major version (for 0.x, another minor) is refused.
//! - `ABI_VERSION` (in `dossier-plugin-abi`): the version of the C calling convention and
//!   memory layout between dossier and a loaded library. A plugin with another ABI version is
//!   refused before any other field of its metadata is read.
//!
//! The test doubles of the `testing` module (an in-memory host and sink) are behind the
//! `testing` feature: enable it in `[dev-dependencies]`.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod analyzer;
pub mod attack;
pub mod collect;
pub mod encoding;
pub mod host;
pub mod records;
pub mod reporter;
pub mod status;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

pub use analysis::policy;

/// Version of the plugin contract: the types and traits of this crate and the JSON shapes they
/// serialize to. It is written into every plugin's metadata and checked at load time (same
/// major version; for 0.x, same minor), and it appears in `dossier plugins`.
///
/// It is deliberately not this crate's version: bump it by hand, and only when the contract
/// changes. A change a plugin built earlier would misread (a removed or renamed field, type or
/// trait method, a changed meaning) bumps the major version (the minor while 0.x); an addition
/// old plugins can ignore (a new optional field, a new record kind) bumps the minor (the patch
/// while 0.x). A change of the C ABI alone bumps `dossier_plugin_abi::ABI_VERSION`, not this.
pub const API_VERSION: &str = "0.1.0";

pub use analyzer::{Analyzer, AnalyzerInfo};
pub use collect::{
    CollectContext, Collector, CollectorInfo, EvidenceSink, PluginOrigin, PriorRecords,
};
pub use host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, Host, HostError, HostErrorKind, HostInfo,
    HostKind,
};
pub use reporter::{Reporter, ReporterInfo};
pub use status::CollectorStatus;
pub use time::Timestamp;
