//! Answers to `lstat` (and to `stat` of what is not a symlink) taken from the directory
//! listings the host has just made, so that a collector that lists a directory and then
//! looks at each entry costs no round trip per entry.
//!
//! Why the answer is the same: OpenSSH's `sftp-server` (the `sftp` subsystem, `internal-sftp`,
//! and the `sftp-server` dossier starts under `--sudo`) answers each READDIR with, for each
//! name, the attributes of `lstat("<the path given to OPENDIR>/<name>")`
//! (`process_readdir`: an entry whose `lstat` fails is left out), turned into SFTP attributes
//! by the same `stat_to_attrib` that answers an LSTAT request: size, uid and gid, permissions,
//! atime and mtime. So the listing's attributes of `<dir>/<name>` are what an LSTAT of that
//! path, by the same server process and so with the same rights, answered at the moment of
//! the listing; here they answer an `lstat` of the same path a moment later, as if it had been
//! asked then. A `stat` differs from an `lstat` only when the last component is a symlink, so
//! a listed entry that is not one answers `stat` too.
//!
//! Only single listings (`read_dir`) are kept: a batch (`read_dirs`) is a walk's, which looks
//! at few of its entries again.
//!
//! What is kept and when it is used, conservatively:
//! - only listings from a server that says it is OpenSSH (its SSH banner), and only entries
//!   whose attributes have all four groups (size, owner, permissions, times), as OpenSSH's do;
//! - only the last [`LISTINGS`] listings, of at most [`ENTRIES`] entries in all (older ones
//!   are dropped first), so that an answer is never older than the listings that follow it and
//!   the memory per host stays small;
//! - only a path spelt as the listed directory (component by component, so `//` and `/./`
//!   are the same, as for the kernel), a `/`, then the entry's name: never a path ending in
//!   `/`, `.` or `..`, whose final component the kernel would resolve differently.
//!
//! Opening a file never uses these answers: the STAT that decides whether a file may be
//! opened (a FIFO must not be) is always asked of the server right before the OPEN.

use crate::sftp_client::Attrs;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Listings kept, at most.
pub(super) const LISTINGS: usize = 256;
/// Entries kept over all listings, at most (a larger listing is not kept).
pub(super) const ENTRIES: usize = 4096;

/// Names of one directory with their attributes, sorted by name.
type Names = Vec<(Vec<u8>, Attrs)>;

/// The last listings of one host, newest last.
#[derive(Debug, Default)]
pub(super) struct Listed {
    /// Directory as listed, and its entries' names with their attributes, sorted by name.
    listings: VecDeque<(PathBuf, Names)>,
    entries: usize,
    /// Whether answers may be taken from listings (the server is OpenSSH's).
    enabled: bool,
}

impl Listed {
    /// Kept listings answer `lstat` only when `enabled` (the server is OpenSSH's).
    pub(super) fn new(enabled: bool) -> Self {
        Listed {
            enabled,
            ..Listed::default()
        }
    }

    /// Keeps the listing of `dir` (names with the attributes the server sent).
    pub(super) fn note(&mut self, dir: &Path, names: &[(Vec<u8>, Attrs)]) {
        if !self.enabled {
            return;
        }
        // A newer listing of the same directory replaces the older (also when it is not kept).
        if let Some(i) = self.listings.iter().position(|(d, _)| d == dir) {
            if let Some((_, old)) = self.listings.remove(i) {
                self.entries -= old.len();
            }
        }
        if names.len() > ENTRIES {
            return;
        }
        let mut kept: Names = names
            .iter()
            .filter(|(n, a)| usable(n) && complete(a))
            .cloned()
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        while self.listings.len() >= LISTINGS || self.entries + kept.len() > ENTRIES {
            match self.listings.pop_front() {
                Some((_, old)) => self.entries -= old.len(),
                None => break,
            }
        }
        self.entries += kept.len();
        self.listings.push_back((dir.to_path_buf(), kept));
    }

    /// The listed attributes of `path`'s last component, when a kept listing has it; for
    /// `follow` (a `stat`), only when it is not a symlink.
    pub(super) fn lookup(&self, path: &Path, follow: bool) -> Option<&Attrs> {
        if !self.enabled {
            return None;
        }
        let bytes = path.as_os_str().as_bytes();
        let slash = bytes.iter().rposition(|b| *b == b'/')?;
        let name = &bytes[slash + 1..];
        if !usable(name) {
            return None;
        }
        let dir = match &bytes[..slash] {
            b"" => Path::new("/"),
            d => Path::new(OsStr::from_bytes(d)),
        };
        if !dir.is_absolute() {
            return None;
        }
        let (_, names) = self.listings.iter().rev().find(|(d, _)| d == dir)?;
        let i = names
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()?;
        let a = &names[i].1;
        if follow && a.perm.unwrap_or(0) & 0o170000 == 0o120000 {
            return None;
        }
        Some(a)
    }
}

