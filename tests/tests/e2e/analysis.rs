//! Analysis end to end: fixture roots collected with the real binary, analyzed, and the
//! verdicts, rule hits, MITRE ids, determinism and report snapshots checked.

use dossier_tests::*;
use std::path::{Path, PathBuf};

fn collect_root(name: &str, out: &Path) -> PathBuf {
    let root = fixture(name);
    collect(
        out,
        &out.join("bundles"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    )
}

fn analyze(cwd: &Path, bundles: &[&Path], out: &Path) -> (std::process::Output, serde_json::Value) {
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    let o = dossier(cwd, &args);
    let json = std::fs::read(out.join("findings.json"))
        .map(|d| serde_json::from_slice(&d).unwrap())
        .unwrap_or_default();
    (o, json)
}

fn host<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("{name} not analyzed"))
}

fn hit<'a>(h: &'a serde_json::Value, rule: &str) -> Option<&'a serde_json::Value> {
    h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == rule)
}

/// The first context finding of a rule (context rules never make a hit of their own).
fn context<'a>(h: &'a serde_json::Value, rule: &str) -> Option<&'a serde_json::Value> {
    h["context"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["rule"] == rule)
}

/// A rule's hit, or else its first context finding: both carry its MITRE ids and weight.
fn fired<'a>(h: &'a serde_json::Value, rule: &str) -> Option<&'a serde_json::Value> {
    hit(h, rule).or_else(|| context(h, rule))
}

