//! Processes a responder has suspended (`dossier contain`: a cgroup freeze or SIGSTOP of the
//! tree, or any stop): a later sweep still collects them, and their findings still count,
//! since a contained process is evidence all the same. A finding about a process that was
//! stopped (state `T` in `/proc/PID/stat`) or in a frozen cgroup (the record's `frozen`) when
//! the bundle was collected says so in its explanation, and the executables it ran name the
//! process with its state; its weight and the host's score do not change. Bundles without a
//! suspended process are reported exactly as before.

use dossier_plugin_api::analysis::{Finding, Ioc, Message};
use dossier_plugin_api::records::ProcessRecord;
use std::collections::{BTreeMap, BTreeSet};

/// The state letter of a stopped process.
pub const STOPPED: &str = "T";

/// How a process is suspended (`state T`, `cgroup frozen`); `None` when it is not.
pub fn how(rec: &ProcessRecord) -> Option<&'static str> {
    if rec.state == STOPPED {
        Some("state T")
    } else if rec.frozen {
        Some("cgroup frozen")
    } else {
        None
    }
}

/// What a suspended process is called where a process is named (`process 812 (suspended,
/// state T)`); `None` for one that is not suspended.
pub fn label(rec: &ProcessRecord) -> Option<String> {
    how(rec).map(|h| format!("suspended, {h}"))
}

/// The PIDs a finding is about: its `pid` IOCs and its evidence `process N ...`.
fn pids_of(f: &Finding) -> BTreeSet<u32> {
    let mut out: BTreeSet<u32> = f
        .iocs
        .iter()
        .filter_map(|i| match i {
            Ioc::Pid(p) => Some(*p),
            _ => None,
        })
        .collect();
    for e in &f.evidence {
        if let Some(rest) = e.what.strip_prefix("process ") {
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            out.extend(n.parse::<u32>().ok());
        }
    }
    out
}

/// Adds `PID N suspended (state T): contained, not running` (or `(cgroup frozen)`) to the
/// explanation of each finding about a suspended process (weights untouched).
pub fn note<'a>(procs: impl IntoIterator<Item = &'a ProcessRecord>, findings: &mut [Finding]) {
    let suspended: BTreeMap<u32, &str> = procs
        .into_iter()
        .filter_map(|p| how(p).map(|h| (p.pid, h)))
        .collect();
    if suspended.is_empty() {
        return;
    }
    for f in findings {
        let notes: Vec<(u32, &str)> = pids_of(f)
            .iter()
            .filter_map(|p| suspended.get(p).map(|h| (*p, *h)))
            .collect();
        if notes.is_empty() {
            continue;
        }
        let text: Vec<String> = notes
            .iter()
            .map(|(p, h)| format!("PID {p} suspended ({h}): contained, not running"))
            .collect();
        let e = f.explanation.trim_end_matches('.');
        // A catalogue message gets the notes as messages too (`finding.suspended.*`), unless
        // its English ends with a full stop the plain text drops.
        if let Some(m) = f.message.take().filter(|_| e.len() == f.explanation.len()) {
            let items = notes
                .iter()
                .map(|(p, h)| {
                    let how = Message::new(match *h {
                        "state T" => "finding.suspended.state-t",
                        _ => "finding.suspended.cgroup-frozen",
                    });
                    Message::new("finding.suspended.pid")
                        .text("pid", p)
                        .msg("how", how)
                        .into()
                })
                .collect();
            f.message = Some(
                Message::new("finding.suspended.noted")
                    .msg("finding", m)
                    .list("notes", items),
            );
        }
        f.explanation = format!("{e}; {}", text.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::{input, proc};
    use serde_json::json;

    /// Two processes running deleted executables from /tmp, `state` for the first (`F`: its
    /// cgroup frozen, state `S`).
    fn analysis(state: &str) -> dossier_plugin_api::analysis::HostAnalysis {
        let (state, frozen) = if state == "F" {
            ("S", true)
        } else {
            (state, false)
        };
        let procs = vec![
            (
                1,
                proc(
                    10,
                    "kw",
                    &["/tmp/.x/kw"],
                    "/tmp/.x/kw",
                    json!({"exe_deleted": true, "state": state, "frozen": frozen}),
                ),
            ),
            (
                2,
                proc(
                    11,
                    "gone",
                    &["/tmp/.y/gone"],
                    "/tmp/.y/gone",
                    json!({"exe_deleted": true}),
                ),
            ),
        ];
        let records = [("proc".to_string(), procs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("no members".to_string());
        let mut inp = input(records, &mut read);
        analyze(&mut inp, &AnalysisConfig::default())
    }

    #[test]
    fn a_stopped_process_is_named_suspended_and_still_scored() {
        let running = analysis("S");
        let stopped = analysis("T");
        assert_eq!(running.score, stopped.score);
        assert_eq!(running.verdict, stopped.verdict);
        assert_eq!(running.findings.len(), stopped.findings.len());
        let about = |a: &dossier_plugin_api::analysis::HostAnalysis, pid: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.subject.contains(pid) || f.explanation.contains(pid))
                .map(|f| f.explanation.clone())
                .collect()
        };
        let notes = about(&stopped, "10");
        assert!(!notes.is_empty(), "{:?}", stopped.findings);
        let note = "; PID 10 suspended (state T): contained, not running";
        assert!(
            stopped
                .findings
                .iter()
                .any(|f| f.explanation.ends_with(note)),
            "{notes:?}"
        );
        assert!(
            !stopped
                .findings
                .iter()
                .any(|f| f.explanation.contains("PID 11 suspended")),
            "{:?}",
            stopped.findings
        );
        // Without a stopped process, nothing changes.
        assert!(
            !running
                .findings
                .iter()
                .any(|f| f.explanation.contains("suspended")),
            "{:?}",
            running.findings
        );
        for (r, s) in running.findings.iter().zip(&stopped.findings) {
            assert_eq!(r.weight, s.weight);
            assert_eq!(r.rule, s.rule);
            if !s.explanation.contains("suspended") {
                assert_eq!(r.explanation, s.explanation);
            }
        }
        let exe = |a: &dossier_plugin_api::analysis::HostAnalysis| {
            a.executables
                .iter()
                .find(|e| e.path == "/tmp/.x/kw")
                .unwrap()
                .referenced_by
                .clone()
        };
        assert_eq!(exe(&running), ["process 10"]);
        assert_eq!(exe(&stopped), ["process 10 (suspended, state T)"]);

        // Frozen by its cgroup (it shows as sleeping): the same, said so.
        let frozen = analysis("F");
        assert_eq!(frozen.score, running.score);
        let note = "; PID 10 suspended (cgroup frozen): contained, not running";
        assert!(
            frozen
                .findings
                .iter()
                .any(|f| f.explanation.ends_with(note)),
            "{:?}",
            frozen.findings
        );
        assert_eq!(exe(&frozen), ["process 10 (suspended, cgroup frozen)"]);
    }
}
