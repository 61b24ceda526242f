//! The action records on the target: `<state dir>/actions/` (root-only, 0700), one file per
//! transition, `<id>.<seq>.json`, each written with [`ops::write_new`] (created exclusively,
//! never replacing one): a record's history is append-only and its newest file is its
//! state. [`Store::list`] reads them back with bounded sizes; a corrupt or unexpected file
//! is reported, not fatal.

use crate::action::Places;
use crate::actuator::Actuator;
use crate::ops::{self, OpError};
use crate::record::{Record, valid_id};
use std::collections::BTreeMap;

/// Largest record file read back.
pub const MAX_RECORD: u64 = 4 << 20;
/// Most files the folder may hold for [`Store::list`] to read it.
pub const MAX_FILES: usize = 200_000;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error("action records in {dir}: {message}")]
    Bad { dir: String, message: String },
}

/// The records of one target.
#[derive(Debug, Clone)]
pub struct Store {
    places: Places,
}

/// What [`Store::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The newest transition of each record, in id order (oldest action first).
    pub records: Vec<Record>,
    /// Files that could not be read or are not records: `file: why`.
    pub problems: Vec<String>,
}

/// `find`'s places (it is not in the same folder on every distribution).
const FIND: &[&str] = &["/usr/bin/find", "/bin/find"];

