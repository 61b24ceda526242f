//! `dossier-bench load`: sweeps of 10, N/2 and N lab hosts: wall time, peak RSS and open file
//! descriptors of `dossier sweep`.

use crate::{arg, default_bin, median};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

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
pub fn load(args: &[String]) {
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
