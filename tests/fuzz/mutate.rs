//! The mutations shared by the fuzz tests of the bundle reader (`bundle/tests/fuzz.rs`) and of
//! the analysis of bundles (`cli/tests/fuzz.rs`), included by both with `#[path]`: edits of a
//! seed's bytes (insert a dictionary token, delete, flip, overwrite, insert a byte, truncate),
//! the JSON token dictionary, the proptest configuration, where the repository is, and a seed
//! bundle rebuilt around mutated records so that it still verifies (with `tests/src/forge.rs`,
//! which each including crate also declares, as `crate::forge`).

use dossier_bundle::reader::{Bundle, Limits};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};

/// The repository root (both crates sit one level below it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One edit: (operation, where, what, byte, count).
pub type Op = (u8, Index, Index, u8, usize);

pub fn apply(seed: &[u8], ops: &[Op], dict: &[&[u8]]) -> Vec<u8> {
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

pub fn ops() -> impl Strategy<Value = Vec<Op>> {
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

pub const JSON_DICT: &[&[u8]] = &[
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
pub fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 32;
    }
    c.failure_persistence = None;
    c
}

/// The seed bundle with `records` in place of its member `name`, the manifest's size and
/// SHA-256 of that member and the sidecar made consistent, written to a temporary folder and
/// opened: it verifies, so what follows reads mutated records the way a real analysis would.
/// The folder lives as long as the returned guard.
pub fn open_with_records(seed: &[u8], name: &str, records: &[u8]) -> (tempfile::TempDir, Bundle) {
    let data = crate::forge::replace_member(seed, name, records, records);
    let dir = tempfile::tempdir().unwrap();
    let p = crate::forge::write_with_sidecar(dir.path(), "r.zip", &data);
    let (mut b, v) = Bundle::open(&p, &Limits::default()).expect("a consistent bundle verifies");
    assert!(v.ok());
    let collector = name
        .strip_prefix("records/")
        .and_then(|n| n.strip_suffix(".jsonl"))
        .unwrap();
    if let Ok((recs, bad)) = b.records(collector, 1 << 30) {
        assert!(recs.len() + bad.len() <= records.split(|c| *c == b'\n').count());
    }
    (dir, b)
}
