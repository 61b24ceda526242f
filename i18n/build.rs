//! Embeds every catalogue file: writes `catalogs.rs` with, per language folder under
//! `catalog/`, the list of its `.toml` files (sorted, so the build is deterministic) as
//! `(name, include_str!(...))` pairs. Adding a catalogue file needs no code change.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    for lang in ["en", "zh-CN"] {
        let dir = root.join(lang);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                e.expect("catalogue entry")
                    .file_name()
                    .into_string()
                    .expect("UTF-8 name")
            })
            .filter(|n| n.ends_with(".toml"))
            .collect();
        files.sort();
        let name = lang.replace('-', "_").to_uppercase();
        let _ = writeln!(out, "pub(crate) static {name}: &[(&str, &str)] = &[");
        for f in files {
            let path = dir.join(&f);
            println!("cargo:rerun-if-changed={}", path.display());
            let _ = writeln!(
                out,
                "    ({f:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("catalogs.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
