//! A collector's records that no later collector reads are streamed from their spool into the
//! bundle, never held in memory whole (the records of imported events may be gigabytes): the
//! member is the same bytes, hash and count as when it is written from memory, and the bundle
//! verifies.

mod common;
use common::a_manifest;

use dossier_bundle::reader::{Bundle, Limits, verify};
use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::EvidenceSink;
use std::path::{Path, PathBuf};

/// A bundle of one collector with `n` records, its spool streamed (`stream`) or not.
fn write(out: &Path, n: usize, stream: bool) -> (PathBuf, usize, usize) {
    let mut w = BundleWriter::create(out, "t").unwrap();
    if stream {
        w.stream_records_over(0);
    }
    w.begin_collector("events");
    for i in 0..n {
        let rec = serde_json::json!({"n": i, "text": "x".repeat(i % 300)});
        w.record("events", rec).unwrap();
    }
    let (records, _) = w.end_collector_keeping("events", false).unwrap();
    let done = w.finish(a_manifest(), "t").unwrap();
    (done.path, records.body.len(), records.count)
}

#[test]
fn records_not_kept_are_streamed_and_the_bundle_is_the_same() {
    let d = tempfile::tempdir().unwrap();
    let (streamed, body, count) = write(&d.path().join("a"), 20_000, true);
    assert_eq!((body, count), (0, 20_000), "streamed: no body kept");
    let (buffered, body, count) = write(&d.path().join("b"), 20_000, false);
    assert!(body > 1 << 20, "small spools stay in memory: {body} bytes");
    assert_eq!(count, 20_000);
    for p in [&streamed, &buffered] {
        let v = verify(p, &Limits::default());
        assert!(v.ok(), "{}: {:?}", p.display(), v.problems);
    }
    let member = |p: &Path| {
        let (b, _) = Bundle::open(p, &Limits::default()).unwrap();
        b.manifest
            .members
            .iter()
            .find(|m| m.name == "records/events.jsonl")
            .cloned()
            .unwrap()
    };
    let (a, b) = (member(&streamed), member(&buffered));
    assert_eq!((a.size, &a.sha256, &a.kind), (b.size, &b.sha256, &b.kind));
    let (mut sb, _) = Bundle::open(&streamed, &Limits::default()).unwrap();
    let mut lines = 0;
    sb.member_lines("records/events.jsonl", 1 << 20, &mut |_, l| {
        let v: serde_json::Value = serde_json::from_slice(l).unwrap();
        assert_eq!(v["n"], lines);
        lines += 1;
    })
    .unwrap();
    assert_eq!(lines, 20_000);
}

#[test]
fn records_given_as_lines_are_stored_as_given_and_bad_lines_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create(&d.path().join("o"), "t").unwrap();
    w.begin_collector("events");
    w.record_line("events", br#"{"b":1,"a":2}"#).unwrap();
    for bad in [&b"[1]"[..], b"{\"a\":\n1}", b"", b"{\"a\":1} "] {
        assert!(
            w.record_line("events", bad).is_err(),
            "{:?} accepted",
            String::from_utf8_lossy(bad)
        );
    }
    let (records, _) = w.end_collector("events").unwrap();
    assert_eq!(records.count, 1);
    // As given: the keys keep their order (a Value would sort them).
    assert_eq!(records.body, b"{\"b\":1,\"a\":2}\n");
    let done = w.finish(a_manifest(), "t").unwrap();
    assert!(verify(&done.path, &Limits::default()).ok());
}
