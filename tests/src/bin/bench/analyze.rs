//! `dossier-bench analyze`: analysis throughput on N copies of the fixture roots' bundles in a
//! case directory with its custody ledger, optionally against another binary, then where the
//! time went (`DOSSIER_TIMINGS=1`).

use crate::measure::measure_cmd;
use crate::{arg, default_bin, median};
use dossier_bundle::ledger;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The binaries measured: `--bin` (label "") and, with `--against`, the other one.
type Bins = Vec<(&'static str, PathBuf)>;

/// `dossier-bench analyze`: see the crate documentation.
pub fn analyze(args: &[String]) {
    let n: usize = arg(args, "--bundles").map_or(1000, |s| s.parse().expect("--bundles"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let against = arg(args, "--against").map(PathBuf::from);
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = collect_sources(&bin, dir.path());
    for count in [n / 10, n] {
        let names = copy_set(&sources, &dir.path().join(format!("set{count}")), count);
        let mut bins = vec![("", bin.clone())];
        if let Some(other) = &against {
            bins.push((" (--against)", other.clone()));
        }
        let got = measure_runs(dir.path(), &bins, &names, count, runs);
        print_medians(&bins, &got, count);
        timed_run(
            &bin,
            &dir.path().join(format!("rep{count}-timed")),
            &names,
            count,
        );
    }
}

/// Bundles of the fixture roots, collected by `bin` into `dir/src`.
fn collect_sources(bin: &Path, dir: &Path) -> Vec<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut sources = Vec::new();
    for f in ["rootfs-clean", "rootfs-miner", "rootfs-persist"] {
        let out = Command::new(bin)
            .args(["collect", "--quiet", "--no-analyze", "--out"])
            .arg(dir.join("src"))
            .arg("--root")
            .arg(fixtures.join(f))
            .output()
            .expect("collect");
        assert!(out.status.success(), "collect {f} failed");
        sources.push(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ));
    }
    sources
}

/// `count` copies of `sources` (round robin) in the case directory `set`, each with its
/// sidecar and its creation in the custody ledger; their paths.
fn copy_set(sources: &[PathBuf], set: &Path, count: usize) -> Vec<String> {
    std::fs::create_dir_all(set).expect("mkdir");
    let mut names = Vec::new();
    for i in 0..count {
        let src = &sources[i % sources.len()];
        let name = format!("bundle{i:05}.zip");
        std::fs::copy(src, set.join(&name)).expect("copy");
        let sum = std::fs::read_to_string(format!("{}.sha256", src.display())).expect("sidecar");
        std::fs::write(
            set.join(format!("{name}.sha256")),
            format!("{}  {name}\n", &sum[..64]),
        )
        .expect("sidecar");
        ledger::append(
            set,
            &ledger::Event {
                action: "created",
                bundle: &name,
                sha256: Some(&sum[..64]),
                detail: Some("dossier-bench copy"),
            },
        )
        .expect("ledger");
        names.push(set.join(name).to_string_lossy().into_owned());
    }
    names
}

/// Per binary: (wall, CPU, peak RSS) of each run, the binaries alternating run by run, each
/// run into a fresh directory.
fn measure_runs(
    dir: &Path,
    bins: &Bins,
    names: &[String],
    count: usize,
    runs: usize,
) -> Vec<Vec<(f64, f64, f64)>> {
    let mut got: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); bins.len()];
    for run in 0..runs {
        for (k, (label, b)) in bins.iter().enumerate() {
            let out = dir.join(format!("rep{count}-{k}-{run}"));
            let mut cmd = Command::new(std::env::current_exe().expect("exe"));
            cmd.arg("one")
                .arg(b)
                .args(["analyze", "--out"])
                .arg(&out)
                .args(names);
            let m = measure_cmd(&mut cmd);
            assert!(m.ok, "analyze failed: {}", b.display());
            println!(
                "  run {}{label}: {count} bundles in {:.2} s = {:.0} bundles/s, CPU {:.2} s, peak RSS {:.1} MiB",
                run + 1,
                m.wall,
                count as f64 / m.wall,
                m.cpu,
                m.rss_mib
            );
            got[k].push((m.wall, m.cpu, m.rss_mib));
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    got
}

/// The medians of each binary's runs, and the throughput ratio when there are two.
fn print_medians(bins: &Bins, got: &[Vec<(f64, f64, f64)>], count: usize) {
    let mut medians = Vec::new();
    for ((label, b), runs) in bins.iter().zip(got) {
        let wall = median(runs.iter().map(|r| r.0).collect());
        let cpu = median(runs.iter().map(|r| r.1).collect());
        let rss = median(runs.iter().map(|r| r.2).collect());
        println!(
            "analyze {count} bundles{label} ({}): median {wall:.2} s = {:.0} bundles/s, CPU {cpu:.2} s, peak RSS {rss:.1} MiB",
            b.display(),
            count as f64 / wall
        );
        medians.push(wall);
    }
    if medians.len() == 2 {
        println!(
            "  --bin is {:.2}x the throughput of --against (median wall {:.2} s vs {:.2} s)",
            medians[1] / medians[0],
            medians[0],
            medians[1]
        );
    }
}

/// One more run of `bin` with `DOSSIER_TIMINGS=1`: prints where the time went.
fn timed_run(bin: &Path, out: &Path, names: &[String], count: usize) {
    let timed = Command::new(bin)
        .env("DOSSIER_TIMINGS", "1")
        .args(["analyze", "--out"])
        .arg(out)
        .args(names)
        .stdout(Stdio::null())
        .output()
        .expect("analyze");
    let stderr = String::from_utf8_lossy(&timed.stderr);
    match stderr
        .lines()
        .find_map(|l| l.strip_prefix("dossier: timings: "))
    {
        Some(t) => println!("  where the time went ({count} bundles, one more run): {t}"),
        None => println!("  no timings printed by {} (older build?)", bin.display()),
    }
    let _ = std::fs::remove_dir_all(out);
}
