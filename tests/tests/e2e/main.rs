//! End-to-end tests of the real `dossier` binary on fixture roots, archived bundles and this
//! machine: collect, verify, analyze, fleet stacking, baselines, hostile input, partial data,
//! the precision/recall corpus, the output's security properties, and the rules of
//! ARCHITECTURE.md on the source tree.
//!
//! One test binary (one link of the CLI) for all of them; each module is one concern and
//! runs alone with a filter, e.g. `cargo test -p dossier-tests --test e2e corpus::`. The few
//! tests here that start the SSH lab (`fleet`, `hostile`, `security`) take
//! [`dossier_tests::lab::serial`], so at most one lab runs at a time in this process.

// Tests may be long: the function-size limit of ARCHITECTURE.md is for code outside tests.
#![allow(clippy::too_many_lines)]

mod analysis;
mod architecture;
mod cli_output;
mod contain;
mod contain_from;
mod contain_runtime;
mod corpus;
mod coverage;
mod encrypt;
mod export;
mod families;
mod fixtures;
mod fleet;
mod flip;
mod hostile;
mod import;
mod import_analyze;
mod import_tamper;
mod lang;
mod live;
mod merge;
mod messages;
mod partial;
mod s3;
mod secret_reads;
mod secrets;
mod security;
mod signing;
mod timeline;
mod timestamp;
mod verify;
