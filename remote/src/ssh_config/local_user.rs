//! The local account the configuration is read for (`~`, `%` tokens, `Match localuser`,
//! file ownership).

use std::path::PathBuf;

/// The local account, for `~`, `%d`, `%u`, `%i`, `Match localuser` and file ownership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalUser {
    pub name: String,
    pub home: PathBuf,
    pub uid: u32,
}

impl LocalUser {
    /// The current user from `$HOME` and `$USER` (or `$LOGNAME`) and the real uid. The
    /// password database is not consulted: with NSS modules it may talk to the network.
    pub fn current() -> LocalUser {
        let uid = nix::unistd::getuid().as_raw();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| uid.to_string());
        LocalUser { name, home, uid }
    }

    /// `~/.ssh/config`.
    pub fn default_config_path(&self) -> PathBuf {
        self.home.join(".ssh").join("config")
    }
}
