//! dossier's built-in collectors.
//!
//! Each collector implements [`dossier_plugin_api::Collector`] and is written only against the
//! [`dossier_plugin_api::Host`] trait: no SSH, zip or CLI types here, so every collector runs
//! unchanged on the local machine, a mounted image and a remote host. Collection is read-only:
//! files are read (capped), links are read, and the only commands run are fixed system tools on
//! live hosts that allow it (`systemctl list-units`, `rpm -qa`).
//!
//! Modules depend downward only: [`util`] (uses no other module) ← [`shared`] (the package
//! database and the boot time, which several collectors consult) ← the collectors (one
//! module each; a collector never uses another collector's module) ← this root, which lists
//! them in [`builtin`].

#![forbid(unsafe_code)]
// Tests may be long (ARCHITECTURE.md: the function-size limit is for code outside tests).
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod accounts;
pub mod cron;
pub mod facts;
pub mod hooks;
pub mod kernel;
pub mod localbin;
pub mod netif;
pub mod packages;
pub mod privileged;
pub mod proc;
pub mod sessions;
pub mod shared;
pub mod sockets;
pub mod sshd;
pub mod systemd;
pub mod traces;
pub mod util;

pub use util::VERSION;

use dossier_plugin_api::Collector;
use std::sync::Arc;

/// Every built-in collector, in their default run order.
pub fn builtin() -> Vec<Arc<dyn Collector>> {
    vec![
        Arc::new(facts::FactsCollector),
        Arc::new(proc::ProcCollector),
        Arc::new(systemd::SystemdCollector),
        Arc::new(cron::CronCollector),
        Arc::new(sockets::SocketsCollector),
        Arc::new(accounts::AccountsCollector),
        Arc::new(hooks::HooksCollector),
        Arc::new(kernel::KernelCollector),
        Arc::new(localbin::LocalBinCollector),
        Arc::new(netif::NetIfCollector),
        Arc::new(sessions::SessionsCollector),
        Arc::new(sshd::SshdCollector),
        Arc::new(privileged::PrivilegedCollector),
        Arc::new(traces::TracesCollector),
        Arc::new(packages::PackagesCollector),
    ]
}
