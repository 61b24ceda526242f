//! The contract between dossier's orchestrator and its plugins.
//!
//! Everything here is pure data and traits: no file, network or process I/O happens in this
//! crate. The orchestrator (`dossier-cli`) implements [`host::Host`] for each transport and
//! [`collect::EvidenceSink`] for its bundle writer; collectors are written only against these
//! traits, so the same collector runs on the local machine, a mounted image and an SSH target.

pub mod analysis;
pub mod collect;
pub mod encoding;
pub mod host;
pub mod records;
pub mod testing;
pub mod time;

/// Version of the plugin API (this crate's semver). Plugins built against another major
/// version are refused.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

pub use collect::{CollectContext, Collector, CollectorInfo, EvidenceSink, PriorRecords};
pub use host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, Host, HostError, HostErrorKind, HostInfo,
    HostKind,
};
pub use time::Timestamp;
