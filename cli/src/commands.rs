//! The commands: each turns parsed arguments into a validated plan, runs it, and maps the
//! outcome to an exit code (0 success, 1 a verification or collection problem, 2 the command
//! could not run).

use crate::args::{
    AnalyzeArgs, BaselineArgs, CollectArgs, Command, PlaybooksAction, PlaybooksArgs, PluginsArgs,
    RulesArgs, SweepArgs, VerifyArgs,
};
use crate::local::LocalHost;
use crate::orchestrate::{self, Custody};
use crate::playbook;
use crate::plugins::Registry;
use dossier_bundle::ledger;
use dossier_bundle::reader::{self, Limits};
use dossier_plugin_api::analysis::NotCollected;
use dossier_plugin_api::{Analyzer, CollectorStatus};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs a parsed command line.
pub fn run(command: Command) -> ExitCode {
    let r = match command {
        Command::Collect(a) => collect(a),
        Command::Verify(a) => verify(a),
        Command::Collectors => collectors(),
        Command::Analyze(a) => analyze(a),
        Command::Baseline(a) => baseline(a),
        Command::Rules(a) => rules(a),
        Command::Sweep(a) => sweep(a),
        Command::Plugins(a) => plugins(a),
        Command::Playbooks(a) => playbooks(a),
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
    registry: Registry,
    quiet: bool,
    analyze: bool,
}

/// Loads the plugins of `--plugin`, `DOSSIER_PLUGIN_PATH` and the per-user directory.
fn registry(flags: &[PathBuf]) -> anyhow::Result<Registry> {
    let r = Registry::load(flags)?;
    r.print_warnings();
    Ok(r)
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
    let registry = registry(&a.plugins)?;
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    Ok(CollectPlan {
        registry,
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
    let progress = crate::progress::for_stderr(plan.quiet);
    let c = orchestrate::collect_host(
        &host,
        &plan.registry.collectors,
        &plan.playbook,
        &plan.custody,
        &plan.out,
        progress.as_ref(),
    )?;
    if !plan.quiet {
        for run in &c.manifest_collectors {
            if run.status != CollectorStatus::Ok {
                let what = run.error.clone().unwrap_or_else(|| {
                    format!("{} issue(s) recorded in the manifest", run.issues.len())
                });
                eprintln!(
                    "dossier: note: collector {} {}: {what}",
                    run.name,
                    run.status.words()
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
            &plan.registry,
            &out,
            &[],
            None,
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
    let registry = registry(&a.plugins)?;
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    let custody = Custody {
        case_id: check_text("case", a.case.clone())?,
        examiner: check_text("examiner", a.examiner.clone())?,
    };
    // A bad baseline stops the sweep before any connection.
    let baseline = match (&a.baseline, a.no_analyze) {
        (Some(p), false) => Some(crate::baseline::load(p)?),
        (Some(_), true) => {
            eprintln!("dossier: note: --baseline is not used with --no-analyze");
            None
        }
        _ => None,
    };
    let plan = crate::sweep_plan::plan(&a, custody, playbook)?;
    let progress = crate::progress::sweep_for_stderr(a.quiet);
    let out = crate::sweep::run(&plan, &registry.collectors, progress.as_ref())?;
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
        let r = crate::analyze::analyze_bundles(
            &out.bundles,
            &plan.playbook,
            &registry,
            &dir,
            &not_collected,
            baseline.as_ref(),
        )?;
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
    let registry = registry(&a.plugins)?;
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    let baseline = a
        .baseline
        .as_deref()
        .map(crate::baseline::load)
        .transpose()?;
    let r = crate::analyze::analyze_bundles(
        &a.bundles,
        &playbook,
        &registry,
        &a.out,
        &[],
        baseline.as_ref(),
    )?;
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

fn baseline(a: BaselineArgs) -> anyhow::Result<ExitCode> {
    let registry = registry(&a.plugins)?;
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    match crate::baseline::build(&a.bundles, &playbook, &registry, &a.out) {
        Ok(b) => {
            println!(
                "baseline: {} ({} host(s), {} item(s))",
                b.path.display(),
                b.hosts,
                b.items
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ crate::baseline::BaselineFileError::Refused(_)) => {
            eprintln!("dossier: error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn rules(a: RulesArgs) -> anyhow::Result<ExitCode> {
    let registry = registry(&a.plugins)?;
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    // Columns as wide as their longest entry (built-in and plugin rules alike).
    let plugin_rules: Vec<_> = registry
        .analyzers
        .iter()
        .flat_map(|an| an.info().rules)
        .collect();
    let (idw, mw) = dossier_analyzers::CATALOG
        .iter()
        .map(|r| (r.id.len(), r.mitre.join(",").len()))
        .chain(
            plugin_rules
                .iter()
                .map(|r| (r.id.len(), r.mitre.join(",").len())),
        )
        .fold((2, 12), |(a, b), (x, y)| (a.max(x), b.max(y)));
    println!(
        "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  title",
        "id", "MITRE ATT&CK", "weight", "severity", "class"
    );
    for r in dossier_analyzers::CATALOG {
        let (on, weight, sev) = playbook.analysis.effective(r);
        // `behaviour*`: behaviour, but some findings are context (see --long).
        let class = format!(
            "{}{}",
            r.class.label(),
            if r.context_when.is_some() { "*" } else { "" }
        );
        println!(
            "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  {}{}",
            r.id,
            r.mitre.join(","),
            weight,
            sev.label(),
            class,
            r.title,
            if on { "" } else { " (disabled)" }
        );
        if a.long {
            println!(
                "    needs: {}{}",
                if r.needs.is_empty() {
                    "-".to_string()
                } else {
                    r.needs.join(", ")
                },
                if r.needs_packages {
                    " + package database"
                } else {
                    ""
                }
            );
            println!(
                "    class: {}{}",
                match r.class {
                    dossier_plugin_api::analysis::Class::Behaviour =>
                        "behaviour (scored: its weight counts once per host)",
                    dossier_plugin_api::analysis::Class::Context =>
                        "context (never scored on its own: adds its weight once when behaviour is found on the same subject)",
                },
                r.context_when
                    .map(|w| format!("; context when {w}"))
                    .unwrap_or_default()
            );
            println!(
                "    MITRE ATT&CK: {}",
                dossier_analyzers::attack::labels(r.mitre)
            );
            let shared = r.shares_with();
            if !shared.is_empty() {
                println!(
                    "    shares facts with: {} ({}: one observation counts once, under the highest weight)",
                    shared.join(", "),
                    r.shares.join(", ")
                );
            }
            println!("    {}\n", r.doc);
        }
    }
    if !a.long {
        println!(
            "(class `behaviour*`: some findings of the rule are context; see `dossier rules --long`)"
        );
    }
    for an in &registry.analyzers {
        let info = an.info();
        for r in &info.rules {
            let (on, weight, sev) = playbook.analysis.effective_for(&r.id, r.weight, r.severity);
            let scope = match r.scope {
                dossier_plugin_api::analyzer::RuleScope::Host => "",
                dossier_plugin_api::analyzer::RuleScope::Fleet => " [fleet]",
            };
            println!(
                "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  {}{scope} (plugin {}){}",
                r.id,
                r.mitre.join(","),
                weight,
                sev.label(),
                "behaviour",
                r.title,
                info.name,
                if on { "" } else { " (disabled)" }
            );
            if a.long {
                println!(
                    "    needs: {}\n    MITRE ATT&CK: {}\n    {}\n",
                    if r.needs.is_empty() {
                        "-".to_string()
                    } else {
                        r.needs.join(", ")
                    },
                    dossier_analyzers::attack::labels(&r.mitre),
                    r.doc
                );
            }
        }
    }
    if a.long {
        println!("technique names: {}", dossier_analyzers::attack::release());
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

fn plugins(a: PluginsArgs) -> anyhow::Result<ExitCode> {
    let registry = registry(&a.plugins)?;
    println!(
        "{:<9} {:<16} {:<8} {:<8} source",
        "kind", "name", "version", "load ms"
    );
    for c in dossier_collectors::builtin() {
        let i = c.info();
        println!(
            "{:<9} {:<16} {:<8} {:<8} builtin",
            "collector", i.name, i.version, "-"
        );
    }
    println!(
        "{:<9} {:<16} {:<8} {:<8} builtin ({} rules)",
        "analyzer",
        "rules",
        env!("CARGO_PKG_VERSION"),
        "-",
        dossier_analyzers::CATALOG.len()
    );
    for (name, what) in crate::plugins::BUILTIN_REPORTERS {
        println!(
            "{:<9} {:<16} {:<8} {:<8} builtin: {what}",
            "reporter",
            name,
            env!("CARGO_PKG_VERSION"),
            "-"
        );
    }
    for l in &registry.libs {
        let lib = &l.lib;
        let ms = format!("{:.1}", l.load_time.as_secs_f64() * 1000.0);
        let kinds = lib.kind_names();
        for kind in kinds {
            let name = match kind {
                "collector" => registry
                    .collectors
                    .iter()
                    .find(|c| c.origin().is_some_and(|o| o.sha256 == lib.sha256))
                    .map(|c| c.info().name),
                "analyzer" => registry
                    .analyzers
                    .iter()
                    .find(|a| a.origin_lib().sha256 == lib.sha256)
                    .map(|a| a.info().name),
                _ => registry
                    .reporters
                    .iter()
                    .find(|r| {
                        r.reporter
                            .lock()
                            .map(|x| x.origin_lib().sha256 == lib.sha256)
                            .unwrap_or(false)
                    })
                    .map(|r| r.info.name.clone()),
            }
            .unwrap_or_else(|| lib.name.clone());
            println!(
                "{:<9} {:<16} {:<8} {:<8} plugin {} {}\n{:<44} sha256 {}",
                kind, name, lib.version, ms, lib.name, lib.path, "", lib.sha256
            );
        }
    }
    println!(
        "dynamic plugins: supported (plugin ABI {}, plugin API {}, target {}); searched: --plugin, DOSSIER_PLUGIN_PATH, {}",
        dossier_plugin_api::abi::ABI_VERSION,
        dossier_plugin_api::API_VERSION,
        dossier_plugin_api::abi::TARGET,
        crate::plugins::user_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(no HOME: no per-user directory)".into())
    );
    Ok(ExitCode::SUCCESS)
}

fn playbooks(a: PlaybooksArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        None => {
            let registry = Registry::builtin();
            println!("{:<12} {:<16} description", "name", "sha256");
            for (name, _) in playbook::BUILTIN {
                let p = playbook::load(Some(name), &registry)?;
                println!(
                    "{:<12} {:<16} {}{}",
                    p.name,
                    &p.sha256[..16],
                    p.description,
                    if *name == playbook::DEFAULT {
                        " (default)"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(PlaybooksAction::Show { name }) => {
            let text = playbook::text_of(&name)?;
            print!("# source: {}\n# sha256: {}\n{}", text.0, text.1, text.2);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn collectors() -> anyhow::Result<ExitCode> {
    for c in dossier_collectors::builtin() {
        let i = c.info();
        println!("{:<10} {:<8} {}", i.name, i.version, i.description);
    }
    Ok(ExitCode::SUCCESS)
}
