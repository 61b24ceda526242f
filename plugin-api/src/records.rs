//! Normalized records: what built-in collectors write to `records/<collector>.jsonl` and what
//! analyzers read back. One JSON object per line, tagged by `kind`.
//!
//! Every record that comes from a file carries a [`SourceRef`]: the path on the host and the
//! bundle member (with its SHA-256) holding the verbatim copy, so any conclusion drawn from a
//! record can be traced to hashed evidence. Byte strings (paths, argv) are record text as
//! defined in [`crate::encoding`].

use crate::host::{FileMeta, HostInfo};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Points from a record to the evidence it was parsed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Path on the host.
    pub path: String,
    /// Bundle member holding the verbatim copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// SHA-256 of that member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl SourceRef {
    /// A source with no raw copy (e.g. a symlink, whose target is in the record itself).
    pub fn path_only(path: impl Into<String>) -> Self {
        SourceRef {
            path: path.into(),
            member: None,
            sha256: None,
        }
    }
}

/// Every record kind built-in collectors produce.
// Records are parsed and matched one at a time, never stored in bulk as `Record`, so the size
// of the largest variant costs nothing worth an extra allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    HostFacts(HostFacts),
    Unit(UnitRecord),
    SystemdGenerator(GeneratorRecord),
    CronEntry(CronEntry),
    CronScript(CronScript),
    AtJob(AtJob),
    Process(ProcessRecord),
    Socket(SocketRecord),
    Package(PackageRecord),
    PackageFiles(PackageFiles),
    PackageVerify(PackageVerify),
    Diversion(Diversion),
    Account(AccountRecord),
    Group(GroupRecord),
    ShadowFile(ShadowFileRecord),
    SudoRule(SudoRule),
    LoginShells(LoginShells),
    Hook(HookRecord),
    LdPreload(LdPreloadRecord),
    LdSoConf(LdSoConfRecord),
    KernelModule(KernelModuleRecord),
    ModuleConfig(ModuleConfigRecord),
    KernelTaint(KernelTaintRecord),
    LocalBin(LocalBinRecord),
    NetInterface(NetInterfaceRecord),
    Login(LoginRecord),
    Linger(LingerRecord),
    SshdConfig(SshdConfigRecord),
    AuthorizedKeysFile(AuthorizedKeysFileRecord),
    AuthorizedKey(AuthorizedKeyRecord),
    PrivilegedFile(PrivilegedFileRecord),
    HistoryFile(HistoryFileRecord),
    LogFile(LogFileRecord),
    Lastlog(LastlogRecord),
}

/// Identity of the host and of the collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// `PRETTY_NAME` from os-release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_pretty_name: Option<String>,
    /// `ID`, `VERSION_ID`, `ID_LIKE`... from os-release.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub os_release: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Account the collection ran as on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_as_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_as_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<HostInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
}

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

/// One process, at the moment it was read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub ppid: u32,
    /// State letter from `/proc/PID/stat`.
    pub state: String,
    /// `comm` (the kernel's 15-character name, which a process can change).
    pub comm: String,
    /// argv from `cmdline`.
    pub argv: Vec<String>,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Kernel thread (PF_KTHREAD): has no executable.
    pub kernel_thread: bool,
    /// The collection itself (the `dossier` process collecting this host, from
    /// [`crate::HostInfo::own_pids`]): recorded, its executable hashed but not copied, and not
    /// judged by rules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub collector_self: bool,
    /// Executable path (`/proc/PID/exe` target without the ` (deleted)` marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The executable was deleted (or replaced) after the process started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exe_deleted: bool,
    /// SHA-256 of the executable read through `/proc/PID/exe` (works for deleted files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_meta: Option<FileMeta>,
    /// Bundle member holding a copy of the executable, when one was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_member: Option<String>,
    /// Why the executable could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Root directory (differs from `/` in containers and chroots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Start time in clock ticks after boot (raw field 22 of `stat`).
    pub start_ticks: u64,
    pub threads: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ld_preload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ld_library_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ld_audit: Option<String>,
    /// The unified (v2) cgroup path, or the systemd controller's path on v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// systemd unit derived from the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// Namespace inodes (`net`, `pid`, `mnt`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: BTreeMap<String, u64>,
    /// Targets of file descriptors 0, 1 and 2 (stdin, stdout, stderr) as `readlink` gives
    /// them (`/dev/pts/0`, `socket:[12345]`, `pipe:[678]`); an empty string for a descriptor
    /// that is closed or could not be read. The descriptors themselves are never read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdio: Vec<String>,
    /// Verbatim `/proc/PID/*` files this record was parsed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
}

