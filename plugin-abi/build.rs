//! Records the target triple this crate is compiled for, so that a plugin built against it
//! states its target in its metadata and the loader can refuse a plugin built for another.

fn main() {
    println!(
        "cargo:rustc-env=DOSSIER_PLUGIN_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
