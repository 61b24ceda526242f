//! `dossier-bench scale`: lab sweeps of growing size against one lab (10, 30, 100 and 200
//! hosts unless `--hosts` says otherwise; one host in 15 planted with the miner incident, the
//! rest clean): wall time, time per host, the orchestrator's peak memory (and per concurrent
//! host), client and target CPU per host, and whether the per-host figures stay flat from the
//! smallest sweep to the largest. Then [`crate::shards`]: the largest fleet swept in shards at
//! the same time and merged, against the one sweep of it.

use crate::cpu::{Busy, sshd_cpu};
use crate::fleet::{FleetRun, read_sweep, sweep_command};
use crate::measure::{Measured, measure_cmd};
use crate::{arg, default_bin, median};
use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::s3::{Moto, env_for, relay_from_netns};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One lab and what every measured sweep against it needs.
pub struct Ctx {
    pub lab: Lab,
    /// This program (`dossier-bench one` measures each run) and the dossier binary measured.
    pub me: PathBuf,
    pub bin: PathBuf,
    pub home: PathBuf,
    pub tmp: tempfile::TempDir,
    pub jobs: usize,
    /// Options given to every sweep (`--playbook`).
    pub extra: Vec<String>,
    /// `--s3`: the local S3-compatible server the shards upload to, and the port of its relay
    /// in the lab's network namespace (where the sweeps run).
    pub s3: Option<(Moto, u16)>,
}

impl Ctx {
    /// `dossier sweep TARGETS -j JOBS OPTIONS` into `out`, measured (with the hosts' sshd CPU
    /// and the machine's busy share over the same time); sweep.json and bundles read.
    pub fn sweep(&self, targets: &[String], out: &Path, options: &[&str]) -> FleetRun {
        let c = sweep_command(
            &self.lab,
            (&self.me, &self.bin),
            &self.home,
            targets,
            self.jobs,
            out,
        );
        self.measured(c, options, |m| read_sweep(m, out, targets))
    }

    /// As [`Ctx::sweep`], into `s3://BUCKET/{prefix}` of the `--s3` server (through its relay);
    /// what the sweep uploaded is then copied from the bucket into `local` and read there.
    pub fn sweep_s3(
        &self,
        targets: &[String],
        prefix: &str,
        local: &Path,
        options: &[&str],
    ) -> FleetRun {
        let (moto, relay) = self.s3.as_ref().expect("--s3");
        let url = format!("s3://{BUCKET}/{prefix}");
        let mut c = sweep_command(
            &self.lab,
            (&self.me, &self.bin),
            &self.home,
            targets,
            self.jobs,
            Path::new(&url),
        );
        env_for(&mut c, &format!("http://127.0.0.1:{relay}"));
        c.env("TMPDIR", self.tmp.path());
        self.measured(c, options, |m| {
            download(moto, prefix, local);
            read_sweep(m, local, targets)
        })
    }

    /// Runs a sweep `c` with `options`, measured with the hosts' sshd CPU and the machine's
    /// busy share over the same time; `read` then reads what it produced.
    fn measured(
        &self,
        mut c: std::process::Command,
        options: &[&str],
        read: impl FnOnce(Measured) -> FleetRun,
    ) -> FleetRun {
        c.args(&self.extra).args(options);
        let sshd0 = sshd_cpu(&self.lab);
        let busy = Busy::start();
        let m = measure_cmd(&mut c);
        let busy = busy.fraction();
        let mut r = read(m);
        r.busy = busy;
        r.sshd_cpu = sshd_cpu(&self.lab) - sshd0;
        r
    }
}

/// The bucket of `--s3`.
pub const BUCKET: &str = "dossier-bench";

/// Copies every object under `prefix/` of the bench bucket into `local` (keys below the
/// prefix as relative paths).
fn download(moto: &Moto, prefix: &str, local: &Path) {
    for key in moto.keys(BUCKET) {
        let Some(rel) = key.strip_prefix(&format!("{prefix}/")) else {
            continue;
        };
        let to = local.join(rel);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("local copy");
        std::fs::write(&to, moto.get(BUCKET, &key)).expect("local copy");
    }
}

