//! A raw copy shown to an observer ([`EvidenceSink::copy_raw_observed`]): the observer sees
//! every byte stored, once and in order, whether the file is buffered or streamed, and the
//! lines it records meanwhile are the collector's records; the member is the same as an
//! unobserved copy's.

mod common;
use common::a_manifest;

use dossier_bundle::reader::{Bundle, Limits, verify};
use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::{CopyObserver, EvidenceSink, LineRecorder};
use dossier_plugin_api::testing::MemHost;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Keeps what it sees and records one line per piece.
#[derive(Default)]
struct Seen {
    bytes: Vec<u8>,
    pieces: usize,
}

impl CopyObserver for Seen {
    fn chunk(&mut self, bytes: &[u8], records: LineRecorder<'_>) {
        self.bytes.extend_from_slice(bytes);
        self.pieces += 1;
        records(
            "events",
            format!("{{\"piece\":{}}}", self.pieces).as_bytes(),
        )
        .unwrap();
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"abcdefgh\n"[i % 9] ^ (i / 977) as u8)
        .collect()
}

#[test]
fn the_observer_sees_every_byte_stored_buffered_or_streamed() {
    let file = data(3 << 20);
    let host = MemHost::new(true).file("/log", &file);
    let d = tempfile::tempdir().unwrap();
    for (i, limit) in [None, Some(64u64 << 10)].into_iter().enumerate() {
        let out = d.path().join(i.to_string());
        let mut w = BundleWriter::create(&out, "t").unwrap();
        if let Some(b) = limit {
            w.limit_memory(b);
        }
        w.begin_collector("events");
        let mut seen = Seen::default();
        let copy = w
            .copy_raw_observed(&host, Path::new("/log"), u64::MAX, &mut seen)
            .expect("the bundle writer shows its copies")
            .unwrap();
        assert_eq!(seen.bytes, file, "limit {limit:?}");
        assert!(seen.pieces >= 3, "shown piece by piece: {}", seen.pieces);
        assert_eq!(copy.member.sha256, hex(&Sha256::digest(&file)));
        assert_eq!(copy.member.size, file.len() as u64);
        let (records, _) = w.end_collector("events").unwrap();
        assert_eq!(records.count, seen.pieces);
        let done = w.finish(a_manifest(), "t").unwrap();
        let v = verify(&done.path, &Limits::default());
        assert!(v.ok(), "{}: {:?}", done.path.display(), v.problems);
        let (b, _) = Bundle::open(&done.path, &Limits::default()).unwrap();
        let m = b
            .manifest
            .members
            .iter()
            .find(|m| m.name == copy.member.name);
        assert_eq!(m.unwrap().sha256, copy.member.sha256);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
