//! `quarantine FILE`: move a file, on its own filesystem (a rename: the inode, its data and
//! its extended attributes stay as they are), into a root-only folder, mode 000, after
//! recording everything `restore` puts back and checks: path, owner and group (ids and
//! names), mode, access and modification times (ns), extended attributes of every namespace
//! (`security.capability`, `security.selinux`, ACLs...), the immutable and append-only
//! flags, and the SHA-256.
//!
//! The quarantine folder is `<state dir>/quarantine/<id>/` (`/var/lib/dossier/...`) when
//! that is on the file's filesystem, else `<mount point>/.dossier-quarantine/<id>/`; both
//! are 0700 and root's. The move is refused (never turned into a copy) when neither is on
//! the file's filesystem.
//!
//! Without `getfattr` on the target the extended attributes are not read: the record says
//! so (`xattrs: null`, `xattrs_note`) and the file is quarantined anyway, because a rename
//! keeps them on the inode; only their check after `restore` is then missing. Without
//! `lsattr`, or on a filesystem without those flags, the same holds for the flags, except
//! that a file that cannot be moved because it is immutable fails to move (nothing changed).

use crate::action::{Action, ActionError, Places};
use crate::actuator::Actuator;
use crate::ops::{self, Kind, Meta, OpError};
use crate::store::program;
use serde_json::Value;
use std::collections::BTreeMap;

const GETFATTR: &[&str] = &["/usr/bin/getfattr", "/bin/getfattr"];
const SETFATTR: &[&str] = &["/usr/bin/setfattr", "/bin/setfattr"];
const LSATTR: &[&str] = &["/usr/bin/lsattr", "/bin/lsattr", "/sbin/lsattr"];
const CHATTR: &[&str] = &["/usr/bin/chattr", "/bin/chattr", "/sbin/chattr"];

/// Moves one file into quarantine (see the module documentation).
#[derive(Debug, Clone)]
pub struct Quarantine {
    path: String,
    sha256: String,
    places: Places,
}

/// What is recorded of the file before it is moved (the record's `before`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileState {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    /// Permission bits with setuid/setgid/sticky, octal (`"4755"`).
    pub mode: String,
    /// Seconds and nanoseconds since the epoch.
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub dev: u64,
    pub ino: u64,
    pub mount_point: String,
    /// Every extended attribute, name to value (hex); `None` when they could not be read.
    pub xattrs: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xattrs_note: Option<String>,
    /// `lsattr`'s flags (`----i---------e-------`); `None` when they could not be read.
    pub flags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags_note: Option<String>,
}

impl FileState {
    fn has_flag(&self, f: char) -> bool {
        self.flags.as_deref().is_some_and(|s| s.contains(f))
    }
}

/// What the move left (the record's `after`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Moved {
    /// Where the file is now (mode 000).
    pub quarantined: String,
    /// The flags cleared before the move (`i`, `a`), put back by `restore`.
    pub flags_cleared: String,
}

fn failed(e: impl std::fmt::Display) -> ActionError {
    ActionError::Failed(e.to_string())
}

/// The last component of a path.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Undoes getfattr's octal escapes (`\075` for `=`, `\012` for a newline, `\134` for `\`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `getfattr -d -m - -e hex` output: `name=0xHEX` lines after `# file:`.
fn parse_xattrs(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# file:") {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("unexpected getfattr line: {line}"))?;
        let hex = value
            .strip_prefix("0x")
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| format!("unexpected getfattr value: {line}"))?;
        out.insert(unescape(name), hex.to_ascii_lowercase());
    }
    Ok(out)
}

/// Every extended attribute of `path` (not following a symlink), or why not.
fn read_xattrs(
    a: &mut dyn Actuator,
    path: &str,
) -> Result<Result<BTreeMap<String, String>, String>, OpError> {
    let Some(getfattr) = program(a, GETFATTR)? else {
        return Ok(Err(
            "not read (no getfattr on the host; install `attr`)".into()
        ));
    };
    let o = a.run(
        &[
            getfattr,
            "-d",
            "-m",
            "-",
            "-h",
            "-e",
            "hex",
            "--absolute-names",
            "--",
            path,
        ],
        b"",
        ops::OP_TIMEOUT,
    )?;
    if !o.success() {
        return Ok(Err(format!("not read: getfattr {}", o.reason())));
    }
    Ok(parse_xattrs(&String::from_utf8_lossy(&o.stdout)))
}

