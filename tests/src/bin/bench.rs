//! dossier benchmarks. They print figures; nothing here asserts on time.
//!
//! `dossier-bench triage [--runs 5] [--bin PATH] [--playbook NAME-OR-FILE]`
//!   Local triage of this machine with the default playbook (or the one given): wall time and peak RSS of each run
//!   (each run is measured in its own child so the peak RSS is per run), median of the runs.
//!
//! `dossier-bench analyze [--bundles 1000] [--runs 3] [--bin PATH] [--against PATH]`
//!   Analysis throughput: bundles of the fixture roots copied to N distinct bundles in a case
//!   directory (with a custody ledger recording their creation, so analysis checks and appends
//!   to it as in real use), analyzed by `dossier analyze` (each run into a fresh directory);
//!   bundles/s, CPU time and peak RSS of each run and their medians, for N/10 and N bundles.
//!   With `--against OTHER`, the other binary (e.g. an earlier build) is run on the same
//!   bundles, alternating with `--bin` run by run, and the ratio of the medians is printed.
//!   Then one more run of `--bin` with `DOSSIER_TIMINGS=1` prints where the time went, per
//!   stage (open and verify, records JSON, typed parsing, rules, member reads, plugins, render,
//!   ledger, write, fleet pass, final sync; summed over the worker threads).
//!
//! `dossier-bench bundle [--mib 1024] [--runs 3] [--dir DIR]`
//!   Bundle writing throughput on a file set of the given size (a quarter each of random data,
//!   copies of real binaries from /usr, and log text, plus a quarter more random data), against
//!   `sha256sum` alone and `zip -r` alone on the same files in the same run, and `dossier verify`
//!   against `unzip -t` on the result.
//!
//! `dossier-bench load [--hosts 100] [--jobs 32] [--bin PATH] [--playbook NAME|FILE]`
//!   Fleet sweep under load: starts N Clean hosts of the SSH lab (real sshd in namespaces; needs
//!   root), then sweeps the first 10, N/2 and N of them with `-j JOBS` (analysis included), each
//!   into a fresh directory, and prints per run: wall time, time per host, how many hosts were
//!   collected, peak RSS of the dossier process, and its open file descriptors (sampled from
//!   `/proc/<pid>/fd` every 10 ms: at start, peak, and at the last sample before it exited).
//!
//! `dossier-bench sweep [--hosts 30] [--runs 3] [--jobs 8] [--bin PATH]` (root: the SSH lab)
//!   Fleet sweep of N lab hosts (real sshd in namespaces; N/15 of them, at least one, planted
//!   with the miner incident, the rest clean), all runs against one lab: wall time,
//!   hosts/minute, peak RSS of `dossier sweep`, bytes read and bundle size per host, CPU time
//!   of dossier and of the hosts' sshd (the lab's "remote" hosts share this machine's CPUs),
//!   with the default analysis and with `--no-analyze`; every host must be `collected` in
//!   sweep.json (any other outcome is printed). Then one clean host alone: `sweep -j 1
//!   --no-analyze` over SSH against `collect --root` of the same filesystem (dead-box: no
//!   /proc) and `collect` run inside the host's namespaces with nsenter (live, its own /proc),
//!   and the per-collector `duration_ms` of each from the bundles' manifests.

use dossier_bundle::ledger;
use dossier_bundle::manifest::{CollectionTimes, FORMAT, FORMAT_VERSION, Manifest, PlaybookRef};
use dossier_bundle::writer::BundleWriter;
use dossier_cli::local::LocalHost;
use dossier_plugin_api::records::HostFacts;
use dossier_plugin_api::{EvidenceSink, Host, Timestamp};
use dossier_tests::lab::{Lab, LabHost, Scenario};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn default_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.parent().expect("dir").join("dossier")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("triage") => triage(&args),
        Some("bundle") => bundle(&args),
        Some("analyze") => analyze(&args),
        Some("sweep") => sweep(&args),
        Some("load") => load(&args),
        Some("one") => one(&args[2..]),
        _ => {
            eprintln!(
                "usage: dossier-bench triage [--runs N] [--bin PATH] [--playbook P] | bundle [--mib N] [--runs N] [--dir DIR] | analyze [--bundles N] [--runs N] [--bin PATH] [--against PATH] | sweep [--hosts N] [--runs N] [--jobs N] [--bin PATH] | load [--hosts N] [--jobs N] [--bin PATH]"
            );
            std::process::exit(2);
        }
    }
}

