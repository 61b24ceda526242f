//! The dossier orchestrator library behind the `dossier` binary: transports, playbooks, the
//! orchestrator, progress and the commands (the bundle format is the `dossier-bundle` crate).
//! `main.rs` only parses arguments and calls [`commands::run`].

pub mod analyze;
pub mod args;
pub mod baseline;
pub mod bundle;
pub mod commands;
pub mod local;
pub mod orchestrate;
pub mod playbook;
pub mod plugins;
pub mod progress;
pub mod sftp_client;
pub mod ssh;
pub mod ssh_config;
pub mod sweep;
pub mod sweep_plan;
pub mod targets;
