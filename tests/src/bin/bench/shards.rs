//! Sharded sweep against one sweep (the end of `dossier-bench scale`): the same targets swept
//! as N shards at the same time (`--shard K/N --no-analyze`, each with the same `-j`), then
//! `dossier merge` of their folders, against the one sweep of every target with analysis
//! that [`crate::scale`] ran. Prints the wall time of each shard, of the merge, of the whole
//! (the slowest shard plus the merge) and of the one sweep, and whether the merge judged every
//! host as the one sweep did ([`judged`]), with the documented differences left out: bundle
//! names, hashes and times differ (each shard collected its own bundles), and the merged
//! `sweep.json` adds `merged_from`, `superseded` and `not_verified`.

use crate::fleet::FleetRun;
use crate::measure::{Measured, measure_cmd};
use crate::scale::{BUCKET, Ctx};
use dossier_tests::s3::env_for;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What an analysis decided, without what differs between two collections of the same
/// hosts: per host (by hostname) its verdict, score, findings and context findings as
/// (rule, subject, severity), sorted; the fleet findings and the stacking findings as (rule,
/// subject, hosts); the targets not collected and the bundles not analyzed.
pub fn judged(findings: &Value) -> BTreeMap<String, Value> {
    let list = |v: &Value, keys: &[&str]| -> Value {
        let mut rows: Vec<Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| Value::Array(keys.iter().map(|k| f[*k].clone()).collect()))
            .collect();
        rows.sort_by_key(|r| r.to_string());
        Value::Array(rows)
    };
    let mut out = BTreeMap::new();
    for h in findings["hosts"].as_array().into_iter().flatten() {
        let name = h["hostname"].as_str().unwrap_or("?").to_string();
        out.insert(
            format!("host {name}"),
            json!({
                "verdict": h["verdict"],
                "score": h["score"],
                "findings": list(&h["findings"], &["rule", "subject", "severity"]),
                "context": list(&h["context"], &["rule", "subject", "severity"]),
            }),
        );
    }
    out.insert(
        "fleet findings".into(),
        list(&findings["fleet_findings"], &["rule", "subject", "hosts"]),
    );
    out.insert(
        "stacking findings".into(),
        list(
            &findings["stacking"]["findings"],
            &["rule", "subject", "hosts"],
        ),
    );
    out.insert(
        "not collected".into(),
        list(&findings["not_collected"], &["target", "outcome"]),
    );
    out.insert(
        "unanalyzed".into(),
        list(&findings["unanalyzed"], &["subject"]),
    );
    out
}

/// A line of a report with what differs between two collections of the same hosts masked:
/// bundle file names, hashes (12 hex digits or more) and times (`2026-12-03T09:30:00...`).
fn masked(line: &str) -> String {
    line.split(' ')
        .map(|tok| {
            let core = tok.trim_matches(|c: char| "`()[],.:;*".contains(c));
            let hex = core.len() >= 12 && core.chars().all(|c| c.is_ascii_hexdigit());
            let time = core.len() >= 19
                && core.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && core.as_bytes()[4] == b'-'
                && core.contains('T');
            if tok.contains(".zip") {
                "<bundle>"
            } else if hex {
                "<hash>"
            } else if time {
                "<time>"
            } else {
                tok
            }
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compares two fleet reports line by line, masked ([`masked`]); prints the outcome.
fn compare_reports(one: &Path, merged: &Path) {
    let read = |dir: &Path| std::fs::read_to_string(dir.join("analysis/fleet-report.md"));
    let (Ok(a), Ok(b)) = (read(one), read(merged)) else {
        println!("  fleet-report.md: CANNOT COMPARE (missing)");
        return;
    };
    let (a, b): (Vec<String>, Vec<String>) = (
        a.lines().map(masked).collect(),
        b.lines().map(masked).collect(),
    );
    let differ: Vec<(usize, &String, &String)> = a
        .iter()
        .zip(&b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i + 1, x, y))
        .collect();
    if differ.is_empty() && a.len() == b.len() {
        println!(
            "  fleet-report.md: SAME ({} lines, bundle names, hashes and times masked)",
            a.len()
        );
        return;
    }
    println!(
        "  fleet-report.md: {} of {} lines differ (one sweep {} lines, merge {}; bundle names, hashes and times masked), first ones:",
        differ.len() + a.len().abs_diff(b.len()),
        a.len().max(b.len()),
        a.len(),
        b.len()
    );
    for (i, x, y) in differ.iter().take(4) {
        println!("    line {i}: one sweep: {x}");
        println!("    line {i}: merge:     {y}");
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&data).map_err(|e| format!("{}: {e}", path.display()))
}

/// Collection gaps, which are not findings: per host, what its rules evaluated on partial
/// data were missing (`partial[].missing`, distinct, sorted).
fn gaps(findings: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for h in findings["hosts"].as_array().into_iter().flatten() {
        let mut missing: Vec<String> = h["partial"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["missing"].as_str().map(str::to_string))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            out.insert(h["hostname"].as_str().unwrap_or("?").to_string(), missing);
        }
    }
    out
}

/// Prints how the collection gaps of the two analyses differ (hosts collected with partial
/// data, and what was missing on the first hosts that differ).
fn compare_gaps(a: &Value, b: &Value) {
    let (a, b) = (gaps(a), gaps(b));
    if a == b {
        println!(
            "  collection gaps: same ({} hosts with partial data)",
            a.len()
        );
        return;
    }
    println!(
        "  collection gaps: DIFFERENT: one sweep {} hosts with partial data, merge {}; first differences:",
        a.len(),
        b.len()
    );
    let differ = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect::<std::collections::BTreeSet<_>>();
    for k in differ.into_iter().take(3) {
        let show = |m: &BTreeMap<String, Vec<String>>| {
            m.get(k).map_or("(none)".to_string(), |v| v.join(" | "))
        };
        println!("    {k}: one sweep: {}; merge: {}", show(&a), show(&b));
    }
}

/// Compares the two analyses; prints whether they judged alike, and the first differences.
fn compare(one: &Path, merged: &Path) {
    let (a, b) = match (
        read_json(&one.join("analysis/findings.json")),
        read_json(&merged.join("analysis/findings.json")),
    ) {
        (Ok(a), Ok(b)) => {
            compare_gaps(&a, &b);
            (judged(&a), judged(&b))
        }
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                println!("  findings: CANNOT COMPARE: {e}");
            }
            return;
        }
    };
    let hosts = a.keys().filter(|k| k.starts_with("host ")).count();
    let flagged = |m: &BTreeMap<String, Value>| {
        m.values()
            .filter(|v| v["findings"].as_array().is_some_and(|f| !f.is_empty()))
            .count()
    };
    let mut diff: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    diff.sort();
    diff.dedup();
    if diff.is_empty() {
        println!(
            "  findings.json: SAME FINDINGS ({hosts} hosts, {} with findings; verdicts, scores, findings, context, fleet and stacking findings, targets not collected)",
            flagged(&a)
        );
        return;
    }
    println!(
        "  findings.json: DIFFERENT in {} of {} entries (one sweep: {hosts} hosts, merge: {} hosts):",
        diff.len(),
        a.len().max(b.len()),
        b.keys().filter(|k| k.starts_with("host ")).count()
    );
    for k in diff.iter().take(5) {
        println!(
            "    {k}: one sweep {} | merge {}",
            a.get(k).map_or("(none)".into(), |v| v.to_string()),
            b.get(k).map_or("(none)".into(), |v| v.to_string())
        );
    }
}

