//! Boot hooks outside systemd units: `/etc/init.d/*`, the `/etc/rc?.d/` links, `/etc/rc.local`
//! and `/etc/rc.common`.

use super::record::{Run, executable, regular};
use dossier_plugin_api::collect::CollectError;
use std::path::Path;

/// Records the boot hooks.
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    run.dir("/etc/init.d", "init.d", "boot", &|_, m| executable(m))?;
    for rc in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        run.dir(&format!("/etc/rc{rc}.d"), "rc-link", "boot", &|n, m| {
            (n.starts_with('S') || n.starts_with('K')) && executable(m)
        })?;
    }
    run.file(
        Path::new("/etc/rc.local"),
        "rc.local",
        "boot",
        None,
        &executable,
    )?;
    run.file(
        Path::new("/etc/rc.common"),
        "rc.common",
        "boot",
        None,
        &regular,
    )
}
