//! Package-manager and authentication hooks, collected by the `hooks` collector as more hook
//! classes (same record, same copy-and-verify path through the `packages` collector):
//!
//! - `apt`: `/etc/apt/apt.conf` and `/etc/apt/apt.conf.d/*`, with the commands of
//!   `DPkg::{Pre,Post}-Invoke`, `DPkg::Pre-Install-Pkgs`, `DPkg::Post-Invoke-Success` and
//!   `APT::Update::{Pre-Invoke,Post-Invoke,Post-Invoke-Success}` parsed out of apt's
//!   configuration syntax ([`apt::apt_hook_commands`]); `active` mirrors apt's file-name rule;
//! - `yum-plugin`/`dnf-plugin`: plugin configuration (`/etc/yum/pluginconf.d/*.conf`,
//!   `/etc/dnf/plugins/*.conf`) and plugin code (`/usr/lib/yum-plugins`,
//!   `/usr/share/yum-plugins`, `dnf-plugins` of every `python3*` site-packages), active when
//!   `plugins=` of yum.conf/dnf.conf allows plugins (yum: only `plugins=1`; dnf: unless
//!   `plugins=0`) and the plugin is enabled (yum: `enabled=1` in its configuration; dnf: a
//!   plugin without configuration, or without `enabled=0`, is enabled);
//! - `pam`: `/etc/pam.d/*` (and `/etc/pam.conf`, which PAM reads only without `/etc/pam.d`),
//!   lines parsed by [`pam::pam_line`], `pam_exec` commands as the record's commands;
//! - `pam-module`: every module a PAM line loads, resolved against the PAM module directories,
//!   recorded with its metadata and the lines that load it (not copied here: the `packages`
//!   collector verifies it and copies it when no package owns it or it differs);
//! - `polkit`: `/etc/polkit-1/rules.d`, `/usr/share/polkit-1/rules.d` (`*.rules`) and the legacy
//!   `localauthority` `*.pkla` files, with the grants found by [`polkit::polkit_rule_grants`]
//!   and [`polkit::pkla_grants`] (a textual reading, no JavaScript engine).
//!
//! One module per family: [`apt`], [`yum`] (yum and dnf), [`pam`], [`polkit`], each with the
//! parsers of its syntax and the collection of its files.

pub mod apt;
pub mod pam;
pub mod polkit;
pub mod yum;

use super::record::Run;
use dossier_plugin_api::collect::CollectError;

/// Collects every class of this module.
pub(crate) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    apt::collect(run)?;
    yum::collect(run)?;
    pam::collect(run)?;
    polkit::collect(run)
}
