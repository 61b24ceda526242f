//! The plugin side of the ABI: what [`crate::export_plugin!`] expands to. A plugin written
//! against the safe traits (`Collector`, `Analyzer`, `Reporter` of `dossier-plugin-api`) needs
//! no `unsafe` of its own: the generic entry points here catch every panic, (de)serialize the
//! JSON, and give a collector a `Host` and an `EvidenceSink` that call back into dossier.
//!
//! By concern: [`GuestInstance`] and [`MakeInstances`] (what the entry points drive), the
//! kinds behind them, the `extern "C"` entry points, the callbacks to dossier and what a
//! plugin sees through them ([`RemoteHost`], and an evidence sink and member reader), and the
//! export macro.

mod callbacks;
mod entry;
mod export;
mod instance;
mod kinds;
mod remote_host;
mod remote_sink;

pub use entry::{call, create, destroy, free_buf};
pub use instance::{CallFailure, GuestInstance, MakeInstances, kind_of};
pub use kinds::{AnalyzerGuest, CollectorGuest, ReporterGuest};
pub use remote_host::RemoteHost;
