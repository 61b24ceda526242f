//! Dynamic plugins run out of the dossier process, through the real binary: a plugin that
//! aborts, writes through a null pointer, overflows its stack, exhausts its memory limit,
//! exits or loops fails only its own step (collector, analyzer or reporter), with one line
//! naming the plugin and how its process ended, while the other collectors' evidence is
//! bundled and the analysis goes on (the next bundle, or the next host of a sweep over the
//! SSH lab, gets a new plugin process); a looping one is killed at the playbook's time limit;
//! the library's constructor runs in the plugin host child, which inherits no descriptor and
//! no secret environment variable of dossier, and ends when dossier is killed; a constructor
//! that aborts fails the load, one that forges the recorded hash is caught; and a library
//! under a folder others can write is refused before it is loaded.

use dossier_tests::{dossier_bin, fixture, manifest, stderr, stdout, test_plugin};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A dossier command with a fresh HOME and only the plugin settings of `env`.
fn cmd(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(dossier_bin());
    c.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env_remove("DOSSIER_PLUGIN_TEST")
        .env_remove("DOSSIER_PLUGIN_TEST_CTOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    cmd(home, args, env).output().expect("run dossier")
}

/// A playbook with the probe plugin and the given limits.
fn playbook(timeout: u64) -> String {
    format!(
        "name = \"probe\"\n[plugin_limits]\ntimeout_secs = {timeout}\nmemory_mib = 256\n\
         [collectors.facts]\n[collectors.cron]\n[collectors.probe]\n"
    )
}

/// `collect --root rootfs-clean` with the test plugin in `mode`; returns the bundle and the
/// output folder.
fn collect(home: &Path, timeout: u64, env: &[(&str, &str)]) -> (Output, PathBuf) {
    let pb = home.join("playbook.toml");
    std::fs::write(&pb, playbook(timeout)).unwrap();
    let out = home.join("out");
    let lib = test_plugin();
    let o = run(
        home,
        &[
            "collect",
            "--quiet",
            "--root",
            s(&fixture("rootfs-clean")),
            "--out",
            s(&out),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&lib),
        ],
        env,
    );
    (o, out)
}

fn bundle_of(o: &Output) -> PathBuf {
    assert!(
        o.status.success(),
        "collect failed: {}\n{}",
        stdout(o),
        stderr(o)
    );
    PathBuf::from(stdout(o).lines().last().expect("bundle path").trim())
}

