//! The case custody ledger: `custody.jsonl` in an output directory.
//!
//! Append-only JSON lines, one per event (a bundle created, verified or analyzed). Each entry
//! carries its sequence number and the SHA-256 of the previous line's exact bytes, so an edit,
//! a deletion or a reordering breaks the chain at a point [`check`] names. Appends take an
//! exclusive `flock` so concurrent dossier processes (parallel sweeps into one case
//! directory) never interleave lines.
//!
//! [`check_ledger`] and [`Beside`] check a bundle against the ledger in its directory (the
//! chain is intact, it has the bundle's `created` entry, and that entry records the SHA-256
//! the bundle has now); `verify` and `analyze` both use them.

use crate::fsio::{append_private, open_regular};
use crate::reader::{Problem, Verification};
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::encoding::hex;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the ledger inside an output directory.
pub const LEDGER_NAME: &str = "custody.jsonl";
/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Largest ledger [`check`] reads.
const MAX_LEDGER: u64 = 256 << 20;

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub time: Timestamp,
    /// `created`, `verified`, `verify_failed`, `analyzed`.
    pub action: String,
    /// Bundle file name (relative to the ledger's directory).
    pub bundle: String,
    /// SHA-256 of the bundle file at the time of the event (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Short outcome or reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Who did it: `user@machine`.
    pub operator: String,
    /// dossier version that wrote the entry.
    pub tool: String,
    /// SHA-256 of the previous line (without its newline), or [`GENESIS`].
    pub prev: String,
}

/// Ledger errors.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("custody ledger {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("custody ledger {path}, line {line}: {message}")]
    Broken {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// What to append.
pub struct Event<'a> {
    pub action: &'a str,
    pub bundle: &'a str,
    pub sha256: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// Who is acting, as recorded in entries (looked up once per process).
pub fn operator() -> String {
    static OPERATOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OPERATOR
        .get_or_init(|| {
            let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| format!("uid{}", nix::unistd::geteuid()));
            let host = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "unknown".into());
            format!("{user}@{host}")
        })
        .clone()
}

/// Appends one event to `<dir>/custody.jsonl`, chaining it to the last entry, and syncs it
/// to disk before returning.
pub fn append(dir: &Path, event: &Event<'_>) -> Result<Entry, LedgerError> {
    append_with(dir, event, true)
}

/// [`append`] without the sync: for a run that appends one entry per bundle and calls
/// [`sync`] once per ledger before it reports success (`analyze`). Each append still takes
/// the lock and chains to the last line, so concurrent writers never interleave.
pub fn append_unsynced(dir: &Path, event: &Event<'_>) -> Result<Entry, LedgerError> {
    append_with(dir, event, false)
}

/// Syncs `<dir>/custody.jsonl` to disk (after [`append_unsynced`]).
pub fn sync(dir: &Path) -> Result<(), LedgerError> {
    let path = dir.join(LEDGER_NAME);
    open_regular(&path)
        .and_then(|f| f.sync_data())
        .map_err(|e| LedgerError::Io {
            path: path.clone(),
            message: e.to_string(),
        })
}

fn append_with(dir: &Path, event: &Event<'_>, synced: bool) -> Result<Entry, LedgerError> {
    let path = dir.join(LEDGER_NAME);
    let io = |e: &dyn std::fmt::Display| LedgerError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let file = append_private(&path).map_err(|e| io(&e))?;
    let mut file = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io(&e))?;
    let (seq, prev) = last_link(&mut file).map_err(|e| io(&e))?;
    let entry = Entry {
        seq,
        time: Timestamp::now(),
        action: event.action.to_string(),
        bundle: event.bundle.to_string(),
        sha256: event.sha256.map(str::to_string),
        detail: event.detail.map(str::to_string),
        operator: operator(),
        tool: format!("dossier {}", env!("CARGO_PKG_VERSION")),
        prev,
    };
    let mut line = serde_json::to_vec(&entry).map_err(|e| io(&e))?;
    line.push(b'\n');
    file.write_all(&line).map_err(|e| io(&e))?;
    if synced {
        file.sync_data().map_err(|e| io(&e))?;
    }
    Ok(entry)
}

