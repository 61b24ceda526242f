//! dossier's side of the ABI: checks a plugin's static metadata, makes instances, and wraps
//! them in the safe traits ([`Collector`](dossier_plugin_api::Collector),
//! [`Analyzer`](dossier_plugin_api::Analyzer), [`Reporter`](dossier_plugin_api::Reporter)) so
//! the orchestrator drives a dynamic plugin exactly like a built-in one. A collector's host
//! access is served by callbacks over the orchestrator's own [`Host`](dossier_plugin_api::Host)
//! and [`EvidenceSink`](dossier_plugin_api::EvidenceSink), so whatever a plugin stores is
//! hashed into the bundle like built-in evidence.
//!
//! Opening the library file is the loader's job (`dossier-cli`, with libloading, in a plugin
//! host child process); everything here starts from the `&'static PluginInfo` it found
//! ([`PluginLib::check`], called in that process) or from the metadata that process reported,
//! with a [`Transport`] to reach the library.

mod analyzer;
mod callbacks;
mod check;
mod collector;
mod host_ops;
mod instance;
mod reporter;
mod transport;

pub use analyzer::DynAnalyzer;
pub use callbacks::CallbackResult;
pub use check::{LibMeta, PluginLib, Refusal, api_compatible, valid_name};
pub use collector::DynCollector;
pub use instance::{Instance, PluginError};
pub use reporter::DynReporter;
pub use transport::{CallFailure, Handler, InProcess, Reply, Transport};
