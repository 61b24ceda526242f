//! Records of logins and their traces: utmp/wtmp/btmp entries, lastlog, history files and
//! authentication logs as `lstat` sees them.

use super::source::SourceRef;
use crate::host::FileMeta;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One binary record of utmp (current sessions), wtmp (login history) or btmp (failed
/// logins).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecord {
    /// `utmp`, `wtmp` or `btmp`.
    pub log: String,
    /// 0-based index of the record in the file.
    pub index: u32,
    /// `user_process`, `dead_process`, `login_process`, `boot_time`, `run_lvl`...
    pub entry_type: String,
    pub pid: i32,
    /// Terminal (`pts/0`, `ssh:notty`).
    pub line: String,
    pub user: String,
    pub host: String,
    /// Remote address from `ut_addr_v6`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    pub source: SourceRef,
}

/// One account's entry of `/var/log/lastlog`: its last login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastlogRecord {
    pub uid: u32,
    pub user: String,
    pub time: Timestamp,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub line: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub source: SourceRef,
}

/// A shell or client history file of an account, as `lstat` sees it (its content is not
/// collected).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFileRecord {
    pub user: String,
    pub path: String,
    pub meta: FileMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// A login or authentication log file, as `lstat` sees it: size and times tell a file
/// emptied after the fact from one rotated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFileRecord {
    pub path: String,
    /// `wtmp`, `btmp`, `lastlog`, `auth` (auth.log, secure).
    pub log: String,
    /// A rotated copy (`wtmp.1`, `auth.log.2.gz`, `secure-20260101`).
    pub rotated: bool,
    pub meta: FileMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}
