//! Records of the OpenSSH server configuration and the authorized keys it lets in.

use super::source::SourceRef;
use crate::host::FileMeta;
use serde::{Deserialize, Serialize};

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
