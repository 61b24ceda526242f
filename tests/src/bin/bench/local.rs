//! Local collections of one lab host's filesystem for `dossier-bench sweep`: dead-box
//! (`collect --root` of the host's root, no /proc) and live (`collect` inside the host's
//! namespaces with nsenter, its own /proc), measured like the sweeps.

use crate::cpu::sshd_pid;
use crate::fleet::{MIB, collector_times, only_bundle};
use crate::measure::{Measured, measure_cmd};
use crate::median;
use dossier_tests::lab::LabHost;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A local collection, measured: wall, CPU, RSS, bundle size, collector times.
pub struct Local {
    m: Vec<Measured>,
    bundle: Vec<f64>,
    pub collectors: BTreeMap<String, Vec<f64>>,
}

impl Local {
    fn new() -> Local {
        Local {
            m: vec![],
            bundle: vec![],
            collectors: BTreeMap::new(),
        }
    }

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

/// Dead-box: the host's filesystem as an image (its /proc is not read as a live system),
/// `runs` times into directories named by `fresh`; the runs and their median wall time.
pub fn dead_box(
    me: &Path,
    bin: &Path,
    h: &LabHost,
    runs: usize,
    fresh: &dyn Fn(&str) -> PathBuf,
) -> (Local, f64) {
    let mut dead = Local::new();
    for _ in 0..runs {
        let out = fresh("one-root");
        let m = measure_cmd(
            Command::new(me)
                .arg("one")
                .arg(bin)
                .args(["collect", "--no-analyze", "-q", "--root"])
                .arg(&h.root)
                .arg("--out")
                .arg(&out),
        );
        dead.add(m, &out);
    }
    let wall = dead.print("local collect --root (dead-box, no /proc):   ");
    (dead, wall)
}

/// Live, inside the host: the mount namespace and root of its sshd (chrooted into the
/// host's filesystem), its UTS, PID and network namespaces; `runs` times. The runs and their
/// median wall time, None when skipped (no nsenter, or the binaries are not visible inside).
pub fn live(me: &Path, bin: &Path, h: &LabHost, runs: usize) -> (Local, Option<f64>) {
    let mut live = Local::new();
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
        (Some(nsenter), Some(pid)) if visible(pid, bin) && visible(pid, me) => {
            for i in 0..runs {
                // Written to the host's own /tmp (a tmpfs of the host), read from outside.
                let inside = format!("/tmp/dossier-bench-live-{i}");
                let m = measure_cmd(
                    Command::new(nsenter)
                        .args(["--target", &pid.to_string()])
                        .args(["--mount", "--uts", "--pid", "--net", "--root", "--wd", "--"])
                        .arg(me)
                        .arg("one")
                        .arg(bin)
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
    (live, live_wall)
}