/// `lsattr -d` flags of `path`, or why not.
fn read_flags(a: &mut dyn Actuator, path: &str) -> Result<Result<String, String>, OpError> {
    let Some(lsattr) = program(a, LSATTR)? else {
        return Ok(Err(
            "not read (no lsattr on the host; install `e2fsprogs`)".into()
        ));
    };
    let o = a.run(&[lsattr, "-d", "--", path], b"", ops::OP_TIMEOUT)?;
    if !o.success() {
        return Ok(Err(format!("not read (lsattr {})", o.reason())));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let flags = text.split_whitespace().next().unwrap_or("");
    if flags.is_empty() || !flags.bytes().all(|c| c == b'-' || c.is_ascii_alphabetic()) {
        return Ok(Err(format!(
            "not read (unexpected lsattr output: {})",
            text.trim()
        )));
    }
    Ok(Ok(flags.to_string()))
}

/// Owner name, group name and mount point of `path`.
fn names_and_mount(a: &mut dyn Actuator, path: &str) -> Result<(String, String, String), OpError> {
    let o = ops::run_ok(
        a,
        "stat",
        path,
        &["/usr/bin/stat", "--printf=%U\\n%G\\n%m\\n", "--", path],
        b"",
    )?;
    let text = String::from_utf8_lossy(&o.stdout);
    let mut l = text.lines();
    match (l.next(), l.next(), l.next()) {
        (Some(u), Some(g), Some(m)) if m.starts_with('/') => Ok((u.into(), g.into(), m.into())),
        _ => Err(OpError::Unexpected {
            path: path.into(),
            message: format!("unexpected stat output: {}", text.trim()),
        }),
    }
}

/// Whether the directory `dir` is on the filesystem of the file `b` describes, so that a
/// move between them is a rename, never a copy: the same device; or, on an overlayfs (whose
/// regular files report the device of their layer, not the overlay's), the same overlay mount.
fn same_filesystem(a: &mut dyn Actuator, dir: &str, b: &FileState) -> Result<bool, OpError> {
    match ops::lstat(a, dir)? {
        Some(m) if m.kind == Kind::Directory && m.dev == b.dev => Ok(true),
        Some(m) if m.kind == Kind::Directory => {
            let (_, _, mount) = names_and_mount(a, dir)?;
            Ok(mount == b.mount_point && fs_type(a, dir)? == "overlayfs")
        }
        _ => Ok(false),
    }
}

/// The type of the filesystem `path` is on, as `stat -f` names it (`overlayfs`, `ext2/ext3`).
fn fs_type(a: &mut dyn Actuator, path: &str) -> Result<String, OpError> {
    let o = ops::run_ok(
        a,
        "stat",
        path,
        &["/usr/bin/stat", "-f", "--printf=%T", "--", path],
        b"",
    )?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

impl Quarantine {
    /// The step `quarantine path` whose file must have `sha256`, on a host whose dossier
    /// state folder is `places`.
    pub fn new(path: String, sha256: String, places: Places) -> Quarantine {
        Quarantine {
            path,
            sha256,
            places,
        }
    }

    /// The state of the file now (refused unless it is the planned regular file).
    pub fn state(&self, a: &mut dyn Actuator) -> Result<FileState, ActionError> {
        let p = &self.path;
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(ActionError::Refused(format!("{p}: not an absolute path")));
        }
        let m = match ops::lstat(a, p)? {
            Some(m) if m.kind == Kind::Regular => m,
            Some(m) => {
                return Err(ActionError::Refused(format!(
                    "{p}: not a regular file ({:?}) now",
                    m.kind
                )));
            }
            None => return Err(ActionError::Refused(format!("{p}: not there now"))),
        };
        let sha256 = ops::sha256(a, p)?;
        if sha256 != self.sha256.to_ascii_lowercase() {
            return Err(ActionError::Refused(format!(
                "{p} changed since the plan: its SHA-256 is {sha256}, the plan's {}",
                self.sha256
            )));
        }
        let (owner, group, mount_point) = names_and_mount(a, p)?;
        let (xattrs, xattrs_note) = match read_xattrs(a, p)? {
            Ok(x) => (Some(x), None),
            Err(why) => (None, Some(why)),
        };
        let (flags, flags_note) = match read_flags(a, p)? {
            Ok(f) => (Some(f), None),
            Err(why) => (None, Some(why)),
        };
        Ok(FileState {
            path: p.clone(),
            sha256,
            size: m.size,
            uid: m.uid,
            gid: m.gid,
            owner,
            group,
            mode: format!("{:o}", m.mode),
            atime: m.atime,
            mtime: m.mtime,
            dev: m.dev,
            ino: m.ino,
            mount_point,
            xattrs,
            xattrs_note,
            flags,
            flags_note,
        })
    }

    /// The quarantine folder for action `id` on the file's filesystem (created, 0700).
    fn folder(&self, a: &mut dyn Actuator, id: &str, b: &FileState) -> Result<String, ActionError> {
        let base = self.base(a, b)?;
        ops::mkdir_private(a, &base)?;
        let dir = format!("{base}/{id}");
        ops::mkdir_private(a, &dir)?;
        if same_filesystem(a, &dir, b)? {
            return Ok(dir);
        }
        Err(ActionError::Refused(format!(
            "{dir} is not on the filesystem of {} (the move would be a copy)",
            b.path
        )))
    }

    /// `<state dir>/quarantine` when it is on the file's filesystem, else
    /// `<mount point>/.dossier-quarantine`.
    fn base(&self, a: &mut dyn Actuator, b: &FileState) -> Result<String, OpError> {
        // The action records are there already (the engine writes them first).
        ops::mkdir_private(a, &self.places.state_dir)?;
        if same_filesystem(a, &self.places.state_dir, b)? {
            return Ok(self.places.quarantine());
        }
        Ok(format!(
            "{}/.dossier-quarantine",
            b.mount_point.trim_end_matches('/')
        ))
    }

    /// Where apply would have put the file for `id` (for an interrupted record without its
    /// state after).
    fn guess(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        b: &FileState,
    ) -> Result<Option<String>, OpError> {
        let name = base_name(&b.path);
        for base in [
            self.places.quarantine(),
            format!(
                "{}/.dossier-quarantine",
                b.mount_point.trim_end_matches('/')
            ),
        ] {
            let p = format!("{base}/{id}/{name}");
            if ops::lstat(a, &p)?.is_some() {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    fn chattr(a: &mut dyn Actuator, op: &str, path: &str) -> Result<(), ActionError> {
        let chattr = program(a, CHATTR)?
            .ok_or_else(|| failed(format!("{path}: no chattr on the host to set {op}")))?;
        ops::run_ok(a, "chattr", path, &[chattr, op, "--", path], b"")?;
        Ok(())
    }
}

fn parse_before(v: &Value) -> Result<FileState, ActionError> {
    serde_json::from_value(v.clone()).map_err(|e| {
        failed(format!(
            "the record's state before is not a quarantine's: {e}"
        ))
    })
}

/// `@SECS.NANOS` for `touch -d`.
fn touch_time((s, ns): (i64, u32)) -> String {
    format!("@{s}.{ns:09}")
}

impl Quarantine {
    /// Puts owner, group, mode and extended attributes of `b` back on the file at `b.path`
    /// (in this order: `chown` drops capabilities and setuid bits, `chmod` and `setfattr`
    /// put them back).
    fn put_back(&self, a: &mut dyn Actuator, b: &FileState) -> Result<(), ActionError> {
        let p = b.path.as_str();
        let now = ops::expect_regular(a, p)?;
        if (now.uid, now.gid) != (b.uid, b.gid) {
            let owner = format!("{}:{}", b.uid, b.gid);
            ops::run_ok(a, "chown", p, &["/bin/chown", "-h", &owner, "--", p], b"")?;
        }
        ops::run_ok(a, "chmod", p, &["/bin/chmod", &b.mode, "--", p], b"")?;
        if let Some(want) = &b.xattrs {
            let setfattr = program(a, SETFATTR)?
                .ok_or_else(|| failed("no setfattr on the host to put extended attributes back"))?;
            let have = read_xattrs(a, p)?.map_err(failed)?;
            for name in have.keys().filter(|n| !want.contains_key(*n)) {
                ops::run_ok(
                    a,
                    "setfattr",
                    p,
                    &[setfattr, "-h", "-x", name, "--", p],
                    b"",
                )?;
            }
            for (name, hex) in want.iter().filter(|(n, v)| have.get(*n) != Some(*v)) {
                let value = format!("0x{hex}");
                ops::run_ok(
                    a,
                    "setfattr",
                    p,
                    &[setfattr, "-h", "-n", name, "-v", &value, "--", p],
                    b"",
                )?;
            }
        }
        Ok(())
    }

    /// Puts the access and modification times, then the flags, of `b` back: after the
    /// content was read for its hash (which may update the access time), and last (nothing
    /// changes a file once it is immutable again).
    fn put_back_times_and_flags(
        &self,
        a: &mut dyn Actuator,
        b: &FileState,
    ) -> Result<(), ActionError> {
        let p = b.path.as_str();
        for (flag, t) in [("-a", b.atime), ("-m", b.mtime)] {
            let d = touch_time(t);
            ops::run_ok(
                a,
                "touch",
                p,
                &["/usr/bin/touch", "-h", flag, "-d", &d, "--", p],
                b"",
            )?;
        }
        for f in ['a', 'i'] {
            if b.has_flag(f) {
                Self::chattr(a, &format!("+{f}"), p)?;
            }
        }
        Ok(())
    }

    /// Compares the file at `b.path` with `b`: its hash `sha` (read before), and now its
    /// owner, mode, times, xattrs and flags (none of which reads the content).
    fn verify(&self, a: &mut dyn Actuator, b: &FileState, sha: &str) -> Result<(), ActionError> {
        let p = b.path.as_str();
        let now: Meta = ops::expect_regular(a, p)?;
        let mut diff = Vec::new();
        if sha != b.sha256 {
            diff.push(format!("SHA-256 {sha}, was {}", b.sha256));
        }
        if (now.uid, now.gid) != (b.uid, b.gid) {
            diff.push(format!(
                "owner {}:{}, was {}:{}",
                now.uid, now.gid, b.uid, b.gid
            ));
        }
        if format!("{:o}", now.mode) != b.mode {
            diff.push(format!("mode {:o}, was {}", now.mode, b.mode));
        }
        if now.atime != b.atime || now.mtime != b.mtime {
            diff.push(format!(
                "times {:?}/{:?}, were {:?}/{:?}",
                now.atime, now.mtime, b.atime, b.mtime
            ));
        }
        if let Some(want) = &b.xattrs {
            match read_xattrs(a, p)? {
                Ok(have) if have == *want => {}
                Ok(have) => diff.push(format!("extended attributes {have:?}, were {want:?}")),
                Err(why) => diff.push(format!("extended attributes {why}")),
            }
        }
        if let Some(want) = &b.flags {
            match read_flags(a, p)? {
                Ok(have) if have == *want => {}
                Ok(have) => diff.push(format!("flags {have}, were {want}")),
                Err(why) => diff.push(format!("flags {why}")),
            }
        }
        if diff.is_empty() {
            return Ok(());
        }
        Err(failed(format!(
            "{p} was moved back, but differs from the record: {}",
            diff.join("; ")
        )))
    }
}

impl Action for Quarantine {
    fn describe(&self) -> String {
        format!(
            "quarantine {} (sha256 {}): move it into a root-only folder on its filesystem, mode 000",
            self.path, self.sha256
        )
    }

    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        let s = self.state(a)?;
        serde_json::to_value(s).map_err(failed)
    }

    fn apply(&self, a: &mut dyn Actuator, id: &str, before: &Value) -> Result<Value, ActionError> {
        let b = parse_before(before)?;
        let dir = self.folder(a, id, &b)?;
        let dest = format!("{dir}/{}", base_name(&b.path));
        let mut cleared = String::new();
        for f in ['i', 'a'] {
            if b.has_flag(f) {
                Self::chattr(a, &format!("-{f}"), &b.path)?;
                cleared.push(f);
            }
        }
        // A failure leaves the file where and as it was (flags set again).
        let undo_flags = |a: &mut dyn Actuator| {
            for f in cleared.chars() {
                let _ = Self::chattr(a, &format!("+{f}"), &b.path);
            }
        };
        if let Err(e) = ops::rename_noreplace(a, &b.path, &dest) {
            undo_flags(a);
            let _ = a.run(&["/bin/rmdir", "--", &dir], b"", ops::OP_TIMEOUT);
            return Err(e.into());
        }
        if let Err(e) = ops::run_ok(a, "chmod", &dest, &["/bin/chmod", "000", "--", &dest], b"") {
            let back = ops::rename_noreplace(a, &dest, &b.path);
            undo_flags(a);
            return Err(failed(format!(
                "{e}; moving it back: {}",
                back.map_or_else(|e| e.to_string(), |()| "done".into())
            )));
        }
        serde_json::to_value(Moved {
            quarantined: dest,
            flags_cleared: cleared,
        })
        .map_err(failed)
    }

    fn undo(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        let b = parse_before(before)?;
        let moved: Option<Moved> = serde_json::from_value(after.clone()).ok();
        let dest = match &moved {
            Some(m) => Some(m.quarantined.clone()),
            None => self.guess(a, id, &b)?,
        };
        let dest = match dest {
            Some(d) if ops::lstat(a, &d)?.is_some() => Some(d),
            _ => None,
        };
        let original = ops::lstat(a, &b.path)?;
        match (&dest, original) {
            // Never moved (a run interrupted before the move) or moved back already (a
            // restore interrupted after it): finish putting it back if it is the file.
            (None, Some(m))
                if m.kind == Kind::Regular
                    && (m.dev, m.ino) == (b.dev, b.ino)
                    && ops::sha256(a, &b.path)? == b.sha256 =>
            {
                self.put_back(a, &b)?;
                self.put_back_times_and_flags(a, &b)?;
                return self.verify(a, &b, &b.sha256);
            }
            (_, Some(m)) => {
                return Err(ActionError::Refused(format!(
                    "{} is occupied now (a {:?} of {} bytes, owner {}, not the recorded file): nothing overwritten{}",
                    b.path,
                    m.kind,
                    m.size,
                    m.uid,
                    dest.as_deref()
                        .map(|d| format!("; the quarantined file stays at {d}"))
                        .unwrap_or_default()
                )));
            }
            (None, None) => {
                return Err(failed(format!(
                    "{} is not there, and no quarantined file of action {id} was found",
                    b.path
                )));
            }
            (Some(_), None) => {}
        }
        let dest = dest.unwrap_or_default();
        let q = ops::sha256(a, &dest)?;
        if q != b.sha256 {
            return Err(ActionError::Refused(format!(
                "the quarantined {dest} changed (SHA-256 {q}, recorded {}): not put back",
                b.sha256
            )));
        }
        ops::rename_noreplace(a, &dest, &b.path)?;
        self.put_back(a, &b)?;
        let sha = ops::sha256(a, &b.path)?;
        self.put_back_times_and_flags(a, &b)?;
        if let Some((dir, _)) = dest.rsplit_once('/') {
            let _ = a.run(&["/bin/rmdir", "--", dir], b"", ops::OP_TIMEOUT);
        }
        self.verify(a, &b, &sha)
    }
}