/// Runs one command and prints `<wall seconds> <peak RSS KiB> <success> <user CPU seconds>
/// <system CPU seconds>` of it (child rusage of this fresh process covers only that command
/// and the children it waited for).
fn one(cmd: &[String]) {
    let t = Instant::now();
    let st = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    let wall = t.elapsed().as_secs_f64();
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    println!(
        "{wall} {} {} {} {}",
        ru.max_rss(),
        st.success(),
        secs(ru.user_time()),
        secs(ru.system_time())
    );
}

fn measure(cmd: &[&str]) -> (f64, f64) {
    let me = std::env::current_exe().expect("exe");
    let m = measure_cmd(Command::new(me).arg("one").args(cmd));
    assert!(m.ok, "command failed: {cmd:?}");
    (m.wall, m.rss_mib)
}

/// Wall time, peak RSS, success and CPU time (user + system) of one command, as measured by
/// `dossier-bench one`.
struct Measured {
    wall: f64,
    rss_mib: f64,
    ok: bool,
    cpu: f64,
}

/// Runs `cmd`, which must run `dossier-bench one PROGRAM ARGS...` (possibly through `ip netns
/// exec` or `nsenter`, which exec it or wait for it), and reads what `one` printed.
fn measure_cmd(cmd: &mut Command) -> Measured {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.len(), 5, "{cmd:?} printed {text:?} ({})", out.status);
    let num = |i: usize| f[i].parse::<f64>().expect("number");
    Measured {
        wall: num(0),
        rss_mib: num(1) / 1024.0,
        ok: f[2] == "true",
        cpu: num(3) + num(4),
    }
}

