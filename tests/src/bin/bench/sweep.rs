//! `dossier-bench sweep`: fleet sweeps of N lab hosts (with analysis and without), then one
//! clean host over SSH against local collections of the same filesystem ([`crate::local`]),
//! each collector's time in each setting, and where the work of a fleet host goes: each
//! collector's bytes read, files opened, listings, stats, round trips and client CPU, and the
//! target's SFTP server CPU and disk reads (`sweep.json`'s `collectors`, `totals` and
//! `target_cost`).

use crate::cpu::{Busy, sshd_cpu};
use crate::fleet::{FleetRun, MIB, print_fleet, read_sweep, sweep_command};
use crate::local::{Local, dead_box, live};
use crate::measure::measure_cmd;
use crate::{arg, default_bin, median};
use dossier_tests::lab::{Lab, Scenario};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One lab and what every measured sweep against it needs.
struct Bench<'a> {
    lab: &'a Lab,
    /// The dossier binary measured.
    bin: PathBuf,
    /// This program (`dossier-bench one` measures each run).
    me: PathBuf,
    tmp: tempfile::TempDir,
    home: PathBuf,
    addrs: Vec<String>,
    serial: Cell<usize>,
}

impl Bench<'_> {
    /// A new directory name under the bench's temporary directory.
    fn fresh(&self, what: &str) -> PathBuf {
        self.serial.set(self.serial.get() + 1);
        self.tmp
            .path()
            .join(format!("{what}-{}", self.serial.get()))
    }

    /// `dossier sweep TARGETS` in the lab namespace, measured; sweep.json and bundles read.
    fn run_sweep(&self, targets: &[String], jobs: usize, out: &Path, no_analyze: bool) -> FleetRun {
        let lab = self.lab;
        let mut c = sweep_command(lab, (&self.me, &self.bin), &self.home, targets, jobs, out);
        if no_analyze {
            c.arg("--no-analyze");
        }
        let sshd0 = sshd_cpu(lab);
        let busy = Busy::start();
        let m = measure_cmd(&mut c);
        let busy = busy.fraction();
        let mut r = read_sweep(m, out, targets);
        r.busy = busy;
        r.sshd_cpu = sshd_cpu(lab) - sshd0;
        r
    }
}

