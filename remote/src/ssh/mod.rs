//! `SshHost`: a remote machine reached over SSH (ssh2 / bundled libssh2), read through SFTP
//! (our own pipelined client, [`crate::sftp_client`], on an SSH channel).
//!
//! Files, directories, `stat`, `lstat` and `readlink` go through SFTP; the few commands a
//! collector asks for (`systemctl list-units`, `rpm -qa`) run on an exec channel as a quoted
//! argv under `/usr/bin/env -i` (a fixed environment), never as a shell string built from
//! collected data. Before any authentication the server's host key is checked against a
//! known_hosts file: an unknown key is refused unless the caller opted into trust on first use
//! (then it is appended to the file), a changed key is always refused.
//!
//! Every blocking libssh2 call has a timeout (libssh2's default, 0, waits forever), the TCP
//! connect has its own, and [`AbortHandle`] lets a watchdog cut the connection when a host's
//! deadline passes: every pending and later call then fails as `Disconnected`, which the
//! orchestrator records as "host lost" for the collectors that had not run.
//!
//! SFTP cannot open files with `O_NOATIME` and reports neither inode nor ctime: reads may
//! update access times on the target (as any SFTP client's would), and file metadata in the
//! bundle has `mtime`/`atime` at one-second resolution and no inode/ctime.
//!
//! One module per concern, lowest first: `settings` (what to connect to and how) and
//! `error` (why a connection failed); `known_hosts` (host key checking) and `auth`
//! (credentials); `command` (how an argv becomes a remote command line); `host_errors`
//! and `files` (SFTP answers as `Host` errors, metadata and open files); `listed` (`lstat`
//! answered from the listings just made); `host` (the
//! connected [`SshHost`] and its `Host` implementation); `connect` (TCP, handshake, host
//! key, authentication, SFTP start), which builds it.

mod auth;
mod command;
mod connect;
mod error;
mod files;
mod host;
mod host_errors;
mod known_hosts;
mod listed;
mod settings;

pub use command::{command_line, shell_quote};
pub use connect::{connect, connect_with};
pub use error::ConnectError;
pub use files::meta_from_attrs;
pub(crate) use host::ms;
pub use host::{AbortHandle, SshHost};
pub use settings::{Secret, SshAuth, SshSettings, SshTarget};
