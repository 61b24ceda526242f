//! Forged bundles for tests: a bundle rebuilt member by member with members changed, dropped or
//! added, a manifest made to list what the forger chooses for a member, and a `.sha256` sidecar
//! that matches the forgery (a forger who also rewrites the sidecar). Used by the e2e suites as
//! `dossier_tests::forge`, and through `#[path]` by the fuzz tests of the bundle reader and of
//! analysis (`tests/fuzz/mutate.rs`), which cannot depend on this crate: so it uses nothing of
//! it.

use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The zip `src` rebuilt member by member: `edit` gets each member's name and content and
/// returns the name and content to write in its place (`None` drops the member); `extra`
/// members are appended after them.
pub fn rewrite(
    src: &[u8],
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(src)).expect("a zip to rewrite");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        drop(f);
        if let Some((n, d)) = edit(&name, data) {
            w.start_file(n, opts).unwrap();
            w.write_all(&d).unwrap();
        }
    }
    for (n, d) in extra {
        w.start_file(*n, opts).unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The bundle `src` with member `name`'s content replaced by `data`, and its manifest listing
/// the size and SHA-256 of `listed` for that member: pass `data` itself for a bundle that
/// verifies, other bytes for a member changed behind the manifest's back.
pub fn replace_member(src: &[u8], name: &str, data: &[u8], listed: &[u8]) -> Vec<u8> {
    rewrite(
        src,
        |n, content| {
            let content = if n == name {
                data.to_vec()
            } else if n == "manifest.json" {
                let mut m: serde_json::Value = serde_json::from_slice(&content).unwrap();
                for e in m["members"].as_array_mut().expect("members listed") {
                    if e["name"] == name {
                        e["sha256"] = sha256_hex(listed).into();
                        e["size"] = (listed.len() as u64).into();
                    }
                }
                serde_json::to_vec_pretty(&m).unwrap()
            } else {
                content
            };
            Some((n.to_string(), content))
        },
        &[],
    )
}

/// Writes `data` as `dir/name` with a `dir/name.sha256` sidecar that matches it.
pub fn write_with_sidecar(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", sha256_hex(data)),
    )
    .unwrap();
    p
}
