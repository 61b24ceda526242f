//! Reports in the responder's language, end to end with the real binary: the archived miner
//! bundle alone and together with a benign host collected from a fixture root, analyzed in
//! English and in Simplified Chinese (`--lang`, the playbook's `[report] lang`). The host and
//! fleet reports of both languages are compared with their snapshots; identifiers, paths,
//! hashes and ATT&CK ids (from findings.json, which is the same in every language) appear
//! unchanged in the Chinese reports, and no sentence of our English catalogue is left in them
//! (text from the host itself, such as evidence descriptions, is data and stays).

use dossier_i18n::{Lang, catalog};
use dossier_plugin_api::analysis::Message;
use dossier_tests::*;
use std::path::{Path, PathBuf};

/// Compares a report with its insta snapshot `tests/snapshots/<name>.snap` (as the analysis
/// tests do: the body is the report as written).
fn snapshot(name: &str, actual: &str) {
    assert!(
        actual.ends_with('\n')
            && actual.trim_end().len() + 1 == actual.len()
            && !actual.contains('\r'),
        "{name}: a report ends in one LF after text and has no CR"
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, actual));
}

/// The archived miner bundle, copied into `dir` with its sidecar.
fn miner(dir: &Path) -> PathBuf {
    for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
        std::fs::copy(fixture("bundles").join(f), dir.join(f)).unwrap();
    }
    dir.join("esxi-web01-snapshot.zip")
}

