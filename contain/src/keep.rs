//! Files an action takes away and puts back exactly: a [`FileRec`] (path, SHA-256 and
//! `lstat` metadata, read before any change), moving a file into a root-only quarantine
//! folder and back ([`move_out`], [`move_back`]: a rename on the same filesystem, else a copy
//! that is verified by its hash before the original is removed, and the record says which),
//! and putting owner, mode and times back ([`set_meta`], checked by [`verify_meta`]).

use crate::action::ActionError;
use crate::actuator::Actuator;
use crate::ops::{self, Kind, Meta, OpError};

/// The quarantine folder of a real run; each action has its folder `<id>/` in it.
pub const QUARANTINE_DIR: &str = "/var/lib/dossier/quarantine";

/// A regular file as it was: where, its SHA-256 and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRec {
    pub path: String,
    pub sha256: String,
    pub meta: Meta,
}

impl FileRec {
    /// Records the regular file at `path` (metadata first, so the access time is the one
    /// before dossier read it).
    pub fn read(a: &mut dyn Actuator, path: &str) -> Result<FileRec, ActionError> {
        let meta = ops::expect_regular(a, path)?;
        let sha256 = ops::sha256(a, path)?;
        Ok(FileRec {
            path: path.into(),
            sha256,
            meta,
        })
    }
}

/// How a file got to the other place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// A rename on the same filesystem (the same inode).
    Rename,
    /// Another filesystem: copied (`cp -p`), the copy's SHA-256 checked, the original removed.
    Copy,
}

/// The folder part of `path` (`/` for a file at the top).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// The last part of `path`.
pub fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Refuses an action id that could not name a folder or a marker safely.
pub fn check_id(id: &str) -> Result<(), ActionError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ActionError::Refused(format!(
            "action id {id:?} is not letters, digits, '-', '_' and '.'"
        )))
    }
}