/// `dossier-bench sweep`: see the crate documentation.
pub fn sweep(args: &[String]) {
    let n: usize = arg(args, "--hosts").map_or(30, |s| s.parse().expect("--hosts"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let jobs: usize = arg(args, "--jobs").map_or(8, |s| s.parse().expect("--jobs"));
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let bin = std::fs::canonicalize(&bin).expect("--bin");
    let me = std::fs::canonicalize(std::env::current_exe().expect("exe")).expect("exe");
    assert!(
        n >= 1 && runs >= 1 && jobs >= 1,
        "--hosts, --runs, --jobs: at least 1"
    );
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let lab = start_lab(n, cores, &bin);
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let bench = Bench {
        lab: &lab,
        bin,
        me,
        addrs: lab.hosts().iter().map(|h| h.addr.to_string()).collect(),
        tmp,
        home,
        serial: Cell::new(0),
    };
    let (bare, bare_outs) = fleet(&bench, runs, jobs, cores);
    costs(&bare_outs, jobs);

    // One clean host: over SSH, and locally (dead-box and live).
    let hi = lab
        .hosts()
        .iter()
        .position(|h| h.scenario == Scenario::Clean)
        .expect("a clean host");
    let h = &lab.hosts()[hi];
    println!(
        "one clean host ({}, {}), median of {runs} runs, --no-analyze:",
        h.name, h.addr
    );
    let ssh = one_host_over_ssh(&bench, hi, runs);
    let ssh_wall = median(ssh.iter().map(|r| r.m.wall).collect());
    let fresh = |what: &str| bench.fresh(what);
    let (dead, dead_wall) = dead_box(&bench.me, &bench.bin, h, runs, &fresh);
    let (live, live_wall) = live(&bench.me, &bench.bin, h, runs);
    print!("  ratio ssh/local: {:.1}x (dead-box)", ssh_wall / dead_wall);
    if let Some(w) = live_wall {
        print!(", {:.1}x (live)", ssh_wall / w);
    }
    println!();
    per_collector(&ssh, &bare, &dead, &live, jobs);
}

/// Starts the lab: N hosts, N/15 of them (at least one when N >= 2) with the miner incident.
fn start_lab(n: usize, cores: usize, bin: &Path) -> Lab {
    let miners = if n >= 2 { (n / 15).max(1) } else { 0 };
    let mut scenarios = vec![Scenario::Clean; n - miners];
    scenarios.extend(std::iter::repeat_n(Scenario::Miner, miners));
    println!(
        "machine: {cores} CPUs, load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let t = Instant::now();
    let lab = match Lab::start(&scenarios) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("dossier-bench sweep: the SSH lab cannot start: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "lab: {n} hosts ({} clean, {miners} miner) started in {:.2} s; dossier {}",
        n - miners,
        t.elapsed().as_secs_f64(),
        bin.display()
    );
    lab
}

/// The fleet, with analysis and collection alone, `runs` times each; the runs without
/// analysis and their output folders.
fn fleet(bench: &Bench, runs: usize, jobs: usize, cores: usize) -> (Vec<FleetRun>, Vec<PathBuf>) {
    let n = bench.addrs.len();
    let mut full = vec![];
    let mut bare = vec![];
    let mut bare_outs = vec![];
    println!("sweep of {n} hosts, -j {jobs}, default playbook:");
    for i in 0..runs {
        for (no_analyze, acc) in [(false, &mut full), (true, &mut bare)] {
            let out = bench.fresh("fleet");
            let r = bench.run_sweep(&bench.addrs, jobs, &out, no_analyze);
            if no_analyze {
                bare_outs.push(out);
            }
            let what = format!(
                "run {} {}",
                i + 1,
                if no_analyze {
                    "--no-analyze "
                } else {
                    "with analysis"
                }
            );
            print_fleet(&what, n, cores, std::slice::from_ref(&r));
            acc.push(r);
        }
    }
    println!("median of {runs} runs:");
    let wall_full = print_fleet("with analysis", n, cores, &full);
    let wall_bare = print_fleet("--no-analyze ", n, cores, &bare);
    println!(
        "  analysis: {:.2} s of {wall_full:.2} s ({:.0}%)",
        wall_full - wall_bare,
        (wall_full - wall_bare) / wall_full * 100.0
    );
    (bare, bare_outs)
}

/// The figures of `sweep.json`'s per-collector costs, in table order.
const COST_FIELDS: [&str; 8] = [
    "bytes_read",
    "files_opened",
    "dir_listings",
    "stats",
    "commands",
    "round_trips",
    "cpu_user_ms",
    "cpu_sys_ms",
];

/// Where the work of a fleet host goes (the `--no-analyze` sweeps in `outs`): per collector,
/// the median per host of each figure, then the totals and the target's side.
fn costs(outs: &[PathBuf], jobs: usize) {
    let mut per: BTreeMap<String, Vec<[f64; 8]>> = BTreeMap::new();
    let mut side: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for out in outs {
        let Ok(data) = std::fs::read(out.join("sweep.json")) else {
            continue;
        };
        let summary: serde_json::Value = serde_json::from_slice(&data).expect("sweep.json");
        for t in summary["targets"].as_array().into_iter().flatten() {
            let runs = t["collectors"].as_array().into_iter().flatten();
            for c in runs.chain(std::iter::once(&t["totals"]).filter(|v| v.is_object())) {
                let name = c["name"].as_str().unwrap_or("(all collectors)").to_string();
                let fig = COST_FIELDS.map(|k| c[k].as_f64().unwrap_or(0.0));
                per.entry(name).or_default().push(fig);
            }
            for k in [
                "sftp_server_cpu_ms",
                "sftp_server_read_bytes",
                "sftp_server_rchar",
                "parent_cpu_ms",
            ] {
                if let Some(v) = t["target_cost"][k].as_f64() {
                    side.entry(k).or_default().push(v);
                }
            }
        }
    }
    if per.is_empty() {
        println!("per-collector cost: sweep.json has none (a dossier without cost figures?)");
        return;
    }
    let med = |v: &[[f64; 8]], i: usize| median(v.iter().map(|f| f[i]).collect());
    let mut rows: Vec<(&String, Vec<f64>)> = per
        .iter()
        .map(|(k, v)| (k, (0..8).map(|i| med(v, i)).collect()))
        .collect();
    // By bytes read, most first; the totals last.
    rows.sort_by(|a, b| {
        (a.0.starts_with('('), b.1[0])
            .partial_cmp(&(b.0.starts_with('('), a.1[0]))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    println!(
        "per-collector cost on a fleet host (sweep -j {jobs} --no-analyze, sweep.json), median per host:"
    );
    println!(
        "  {:<20} {:>10} {:>7} {:>8} {:>7} {:>5} {:>8} {:>9} {:>8}",
        "collector",
        "read KiB",
        "opened",
        "listings",
        "stats",
        "cmds",
        "trips",
        "CPU usr",
        "CPU sys"
    );
    for (name, f) in rows {
        println!(
            "  {:<20} {:>10.0} {:>7.0} {:>8.0} {:>7.0} {:>5.0} {:>8.0} {:>7.0}ms {:>6.0}ms",
            name,
            f[0] / 1024.0,
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7]
        );
    }
    let s = |k: &str| {
        side.get(k)
            .map_or("-".to_string(), |v| format!("{:.0}", median(v.clone())))
    };
    println!(
        "  target side, median per host: SFTP server CPU {} ms, its disk reads {} bytes (read() {} bytes), its parent's CPU {} ms",
        s("sftp_server_cpu_ms"),
        s("sftp_server_read_bytes"),
        s("sftp_server_rchar"),
        s("parent_cpu_ms")
    );
}

/// Host `hi` alone over SSH (`sweep -j 1 --no-analyze`), `runs` times.
fn one_host_over_ssh(bench: &Bench, hi: usize, runs: usize) -> Vec<FleetRun> {
    let ssh: Vec<FleetRun> = (0..runs)
        .map(|_| bench.run_sweep(&bench.addrs[hi..=hi], 1, &bench.fresh("one-ssh"), true))
        .collect();
    let ssh_wall = median(ssh.iter().map(|r| r.m.wall).collect());
    println!(
        "  ssh   sweep -j 1:                              wall {ssh_wall:.2} s, CPU dossier {:.2} s + sshd {:.2} s, peak RSS {:.1} MiB, read {:.2} MiB, bundle {:.2} MiB{}",
        median(ssh.iter().map(|r| r.m.cpu).collect()),
        median(ssh.iter().map(|r| r.sshd_cpu).collect()),
        median(ssh.iter().map(|r| r.m.rss_mib).collect()),
        median(ssh.iter().map(|r| median(r.bytes_read.clone())).collect()) / MIB,
        median(ssh.iter().map(|r| median(r.bundle_bytes.clone())).collect()) / MIB,
        ssh.iter()
            .flat_map(|r| r.not_collected.iter())
            .map(|s| format!("; NOT COLLECTED: {s}"))
            .collect::<String>()
    );
    ssh
}

/// Where the time goes: each collector's duration_ms (median) in each setting.
fn per_collector(ssh: &[FleetRun], bare: &[FleetRun], dead: &Local, live: &Local, jobs: usize) {
    let merged = |runs: &[FleetRun]| {
        let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in runs {
            for (k, v) in &r.collectors {
                m.entry(k.clone()).or_default().extend(v);
            }
        }
        m
    };
    let (ssh_c, fleet_c) = (merged(ssh), merged(bare));
    let mut names: Vec<&String> = ssh_c
        .keys()
        .chain(fleet_c.keys())
        .chain(dead.collectors.keys())
        .chain(live.collectors.keys())
        .collect();
    names.sort();
    names.dedup();
    let cell = |m: &BTreeMap<String, Vec<f64>>, k: &str| {
        m.get(k)
            .filter(|v| !v.is_empty())
            .map_or("-".to_string(), |v| format!("{:.0}", median(v.clone())))
    };
    println!("per-collector duration_ms, median (manifest.json):");
    println!(
        "  {:<20} {:>9} {:>17} {:>13} {:>11}",
        "collector",
        "ssh -j 1",
        format!("ssh fleet -j {jobs}"),
        "local --root",
        "local live"
    );
    for k in names {
        println!(
            "  {:<20} {:>9} {:>17} {:>13} {:>11}",
            k,
            cell(&ssh_c, k),
            cell(&fleet_c, k),
            cell(&dead.collectors, k),
            cell(&live.collectors, k)
        );
    }
}
