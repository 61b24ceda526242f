//! Evidence bundles: the writer, the manifest, the verifier and the custody ledger.

pub mod ledger;
pub mod manifest;
pub mod names;
pub mod pool;
pub mod reader;
pub mod writer;