/// SHA-256 (lower-case hex) of `data`.
pub fn sha256_of(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn occupied(path: &str, why: &str) -> ActionError {
    ActionError::Refused(format!("{path} is occupied {why}: nothing overwritten"))
}

/// Moves `from` to the free name `to` (whose folder exists): a rename on the same
/// filesystem, else copy, check `sha256`, remove the original.
fn transfer(
    a: &mut dyn Actuator,
    from: &str,
    to: &str,
    sha256: &str,
    same_fs: bool,
) -> Result<How, ActionError> {
    if same_fs {
        ops::rename_noreplace(a, from, to)?;
        return Ok(How::Rename);
    }
    if ops::lstat(a, to)?.is_some() {
        return Err(occupied(to, "already"));
    }
    ops::run_ok(
        a,
        "copy",
        from,
        &["/bin/cp", "-p", "-n", "-T", "--", from, to],
        b"",
    )?;
    let copied = ops::sha256(a, to)?;
    if copied != sha256 {
        let _ = ops::run_ok(a, "remove", to, &["/bin/rm", "-f", "--", to], b"");
        return Err(ActionError::Failed(format!(
            "the copy of {from} at {to} has SHA-256 {copied}, not {sha256}: removed, original kept"
        )));
    }
    ops::run_ok(a, "remove", from, &["/bin/rm", "-f", "--", from], b"")?;
    Ok(How::Copy)
}

/// Moves the file `rec` records into quarantine at `to` (a free name in a root-only folder)
/// and makes it mode 000. Refused, nothing moved, when the file is no longer what `rec`
/// says.
pub fn move_out(a: &mut dyn Actuator, rec: &FileRec, to: &str) -> Result<How, ActionError> {
    let now = ops::expect_regular(a, &rec.path)?;
    let sha = ops::sha256(a, &rec.path)?;
    if sha != rec.sha256 {
        return Err(ActionError::Refused(format!(
            "{} changed since the plan (SHA-256 {sha}, planned {})",
            rec.path, rec.sha256
        )));
    }
    let dir = ops::lstat(a, parent(to))?.ok_or_else(|| OpError::Unexpected {
        path: parent(to).into(),
        message: "not there".into(),
    })?;
    let how = transfer(a, &rec.path, to, &rec.sha256, now.dev == dir.dev)?;
    ops::run_ok(a, "chmod", to, &["/bin/chmod", "000", "--", to], b"")?;
    Ok(how)
}

/// Refuses unless the quarantined file at `from` still has the hash `rec` recorded.
pub fn check_kept(a: &mut dyn Actuator, rec: &FileRec, from: &str) -> Result<(), ActionError> {
    let sha = match ops::lstat(a, from)? {
        Some(m) if m.kind == Kind::Regular => ops::sha256(a, from)?,
        _ => {
            return Err(ActionError::Refused(format!(
                "the quarantined copy of {} ({from}) is not there",
                rec.path
            )));
        }
    };
    if sha != rec.sha256 {
        return Err(ActionError::Refused(format!(
            "the quarantined copy of {} ({from}) changed: SHA-256 {sha}, recorded {}",
            rec.path, rec.sha256
        )));
    }
    Ok(())
}

/// Puts the quarantined file `from` back at `rec.path` with the recorded owner, mode and
/// times, and checks hash and metadata. Refused, nothing changed, when `rec.path` is
/// occupied or the quarantined copy changed.
pub fn move_back(a: &mut dyn Actuator, rec: &FileRec, from: &str) -> Result<How, ActionError> {
    if ops::lstat(a, &rec.path)?.is_some() {
        return Err(occupied(&rec.path, "since"));
    }
    check_kept(a, rec, from)?;
    let q = ops::expect_regular(a, from)?;
    let dir = match ops::lstat(a, parent(&rec.path))? {
        Some(m) if m.kind == Kind::Directory => m,
        _ => {
            return Err(ActionError::Refused(format!(
                "{} is no longer a folder",
                parent(&rec.path)
            )));
        }
    };
    let how = transfer(a, from, &rec.path, &rec.sha256, q.dev == dir.dev)?;
    set_meta(a, &rec.path, &rec.meta)?;
    verify_meta(a, &rec.path, &rec.meta)?;
    Ok(how)
}

fn stamp(t: (i64, u32)) -> String {
    format!("@{}.{:09}", t.0, t.1)
}

/// Sets owner, group, mode, access and modification time of `path` (not following a
/// symlink) to `m`'s.
pub fn set_meta(a: &mut dyn Actuator, path: &str, m: &Meta) -> Result<(), OpError> {
    let owner = format!("{}:{}", m.uid, m.gid);
    ops::run_ok(
        a,
        "chown",
        path,
        &["/bin/chown", "-h", &owner, "--", path],
        b"",
    )?;
    // After chown, which clears setuid/setgid bits.
    let mode = format!("{:o}", m.mode);
    ops::run_ok(a, "chmod", path, &["/bin/chmod", &mode, "--", path], b"")?;
    let at = stamp(m.atime);
    let mt = stamp(m.mtime);
    ops::run_ok(
        a,
        "touch",
        path,
        &["/bin/touch", "-h", "-a", "-d", &at, "--", path],
        b"",
    )?;
    ops::run_ok(
        a,
        "touch",
        path,
        &["/bin/touch", "-h", "-m", "-d", &mt, "--", path],
        b"",
    )?;
    Ok(())
}

/// Fails unless `path` has `want`'s type, owner, group, mode, size and times.
pub fn verify_meta(a: &mut dyn Actuator, path: &str, want: &Meta) -> Result<(), ActionError> {
    let got = ops::lstat(a, path)?
        .ok_or_else(|| ActionError::Failed(format!("{path}: not there after the restore")))?;
    let same = got.kind == want.kind
        && got.mode == want.mode
        && got.uid == want.uid
        && got.gid == want.gid
        && got.size == want.size
        && got.mtime == want.mtime
        && got.atime == want.atime;
    if same {
        Ok(())
    } else {
        Err(ActionError::Failed(format!(
            "{path} after the restore is {got:?}, recorded {want:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids() {
        assert_eq!(parent("/etc/crontab"), "/etc");
        assert_eq!(parent("/x"), "/");
        assert_eq!(base("/etc/cron.d/miner"), "miner");
        assert!(check_id("20261202T1500-3").is_ok());
        for bad in ["", "../x", "a/b", "a\nb", ".hidden"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