/// `dossier analyze` of `bundles` into `out` with `extra` flags; findings.json.
fn analyze(cwd: &Path, bundles: &[&Path], out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    let o = dossier(cwd, &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every identifier, path, hash and ATT&CK id of host `h` in findings.json that a host report
/// shows: rule ids, evidence members and hashes, the techniques, subjects and IOCs of scored
/// findings, the bundle.
fn identifiers(h: &serde_json::Value) -> Vec<String> {
    let mut v = vec![
        h["hostname"].as_str().unwrap().to_string(),
        h["bundle"].as_str().unwrap().to_string(),
        h["bundle_sha256"].as_str().unwrap().to_string(),
    ];
    let findings = h["findings"].as_array().unwrap().iter();
    let context = h["context"].as_array().into_iter().flatten();
    for f in findings.chain(context) {
        v.push(f["rule"].as_str().unwrap().to_string());
        for e in f["evidence"].as_array().unwrap() {
            v.push(e["member"].as_str().unwrap().to_string());
            v.push(e["sha256"].as_str().unwrap().to_string());
        }
    }
    // Scored findings: their techniques and subjects too (context shows its rule and evidence).
    for f in h["findings"].as_array().unwrap() {
        v.push(f["subject"].as_str().unwrap().to_string());
        for m in f["mitre"].as_array().unwrap() {
            v.push(m.as_str().unwrap().to_string());
        }
        for i in f["iocs"].as_array().unwrap() {
            if i["type"] != "pid" && i["type"] != "cron_command" {
                v.push(
                    i["value"]
                        .as_str()
                        .map_or(i["value"].to_string(), String::from),
                );
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// The pieces of English catalogue sentences (between arguments, code spans and Markdown
/// marks) of at least three words, for every id whose Chinese text is not the same as the English.
fn english_sentences() -> Vec<String> {
    let (en, zh) = (catalog(Lang::En), catalog(Lang::ZhCn));
    let mut v = Vec::new();
    for id in en.ids() {
        let text = en.text(id);
        if zh.get(id) == Some(text) {
            continue;
        }
        // Code spans (commands, options) are the same in every language.
        let prose: Vec<&str> = text.split('`').step_by(2).collect();
        for piece in prose
            .iter()
            .flat_map(|p| p.split(|c: char| "{}*()[]:;\"".contains(c)))
        {
            let piece = piece.trim().trim_end_matches([',', '.']);
            let words = piece
                .split_whitespace()
                .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
                .count();
            if words >= 3 {
                v.push(piece.to_string());
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// The English texts of host `h` in findings.json that a report shows and that have a
/// catalogue message beside them, when the Chinese rendering differs: every piece of evidence
/// of a built-in rule's finding (its `what`), every rule not evaluated (`reason`) or evaluated
/// on partial data (`missing`), every collection gap's detail and every executable's
/// referrers. Checks on the way that each of them has its message (a gap's detail and the
/// evidence of plugins' findings may have none).
fn english_fields(h: &serde_json::Value) -> Vec<String> {
    let zh = catalog(Lang::ZhCn);
    let mut v = Vec::new();
    let mut take = |text: &serde_json::Value, m: &serde_json::Value, what: &str| {
        let text = text.as_str().unwrap();
        assert!(!m.is_null(), "{what} {text:?} has no message");
        let m: Message = serde_json::from_value(m.clone()).unwrap();
        if zh.render(&m) != text {
            v.push(text.to_string());
        }
    };
    let findings = h["findings"].as_array().unwrap().iter();
    for f in findings.chain(h["context"].as_array().into_iter().flatten()) {
        for e in f["evidence"].as_array().unwrap() {
            take(&e["what"], &e["what_message"], "evidence");
        }
    }
    for n in h["not_evaluated"].as_array().into_iter().flatten() {
        take(&n["reason"], &n["reason_message"], "not evaluated");
    }
    for p in h["partial"].as_array().into_iter().flatten() {
        take(&p["missing"], &p["missing_message"], "partial");
    }
    for g in h["gaps"].as_array().into_iter().flatten() {
        take(&g["detail"], &g["detail_message"], "gap");
    }
    for e in h["executables"].as_array().into_iter().flatten() {
        let by = e["referenced_by"].as_array().unwrap();
        let ms = e["referenced_by_messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(by.len(), ms.len(), "referrers without messages: {e}");
        for (t, m) in by.iter().zip(&ms) {
            take(t, m, "referrer");
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Checks a Chinese report: `ids` all there, no English catalogue sentence left.
fn check_chinese(name: &str, report: &str, ids: &[String]) {
    let missing: Vec<&String> = ids
        .iter()
        .filter(|i| !report.contains(i.as_str()))
        .collect();
    assert!(missing.is_empty(), "{name}: missing {missing:?}\n{report}");
    let left: Vec<String> = english_sentences()
        .into_iter()
        .filter(|s| report.contains(s.as_str()))
        .collect();
    assert!(left.is_empty(), "{name}: English left: {left:?}\n{report}");
}

/// Checks that none of `english` (texts of findings.json with a message) is in a Chinese
/// report.
fn check_no_english(name: &str, report: &str, english: &[String]) {
    let left: Vec<&String> = english
        .iter()
        .filter(|t| report.contains(t.as_str()))
        .collect();
    assert!(left.is_empty(), "{name}: English left: {left:?}\n{report}");
}

#[test]
fn the_miner_bundle_reports_in_chinese_keep_every_identifier_and_are_deterministic() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner(d.path());
    let en = analyze(
        d.path(),
        &[&bundle],
        &d.path().join("en"),
        &["--lang", "en"],
    );
    let zh = analyze(
        d.path(),
        &[&bundle],
        &d.path().join("zh"),
        &["--lang", "zh-CN"],
    );
    let again = analyze(
        d.path(),
        &[&bundle],
        &d.path().join("zh2"),
        &["--lang", "zh_CN"],
    );
    let plain = analyze(d.path(), &[&bundle], &d.path().join("plain"), &[]);
    // findings.json is the same in every language.
    assert_eq!(en, zh);
    assert_eq!(en, plain);
    assert_eq!(en, again);
    for f in ["esxi-web01/report.md", "fleet-report.md"] {
        // English is the default, byte for byte; Chinese the same bytes each time.
        assert_eq!(
            read(&d.path().join("en").join(f)),
            read(&d.path().join("plain").join(f))
        );
        assert_eq!(
            read(&d.path().join("zh").join(f)),
            read(&d.path().join("zh2").join(f))
        );
    }
    let host = read(&d.path().join("zh/esxi-web01/report.md"));
    let fleet = read(&d.path().join("zh/fleet-report.md"));
    for (h, want) in [
        (&host, "## 判定"),
        (&host, "## 处置建议"),
        (&host, "## 失陷指标 IOC"),
    ] {
        assert!(h.contains(want), "{want}\n{h}");
    }
    assert!(
        fleet.contains("## 执行摘要") && fleet.contains("### ALERT-001: "),
        "{fleet}"
    );
    let ids = identifiers(&zh["hosts"][0]);
    check_chinese("host", &host, &ids);
    check_no_english("host", &host, &english_fields(&zh["hosts"][0]));
    let rules: Vec<String> = zh["hosts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    check_chinese("fleet", &fleet, &rules);
    check_no_english("fleet", &fleet, &english_fields(&zh["hosts"][0]));
    snapshot("esxi-web01.report.zh-CN.md", &host);
    snapshot("fleet-report.zh-CN.md", &fleet);
}

/// What changes from one collection of a fixture root to the next (bundle name and hash,
/// times, the target's path, the build and the playbook's hash), replaced by fixed words so
/// that the rest of the reports can be compared with a snapshot.
fn normalized(report: &str, h: &serde_json::Value) -> String {
    let mut r = report.to_string();
    let sha = h["bundle_sha256"].as_str().unwrap();
    for (field, word) in [
        ("bundle", "BUNDLE.zip"),
        ("collected_started", "START"),
        ("collected_finished", "FINISH"),
        ("target", "image:ROOT"),
        ("tool", "dossier BUILD"),
        ("playbook_sha256", "PLAYBOOK-SHA256"),
    ] {
        r = r.replace(h[field].as_str().unwrap(), word);
    }
    r.replace(sha, "BUNDLE-SHA256")
        .replace(&sha[..16], "BUNDLE-SHA")
}

#[test]
fn a_fleet_of_the_miner_and_a_benign_host_reports_in_both_languages() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner(d.path());
    let root = fixture("rootfs-clean");
    let clean = collect(
        d.path(),
        &d.path().join("b"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    );
    for lang in ["en", "zh-CN"] {
        let out = d.path().join(lang);
        let json = analyze(d.path(), &[&bundle, &clean], &out, &["--lang", lang]);
        let hosts = json["hosts"].as_array().unwrap();
        let benign = hosts
            .iter()
            .find(|h| h["verdict"] == "Unclear/Benign")
            .unwrap();
        let name = benign["hostname"].as_str().unwrap();
        let host = read(&out.join(name).join("report.md"));
        let fleet = read(&out.join("fleet-report.md"));
        if lang == "zh-CN" {
            assert!(host.contains("**不明/良性**（评分 0 / 100）"), "{host}");
            check_chinese("benign host", &host, &identifiers(benign));
            check_no_english("benign host", &host, &english_fields(benign));
            let names: Vec<String> = hosts
                .iter()
                .map(|h| h["hostname"].as_str().unwrap().to_string())
                .collect();
            check_chinese("fleet", &fleet, &names);
        } else {
            assert_eq!(
                dossier_reporters::fleet::summary_mismatches(&fleet),
                Vec::<String>::new(),
                "{fleet}"
            );
        }
        snapshot(
            &format!("{name}.report.{lang}.md"),
            &normalized(&host, benign),
        );
        snapshot(
            &format!("fleet-miner-benign.{lang}.md"),
            &normalized(&fleet, benign),
        );
    }
}

#[test]
fn the_playbook_sets_the_language_the_flag_wins_and_an_unknown_one_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner(d.path());
    let triage = dossier(d.path(), &["playbooks", "show", "triage"]);
    let text = stdout(&triage);
    // `playbooks show` prints the SHA-256 first, as a comment.
    let pb = d.path().join("zh.toml");
    std::fs::write(&pb, format!("{text}\n[report]\nlang = \"zh-CN\"\n")).unwrap();
    let p = pb.to_str().unwrap();
    analyze(
        d.path(),
        &[&bundle],
        &d.path().join("pb"),
        &["--playbook", p],
    );
    let r = read(&d.path().join("pb/esxi-web01/report.md"));
    assert!(r.contains("## 判定") && !r.contains("## Verdict"), "{r}");
    analyze(
        d.path(),
        &[&bundle],
        &d.path().join("flag"),
        &["--playbook", p, "--lang", "en"],
    );
    let r = read(&d.path().join("flag/esxi-web01/report.md"));
    assert!(r.contains("## Verdict") && !r.contains("判定"), "{r}");

    let o = dossier(
        d.path(),
        &[
            "analyze",
            "--lang",
            "fr",
            "--out",
            "x",
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--lang")
            && err.contains("unknown report language \"fr\": use one of en, zh-CN"),
        "{err}"
    );
    assert!(!d.path().join("x").exists());
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, format!("{text}\n[report]\nlang = \"klingon\"\n")).unwrap();
    let o = dossier(
        d.path(),
        &[
            "analyze",
            "--playbook",
            bad.to_str().unwrap(),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("key `report.lang`") && err.contains("klingon"),
        "{err}"
    );
}

#[test]
fn imported_events_report_in_chinese_and_events_json_does_not_change() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner(d.path());
    let csv = repo_root().join("events/tests/data/defender/seed001_script_content.csv");
    let ev = d.path().join("ev");
    let o = dossier(
        d.path(),
        &[
            "import",
            csv.to_str().unwrap(),
            "--host",
            "wazuh1",
            "--out",
            ev.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let import = PathBuf::from(stdout(&o).trim());
    let mut reports = Vec::new();
    for lang in ["en", "zh-CN"] {
        let out = d.path().join(lang);
        analyze(d.path(), &[&bundle, &import], &out, &["--lang", lang]);
        reports.push(out);
    }
    let (en, zh) = (&reports[0], &reports[1]);
    assert_eq!(read(&en.join("events.json")), read(&zh.join("events.json")));
    let events = read(&zh.join("events-report.md"));
    assert!(
        events.starts_with("# 安全分析报告：导入的事件\n"),
        "{events}"
    );
    assert!(
        events.contains("## 执行摘要") && events.contains("**分析的事件总数：** 5"),
        "{events}"
    );
    let fleet = read(&zh.join("fleet-report.md"));
    assert!(
        fleet.contains("**导入的事件：** 来自 1 个导入证据包"),
        "{fleet}"
    );
    check_chinese("fleet with events", &fleet, &["esxi-web01".to_string()]);
    // The device has events only: a host report of its own, in Chinese.
    let device = std::fs::read_dir(zh)
        .unwrap()
        .map(|e| e.unwrap().path().join("report.md"))
        .find(|p| p.exists() && read(p).starts_with("# 主机报告："))
        .expect("the events-only host report");
    let host = read(&device);
    assert!(
        host.contains("## 导入的事件") && host.contains("events-report.md"),
        "{host}"
    );
    check_chinese("events-only host", &host, &[]);
    // English is as before.
    assert!(
        read(&en.join("events-report.md"))
            .starts_with("# Security Analysis Report: imported events\n")
    );
    assert!(
        read(&en.join("fleet-report.md"))
            .contains("**Imported events:** 5 events from 1 import bundle(s)")
    );
}

#[test]
fn event_alerts_describe_their_rules_and_assess_risk_in_chinese() {
    let d = tempfile::tempdir().unwrap();
    let data = repo_root().join("events/tests/data");
    let ev = d.path().join("ev");
    let files: Vec<String> = ["audit-enriched.log", "audit.log", "journal.json"]
        .iter()
        .map(|f| data.join(f).to_str().unwrap().to_string())
        .collect();
    let o = dossier(
        d.path(),
        &[
            "import",
            &files[0],
            &files[1],
            &files[2],
            "--host",
            "web1",
            "--out",
            ev.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let import = PathBuf::from(stdout(&o).trim());
    let (en, zh) = (d.path().join("en"), d.path().join("zh"));
    analyze(d.path(), &[&import], &en, &["--lang", "en"]);
    analyze(d.path(), &[&import], &zh, &["--lang", "zh-CN"]);
    assert_eq!(read(&en.join("events.json")), read(&zh.join("events.json")));
    let events = read(&zh.join("events-report.md"));
    let json: serde_json::Value = serde_json::from_str(&read(&en.join("events.json"))).unwrap();
    let alerts = json["alerts"].as_array().unwrap();
    assert!(alerts.len() >= 3, "{json}");
    // Every alert's explanation and risk assessment and every rule's description are in
    // Chinese.
    // The explanation is the description's first paragraph.
    let mut english: Vec<String> = alerts
        .iter()
        .flat_map(|a| {
            let d = a["description"].as_str().unwrap();
            let explained = d.split("\n\n_").next().unwrap().to_string();
            [a["risk"].as_str().unwrap().to_string(), explained]
        })
        .collect();
    let en_catalog = catalog(Lang::En);
    english.extend(
        en_catalog
            .ids()
            .filter(|id| id.starts_with("event-rule."))
            .map(|id| en_catalog.text(id).to_string()),
    );
    check_no_english("events", &events, &english);
    assert!(events.contains("**风险评估：**"), "{events}");
}
