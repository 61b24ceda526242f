//! The dossier orchestrator library behind the `dossier` binary: playbooks, the orchestrator,
//! the analysis stage, progress and the commands (the bundle format is the `dossier-bundle`
//! crate, the SSH transport `dossier-remote`). `main.rs` only parses arguments and calls
//! [`commands::run`], which turns them into a validated plan ([`plans`]) and runs it.

pub mod analyze;
pub mod args;
pub mod baseline;
pub mod build_info;
pub mod commands;
pub mod contain;
pub mod cost;
pub mod export;
pub(crate) mod extsort;
pub mod guard;
pub mod import;
pub mod inputs;
pub mod json_out;
pub mod listing;
pub mod local;
pub mod manual;
pub mod memory;
pub mod merge;
pub mod messages;
pub mod orchestrate;
pub mod plans;
pub mod playbook;
pub mod plugins;
pub mod progress;
pub mod shard;
pub mod store;
pub mod sweep;
pub mod sweep_plan;
pub mod text;
pub mod timeline;
pub mod tsa;
