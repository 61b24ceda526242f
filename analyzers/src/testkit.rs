//! Test helpers shared by the engine's and the rule families' tests: a bundle input built from
//! records, and process records.

use crate::input::{BundleInput, Header, MemberReader};
use dossier_plugin_api::{CollectorStatus, Timestamp};
use serde_json::json;
use std::collections::BTreeMap;

/// A bundle input holding `records`, every collector `ok`.
pub fn input<'a>(
    records: BTreeMap<String, Vec<(usize, serde_json::Value)>>,
    read: &'a mut MemberReader<'a>,
) -> BundleInput<'a> {
    let t = Timestamp::from_unix(1_790_000_000, 0).unwrap();
    let collectors = records
        .keys()
        .map(|k| (k.clone(), (CollectorStatus::Ok, String::new())))
        .collect();
    BundleInput {
        header: Header {
            hostname: "h".into(),
            bundle: "b.zip".into(),
            bundle_sha256: "0".repeat(64),
            case_id: None,
            target: "local".into(),
            live: true,
            started: t,
            finished: t,
            playbook: "triage".into(),
            playbook_sha256: "1".repeat(64),
            tool: "dossier".into(),
            os: None,
            kernel: None,
        },
        collectors,
        incomplete: BTreeMap::new(),
        records,
        members: [
            ("records/proc.jsonl".to_string(), "a".repeat(64)),
            ("records/sockets.jsonl".to_string(), "b".repeat(64)),
        ]
        .into_iter()
        .collect(),
        read_member: read,
        record_errors: vec![],
    }
}

pub fn proc(
    pid: u32,
    comm: &str,
    argv: &[&str],
    exe: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut v = json!({"kind": "process", "pid": pid, "ppid": 1, "state": "S", "comm": comm, "argv": argv, "uid": 0, "euid": 0, "gid": 0, "egid": 0, "kernel_thread": false, "exe": exe, "start_ticks": 1, "threads": 1});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}
