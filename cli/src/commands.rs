//! The commands: each turns parsed arguments into a validated plan, runs it, and maps the
//! outcome to an exit code (0 success, 1 a verification or collection problem, 2 the command
//! could not run).

use crate::args::{AnalyzeArgs, CollectArgs, Command, RulesArgs, SweepArgs, VerifyArgs};
use crate::bundle::ledger;
use crate::bundle::reader::{self, Limits};
use crate::local::LocalHost;
use crate::orchestrate::{self, Custody};
use crate::playbook;
use dossier_plugin_api::analysis::NotCollected;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs a parsed command line.
pub fn run(command: Command) -> ExitCode {
    let r = match command {
        Command::Collect(a) => collect(a),
        Command::Verify(a) => verify(a),
        Command::Collectors => collectors(),
        Command::Analyze(a) => analyze(a),
        Command::Rules(a) => rules(a),
        Command::Sweep(a) => sweep(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dossier: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A validated `collect` plan.
struct CollectPlan {
    root: Option<PathBuf>,
    out: PathBuf,
    custody: Custody,
    playbook: playbook::Playbook,
    quiet: bool,
    analyze: bool,
}

fn check_text(what: &str, v: Option<String>) -> anyhow::Result<Option<String>> {
    match v {
        Some(s) if s.len() > 256 || s.chars().any(char::is_control) => {
            anyhow::bail!("--{what} must be at most 256 characters without control characters")
        }
        other => Ok(other),
    }
}

fn plan_collect(a: CollectArgs) -> anyhow::Result<CollectPlan> {
    if let Some(r) = &a.root {
        if !r.is_dir() {
            anyhow::bail!("--root {}: not a directory", r.display());
        }
    }
    let registry = dossier_collectors::builtin();
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    Ok(CollectPlan {
        root: a.root,
        out: a.out,
        custody: Custody {
            case_id: check_text("case", a.case)?,
            examiner: check_text("examiner", a.examiner)?,
        },
        playbook,
        quiet: a.quiet,
        analyze: !a.no_analyze,
    })
}

fn collect(a: CollectArgs) -> anyhow::Result<ExitCode> {
    let plan = plan_collect(a)?;
    let host = match &plan.root {
        Some(dir) => LocalHost::image(dir)?,
        None => LocalHost::live(),
    };
    let registry = dossier_collectors::builtin();
    let progress = crate::progress::for_stderr(plan.quiet);
    let c = orchestrate::collect_host(
        &host,
        &registry,
        &plan.playbook,
        &plan.custody,
        &plan.out,
        progress.as_ref(),
    )?;
    if !plan.quiet {
        for run in &c.manifest_collectors {
            if run.status != "ok" {
                let what = run.error.clone().unwrap_or_else(|| {
                    format!("{} issue(s) recorded in the manifest", run.issues.len())
                });
                eprintln!(
                    "dossier: note: collector {} {}: {what}",
                    run.name,
                    run.status.replace('_', " ")
                );
            }
        }
    }
    if let Some(e) = &c.ledger_error {
        eprintln!(
            "dossier: warning: the bundle is complete but the custody ledger was not updated: {e}"
        );
    }
    if plan.analyze {
        let out = plan.out.join("analysis");
        let r = crate::analyze::analyze_bundles(
            std::slice::from_ref(&c.bundle.path),
            &plan.playbook,
            &out,
            &[],
        )?;
        for h in &r.hosts {
            eprintln!(
                "dossier: {}: verdict {} (score {}, {} findings); report {}",
                h.hostname,
                h.verdict,
                h.score,
                h.findings,
                h.report.display()
            );
        }
        for u in &r.unanalyzed {
            eprintln!(
                "dossier: error: {} was not analyzed: {}",
                u.subject, u.reason
            );
        }
    }
    println!("{}", c.bundle.path.display());
    Ok(ExitCode::SUCCESS)
}

fn sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let registry = dossier_collectors::builtin();
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    let custody = Custody {
        case_id: check_text("case", a.case.clone())?,
        examiner: check_text("examiner", a.examiner.clone())?,
    };
    let plan = crate::sweep_plan::plan(&a, custody, playbook)?;
    let progress = crate::progress::sweep_for_stderr(a.quiet);
    let out = crate::sweep::run(&plan, &registry, progress.as_ref())?;
    let incomplete = out.summary.targets.iter().filter(|t| !t.complete()).count();
    for t in &out.summary.targets {
        let what = match (&t.bundle, &t.reason) {
            (Some(b), _) if t.complete() => b.clone(),
            (Some(b), Some(r)) => format!("{b} ({r})"),
            (_, Some(r)) => r.clone(),
            _ => String::new(),
        };
        println!(
            "{:<17} {:<34} {}",
            t.outcome,
            t.label,
            crate::progress::sanitize(&what)
        );
    }
    if !a.no_analyze && !out.bundles.is_empty() {
        let dir = plan.out.join("analysis");
        let not_collected: Vec<NotCollected> = out
            .summary
            .targets
            .iter()
            .filter(|t| t.bundle.is_none())
            .map(|t| NotCollected {
                target: t.label.clone(),
                outcome: t.outcome.clone(),
                reason: t.reason.clone().unwrap_or_default(),
            })
            .collect();
        let r =
            crate::analyze::analyze_bundles(&out.bundles, &plan.playbook, &dir, &not_collected)?;
        for h in &r.hosts {
            println!(
                "{:<17} {:<34} score {:>3}, {} findings: {}",
                h.verdict,
                crate::progress::sanitize(&h.hostname),
                h.score,
                h.findings,
                h.report.display()
            );
        }
        for u in &r.unanalyzed {
            println!("NOT ANALYZED      {}: {}", u.subject, u.reason);
        }
        println!("fleet report: {}", r.fleet_report.display());
    }
    println!("sweep summary: {}", out.summary_path.display());
    if incomplete > 0 {
        eprintln!(
            "dossier: {incomplete} of {} target(s) not completely collected (see {})",
            out.summary.targets.len(),
            out.summary_path.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let registry = dossier_collectors::builtin();
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    let r = crate::analyze::analyze_bundles(&a.bundles, &playbook, &a.out, &[])?;
    for h in &r.hosts {
        println!(
            "{:<18} {:<17} score {:>3}  {:>3} findings  {}",
            h.hostname,
            h.verdict,
            h.score,
            h.findings,
            h.report.display()
        );
    }
    for u in &r.unanalyzed {
        println!("NOT ANALYZED  {}: {}", u.subject, u.reason);
    }
    println!(
        "fleet report: {}\nfindings:     {}",
        r.fleet_report.display(),
        r.findings_json.display()
    );
    Ok(if r.unanalyzed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn rules(a: RulesArgs) -> anyhow::Result<ExitCode> {
    let registry = dossier_collectors::builtin();
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    println!(
        "{:<26} {:<20} {:>6}  {:<8}  title",
        "id", "MITRE ATT&CK", "weight", "severity"
    );
    for r in dossier_analyzers::CATALOG {
        let (on, weight, sev) = playbook.analysis.effective(r);
        println!(
            "{:<26} {:<20} {:>6}  {:<8}  {}{}",
            r.id,
            r.mitre.join(","),
            weight,
            sev.label(),
            r.title,
            if on { "" } else { " (disabled)" }
        );
        if a.long {
            println!(
                "    needs: {}{}\n    {}\n",
                if r.needs.is_empty() {
                    "-".to_string()
                } else {
                    r.needs.join(", ")
                },
                if r.needs_packages {
                    " + package database"
                } else {
                    ""
                },
                r.doc
            );
        }
    }
    println!(
        "verdict: >= {} Malicious likely, >= {} Suspicious, else Unclear/Benign (playbook {})",
        playbook.analysis.thresholds.malicious,
        playbook.analysis.thresholds.suspicious,
        playbook.name
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits::default();
    let mut failed = 0usize;
    for path in &a.bundles {
        let mut v = reader::verify(path, &limits);
        let ledger_dir = if a.no_ledger {
            None
        } else {
            ledger::check_ledger(path, &mut v)
        };
        if v.ok() {
            println!(
                "OK      {}  sha256 {}  {} members",
                path.display(),
                v.sha256.as_deref().unwrap_or("?"),
                v.members_checked + 1
            );
        } else {
            failed += 1;
            println!("FAILED  {}", path.display());
            for p in &v.problems {
                println!("        {}: {}", p.subject, p.message);
            }
        }
        if let Some(dir) = ledger_dir {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let detail = if v.ok() {
                format!("{} members checked", v.members_checked)
            } else {
                format!("{} problem(s): {}", v.problems.len(), v.problems[0].message)
            };
            let ev = ledger::Event {
                action: if v.ok() { "verified" } else { "verify_failed" },
                bundle: &name,
                sha256: v.sha256.as_deref(),
                detail: Some(&detail),
            };
            if let Err(e) = ledger::append(&dir, &ev) {
                eprintln!("dossier: warning: custody ledger not updated: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "dossier: {failed} of {} bundle(s) failed verification",
            a.bundles.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn collectors() -> anyhow::Result<ExitCode> {
    for c in dossier_collectors::builtin() {
        let i = c.info();
        println!("{:<10} {:<8} {}", i.name, i.version, i.description);
    }
    Ok(ExitCode::SUCCESS)
}
