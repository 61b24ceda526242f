//! `dossier contain --from findings.json --runtime [--kill]` on this machine, as root, on a
//! process the test starts and a findings document naming it: `--kill` without a plan that
//! suspends is refused in one line; the runtime plan's action records are written under
//! `--runtime-dir` only (nothing under the state folder); `--kill` adds a kill after the
//! suspend whose `applying` record already holds the frozen process's exe and memory map
//! hashes; a new collection of the host while it is suspended still reports it, its findings'
//! explanations and the host report saying it is suspended (state T); `actions` lists the
//! runtime records and `restore --all` refuses the kill (it cannot be undone) and records it
//! in the runtime folder.

use dossier_tests::*;
use std::path::Path;
use std::process::{Child, Command};

/// The state letter of `/proc/PID/stat` (`None` once reaped).
fn state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?.1.trim_start().chars().next()
}

/// A `sleep` this test started: killed (by its PID) and reaped when dropped.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The records of one folder: (file name, JSON).
fn records(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let mut v: Vec<(String, serde_json::Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let j = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), j)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_runtime_plan_records_under_the_runtime_folder_and_kill_hashes_before_it_kills() {
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("needs root (dossier contain --apply)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    // A copy of sleep, deleted once started (the kind of process an analysis flags).
    let exe = cwd.join("kworkerds");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let sleeper = Sleeper(Command::new(&exe).arg("1000").spawn().unwrap());
    std::fs::remove_file(&exe).unwrap();
    let pid = sleeper.0.id();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let findings = cwd.join("findings.json");
    let doc = serde_json::json!({
        "schema": "dossier-findings", "version": 1,
        "hosts": [{"hostname": host, "bundle": "earlier.zip", "bundle_sha256": "00",
            "findings": [{"rule": "deleted-exe-running", "subject": format!("pid {pid}"),
                "evidence": [{"what": format!("process {pid} (sleep)")}],
                "iocs": [{"type": "pid", "value": pid}]}]}]
    });
    std::fs::write(&findings, serde_json::to_vec(&doc).unwrap()).unwrap();
    let f = findings.to_str().unwrap();
    let (state_dir, run_dir, out) = (cwd.join("state"), cwd.join("run"), cwd.join("case"));
    let dirs = [
        "--state-dir",
        state_dir.to_str().unwrap(),
        "--runtime-dir",
        run_dir.to_str().unwrap(),
    ];
    let out_s = out.to_str().unwrap();

    // --kill needs a plan that suspends.
    let o = dossier(
        cwd,
        &["contain", "--action", "quarantine:/nonexistent", "--kill"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("--kill kills the processes a plan suspends"),
        "{e}"
    );

    // The plan: suspend, then kill, nothing changed.
    let mut plan = vec![
        "contain",
        "--from",
        f,
        "--runtime",
        "--kill",
        "--out",
        out_s,
    ];
    plan.extend(dirs);
    let o = dossier(cwd, &plan);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let suspend = text.find(&format!("1. suspend PID {pid} ")).expect(&text);
    let kill = text.find(&format!("2. kill PID {pid} ")).expect(&text);
    assert!(suspend < kill, "{text}");
    assert!(text.contains("dropped at reboot"), "{text}");
    assert_eq!(state(pid), Some('S'));
    assert!(!state_dir.exists() && !run_dir.exists());

    let snapshot = collect(cwd, &out, &["--no-analyze"]);
    let snap = snapshot.to_str().unwrap();

    // Runtime suspend only: the records are under the runtime folder, none under the state one.
    let mut apply = vec![
        "contain",
        "--from",
        f,
        "--runtime",
        "--apply",
        "--snapshot",
        snap,
    ];
    apply.extend(["--out", out_s]);
    apply.extend(dirs);
    let o = dossier(cwd, &apply);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(state(pid), Some('T'), "{}", stdout(&o));
    assert!(
        !state_dir.exists(),
        "the runtime plan wrote under the state folder"
    );
    let recs = records(&run_dir.join("actions"));
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(recs.iter().all(|(_, r)| r["runtime"] == true));

    // A sweep of the host now: the process is still a finding, said to be suspended.
    let again = cwd.join("again");
    collect(cwd, &again, &[]);
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(again.join("analysis/findings.json")).unwrap())
            .unwrap();
    let note = format!("PID {pid} suspended (state T): contained, not running");
    let about: Vec<&serde_json::Value> = findings["hosts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["explanation"].as_str().unwrap().contains(&note))
        .collect();
    assert!(!about.is_empty(), "{}", findings["hosts"][0]["findings"]);
    assert!(about.iter().all(|f| f["weight"].as_u64().unwrap() > 0));
    let report = walk(&again.join("analysis"))
        .into_iter()
        .find(|p| p.ends_with("report.md"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .expect("a host report");
    assert!(report.contains(&note), "{report}");
    assert!(
        report.contains(&format!("process {pid} (suspended, state T)")),
        "{report}"
    );

    // With --kill: the suspend is in place, the kill is added, hashed first.
    apply.push("--kill");
    let o = dossier(cwd, &apply);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("already applied"), "{text}");
    assert!(matches!(state(pid), None | Some('Z')), "{text}");
    assert!(!state_dir.exists());
    let recs = records(&run_dir.join("actions"));
    let (_, applying) = recs
        .iter()
        .find(|(_, r)| r["step"]["action"] == "kill" && r["state"]["name"] == "applying")
        .expect("the kill's applying record");
    let first = &applying["before"]["processes"][0];
    assert_eq!(first["pid"], pid);
    assert_eq!(first["maps_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(first["exe_sha256"].as_str().unwrap().len(), 64);
    assert!(
        first["maps"]
            .as_str()
            .unwrap()
            .contains("kworkerds (deleted)"),
        "{first}"
    );
    // The ledger's applying entry of the kill holds the same hashes and the record's SHA-256.
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    let (name, _) = recs
        .iter()
        .find(|(_, r)| r["step"]["action"] == "kill" && r["state"]["name"] == "applying")
        .unwrap();
    let entry: serde_json::Value = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "action_applying")
        .map(|e| serde_json::from_str(e["detail"].as_str().unwrap()).unwrap())
        .find(|d: &serde_json::Value| d["record"] == name.as_str())
        .expect("the kill's action_applying entry");
    assert_eq!(entry["hashed"][0]["maps_sha256"], first["maps_sha256"]);
    assert_eq!(
        entry["record_sha256"],
        sha256_file(&run_dir.join("actions").join(name)).as_str()
    );
    assert_eq!(entry["runtime"], true);

    // actions lists the runtime records; restore refuses the kill, resumes nothing (gone).
    let mut actions = vec!["actions"];
    actions.extend(dirs);
    let o = dossier(cwd, &actions);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.matches("[runtime record: dropped at reboot]").count(),
        2,
        "{text}"
    );
    let mut restore = vec!["restore", "--all", "--out", out_s];
    restore.extend(dirs);
    let o = dossier(cwd, &restore);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("cannot be brought back"),
        "{}",
        stdout(&o)
    );
    assert!(!state_dir.exists());
    let recs = records(&run_dir.join("actions"));
    assert!(
        recs.iter()
            .any(|(_, r)| r["state"]["name"] == "restore_failed")
    );
    assert!(recs.iter().any(|(_, r)| r["state"]["name"] == "restored"));
    drop(sleeper);
}
