//! libssh2 and SFTP client errors as `Host` errors (not found, permission denied, timeout,
//! connection lost, ...), so collectors see the same kinds as on a local host.

use crate::sftp_client::SftpError;
use dossier_plugin_api::host::{HostError, HostErrorKind};
use ssh2::{ErrorCode, Session};
use std::path::Path;

pub(super) fn sftp_error(e: ssh2::Error, path: &Path, what: &str) -> HostError {
    let (kind, msg) = match e.code() {
        ErrorCode::SFTP(2) | ErrorCode::SFTP(10) => (HostErrorKind::NotFound, "no such file"),
        ErrorCode::SFTP(3) => (HostErrorKind::PermissionDenied, "permission denied"),
        ErrorCode::SFTP(19) => (HostErrorKind::NotADirectory, "not a directory"),
        ErrorCode::SFTP(21) => (HostErrorKind::Loop, "too many levels of symbolic links"),
        ErrorCode::SFTP(6) | ErrorCode::SFTP(7) => {
            (HostErrorKind::Disconnected, "SFTP connection lost")
        }
        ErrorCode::SFTP(4) => (
            HostErrorKind::Other,
            "failure reported by the server (e.g. symlink loop or I/O error)",
        ),
        ErrorCode::Session(-9) | ErrorCode::Session(-30) => {
            (HostErrorKind::Timeout, "no answer from the host in time")
        }
        ErrorCode::Session(-13 | -43 | -7 | -1 | -26) => {
            (HostErrorKind::Disconnected, "connection to the host lost")
        }
        _ => (HostErrorKind::Other, e.message()),
    };
    let msg = if what.is_empty() {
        msg.to_string()
    } else {
        format!("{what}: {msg}")
    };
    HostError::new(kind, path, msg)
}

pub(super) fn io_error(e: std::io::Error, path: &Path, session: &Session) -> HostError {
    // ssh2 turns its errors into io::Error and keeps only timeouts and not-found as kinds;
    // the session's last error tells the rest (a lost connection, a server failure).
    match e.kind() {
        std::io::ErrorKind::TimedOut => HostError::new(
            HostErrorKind::Timeout,
            path,
            "read: no answer from the host in time",
        ),
        std::io::ErrorKind::NotFound => {
            HostError::new(HostErrorKind::NotFound, path, "read: no such file")
        }
        std::io::ErrorKind::PermissionDenied => HostError::new(
            HostErrorKind::PermissionDenied,
            path,
            "read: permission denied",
        ),
        // From the sudo SFTP client: its stream broke or the server sent garbage.
        std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::BrokenPipe => {
            HostError::new(HostErrorKind::Disconnected, path, format!("read: {e}"))
        }
        _ => match ssh2::Error::last_session_error(session) {
            Some(se) if se.code() != ErrorCode::Session(0) => sftp_error(se, path, "read"),
            _ => HostError::new(HostErrorKind::Other, path, format!("read failed: {e}")),
        },
    }
}

/// A host error from our SFTP client's error.
pub(super) fn client_error(e: SftpError, path: &Path, what: &str) -> HostError {
    let (kind, msg) = match &e {
        SftpError::Status { code, message } => match *code {
            2 | 10 => (HostErrorKind::NotFound, "no such file".to_string()),
            3 => (HostErrorKind::PermissionDenied, "permission denied".into()),
            19 => (HostErrorKind::NotADirectory, "not a directory".into()),
            21 => (
                HostErrorKind::Loop,
                "too many levels of symbolic links".into(),
            ),
            _ => (HostErrorKind::Other, message.clone()),
        },
        SftpError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (
            HostErrorKind::Timeout,
            "no answer from the host in time".into(),
        ),
        // A broken stream or garbage from the server: the SFTP session cannot go on.
        SftpError::Io(_) | SftpError::Protocol(_) => (HostErrorKind::Disconnected, e.to_string()),
    };
    let msg = if what.is_empty() {
        msg
    } else {
        format!("{what}: {msg}")
    };
    HostError::new(kind, path, msg)
}
