//! `dossier-bench triage`: local triage of this machine, wall time and peak RSS per run. Root
//! only: as another user the files it may not read are skipped, which makes it look faster.

use crate::measure::measure;
use crate::{arg, default_bin, median};
use std::path::PathBuf;

/// `dossier-bench triage`: see the crate documentation.
pub fn triage(args: &[String]) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "dossier-bench triage: run it as root (as another user the files it may not read are skipped, so it would look faster than a real triage)"
        );
        std::process::exit(2);
    }
    let runs: usize = arg(args, "--runs").map_or(5, |s| s.parse().expect("--runs"));
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let playbook = arg(args, "--playbook");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for i in 0..runs {
        let mut argv = vec![
            bin.to_str().expect("utf-8"),
            "collect",
            "--quiet",
            "--out",
            out_s,
        ];
        if let Some(p) = &playbook {
            argv.extend(["--playbook", p.as_str()]);
        }
        let (w, r) = measure(&argv);
        println!("run {}: wall {w:.2} s, peak RSS {r:.1} MiB", i + 1);
        walls.push(w);
        rss.push(r);
    }
    let sizes: Vec<u64> = std::fs::read_dir(&out)
        .expect("out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
        .map(|e| e.metadata().expect("meta").len())
        .collect();
    println!(
        "local triage (playbook {}, {runs} runs, {}): median wall {:.2} s, median peak RSS {:.1} MiB, bundle median {:.1} MiB",
        playbook.as_deref().unwrap_or("triage"),
        bin.display(),
        median(walls),
        median(rss),
        median(sizes.iter().map(|&s| s as f64 / 1048576.0).collect())
    );
}
