//! Property-based fuzzing of the analysis of bundles (proptest, stable Rust): `Bundle::open`,
//! records and analysis of bundles that verify but hold mutated records. The bundle reader
//! itself (manifest parser, `verify` on mutated zips and random bytes) is fuzzed in
//! `bundle/tests/fuzz.rs` (`cargo test -p dossier-bundle --test fuzz`).
//!
//! The seed is a real bundle of the `rootfs-miner` fixture collected by the real collectors.
//! Properties: no panic, records bounded, score bounded. `PROPTEST_CASES=100000 cargo test -p
//! dossier-cli --test fuzz` runs longer; inputs that once failed live in
//! `tests/fuzz-regressions/records/` at the repository root and are replayed by
//! `regressions_replay`.

use dossier_cli::local::LocalHost;
use dossier_cli::orchestrate::{Custody, collect_host};
use dossier_cli::playbook::{self, Playbook};
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
use mutate::{JSON_DICT, apply, config, open_with_records, ops, repo};

/// The seed bundle's bytes, its records members and the playbook.
struct Seed {
    bundle: Vec<u8>,
    records: Vec<(String, Vec<u8>)>,
    playbook: Playbook,
}

fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        let registry = dossier_cli::plugins::Registry::builtin();
        let playbook = playbook::load(None, &registry).unwrap();
        let host = LocalHost::image(&repo().join("tests/fixtures/rootfs-miner")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = collect_host(
            &host,
            &registry.collectors,
            &playbook,
            &Custody::default(),
            dir.path(),
            &dossier_cli::progress::Quiet,
        )
        .unwrap();
        let bundle = std::fs::read(&c.bundle.path).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bundle.clone())).unwrap();
        let mut records = Vec::new();
        for i in 0..z.len() {
            let mut f = z.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if name.starts_with("records/") {
                records.push((name, data));
            }
        }
        Seed {
            bundle,
            records,
            playbook,
        }
    })
}

// Targets, shared by the properties and the regression replay.

/// A bundle that verifies: the seed with `records` in place of the member `name` (manifest
/// and sidecar made consistent), opened and analyzed.
fn target_records(name: &str, records: &[u8]) {
    let s = seed();
    let (_dir, mut b) = open_with_records(&s.bundle, name, records);
    let (a, _) = dossier_cli::analyze::analyze_bundle(
        &mut b,
        &s.playbook,
        &dossier_cli::plugins::Registry::builtin(),
    );
    assert!(a.score <= 100_000);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_records_and_analysis(which in any::<Index>(), o in ops()) {
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
    for target in ["records"] {
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
            let r = std::panic::catch_unwind(|| target_records("records/proc.jsonl", &data));
            assert!(r.is_ok(), "{} fails again", e.path().display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression input(s)");
    if !missing.is_empty() {
        skip::skip_or_fail(&format!("no regression folder {}", missing.join(", ")));
    }
}
