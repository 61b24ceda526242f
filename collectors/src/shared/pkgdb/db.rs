//! The package database as held in memory: packages, file lists, diversions and the digests
//! packages expect, and who owns a path.

use super::files::FileLists;
use crate::util::usr_aliases;
use dossier_plugin_api::records::{Diversion, PackageRecord};
use std::collections::HashMap;

/// What the host's package manager knows, parsed once per host.
#[derive(Debug, Default)]
pub struct PackageDb {
    /// `dpkg` or `rpm`; `None` when no database was found.
    pub manager: Option<String>,
    pub packages: Vec<PackageRecord>,
    /// Every package's file list, and which packages own a path.
    pub files: FileLists,
    pub diversions: Vec<Diversion>,
    /// dpkg: package → base name of its info files (`libc6:amd64`).
    pub(super) info_base: HashMap<String, String>,
    /// Conffile digests from dpkg status: path → (package, md5).
    pub(super) conffiles: HashMap<String, (String, String)>,
    /// rpm: path → (algorithm, digest).
    pub(super) rpm_digests: HashMap<String, (String, String)>,
    /// Why there is no database, when there is none.
    pub unavailable: Option<String>,
}

impl PackageDb {
    /// Packages owning `path` (also under its merged-/usr alias). Empty when none.
    pub fn owners_of(&self, path: &str) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(path.to_string())
            .chain(usr_aliases(path))
            .flat_map(|p| self.files.owners(&p))
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether a file's expected digest may be an MD5 (dpkg's `md5sums` and conffile
    /// digests, rpm packages built with MD5 file digests).
    pub fn may_expect_md5(&self) -> bool {
        match self.manager.as_deref() {
            Some("dpkg") => true,
            Some(_) => self.rpm_digests.values().any(|(algo, _)| algo == "md5"),
            None => false,
        }
    }

    /// `Some(true/false)` when a database exists, `None` when ownership cannot be known.
    pub fn is_owned(&self, path: &str) -> Option<bool> {
        self.manager.as_ref()?;
        Some(!self.owners_of(path).is_empty())
    }
}