/// Sequence number and `prev` for the next entry, from the file's last line.
fn last_link(file: &mut std::fs::File) -> std::io::Result<(u64, String)> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((1, GENESIS.to_string()));
    }
    // Read the tail: 4 KiB holds a whole line almost always; 64 KiB when it does not (a line
    // is far shorter than that).
    let mut tail = Vec::new();
    for window in [4u64 << 10, 64 << 10] {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        tail.clear();
        file.read_to_end(&mut tail)?;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if start == 0 || body.contains(&b'\n') {
            break;
        }
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(body);
    let seq = serde_json::from_slice::<serde_json::Value>(last)
        .ok()
        .and_then(|v| v["seq"].as_u64())
        .map_or(0, |s| s)
        + 1;
    Ok((seq, hex(&Sha256::digest(last))))
}

/// Reads and checks the whole chain. Returns the entries when it is intact.
pub fn check(path: &Path) -> Result<Vec<Entry>, LedgerError> {
    let mut entries = Vec::new();
    check_with(path, |e| entries.push(e))?;
    Ok(entries)
}

#[cfg(test)]
fn check_bytes(path: &Path, data: &[u8]) -> Result<Vec<Entry>, LedgerError> {
    let mut entries = Vec::new();
    walk(path, data, |e| entries.push(e))?;
    Ok(entries)
}

/// Reads and checks the whole chain, passing each entry to `f` (without keeping them).
fn check_with(path: &Path, f: impl FnMut(Entry)) -> Result<(), LedgerError> {
    let io = |e: &dyn std::fmt::Display| LedgerError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = open_regular(path).map_err(|e| io(&e))?;
    check_file(path, file, f)
}

/// [`check_with`] on the ledger file opened (see [`open_regular`]).
fn check_file(path: &Path, file: std::fs::File, f: impl FnMut(Entry)) -> Result<(), LedgerError> {
    let io = |e: &dyn std::fmt::Display| LedgerError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut data = Vec::new();
    file.take(MAX_LEDGER + 1)
        .read_to_end(&mut data)
        .map_err(|e| io(&e))?;
    if data.len() as u64 > MAX_LEDGER {
        return Err(io(&format!("larger than {MAX_LEDGER} bytes; not checked")));
    }
    walk(path, &data, f)
}

fn walk(path: &Path, data: &[u8], mut f: impl FnMut(Entry)) -> Result<(), LedgerError> {
    let broken = |line: usize, message: String| LedgerError::Broken {
        path: path.to_path_buf(),
        line,
        message,
    };
    if !data.is_empty() && !data.ends_with(b"\n") {
        let n = data.split(|&b| b == b'\n').count();
        return Err(broken(
            n,
            "last line is incomplete (no newline): the ledger was cut or is being written".into(),
        ));
    }
    let mut prev = GENESIS.to_string();
    for (i, line) in data
        .strip_suffix(b"\n")
        .unwrap_or(data)
        .split(|&b| b == b'\n')
        .enumerate()
    {
        if data.is_empty() {
            break;
        }
        let n = i + 1;
        let e: Entry = serde_json::from_slice(line)
            .map_err(|e| broken(n, format!("not a ledger entry: {e}")))?;
        if e.seq != n as u64 {
            return Err(broken(
                n,
                format!(
                    "sequence number is {} where {} was expected: an entry was deleted, inserted or moved",
                    e.seq, n
                ),
            ));
        }
        if e.prev != prev {
            return Err(broken(n, "`prev` does not match the SHA-256 of the line before it: an earlier entry was edited, deleted or moved".into()));
        }
        prev = hex(&Sha256::digest(line));
        f(e);
    }
    Ok(())
}

