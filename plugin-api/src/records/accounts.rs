//! Records of accounts and what they may do: passwd/group/shadow, sudoers rules, login shells.

use super::source::SourceRef;
use crate::host::FileMeta;
use serde::{Deserialize, Serialize};

/// One account of `/etc/passwd`, joined with the non-secret fields of its `/etc/shadow` entry.
/// Password hashes are never recorded: only whether one is usable, and its scheme.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// The shell is listed in `/etc/shells` (`None` when that file could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell_listed: Option<bool>,
    /// `usable` (a password hash that can authenticate), `empty` (no password at all),
    /// `locked` (`!...`), `disabled` (`*`), `no_entry` (no shadow line) or `unknown` (shadow not
    /// readable).
    pub password: String,
    /// The hash scheme of a usable password (`yescrypt`, `sha512crypt`...), never the hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_scheme: Option<String>,
    /// The hash sits in `/etc/passwd` itself rather than in `/etc/shadow`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hash_in_passwd: bool,
    /// Date of the last password change (`YYYY-MM-DD`), from shadow's day count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<i64>,
    /// Account expiry date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Supplementary groups (from `/etc/group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Line in `/etc/passwd`.
    pub line: u32,
    pub source: SourceRef,
}

/// One group of `/etc/group`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub line: u32,
    pub source: SourceRef,
}

/// `/etc/shadow` as seen, without its content: the file is never copied into the bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowFileRecord {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// Entries parsed.
    pub entries: u32,
    /// SHA-256 of the file (lets two collections be compared without keeping the hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Names with a shadow entry but no `/etc/passwd` account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<String>,
}

/// One user specification of a sudoers file (`who host=(runas) TAGS: commands`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SudoRule {
    pub source: SourceRef,
    pub line: u32,
    /// The line as written (continuations joined).
    pub text: String,
    /// Users, `%groups`, `#uids` and aliases the rule applies to.
    pub principals: Vec<String>,
    pub hosts: Vec<String>,
    /// Run-as specification (`ALL:ALL`), empty when none (root only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runas: String,
    pub commands: Vec<String>,
    /// Some command is allowed without a password.
    pub nopasswd: bool,
    /// `ALL` commands are allowed.
    pub all_commands: bool,
    /// `ALL` commands are allowed without a password.
    pub nopasswd_all: bool,
    /// sudo ignores this file (an `includedir` name holding `.` or ending in `~`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored_by_sudo: bool,
}

/// `/etc/shells`: the login shells the host accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginShells {
    pub shells: Vec<String>,
    pub source: SourceRef,
}