/// Findings and context findings of a host.
fn all_findings(h: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    h["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(h["context"].as_array().into_iter().flatten())
}

#[test]
fn fixture_verdicts_rules_and_mitre_ids() {
    let d = tempfile::tempdir().unwrap();
    let clean = collect_root("rootfs-clean", d.path());
    let miner = collect_root("rootfs-miner", d.path());
    let persist = collect_root("rootfs-persist", d.path());
    let (o, json) = analyze(d.path(), &[&clean, &miner, &persist], &d.path().join("rep"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(json["schema"], "dossier-findings");

    let c = host(&json, "clean-web01");
    assert_eq!(c["verdict"], "Unclear/Benign");
    assert!(
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "high" && f["severity"] != "critical"),
        "{c}"
    );
    // Offline: process and socket rules are reported as not evaluated, never as clean.
    let ne: Vec<&str> = c["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule"].as_str().unwrap())
        .collect();
    assert!(
        ne.contains(&"deleted-exe-running") && ne.contains(&"suspicious-port"),
        "{ne:?}"
    );

    let m = host(&json, "esxi-web01");
    assert_eq!(m["verdict"], "Malicious likely");
    assert!(m["score"].as_u64().unwrap() >= 60);
    // Behaviour: the miner's facts; each counted once.
    for (rule, weight, mitre) in [
        ("exec-unusual-path", 30, "T1036.005"),
        ("unit-name-mismatch", 10, "T1036.004"),
        ("root-cron-reboot", 20, "T1053.003"),
        ("cron-suspicious-path", 10, "T1053.003"),
        ("miner-strings", 10, "T1496"),
    ] {
        let h = hit(m, rule).unwrap_or_else(|| panic!("{rule} did not fire"));
        assert_eq!(h["weight"], weight, "{rule}");
        assert!(
            h["mitre"].as_array().unwrap().iter().any(|x| x == mitre),
            "{rule}"
        );
    }
    for rule in [
        "exec-unusual-path",
        "unit-name-mismatch",
        "root-cron-reboot",
        "miner-strings",
    ] {
        assert!(
            hit(m, rule).unwrap().get("counted_under").is_none(),
            "{rule}"
        );
    }
    // The cron line running /usr/bin/log is the observation exec-unusual-path counts.
    assert_eq!(
        hit(m, "cron-suspicious-path").unwrap()["counted_under"],
        "exec-unusual-path"
    );
    // Provenance: context, linked to the behaviour on the same subjects (a boost).
    for (rule, weight, mitre) in [
        ("exec-unowned", 15, "T1105"),
        ("unit-local-unowned", 5, "T1543.002"),
    ] {
        let c = context(m, rule).unwrap_or_else(|| panic!("{rule} not in context"));
        assert_eq!(c["weight"], weight, "{rule}");
        assert!(c["mitre"].as_array().unwrap().iter().any(|x| x == mitre));
        assert!(!c["linked_to"].as_array().unwrap().is_empty(), "{c}");
        assert!(hit(m, rule).is_none(), "{rule} is context");
    }
    // Every finding points at hashed members of the bundle.
    let manifest = manifest(&miner);
    for f in m["findings"].as_array().unwrap() {
        for e in f["evidence"].as_array().unwrap() {
            let listed = manifest["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == e["member"])
                .unwrap_or_else(|| panic!("{e} not in bundle"));
            assert_eq!(listed["sha256"], e["sha256"]);
        }
    }

    let p = host(&json, "db02");
    assert_ne!(p["verdict"], "Unclear/Benign");
    for (rule, mitre) in [
        ("package-hash-mismatch", "T1554"),
        ("inline-shell-download", "T1059.004"),
        ("aggressive-timer-unowned", "T1053.006"),
    ] {
        let h = fired(p, rule).unwrap_or_else(|| panic!("{rule} did not fire on db02"));
        assert!(
            h["mitre"].as_array().unwrap().iter().any(|x| x == mitre),
            "{rule}"
        );
    }
    let fleet = std::fs::read_to_string(d.path().join("rep/fleet-report.md")).unwrap();
    assert!(
        fleet.contains("2 of 3 analyzed hosts are likely compromised")
            && fleet.contains("## Cross-host Correlation"),
        "{fleet}"
    );
    // The summary's counts are those of the alerts and hosts listed, offline images are not
    // "complete", and no sentence has an empty placeholder.
    assert_eq!(
        dossier_reporters::fleet::summary_mismatches(&fleet),
        Vec::<String>::new(),
        "{fleet}"
    );
    assert!(
        fleet.contains("| offline image (") && !fleet.contains("| complete |"),
        "{fleet}"
    );
    for host in ["clean-web01", "db02", "esxi-web01"] {
        let r = std::fs::read_to_string(d.path().join("rep").join(host).join("report.md")).unwrap();
        for empty in ["``", "(none)", "(pid )", "PIDs: ", "paths -"] {
            assert!(!r.contains(empty), "{host}: {empty:?} in\n{r}");
            assert!(!fleet.contains(empty), "{empty:?} in\n{fleet}");
        }
    }
    let report = std::fs::read_to_string(d.path().join("rep/esxi-web01/report.md")).unwrap();
    for section in [
        "## Verdict",
        "## Findings",
        "### Rule hits & reasons",
        "### Score",
        "## IOCs",
        "## Evidence",
        "## Recommended actions",
    ] {
        assert!(report.contains(section), "{section} missing");
    }
    // The analysis is in the custody ledger.
    let ledger = std::fs::read_to_string(d.path().join("bundles/custody.jsonl")).unwrap();
    assert_eq!(ledger.matches("\"analyzed\"").count(), 3);
}

/// Rules of issue 7 that must stay silent on the ordinary admin versions of the same files.
const PERSIST2_RULES: &[&str] = &[
    "account-extra-uid0",
    "system-account-usable",
    "sudo-nopasswd-all",
    "boot-hook-unowned",
    "login-hook-unowned",
    "hook-malicious-content",
    "generator-unowned",
    "pkg-manager-hook",
    "pam-exec-hook",
    "pam-module-unowned",
    "polkit-rule-unowned",
    "ld-so-preload",
    "ld-so-conf-unusual",
    "modprobe-install-command",
    "path-hijack",
    "odd-login-user",
    "failed-login-burst",
    "bruteforce-then-login",
];

#[test]
fn access_and_hook_persistence_is_found_and_admin_files_stay_clean() {
    let d = tempfile::tempdir().unwrap();
    let clean = collect_root("rootfs-clean", d.path());
    let p2 = collect_root("rootfs-persist2", d.path());
    // A second compromised host with the same planted files (another hostname).
    let twin = fixture_copy("rootfs-persist2", &d.path().join("app04"));
    std::fs::write(twin.join("etc/hostname"), "app04\n").unwrap();
    // A hard link shadowing a second packaged name: copied once.
    std::fs::hard_link(
        twin.join("usr/local/bin/ls"),
        twin.join("usr/local/bin/kill"),
    )
    .unwrap();
    let p2b = collect(
        d.path(),
        &d.path().join("bundles"),
        &["--no-analyze", "--root", twin.to_str().unwrap()],
    );
    let (o, json) = analyze(d.path(), &[&clean, &p2, &p2b], &d.path().join("rep"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    let c = host(&json, "clean-web01");
    assert_eq!(c["verdict"], "Unclear/Benign", "{c}");
    for rule in PERSIST2_RULES {
        assert!(fired(c, rule).is_none(), "{rule} fired on the clean host");
    }

    let p = host(&json, "app03");
    assert_eq!(p["verdict"], "Malicious likely", "{p}");
    for (rule, mitre, subject) in [
        ("account-extra-uid0", "T1136.001", "systemd-netd"),
        ("system-account-usable", "T1078.003", "www-data"),
        (
            "sudo-nopasswd-all",
            "T1548.003",
            "/etc/sudoers.d/90-cloud-init-users:4",
        ),
        ("boot-hook-unowned", "T1037.004", "/etc/init.d/kmod-static"),
        (
            "boot-hook-unowned",
            "T1037.004",
            "/etc/udev/rules.d/75-persistent-net-generator.rules",
        ),
        (
            "boot-hook-unowned",
            "T1037.004",
            "/etc/update-motd.d/50-landscape-sysinfo",
        ),
        (
            "login-hook-unowned",
            "T1546.004",
            "/etc/profile.d/bash_completion_ext.sh",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/etc/init.d/kmod-static:12",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/etc/profile.d/bash_completion_ext.sh:3",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/home/alice/.bashrc:29",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/etc/udev/rules.d/75-persistent-net-generator.rules:2",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/etc/update-motd.d/50-landscape-sysinfo:3",
        ),
        (
            "generator-unowned",
            "T1543",
            "/etc/systemd/system-generators/systemd-netd-generator",
        ),
        (
            "pkg-manager-hook",
            "T1546.016",
            "/etc/apt/apt.conf.d/99-apt-fast-update",
        ),
        (
            "hook-malicious-content",
            "T1059.004",
            "/etc/apt/apt.conf.d/99-apt-fast-update:3",
        ),
        ("pam-exec-hook", "T1556.003", "/etc/pam.d/sshd"),
        (
            "pam-module-unowned",
            "T1556.003",
            "/lib/x86_64-linux-gnu/security/pam_unix2.so",
        ),
        (
            "polkit-rule-unowned",
            "T1548",
            "/etc/polkit-1/rules.d/45-networkmanager-helper.rules",
        ),
        ("ld-so-preload", "T1574.006", "/etc/ld.so.preload"),
        ("path-hijack", "T1574.007", "/usr/local/bin/ls"),
        ("odd-login-user", "T1078", "utmp record 2"),
        ("failed-login-burst", "T1110", "203.0.113.77"),
        ("bruteforce-then-login", "T1110", "203.0.113.77"),
        (
            "ld-so-conf-unusual",
            "T1574.006",
            "/etc/ld.so.conf.d/x86_64-linux-gnu-extra.conf: /var/tmp/.ICE-unix/.lib",
        ),
        (
            "modprobe-install-command",
            "T1547.006",
            "/etc/modprobe.d/ipv6-options.conf: /sbin/modprobe --ignore-install ipv6 $CMDLINE_OPTS; /usr/bin/nohup /dev/shm/.x/kthreadd >/dev/null 2>&1 &",
        ),
    ] {
        let h = fired(p, rule).unwrap_or_else(|| panic!("{rule} did not fire on app03"));
        assert!(
            h["mitre"].as_array().unwrap().iter().any(|x| x == mitre),
            "{rule}"
        );
        assert!(
            all_findings(p).any(|f| f["rule"] == *rule && f["subject"] == subject),
            "{rule} on {subject}: {p}"
        );
    }

    // /etc/shadow: metadata and parsed status only; no copy and no hash anywhere in the bundle.
    let m = manifest(&p2);
    let names: Vec<&str> = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"raw/etc/sudoers.d/90-cloud-init-users"));
    assert!(!names.iter().any(|n| n.contains("shadow")), "{names:?}");
    let zip = std::fs::read(&p2).unwrap();
    for n in &names {
        let data = member(&p2, n);
        assert!(
            !String::from_utf8_lossy(&data).contains("FixtureOnlyNotARealHash"),
            "{n} holds a password hash"
        );
    }
    assert!(!String::from_utf8_lossy(&zip).contains("FixtureOnlyNotARealHash"));
    let shadow = of_kind(&p2, "accounts", "shadow_file");
    assert_eq!(shadow[0]["entries"], 6);
    let accounts = of_kind(&p2, "accounts", "account");
    let www = accounts.iter().find(|a| a["name"] == "www-data").unwrap();
    assert_eq!(www["password"], "usable");
    assert_eq!(www["hash_scheme"], "sha512crypt");
    assert_eq!(www["last_change"], "2025-11-18");

    // Hook files are in the bundle; the packaged ones verified against dpkg; alice's .bashrc
    // (no package) is copied but not verified.
    let hooks = of_kind(&p2, "hooks", "hook");
    for path in [
        "/etc/init.d/cron",
        "/etc/rc2.d/S01kmod-static",
        "/etc/profile",
        "/etc/bash.bashrc",
        "/home/alice/.profile",
        "/usr/lib/udev/rules.d/96-e2scrub.rules",
    ] {
        assert!(
            hooks.iter().any(|h| h["path"] == path),
            "{path} not collected"
        );
    }
    let verify = of_kind(&p2, "packages", "package_verify");
    let status = |path: &str| {
        verify
            .iter()
            .find(|v| v["path"] == path)
            .map(|v| v["status"].clone())
    };
    assert_eq!(status("/etc/init.d/cron"), Some("ok".into()));
    assert_eq!(status("/etc/profile"), Some("ok".into()));
    assert_eq!(status("/etc/init.d/kmod-static"), Some("not_owned".into()));
    assert_eq!(status("/home/alice/.bashrc"), None);
    // A hook file that `packages` copies again as unowned is stored once: its record points at
    // the member `hooks` wrote, and no `~2` twin exists.
    let kmod = verify
        .iter()
        .find(|v| v["path"] == "/etc/init.d/kmod-static")
        .unwrap();
    assert_eq!(kmod["copy"]["member"], "raw/etc/init.d/kmod-static");
    let twins: Vec<&&str> = names.iter().filter(|n| n.contains('~')).collect();
    assert!(twins.is_empty(), "stored twice: {twins:?}");
    // Package-manager and auth hooks: copied, verified, PAM modules resolved and verified,
    // the unowned module copied by `packages`.
    for path in [
        "/etc/apt/apt.conf.d/99-apt-fast-update",
        "/etc/apt/apt.conf.d/70debconf",
        "/etc/pam.d/sshd",
        "/etc/polkit-1/rules.d/45-networkmanager-helper.rules",
    ] {
        assert!(
            names.contains(&format!("raw{path}").as_str()),
            "{path} not copied"
        );
    }
    assert_eq!(status("/etc/apt/apt.conf.d/70debconf"), Some("ok".into()));
    assert_eq!(status("/etc/pam.d/sshd"), Some("mismatch".into()));
    assert_eq!(
        status("/lib/x86_64-linux-gnu/security/pam_unix.so"),
        Some("ok".into())
    );
    assert_eq!(
        status("/lib/x86_64-linux-gnu/security/pam_unix2.so"),
        Some("not_owned".into())
    );
    let unix2 = hooks
        .iter()
        .find(|h| h["path"] == "/lib/x86_64-linux-gnu/security/pam_unix2.so")
        .unwrap();
    assert_eq!(unix2["class"], "pam-module");
    assert_eq!(unix2["referenced_by"][0], "/etc/pam.d/common-auth:5");
    assert!(
        names.iter().any(|n| n.ends_with("security/pam_unix2.so")),
        "{names:?}"
    );
    // Hook files are not programs: no exec-unowned for them; the program a hook runs is (the
    // pam_exec helper that logs passwords), with its copy as evidence.
    let unowned: Vec<&str> = all_findings(p)
        .filter(|f| f["rule"] == "exec-unowned")
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(unowned, ["/usr/lib/openssh/sshd-auth-helper"], "{p}");
    assert!(names.contains(&"raw/usr/lib/openssh/sshd-auth-helper"));

    // An image has no running kernel: the module rules are not evaluated, never clean.
    let ne: Vec<&str> = p["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule"].as_str().unwrap())
        .collect();
    assert!(
        ne.contains(&"kernel-module-hidden")
            && ne.contains(&"kernel-module-unowned")
            && ne.contains(&"promiscuous-interface")
            && ne.contains(&"duplicate-mac"),
        "{ne:?}"
    );

    let bins = of_kind(&p2b, "local-bin", "local_bin");
    let copy_of = |p: &str| {
        bins.iter().find(|b| b["path"] == p).unwrap()["copy"]["member"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(copy_of("/usr/local/bin/kill"), copy_of("/usr/local/bin/ls"));
    let copies = manifest(&p2b)["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "raw/usr/local/bin/kill" || m["name"] == "raw/usr/local/bin/ls")
        .count();
    assert_eq!(copies, 1, "hard links are copied once");

    // The fleet report correlates the new indicators: the same sudoers line, account, hook
    // file (by SHA-256), brute-forcing address, preloaded library (path and SHA-256),
    // hijacking program (SHA-256), loader path and modprobe command on both compromised
    // hosts, never on the clean one.
    let fleet = std::fs::read_to_string(d.path().join("rep/fleet-report.md")).unwrap();
    let kmod_sha = hooks
        .iter()
        .find(|h| h["path"] == "/etc/init.d/kmod-static")
        .unwrap()["source"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // The preloaded library is hashed by `packages` and the hijacking `ls` by `local-bin`.
    let lib = "/usr/lib/x86_64-linux-gnu/libpam_cache.so.1";
    let lib_sha = verify.iter().find(|v| v["path"] == lib).unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let ls_sha = bins
        .iter()
        .find(|b| b["path"] == "/usr/local/bin/ls")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    for (ioc, kind) in [
        ("www-data ALL=(ALL) NOPASSWD:ALL", "config_line"),
        ("systemd-netd", "account"),
        (kmod_sha.as_str(), "sha256"),
        ("203.0.113.77", "address"),
        (lib, "path"),
        (lib_sha.as_str(), "sha256"),
        (ls_sha.as_str(), "sha256"),
        ("/var/tmp/.ICE-unix/.lib", "path"),
        (
            "/sbin/modprobe --ignore-install ipv6 $CMDLINE_OPTS; /usr/bin/nohup /dev/shm/.x/kthreadd >/dev/null 2>&1 &",
            "config_line",
        ),
        ("/lib/x86_64-linux-gnu/security/pam_unix2.so", "path"),
    ] {
        let row = format!("| `{ioc}` | {kind} | 2 of 3 | app03, app04 |");
        assert!(fleet.contains(&row), "{row} missing:\n{fleet}");
    }
}

#[test]
fn reanalysis_is_byte_identical_also_after_copying() {
    let d = tempfile::tempdir().unwrap();
    let b = collect_root("rootfs-miner", d.path());
    let other = d.path().join("archive");
    std::fs::create_dir(&other).unwrap();
    let name = b.file_name().unwrap().to_str().unwrap();
    std::fs::copy(&b, other.join(name)).unwrap();
    std::fs::copy(
        format!("{}.sha256", b.display()),
        other.join(format!("{name}.sha256")),
    )
    .unwrap();
    let (o1, _) = analyze(d.path(), &[&b], &d.path().join("r1"));
    let (o2, _) = analyze(d.path(), &[&b], &d.path().join("r2"));
    let (o3, _) = analyze(d.path(), &[&other.join(name)], &d.path().join("r3"));
    assert!(o1.status.success() && o2.status.success() && o3.status.success());
    for f in ["esxi-web01/report.md", "fleet-report.md", "findings.json"] {
        let a = std::fs::read(d.path().join("r1").join(f)).unwrap();
        assert_eq!(
            a,
            std::fs::read(d.path().join("r2").join(f)).unwrap(),
            "{f} differs between runs"
        );
        assert_eq!(
            a,
            std::fs::read(d.path().join("r3").join(f)).unwrap(),
            "{f} differs after copying the bundle"
        );
    }
}

#[test]
fn a_bundle_failing_verification_is_not_analyzed() {
    let d = tempfile::tempdir().unwrap();
    let b = collect_root("rootfs-clean", d.path());
    let mut data = std::fs::read(&b).unwrap();
    let n = data.len() / 2;
    data[n] ^= 1;
    std::fs::write(&b, data).unwrap();
    let (o, json) = analyze(d.path(), &[&b], &d.path().join("rep"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("NOT ANALYZED"), "{}", stdout(&o));
    assert!(json["hosts"].as_array().unwrap().is_empty());
    assert_eq!(json["unanalyzed"].as_array().unwrap().len(), 1);
    let fleet = std::fs::read_to_string(d.path().join("rep/fleet-report.md")).unwrap();
    assert!(
        fleet.contains("could not be analyzed") && fleet.contains("verification failed"),
        "{fleet}"
    );
}

/// Compares a report with its insta snapshot `tests/snapshots/<name>.snap` (the body is the
/// report as written). insta trims whitespace at the end of the text (and, for old snapshots,
/// newlines at its start) and reads CRLF as LF before comparing; a report starts with text,
/// ends in exactly one LF after text and has no CR, checked here, so a passing snapshot still
/// means the same bytes. After an intended change: `cargo insta review` (or
/// `INSTA_UPDATE=always`) and review the diff; under `CI` a mismatch fails and nothing is
/// written.
fn snapshot(name: &str, actual: &str) {
    assert!(
        actual.ends_with('\n')
            && actual.trim_end().len() + 1 == actual.len()
            && !actual.starts_with(char::is_whitespace)
            && !actual.contains('\r'),
        "{name}: a report starts with text, ends in one LF after text and has no CR"
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, actual));
}

#[test]
fn reports_of_the_archived_miner_bundle_match_their_snapshots() {
    // A bundle archived in the repository: its reports must not change unless we mean it.
    let d = tempfile::tempdir().unwrap();
    for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
        std::fs::copy(fixture("bundles").join(f), d.path().join(f)).unwrap();
    }
    let (o, _) = analyze(
        d.path(),
        &[&d.path().join("esxi-web01-snapshot.zip")],
        &d.path().join("rep"),
    );
    assert!(o.status.success(), "{}", stdout(&o));
    snapshot(
        "esxi-web01.report.md",
        &std::fs::read_to_string(d.path().join("rep/esxi-web01/report.md")).unwrap(),
    );
    let fleet = std::fs::read_to_string(d.path().join("rep/fleet-report.md")).unwrap();
    assert_eq!(
        dossier_reporters::fleet::summary_mismatches(&fleet),
        Vec::<String>::new(),
        "{fleet}"
    );
    snapshot("fleet-report.md", &fleet);
}

#[test]
fn rules_lists_every_rule_with_mitre_and_weight() {
    let d = tempfile::tempdir().unwrap();
    let o = dossier(d.path(), &["rules"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.lines().any(|l| l.starts_with("exec-unusual-path")
            && l.contains("T1036.005")
            && l.contains(" 30 ")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(" T1")).count(),
        56,
        "{out}"
    );
}

/// Copies a bundle into `dir` under `name`, with a sidecar naming it.
fn copy_bundle(src: &Path, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    let sum = std::fs::read_to_string(format!("{}.sha256", src.display())).unwrap();
    std::fs::write(
        format!("{}.sha256", dst.display()),
        format!("{}  {name}\n", &sum[..64]),
    )
    .unwrap();
    dst
}

fn actions(ledger: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(ledger)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["action"].as_str().unwrap().to_string(),
                v["bundle"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn analyze_checks_the_custody_ledger_beside_each_bundle() {
    let d = tempfile::tempdir().unwrap();
    let a = collect_root("rootfs-clean", d.path());
    let b = collect_root("rootfs-clean", d.path());
    let a_name = a.file_name().unwrap().to_str().unwrap().to_string();
    let b_name = b.file_name().unwrap().to_str().unwrap().to_string();
    let ledger = d.path().join("bundles/custody.jsonl");

    // A valid bundle put in place of another: it verifies against its sidecar, but the ledger
    // recorded another SHA-256 when `a` was created.
    copy_bundle(&b, &d.path().join("bundles"), &a_name);
    let (o, json) = analyze(d.path(), &[&a, &b], &d.path().join("rep1"));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("NOT ANALYZED  {a_name}"))
            && out.contains("custody ledger")
            && out.contains("was created with SHA-256"),
        "{out}"
    );
    assert_eq!(json["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(json["hosts"][0]["bundle"], b_name.as_str());
    assert_eq!(json["unanalyzed"][0]["subject"], a_name.as_str());
    let acts = actions(&ledger);
    assert!(
        acts.contains(&("analyze_refused".into(), a_name.clone())),
        "{acts:?}"
    );
    assert!(
        acts.contains(&("analyzed".into(), b_name.clone())),
        "{acts:?}"
    );
    // `verify` says the same through the same check.
    let o = dossier(d.path(), &["verify", a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("was created with SHA-256"),
        "{}",
        stdout(&o)
    );

    // A bundle moved into another case directory: that ledger has no `created` entry for it.
    std::fs::create_dir(d.path().join("case2")).unwrap();
    let other = collect_root("rootfs-miner", &d.path().join("case2"));
    let moved = copy_bundle(&b, other.parent().unwrap(), &b_name);
    let (o, _) = analyze(d.path(), &[&moved, &other], &d.path().join("rep2"));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("has no `created` entry for {b_name}")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("esxi-web01"), "{}", stdout(&o));

    // A broken chain refuses every bundle beside it.
    let text = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, text.replacen("\"created\"", "\"Created\"", 1)).unwrap();
    let (o, json) = analyze(d.path(), &[&b], &d.path().join("rep3"));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("custody ledger") && stdout(&o).contains("line 2"),
        "{}",
        stdout(&o)
    );
    assert!(json["hosts"].as_array().unwrap().is_empty());

    // Without a ledger beside it (a copy), a bundle is analyzed, again and again, and no
    // ledger is created there.
    let loose = copy_bundle(&b, &d.path().join("loose"), &b_name);
    for rep in ["rep4", "rep5"] {
        let (o, json) = analyze(d.path(), &[&loose], &d.path().join(rep));
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        assert_eq!(json["hosts"].as_array().unwrap().len(), 1);
        assert!(stderr(&o).contains("no custody ledger"), "{}", stderr(&o));
    }
    assert!(!d.path().join("loose/custody.jsonl").exists());
}

#[test]
fn analysis_leaves_only_reports_in_the_output_directory() {
    let d = tempfile::tempdir().unwrap();
    let a = collect_root("rootfs-miner", d.path());
    let b = collect_root("rootfs-persist", d.path());
    let rep = d.path().join("rep");
    let (o, json) = analyze(d.path(), &[&b, &a], &rep);
    assert!(o.status.success(), "{}", stdout(&o));
    let mut names: Vec<String> = std::fs::read_dir(&rep)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["db02", "esxi-web01", "findings.json", "fleet-report.md"]
    );
    assert_eq!(json["not_collected"], serde_json::json!([]));
    // Hosts in report order whatever the order of the arguments.
    let hosts: Vec<&str> = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["db02", "esxi-web01"]);
}

/// A host report without what reports gained on purpose after commit 1b53eb6: the
/// `dossier contain` command at the end of the first recommended action (issue 16).
fn without_later_additions(report: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(report.to_vec()).expect("reports are UTF-8");
    let marker = " The plan for this host's findings, run in this report's folder";
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| match l.find(marker) {
            Some(i) if l.ends_with(" --from ../findings.json`") => &l[..i],
            _ => l,
        })
        .collect();
    lines.join("\n").into_bytes()
}

/// `findings.json` without the catalogue messages of findings (`message`, added with issue 18
/// beside the unchanged English `explanation`), written as the writer writes it (sorted keys,
/// two-space indentation).
fn without_messages(findings_json: &[u8]) -> Vec<u8> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                if o.contains_key("explanation") {
                    o.remove("message");
                }
                // Catalogue messages beside English fields (evidence, referrers, reasons).
                o.retain(|k, _| !k.ends_with("_message") && !k.ends_with("_messages"));
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(findings_json).expect("findings.json");
    strip(&mut v);
    let mut out = serde_json::to_vec_pretty(&v).unwrap();
    if findings_json.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

#[test]
fn bundles_written_before_the_crate_carve_out_verify_and_analyze_byte_identically() {
    // Four bundles (`--playbook full`, the rootfs fixtures) written by commit 1b53eb6, before
    // the bundle format and the transport left the CLI, with the reports that commit wrote
    // for them (`dossier analyze --playbook full`). Today's binary must verify them and
    // write the same bytes.
    let src = fixture("pre-carve");
    let d = tempfile::tempdir().unwrap();
    let mut bundles = Vec::new();
    for e in std::fs::read_dir(src.join("bundles")).unwrap() {
        let p = e.unwrap().path();
        let to = d.path().join(p.file_name().unwrap());
        std::fs::copy(&p, &to).unwrap();
        if to.extension().is_some_and(|x| x == "zip") {
            bundles.push(to);
        }
    }
    bundles.sort();
    assert_eq!(bundles.len(), 4);
    for b in &bundles {
        let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "{}: {}{}",
            b.display(),
            stdout(&o),
            stderr(&o)
        );
    }
    let out = d.path().join("rep");
    let mut args = vec![
        "analyze",
        "--playbook",
        "full",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    let o = dossier(d.path(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let expected = src.join("reports");
    let mut rels = vec!["findings.json".to_string(), "fleet-report.md".to_string()];
    for b in ["app03", "clean-web01", "db02", "esxi-web01"] {
        rels.push(format!("{b}/report.md"));
    }
    for rel in &rels {
        let mut actual = std::fs::read(out.join(rel)).unwrap_or_else(|err| panic!("{rel}: {err}"));
        if rel.ends_with("report.md") {
            actual = without_later_additions(&actual);
        } else if rel == "findings.json" {
            actual = without_messages(&actual);
        }
        assert!(
            actual == std::fs::read(expected.join(rel)).unwrap(),
            "{rel} differs from what commit 1b53eb6 wrote"
        );
    }
}
