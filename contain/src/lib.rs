//! Containment: the one part of dossier that changes a target. A plan lists every change per
//! host exactly; each applied step is recorded (on the host and in the case ledger) before it
//! is made, with what was there before, so `restore` can undo it and check the result.
//!
//! Everything a step does to a target goes through an [`Actuator`]: it runs a program by
//! absolute path with an argument vector (never a shell string built from target data),
//! locally ([`LocalActuator`]) or over SSH (`dossier-remote`), as root or through `sudo -n`.
//! [`ops`] builds the file operations every action needs on top of it, so local and remote
//! targets take the same code path. [`from_findings`] turns an analysis's `findings.json`
//! into the steps a responder wants for one host.

#![forbid(unsafe_code)]

pub mod action;
pub mod actuator;
pub mod cron;
mod dispatch;
pub mod engine;
pub mod from_findings;
pub mod isolate;
pub mod keep;
pub mod ops;
pub mod process;
pub mod quarantine;
pub mod record;
pub mod store;
pub mod units;

#[cfg(test)]
#[path = "../../tests/src/skip.rs"]
mod skip;

pub use action::{Action, ActionError, CronLine, Peer, Places, Step};
pub use actuator::{ActError, Actuator, LocalActuator, Output};
