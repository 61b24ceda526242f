//! The case custody ledger: `custody.jsonl` in an output directory.
//!
//! Append-only JSON lines, one per event (a bundle created, verified or analyzed). Each entry
//! carries its sequence number and the SHA-256 of the previous line's exact bytes, so an edit,
//! a deletion or a reordering breaks the chain at a point [`check`] names. Appends take an
//! exclusive `flock` so concurrent dossier processes (parallel sweeps into one case
//! directory) never interleave lines.

use dossier_plugin_api::Timestamp;
use dossier_plugin_api::encoding::hex;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
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

/// Who is acting, as recorded in entries.
pub fn operator() -> String {
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
}

/// Appends one event to `<dir>/custody.jsonl`, chaining it to the last entry.
pub fn append(dir: &Path, event: &Event<'_>) -> Result<Entry, LedgerError> {
    let path = dir.join(LEDGER_NAME);
    let io = |e: &dyn std::fmt::Display| LedgerError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io(&e))?;
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
    file.sync_data().map_err(|e| io(&e))?;
    Ok(entry)
}

/// Sequence number and `prev` for the next entry, from the file's last line.
fn last_link(file: &mut std::fs::File) -> std::io::Result<(u64, String)> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((1, GENESIS.to_string()));
    }
    // Read the tail; a line is far shorter than 64 KiB.
    let start = len.saturating_sub(64 << 10);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
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
    let io = |e: &dyn std::fmt::Display| LedgerError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(|e| io(&e))?;
    let mut data = Vec::new();
    f.take(MAX_LEDGER + 1)
        .read_to_end(&mut data)
        .map_err(|e| io(&e))?;
    if data.len() as u64 > MAX_LEDGER {
        return Err(io(&format!("larger than {MAX_LEDGER} bytes; not checked")));
    }
    check_bytes(path, &data)
}

fn check_bytes(path: &Path, data: &[u8]) -> Result<Vec<Entry>, LedgerError> {
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
    let mut entries = Vec::new();
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
        entries.push(e);
    }
    Ok(entries)
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
}
