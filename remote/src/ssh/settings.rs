//! What to connect to and how: the target, the credentials (secrets never printed) and the
//! connection policy (known_hosts files, trust on first use, timeouts, sudo).

use std::path::PathBuf;
use std::time::Duration;

/// Where and as whom to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    /// The target as the user wrote it (or as discovered in a CIDR sweep).
    pub spec: String,
    /// Host name or address to connect to.
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl SshTarget {
    /// `ssh:user@host:port`, the label recorded in bundles and used to resume sweeps.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("ssh:{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("ssh:{}@{}:{}", self.user, self.host, self.port)
        }
    }

    /// The name under which the host key is stored in known_hosts (`[host]:port` when the
    /// port is not 22, as OpenSSH writes it).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

/// A secret held in memory only: never printed (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How to authenticate.
#[derive(Clone, Debug, Default)]
pub struct SshAuth {
    /// Private key files, tried in order.
    pub identities: Vec<PathBuf>,
    /// Try the keys of a running ssh-agent (`SSH_AUTH_SOCK`) first.
    pub use_agent: bool,
    /// Passphrase for encrypted identity files.
    pub passphrase: Option<Secret>,
    /// Password, tried after keys.
    pub password: Option<Secret>,
}

/// Connection policy.
#[derive(Clone, Debug)]
pub struct SshSettings {
    /// known_hosts file checked (and appended to with `accept_new`).
    pub known_hosts: PathBuf,
    /// Further known_hosts files checked, never written (`/etc/ssh/ssh_known_hosts`).
    pub extra_known_hosts: Vec<PathBuf>,
    /// Trust on first use: accept and record a key for a host that has none.
    pub accept_new: bool,
    /// TCP connect timeout, and the limit for the SSH handshake and authentication.
    pub connect_timeout: Duration,
    /// Limit for each SFTP operation.
    pub op_timeout: Duration,
    /// Run commands through `sudo -n` (for a non-root login).
    pub sudo: bool,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            known_hosts: PathBuf::from("known_hosts"),
            extra_known_hosts: Vec::new(),
            accept_new: false,
            connect_timeout: Duration::from_secs(10),
            op_timeout: Duration::from_secs(30),
            sudo: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let a = SshAuth {
            password: Some(Secret::new("hunter2".into())),
            ..Default::default()
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
