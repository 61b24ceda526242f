//! Rules evaluated on partial data, end to end: a fixture root with a service account made
//! usable (a login shell and a password hash in a root-only `/etc/shadow`) is collected as root
//! and as `nobody` with the real binary, then analyzed. As root the rule fires; as `nobody` the
//! shadow file is unreadable (a `permission_denied` issue in the manifest), the rule cannot
//! fire, and the reports must say it ran on partial data and why instead of looking clean.

use dossier_tests::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const RULE: &str = "system-account-usable";

/// The fixture root with `www-data` made usable and `/etc/shadow` readable by root only.
fn plant(root: &Path) {
    let passwd = root.join("etc/passwd");
    let text = std::fs::read_to_string(&passwd).unwrap();
    let planted = text.replace(
        "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
        "www-data:x:33:33:www-data:/var/www:/bin/bash",
    );
    assert_ne!(text, planted, "rootfs-clean has www-data with nologin");
    std::fs::write(&passwd, planted).unwrap();
    let shadow = root.join("etc/shadow");
    let text = std::fs::read_to_string(&shadow).unwrap();
    let planted = text.replace(
        "www-data:*:",
        "www-data:$6$salt$Q0kZ0sVd3vFQm7Yy5mXl0mF2Qw4ZrXyZyq1d0cB5qP9Lw8lJ3m2kP1sX0nA9bC8dE7fG6hI5jK4lM3nO2pQ1r/:",
    );
    assert_ne!(text, planted);
    std::fs::write(&shadow, planted).unwrap();
    std::fs::set_permissions(&shadow, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The one host report under `out`.
fn host_report(out: &Path) -> String {
    let reports: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path().join("report.md"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    std::fs::read_to_string(&reports[0]).unwrap()
}

fn analyze(cwd: &Path, bundle: &Path, out: &Path) -> (String, String, serde_json::Value) {
    let o = dossier(
        cwd,
        &[
            "analyze",
            "--out",
            out.to_str().unwrap(),
            bundle.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let fleet = std::fs::read_to_string(out.join("fleet-report.md")).unwrap();
    let json = serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    (host_report(out), fleet, json)
}

/// The lines of one `### ` section of a report.
fn section<'a>(report: &'a str, heading: &str) -> Vec<&'a str> {
    report
        .split("\n### ")
        .find(|s| s.starts_with(heading))
        .map(|s| s.lines().skip(1).filter(|l| l.starts_with("- ")).collect())
        .unwrap_or_default()
}

const PARTIAL: &str = "Evaluated on partial data (a clean result here is not proof)";

#[test]
fn unprivileged_collection_marks_rules_evaluated_on_partial_data() {
    if !nix::unistd::geteuid().is_root() {
        dossier_tests::skip_or_fail("needs root (a root-only /etc/shadow, collection as nobody)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    plant(&root);

    // As root: the usable account is seen, and the accounts data is complete.
    let b = collect(
        d.path(),
        &d.path().join("bundles-root"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    );
    // The bundle log says what each collector cost: one `cost:` line per collector run
    // (an image has no round trips).
    let log = String::from_utf8(dossier_tests::member(&b, "log.jsonl")).unwrap();
    let costs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"cost: read "))
        .collect();
    let runs = manifest(&b)["collectors"].as_array().unwrap().len();
    assert_eq!(costs.len(), runs, "{log}");
    assert!(
        costs
            .iter()
            .all(|l| l.contains("files opened") && !l.contains("round trips"))
    );
    let (report, fleet, json) = analyze(d.path(), &b, &d.path().join("rep-root"));
    let fired: Vec<&str> = json["hosts"][0]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["rule"].as_str())
        .collect();
    assert!(fired.contains(&RULE), "{fired:?}\n{report}");
    assert!(
        !section(&report, PARTIAL).iter().any(|l| l.contains(RULE)),
        "{report}"
    );

    // As nobody: /etc/shadow is unreadable, the rule cannot fire and is listed as partial.
    let out = d.path().join("bundles-nobody");
    let b = collect_as_nobody(&root, &out);
    let m = manifest(&b);
    let accounts = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "accounts")
        .unwrap();
    assert_eq!(accounts["status"], "partial", "{accounts}");
    assert!(
        accounts["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["subject"] == "/etc/shadow" && i["kind"]["error"] == "permission_denied"),
        "{accounts}"
    );

    let rep = d.path().join("rep-nobody");
    let (report, fleet_nobody, json) = analyze(d.path(), &b, &rep);
    let h = &json["hosts"][0];
    assert!(
        !h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule"] == RULE),
        "{report}"
    );
    let partial = h["partial"].as_array().expect("partial in findings.json");
    let p = partial
        .iter()
        .find(|p| p["rule"] == RULE)
        .unwrap_or_else(|| panic!("{RULE} not partial: {partial:?}"));
    assert_eq!(p["collectors"], serde_json::json!(["accounts"]));
    let missing = p["missing"].as_str().unwrap();
    assert!(missing.starts_with("accounts: "), "{missing}");
    assert!(
        missing.contains("permission denied: /etc/shadow"),
        "{missing}"
    );

    let lines = section(&report, PARTIAL);
    let line = lines
        .iter()
        .find(|l| l.contains(&format!("`{RULE}`")))
        .unwrap_or_else(|| panic!("{RULE} not in the partial section:\n{report}"));
    assert!(
        line.contains("permission denied: /etc/shadow"),
        "{line}\n{report}"
    );
    // The section comes after the score and "Not evaluated", before the gaps.
    let at = |s: &str| report.find(s).unwrap_or_else(|| panic!("{s}:\n{report}"));
    assert!(at("### Score") < at(PARTIAL) && at(PARTIAL) < at("### Collection gaps"));
    if let Some(ne) = report.find("### Not evaluated") {
        assert!(ne < at(PARTIAL));
    }
    // The collection gap names the shadow file, whatever issue the collector met first.
    let gap = section(&report, "Collection gaps")
        .into_iter()
        .find(|l| l.contains("collector `accounts`"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(gap.contains("permission denied"), "{gap}");
    assert!(gap.contains("/etc/shadow"), "{gap}");
    // A benign verdict says it rests on partial data.
    if h["verdict"] == "Unclear/Benign" {
        assert!(
            report.contains(&format!(
                "**Unclear/Benign** (score {} / 100), on partial data: {} rule(s)",
                h["score"],
                partial.len()
            )),
            "{report}"
        );
    }
    // The fleet report counts and marks the host.
    assert!(
        fleet_nobody.contains("**Hosts collected with gaps:** 1  \n"),
        "{fleet_nobody}"
    );
    let n = partial.len();
    // A `--root` image: "offline image (N rules not evaluated, M rules on partial data)".
    let marker = format!(
        "{n} rule{} on partial data) |",
        if n == 1 { "" } else { "s" }
    );
    assert!(fleet_nobody.contains(&marker), "{fleet_nobody}");
    // The root collection of the same tree: its fleet table says whether anything was missing,
    // and never lists the account rule as partial.
    assert!(fleet.contains("**Hosts collected with gaps:** "), "{fleet}");

    // Re-analysis is byte-identical.
    let again = d.path().join("rep-nobody-2");
    let (report2, fleet2, _) = analyze(d.path(), &b, &again);
    assert_eq!(report, report2);
    assert_eq!(fleet_nobody, fleet2);
    assert_eq!(
        std::fs::read(rep.join("findings.json")).unwrap(),
        std::fs::read(again.join("findings.json")).unwrap()
    );
}
