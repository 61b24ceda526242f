//! XDG autostart entries, system-wide (`/etc/xdg/autostart/*.desktop`) and every account's
//! own (`~/.config/autostart/*.desktop`), with the commands their `Exec=` lines run.

use super::record::{Extracted, Run, regular};
use crate::util::{Accounts, name_text};
use dossier_plugin_api::collect::CollectError;
use std::path::Path;

/// Records the autostart entries.
pub(super) fn collect(run: &mut Run<'_, '_>, accounts: &Accounts) -> Result<(), CollectError> {
    let dir = Path::new("/etc/xdg/autostart");
    for e in run.ctx.list_dir(dir).unwrap_or_default() {
        let desktop = name_text(&e.name).ends_with(".desktop");
        entry(run, &dir.join(&e.name), None, &|m| desktop && regular(m))?;
    }
    // Each account's own autostart entries (XDG_CONFIG_HOME defaults to ~/.config).
    for (home, user) in accounts.homes() {
        let dir = Path::new(&home).join(".config/autostart");
        for e in run.ctx.list_dir(&dir).unwrap_or_default() {
            let desktop = name_text(&e.name).ends_with(".desktop");
            entry(run, &dir.join(&e.name), Some(&user), &|m| {
                desktop && regular(m)
            })?;
        }
    }
    Ok(())
}

/// Records one desktop entry with its `Exec=` commands (inactive when `Hidden=true`).
fn entry(
    run: &mut Run<'_, '_>,
    path: &Path,
    owner: Option<&str>,
    active: &dyn Fn(&dossier_plugin_api::FileMeta) -> bool,
) -> Result<(), CollectError> {
    run.parsed_file(path, "autostart", "session", owner, active, &mut |data| {
        let (commands, hidden) = desktop_execs(data);
        Extracted {
            commands,
            hidden,
            ..Default::default()
        }
    })
}

/// `Exec=` values of a desktop entry, and whether it is `Hidden=true` (then it does not run).
pub fn desktop_execs(data: &[u8]) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(data);
    let hidden = text
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("hidden=true"));
    let execs = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Exec="))
        .map(str::to_string)
        .collect();
    (execs, hidden)
}
