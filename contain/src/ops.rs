//! File and process facts and changes built on [`Actuator::run`], the same for a local and
//! a remote target: `lstat` of a path, its SHA-256, reading it, writing a new file without
//! following or replacing anything, and moving a file without replacing one. Every path is
//! one argument after `--`; none is ever put into a shell string.

use crate::actuator::{ActError, Actuator, Output};
use std::time::Duration;

/// Time limit for one file operation.
pub const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of an operation: it could not run, or it ran and failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Act(#[from] ActError),
    #[error("{what} {path}: {reason}")]
    Failed {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{path}: {message}")]
    Unexpected { path: String, message: String },
}

/// Runs `argv` and fails unless it exits 0.
pub fn run_ok(
    a: &mut dyn Actuator,
    what: &'static str,
    path: &str,
    argv: &[&str],
    stdin: &[u8],
) -> Result<Output, OpError> {
    let o = a.run(argv, stdin, OP_TIMEOUT)?;
    if !o.success() {
        return Err(OpError::Failed {
            what,
            path: path.into(),
            reason: o.reason(),
        });
    }
    Ok(o)
}

/// The type of a file, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Regular,
    Directory,
    Symlink,
    Other,
}

/// `lstat` of a path (symlinks are not followed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits with setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Access and modification times, seconds and nanoseconds since the epoch.
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub dev: u64,
    pub ino: u64,
}

/// `stat -c` format: raw mode (hex), uid, gid, size, atime, mtime (with nanoseconds), device
/// number (hex), inode.
const STAT_FORMAT: &str = "%f %u %g %s %.9X %.9Y %D %i";

fn parse_time(s: &str) -> Option<(i64, u32)> {
    let (secs, nanos) = s.split_once('.').unwrap_or((s, "0"));
    let mut n = nanos.to_string();
    n.truncate(9);
    while n.len() < 9 {
        n.push('0');
    }
    Some((secs.parse().ok()?, n.parse().ok()?))
}

fn parse_meta(line: &str) -> Option<Meta> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 8 {
        return None;
    }
    let raw = u32::from_str_radix(f[0], 16).ok()?;
    let kind = match raw & 0o170000 {
        0o100000 => Kind::Regular,
        0o040000 => Kind::Directory,
        0o120000 => Kind::Symlink,
        _ => Kind::Other,
    };
    Some(Meta {
        kind,
        mode: raw & 0o7777,
        uid: f[1].parse().ok()?,
        gid: f[2].parse().ok()?,
        size: f[3].parse().ok()?,
        atime: parse_time(f[4])?,
        mtime: parse_time(f[5])?,
        dev: u64::from_str_radix(f[6], 16).ok()?,
        ino: f[7].parse().ok()?,
    })
}

/// `lstat` of `path`; `None` when nothing is there.
pub fn lstat(a: &mut dyn Actuator, path: &str) -> Result<Option<Meta>, OpError> {
    let o = a.run(
        &["/usr/bin/stat", "-c", STAT_FORMAT, "--", path],
        b"",
        OP_TIMEOUT,
    )?;
    if !o.success() {
        if String::from_utf8_lossy(&o.stderr).contains("No such file or directory") {
            return Ok(None);
        }
        return Err(OpError::Failed {
            what: "stat",
            path: path.into(),
            reason: o.reason(),
        });
    }
    let text = String::from_utf8_lossy(&o.stdout);
    parse_meta(text.trim())
        .map(Some)
        .ok_or_else(|| OpError::Unexpected {
            path: path.into(),
            message: format!("unexpected stat output: {}", text.trim()),
        })
}

/// SHA-256 (lower-case hex) of the regular file at `path` (refused when it is not one).
pub fn sha256(a: &mut dyn Actuator, path: &str) -> Result<String, OpError> {
    expect_regular(a, path)?;
    let o = run_ok(
        a,
        "hash",
        path,
        &["/usr/bin/sha256sum", "-b", "--", path],
        b"",
    )?;
    let text = String::from_utf8_lossy(&o.stdout);
    let hex = text.split_whitespace().next().unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(OpError::Unexpected {
            path: path.into(),
            message: format!("unexpected sha256sum output: {}", text.trim()),
        });
    }
    Ok(hex.to_ascii_lowercase())
}

/// Fails unless `path` is a regular file (not a symlink, device or FIFO).
pub fn expect_regular(a: &mut dyn Actuator, path: &str) -> Result<Meta, OpError> {
    match lstat(a, path)? {
        Some(m) if m.kind == Kind::Regular => Ok(m),
        Some(m) => Err(OpError::Unexpected {
            path: path.into(),
            message: format!("not a regular file ({:?})", m.kind),
        }),
        None => Err(OpError::Unexpected {
            path: path.into(),
            message: "not there".into(),
        }),
    }
}

/// The contents of the regular file at `path`, at most `max` bytes (a longer file fails).
pub fn read(a: &mut dyn Actuator, path: &str, max: u64) -> Result<Vec<u8>, OpError> {
    let m = expect_regular(a, path)?;
    if m.size > max {
        return Err(OpError::Unexpected {
            path: path.into(),
            message: format!("{} bytes, more than the {max} read", m.size),
        });
    }
    let limit = (max + 1).to_string();
    let o = run_ok(
        a,
        "read",
        path,
        &["/usr/bin/head", "-c", &limit, "--", path],
        b"",
    )?;
    if o.stdout.len() as u64 > max {
        return Err(OpError::Unexpected {
            path: path.into(),
            message: "grew while it was read".into(),
        });
    }
    Ok(o.stdout)
}

