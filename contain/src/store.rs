//! The action records on the target: `<state dir>/actions/` (root-only, 0700), and for the
//! records of `--runtime` plans `<runtime dir>/actions/` (`/run/dossier`, the same modes: a
//! reboot drops them with the runtime masks, and nothing under `/var` changes). One file per
//! transition, `<id>.<seq>.json`, each written with [`ops::write_new`] (created exclusively,
//! never replacing one): a record's history is append-only and its newest file is its
//! state. A record says which folder it belongs in ([`Record::runtime`]) and is written there;
//! [`Store::list`] reads both folders back with bounded sizes; a corrupt or unexpected file, or
//! a record in the other folder than it says, is reported, not fatal.

use crate::action::Places;
use crate::actuator::Actuator;
use crate::ops::{self, OpError};
use crate::record::{Record, valid_id};
use std::collections::{BTreeMap, BTreeSet};

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

/// The bytes of a record file as [`Store::write`] writes them (pretty JSON and a newline):
/// the ledger names their SHA-256, which ties each entry to the record on the host.
pub fn record_bytes(rec: &Record) -> Result<Vec<u8>, serde_json::Error> {
    let mut data = serde_json::to_vec_pretty(rec)?;
    data.push(b'\n');
    Ok(data)
}

/// Splits `<id>.<seq>.json`.
fn parse_name(name: &str) -> Option<(&str, u32)> {
    let stem = name.strip_suffix(".json")?;
    let (id, text) = stem.rsplit_once('.')?;
    let seq: u32 = text.parse().ok()?;
    (valid_id(id) && seq > 0 && seq.to_string() == text).then_some((id, seq))
}

impl Store {
    /// The records under `places.actions()` and `places.runtime_actions()`.
    pub fn new(places: &Places) -> Store {
        Store {
            places: places.clone(),
        }
    }

    /// The folder of the records (of `--runtime` plans when `runtime`).
    pub fn dir_of(&self, runtime: bool) -> String {
        if runtime {
            self.places.runtime_actions()
        } else {
            self.places.actions()
        }
    }

    /// The folder of the records of ordinary (not `--runtime`) plans.
    pub fn dir(&self) -> String {
        self.dir_of(false)
    }

    /// Writes `rec` as its next transition (`seq` + 1) in the folder it belongs in, creating
    /// the folders (0700) first.
    pub fn write(&self, a: &mut dyn Actuator, rec: &mut Record) -> Result<(), StoreError> {
        let dir = self.dir_of(rec.runtime);
        if !valid_id(&rec.id) {
            return Err(StoreError::Bad {
                dir,
                message: format!("not an action id: {:?}", rec.id),
            });
        }
        let base = if rec.runtime {
            &self.places.runtime_dir
        } else {
            &self.places.state_dir
        };
        ops::mkdir_private(a, base)?;
        ops::mkdir_private(a, &dir)?;
        rec.seq += 1;
        let path = format!("{dir}/{}.{}.json", rec.id, rec.seq);
        let data = match record_bytes(rec) {
            Ok(d) => d,
            Err(e) => {
                rec.seq -= 1;
                return Err(StoreError::Bad {
                    dir,
                    message: e.to_string(),
                });
            }
        };
        let r = ops::write_new(a, &path, &data, 0o600);
        if r.is_err() {
            rec.seq -= 1;
        }
        Ok(r?)
    }