/// A name that is one final component: not empty, no `/`, not `.` or `..`.
fn usable(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/')
}

/// Attributes with every group an LSTAT of OpenSSH's server answers with.
fn complete(a: &Attrs) -> bool {
    a.size.is_some()
        && a.uid.is_some()
        && a.gid.is_some()
        && a.perm.is_some()
        && a.atime.is_some()
        && a.mtime.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(perm: u32, size: u64) -> Attrs {
        Attrs {
            size: Some(size),
            uid: Some(0),
            gid: Some(0),
            perm: Some(perm),
            atime: Some(1),
            mtime: Some(2),
        }
    }

    fn listing() -> Vec<(Vec<u8>, Attrs)> {
        vec![
            (b"b".to_vec(), attrs(0o100644, 2)),
            (b"a".to_vec(), attrs(0o100755, 1)),
            (b"link".to_vec(), attrs(0o120777, 9)),
            (b".".to_vec(), attrs(0o040755, 0)),
            (
                b"partial".to_vec(),
                Attrs {
                    perm: Some(0o100644),
                    ..Attrs::default()
                },
            ),
        ]
    }

    #[test]
    fn a_listed_entry_answers_lstat_and_stat_unless_a_symlink() {
        let mut l = Listed::new(true);
        l.note(Path::new("/etc/x"), &listing());
        assert_eq!(
            l.lookup(Path::new("/etc/x/a"), false).unwrap().size,
            Some(1)
        );
        assert_eq!(l.lookup(Path::new("/etc/x/b"), true).unwrap().size, Some(2));
        assert!(l.lookup(Path::new("/etc/x/link"), false).is_some());
        assert!(l.lookup(Path::new("/etc/x/link"), true).is_none());
        // Spelt the same way component by component.
        assert!(l.lookup(Path::new("/etc//x/a"), false).is_some());
        assert!(l.lookup(Path::new("/etc/./x/a"), false).is_some());
        // Not listed, incomplete, or a final component the kernel resolves otherwise.
        for p in [
            "/etc/x/c",
            "/etc/x/partial",
            "/etc/x/a/",
            "/etc/x/.",
            "/etc/x/..",
            "/etc/x",
            "/etc/y/a",
            "/etc/x/a/.",
            "etc/x/a",
        ] {
            assert!(l.lookup(Path::new(p), false).is_none(), "{p}");
        }
        // The root's entries.
        l.note(Path::new("/"), &listing());
        assert!(l.lookup(Path::new("/a"), false).is_some());
    }

    #[test]
    fn nothing_is_answered_for_another_server_and_old_listings_are_dropped() {
        let mut off = Listed::new(false);
        off.note(Path::new("/d"), &listing());
        assert!(off.lookup(Path::new("/d/a"), false).is_none());

        let mut l = Listed::new(true);
        for i in 0..=LISTINGS {
            l.note(Path::new(&format!("/d{i}")), &listing());
        }
        assert!(l.lookup(Path::new("/d0/a"), false).is_none());
        assert!(l.lookup(Path::new("/d1/a"), false).is_some());
        assert!(l.listings.len() <= LISTINGS);

        // Entries are bounded too; a listing larger than the bound is not kept.
        let big: Vec<(Vec<u8>, Attrs)> = (0..ENTRIES / 2 + 1)
            .map(|i| (format!("f{i}").into_bytes(), attrs(0o100644, 0)))
            .collect();
        l.note(Path::new("/big1"), &big);
        l.note(Path::new("/big2"), &big);
        assert!(l.entries <= ENTRIES);
        assert!(l.lookup(Path::new("/big1/f0"), false).is_none());
        assert!(l.lookup(Path::new("/big2/f0"), false).is_some());
        let huge: Vec<(Vec<u8>, Attrs)> = (0..ENTRIES + 1)
            .map(|i| (format!("f{i}").into_bytes(), attrs(0o100644, 0)))
            .collect();
        l.note(Path::new("/huge"), &huge);
        assert!(l.lookup(Path::new("/huge/f0"), false).is_none());
        l.note(Path::new("/big2"), &huge);
        assert!(l.lookup(Path::new("/big2/f0"), false).is_none());

        // A newer listing of a directory replaces the older one.
        l.note(Path::new("/big1"), &big);
        l.note(Path::new("/big1"), &listing());
        assert!(l.lookup(Path::new("/big1/f0"), false).is_none());
        assert!(l.lookup(Path::new("/big1/a"), false).is_some());
    }
}
