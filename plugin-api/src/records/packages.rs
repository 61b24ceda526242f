//! Records of the package database: installed packages, the files they own, verification of
//! those files against the database's digests, and dpkg diversions.

use super::source::SourceRef;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// When the package was installed, where the database records it (rpm `INSTALLTIME`;
    /// dpkg's database keeps no such time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_time: Option<Timestamp>,
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
