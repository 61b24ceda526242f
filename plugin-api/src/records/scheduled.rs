//! Records of what runs on a schedule or at boot through a service manager: systemd units,
//! timers and generators, lingering users, cron entries and scripts, `at` jobs.

use super::source::SourceRef;
use crate::host::FileMeta;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One systemd unit as systemd would load it: the winning fragment plus drop-ins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Unit name (`python.service`).
    pub name: String,
    /// Suffix: `service`, `timer`, `socket`, `path`, `mount`, `target`...
    pub unit_type: String,
    /// `system` or `user`.
    pub scope: String,
    /// For per-user units found in a home directory: that user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The fragment systemd uses (first in search order).
    pub path: String,
    pub source: SourceRef,
    /// Directory of the fragment (tells `/etc/systemd/system` from `/usr/lib/systemd/system`).
    pub unit_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// Fragments with the same name lower in the search order (overridden).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropins: Vec<SourceRef>,
    /// Linked to `/dev/null`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
    /// The fragment is a symlink: its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_start: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_start_pre: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_start_post: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_reload: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// `Type=` of a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wanted_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerSpec>,
    /// Some `*.wants/`, `*.requires/` or alias link points at it.
    pub enabled: bool,
    /// The links that enable it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_via: Vec<String>,
    /// Live hosts: `active`, `inactive`, `failed`... when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_state: Option<String>,
    /// How the state was learnt: `systemctl` or `cgroup` (processes found in the unit's cgroup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_source: Option<String>,
    /// PIDs whose cgroup is this unit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
    /// Every directive after drop-ins, as `Section.Key` → values in order (an empty assignment
    /// resets the list, as systemd does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Vec<String>>,
    /// `LD_PRELOAD`, `LD_LIBRARY_PATH` and `LD_AUDIT` assignments (`VAR=value`) found in the
    /// readable files of `EnvironmentFile=`; other variables of those files are never kept
    /// (they can hold secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_file_ld: Vec<String>,
    /// Lines that could not be parsed, with their line numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parse_warnings: Vec<String>,
}

/// Schedule of a `.timer` unit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_calendar: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_boot_sec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_startup_sec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_active_sec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_unit_active_sec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_unit_inactive_sec: Vec<String>,
    /// Unit the timer starts (default: same name, `.service`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<String>,
}

/// An executable in a systemd generator directory (they run at every boot and daemon-reload).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratorRecord {
    pub path: String,
    /// `system`, `user`, `system-environment`, `user-environment`.
    pub scope: String,
    pub dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// A lingering user: `/var/lib/systemd/linger/<user>` exists, so that user's systemd
/// manager, and the user units it enables, start at boot and keep running with no login.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LingerRecord {
    pub user: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// The name is an account of `/etc/passwd`.
    pub account_exists: bool,
}

/// One line of a crontab that schedules something.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronEntry {
    pub source: SourceRef,
    /// 1-based line number in the file.
    pub line: u32,
    /// `system` (has a user field: /etc/crontab, /etc/cron.d), `user` (spool) or `anacron`.
    pub format: String,
    /// Whose crontab: the spool file's name for user crontabs, `root` for system files.
    pub owner: String,
    /// The schedule as written (`*/5 * * * *`, `@reboot`, or anacron `period delay id`).
    pub schedule: String,
    /// `reboot`, `hourly`, `daily`... for `@` schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<String>,
    /// Account the command runs as.
    pub run_as: String,
    /// The command (up to the first unescaped `%`).
    pub command: String,
    /// Text after the first unescaped `%` (fed to stdin), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Variables set earlier in the same file (`PATH`, `SHELL`, `MAILTO`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The line could not be parsed as an entry; `command` holds the raw line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// A script in `/etc/cron.{hourly,daily,weekly,monthly}` (run by run-parts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CronScript {
    pub path: String,
    /// `hourly`, `daily`, `weekly`, `monthly`.
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// run-parts only runs executables whose names match `^[A-Za-z0-9_-]+$`.
    pub runs: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// A queued `at` job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtJob {
    pub path: String,
    pub source: SourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// Owner uid of the job file (the submitting user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When the job runs, decoded from the spool file name where possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<Timestamp>,
    /// The job's commands (the script after at's environment preamble).
    pub commands: String,
}
