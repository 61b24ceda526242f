//! Login and shell hooks: `/etc/profile`, `/etc/profile.d/*.sh`, `/etc/bash.bashrc`,
//! `/etc/bash.bash_logout`, every account's `.bashrc`, `.bash_profile`, `.bash_login`,
//! `.profile` and `.bash_logout` (homes from `/etc/passwd`), and `/etc/update-motd.d/*` (run as
//! root at every SSH login).

use super::record::{Run, executable, regular};
use crate::util::Accounts;
use dossier_plugin_api::collect::CollectError;
use std::path::Path;

/// Per-user shell files: name, when it runs.
const USER_FILES: &[(&str, &str)] = &[
    (".bashrc", "shell"),
    (".bash_profile", "login"),
    (".bash_login", "login"),
    (".profile", "login"),
    (".bash_logout", "logout"),
];

/// Records the login and shell hooks.
pub(super) fn collect(run: &mut Run<'_, '_>, accounts: &Accounts) -> Result<(), CollectError> {
    run.file(
        Path::new("/etc/profile"),
        "profile",
        "login",
        None,
        &regular,
    )?;
    // /etc/profile sources /etc/profile.d/*.sh.
    run.dir("/etc/profile.d", "profile.d", "login", &|n, m| {
        n.ends_with(".sh") && regular(m)
    })?;
    run.file(
        Path::new("/etc/bash.bashrc"),
        "bash.bashrc",
        "shell",
        None,
        &regular,
    )?;
    run.file(
        Path::new("/etc/bash.bash_logout"),
        "bash.bashrc",
        "logout",
        None,
        &regular,
    )?;
    for (home, user) in accounts.homes() {
        for (f, when) in USER_FILES {
            let p = Path::new(&home).join(f);
            run.file(&p, "user-shell-rc", when, Some(&user), &regular)?;
        }
    }
    run.dir("/etc/update-motd.d", "motd", "login", &|n, m| {
        run_parts_name(n) && executable(m)
    })
}

/// run-parts (motd) runs executables named with letters, digits, `_` and `-` only.
fn run_parts_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
