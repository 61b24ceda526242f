//! `dossier analyze` of an import bundle whose events member is over 64 MiB: that member is
//! hashed as its events are read rather than before (see the bundle reader's
//! `open_streaming`), so a member changed after the manifest was written is found only at the
//! end of the read. The bundle is then refused with a clear error and its events dropped,
//! while another import bundle of the same run is analyzed as ever.

use dossier_tests::{dossier, stderr, stdout};
use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const EVENTS: &str = "records/events.jsonl";

fn sha(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small import bundle of the story's web1 audit log.
fn small_import(cwd: &Path, out: &Path) -> PathBuf {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/events-story/web1-audit.log");
    let o = dossier(
        cwd,
        &[
            "import",
            log.to_str().unwrap(),
            "--host",
            "web1",
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "import: {}", stderr(&o));
    PathBuf::from(stdout(&o).trim())
}

/// `src` rebuilt with `events` as its events member and a manifest listing `listed` (SHA-256
/// and size) for it, written as `dir/name` with a matching sidecar.
fn forge(src: &Path, events: &[u8], listed: &[u8], dir: &Path, name: &str) -> PathBuf {
    let mut z = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let n = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if n == EVENTS {
            data = events.to_vec();
        } else if n == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let entry = m["members"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|e| e["name"] == EVENTS)
                .expect("events listed");
            entry["sha256"] = sha(listed).into();
            entry["size"] = (listed.len() as u64).into();
            data = serde_json::to_vec_pretty(&m).unwrap();
        }
        w.start_file(n, opts).unwrap();
        w.write_all(&data).unwrap();
    }
    let data = w.finish().unwrap().into_inner();
    let p = dir.join(name);
    std::fs::write(&p, &data).unwrap();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", sha(&data)),
    )
    .unwrap();
    p
}

#[test]
fn a_tampered_events_member_over_64_mib_is_refused_and_its_events_dropped() {
    let d = tempfile::tempdir().unwrap();
    let small = small_import(d.path(), &d.path().join("imp"));
    let mut z = zip::ZipArchive::new(std::fs::File::open(&small).unwrap()).unwrap();
    let mut lines = Vec::new();
    z.by_name(EVENTS).unwrap().read_to_end(&mut lines).unwrap();
    let per_copy = lines.iter().filter(|b| **b == b'\n').count();
    assert!(per_copy > 0);
    let mut big = Vec::with_capacity((65 << 20) + lines.len());
    while big.len() <= 64 << 20 {
        big.extend_from_slice(&lines);
    }
    // One byte of an event's text changed, the zip entry written anew (it unzips), the
    // manifest still listing the member as it was.
    let mut changed = big.clone();
    let at = changed.len() / 2;
    let i = at
        + changed[at..]
            .iter()
            .position(|b| b.is_ascii_digit())
            .unwrap();
    changed[i] = if changed[i] == b'9' {
        b'8'
    } else {
        changed[i] + 1
    };
    let forged = d.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    let bad = forge(&small, &changed, &big, &forged, "tampered.zip");

    let out = d.path().join("rep");
    let o = dossier(
        d.path(),
        &[
            "analyze",
            small.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (printed, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{printed}\n{err}");
    let fleet = std::fs::read_to_string(out.join("fleet-report.md")).unwrap_or_default();
    let said = format!("{printed}\n{err}\n{fleet}");
    assert!(
        said.contains("tampered.zip") && said.contains("verification failed"),
        "{said}"
    );
    assert!(said.contains(EVENTS), "the member is named: {said}");
    // Only the small bundle's events were analyzed.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("events.json")).unwrap()).unwrap();
    assert_eq!(report["events_analyzed"], per_copy as u64, "{said}");
    let sources = report["sources"].as_array().unwrap();
    assert!(
        sources
            .iter()
            .all(|s| !s["bundle"].as_str().unwrap().contains("tampered")),
        "{sources:?}"
    );
}
