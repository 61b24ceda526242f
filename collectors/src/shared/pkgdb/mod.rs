//! The host's package database, parsed once per host and consulted by several collectors:
//! `packages` (records and verification), `proc` and `localbin` (is this program packaged?),
//! through [`PackageDb::load`] and the collection context's cache.
//!
//! dpkg ([`dpkg`]): installed packages from `/var/lib/dpkg/status`, file ownership from
//! `info/*.list`, diversions. rpm (`rpm`, live hosts with exec allowed): `rpm -qa` for
//! packages, files and digests; an rpm database on an image is recorded as not readable offline.
//! The digest a package expects for a file is looked up by `digests`.

mod db;
mod digests;
pub mod dpkg;
mod files;
mod rpm;

pub use db::PackageDb;
pub use digests::Md5Cache;
pub use dpkg::parse_dpkg_status;
pub use files::FileLists;

use dossier_plugin_api::CollectContext;
use dossier_plugin_api::host::FileKind;
use std::path::Path;
use std::sync::Arc;

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

    /// Loads the database afresh (not from the cache), capturing every dpkg `info/*.list`
    /// into the bundle when `copy_lists` (otherwise they are read and hashed only).
    pub fn load_fresh(ctx: &mut CollectContext<'_>, copy_lists: bool) -> PackageDb {
        let host = ctx.host();
        let status_path = Path::new(dpkg::DPKG_DIR).join("status");
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
