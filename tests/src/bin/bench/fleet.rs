//! What one fleet sweep produced (its measurement, `sweep.json`, the bundles' manifests) and
//! how it is printed.

use crate::measure::Measured;
use crate::median;
use dossier_tests::lab::Lab;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const MIB: f64 = 1048576.0;

pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// `dossier-bench one BIN sweep TARGETS...` in the lab's client namespace, into `out`, with
/// `-j jobs`, quiet, the lab's key and known_hosts, and no SSH configuration, agent, plugins
/// or data folder of the caller's (`HOME=home`). The caller adds options (`--no-analyze`,
/// `--shard K/N`) and measures it with [`crate::measure::measure_cmd`].
pub fn sweep_command(
    lab: &Lab,
    (me, bin): (&Path, &Path),
    home: &Path,
    targets: &[String],
    jobs: usize,
    out: &Path,
) -> Command {
    let mut c = lab.command(me);
    c.arg("one")
        .arg(bin)
        .arg("sweep")
        .args(targets)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args(["--ssh-config", "/dev/null", "-j", &jobs.to_string(), "-q"])
        .arg("--out")
        .arg(out)
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env_remove("XDG_DATA_HOME");
    c
}

/// What one fleet sweep produced, from its measurement, `sweep.json` and the bundles.
pub struct FleetRun {
    pub m: Measured,
    /// CPU seconds of every host's sshd (and what it ran) during the sweep.
    pub sshd_cpu: f64,
    /// Machine CPU use during the sweep, as a fraction of all CPUs (everyone's processes).
    pub busy: f64,
    /// Targets not `collected`, as `target: outcome (reason)`.
    pub not_collected: Vec<String>,
    pub bytes_read: Vec<f64>,
    pub bundle_bytes: Vec<f64>,
    /// `duration_ms` of each host in sweep.json, in seconds.
    pub host_secs: Vec<f64>,
    /// Collector name -> `duration_ms` of each host's run of it.
    pub collectors: BTreeMap<String, Vec<f64>>,
    /// Per host, the collecting thread's CPU milliseconds (`totals` in sweep.json: user +
    /// system), when the binary reports it.
    pub collect_cpu_ms: Vec<f64>,
    /// Per host, the target side's CPU milliseconds (`target_cost` in sweep.json: the SFTP
    /// server and its parent), when the binary reports it.
    pub target_cpu_ms: Vec<f64>,
}

/// Reads `out/sweep.json` and the bundles it names; every target of `expected` must be there.
pub fn read_sweep(m: Measured, out: &Path, expected: &[String]) -> FleetRun {
    let mut r = FleetRun {
        m,
        sshd_cpu: 0.0,
        busy: 0.0,
        not_collected: vec![],
        bytes_read: vec![],
        bundle_bytes: vec![],
        host_secs: vec![],
        collectors: BTreeMap::new(),
        collect_cpu_ms: vec![],
        target_cpu_ms: vec![],
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
        let ms = |v: &Value, keys: &[&str]| -> Option<f64> {
            let f: Vec<f64> = keys.iter().filter_map(|k| v[*k].as_f64()).collect();
            (!f.is_empty()).then(|| f.iter().sum())
        };
        if let Some(c) = ms(&t["totals"], &["cpu_user_ms", "cpu_sys_ms"]) {
            r.collect_cpu_ms.push(c);
        }
        if let Some(c) = ms(&t["target_cost"], &["sftp_server_cpu_ms", "parent_cpu_ms"]) {
            r.target_cpu_ms.push(c);
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
pub fn collector_times(bundle: &Path, acc: &mut BTreeMap<String, Vec<f64>>) {
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
pub fn only_bundle(dir: &Path) -> Option<PathBuf> {
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
pub fn print_fleet(what: &str, n: usize, cores: usize, runs: &[FleetRun]) -> f64 {
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
