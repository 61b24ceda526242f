//! The parsed form of a configuration: settings, each under the conditions (`Host` and
//! `Match` blocks, and the blocks enclosing an `Include`) that must hold for it to apply.

use super::host_config::StrictMode;
use super::local_user::LocalUser;
use std::time::Duration;

/// A parsed configuration; see the module documentation.
#[derive(Clone, Debug)]
pub struct SshConfig {
    pub(super) items: Vec<Item>,
    pub(super) conditions: Vec<Condition>,
    pub(super) local: LocalUser,
    pub(super) warnings: Vec<String>,
}

/// Where a line is: `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) file: String,
    pub(super) line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Clone, Debug)]
pub(super) enum Item {
    /// A `Host` or `Match` line: evaluate condition `id` here, if every `outer` condition
    /// (from the blocks enclosing the `Include` that brought it in) holds.
    Cond { id: usize, outer: Vec<usize> },
    /// A setting that applies when every condition in `conds` holds.
    Set {
        conds: Vec<usize>,
        at: Origin,
        setting: Setting,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Setting {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    IdentitiesOnly(bool),
    KnownHosts(String),
    Strict(StrictMode),
    ConnectTimeout(Option<Duration>),
    /// ProxyJump or ProxyCommand (one slot); `none` disables.
    Proxy {
        keyword: &'static str,
        value: String,
    },
    RefuseConnection(bool),
    /// A keyword that is not honoured: warn when it applies.
    NotHonoured(&'static str),
    /// Something else to warn about when it applies.
    Warning(&'static str),
}

impl Setting {
    pub(super) fn keyword(&self) -> &'static str {
        match self {
            Setting::HostName(_) => "HostName",
            Setting::User(_) => "User",
            Setting::Port(_) => "Port",
            Setting::IdentityFile(_) => "IdentityFile",
            Setting::IdentitiesOnly(_) => "IdentitiesOnly",
            Setting::KnownHosts(_) => "UserKnownHostsFile",
            Setting::Strict(_) => "StrictHostKeyChecking",
            Setting::ConnectTimeout(_) => "ConnectTimeout",
            Setting::Proxy { keyword, .. } => keyword,
            Setting::RefuseConnection(_) => "RefuseConnection",
            Setting::NotHonoured(k) => k,
            Setting::Warning(_) => "Include",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Pattern {
    pub(super) negated: bool,
    pub(super) glob: Vec<char>,
}

#[derive(Clone, Debug)]
pub(super) enum Criterion {
    All,
    Host(Vec<Pattern>),
    OriginalHost(Vec<Pattern>),
    User(Vec<Pattern>),
    LocalUser(Vec<Pattern>),
}

#[derive(Clone, Debug)]
pub(super) enum Condition {
    /// `Host` patterns (lower-cased).
    Host(Vec<Pattern>),
    /// `Match` criteria, all of which must hold; `true` for a negated `!criterion`.
    Match(Vec<(bool, Criterion)>),
    /// A `Match` with a criterion that is not supported: never applies; warn when reached.
    Skipped { warning: String },
}

impl SshConfig {
    /// An empty configuration (no file).
    pub fn empty() -> SshConfig {
        SshConfig {
            items: Vec::new(),
            conditions: Vec::new(),
            local: LocalUser::current(),
            warnings: Vec::new(),
        }
    }

    /// Warnings about the configuration as a whole (keywords OpenSSH does not know,
    /// includes that could not be followed), each naming file and line.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}
