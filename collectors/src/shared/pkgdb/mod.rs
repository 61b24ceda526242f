//! The host's package database, parsed once per host and consulted by several collectors:
//! `packages` (records and verification), `proc` and `localbin` (is this program packaged?),
//! through [`PackageDb::load`] and the collection context's cache.
//!
//! dpkg ([`dpkg`]): installed packages from `/var/lib/dpkg/status`, file ownership from
//! `info/*.list`, diversions. rpm ([`rpm`], live hosts with exec allowed): `rpm -qa` for
//! packages, files and digests; an rpm database on an image is recorded as not readable offline.
//! The digest a package expects for a file is looked up by [`digests`].

mod digests;
pub mod dpkg;
mod files;
mod rpm;

pub use digests::Md5Cache;
pub use dpkg::parse_dpkg_status;
pub use files::FileLists;

use crate::util::usr_aliases;
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{Diversion, PackageRecord};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Where dpkg keeps its database.
pub(crate) const DPKG_DIR: &str = "/var/lib/dpkg";
/// Most bytes read of dpkg's `status`.
const STATUS_CAP: u64 = 256 << 20;
/// Most bytes read of one list, `md5sums` or the diversions file.
pub(crate) const LIST_CAP: u64 = 64 << 20;

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
    info_base: HashMap<String, String>,
    /// Conffile digests from dpkg status: path → (package, md5).
    conffiles: HashMap<String, (String, String)>,
    /// rpm: path → (algorithm, digest).
    rpm_digests: HashMap<String, (String, String)>,
    /// Why there is no database, when there is none.
    pub unavailable: Option<String>,
}

impl PackageDb {
    /// Loads the database once per host (shared through the context cache).
    pub fn load(ctx: &mut CollectContext<'_>) -> Arc<PackageDb> {
        if let Some(db) = ctx.cached::<PackageDb>() {
            return db;
        }
        let db = Arc::new(PackageDb::load_fresh(ctx, false));
        ctx.set_cached(db.clone());
        db
    }

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

    /// `Some(true/false)` when a database exists, `None` when ownership cannot be known.
    pub fn is_owned(&self, path: &str) -> Option<bool> {
        self.manager.as_ref()?;
        Some(!self.owners_of(path).is_empty())
    }

    /// Loads the database afresh (not from the cache), capturing every dpkg `info/*.list`
    /// into the bundle when `copy_lists` (otherwise they are read and hashed only).
    pub fn load_fresh(ctx: &mut CollectContext<'_>, copy_lists: bool) -> PackageDb {
        let host = ctx.host();
        let status_path = Path::new(DPKG_DIR).join("status");
        if host.lstat(&status_path).is_ok() {
            return dpkg::load(ctx, copy_lists);
        }
        let rpm_db = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]
            .into_iter()
            .find(|p| {
                host.stat(Path::new(p))
                    .is_ok_and(|m| m.kind == FileKind::Dir)
            });
        if let Some(dbdir) = rpm_db {
            return rpm::load(ctx, dbdir);
        }
        PackageDb {
            unavailable: Some("no dpkg or rpm database found".into()),
            ..Default::default()
        }
    }
}
