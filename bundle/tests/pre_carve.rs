//! Bundles written before the crate carve-out (tests/fixtures/pre-carve/bundles, written by
//! 1b53eb6 when collector statuses were strings) still parse, verify and open, and their
//! manifests serialize back to the same bytes.

use dossier_bundle::manifest::MANIFEST_NAME;
use dossier_bundle::reader::{Bundle, Limits, parse_manifest, verify};
use dossier_plugin_api::CollectorStatus;
use std::io::Read;
use std::path::{Path, PathBuf};

fn bundles() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pre-carve/bundles");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no bundles in {}", dir.display());
    out
}

fn manifest_bytes(bundle: &Path) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let mut body = Vec::new();
    z.by_name(MANIFEST_NAME)
        .unwrap()
        .read_to_end(&mut body)
        .unwrap();
    body
}

#[test]
fn manifests_of_old_bundles_parse_and_round_trip() {
    let mut seen = std::collections::BTreeSet::new();
    for b in bundles() {
        let body = manifest_bytes(&b);
        let m = parse_manifest(&body).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
        assert!(!m.collectors.is_empty());
        seen.extend(m.collectors.iter().map(|r| r.status));
        // The statuses as they were written: the raw JSON holds the same strings.
        let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for (run, json) in m
            .collectors
            .iter()
            .zip(raw["collectors"].as_array().unwrap())
        {
            assert_eq!(json["status"], run.status.as_str(), "{}", b.display());
        }
        assert_eq!(
            serde_json::to_vec_pretty(&m).unwrap(),
            body,
            "{}: the manifest serializes back to its bytes",
            b.display()
        );
    }
    assert!(seen.contains(&CollectorStatus::Ok), "{seen:?}");
    assert!(seen.contains(&CollectorStatus::NotAvailable), "{seen:?}");
}

#[test]
fn old_bundles_verify_and_open() {
    for b in bundles() {
        let v = verify(&b, &Limits::default());
        assert!(v.ok(), "{}: {:?}", b.display(), v.problems);
        let (bundle, _) = Bundle::open(&b, &Limits::default()).unwrap();
        assert_eq!(bundle.manifest, v.manifest.unwrap());
    }
}
