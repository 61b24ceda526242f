//! The digest the package database expects for a file: rpm's file digests, dpkg's conffile
//! digests from `status`, and the `info/*.md5sums` of the owning packages (read once each).

use super::db::PackageDb;
use super::dpkg::{DPKG_DIR, LIST_CAP};
use crate::util::usr_aliases;
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::records::SourceRef;
use std::collections::HashMap;
use std::path::Path;

/// The `md5sums` of the packages read so far (info base name → path → digest, and where the
/// file was read from; `None` when it could not be read), so each is read once per host.
pub type Md5Cache = HashMap<String, Option<(HashMap<String, String>, SourceRef)>>;

impl PackageDb {
    /// The digest the database expects for `path` (owned by `owners`): (algorithm, digest,
    /// where it was read from). rpm digests first, then dpkg's conffile digests, then the
    /// owners' `md5sums` (captured into the bundle on first use).
    pub fn expected_digest(
        &self,
        ctx: &mut CollectContext<'_>,
        path: &str,
        owners: &[String],
        cache: &mut Md5Cache,
    ) -> Option<(String, String, Option<SourceRef>)> {
        expected_digest(ctx, self, path, owners, cache)
    }
}

fn expected_digest(
    ctx: &mut CollectContext<'_>,
    db: &PackageDb,
    path: &str,
    owners: &[String],
    cache: &mut Md5Cache,
) -> Option<(String, String, Option<SourceRef>)> {
    if let Some((algo, d)) = std::iter::once(path.to_string())
        .chain(usr_aliases(path))
        .find_map(|p| db.rpm_digests.get(&p))
    {
        return Some((algo.clone(), d.clone(), None));
    }
    if let Some((_, md5)) = std::iter::once(path.to_string())
        .chain(usr_aliases(path))
        .find_map(|p| db.conffiles.get(&p))
    {
        return Some((
            "md5".into(),
            md5.clone(),
            Some(SourceRef::path_only("/var/lib/dpkg/status")),
        ));
    }
    for pkg in owners {
        let base = db
            .info_base
            .get(pkg)
            .cloned()
            .unwrap_or_else(|| pkg.clone());
        let entry = cache.entry(base.clone()).or_insert_with(|| {
            let mpath = Path::new(DPKG_DIR)
                .join("info")
                .join(format!("{base}.md5sums"));
            let c = ctx.capture(&mpath, LIST_CAP)?;
            let src = c.source_ref(&mpath);
            let mut m = HashMap::new();
            for line in c.data.split(|b| *b == b'\n') {
                let Some(sp) = line.iter().position(|b| *b == b' ') else {
                    continue;
                };
                let digest = String::from_utf8_lossy(&line[..sp]).to_string();
                let rel = bytes_to_text(line[sp..].strip_prefix(b"  ").unwrap_or(&line[sp + 1..]));
                m.insert(format!("/{}", rel.trim_start_matches('/')), digest);
            }
            Some((m, src))
        });
        if let Some((m, src)) = entry {
            if let Some(d) = std::iter::once(path.to_string())
                .chain(usr_aliases(path))
                .find_map(|p| m.get(&p))
            {
                return Some(("md5".into(), d.clone(), Some(src.clone())));
            }
        }
    }
    None
}
