//! What the binary prints for people and programs: `--version` (commit and profile, the same
//! build as manifests record), `--help`'s exit codes, `completions`, `man` (one page per
//! subcommand, rendered by groff and man without warnings) and the `--json` document of
//! every command that prints information (parsed, and its documented fields checked).

use dossier_tests::*;
use serde_json::Value;
use std::path::Path;

/// Runs `dossier ARGS --json`-style commands and parses stdout as one JSON document.
fn json_of(cwd: &Path, args: &[&str], code: i32) -> Value {
    let o = dossier(cwd, args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {}", stdout(&o)));
    assert_eq!(v["version"], 1, "{v}");
    v
}

#[test]
fn version_names_the_commit_and_profile_and_agrees_with_manifests() {
    let d = tempfile::tempdir().unwrap();
    let o = dossier(d.path(), &["--version"]);
    assert!(o.status.success());
    let line = stdout(&o);
    // dossier 0.1.0 (abc1234def56 2026-12-03, debug)
    let inner = line
        .trim()
        .strip_prefix(&format!("dossier {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit_date, profile) = inner.split_once(", ").unwrap();
    assert!(profile == "debug" || profile == "release", "{line}");
    let commit = commit_date.split(' ').next().unwrap();
    assert!(!commit.is_empty(), "{line}");

    let root = d.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let bundle = collect(
        d.path(),
        &d.path().join("out"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    );
    let build = manifest(&bundle)["tool"]["build"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        build.starts_with(&format!("{commit} ")) && build.ends_with(&format!(" {profile}")),
        "manifest build {build:?} vs --version {line:?}"
    );
}

#[test]
fn help_lists_the_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["verify", "--help"][..]] {
        let out = stdout(&dossier(d.path(), args));
        assert!(out.contains("Exit status:"), "{out}");
        assert!(out.contains("  1  a check failed") && out.contains("  2  could not run"));
    }
}

#[test]
fn completions_name_every_subcommand() {
    let d = tempfile::tempdir().unwrap();
    let o = dossier(d.path(), &["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bash = stdout(&o);
    assert!(bash.contains("_dossier()"), "{bash}");
    for sub in [
        "collect",
        "verify",
        "sweep",
        "analyze",
        "rules",
        "completions",
        "man",
    ] {
        assert!(bash.contains(sub), "{sub}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = dossier(d.path(), &["completions", shell]);
        assert!(
            o.status.success() && stdout(&o).contains("sweep"),
            "{shell}"
        );
    }
}

#[test]
fn man_writes_one_page_per_subcommand_that_renders_without_warnings() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("man");
    let o = dossier(d.path(), &["man", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    // The subcommands `dossier --help` lists (but `help`), each with its page.
    let help = stdout(&dossier(d.path(), &["--help"]));
    let subs: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .collect();
    assert!(subs.len() >= 15, "{subs:?}");
    assert!(pages.contains(&"dossier.1".to_string()), "{pages:?}");
    for sub in &subs {
        assert!(
            pages.contains(&format!("dossier-{sub}.1")),
            "{sub}: {pages:?}"
        );
    }
    assert_eq!(stdout(&o).lines().count(), pages.len());
    let sweep = std::fs::read_to_string(dir.join("dossier-sweep.1")).unwrap();
    assert!(sweep.contains(".SH \"EXIT STATUS\""), "{sweep}");
    // Without --out: the top page on stdout.
    let top = stdout(&dossier(d.path(), &["man"]));
    assert!(
        top.contains(".TH dossier 1") && top.contains("EXIT STATUS"),
        "{top}"
    );

    if !have("groff") {
        skip_or_fail("groff is not installed (apt-get install groff-base)");
        return;
    }
    for page in &pages {
        let o = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(dir.join(page))
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{page}: {}",
            stderr(&o)
        );
    }
    if !have("man") {
        skip_or_fail("man is not installed (apt-get install man-db)");
        return;
    }
    let o = std::process::Command::new("man")
        .args(["--warnings", "-l"])
        .arg(dir.join("dossier-sweep.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "man warns: {}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("EXIT STATUS") && text.contains("--hosts"),
        "{text}"
    );
}

#[test]
fn listing_commands_print_one_documented_json_document() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();

    let v = json_of(p, &["collectors", "--json"], 0);
    assert_eq!(v["schema"], "dossier-collectors");
    let collectors = v["collectors"].as_array().unwrap();
    assert!(collectors.iter().any(|c| c["name"] == "proc"), "{v}");
    for c in collectors {
        assert!(
            c["version"].is_string() && c["description"].is_string(),
            "{c}"
        );
    }

    let v = json_of(p, &["rules", "--json"], 0);
    assert_eq!(v["schema"], "dossier-rules");
    assert_eq!(v["playbook"], "triage");
    assert!(
        v["thresholds"]["malicious"].as_u64().unwrap()
            > v["thresholds"]["suspicious"].as_u64().unwrap()
    );
    let rules = v["rules"].as_array().unwrap();
    assert!(rules.len() >= 50, "{}", rules.len());
    for r in rules {
        assert_eq!(
            r["mitre"].as_array().unwrap().len(),
            r["mitre_names"].as_array().unwrap().len(),
            "{r}"
        );
        assert!(
            ["behaviour", "context"].contains(&r["class"].as_str().unwrap()),
            "{r}"
        );
        assert!(
            ["info", "low", "medium", "high", "critical"]
                .contains(&r["severity"].as_str().unwrap()),
            "{r}"
        );
        assert!(r["weight"].is_u64() && r["enabled"].is_boolean() && r["id"].is_string());
        assert_eq!(r["source"], "builtin");
    }

    let v = json_of(p, &["plugins", "--json"], 0);
    assert_eq!(v["schema"], "dossier-plugins");
    assert!(
        v["abi_version"].is_u64() && v["api_version"].is_string(),
        "{v}"
    );
    let plugins = v["plugins"].as_array().unwrap();
    for kind in ["collector", "analyzer", "reporter"] {
        assert!(plugins.iter().any(|e| e["kind"] == kind), "{kind}: {v}");
    }
    assert!(
        plugins
            .iter()
            .all(|e| e["source"] == "builtin" && e["sha256"].is_null())
    );

    let v = json_of(p, &["playbooks", "--json"], 0);
    assert_eq!(v["schema"], "dossier-playbooks");
    let books = v["playbooks"].as_array().unwrap();
    assert_eq!(
        books.iter().filter(|b| b["default"] == true).count(),
        1,
        "{v}"
    );
    assert!(
        books
            .iter()
            .all(|b| b["sha256"].as_str().unwrap().len() == 64)
    );
}

#[test]
fn plugins_json_lists_a_loaded_library_with_its_hash() {
    let d = tempfile::tempdir().unwrap();
    let lib = ssh_keys_plugin();
    let v = json_of(
        d.path(),
        &["plugins", "--json", "--plugin", lib.to_str().unwrap()],
        0,
    );
    let loaded: Vec<&Value> = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "plugin")
        .collect();
    assert!(!loaded.is_empty(), "{v}");
    for e in loaded {
        assert_eq!(e["sha256"].as_str().unwrap(), sha256_file(&lib), "{e}");
        assert!(e["path"].is_string() && e["load_ms"].is_f64(), "{e}");
    }
}

#[test]
fn verify_json_reports_each_bundle_and_keeps_the_exit_code() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let src = fixture("bundles/esxi-web01-snapshot.zip");
    let good = p.join("good.zip");
    std::fs::copy(&src, &good).unwrap();
    let sidecar = std::fs::read_to_string(src.with_extension("zip.sha256")).unwrap();
    std::fs::write(
        p.join("good.zip.sha256"),
        sidecar.replace("esxi-web01-snapshot.zip", "good.zip"),
    )
    .unwrap();
    let whole = std::fs::read(&src).unwrap();
    std::fs::write(p.join("trunc.zip"), &whole[..200]).unwrap();

    let v = json_of(p, &["verify", "--no-ledger", "--json", "good.zip"], 0);
    assert_eq!(v["schema"], "dossier-verify");
    assert_eq!(v["failed"], 0);
    let b = &v["bundles"][0];
    assert_eq!(b["path"], "good.zip");
    assert_eq!(b["ok"], true);
    assert_eq!(b["sha256"].as_str().unwrap(), sha256_file(&good));
    assert_eq!(b["encryption"], "none");
    assert!(b["members"].as_u64().unwrap() > 1, "{b}");
    assert!(b["problems"].as_array().unwrap().is_empty() && b["signature"].is_null());

    let v = json_of(
        p,
        &["verify", "--no-ledger", "--json", "good.zip", "trunc.zip"],
        1,
    );
    assert_eq!(v["failed"], 1);
    let t = &v["bundles"][1];
    assert_eq!(t["ok"], false);
    let problems = t["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|x| x["subject"] == "bundle" && x["message"].as_str().unwrap().contains("zip")),
        "{t}"
    );
}

#[test]
fn sweep_json_reports_every_target_even_unreachable_ones() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("known_hosts"), "").unwrap();
    // Port 1 of this machine refuses at once: the sweep runs, collects nothing, exits 1.
    let v = json_of(
        p,
        &[
            "sweep",
            "127.0.0.1",
            "-p",
            "1",
            "--no-analyze",
            "-q",
            "--json",
            "--out",
            "out",
            "--ssh-config",
            "/dev/null",
            "--known-hosts",
            "known_hosts",
            "--connect-timeout",
            "3",
        ],
        1,
    );
    assert_eq!(v["schema"], "dossier-sweep");
    assert_eq!(v["incomplete"], 1);
    assert!(v["analysis"].is_null());
    assert!(v["summary"].as_str().unwrap().ends_with("sweep.json"));
    let t = &v["targets"][0];
    assert_eq!(t["target"], "127.0.0.1");
    assert_eq!(t["label"], "ssh:root@127.0.0.1:1");
    assert_eq!(t["outcome"], "unreachable");
    assert!(t["reason"].is_string() && t["bundle"].is_null(), "{t}");
}

#[test]
fn analyze_json_lists_hosts_and_refused_bundles() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let bundle = collect(
        p,
        &p.join("out"),
        &[
            "--no-analyze",
            "--root",
            fixture("rootfs-clean").to_str().unwrap(),
        ],
    );
    let whole = std::fs::read(&bundle).unwrap();
    std::fs::write(p.join("trunc.zip"), &whole[..200]).unwrap();
    let v = json_of(
        p,
        &[
            "analyze",
            "--json",
            "--out",
            "rep",
            bundle.to_str().unwrap(),
            "trunc.zip",
        ],
        1,
    );
    assert_eq!(v["schema"], "dossier-analyze");
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{v}");
    let h = &hosts[0];
    assert!(h["hostname"].is_string() && h["verdict"].is_string(), "{h}");
    assert!(h["score"].is_u64() && h["findings"].is_u64(), "{h}");
    assert!(Path::new(h["report"].as_str().unwrap()).is_relative());
    assert!(p.join(h["report"].as_str().unwrap()).is_file(), "{h}");
    assert_eq!(v["not_analyzed"][0]["subject"], "trunc.zip", "{v}");
    assert!(
        v["not_analyzed"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("verification failed: "),
        "{v}"
    );
    assert!(p.join(v["findings"].as_str().unwrap()).is_file(), "{v}");
    assert!(v["events"].is_null());
}

#[test]
fn actions_json_lists_the_records_of_this_machine() {
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("dossier actions on this machine needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let (state, run) = (p.join("state"), p.join("run"));
    let v = json_of(
        p,
        &[
            "actions",
            "--json",
            "--state-dir",
            state.to_str().unwrap(),
            "--runtime-dir",
            run.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(v["schema"], "dossier-actions");
    assert_eq!(v["hosts"][0]["host"], "local", "{v}");
    assert!(
        v["hosts"][0]["records"].as_array().unwrap().is_empty(),
        "{v}"
    );
    assert!(
        v["hosts"][0]["problems"].as_array().unwrap().is_empty(),
        "{v}"
    );
}