/// Directory of a bundle (where its sidecar and ledger are).
pub fn bundle_dir(bundle: &Path) -> &Path {
    bundle
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// File name of a bundle, as the ledger records it.
pub fn bundle_name(bundle: &Path) -> String {
    bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The custody ledger in a bundle directory, read and checked once: what it says about the
/// bundles beside it.
#[derive(Debug)]
pub struct Beside {
    /// The directory, where outcomes are to be recorded.
    pub dir: PathBuf,
    path: PathBuf,
    /// Intact chain: the first `created` entry of each bundle name (seq, SHA-256). Broken: why.
    created: Result<HashMap<String, (u64, Option<String>)>, String>,
    /// Whether outcomes may be appended: not when the ledger is a symbolic link, a FIFO or
    /// anything but a regular file (refused, neither read nor written).
    writable: bool,
}

impl Beside {
    /// Reads the ledger in the directory of `bundle`; `None` when there is none (a bundle
    /// copied elsewhere without its case directory). A ledger that is not a regular file (a
    /// FIFO, a symbolic link, a device) is neither read nor written: it is a problem of every
    /// bundle beside it.
    pub fn of(bundle: &Path) -> Option<Beside> {
        let dir = bundle_dir(bundle);
        let path = dir.join(LEDGER_NAME);
        let file = match open_regular(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                return Some(Beside {
                    dir: dir.to_path_buf(),
                    created: Err(format!("custody ledger {}: {e}", path.display())),
                    path,
                    writable: false,
                });
            }
            Ok(f) => f,
        };
        let mut created = HashMap::new();
        let checked = check_file(&path, file, |e| {
            // A bundle enters the ledger once: collected (`created`) or imported.
            if e.action == "created" || e.action == "imported" {
                created.entry(e.bundle).or_insert((e.seq, e.sha256));
            }
        });
        Some(Beside {
            dir: dir.to_path_buf(),
            created: checked.map(|()| created).map_err(|e| e.to_string()),
            path,
            writable: true,
        })
    }

    /// Whether outcomes may be appended to this ledger (it is a regular file).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// What is wrong with the bundle named `name`, whose file hashes to `sha256` now, according
    /// to this ledger: a broken chain, no `created` entry, or another SHA-256 at creation.
    pub fn problems(&self, name: &str, sha256: Option<&str>) -> Vec<Problem> {
        let message = match &self.created {
            Err(e) => e.clone(),
            Ok(created) => match created.get(name) {
                None => format!("{} has no `created` entry for {name}", self.path.display()),
                Some((seq, Some(at))) if Some(at.as_str()) != sha256 => format!(
                    "the bundle was created with SHA-256 {at} (ledger entry {seq}), it now hashes to {}",
                    sha256.unwrap_or("?")
                ),
                Some(_) => return Vec::new(),
            },
        };
        vec![Problem {
            subject: "custody ledger".into(),
            message,
        }]
    }
}

/// What [`check_ledger`] found beside a bundle.
#[derive(Debug, PartialEq, Eq)]
pub enum LedgerBeside {
    /// No ledger: the bundle was copied without its case directory.
    Missing,
    /// A ledger that is not a regular file, refused (its problem was added).
    Refused,
    /// A ledger (intact or not); the outcome is to be recorded in this directory.
    Record(PathBuf),
}

/// Checks a bundle against the custody ledger beside it, adding what is wrong to `v`, and says
/// whether there is one to record the outcome in.
pub fn check_ledger(path: &Path, v: &mut Verification) -> LedgerBeside {
    let Some(ledger) = Beside::of(path) else {
        return LedgerBeside::Missing;
    };
    v.problems
        .extend(ledger.problems(&bundle_name(path), v.sha256.as_deref()));
    if ledger.writable {
        LedgerBeside::Record(ledger.dir)
    } else {
        LedgerBeside::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(bundle: &'a str) -> Event<'a> {
        Event {
            action: "created",
            bundle,
            sha256: Some(GENESIS),
            detail: None,
        }
    }

    #[test]
    fn chain_appends_and_checks() {
        let d = tempfile::tempdir().unwrap();
        for b in ["a.zip", "b.zip", "c.zip"] {
            append(d.path(), &ev(b)).unwrap();
        }
        let entries = check(&d.path().join(LEDGER_NAME)).unwrap();
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(entries[0].prev, GENESIS);
    }

    #[test]
    fn a_bundle_is_checked_against_its_created_entry() {
        let d = tempfile::tempdir().unwrap();
        let bundle = d.path().join("a.zip");
        assert!(Beside::of(&bundle).is_none(), "no ledger, nothing to check");
        let sha = "ab".repeat(32);
        append(
            d.path(),
            &Event {
                action: "created",
                bundle: "a.zip",
                sha256: Some(&sha),
                detail: None,
            },
        )
        .unwrap();
        append(d.path(), &ev("b.zip")).unwrap();
        let l = Beside::of(&bundle).unwrap();
        assert_eq!(l.dir, d.path());
        assert!(l.problems("a.zip", Some(&sha)).is_empty());
        let p = l.problems("a.zip", Some(GENESIS));
        assert_eq!(p.len(), 1);
        assert!(
            p[0].message.contains("ledger entry 1") && p[0].message.contains(&sha),
            "{p:?}"
        );
        let p = l.problems("c.zip", Some(&sha));
        assert!(
            p[0].message.contains("no `created` entry for c.zip"),
            "{p:?}"
        );

        // `check_ledger` is the same check, for `verify`.
        let mut v = Verification {
            path: bundle.clone(),
            sha256: Some(GENESIS.into()),
            size: 0,
            members_checked: 0,
            manifest: None,
            problems: vec![],
            encryption: Default::default(),
        };
        assert_eq!(
            check_ledger(&bundle, &mut v),
            LedgerBeside::Record(d.path().to_path_buf())
        );
        assert_eq!(v.problems.len(), 1);

        // A broken chain is a problem for every bundle beside it.
        let p = d.path().join(LEDGER_NAME);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replacen("a.zip", "x.zip", 1)).unwrap();
        let l = Beside::of(&bundle).unwrap();
        let p = l.problems("a.zip", Some(&sha));
        assert!(p[0].message.contains("line 2"), "{p:?}");
    }

    #[test]
    fn detects_edit_delete_reorder_truncation() {
        let d = tempfile::tempdir().unwrap();
        for b in ["a.zip", "b.zip", "c.zip"] {
            append(d.path(), &ev(b)).unwrap();
        }
        let p = d.path().join(LEDGER_NAME);
        let good = std::fs::read(&p).unwrap();
        let text = String::from_utf8(good.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        let edited = text.replacen("b.zip", "x.zip", 1);
        let err = check_bytes(&p, edited.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");

        let deleted = format!("{}\n{}\n", lines[0], lines[2]);
        let err = check_bytes(&p, deleted.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("sequence"), "{err}");

        let reordered = format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]);
        assert!(check_bytes(&p, reordered.as_bytes()).is_err());

        let cut = &good[..good.len() - 5];
        assert!(
            check_bytes(&p, cut)
                .unwrap_err()
                .to_string()
                .contains("incomplete")
        );
        assert!(check_bytes(&p, b"").unwrap().is_empty());
    }

    #[test]
    fn unsynced_appends_chain_like_synced_ones() {
        let d = tempfile::tempdir().unwrap();
        append(d.path(), &ev("a.zip")).unwrap();
        for i in 0..50 {
            append_unsynced(d.path(), &ev(&format!("b{i}.zip"))).unwrap();
        }
        sync(d.path()).unwrap();
        let entries = check(&d.path().join(LEDGER_NAME)).unwrap();
        assert_eq!(entries.len(), 51);
        assert_eq!(entries.last().unwrap().seq, 51);
    }
}