/// Per-host figures of one sweep of `n` hosts.
struct Row {
    n: usize,
    /// Hosts collected at once: the smaller of `-j` and `n`.
    in_flight: usize,
    wall: f64,
    rss_mib: f64,
    /// The dossier process's CPU seconds (collection, compression, analysis) per host.
    client_cpu: f64,
    /// The hosts' sshd (and what it ran) CPU seconds per host, from `/proc`.
    target_cpu: f64,
    /// Medians per host from sweep.json, in ms: collecting thread, target side.
    collect_ms: Option<f64>,
    target_ms: Option<f64>,
    busy: f64,
    collected: usize,
}

impl Row {
    fn of(n: usize, jobs: usize, r: &FleetRun) -> Row {
        let med = |v: &[f64]| (!v.is_empty()).then(|| median(v.to_vec()));
        Row {
            n,
            in_flight: jobs.min(n),
            wall: r.m.wall,
            rss_mib: r.m.rss_mib,
            client_cpu: r.m.cpu / n as f64,
            target_cpu: r.sshd_cpu / n as f64,
            collect_ms: med(&r.collect_cpu_ms),
            target_ms: med(&r.target_cpu_ms),
            busy: r.busy,
            collected: n - r.not_collected.len().min(n),
        }
    }
}

/// Scenarios of a lab of `n` hosts: host `i` is a Miner when `i % 15 == 7`, so every prefix of
/// the list of 8 hosts or more has about one in 15.
fn scenarios(n: usize) -> Vec<Scenario> {
    (0..n)
        .map(|i| {
            if i % 15 == 7 {
                Scenario::Miner
            } else {
                Scenario::Clean
            }
        })
        .collect()
}

/// `dossier-bench scale`: see the module documentation.
pub fn scale(args: &[String]) {
    let mut sizes: Vec<usize> = arg(args, "--hosts")
        .unwrap_or_else(|| "10,30,100,200".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("--hosts: numbers separated by commas")
        })
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes.retain(|&n| n > 0);
    let jobs: usize = arg(args, "--jobs").map_or(8, |s| s.parse().expect("--jobs"));
    let shards: usize = arg(args, "--shards").map_or(2, |s| s.parse().expect("--shards"));
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let bin = std::fs::canonicalize(&bin).expect("--bin");
    let me = std::fs::canonicalize(std::env::current_exe().expect("exe")).expect("exe");
    let max = *sizes.last().expect("--hosts: at least one size");
    if let Some(why) = Lab::unavailable(&scenarios(max)) {
        eprintln!("dossier-bench scale: the SSH lab cannot run here: {why}");
        std::process::exit(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "machine: {cores} CPUs, load average {}; dossier {}",
        load.join(" "),
        bin.display()
    );
    let t = Instant::now();
    let lab = match Lab::start(&scenarios(max)) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("dossier-bench scale: the SSH lab cannot start: {e}");
            std::process::exit(1);
        }
    };
    let miners = scenarios(max).iter().filter(|s| s.is_miner()).count();
    println!(
        "lab: {max} hosts ({miners} miner, the rest clean) started in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let mut extra = vec![];
    if let Some(p) = arg(args, "--playbook") {
        extra = vec!["--playbook".to_string(), p];
    }
    let s3 = args.iter().any(|a| a == "--s3").then(|| {
        let Some(moto) = Moto::start() else {
            eprintln!("dossier-bench scale --s3: no moto_server (set DOSSIER_MOTO_SERVER)");
            std::process::exit(2);
        };
        moto.create_bucket(BUCKET);
        let relay = relay_from_netns(lab.netns(), moto.port);
        (moto, relay)
    });
    let ctx = Ctx {
        lab,
        me,
        bin,
        home,
        tmp,
        jobs,
        extra,
        s3,
    };
    let targets: Vec<String> = ctx.lab.hosts().iter().map(|h| h.addr.to_string()).collect();
    let mut rows = vec![];
    let mut largest = None;
    for &n in &sizes {
        let out = ctx.tmp.path().join(format!("sweep-{n}"));
        let r = ctx.sweep(&targets[..n], &out, &[]);
        for s in &r.not_collected {
            println!("  {n} hosts: NOT COLLECTED: {s}");
        }
        let row = Row::of(n, jobs, &r);
        println!(
            "  swept {n} hosts: wall {:.1} s, {} collected",
            row.wall, row.collected
        );
        rows.push(row);
        largest = Some((out, r.m.wall));
    }
    print_table(&rows, jobs, cores);
    flatness(&rows);
    let (whole, wall) = largest.expect("one sweep at least");
    if shards >= 2 {
        crate::shards::shards(&ctx, &targets, &whole, wall, shards);
    }
}

