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

use dossier_bundle::reader::{Bundle, Limits};
use dossier_cli::local::LocalHost;
use dossier_cli::orchestrate::{Custody, collect_host};
use dossier_cli::playbook::{self, Playbook};
use proptest::prelude::*;
use proptest::sample::Index;
use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The seed bundle's bytes, its records members and the playbook.
struct Seed {
    bundle: Vec<u8>,
    records: Vec<(String, Vec<u8>)>,
    playbook: Playbook,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
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
            &Custody {
                case_id: None,
                examiner: None,
            },
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

/// One edit: (operation, where, what, byte, count).
type Op = (u8, Index, Index, u8, usize);

fn apply(seed: &[u8], ops: &[Op], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for (op, at, what, byte, count) in ops {
        let pos = if v.is_empty() {
            0
        } else {
            at.index(v.len() + 1)
        };
        match op % 6 {
            0 => {
                let tok = dict[what.index(dict.len())];
                v.splice(pos..pos, tok.iter().copied());
            }
            1 => {
                let end = (pos + count % 64).min(v.len());
                v.drain(pos..end);
            }
            2 if !v.is_empty() => {
                let p = pos.min(v.len() - 1);
                v[p] ^= byte | 1;
            }
            3 => {
                let tok = dict[what.index(dict.len())];
                for (i, b) in tok.iter().enumerate() {
                    if let Some(slot) = v.get_mut(pos + i) {
                        *slot = *b;
                    }
                }
            }
            4 => v.insert(pos, *byte),
            _ => v.truncate(pos.max(v.len().saturating_sub(1 + count % 4096))),
        }
    }
    v
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<Index>(),
            any::<Index>(),
            any::<u8>(),
            0usize..8192,
        ),
        1..12,
    )
}

const JSON_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"format_version\":2",
    b"\"members\":[]",
    b"\"size\":",
    b"\"sha256\":\"",
    b"\"kind\":",
    b"\xff",
    b"\n",
];

/// 32 cases per target by default (CI); `PROPTEST_CASES` sets more.
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 32;
    }
    c.failure_persistence = None;
    c
}

fn sha(data: &[u8]) -> String {
    dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(data))
}

// Targets, shared by the properties and the regression replay.

/// A bundle that verifies: the seed with `records` in place of the member `name` (manifest
/// and sidecar made consistent), opened and analyzed.
fn target_records(name: &str, records: &[u8]) {
    let s = seed();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(s.bundle.clone())).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let n = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if n == name {
            data = records.to_vec();
        } else if n == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            for e in m["members"].as_array_mut().unwrap() {
                if e["name"] == name {
                    e["size"] = records.len().into();
                    e["sha256"] = sha(records).into();
                }
            }
            data = serde_json::to_vec(&m).unwrap();
        }
        w.start_file(n, opts).unwrap();
        w.write_all(&data).unwrap();
    }
    let data = w.finish().unwrap().into_inner();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.zip");
    std::fs::write(&p, &data).unwrap();
    std::fs::write(
        dir.path().join("r.zip.sha256"),
        format!("{}  r.zip\n", sha(&data)),
    )
    .unwrap();
    let (mut b, v) = Bundle::open(&p, &Limits::default()).expect("a consistent bundle verifies");
    assert!(v.ok());
    let collector = name
        .strip_prefix("records/")
        .and_then(|n| n.strip_suffix(".jsonl"))
        .unwrap();
    if let Ok((recs, bad)) = b.records(collector, 1 << 30) {
        assert!(recs.len() + bad.len() <= records.split(|c| *c == b'\n').count());
    }
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
    for target in ["records"] {
        let Ok(rd) = std::fs::read_dir(base.join(target)) else {
            continue;
        };
        for e in rd.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            let r = std::panic::catch_unwind(|| target_records("records/proc.jsonl", &data));
            assert!(r.is_ok(), "{} fails again", e.path().display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression input(s)");
}