/// The first of `candidates` that is a file on the target.
pub fn program(
    a: &mut dyn Actuator,
    candidates: &[&'static str],
) -> Result<Option<&'static str>, OpError> {
    for c in candidates {
        if ops::lstat(a, c)?.is_some() {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Splits `<id>.<seq>.json`.
fn parse_name(name: &str) -> Option<(&str, u32)> {
    let stem = name.strip_suffix(".json")?;
    let (id, text) = stem.rsplit_once('.')?;
    let seq: u32 = text.parse().ok()?;
    (valid_id(id) && seq > 0 && seq.to_string() == text).then_some((id, seq))
}

impl Store {
    /// The records under `places.actions()`.
    pub fn new(places: &Places) -> Store {
        Store {
            places: places.clone(),
        }
    }

    /// The records' folder.
    pub fn dir(&self) -> String {
        self.places.actions()
    }

    /// Writes `rec` as its next transition (`seq` + 1), creating the folders (0700) first.
    pub fn write(&self, a: &mut dyn Actuator, rec: &mut Record) -> Result<(), StoreError> {
        if !valid_id(&rec.id) {
            return Err(StoreError::Bad {
                dir: self.dir(),
                message: format!("not an action id: {:?}", rec.id),
            });
        }
        ops::mkdir_private(a, &self.places.state_dir)?;
        ops::mkdir_private(a, &self.dir())?;
        rec.seq += 1;
        let path = format!("{}/{}.{}.json", self.dir(), rec.id, rec.seq);
        let mut data = serde_json::to_vec_pretty(rec).map_err(|e| StoreError::Bad {
            dir: self.dir(),
            message: e.to_string(),
        })?;
        data.push(b'\n');
        let r = ops::write_new(a, &path, &data, 0o600);
        if r.is_err() {
            rec.seq -= 1;
        }
        Ok(r?)
    }

    /// The file names in the folder (none when it does not exist yet).
    fn names(&self, a: &mut dyn Actuator) -> Result<Vec<String>, StoreError> {
        let dir = self.dir();
        if ops::lstat(a, &dir)?.is_none() {
            return Ok(Vec::new());
        }
        let find = program(a, FIND)?.ok_or_else(|| StoreError::Bad {
            dir: dir.clone(),
            message: "no find(1) on the target".into(),
        })?;
        let o = ops::run_ok(
            a,
            "list",
            &dir,
            &[
                find,
                &dir,
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-printf",
                "%f\\0",
            ],
            b"",
        )?;
        let names: Vec<String> = o
            .stdout
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        if names.len() > MAX_FILES {
            return Err(StoreError::Bad {
                dir,
                message: format!("{} files, more than the {MAX_FILES} read", names.len()),
            });
        }
        Ok(names)
    }

    /// Reads one record file and checks it names itself.
    fn read(&self, a: &mut dyn Actuator, id: &str, seq: u32) -> Result<Record, String> {
        let path = format!("{}/{id}.{seq}.json", self.dir());
        let data = ops::read(a, &path, MAX_RECORD).map_err(|e| e.to_string())?;
        let r: Record =
            serde_json::from_slice(&data).map_err(|e| format!("not an action record: {e}"))?;
        if r.id != id || r.seq != seq {
            return Err(format!(
                "names itself {}.{}, not {id}.{seq}: renamed or copied",
                r.id, r.seq
            ));
        }
        Ok(r)
    }

    /// The newest transition of every record (oldest action first) and the problems found.
    pub fn list(&self, a: &mut dyn Actuator) -> Result<Listing, StoreError> {
        let mut out = Listing::default();
        let mut newest: BTreeMap<String, u32> = BTreeMap::new();
        for name in self.names(a)? {
            match parse_name(&name) {
                Some((id, seq)) => {
                    let e = newest.entry(id.to_string()).or_insert(seq);
                    *e = (*e).max(seq);
                }
                None => out
                    .problems
                    .push(format!("{name}: not an action record's name (left alone)")),
            }
        }
        for (id, seq) in newest {
            match self.read(a, &id, seq) {
                Ok(r) => out.records.push(r),
                Err(why) => out.problems.push(format!("{id}.{seq}.json: {why}")),
            }
        }
        Ok(out)
    }

    /// Every transition of the record `id`, oldest first (a missing or corrupt one fails).
    pub fn history(&self, a: &mut dyn Actuator, id: &str) -> Result<Vec<Record>, StoreError> {
        let bad = |message: String| StoreError::Bad {
            dir: self.dir(),
            message,
        };
        let mut seqs: Vec<u32> = self
            .names(a)?
            .iter()
            .filter_map(|n| parse_name(n))
            .filter(|(i, _)| *i == id)
            .map(|(_, s)| s)
            .collect();
        seqs.sort_unstable();
        if seqs.is_empty() {
            return Err(bad(format!("no action {id}")));
        }
        seqs.iter()
            .map(|&s| {
                self.read(a, id, s)
                    .map_err(|e| bad(format!("{id}.{s}.json: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Step;
    use crate::actuator::LocalActuator;
    use crate::record::{State, new_id};
    use std::os::unix::fs::PermissionsExt;

    fn record() -> Record {
        let step = Step::Quarantine {
            path: "/x".into(),
            sha256: "00".repeat(32),
        };
        Record::new(new_id(), "h", "plan", step, "ex", None)
    }

    #[test]
    fn transitions_are_new_files_and_the_newest_is_the_state() {
        let d = tempfile::tempdir().unwrap();
        let places = Places::new(d.path().join("state").to_str().unwrap());
        let store = Store::new(&places);
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        assert!(store.list(a).unwrap().records.is_empty());
        let mut r = record();
        r.enter(State::Applying);
        store.write(a, &mut r).unwrap();
        r.enter(State::Applied);
        store.write(a, &mut r).unwrap();
        let mut other = record();
        other.enter(State::Failed("refused".into()));
        store.write(a, &mut other).unwrap();
        let dir = std::path::Path::new(&store.dir()).to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let first = dir.join(format!("{}.1.json", r.id));
        assert_eq!(
            std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let l = store.list(a).unwrap();
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[0].id, r.id);
        assert_eq!(l.records[0].state, State::Applied);
        assert_eq!(l.records[0].seq, 2);
        let h = store.history(a, &r.id).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].state, State::Applying);

        // An existing transition is never replaced.
        r.seq = 0;
        assert!(store.write(a, &mut r).is_err());
        assert_eq!(store.history(a, &r.id).unwrap()[0].state, State::Applying);

        // Corrupt and foreign files are reported, the others still listed.
        std::fs::write(dir.join(format!("{}.2.json", other.id)), b"{garbage").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        let l = store.list(a).unwrap();
        assert_eq!(l.records.len(), 1);
        assert_eq!(l.problems.len(), 2, "{:?}", l.problems);
        assert!(
            l.problems
                .iter()
                .any(|p| p.contains("not an action record:"))
        );
        assert!(l.problems.iter().any(|p| p.starts_with("notes.txt")));
    }

    #[test]
    fn names_parse_strictly() {
        assert_eq!(parse_name("a-1.3.json"), Some(("a-1", 3)));
        assert_eq!(parse_name("a.03.json"), None);
        assert_eq!(parse_name("a.0.json"), None);
        assert_eq!(parse_name("a.json"), None);
        assert_eq!(parse_name("../a.1.json"), None);
    }
}