fn print_table(rows: &[Row], jobs: usize, cores: usize) {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.0}"));
    println!(
        "sweeps with analysis, -j {jobs}, each once against the same lab ({cores} CPUs shared by dossier and every host's sshd):"
    );
    println!(
        "  {:>5} {:>8} {:>8} {:>9} {:>11} {:>11} {:>11} {:>12} {:>11} {:>6} {:>9}",
        "hosts",
        "wall s",
        "s/host",
        "peak MiB",
        "MiB/in-fl.",
        "client s/h",
        "target s/h",
        "collect ms/h",
        "target ms/h",
        "busy",
        "collected"
    );
    for r in rows {
        println!(
            "  {:>5} {:>8.1} {:>8.2} {:>9.1} {:>11.1} {:>11.2} {:>11.2} {:>12} {:>11} {:>5.0}% {:>5}/{}",
            r.n,
            r.wall,
            r.wall / r.n as f64,
            r.rss_mib,
            r.rss_mib / r.in_flight as f64,
            r.client_cpu,
            r.target_cpu,
            opt(r.collect_ms),
            opt(r.target_ms),
            r.busy * 100.0,
            r.collected,
            r.n
        );
    }
    println!(
        "  (s/host: wall / hosts; MiB/in-fl.: peak RSS / hosts in flight (min of -j and hosts); client s/h: CPU of the dossier process / hosts;"
    );
    println!(
        "   target s/h: CPU of the hosts' sshd and the sessions it ran, from /proc / hosts; collect ms/h and target ms/h: medians per host"
    );
    println!(
        "   of sweep.json's totals.cpu_*_ms (the collecting thread) and target_cost (SFTP server + its parent), '-' when not reported)"
    );
}

/// Whether each per-host figure stays flat from the smallest sweep to the largest: the ratio
/// largest/smallest, "flat" within 20%.
fn flatness(rows: &[Row]) {
    let (Some(a), Some(b)) = (rows.first(), rows.last()) else {
        return;
    };
    if a.n == b.n {
        return;
    }
    let figures: [(&str, f64, f64); 4] = [
        ("wall per host", a.wall / a.n as f64, b.wall / b.n as f64),
        ("client CPU per host", a.client_cpu, b.client_cpu),
        ("target CPU per host", a.target_cpu, b.target_cpu),
        (
            "peak memory per host in flight",
            a.rss_mib / a.in_flight as f64,
            b.rss_mib / b.in_flight as f64,
        ),
    ];
    println!("per-host cost from {} to {} hosts:", a.n, b.n);
    let mut flat = true;
    for (what, x, y) in figures {
        let ratio = y / x;
        let ok = ratio <= 1.2;
        flat &= ok;
        println!(
            "  {what:<31} {x:>8.3} -> {y:>8.3}  x{ratio:.2}  {}",
            if ok { "flat" } else { "GROWS" }
        );
    }
    println!(
        "  per-host cost {} from {} to {} hosts (flat: at most 20% more per host at the largest)",
        if flat {
            "stays flat"
        } else {
            "does NOT stay flat"
        },
        a.n,
        b.n
    );
}
