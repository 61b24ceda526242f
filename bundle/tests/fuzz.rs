//! Property-based fuzzing of the bundle reader (proptest, stable Rust): the manifest parser,
//! `verify` on mutated zips and random bytes, and `Bundle::open` + `read_member` + `records`
//! on what opens, including bundles that verify but hold mutated records.
//!
//! The seed is a real bundle written by dossier (`tests/fixtures/pre-carve/bundles`, the
//! `app03` host of the fixture fleet). Properties: no panic, problems bounded, memory bounded
//! by the reader's limits, and a parsed manifest survives a serialization round trip.
//! `PROPTEST_CASES=100000 cargo test -p dossier-bundle --test fuzz` runs longer; inputs that
//! once failed live in `tests/fuzz-regressions/{manifest,bundle,records}/` at the repository
//! root and are replayed by `regressions_replay`. Analysis of mutated records is fuzzed by
//! the CLI's own `fuzz` test (it needs the analyzers).

use dossier_bundle::reader::{Bundle, Limits, parse_manifest, verify};
use proptest::prelude::*;
use proptest::sample::Index;
use std::io::Read;

use std::sync::OnceLock;

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[path = "../../tests/src/skip.rs"]
#[allow(dead_code)]
mod skip;

#[path = "../../tests/src/forge.rs"]
#[allow(dead_code)]
mod forge;

#[path = "../../tests/fuzz/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use forge::sha256_hex as sha;
use mutate::{JSON_DICT, apply, config, open_with_records, ops, repo};

/// The seed bundle's bytes, its manifest and its records members.
struct Seed {
    bundle: Vec<u8>,
    manifest: Vec<u8>,
    records: Vec<(String, Vec<u8>)>,
}

fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        let bundle = std::fs::read(
            repo().join("tests/fixtures/pre-carve/bundles/app03-20261202T072648Z.zip"),
        )
        .unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bundle.clone())).unwrap();
        let mut manifest = Vec::new();
        let mut records = Vec::new();
        for i in 0..z.len() {
            let mut f = z.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if name == "manifest.json" {
                manifest = data;
            } else if name.starts_with("records/") {
                records.push((name, data));
            }
        }
        assert!(!records.is_empty());
        Seed {
            bundle,
            manifest,
            records,
        }
    })
}

const ZIP_DICT: &[&[u8]] = &[
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"PK\x07\x08",
    b"\xff\xff\xff\xff",
    b"\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x08\x00",
    b"\x0c\x00",
    b"\x63\x00",
    b"../",
    b"/",
    b"\\",
    b"manifest.json",
    b"raw/etc/crontab",
];

// Targets, shared by the properties and the regression replay.

fn target_manifest(data: &[u8]) {
    if let Ok(m) = parse_manifest(data) {
        let again = serde_json::to_vec(&m).unwrap();
        assert_eq!(parse_manifest(&again).unwrap(), m, "round trip");
    }
}

/// Reads an opened bundle every way a consumer does: every member, every collector's records.
fn read_all(b: &mut Bundle) {
    let names: Vec<String> = b.manifest.members.iter().map(|m| m.name.clone()).collect();
    for n in names {
        let _ = b.read_member(&n, 1 << 20);
    }
    let collectors: Vec<String> = b
        .manifest
        .collectors
        .iter()
        .map(|c| c.name.clone())
        .collect();
    for c in collectors {
        let _ = b.records(&c, 1 << 30);
    }
}

/// Writes `data` as a bundle (with a matching sidecar when `sidecar`) and reads it every way
/// the tool does.
fn target_bundle(data: &[u8], sidecar: bool) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.zip");
    std::fs::write(&p, data).unwrap();
    if sidecar {
        std::fs::write(
            dir.path().join("b.zip.sha256"),
            format!("{}  b.zip\n", sha(data)),
        )
        .unwrap();
    }
    let limits = Limits::default();
    let v = verify(&p, &limits);
    assert!(
        v.problems.len() <= 3 * v.members_checked + 3 * data.len() / 30 + 16,
        "{} problems",
        v.problems.len()
    );
    if let Ok((mut b, _)) = Bundle::open(&p, &limits) {
        read_all(&mut b);
    }
}

/// A bundle that verifies: the seed with `records` in place of the member `name` (manifest
/// and sidecar made consistent), opened and read.
fn target_records(name: &str, records: &[u8]) {
    let s = seed();
    let (_dir, mut b) = open_with_records(&s.bundle, name, records);
    read_all(&mut b);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_manifest_parser(o in ops()) {
        target_manifest(&apply(&seed().manifest, &o, JSON_DICT));
    }

    #[test]
    fn fuzz_bundle_reader_on_mutated_zips(o in ops(), sidecar in any::<bool>()) {
        target_bundle(&apply(&seed().bundle, &o, ZIP_DICT), sidecar);
    }

    #[test]
    fn fuzz_bundle_reader_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        target_bundle(&data, true);
    }

    #[test]
    fn fuzz_records_reader(which in any::<Index>(), o in ops()) {
        let s = seed();
        let (name, data) = &s.records[which.index(s.records.len())];
        target_records(name, &apply(data, &o, JSON_DICT));
    }
}

#[test]
fn regressions_replay() {
    let base = repo().join("tests/fuzz-regressions");
    let mut replayed = 0;
    let mut missing = vec![];
    for target in ["manifest", "bundle", "records"] {
        let dir = base.join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            missing.push(dir.display().to_string());
            continue;
        };
        // `.keep` holds an empty folder in git; it is not an input.
        for e in rd
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        {
            let data = std::fs::read(e.path()).unwrap();
            let r = std::panic::catch_unwind(|| match target {
                "manifest" => target_manifest(&data),
                "bundle" => target_bundle(&data, true),
                _ => target_records("records/proc.jsonl", &data),
            });
            assert!(r.is_ok(), "{} fails again", e.path().display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression input(s)");
    if !missing.is_empty() {
        skip::skip_or_fail(&format!("no regression folder {}", missing.join(", ")));
    }
}