/// One TCP or UDP socket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketRecord {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub protocol: String,
    pub local_addr: String,
    pub local_port: u16,
    pub remote_addr: String,
    pub remote_port: u16,
    /// `LISTEN`, `ESTABLISHED`... (UDP: `UNCONN` for unconnected, `ESTABLISHED` when connected).
    pub state: String,
    /// Accepts connections or datagrams from anyone (TCP LISTEN, unconnected UDP).
    pub listening: bool,
    pub inode: u64,
    pub uid: u32,
    pub pids: Vec<u32>,
    /// `comm` of the owning processes.
    pub processes: Vec<String>,
    /// Network namespace inode, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    pub source: SourceRef,
}

/// An installed package.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// `dpkg` or `rpm`.
    pub manager: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// dpkg `Status` (`install ok installed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    pub source: SourceRef,
}

/// The files a package owns (from dpkg `info/*.list` or the rpm database).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFiles {
    pub manager: String,
    pub package: String,
    pub files: Vec<String>,
    /// The list file this came from (path and SHA-256 of what was parsed).
    pub source: SourceRef,
}

/// Verification of one file against the package database's digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVerify {
    pub path: String,
    /// Owning package, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// `ok`, `mismatch`, `missing`, `unreadable`, `no_digest`, `not_owned`.
    pub status: String,
    /// `md5` (dpkg) or the rpm digest algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why it was checked (`process 812`, `unit python.service`, `cron /etc/cron.d/x:3`, `full`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<String>,
    /// Digest list the expectation came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_source: Option<SourceRef>,
    /// Copy of the file in the bundle (unowned or mismatching files, up to the copy cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<SourceRef>,
}

/// A dpkg diversion (a package file moved aside so another can take its place).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diversion {
    pub path: String,
    pub diverted_to: String,
    pub package: String,
    pub source: SourceRef,
}

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

/// A kernel module seen in `/proc/modules` or `/sys/module` (live hosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelModuleRecord {
    pub name: String,
    /// Listed in `/proc/modules`.
    pub in_proc_modules: bool,
    /// Has a `/sys/module/<name>` directory.
    pub in_sys_module: bool,
    /// `/sys/module/<name>/initstate` (`live`, `coming`, `going`); absent for built-in code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initstate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refcnt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Taint letters of the module (`/proc/modules` `(OE)` or `/sys/module/<name>/taint`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub taint: String,
    /// The module file, from `modules.dep` of the running kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `/proc/modules` line number (or 0).
    pub line: u32,
    pub source: SourceRef,
}

/// A module loading or modprobe configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleConfigRecord {
    pub path: String,
    /// `load` (`/etc/modules`, `modules-load.d`: modules loaded at boot) or `modprobe`.
    pub purpose: String,
    /// Modules loaded at boot (`load`) or directives (`modprobe`: `install x /bin/true`...).
    pub entries: Vec<String>,
    /// Commands of `install`/`remove` directives (they run as root when the module loads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    pub source: SourceRef,
}

/// `/proc/sys/kernel/tainted`, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelTaintRecord {
    pub value: u64,
    /// Letters and meanings of the set bits (`O: out-of-tree module loaded`...).
    pub flags: Vec<String>,
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

/// A network interface from `/sys/class/net` (live hosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterfaceRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    /// Hardware address (`address`), lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Permanent hardware address when the driver reports one that differs from `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm_mac: Option<String>,
    /// `flags` as read (hex) and decoded (`UP`, `BROADCAST`, `PROMISC`...).
    pub flags_raw: String,
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operstate: Option<String>,
    /// ARPHRD type number (1 = Ethernet, 772 = loopback...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_type: Option<u32>,
    /// Backed by a device (`/sys/class/net/<if>/device` exists): a physical adapter.
    pub physical: bool,
    /// Bridge, bond or team the interface is enslaved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The interface is itself a bridge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bridge: bool,
    /// IPv6 addresses from `/proc/net/if_inet6` (`addr/prefix`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6: Vec<String>,
    /// IPv4 addresses (`addr/prefix`): the local addresses of `/proc/net/fib_trie` attributed
    /// to this interface through its connected route in `/proc/net/route` (or, for a
    /// loopback device, through its local prefix route such as `127.0.0.0/8`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv4: Vec<String>,
    /// Broadcast addresses of those subnets that the kernel has a broadcast route for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv4_broadcast: Vec<String>,
    pub source: SourceRef,
}

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

