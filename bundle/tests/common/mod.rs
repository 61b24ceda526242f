//! Helpers the bundle crate's integration tests share: the archived fixture bundle, and its
//! manifest emptied of members and collectors for a bundle of a test's own.

use dossier_bundle::reader::parse_manifest;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The archived fixture bundle (`tests/fixtures/bundles/esxi-web01-snapshot.zip`).
pub fn fixture_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles/esxi-web01-snapshot.zip")
}

/// The fixture's manifest, for a bundle of our own.
pub fn a_manifest() -> dossier_bundle::manifest::Manifest {
    let mut z = zip::ZipArchive::new(std::fs::File::open(fixture_bundle()).unwrap()).unwrap();
    let mut data = Vec::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let mut m = parse_manifest(&data).unwrap();
    m.members.clear();
    m.collectors.clear();
    m
}
