//! The dossier evidence bundle format as a library: the writer (the orchestrator's
//! `EvidenceSink`), the manifest, the reader and verifier (every bundle is untrusted input),
//! the case custody ledger, member names, encryption to recipients (age) and the
//! off-thread compression pool.
//!
//! It depends on `dossier-plugin-api` for records and nothing of the command line, so the
//! bench, the fuzz tests and a future service can read and write bundles without linking the
//! SSH transport.

#![forbid(unsafe_code)]

pub mod crypt;
pub mod custody;
pub mod fsio;
pub mod ledger;
pub mod manifest;
pub mod names;
mod pool;
pub mod reader;
pub mod signature;
pub mod timestamp;
pub mod writer;
