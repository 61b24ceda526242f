//! Decompression is bounded in time as well as memory (issue 15, hole 5): a small crafted
//! bundle that inflates for longer than its deadline fails verification with "took too long"
//! instead of inflating on.

use dossier_bundle::reader::{Limits, sidecar_path, verify};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn fixture_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles/esxi-web01-snapshot.zip")
}

/// A copy of the fixture bundle with one more member, `size` zero bytes deflated (~1000:1),
/// listed in the manifest with its true size and SHA-256, and a matching sidecar: a bundle
/// that verifies, but inflates to `size` bytes.
fn zeros_bundle(dir: &Path, size: usize) -> PathBuf {
    let mut z = zip::ZipArchive::new(std::fs::File::open(fixture_bundle()).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let zeros = vec![0u8; size];
    let sha = hex(&Sha256::digest(&zeros));
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            m["members"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "name": "raw/zeros", "size": size, "sha256": sha, "kind": "raw"
                }));
            data = serde_json::to_vec(&m).unwrap();
        }
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&data).unwrap();
    }
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    w.start_file("raw/zeros", opts).unwrap();
    w.write_all(&zeros).unwrap();
    let data = w.finish().unwrap().into_inner();
    let p = dir.join("zeros.zip");
    std::fs::write(&p, &data).unwrap();
    std::fs::write(
        sidecar_path(&p),
        format!("{}  zeros.zip\n", hex(&Sha256::digest(&data))),
    )
    .unwrap();
    p
}

#[test]
fn a_bundle_that_inflates_for_too_long_fails_with_took_too_long() {
    let d = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let p = zeros_bundle(d.path(), size);
    assert!(
        std::fs::metadata(&p).unwrap().len() < 1 << 20,
        "a small bundle"
    );
    // Within the default limits it verifies: the member is what the manifest says.
    let t = std::time::Instant::now();
    let v = verify(&p, &Limits::default());
    let full = t.elapsed();
    assert!(v.ok(), "{:?}", v.problems);

    // With a small time limit, inflating stops and the bundle fails, saying why.
    let limits = Limits {
        time_base: Duration::from_millis(1),
        time_per_gib: Duration::ZERO,
        ..Limits::default()
    };
    let t = std::time::Instant::now();
    let v = verify(&p, &limits);
    let limited = t.elapsed();
    assert!(!v.ok(), "verified although the time limit was exceeded");
    assert!(
        v.problems
            .iter()
            // On a loaded machine the millisecond may be gone before the manifest is read:
            // then the manifest is what took too long. Either way verification stopped.
            .any(|p| (p.subject == "bundle" || p.subject == "manifest")
                && p.message.contains("took too long")),
        "{:?}",
        v.problems
    );
    eprintln!(
        "{} MiB of zeros from {} bytes: verified in {full:?}; with a 1 ms limit failed in {limited:?}",
        size >> 20,
        std::fs::metadata(&p).unwrap().len()
    );

    // The deadline grows with the bundle file, so that large real bundles verify.
    let l = Limits::default();
    let now = std::time::Instant::now();
    let gib = l.deadline(now, 1 << 30).unwrap() - now;
    assert!(gib >= Duration::from_secs(120), "{gib:?}");
}