fn status_of(m: &Value, collector: &str) -> (String, String) {
    let r = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == collector)
        .unwrap_or_else(|| panic!("no collector {collector} in {m:#}"));
    (
        r["status"].as_str().unwrap_or_default().to_string(),
        r["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// A collect whose plugin collector killed its process: collect exits 0, the bundle holds the
/// built-in collectors' evidence and verifies, the plugin's step failed with `reason`.
fn assert_collector_failed(mode: &str, timeout: u64, reason: &str) -> Duration {
    let d = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (o, out) = collect(d.path(), timeout, &[("DOSSIER_PLUGIN_TEST", mode)]);
    let took = t.elapsed();
    let b = bundle_of(&o);
    let m = manifest(&b);
    assert_eq!(
        status_of(&m, "probe"),
        ("failed".to_string(), reason.to_string()),
        "{mode}"
    );
    assert_eq!(status_of(&m, "cron").0, "ok", "{mode}");
    assert!(
        m["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "records/cron.jsonl"),
        "{mode}: the other collectors' evidence is in the bundle"
    );
    let v = run(d.path(), &["verify", s(&b)], &[]);
    assert!(v.status.success(), "{mode}: {}", stderr(&v));
    let report = std::fs::read_to_string(out.join("analysis/clean-web01/report.md")).unwrap();
    assert!(
        report.contains("- `probe-seen` Probe record seen: collector 'probe' failed"),
        "{mode}: {report}"
    );
    took
}

#[test]
fn a_plugin_collector_that_kills_its_process_fails_only_its_own_step() {
    for (mode, reason) in [
        (
            "abort-collect",
            "plugin probe: killed by SIGABRT during collect",
        ),
        (
            "segv-collect",
            "plugin probe: killed by SIGSEGV during collect",
        ),
        (
            "overflow-collect",
            "plugin probe: killed by SIGABRT (stack overflow) during collect",
        ),
        (
            "oom-collect",
            "plugin probe: killed by SIGABRT (out of memory: limit 256 MiB) during collect",
        ),
        (
            "exit-collect",
            "plugin probe: exited with status 7 during collect",
        ),
    ] {
        assert_collector_failed(mode, 30, reason);
    }
}

#[test]
fn a_looping_plugin_is_killed_at_its_time_limit() {
    let took = assert_collector_failed(
        "loop-collect",
        2,
        "plugin probe: timed out after 2 s during collect",
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(2 + 8),
        "collect took {took:?} with a 2 s limit"
    );

    // The same in `analyze`, and the killed child is gone.
    let d = tempfile::tempdir().unwrap();
    let (o, _) = collect(d.path(), 2, &[]);
    let b = bundle_of(&o);
    let ctor = d.path().join("ctor.jsonl");
    let t = Instant::now();
    let again = d.path().join("again");
    let a = run(
        d.path(),
        &[
            "analyze",
            s(&b),
            "--out",
            s(&again),
            "--playbook",
            s(&d.path().join("playbook.toml")),
            "--plugin",
            s(&test_plugin()),
        ],
        &[
            ("DOSSIER_PLUGIN_TEST", "loop-analyze"),
            ("DOSSIER_PLUGIN_TEST_CTOR", s(&ctor)),
        ],
    );
    let took = t.elapsed();
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(took < Duration::from_secs(2 + 8), "analyze took {took:?}");
    let report = std::fs::read_to_string(again.join("clean-web01/report.md")).unwrap();
    assert!(
        report.contains(
            "- analyzer plugin `probe`: failed (plugin probe: timed out after 2 s during analyze)"
        ),
        "{report}"
    );
    for line in std::fs::read_to_string(&ctor).unwrap().lines() {
        let pid = serde_json::from_str::<Value>(line).unwrap()["pid"]
            .as_u64()
            .unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains("__plugin-host"),
            "plugin host {pid} still running"
        );
    }
}

#[test]
fn a_plugin_analyzer_that_kills_its_process_fails_only_its_rules() {
    // Two bundles: the plugin's process dies on the first, a new one runs (and dies on) the
    // second.
    let d = tempfile::tempdir().unwrap();
    let (o, _) = collect(d.path(), 30, &[]);
    let b = bundle_of(&o);
    std::thread::sleep(Duration::from_millis(1100));
    let (o, _) = collect(d.path(), 30, &[]);
    let b2 = bundle_of(&o);
    assert_ne!(b, b2);
    for (i, (mode, reason)) in [
        ("segv-analyze", "killed by SIGSEGV during analyze"),
        ("abort-analyze", "killed by SIGABRT during analyze"),
        (
            "overflow-analyze",
            "killed by SIGABRT (stack overflow) during analyze",
        ),
        (
            "oom-analyze",
            "killed by SIGABRT (out of memory: limit 256 MiB) during analyze",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let again = d.path().join(format!("again{i}"));
        let a = run(
            d.path(),
            &[
                "analyze",
                s(&b),
                s(&b2),
                "--out",
                s(&again),
                "--playbook",
                s(&d.path().join("playbook.toml")),
                "--plugin",
                s(&test_plugin()),
            ],
            &[("DOSSIER_PLUGIN_TEST", mode)],
        );
        assert!(a.status.success(), "{mode}: {}", stderr(&a));
        let reports: Vec<String> = std::fs::read_dir(&again)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| std::fs::read_to_string(e.path().join("report.md")).unwrap())
            .collect();
        assert_eq!(reports.len(), 2, "{mode}");
        for report in reports {
            assert!(
                report.contains(&format!(
                    "- analyzer plugin `probe`: failed (plugin probe: {reason})"
                )),
                "{mode}: {report}"
            );
            // The built-in analysis is complete.
            assert!(report.contains("Verdict"), "{report}");
        }
        assert!(again.join("fleet-report.md").is_file() && again.join("findings.json").is_file());
    }
}

#[test]
fn the_library_is_loaded_in_a_child_that_inherits_no_descriptor_and_no_secret() {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let d = tempfile::tempdir().unwrap();
    let lib = test_plugin();
    let ctor = d.path().join("ctor.jsonl");
    // A descriptor dossier inherits (not close-on-exec), as an SSH session's socket could be.
    let secret = std::fs::File::create(d.path().join("secret-fd")).unwrap();
    fcntl(&secret, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
    let child = cmd(
        d.path(),
        &["plugins", "--plugin", s(&lib)],
        &[
            ("DOSSIER_PLUGIN_TEST_CTOR", s(&ctor)),
            ("SSH_AUTH_SOCK", "/nonexistent/agent.sock"),
            ("DOSSIER_SIGN_PASSPHRASE", "hunter2"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    drop(secret);
    let dossier_pid = child.id();
    // The plugin host mode is hidden.
    let help = run(d.path(), &["--help"], &[]);
    assert!(help.status.success() && !stdout(&help).contains("plugin-host"));
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("plugin probe"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&ctor).expect("the constructor ran");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert_ne!(l["pid"], dossier_pid, "the library was loaded into dossier");
        assert_eq!(l["ppid"], dossier_pid, "loaded by a child of dossier: {l}");
        let env: Vec<&str> = l["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(env.contains(&"DOSSIER_PLUGIN_TEST_CTOR"), "{env:?}");
        for secret in ["SSH_AUTH_SOCK", "DOSSIER_SIGN_PASSPHRASE"] {
            assert!(!env.contains(&secret), "{secret} inherited: {env:?}");
        }
        for fd in l["fds"].as_array().unwrap() {
            let fd = fd.as_str().unwrap();
            assert!(
                fd.starts_with("pipe:")
                    || fd == "/dev/null"
                    || fd == format!("/proc/{}/fd", l["pid"])
                    || Path::new(fd) == std::fs::canonicalize(&lib).unwrap(),
                "the plugin host holds {fd}: {l}"
            );
        }
    }
}

#[test]
fn a_library_below_a_folder_others_can_write_is_refused_before_loading() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let open = d.path().join("open");
    let dir = open.join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    let planted = dir.join("probe.so");
    std::fs::copy(test_plugin(), &planted).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ctor = d.path().join("ctor.jsonl");
    let o = run(
        d.path(),
        &["plugins", "--plugin", s(&planted)],
        &[("DOSSIER_PLUGIN_TEST_CTOR", s(&ctor))],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let real = std::fs::canonicalize(&open).unwrap();
    assert!(
        stderr(&o).contains(&format!(
            "plugin {}: refused: the plugin folder is group- or world-writable (mode 0777)",
            real.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(!ctor.exists(), "the library's constructor ran");
    // A constructor that aborts takes down only the plugin host: dossier names the library
    // and how its host ended, and stops (exit 2, as for any unusable --plugin).
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(
        d.path(),
        &["plugins", "--plugin", s(&planted)],
        &[("DOSSIER_PLUGIN_TEST", "abort-load")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "plugin {}: the plugin host failed while loading the library: killed by SIGABRT",
            planted.display()
        )),
        "{}",
        stderr(&o)
    );
    // A constructor that forges the plugin host's answer with another SHA-256 is caught: the
    // hash dossier records was sent before any of the library's code ran.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(
        d.path(),
        &["plugins", "--plugin", s(&planted)],
        &[("DOSSIER_PLUGIN_TEST", "forge-hash")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "refused: the library reported SHA-256 {}, but the file hashed to {} before it was loaded",
            "0".repeat(64),
            dossier_tests::sha256_file(&planted)
        )),
        "{}",
        stderr(&o)
    );
    // Sticky, like /tmp: loaded.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let o = run(d.path(), &["plugins", "--plugin", s(&planted)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("plugin probe"), "{}", stdout(&o));
}

#[test]
fn a_plugin_host_ends_when_dossier_is_killed_during_a_call() {
    let d = tempfile::tempdir().unwrap();
    let pb = d.path().join("playbook.toml");
    std::fs::write(&pb, playbook(600)).unwrap();
    let ctor = d.path().join("ctor.jsonl");
    let mut dossier = cmd(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--root",
            s(&fixture("rootfs-clean")),
            "--out",
            s(&d.path().join("out")),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&test_plugin()),
        ],
        &[
            ("DOSSIER_PLUGIN_TEST", "loop-collect"),
            ("DOSSIER_PLUGIN_TEST_CTOR", s(&ctor)),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait for the plugin host, then for the collect call to be under way. The child that
    // loaded the library under the default memory limit is replaced by one under the
    // playbook's: the last one started runs the call.
    let until = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&ctor).is_ok_and(|t| t.lines().count() >= 2) {
        assert!(Instant::now() < until, "no plugin host started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let text = std::fs::read_to_string(&ctor).unwrap();
    let last = text.lines().last().unwrap();
    let pid = serde_json::from_str::<Value>(last).unwrap()["pid"]
        .as_u64()
        .unwrap();
    let alive = |pid: u64| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains("__plugin-host") && !stat.contains(") Z ")
    };
    assert!(alive(pid), "the plugin host {pid} is not running");
    // SIGKILL: dossier gets no chance to stop its children.
    dossier.kill().unwrap();
    dossier.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(
            Instant::now() < until,
            "plugin host {pid} still running 5 s after dossier was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_plugin_reporter_that_crashes_fails_only_its_reports() {
    let d = tempfile::tempdir().unwrap();
    let pb = d.path().join("playbook.toml");
    std::fs::write(
        &pb,
        format!("{}[reporters.probe-report]\ntitle = \"P\"\n", playbook(30)),
    )
    .unwrap();
    let out = d.path().join("out");
    let o = run(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--root",
            s(&fixture("rootfs-clean")),
            "--out",
            s(&out),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&test_plugin()),
        ],
        &[("DOSSIER_PLUGIN_TEST", "segv-report-host")],
    );
    bundle_of(&o);
    assert!(
        stderr(&o).contains(
            "warning: reporter probe-report failed: plugin probe: killed by SIGSEGV during report host"
        ),
        "{}",
        stderr(&o)
    );
    let a = out.join("analysis");
    assert!(a.join("clean-web01/report.md").is_file() && a.join("fleet-report.md").is_file());
    assert!(!a.join("clean-web01/probe.txt").exists() && !a.join("probe-fleet.txt").exists());
}

#[test]
fn a_sweep_goes_on_when_a_plugin_crashes_on_every_host() {
    use dossier_tests::lab::{Lab, Scenario};
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Miner, Scenario::NonRoot])
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let kh = tmp.path().join("known_hosts");
    std::fs::copy(lab.known_hosts(), &kh).unwrap();
    let pb = tmp.path().join("probe.toml");
    std::fs::write(&pb, playbook(30)).unwrap();
    let mut c = lab.sweep_command(tmp.path());
    c.args(lab.targets())
        .args([
            "--out",
            s(&out),
            "--known-hosts",
            s(&kh),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&test_plugin()),
        ])
        .args(["-i", s(lab.client_key())])
        .args(["--ssh-config", "/dev/null", "--connect-timeout", "5", "-q"])
        .env("DOSSIER_PLUGIN_TEST", "segv-collect");
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "sweep failed: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let bundles: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert_eq!(bundles.len(), 3, "every host swept: {}", stderr(&o));
    for b in &bundles {
        let m = manifest(b);
        assert_eq!(
            status_of(&m, "probe"),
            (
                "failed".to_string(),
                "plugin probe: killed by SIGSEGV during collect".to_string()
            ),
            "{}",
            b.display()
        );
        assert_ne!(status_of(&m, "cron").0, "failed", "{}", b.display());
    }
}
