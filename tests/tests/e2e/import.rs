//! `dossier import` end to end: audit, journal (gzipped) and Defender files into one import bundle
//! that `verify` accepts, with the custody ledger's `imported` entry, every source file stored
//! byte for byte, and every event naming the stored member it came from; bad input refused with
//! one line and exit 2; a record that cannot be read recorded as an issue.

use dossier_tests::{dossier, stderr, stdout};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The events crate's sample files.
fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/data")
        .join(name)
}

/// Every member of a bundle, by name.
fn members(bundle: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

#[test]
fn import_stores_the_files_and_their_events_in_a_verified_bundle() {
    let d = tempfile::tempdir().unwrap();
    let journal = std::fs::read(sample("journal.json")).unwrap();
    let gz = d.path().join("journal.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&journal).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let audit = sample("audit.log");
    let defender = sample("defender/device_events_script_content.csv");
    let out = d.path().join("out");
    let o = dossier(
        d.path(),
        &[
            "import",
            audit.to_str().unwrap(),
            gz.to_str().unwrap(),
            defender.to_str().unwrap(),
            "--host",
            "web01",
            "--case",
            "IR-7",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle = PathBuf::from(stdout(&o).trim());
    assert!(bundle.starts_with(&out) && bundle.to_str().unwrap().contains("web01-"));
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert!(ledger.contains("\"action\":\"imported\""), "{ledger}");
    let v = dossier(d.path(), &["verify", bundle.to_str().unwrap()]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));

    let m = members(&bundle);
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    assert_eq!(manifest["playbook"]["name"], "import");
    assert_eq!(manifest["case_id"], "IR-7");
    // The source files as given, byte for byte (the gzip as gzip).
    let stored: Vec<(&String, &Vec<u8>)> =
        m.iter().filter(|(n, _)| n.starts_with("raw/")).collect();
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .any(|(_, b)| **b == std::fs::read(&audit).unwrap())
    );
    assert!(
        stored
            .iter()
            .any(|(_, b)| **b == std::fs::read(&gz).unwrap())
    );
    // Events from both, each naming a stored member.
    let events: Vec<serde_json::Value> = String::from_utf8(m["records/events.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let formats: std::collections::BTreeSet<_> = events
        .iter()
        .map(|e| e["source"]["format"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        ["audit", "defender_csv", "journal"]
    );
    // Defender's script events keep the script text and their device.
    assert!(events.iter().any(|e| e["action"] == "ScriptContent"
        && e["script"].as_str().is_some_and(|t| !t.is_empty())
        && e["host"] != "web01"));
    for e in &events {
        let file = e["origin"]["file"].as_str().unwrap();
        assert!(m.contains_key(file), "{file} not in the bundle");
        assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    // The audit log names no node: its events take --host.
    assert!(
        events
            .iter()
            .filter(|e| e["source"]["format"] == "audit")
            .all(|e| e["host"] == "web01")
    );
}

#[test]
fn import_refuses_bad_input_with_one_line_and_records_unreadable_records() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let run = |args: &[&str]| {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        all.extend(["--out", out.to_str().unwrap()]);
        dossier(d.path(), &all)
    };
    // A missing file, a folder, an unknown --format: exit 2, one line, nothing written.
    for (args, says) in [
        (vec!["/nonexistent/x.csv"], "/nonexistent/x.csv"),
        (vec!["/tmp"], "not a regular file"),
        (
            vec![sample("audit.log").to_str().unwrap(), "--format", "evtx"],
            "expected one of",
        ),
    ] {
        let o = run(&args.iter().map(|s| &**s).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(e.contains(says), "{e}");
        assert!(!out.exists());
    }
    // A file of no known format: the bundle keeps it, the manifest says why, exit 1.
    let notes = d.path().join("notes.txt");
    std::fs::write(&notes, "just some notes\n").unwrap();
    let o = run(&[notes.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a format dossier imports"),
        "{}",
        stderr(&o)
    );
    // A journal export with one garbage line among good ones: the others are imported, the
    // garbage line is an issue naming its line.
    let mixed = d.path().join("mixed.json");
    let good = std::fs::read_to_string(sample("journal.json")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "{not json");
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let o = run(&[mixed.to_str().unwrap(), "--format", "journal"]);
    assert_eq!(o.status.code(), Some(1));
    let bundle = PathBuf::from(stdout(&o).trim());
    let m = members(&bundle);
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    let issues = manifest["collectors"][0]["issues"].as_array().unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i["subject"].as_str().unwrap().contains("line 3")),
        "{issues:?}"
    );
    let n = String::from_utf8_lossy(&m["records/events.jsonl"])
        .lines()
        .count();
    assert_eq!(n, good.lines().filter(|l| !l.trim().is_empty()).count());
}

#[test]
fn a_hostile_file_is_imported_with_bounded_issues_and_its_skips_counted_in_the_bundle() {
    let d = tempfile::tempdir().unwrap();
    // 2 good events (an execve of 3 records, a login), 250 garbage lines, a record without a
    // serial, a negative epoch, a year 9999, a 2 MiB line, a non-UTF-8 argument, a cut last line.
    let mut log = Vec::new();
    log.extend_from_slice(b"type=SYSCALL msg=audit(1763604600.100:500): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=0 uid=0 comm=\"curl\" exe=\"/usr/bin/curl\"\n\
type=EXECVE msg=audit(1763604600.100:500): argc=2 a0=\"curl\" a1=6869FF\n\
type=EOE msg=audit(1763604600.100:500): \n");
    for i in 0..250 {
        log.extend_from_slice(format!("garbage {i}\n").as_bytes());
    }
    log.extend_from_slice(b"type=USER_LOGIN msg=audit(1763604601.000): pid=1 uid=0 msg='op=login acct=\"a\" res=success'\n\
type=USER_LOGIN msg=audit(-86400.000:501): pid=1 uid=0 msg='op=login acct=\"b\" res=success'\n\
type=USER_LOGIN msg=audit(253370764800.000:502): pid=1 uid=0 msg='op=login acct=\"c\" res=success'\n");
    log.extend(std::iter::repeat_n(b'x', 2 << 20));
    log.extend_from_slice(b"\ntype=USER_LOGIN msg=audit(1763604602.000:503): pid=1 uid=0 msg='op=login acct=\"d\" res=success'\n\
type=USER_LOGIN msg=audit(1763604603.000:504): pid=1 uid=0 msg='op=login acct=\"e\" res=succ");
    let file = d.path().join("audit.log");
    std::fs::write(&file, &log).unwrap();
    let out = d.path().join("out");
    let o = dossier(
        d.path(),
        &[
            "import",
            file.to_str().unwrap(),
            "--host",
            "web1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    // Records were skipped: the bundle is complete, the exit status says so.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let bundle = PathBuf::from(stdout(&o).trim());
    let v = dossier(d.path(), &["verify", bundle.to_str().unwrap()]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let m = members(&bundle);
    let summaries: Vec<serde_json::Value> = String::from_utf8(m["records/import.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(summaries.len(), 1);
    let s = &summaries[0];
    assert_eq!(s["file"], file.to_str().unwrap());
    assert!(m.contains_key(s["member"].as_str().unwrap()));
    assert_eq!(s["format"], "audit");
    assert_eq!(s["bytes"], log.len() as u64);
    // 3 + 250 + 3 + 1 + 2 non-blank lines; the execve and d's login are the events.
    assert_eq!(s["records_read"], 259, "{s}");
    assert_eq!(s["events"], 2, "{s}");
    assert_eq!(s["skipped"], 255, "{s}");
    assert_eq!(s["lossy"], 1, "{s}");
    let skips = &s["skips"];
    assert_eq!(skips["malformed"]["count"], 251, "{skips}");
    assert_eq!(skips["malformed"]["first"].as_array().unwrap().len(), 5);
    assert_eq!(skips["malformed"]["first"][0]["record"], "line 4");
    assert_eq!(skips["missing_serial"]["count"], 1);
    assert_eq!(skips["missing_serial"]["first"][0]["record"], "line 254");
    assert_eq!(skips["absurd_timestamp"]["count"], 2);
    assert_eq!(skips["too_long"]["count"], 1);
    assert_eq!(skips["too_long"]["first"][0]["record"], "line 257");
    assert_eq!(s["issues_listed"], 100);
    // The manifest lists the first 100 (file and line) and says how many more there are.
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    let issues = manifest["collectors"][0]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 101, "{issues:?}");
    assert!(issues[0]["subject"].as_str().unwrap().ends_with(": line 4"));
    assert!(
        issues[100]["message"]
            .as_str()
            .unwrap()
            .starts_with("155 more unreadable records"),
        "{}",
        issues[100]
    );
    let events = String::from_utf8_lossy(&m["records/events.jsonl"])
        .lines()
        .count();
    assert_eq!(events, 2);
}
