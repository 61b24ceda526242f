//! Records the git commit (and its date), target triple and profile of the build, for
//! `dossier --version` and bundle manifests (see `src/build_info.rs`).
//!
//! The commit is `DOSSIER_BUILD_COMMIT` when set (and its date `DOSSIER_BUILD_DATE`, when
//! set), else what `git rev-parse --short=12 HEAD` says, else `unknown` (no git, no `.git`:
//! a source tarball).

use std::process::Command;

/// What `git ARGS` prints (trimmed), or `None` when git is missing, fails or prints nothing.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A value safe to put in an environment variable line and a version string.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() && *c != ',' && *c != '(' && *c != ')')
        .take(64)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-env-changed=DOSSIER_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=DOSSIER_BUILD_DATE");
    let overridden = std::env::var("DOSSIER_BUILD_COMMIT")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let (commit, date) = match overridden {
        Some(c) => (
            clean(&c),
            std::env::var("DOSSIER_BUILD_DATE")
                .ok()
                .map(|d| clean(&d))
                .unwrap_or_default(),
        ),
        None => (
            git(&["rev-parse", "--short=12", "HEAD"])
                .map(|c| clean(&c))
                .unwrap_or_else(|| "unknown".into()),
            git(&["log", "-1", "--format=%cs", "HEAD"])
                .map(|d| clean(&d))
                .unwrap_or_default(),
        ),
    };
    // Rebuild when HEAD moves: in a clone `.git` is a folder, in a worktree a file naming
    // the folder; ask git where HEAD and the refs are.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--git-path", "refs/heads"]),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        let p = std::path::Path::new(&path);
        if p.exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=DOSSIER_GIT={commit}");
    println!("cargo:rustc-env=DOSSIER_GIT_DATE={date}");
    println!(
        "cargo:rustc-env=DOSSIER_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=DOSSIER_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
    let when = if date.is_empty() {
        String::new()
    } else {
        format!(" {date}")
    };
    println!(
        "cargo:rustc-env=DOSSIER_VERSION_LINE={} ({commit}{when}, {})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        std::env::var("PROFILE").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
