//! Why a connection was refused or failed, and the sweep outcome each reason maps to.

/// Why a connection was refused or failed; [`ConnectError::outcome`] is the sweep outcome.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("host key refused: {0}")]
    HostKeyUnknown(String),
    #[error("host key refused: {0}")]
    HostKeyChanged(String),
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("SSH error: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// The reason without the outcome prefix.
    pub fn detail(&self) -> &str {
        match self {
            ConnectError::Unreachable(s)
            | ConnectError::Timeout(s)
            | ConnectError::HostKeyUnknown(s)
            | ConnectError::HostKeyChanged(s)
            | ConnectError::AuthFailed(s)
            | ConnectError::Protocol(s) => s,
        }
    }

    /// Sweep outcome name.
    pub fn outcome(&self) -> &'static str {
        match self {
            ConnectError::Unreachable(_) => "unreachable",
            ConnectError::Timeout(_) => "timed_out",
            ConnectError::HostKeyUnknown(_) | ConnectError::HostKeyChanged(_) => "host_key_refused",
            ConnectError::AuthFailed(_) => "auth_failed",
            ConnectError::Protocol(_) => "failed",
        }
    }
}
