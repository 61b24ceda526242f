//! Records of what was running when the host was read: processes and sockets.

use super::source::SourceRef;
use crate::host::FileMeta;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Its cgroup is frozen (cgroup v2 `cgroup.events` says `frozen 1`, or the v1 freezer's
    /// `freezer.state` is `FROZEN`): suspended, not running, whatever its state letter says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub frozen: bool,
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
