//! The precision/recall corpus (issue 13, item 7): every benign host of
//! `tests/fixtures/benign/` and the benign twin of the item-3 techniques, and every malicious
//! one (`rootfs-miner`, `rootfs-persist`, `rootfs-persist2`, every planted case of
//! `tests/tests/e2e/families.rs` and of `tests/tests/e2e/coverage.rs`) is collected with the
//! real binary (`collect --root`, triage playbook) and analyzed. No benign host may be flagged,
//! and every malicious one must reach its verdict (the miner of seed 000: Malicious likely)
//! with the ATT&CK ids of the rules its case expects. The live reverse shell stays in
//! `tests/tests/e2e/coverage.rs` and the SSH-lab scenarios in `tests/tests/lab/`: they need
//! live processes.
//!
//! The Markdown table for the README and the figures are printed on stdout:
//! `cargo test -p dossier-tests --test e2e corpus:: -- --nocapture`. With
//! `DOSSIER_CORPUS_OUT=DIR` the reports (`findings.json`, every host's `report.md`, the fleet
//! report) are copied to `DIR` for reading.

use dossier_tests::corpus::{self, Figures, Kind, Outcome};
use dossier_tests::records;

/// Whether every packaged file the benign cases register verifies (a mismatch would be a
/// broken fixture, not a finding).
fn registered_files_verify(o: &Outcome) -> Result<(), String> {
    let Some(case) = o.host.benign() else {
        return Ok(());
    };
    let registered = case.packaged_files();
    let bad: Vec<String> = records(&o.bundle, "packages")
        .into_iter()
        .filter(|r| r["kind"] == "package_verify" && r["status"] == "mismatch")
        .filter_map(|r| r["path"].as_str().map(String::from))
        .filter(|p| registered.contains(p))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: registered files fail verification: {bad:?}",
            o.host.case
        ))
    }
}

#[test]
fn benign_hosts_are_not_flagged_and_malicious_hosts_reach_their_verdict() {
    let d = tempfile::tempdir().unwrap();
    let hosts = corpus::hosts();
    let benign = hosts.iter().filter(|h| h.kind == Kind::Benign).count();
    assert!(benign >= 22, "only {benign} benign hosts");
    let (outcomes, _) = corpus::run(d.path(), &hosts, 2);
    println!("{}", corpus::markdown(&outcomes));
    if let Some(keep) = std::env::var_os("DOSSIER_CORPUS_OUT").filter(|v| !v.is_empty()) {
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(d.path().join("report/."))
            .arg(&keep)
            .status()
            .unwrap();
        assert!(st.success(), "copy the reports to {keep:?}");
    }

    let f = Figures::of(&outcomes);
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.as_wanted())
        .map(|o| {
            format!(
                "{} {} ({}): {} score {}, must be {}{}: {}",
                match o.host.kind {
                    Kind::Benign => "benign",
                    Kind::Malicious => "malicious",
                },
                o.host.case,
                o.host.hostname,
                o.verdict,
                o.score,
                o.host.want,
                if o.missing.is_empty() {
                    String::new()
                } else {
                    format!(", lacks {}", o.missing.join(" "))
                },
                o.rules.join(" ")
            )
        })
        .collect();
    failures.extend(
        outcomes
            .iter()
            .filter_map(|o| registered_files_verify(o).err()),
    );
    eprintln!(
        "benign flagged {}/{}, malicious found {}/{}, precision {:.2}, recall {:.2}",
        f.benign_flagged,
        f.benign,
        f.malicious_found,
        f.malicious,
        f.precision(),
        f.recall()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(f.benign_flagged, 0);
    assert_eq!(f.malicious_found, f.malicious);
}