fn triage(args: &[String]) {
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

fn xorshift_fill(buf: &mut [u8], seed: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let b = seed.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Builds the file set; returns the file paths (relative to `dir`) and total bytes.
fn make_set(dir: &Path, mib: u64) -> (Vec<PathBuf>, u64) {
    let quarter = mib * 1048576 / 4;
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    // Random (packed or encrypted payloads): two quarters in 64 MiB files.
    std::fs::create_dir_all(dir.join("random")).expect("mkdir");
    let mut left = quarter * 2;
    let mut i = 0;
    while left > 0 {
        let n = left.min(64 << 20);
        let mut buf = vec![0u8; n as usize];
        xorshift_fill(&mut buf, &mut seed);
        let p = PathBuf::from(format!("random/blob{i:03}.bin"));
        std::fs::write(dir.join(&p), &buf).expect("write");
        files.push(p);
        total += n;
        left -= n;
        i += 1;
    }
    // Real executables and libraries (copies), a quarter.
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    let mut sources: Vec<PathBuf> = Vec::new();
    for d in [
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/libexec",
    ] {
        if let Ok(rd) = std::fs::read_dir(d) {
            let mut v: Vec<PathBuf> = rd
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect();
            v.sort();
            sources.extend(v);
        }
    }
    let mut left = quarter;
    let mut i = 0usize;
    while left > 0 && !sources.is_empty() {
        let src = &sources[i % sources.len()];
        if let Ok(data) = std::fs::read(src)
            && !data.is_empty()
        {
            let data = &data[..data.len().min(left as usize)];
            let p = PathBuf::from(format!(
                "bin/{i:05}-{}",
                src.file_name().expect("name").to_string_lossy()
            ));
            std::fs::write(dir.join(&p), data).expect("write");
            files.push(p);
            total += data.len() as u64;
            left -= data.len() as u64;
        }
        i += 1;
    }
    // Log text, a quarter, in 4 MiB files.
    std::fs::create_dir_all(dir.join("log")).expect("mkdir");
    let mut left = quarter;
    let mut i = 0;
    let mut line_no = 0u64;
    while left > 0 {
        let n = left.min(4 << 20) as usize;
        let mut buf = Vec::with_capacity(n + 256);
        while buf.len() < n {
            line_no += 1;
            let _ = writeln!(
                buf,
                "Nov 22 10:{:02}:{:02} web01 sshd[{}]: Failed password for invalid user admin{} from 203.0.113.{} port {} ssh2",
                line_no / 60 % 60,
                line_no % 60,
                1000 + line_no % 9000,
                line_no % 97,
                line_no % 250,
                30000 + line_no % 30000
            );
        }
        buf.truncate(n);
        let p = PathBuf::from(format!("log/auth{i:03}.log"));
        std::fs::write(dir.join(&p), &buf).expect("write");
        files.push(p);
        total += n as u64;
        left -= n as u64;
        i += 1;
    }
    (files, total)
}

fn write_bundle(set: &Path, files: &[PathBuf], out: &Path) -> PathBuf {
    let host = LocalHost::image(set).expect("image");
    let mut w = BundleWriter::create(out, "bench").expect("create");
    w.begin_collector("bench");
    for f in files {
        let p = Path::new("/").join(f);
        w.copy_raw(&host as &dyn Host, &p, u64::MAX).expect("copy");
    }
    w.end_collector("bench").expect("end");
    let now = Timestamp::now();
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        bundle_id: "bench".into(),
        case_id: None,
        examiner: None,
        tool: dossier_cli::orchestrate::tool_info(),
        host: HostFacts {
            hostname: "bench".into(),
            ..Default::default()
        },
        target: host.info(),
        playbook: PlaybookRef {
            name: "bench".into(),
            sha256: "0".repeat(64),
            source: "bench".into(),
        },
        collection: CollectionTimes {
            started: now,
            finished: now,
            duration_ms: 0,
            operator: "bench".into(),
            operator_host: "bench".into(),
        },
        collectors: vec![],
        members: vec![],
    };
    w.finish(manifest, "bench").expect("finish").path
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn run_quiet(cmd: &mut Command) {
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
}

fn bundle(args: &[String]) {
    let mib: u64 = arg(args, "--mib").map_or(1024, |s| s.parse().expect("--mib"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let base = arg(args, "--dir").map(PathBuf::from);
    let tmp = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("tempdir");
    let set = tmp.path().join("set");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&set).expect("mkdir");
    let t = Instant::now();
    let (files, total) = make_set(&set, mib);
    let mb = total as f64 / 1e6;
    println!(
        "file set: {} files, {:.1} MB (built in {:.1} s)",
        files.len(),
        mb,
        t.elapsed().as_secs_f64()
    );
    // Warm the page cache once for everyone.
    run_quiet(Command::new("cat").args(&files).current_dir(&set));

    let (mut d, mut s, mut z, mut v, mut u) = (vec![], vec![], vec![], vec![], vec![]);
    let mut bundle_size = 0;
    let mut zip_size = 0;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let mut path = PathBuf::new();
        d.push(time(|| path = write_bundle(&set, &files, &out)));
        bundle_size = std::fs::metadata(&path).expect("bundle").len();
        s.push(time(|| {
            run_quiet(Command::new("sha256sum").args(&files).current_dir(&set))
        }));
        let refzip = tmp.path().join("ref.zip");
        let _ = std::fs::remove_file(&refzip);
        z.push(time(|| {
            run_quiet(
                Command::new("zip")
                    .arg("-q")
                    .arg("-r")
                    .arg(&refzip)
                    .arg(".")
                    .current_dir(&set),
            )
        }));
        zip_size = std::fs::metadata(&refzip).expect("ref zip").len();
        let limits = dossier_bundle::reader::Limits::default();
        v.push(time(|| {
            assert!(
                dossier_bundle::reader::verify(&path, &limits)
                    .problems
                    .iter()
                    .all(|p| p.subject == "custody ledger")
            )
        }));
        u.push(time(|| {
            run_quiet(Command::new("unzip").arg("-tq").arg(&path))
        }));
    }
    let (d, s, z, v, u) = (median(d), median(s), median(z), median(v), median(u));
    println!("median of {runs} runs on {mb:.1} MB:");
    println!(
        "  dossier bundle write (hash+compress+hash, fsync): {d:.2} s = {:.0} MB/s, bundle {:.1} MB",
        mb / d,
        bundle_size as f64 / 1e6
    );
    println!(
        "  sha256sum alone:                                  {s:.2} s = {:.0} MB/s",
        mb / s
    );
    println!(
        "  zip -r alone (default level):                     {z:.2} s = {:.0} MB/s, zip {:.1} MB",
        mb / z,
        zip_size as f64 / 1e6
    );
    println!(
        "  sha256sum + zip:                                  {:.2} s = {:.0} MB/s",
        s + z,
        mb / (s + z)
    );
    println!(
        "  ratio dossier / sha256sum: {:.2}x faster; dossier / (sha256sum + zip): {:.2}x faster",
        s / d,
        (s + z) / d
    );
    println!(
        "  dossier verify: {v:.2} s = {:.0} MB/s; unzip -t: {u:.2} s = {:.0} MB/s; ratio {:.2}x",
        mb / v,
        mb / u,
        u / v
    );
}

fn analyze(args: &[String]) {
    let n: usize = arg(args, "--bundles").map_or(1000, |s| s.parse().expect("--bundles"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let against = arg(args, "--against").map(PathBuf::from);
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sources = Vec::new();
    for f in ["rootfs-clean", "rootfs-miner", "rootfs-persist"] {
        let out = Command::new(&bin)
            .args(["collect", "--quiet", "--no-analyze", "--out"])
            .arg(dir.path().join("src"))
            .arg("--root")
            .arg(fixtures.join(f))
            .output()
            .expect("collect");
        assert!(out.status.success(), "collect {f} failed");
        sources.push(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ));
    }
    for count in [n / 10, n] {
        let set = dir.path().join(format!("set{count}"));
        std::fs::create_dir_all(&set).expect("mkdir");
        let mut names = Vec::new();
        for i in 0..count {
            let src = &sources[i % sources.len()];
            let name = format!("bundle{i:05}.zip");
            std::fs::copy(src, set.join(&name)).expect("copy");
            let sum =
                std::fs::read_to_string(format!("{}.sha256", src.display())).expect("sidecar");
            std::fs::write(
                set.join(format!("{name}.sha256")),
                format!("{}  {name}\n", &sum[..64]),
            )
            .expect("sidecar");
            ledger::append(
                &set,
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
        let mut bins = vec![("", bin.clone())];
        if let Some(other) = &against {
            bins.push((" (--against)", other.clone()));
        }
        // Per binary: (wall, CPU, peak RSS) of each run.
        let mut got: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); bins.len()];
        for run in 0..runs {
            for (k, (label, b)) in bins.iter().enumerate() {
                let out = dir.path().join(format!("rep{count}-{k}-{run}"));
                let mut cmd = Command::new(std::env::current_exe().expect("exe"));
                cmd.arg("one")
                    .arg(b)
                    .args(["analyze", "--out"])
                    .arg(&out)
                    .args(&names);
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
        let mut medians = Vec::new();
        for ((label, b), runs) in bins.iter().zip(&got) {
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
        let out = dir.path().join(format!("rep{count}-timed"));
        let timed = Command::new(&bin)
            .env("DOSSIER_TIMINGS", "1")
            .args(["analyze", "--out"])
            .arg(&out)
            .args(&names)
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
        let _ = std::fs::remove_dir_all(&out);
    }
}

const MIB: f64 = 1048576.0;

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// What one fleet sweep produced, from its measurement, `sweep.json` and the bundles.
struct FleetRun {
    m: Measured,
    /// CPU seconds of every host's sshd (and what it ran) during the sweep.
    sshd_cpu: f64,
    /// Machine CPU use during the sweep, as a fraction of all CPUs (everyone's processes).
    busy: f64,
    /// Targets not `collected`, as `target: outcome (reason)`.
    not_collected: Vec<String>,
    bytes_read: Vec<f64>,
    bundle_bytes: Vec<f64>,
    /// `duration_ms` of each host in sweep.json, in seconds.
    host_secs: Vec<f64>,
    /// Collector name -> `duration_ms` of each host's run of it.
    collectors: BTreeMap<String, Vec<f64>>,
}

/// Reads `out/sweep.json` and the bundles it names; every target of `expected` must be there.
fn read_sweep(m: Measured, out: &Path, expected: &[String]) -> FleetRun {
    let mut r = FleetRun {
        m,
        sshd_cpu: 0.0,
        busy: 0.0,
        not_collected: vec![],
        bytes_read: vec![],
        bundle_bytes: vec![],
        host_secs: vec![],
        collectors: BTreeMap::new(),
    };
    let summary: Value = match std::fs::read(out.join("sweep.json")) {
        Ok(data) => serde_json::from_slice(&data).expect("sweep.json is JSON"),
        Err(e) => {
            r.not_collected.push(format!("no sweep.json: {e}"));
            return r;
        }
    };
    let targets = summary["targets"].as_array().cloned().unwrap_or_default();
    for want in expected {
        if !targets.iter().any(|t| t["target"] == want.as_str()) {
            r.not_collected
                .push(format!("{want}: missing from sweep.json"));
        }
    }
    for t in &targets {
        let outcome = t["outcome"].as_str().unwrap_or("?");
        if outcome != "collected" {
            r.not_collected.push(format!(
                "{}: {outcome} ({})",
                t["target"].as_str().unwrap_or("?"),
                t["reason"].as_str().unwrap_or("")
            ));
        }
        r.host_secs
            .push(t["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0);
        if let Some(b) = t["bytes_read"].as_f64() {
            r.bytes_read.push(b);
        }
        if let Some(name) = t["bundle"].as_str() {
            let bundle = out.join(name);
            if let Ok(md) = std::fs::metadata(&bundle) {
                r.bundle_bytes.push(md.len() as f64);
            }
            collector_times(&bundle, &mut r.collectors);
        }
    }
    r
}

/// Adds each collector's `duration_ms` of a bundle's manifest to `acc`.
fn collector_times(bundle: &Path, acc: &mut BTreeMap<String, Vec<f64>>) {
    let m = dossier_tests::manifest(bundle);
    for c in m["collectors"].as_array().into_iter().flatten() {
        if let (Some(name), Some(ms)) = (c["name"].as_str(), c["duration_ms"].as_f64()) {
            acc.entry(name.to_string()).or_default().push(ms);
        }
    }
    if let Some(ms) = m["collection"]["duration_ms"].as_f64() {
        acc.entry("(collection total)".into()).or_default().push(ms);
    }
}

/// The single `.zip` bundle in `dir`.
fn only_bundle(dir: &Path) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    (v.len() == 1).then(|| v.remove(0))
}

/// Per-run figures of a fleet sweep (`per` picks each figure from the runs: one run, or the
/// median of several).
fn print_fleet(what: &str, n: usize, cores: usize, runs: &[FleetRun]) -> f64 {
    let per = |f: &dyn Fn(&FleetRun) -> f64| median(runs.iter().map(f).collect());
    let wall = per(&|r| r.m.wall);
    let incomplete: Vec<&String> = runs.iter().flat_map(|r| &r.not_collected).collect();
    println!(
        "  {what}: wall {wall:.2} s = {:.0} hosts/min, peak RSS {:.1} MiB, CPU dossier {:.1} s + sshd {:.1} s, machine busy {:.0}% of {cores} CPUs",
        n as f64 / wall * 60.0,
        per(&|r| r.m.rss_mib),
        per(&|r| r.m.cpu),
        per(&|r| r.sshd_cpu),
        per(&|r| r.busy) * 100.0,
    );
    println!(
        "  {:w$}  per host: read median {:.2} max {:.2} MiB, bundle median {:.2} max {:.2} MiB, time median {:.2} max {:.2} s; {}",
        "",
        per(&|r| median(r.bytes_read.clone())) / MIB,
        per(&|r| max(&r.bytes_read)) / MIB,
        per(&|r| median(r.bundle_bytes.clone())) / MIB,
        per(&|r| max(&r.bundle_bytes)) / MIB,
        per(&|r| median(r.host_secs.clone())),
        per(&|r| max(&r.host_secs)),
        if incomplete.is_empty() {
            format!("all {n} collected")
        } else {
            format!(
                "NOT COLLECTED ({}): {}",
                incomplete.len(),
                incomplete
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
        w = what.len()
    );
    wall
}

/// USER_HZ, the unit of the times in `/proc/PID/stat` (100 on every mainstream Linux).
const USER_HZ: f64 = 100.0;

/// Busy and total time of all CPUs so far, in jiffies (first line of `/proc/stat`).
fn machine_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Fields of `/proc/PID/stat` after the command name (index 0 is the state, field 3).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The host's sshd listener: the first of its services named `sshd` (sshd is chrooted into
/// the host's filesystem; the host's PID 1 is not).
fn sshd_pid(h: &LabHost) -> Option<u32> {
    h.pids.iter().skip(2).copied().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sshd")
    })
}

/// CPU seconds used so far by every host's sshd and the children it reaped (the sessions,
/// their SFTP server and the commands they ran): utime + stime + cutime + cstime of each
/// listener. Waits (up to 5 s) for the sessions of a finished sweep to be reaped first.
fn sshd_cpu(lab: &Lab) -> f64 {
    let pids: Vec<u32> = lab.hosts().iter().filter_map(sshd_pid).collect();
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    for &pid in &pids {
        while Instant::now() < deadline
            && !std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .trim()
                .is_empty()
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let mut jiffies = 0u64;
    for pid in pids {
        let f = stat_fields(pid);
        jiffies += (11..=14)
            .filter_map(|i| f.get(i).and_then(|x| x.parse::<u64>().ok()))
            .sum::<u64>();
    }
    jiffies as f64 / USER_HZ
}

/// Machine CPU use over an interval, as a fraction of all its CPUs.
struct Busy((u64, u64));

impl Busy {
    fn start() -> Busy {
        Busy(machine_jiffies())
    }
    fn fraction(&self) -> f64 {
        let (b1, t1) = machine_jiffies();
        let (b0, t0) = self.0;
        (b1 - b0) as f64 / (t1 - t0).max(1) as f64
    }
}

fn sweep(args: &[String]) {
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
    let miners = if n >= 2 { (n / 15).max(1) } else { 0 };
    let mut scenarios = vec![Scenario::Clean; n - miners];
    scenarios.extend(std::iter::repeat_n(Scenario::Miner, miners));
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let addrs: Vec<String> = lab.hosts().iter().map(|h| h.addr.to_string()).collect();
    let mut serial = 0usize;
    let mut fresh = |what: &str| {
        serial += 1;
        tmp.path().join(format!("{what}-{serial}"))
    };
    // `dossier sweep TARGETS` in the lab namespace, measured; sweep.json and bundles read.
    let run_sweep = |targets: &[String], jobs: usize, out: &Path, no_analyze: bool| {
        let mut c = lab.command(&me);
        c.arg("one")
            .arg(&bin)
            .arg("sweep")
            .args(targets)
            .arg("-i")
            .arg(lab.client_key())
            .arg("--known-hosts")
            .arg(lab.known_hosts())
            .args(["--ssh-config", "/dev/null", "-j", &jobs.to_string(), "-q"])
            .arg("--out")
            .arg(out)
            .env("HOME", &home)
            .env_remove("SSH_AUTH_SOCK");
        if no_analyze {
            c.arg("--no-analyze");
        }
        let sshd0 = sshd_cpu(&lab);
        let busy = Busy::start();
        let m = measure_cmd(&mut c);
        let busy = busy.fraction();
        let mut r = read_sweep(m, out, targets);
        r.busy = busy;
        r.sshd_cpu = sshd_cpu(&lab) - sshd0;
        r
    };

    // The fleet, with analysis and collection alone.
    let mut full = vec![];
    let mut bare = vec![];
    println!("sweep of {n} hosts, -j {jobs}, default playbook:");
    for i in 0..runs {
        for (no_analyze, acc) in [(false, &mut full), (true, &mut bare)] {
            let r = run_sweep(&addrs, jobs, &fresh("fleet"), no_analyze);
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
    let ssh: Vec<FleetRun> = (0..runs)
        .map(|_| run_sweep(&addrs[hi..=hi], 1, &fresh("one-ssh"), true))
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

    // A local collection, measured: wall, CPU, RSS, bundle size, collector times.
    struct Local {
        m: Vec<Measured>,
        bundle: Vec<f64>,
        collectors: BTreeMap<String, Vec<f64>>,
    }
    impl Local {
        fn add(&mut self, m: Measured, out: &Path) {
            assert!(m.ok, "dossier collect into {} failed", out.display());
            let b = only_bundle(out).expect("one bundle");
            self.bundle
                .push(std::fs::metadata(&b).expect("bundle").len() as f64);
            collector_times(&b, &mut self.collectors);
            self.m.push(m);
        }
        fn print(&self, what: &str) -> f64 {
            let wall = median(self.m.iter().map(|m| m.wall).collect());
            println!(
                "  {what} wall {wall:.2} s, CPU {:.2} s, peak RSS {:.1} MiB, bundle {:.2} MiB",
                median(self.m.iter().map(|m| m.cpu).collect()),
                median(self.m.iter().map(|m| m.rss_mib).collect()),
                median(self.bundle.clone()) / MIB
            );
            wall
        }
    }
    let new_local = || Local {
        m: vec![],
        bundle: vec![],
        collectors: BTreeMap::new(),
    };

    // Dead-box: the host's filesystem as an image (its /proc is not read as a live system).
    let mut dead = new_local();
    for _ in 0..runs {
        let out = fresh("one-root");
        let m = measure_cmd(
            Command::new(&me)
                .arg("one")
                .arg(&bin)
                .args(["collect", "--no-analyze", "-q", "--root"])
                .arg(&h.root)
                .arg("--out")
                .arg(&out),
        );
        dead.add(m, &out);
    }
    let dead_wall = dead.print("local collect --root (dead-box, no /proc):   ");

    // Live, inside the host: the mount namespace and root of its sshd (chrooted into the
    // host's filesystem), its UTS, PID and network namespaces.
    let mut live = new_local();
    let nsenter = ["/usr/bin/nsenter", "/bin/nsenter"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let pid = sshd_pid(h).filter(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/root/etc/hostname"))
            .is_ok_and(|s| s.trim() == h.name)
    });
    let visible = |pid: u32, p: &Path| {
        Path::new(&format!("/proc/{pid}/root"))
            .join(p.strip_prefix("/").expect("absolute"))
            .is_file()
    };
    let mut live_wall = None;
    match (nsenter, pid) {
        (Some(nsenter), Some(pid)) if visible(pid, &bin) && visible(pid, &me) => {
            for i in 0..runs {
                // Written to the host's own /tmp (a tmpfs of the host), read from outside.
                let inside = format!("/tmp/dossier-bench-live-{i}");
                let m = measure_cmd(
                    Command::new(nsenter)
                        .args(["--target", &pid.to_string()])
                        .args(["--mount", "--uts", "--pid", "--net", "--root", "--wd", "--"])
                        .arg(&me)
                        .arg("one")
                        .arg(&bin)
                        .args(["collect", "--no-analyze", "-q", "--out", &inside]),
                );
                let out = h.root.join(inside.trim_start_matches('/'));
                live.add(m, &out);
                let _ = std::fs::remove_dir_all(&out);
            }
            live_wall = Some(live.print("local collect inside the host (live, nsenter):"));
            println!(
                "    (the live bundle also holds copies of dossier and dossier-bench: running in the host, unowned by any package)"
            );
        }
        _ => println!(
            "  local collect inside the host: skipped (nsenter: {nsenter:?}, sshd chrooted in the host: {pid:?}, or the binaries are not visible in the host's root)"
        ),
    }
    print!("  ratio ssh/local: {:.1}x (dead-box)", ssh_wall / dead_wall);
    if let Some(w) = live_wall {
        print!(", {:.1}x (live)", ssh_wall / w);
    }
    println!();

    // Where the time goes: each collector's duration_ms (median) in each setting.
    let merged = |runs: &[FleetRun]| {
        let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in runs {
            for (k, v) in &r.collectors {
                m.entry(k.clone()).or_default().extend(v);
            }
        }
        m
    };
    let (ssh_c, fleet_c) = (merged(&ssh), merged(&bare));
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

/// What was seen of one process while it ran.
struct FdSamples {
    first: usize,
    peak: usize,
    last: usize,
    samples: usize,
}

/// Samples the number of open fds of `pid` every 10 ms until `done` is set; only once the
/// process runs `exe` (after `ip netns exec` has exec'd it).
fn sample_fds(
    pid: u32,
    exe: PathBuf,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<FdSamples> {
    std::thread::spawn(move || {
        let mut s = FdSamples {
            first: 0,
            peak: 0,
            last: 0,
            samples: 0,
        };
        let fd_dir = PathBuf::from(format!("/proc/{pid}/fd"));
        let exe_link = PathBuf::from(format!("/proc/{pid}/exe"));
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            if std::fs::read_link(&exe_link).is_ok_and(|e| e == exe)
                && let Ok(rd) = std::fs::read_dir(&fd_dir)
            {
                let n = rd.count();
                if s.samples == 0 {
                    s.first = n;
                }
                s.samples += 1;
                s.peak = s.peak.max(n);
                s.last = n;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        s
    })
}

/// `dossier-bench load`: see the module documentation.
fn load(args: &[String]) {
    use dossier_tests::lab::{Lab, Scenario};
    let hosts: usize = arg(args, "--hosts").map_or(100, |s| s.parse().expect("--hosts"));
    let jobs: usize = arg(args, "--jobs").map_or(32, |s| s.parse().expect("--jobs"));
    let playbook = arg(args, "--playbook");
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let bin = std::fs::canonicalize(&bin).expect("dossier binary");
    if let Some(why) = Lab::unavailable(&[Scenario::Clean]) {
        eprintln!("dossier-bench load: the SSH lab cannot run here: {why}");
        std::process::exit(2);
    }
    let t = Instant::now();
    let lab = Lab::start(&vec![Scenario::Clean; hosts]).expect("lab start");
    println!(
        "lab: {hosts} Clean hosts (sshd in namespaces) started in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut counts: Vec<usize> = vec![10.min(hosts), hosts / 2, hosts];
    counts.dedup();
    counts.retain(|&n| n > 0);
    println!(
        "{:>6} {:>9} {:>12} {:>10} {:>13} {:>22}",
        "hosts", "wall s", "s per host", "collected", "peak RSS MiB", "open fds start/peak/end"
    );
    for n in counts {
        let out = dir.path().join(format!("sweep{n}"));
        let mut cmd = lab.command(&bin);
        cmd.arg("sweep")
            .args(lab.hosts()[..n].iter().map(|h| h.addr.to_string()))
            .args(["-j", &jobs.to_string(), "-q", "--ssh-config", "/dev/null"])
            .arg("-i")
            .arg(lab.client_key())
            .arg("--known-hosts")
            .arg(lab.known_hosts())
            .arg("--out")
            .arg(&out)
            .env("HOME", dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &playbook {
            cmd.arg("--playbook").arg(p);
        }
        // The child's peak RSS starts from ours (fork copies the high-water mark): reset it.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let t = Instant::now();
        let child = cmd.spawn().expect("spawn sweep");
        let pid = child.id();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = sample_fds(pid, bin.clone(), done.clone());
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 reaps our own child, which `child` (never
        // waited on through std) does not touch again.
        let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { nix::libc::wait4(pid as i32, &mut status, 0, &mut ru) };
        assert_eq!(r, pid as i32, "wait4");
        drop(child);
        let wall = t.elapsed().as_secs_f64();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let fds = sampler.join().expect("sampler");
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("sweep.json")).expect("sweep.json"))
                .expect("sweep.json is JSON");
        let targets = summary["targets"].as_array().cloned().unwrap_or_default();
        let collected = targets
            .iter()
            .filter(|t| t["outcome"] == "collected")
            .count();
        println!(
            "{n:>6} {wall:>9.1} {:>12.2} {:>6}/{n:<3} {:>13.1} {:>22}",
            wall / n as f64,
            collected,
            ru.ru_maxrss as f64 / 1024.0,
            format!("{}/{}/{}", fds.first, fds.peak, fds.last)
        );
        for t in targets.iter().filter(|t| t["outcome"] != "collected") {
            println!(
                "  not collected: {} {} {}",
                t["target"], t["outcome"], t["reason"]
            );
        }
        let durations: Vec<f64> = targets
            .iter()
            .filter_map(|t| t["duration_ms"].as_f64())
            .map(|ms| ms / 1000.0)
            .collect();
        if !durations.is_empty() {
            println!(
                "  per-host collection time (sweep.json): median {:.2} s, max {:.2} s; {} fd samples; exit status {}",
                median(durations.clone()),
                durations.iter().cloned().fold(0.0, f64::max),
                fds.samples,
                if nix::libc::WIFEXITED(status) {
                    nix::libc::WEXITSTATUS(status).to_string()
                } else {
                    "signal".into()
                }
            );
        }
    }
}