/// Shards of `targets` at the same time, their merge, against the one sweep in `whole`
/// (which took `whole_wall` seconds).
pub fn shards(ctx: &Ctx, targets: &[String], whole: &Path, whole_wall: f64, n: usize) {
    let dirs: Vec<_> = (0..n)
        .map(|k| ctx.tmp.path().join(format!("shard-{k}")))
        .collect();
    let runs: Vec<FleetRun> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .enumerate()
            .map(|(k, dir)| {
                s.spawn(move || {
                    let shard = format!("{k}/{n}");
                    let opts = ["--shard", &shard, "--no-analyze"];
                    match ctx.s3 {
                        Some(_) => ctx.sweep_s3(targets, &format!("shard-{k}"), dir, &opts),
                        None => ctx.sweep(targets, dir, &opts),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("shard"))
            .collect()
    });
    let merged = ctx.tmp.path().join("merged");
    let mut merge = Command::new(&ctx.me);
    merge.arg("one").arg(&ctx.bin).arg("merge");
    match &ctx.s3 {
        Some((moto, _)) => {
            merge.args((0..n).map(|k| format!("s3://{BUCKET}/shard-{k}")));
            env_for(&mut merge, &moto.endpoint());
            merge.env("TMPDIR", ctx.tmp.path());
        }
        None => {
            merge.args(&dirs);
        }
    }
    let m: Measured = measure_cmd(merge.arg("--out").arg(&merged).env("HOME", &ctx.home));
    println!(
        "{} hosts in {n} shards at the same time (--shard K/{n} --no-analyze, -j {} each{}), then dossier merge{}, against one sweep with analysis:",
        targets.len(),
        ctx.jobs,
        if ctx.s3.is_some() { ", into s3://" } else { "" },
        if ctx.s3.is_some() {
            " from the bucket"
        } else {
            ""
        },
    );
    let mut slowest: f64 = 0.0;
    for (k, r) in runs.iter().enumerate() {
        let kept = read_json(&dirs[k].join("sweep.json"))
            .ok()
            .and_then(|s| s["shard"]["kept"].as_u64())
            .unwrap_or(0);
        let missing: Vec<&String> = r
            .not_collected
            .iter()
            .filter(|s| !s.ends_with("missing from sweep.json"))
            .collect();
        println!(
            "  shard {k}/{n}: {kept} hosts, wall {:.1} s, peak RSS {:.1} MiB, CPU {:.1} s{}",
            r.m.wall,
            r.m.rss_mib,
            r.m.cpu,
            if missing.is_empty() {
                String::new()
            } else {
                format!(
                    ", NOT COLLECTED: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
        slowest = slowest.max(r.m.wall);
    }
    println!(
        "  merge: wall {:.1} s, peak RSS {:.1} MiB, CPU {:.1} s, exit {}",
        m.wall,
        m.rss_mib,
        m.cpu,
        if m.ok { "0" } else { "non-zero" }
    );
    println!(
        "  sharded total (slowest shard + merge) {:.1} s against one sweep {whole_wall:.1} s: x{:.2}",
        slowest + m.wall,
        (slowest + m.wall) / whole_wall
    );
    compare(whole, &merged);
    compare_reports(whole, &merged);
}
