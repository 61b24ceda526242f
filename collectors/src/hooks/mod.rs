//! The `hooks` collector: boot and login hooks outside systemd units and cron.
//!
//! - boot: `/etc/init.d/*`, the `/etc/rc?.d/` links, `/etc/rc.local`, `/etc/rc.common`;
//! - login and shells: `/etc/profile`, `/etc/profile.d/*`, `/etc/bash.bashrc`,
//!   `/etc/bash.bash_logout`, and every account's `.bashrc`, `.bash_profile`, `.bash_login`,
//!   `.profile` and `.bash_logout` (homes from `/etc/passwd`);
//! - `/etc/update-motd.d/*` (run as root at every SSH login), `/etc/xdg/autostart/*.desktop`
//!   and every account's `~/.config/autostart/*.desktop`;
//! - udev rules that run programs (`RUN+=`), from every rules directory;
//! - package-manager and authentication hooks (apt configuration, yum/dnf plugins, PAM
//!   service files and modules, polkit rules): see [`pkgauth`].
//!
//! systemd generator directories are collected by the `systemd` collector. Every hook file is
//! copied verbatim and recorded with its metadata and link target; the `packages` collector
//! (which runs after this one) verifies the system-wide ones against the package database.
//!
//! One module per family of hooks (`boot`, `login`, [`autostart`], [`udev`], [`pkgauth`]);
//! each records its files through `record::Run`, the one module they all use.

pub mod autostart;
mod boot;
mod login;
pub mod pkgauth;
mod record;
#[cfg(test)]
mod tests;
pub mod udev;

use crate::util::{Accounts, ByteSize, DEFAULT_TEXT_CAP, VERSION, validate};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use record::Run;
use serde::Deserialize;

/// The `hooks` collector.
pub struct HooksCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
    /// Most hook files recorded per host (a home-directory flood cannot stall collection).
    #[serde(default = "default_max_files")]
    max_files: usize,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}

fn default_max_files() -> usize {
    20_000
}

impl Collector for HooksCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "hooks".into(),
            version: VERSION.into(),
            description: "Boot, login, package-manager and auth hooks: init.d and rc links, rc.local, shell profiles and users' rc files, motd scripts, XDG autostart, udev RUN rules, apt Pre/Post-Invoke, yum/dnf plugins, PAM services (pam_exec, modules), polkit rules".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let accounts = Accounts::load(ctx);
        let mut run = Run::new(ctx, cfg.max_file_size.0, cfg.max_files);
        boot::collect(&mut run)?;
        login::collect(&mut run, &accounts)?;
        autostart::collect(&mut run, &accounts)?;
        pkgauth::collect(&mut run)?;
        udev::collect(&mut run)
    }
}