/// Writes `data` to a NEW file at `path` with `mode` (created exclusively: an existing
/// file, symlink, FIFO or device there fails and is not opened for writing). Only for
/// folders no one but root can write (dossier's own, made with [`mkdir_private`]).
pub fn write_new(a: &mut dyn Actuator, path: &str, data: &[u8], mode: u32) -> Result<(), OpError> {
    if lstat(a, path)?.is_some() {
        return Err(OpError::Unexpected {
            path: path.into(),
            message: "already exists".into(),
        });
    }
    // A fixed script; the path is its positional argument `$1` (never part of the script).
    let script = "set -C; umask 077; exec cat > \"$1\"";
    run_ok(
        a,
        "write",
        path,
        &["/bin/sh", "-c", script, "sh", path],
        data,
    )?;
    let m = format!("{mode:o}");
    run_ok(a, "chmod", path, &["/bin/chmod", &m, "--", path], b"")?;
    Ok(())
}

/// Makes `path` (and missing parents) a folder only root can enter (0700).
pub fn mkdir_private(a: &mut dyn Actuator, path: &str) -> Result<(), OpError> {
    run_ok(
        a,
        "mkdir",
        path,
        &["/bin/mkdir", "-p", "-m", "0700", "--", path],
        b"",
    )?;
    let m = lstat(a, path)?;
    match m {
        Some(m) if m.kind == Kind::Directory && m.uid == 0 && m.mode & 0o077 == 0 => Ok(()),
        Some(m) if m.kind == Kind::Directory => {
            run_ok(a, "chmod", path, &["/bin/chmod", "0700", "--", path], b"")?;
            if m.uid != 0 {
                return Err(OpError::Unexpected {
                    path: path.into(),
                    message: format!("owned by uid {}, not root", m.uid),
                });
            }
            Ok(())
        }
        _ => Err(OpError::Unexpected {
            path: path.into(),
            message: "not a folder".into(),
        }),
    }
}

/// Moves `from` to `to` without replacing anything at `to` (`mv -n -T`, then checked: a
/// name taken meanwhile fails instead of being overwritten).
pub fn rename_noreplace(a: &mut dyn Actuator, from: &str, to: &str) -> Result<(), OpError> {
    if lstat(a, to)?.is_some() {
        return Err(OpError::Unexpected {
            path: to.into(),
            message: "occupied: not overwritten".into(),
        });
    }
    run_ok(
        a,
        "move",
        from,
        &["/bin/mv", "-n", "-T", "--", from, to],
        b"",
    )?;
    if lstat(a, from)?.is_some() {
        return Err(OpError::Unexpected {
            path: from.into(),
            message: format!("not moved to {to} (the name was taken)"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::LocalActuator;

    #[test]
    fn stat_hash_read_write_and_move_without_replacing() {
        let d = tempfile::tempdir().unwrap();
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let dir = d.path().join("q");
        let dir = dir.to_str().unwrap();
        mkdir_private(a, dir).unwrap();
        let m = lstat(a, dir).unwrap().unwrap();
        assert_eq!((m.kind, m.mode), (Kind::Directory, 0o700));
        let f = format!("{dir}/new");
        write_new(a, &f, b"abc", 0o640).unwrap();
        assert!(write_new(a, &f, b"x", 0o600).is_err(), "replaced a file");
        let m = lstat(a, &f).unwrap().unwrap();
        assert_eq!((m.kind, m.mode, m.size), (Kind::Regular, 0o640, 3));
        assert_eq!(read(a, &f, 3).unwrap(), b"abc");
        assert!(read(a, &f, 2).is_err());
        assert_eq!(
            sha256(a, &f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let link = format!("{dir}/link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(lstat(a, &link).unwrap().unwrap().kind, Kind::Symlink);
        assert!(sha256(a, &link).is_err(), "followed a symlink");
        assert!(
            write_new(a, &link, b"x", 0o600).is_err(),
            "wrote through a symlink"
        );
        assert_eq!(std::fs::read(&f).unwrap(), b"abc");
        let g = format!("{dir}/moved");
        rename_noreplace(a, &f, &g).unwrap();
        assert!(lstat(a, &f).unwrap().is_none());
        write_new(a, &f, b"other", 0o600).unwrap();
        assert!(rename_noreplace(a, &f, &g).is_err(), "replaced {g}");
        assert_eq!(std::fs::read(&g).unwrap(), b"abc");
        assert!(lstat(a, &format!("{dir}/none")).unwrap().is_none());
    }

    #[test]
    fn parses_stat_lines() {
        let m = parse_meta("81a4 0 0 12 1700000000.123456789 1700000001.5 801 42").unwrap();
        assert_eq!(m.kind, Kind::Regular);
        assert_eq!(m.mode, 0o644);
        assert_eq!(m.mtime, (1_700_000_001, 500_000_000));
        assert_eq!(m.dev, 0x801);
        assert!(parse_meta("garbage").is_none());
    }
}
