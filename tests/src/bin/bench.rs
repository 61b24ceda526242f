//! dossier benchmarks. They print figures; nothing here asserts on time.
//!
//! `dossier-bench triage [--runs 5] [--bin PATH]`
//!   Local triage of this machine with the default playbook: wall time and peak RSS of each run
//!   (each run is measured in its own child so the peak RSS is per run), median of the runs.
//!
//! `dossier-bench analyze [--bundles 1000] [--bin PATH]`
//!   Analysis throughput: bundles of the fixture roots copied to N distinct bundles in a case
//!   directory (with a custody ledger recording their creation, so analysis checks and appends
//!   to it as in real use), analyzed by one `dossier analyze` run; bundles/s and peak RSS for
//!   N/10 and N bundles.
//!
//! `dossier-bench load [--hosts 100] [--jobs 32] [--bin PATH] [--playbook NAME|FILE]`
//!   Fleet sweep under load: starts N Clean hosts of the SSH lab (real sshd in namespaces; needs
//!   root), then sweeps the first 10, N/2 and N of them with `-j JOBS` (analysis included), each
//!   into a fresh directory, and prints per run: wall time, time per host, how many hosts were
//!   collected, peak RSS of the dossier process, and its open file descriptors (sampled from
//!   `/proc/<pid>/fd` every 10 ms: at start, peak, and at the last sample before it exited).
//!
//! `dossier-bench bundle [--mib 1024] [--runs 3] [--dir DIR]`
//!   Bundle writing throughput on a file set of the given size (a quarter each of random data,
//!   copies of real binaries from /usr, and log text, plus a quarter more random data), against
//!   `sha256sum` alone and `zip -r` alone on the same files in the same run, and `dossier verify`
//!   against `unzip -t` on the result.

use dossier_cli::bundle::ledger;
use dossier_cli::bundle::manifest::{
    CollectionTimes, FORMAT, FORMAT_VERSION, Manifest, PlaybookRef,
};
use dossier_cli::bundle::writer::BundleWriter;
use dossier_cli::local::LocalHost;
use dossier_plugin_api::records::HostFacts;
use dossier_plugin_api::{EvidenceSink, Host, Timestamp};
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
        Some("load") => load(&args),
        Some("one") => one(&args[2..]),
        _ => {
            eprintln!(
                "usage: dossier-bench triage [--runs N] [--bin PATH] | bundle [--mib N] [--runs N] [--dir DIR] | analyze [--bundles N] [--bin PATH] | load [--hosts N] [--jobs N] [--bin PATH]"
            );
            std::process::exit(2);
        }
    }
}

/// Runs one command and prints `<wall seconds> <peak RSS KiB>` of it (child rusage of this
/// fresh process covers only that command).
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
    println!("{wall} {} {}", ru.max_rss(), st.success());
}

fn measure(cmd: &[&str]) -> (f64, f64) {
    let me = std::env::current_exe().expect("exe");
    let out = Command::new(me).arg("one").args(cmd).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.get(2), Some(&"true"), "command failed: {cmd:?}");
    (
        f[0].parse().expect("wall"),
        f[1].parse::<f64>().expect("rss") / 1024.0,
    )
}

fn triage(args: &[String]) {
    let runs: usize = arg(args, "--runs").map_or(5, |s| s.parse().expect("--runs"));
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for i in 0..runs {
        let (w, r) = measure(&[
            bin.to_str().expect("utf-8"),
            "collect",
            "--quiet",
            "--out",
            out_s,
        ]);
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
        "local triage (default playbook, {runs} runs, {}): median wall {:.2} s, median peak RSS {:.1} MiB, bundle median {:.1} MiB",
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
        let limits = dossier_cli::bundle::reader::Limits::default();
        v.push(time(|| {
            assert!(
                dossier_cli::bundle::reader::verify(&path, &limits)
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
        let out = dir.path().join(format!("rep{count}"));
        let mut cmd: Vec<&str> = vec![
            bin.to_str().expect("utf-8"),
            "analyze",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        cmd.extend(names.iter().map(String::as_str));
        let (wall, rss) = measure(&cmd);
        println!(
            "analyze {count} bundles: {wall:.2} s = {:.0} bundles/s, peak RSS {rss:.1} MiB",
            count as f64 / wall
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
