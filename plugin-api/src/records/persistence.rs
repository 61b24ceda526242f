//! Records of files that make code run outside the scheduled units: boot, login and device
//! hooks, the dynamic loader's preload and search path, local binaries ahead of the system
//! ones, and files running with privileges (setuid/setgid, file capabilities).

use super::source::SourceRef;
use crate::host::FileMeta;
use serde::{Deserialize, Serialize};

/// A file that runs at boot, at login or on a device event outside systemd units and cron:
/// SysV init scripts and rc links, `rc.local`, shell profiles and rc files, motd scripts, XDG
/// autostart entries, udev rules with `RUN`; and package-manager and authentication hooks:
/// apt configuration, yum/dnf plugins, PAM service files and the modules they load, polkit
/// rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    pub path: String,
    /// `init.d`, `rc-link`, `rc.local`, `rc.common`, `profile`, `profile.d`, `bash.bashrc`,
    /// `user-shell-rc`, `motd`, `autostart`, `udev`; `apt`, `yum-plugin`, `dnf-plugin`, `pam`,
    /// `pam-module`, `polkit`.
    pub class: String,
    /// When it runs: `boot`, `login`, `logout`, `shell`, `device-event`, `session`,
    /// `package-operation`, `authentication`, `authorization`.
    pub runs_at: String,
    /// For files in a home directory: the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// The hook runs (executable where that matters: init scripts, motd, rc.local; always for
    /// sourced files, autostart entries and udev rules).
    pub active: bool,
    /// Commands it names explicitly: udev `RUN` values, autostart `Exec=`, apt
    /// `Pre-Invoke`/`Post-Invoke`/`Pre-Install-Pkgs` values, `pam_exec` commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// For a PAM module: the service-file lines that load it (`/etc/pam.d/sshd:4`). A module
    /// recorded without `meta` does not exist on the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<String>,
    /// For a polkit file: the authorizations it grants without authentication to a subject
    /// that is not an administrator (or to anyone), as a textual reading found them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// Verbatim copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
    /// A distribution file this hook is an identical copy of, installed by a maintainer
    /// script rather than owned by a package (Debian's base-files copies
    /// `/usr/share/base-files/profile` to `/etc/profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

/// `/etc/ld.so.preload`: libraries the dynamic loader injects into every program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdPreloadRecord {
    pub path: String,
    /// Library names, in order (comments and blanks dropped).
    pub entries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    pub source: SourceRef,
}

/// One file of the loader's search path configuration (`/etc/ld.so.conf`, `ld.so.conf.d/*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdSoConfRecord {
    pub path: String,
    /// Library directories it adds.
    pub dirs: Vec<String>,
    /// `include` patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
    pub source: SourceRef,
}

/// An entry of a `PATH` directory searched before the system ones (`/usr/local/sbin`,
/// `/usr/local/bin`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalBinRecord {
    pub path: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// A package owns it, or the file it links to (`None`: no package database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned: Option<bool>,
    /// Package-owned programs of the same name in the system directories it shadows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadows: Vec<String>,
    /// SHA-256 of shadowing entries (others are not hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Copy of a shadowing entry no package owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<SourceRef>,
}

/// Decoded `security.capability` extended attribute (`vfs_cap_data`, revision 2 or 3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCapabilities {
    /// Revision: 1, 2 or 3 (3 carries the user namespace's root uid).
    pub revision: u32,
    /// The effective bit: permitted capabilities are raised at exec.
    pub effective: bool,
    /// Capability names (`cap_net_raw`; `cap_63` for numbers without a name).
    pub permitted: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inheritable: Vec<String>,
    /// Revision 3: root uid of the namespace the capabilities apply in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootid: Option<u32>,
    /// `getcap`-style text (`cap_net_raw=ep`).
    pub text: String,
}

/// A file that runs with privileges it was given: setuid or setgid bits, or file
/// capabilities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegedFileRecord {
    pub path: String,
    pub meta: FileMeta,
    pub setuid: bool,
    pub setgid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<FileCapabilities>,
    /// `getcap`-style text of an attribute that did not decode, with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A shell or interpreter this file is a byte-identical copy of (`/usr/bin/bash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}
