//! Built-in reporters: the per-host Markdown report, the fleet Markdown report and the
//! machine-readable findings JSON. Output depends only on the analyses given (sorted, no
//! wall-clock time), so the same bundles always give byte-identical reports. The fleet report
//! and the JSON are written one host at a time to sinks the caller gives
//! ([`fleet::FleetWriter`], [`json::FindingsWriter`]), so a fleet of any size needs no more
//! memory than a small entry per host; their `render` functions are the same code in memory.
//!
//! Modules depend downwards only: [`markdown`] (escaping) at the bottom, [`policy`] (the site
//! policy, baseline and stacking sections) on it, [`host`] and [`fleet`] on both, [`events`]
//! (imported telemetry's alerts) on [`markdown`]; [`json`] stands alone. No report module uses another report module.
//! [`words`] (the catalogue's words: verdicts, severities, rule titles, explanations in the
//! responder's language) sits at the bottom with [`markdown`]; every Markdown report takes
//! the [`dossier_i18n::Catalog`] to write in. The JSON documents are language-independent.

#![forbid(unsafe_code)]

pub mod events;
pub mod fleet;
pub mod host;
pub mod json;
pub mod markdown;
pub mod policy;
pub mod words;

pub use markdown::md;

#[cfg(test)]
mod sample;
