//! Collects the fixture root filesystems with `dossier collect --root` and checks the records
//! and evidence in the bundles.

use dossier_tests::*;
use std::path::Path;

fn collect_fixture(name: &str, out: &Path, extra: &[&str]) -> std::path::PathBuf {
    let root = fixture(name);
    let mut args = vec!["--root", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    collect(out, &out.join("out"), &args)
}

#[test]
fn miner_incident_persistence_is_collected_with_evidence() {
    let d = tempfile::tempdir().unwrap();
    let b = collect_fixture(
        "rootfs-miner",
        d.path(),
        &["--case", "IR-2026-001", "--examiner", "J. Doe"],
    );
    assert!(
        b.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("esxi-web01-"),
        "{}",
        b.display()
    );

    let m = manifest(&b);
    assert_eq!(m["format"], "dossier-bundle");
    assert_eq!(m["case_id"], "IR-2026-001");
    assert_eq!(m["examiner"], "J. Doe");
    assert_eq!(m["host"]["hostname"], "esxi-web01");
    assert_eq!(m["target"]["kind"], "image");
    assert_eq!(m["playbook"]["name"], "triage");
    let status = |c: &str| {
        m["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == c)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("proc"), "not_available");
    assert_eq!(status("sockets"), "not_available");
    assert_eq!(status("cron"), "ok");

    // systemd: the planted unit, enabled through multi-user.target.wants, raw copy hashed.
    let units = of_kind(&b, "systemd", "unit");
    let py = units
        .iter()
        .find(|u| u["name"] == "python.service")
        .expect("python.service");
    assert_eq!(py["exec_start"][0], "/var/log/log");
    assert_eq!(py["path"], "/etc/systemd/system/python.service");
    assert_eq!(py["enabled"], true);
    let member_name = py["source"]["member"].as_str().unwrap();
    let raw = member(&b, member_name);
    assert!(String::from_utf8_lossy(&raw).contains("ExecStart=/var/log/log"));
    let listed = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == member_name)
        .unwrap();
    assert_eq!(
        listed["source"]["path"],
        "/etc/systemd/system/python.service"
    );
    assert!(
        listed["source"]["meta"]["mtime"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // cron: @reboot in root's spool, the cron.d entry.
    let entries = of_kind(&b, "cron", "cron_entry");
    let reboot = entries
        .iter()
        .find(|e| e["schedule"] == "@reboot")
        .expect("@reboot entry");
    assert_eq!(reboot["source"]["path"], "/var/spool/cron/crontabs/root");
    assert_eq!(reboot["run_as"], "root");
    assert!(
        reboot["command"]
            .as_str()
            .unwrap()
            .starts_with("/var/log/log")
    );
    let crond = entries
        .iter()
        .find(|e| e["source"]["path"] == "/etc/cron.d/python")
        .expect("cron.d entry");
    assert_eq!(crond["run_as"], "root");
    assert_eq!(crond["schedule"], "*/5 * * * *");

    // packages: the binary is not owned, hashed and copied into the bundle.
    let verify = of_kind(&b, "packages", "package_verify");
    let log = verify
        .iter()
        .find(|v| v["path"] == "/var/log/log")
        .expect("verify /var/log/log");
    assert_eq!(log["status"], "not_owned");
    let copy = &log["copy"];
    let bytes = member(&b, copy["member"].as_str().unwrap());
    assert!(bytes.windows(12).any(|w| w == b"stratum+tcp:"));
    assert_eq!(copy["sha256"], log["sha256"]);
    assert!(
        verify
            .iter()
            .any(|v| v["path"] == "/usr/bin/log" && v["status"] == "not_owned")
    );

    let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn clean_root_has_only_package_owned_persistence() {
    let d = tempfile::tempdir().unwrap();
    let b = collect_fixture("rootfs-clean", d.path(), &[]);
    let verify = of_kind(&b, "packages", "package_verify");
    assert!(!verify.is_empty());
    // Everything verifies, except the files an ordinary Debian host has that no package
    // owns: pam-auth-update's generated common-* files, the docker image's apt housekeeping
    // hook and an administrator's polkit rule.
    let unowned = [
        "/etc/pam.d/common-auth",
        "/etc/pam.d/common-account",
        "/etc/pam.d/common-password",
        "/etc/pam.d/common-session",
        "/etc/apt/apt.conf.d/docker-clean",
        "/etc/polkit-1/rules.d/60-sudo-manage-units.rules",
    ];
    for v in &verify {
        let expected = if unowned.contains(&v["path"].as_str().unwrap()) {
            "not_owned"
        } else {
            "ok"
        };
        assert_eq!(v["status"], expected, "{v}");
    }
    for p in unowned {
        assert!(verify.iter().any(|v| v["path"] == p), "{p} not verified");
    }
    let units = of_kind(&b, "systemd", "unit");
    let cron = units
        .iter()
        .find(|u| u["name"] == "cron.service")
        .expect("cron.service");
    assert_eq!(cron["enabled"], true);
    let timer = units
        .iter()
        .find(|u| u["name"] == "logrotate.timer")
        .expect("timer");
    assert_eq!(timer["timer"]["on_calendar"][0], "daily");
    assert!(units.iter().all(|u| u["name"] != "python.service"));
    let pk = of_kind(&b, "packages", "package");
    assert_eq!(pk.len(), 18);
    let facts = of_kind(&b, "facts", "host_facts");
    assert_eq!(facts[0]["hostname"], "clean-web01");
    assert_eq!(facts[0]["os_release"]["VERSION_ID"], "12");
}

#[test]
fn two_collections_in_one_second_get_distinct_names_and_a_chained_ledger() {
    let d = tempfile::tempdir().unwrap();
    let a = collect_fixture("rootfs-clean", d.path(), &["--no-analyze"]);
    let b = collect_fixture("rootfs-clean", d.path(), &["--no-analyze"]);
    assert_ne!(a, b);
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["seq"], 2);
    assert_eq!(lines[0]["action"], "created");
    use sha2::Digest;
    let first = ledger.lines().next().unwrap();
    let h: String = sha2::Sha256::digest(first.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(lines[1]["prev"], h);
}