/// One `sshd_config` keyword as sshd reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshdSetting {
    /// Keyword in lower case (`permitrootlogin`).
    pub keyword: String,
    /// Arguments as written, joined by one space.
    pub value: String,
    /// File and 1-based line it comes from.
    pub file: String,
    pub line: u32,
}

/// A `Match` block of `sshd_config`: settings that apply only to the logins it matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshdMatchBlock {
    /// The criteria as written (`User backup Address 10.0.0.0/8`).
    pub criteria: String,
    pub file: String,
    pub line: u32,
    pub settings: Vec<SshdSetting>,
}

/// The OpenSSH server configuration: `/etc/ssh/sshd_config` and the files its `Include`s
/// name, read in sshd's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshdConfigRecord {
    /// Settings in force for every login: the first value of each keyword outside `Match`
    /// blocks wins, as in sshd.
    pub settings: Vec<SshdSetting>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_blocks: Vec<SshdMatchBlock>,
    /// `AuthorizedKeysFile` patterns in force (the default when not set).
    pub authorized_keys_files: Vec<String>,
    /// `AuthorizedKeysFile` is not set: sshd's default applies.
    pub default_keys_files: bool,
    /// `Include` patterns, in the order read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
    /// The configuration files read (verbatim copies).
    pub sources: Vec<SourceRef>,
}

impl SshdConfigRecord {
    /// The value in force for `keyword` (lower case), if set.
    pub fn get(&self, keyword: &str) -> Option<&SshdSetting> {
        self.settings.iter().find(|s| s.keyword == keyword)
    }
}

/// An authorized-keys file of one account, found through sshd's `AuthorizedKeysFile` or at a
/// default location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedKeysFileRecord {
    pub user: String,
    pub uid: u32,
    pub path: String,
    /// The pattern it was expanded from (`.ssh/authorized_keys`, `/etc/ssh/keys/%u`).
    pub pattern: String,
    /// sshd reads it for every login of the account (its pattern is in force).
    pub read_by_sshd: bool,
    /// Only a `Match` block's `AuthorizedKeysFile` names it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub match_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// Metadata of the directory holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_meta: Option<FileMeta>,
    /// Key lines parsed.
    pub keys: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// One key line of an authorized-keys file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedKeyRecord {
    pub user: String,
    pub uid: u32,
    pub file: String,
    pub line: u32,
    pub key_type: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it; absent when the key does not decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `command="..."`: the only command a login with this key runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `from="..."`: the addresses the key is accepted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// sshd reads the file for every login of the account.
    pub read_by_sshd: bool,
    pub source: SourceRef,
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

/// Parses one line of a records member. Unknown kinds (from dynamic plugins) give `Ok(None)`.
pub fn parse_record(line: &str) -> Result<Option<Record>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    from_value(v)
}

/// Like [`parse_record`] from a JSON value.
pub fn from_value(v: serde_json::Value) -> Result<Option<Record>, serde_json::Error> {
    const KNOWN: &[&str] = &[
        "host_facts",
        "unit",
        "systemd_generator",
        "cron_entry",
        "cron_script",
        "at_job",
        "process",
        "socket",
        "package",
        "package_files",
        "package_verify",
        "diversion",
        "account",
        "group",
        "shadow_file",
        "sudo_rule",
        "login_shells",
        "hook",
        "ld_preload",
        "ld_so_conf",
        "kernel_module",
        "module_config",
        "kernel_taint",
        "local_bin",
        "net_interface",
        "login",
        "linger",
        "sshd_config",
        "authorized_keys_file",
        "authorized_key",
        "privileged_file",
        "history_file",
        "log_file",
        "lastlog",
    ];
    match v.get("kind").and_then(|k| k.as_str()) {
        Some(k) if KNOWN.contains(&k) => serde_json::from_value(v).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_kind_and_round_trip() {
        let r = Record::CronEntry(CronEntry {
            source: SourceRef::path_only("/etc/crontab"),
            line: 3,
            format: "system".into(),
            owner: "root".into(),
            schedule: "@reboot".into(),
            special: Some("reboot".into()),
            run_as: "root".into(),
            command: "/var/log/log".into(),
            ..Default::default()
        });
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with("{\"kind\":\"cron_entry\""), "{s}");
        assert_eq!(parse_record(&s).unwrap(), Some(r));
        assert_eq!(
            parse_record("{\"kind\":\"ssh_key\",\"x\":1}").unwrap(),
            None
        );
        assert!(parse_record("{\"kind\":\"cron_entry\"}").is_err());
    }
}
