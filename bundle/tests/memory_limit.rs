//! A bundle written under [`BundleWriter::limit_memory`] (a fleet sweep's: many bundles at
//! once) streams large files and records instead of holding them in memory, and holds the
//! same members, byte for byte, as a bundle written without the limit: same names, sizes,
//! hashes and kinds, and the same file copied twice is still stored once.

mod common;
use common::a_manifest;

use dossier_bundle::manifest::MemberEntry;
use dossier_bundle::reader::{Limits, verify};
use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::EvidenceSink;
use dossier_plugin_api::testing::MemHost;
use std::path::Path;

/// Bytes that do not compress to nothing: a simple generator, `n` of them.
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 3 == 0 {
                b'a' + (x % 7) as u8
            } else {
                x as u8
            }
        })
        .collect()
}

/// A bundle of files small and large (one copied twice) and of records, kept and not.
fn write(out: &Path, host: &MemHost, limit: Option<u64>) -> Vec<MemberEntry> {
    let mut w = BundleWriter::create(out, "t").unwrap();
    if let Some(bytes) = limit {
        w.limit_memory(bytes);
    }
    w.begin_collector("files");
    for p in ["/big", "/small", "/mid", "/big", "/empty"] {
        w.copy_raw(host, Path::new(p), 8 << 20).unwrap();
    }
    // A limit below the file's size: the member holds the first bytes, marked truncated.
    let cut = w.copy_raw(host, Path::new("/big"), 300_000).unwrap();
    assert!(cut.source.truncated);
    assert_eq!(cut.member.size, 300_000);
    w.end_collector("files").unwrap();
    for (collector, keep) in [("events", false), ("facts", true)] {
        w.begin_collector(collector);
        for i in 0..20_000 {
            let rec = serde_json::json!({"n": i, "text": "x".repeat(i % 200)});
            w.record(collector, rec).unwrap();
        }
        let (records, _) = w.end_collector_keeping(collector, keep).unwrap();
        assert_eq!(records.count, 20_000);
        // Kept lines are returned; under the limit, the others are streamed, not held.
        assert_eq!(records.body.is_empty(), !keep && limit.is_some());
    }
    let done = w.finish(a_manifest(), "t").unwrap();
    let v = verify(&done.path, &Limits::default());
    assert!(v.ok(), "{}: {:?}", done.path.display(), v.problems);
    let (b, _) = dossier_bundle::reader::Bundle::open(&done.path, &Limits::default()).unwrap();
    b.manifest.members
}

#[test]
fn a_bundle_under_a_memory_limit_holds_the_same_members() {
    let host = MemHost::new(true)
        .file("/big", noise(3 << 20, 1))
        .file("/mid", noise(200_000, 2))
        .file("/small", b"hello\n")
        .file("/empty", b"");
    let d = tempfile::tempdir().unwrap();
    let free = write(&d.path().join("free"), &host, None);
    let limited = write(&d.path().join("limited"), &host, Some(64 << 10));
    let key = |m: &MemberEntry| {
        (
            m.name.clone(),
            m.size,
            m.sha256.clone(),
            m.kind.clone(),
            m.source.as_ref().map(|s| s.truncated),
        )
    };
    let (a, b): (Vec<_>, Vec<_>) = (
        free.iter().map(key).collect(),
        limited.iter().map(key).collect(),
    );
    // The log differs (times); everything else is the same.
    let no_log = |v: Vec<_>| -> Vec<_> {
        v.into_iter()
            .filter(|k: &(String, _, _, _, _)| k.0 != "log.jsonl")
            .collect()
    };
    assert_eq!(no_log(a), no_log(b));
    assert_eq!(
        limited
            .iter()
            .filter(|m| m.name.starts_with("raw/big"))
            .count(),
        2,
        "the same /big copied twice is stored once (and once truncated)"
    );
}