    /// The file names in `dir` (none when it does not exist yet).
    fn names(a: &mut dyn Actuator, dir: &str) -> Result<Vec<String>, StoreError> {
        if ops::lstat(a, dir)?.is_none() {
            return Ok(Vec::new());
        }
        let find = program(a, FIND)?.ok_or_else(|| StoreError::Bad {
            dir: dir.into(),
            message: "no find(1) on the target".into(),
        })?;
        let o = ops::run_ok(
            a,
            "list",
            dir,
            &[
                find,
                dir,
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
                dir: dir.into(),
                message: format!("{} files, more than the {MAX_FILES} read", names.len()),
            });
        }
        Ok(names)
    }

    /// The record ids and transition numbers in each folder: `(runtime, id, seq)`.
    fn entries(
        &self,
        a: &mut dyn Actuator,
        problems: &mut Vec<String>,
    ) -> Result<Vec<(bool, String, u32)>, StoreError> {
        let mut out = Vec::new();
        for runtime in [false, true] {
            let dir = self.dir_of(runtime);
            for name in Store::names(a, &dir)? {
                match parse_name(&name) {
                    Some((id, seq)) => out.push((runtime, id.to_string(), seq)),
                    None => problems.push(format!(
                        "{dir}/{name}: not an action record's name (left alone)"
                    )),
                }
            }
        }
        Ok(out)
    }

    /// Reads one record file and checks it names itself and belongs in its folder.
    fn read(
        &self,
        a: &mut dyn Actuator,
        runtime: bool,
        id: &str,
        seq: u32,
    ) -> Result<Record, String> {
        let path = format!("{}/{id}.{seq}.json", self.dir_of(runtime));
        let data = ops::read(a, &path, MAX_RECORD).map_err(|e| e.to_string())?;
        let r: Record =
            serde_json::from_slice(&data).map_err(|e| format!("not an action record: {e}"))?;
        if r.id != id || r.seq != seq {
            return Err(format!(
                "names itself {}.{}, not {id}.{seq}: renamed or copied",
                r.id, r.seq
            ));
        }
        if r.runtime != runtime {
            return Err(format!(
                "belongs in {}: moved or copied",
                self.dir_of(r.runtime)
            ));
        }
        Ok(r)
    }

    /// The newest transition of every record of both folders (oldest action first) and the
    /// problems found.
    pub fn list(&self, a: &mut dyn Actuator) -> Result<Listing, StoreError> {
        let mut out = Listing::default();
        let mut newest: BTreeMap<String, (bool, u32)> = BTreeMap::new();
        let mut both = BTreeSet::new();
        for (runtime, id, seq) in self.entries(a, &mut out.problems)? {
            match newest.get_mut(&id) {
                None => {
                    newest.insert(id, (runtime, seq));
                }
                Some((r, s)) if *r == runtime => *s = (*s).max(seq),
                Some(_) => {
                    both.insert(id);
                }
            }
        }
        for (id, (runtime, seq)) in newest {
            if both.contains(&id) {
                out.problems.push(format!(
                    "{id}: in both {} and {} (left alone)",
                    self.dir_of(false),
                    self.dir_of(true)
                ));
                continue;
            }
            match self.read(a, runtime, &id, seq) {
                Ok(r) => out.records.push(r),
                Err(why) => out
                    .problems
                    .push(format!("{}/{id}.{seq}.json: {why}", self.dir_of(runtime))),
            }
        }
        Ok(out)
    }

    /// Every transition of the record `id`, oldest first (a missing or corrupt one fails).
    pub fn history(&self, a: &mut dyn Actuator, id: &str) -> Result<Vec<Record>, StoreError> {
        let bad = |dir: String, message: String| StoreError::Bad { dir, message };
        let mut ignored = Vec::new();
        let mut found: Vec<(bool, u32)> = self
            .entries(a, &mut ignored)?
            .into_iter()
            .filter(|(_, i, _)| i == id)
            .map(|(r, _, s)| (r, s))
            .collect();
        found.sort_unstable_by_key(|&(_, s)| s);
        let Some(&(runtime, _)) = found.first() else {
            return Err(bad(self.dir(), format!("no action {id}")));
        };
        let dir = self.dir_of(runtime);
        if found.iter().any(|(r, _)| *r != runtime) {
            return Err(bad(
                dir,
                format!(
                    "{id} is in both {} and {}",
                    self.dir_of(false),
                    self.dir_of(true)
                ),
            ));
        }
        found
            .iter()
            .map(|&(_, s)| {
                self.read(a, runtime, id, s)
                    .map_err(|e| bad(dir.clone(), format!("{id}.{s}.json: {e}")))
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
        assert_eq!(
            std::fs::read(dir.join(format!("{}.2.json", r.id))).unwrap(),
            record_bytes(&r).unwrap(),
            "the file is the bytes the ledger hashes"
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
        assert!(
            l.problems
                .iter()
                .any(|p| p.starts_with(&format!("{}/notes.txt", store.dir())))
        );
    }

    #[test]
    fn runtime_records_are_kept_in_the_runtime_folder_only_and_listed_with_the_others() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        let run = d.path().join("run");
        let places = Places::new(state.to_str().unwrap()).with_runtime_dir(run.to_str().unwrap());
        let store = Store::new(&places);
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let mut r = record();
        r.runtime = true;
        r.enter(State::Applying);
        store.write(a, &mut r).unwrap();
        r.enter(State::Applied);
        store.write(a, &mut r).unwrap();
        assert!(!state.exists(), "the persistent folder was created");
        let dir = run.join("actions");
        assert_eq!(
            std::fs::metadata(&run).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let first: Record =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{}.1.json", r.id))).unwrap())
                .unwrap();
        assert!(first.runtime);
        let mut other = record();
        other.enter(State::Applied);
        store.write(a, &mut other).unwrap();
        let text = std::fs::read_to_string(
            std::path::Path::new(&store.dir()).join(format!("{}.1.json", other.id)),
        )
        .unwrap();
        assert!(!text.contains("\"runtime\""), "{text}");
        let l = store.list(a).unwrap();
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.records.len(), 2);
        let got = l.records.iter().find(|x| x.id == r.id).unwrap();
        assert!(got.runtime && got.state == State::Applied && got.seq == 2);
        assert_eq!(store.history(a, &r.id).unwrap().len(), 2);

        // A record copied into the other folder is reported there, not taken for its own.
        std::fs::copy(
            dir.join(format!("{}.2.json", r.id)),
            std::path::Path::new(&store.dir()).join(format!("{}.2.json", r.id)),
        )
        .unwrap();
        let l = store.list(a).unwrap();
        assert_eq!(l.records.len(), 1, "{:?}", l.records);
        assert!(
            l.problems.iter().any(|p| p.contains("in both")),
            "{:?}",
            l.problems
        );
        assert!(store.history(a, &r.id).is_err());
        std::fs::remove_file(dir.join(format!("{}.1.json", r.id))).unwrap();
        std::fs::remove_file(dir.join(format!("{}.2.json", r.id))).unwrap();
        let l = store.list(a).unwrap();
        assert!(
            l.problems.iter().any(|p| p.contains("belongs in")),
            "{:?}",
            l.problems
        );
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
