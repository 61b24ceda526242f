//! `dossier analyze` of an import bundle whose events member is over 64 MiB: that member is
//! hashed as its events are read rather than before (see the bundle reader's
//! `open_streaming`), so a member changed after the manifest was written is found only at the
//! end of the read. The bundle is then refused with a clear error and its events dropped,
//! while another import bundle of the same run is analyzed as ever.

use dossier_tests::forge::{replace_member, write_with_sidecar};
use dossier_tests::{dossier, stderr, stdout};
use std::io::Read;
use std::path::{Path, PathBuf};

const EVENTS: &str = "records/events.jsonl";

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
    let src = std::fs::read(&small).unwrap();
    let bad = write_with_sidecar(
        &forged,
        "tampered.zip",
        &replace_member(&src, EVENTS, &changed, &big),
    );

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
