//! Transitional: the bundle format moved to the `dossier-bundle` crate (issue 14). These
//! re-exports keep `crate::bundle::...` paths of code written in parallel with the move
//! compiling; new code uses `dossier_bundle` directly. Remove once nothing uses them.

pub use dossier_bundle::{fsio, ledger, manifest, names, reader, writer};
