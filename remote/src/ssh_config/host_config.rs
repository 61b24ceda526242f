//! What the configuration says about one host: the answer of `SshConfig::resolve`.

use std::path::PathBuf;
use std::time::Duration;

/// What `StrictHostKeyChecking` asks for. `ask` is read as [`StrictMode::Yes`]: a sweep cannot
/// ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictMode {
    /// `yes`, `true`, `ask`: unknown and changed keys are refused.
    Yes,
    /// `accept-new`: unknown keys are recorded and trusted, changed keys refused.
    AcceptNew,
    /// `no`, `off`, `false`: the configuration disables host key checking.
    No,
}

/// What the configuration says about one host. `None` / empty means "not configured": the
/// caller applies its own default (command-line option, port 22, the local user, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, `%h` expanded; `None`: connect to the name given to `resolve`.
    pub hostname: Option<String>,
    /// `User` (or the user given to [`SshConfig::resolve_with`](super::SshConfig::resolve_with)).
    pub user: Option<String>,
    /// `Port` (or the port given to [`SshConfig::resolve_with`](super::SshConfig::resolve_with)).
    pub port: Option<u16>,
    /// `IdentityFile`s in order, `~` and `%` tokens expanded. Empty when none is configured
    /// (OpenSSH would then try `~/.ssh/id_*`).
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// The first `UserKnownHostsFile`, expanded (`none` becomes `/dev/null`).
    pub known_hosts: Option<PathBuf>,
    /// `StrictHostKeyChecking`.
    pub strict: Option<StrictMode>,
    /// `ConnectTimeout`; `None` also when set to `none` or 0 (no timeout in OpenSSH): a sweep
    /// always uses a timeout of its own then.
    pub connect_timeout: Option<Duration>,
    /// Settings that apply to this host and that dossier's transport cannot honour, e.g.
    /// `ProxyJump bastion (~/.ssh/config:12)`. Non-empty means: do not connect to this host.
    pub unsupported: Vec<String>,
    /// Things ignored or approximated for this host, each naming file and line.
    pub warnings: Vec<String>,
}
