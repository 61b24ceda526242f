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
