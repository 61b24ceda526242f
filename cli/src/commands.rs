//! The commands: each takes its validated plan (see [`crate::plans`]), runs it, and maps the
//! outcome to an exit code (0 success, 1 a verification or collection problem, 2 the command
//! could not run).

use crate::args::Command;
use crate::local::LocalHost;
use crate::orchestrate;
use crate::plans::{
    AnalyzePlan, BaselinePlan, CollectPlan, KeygenPlan, Plan, SweepRun, VerifyPlan,
};
use crate::text::sanitize;
use dossier_bundle::ledger;
use dossier_bundle::reader::{self, Limits};
use dossier_bundle::signature;
use dossier_plugin_api::CollectorStatus;
use std::process::ExitCode;

/// Runs a parsed command line: its plan first, then the command.
pub fn run(command: Command) -> ExitCode {
    // `s3://` inputs are downloaded first; their staging folder lives until the command ends.
    let r = crate::store::fetch_inputs(command)
        .and_then(|(command, _fetched)| crate::plans::plan(command).and_then(execute));
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dossier: error: {}", crate::messages::one_line(&e));
            ExitCode::from(crate::messages::EXIT_COULD_NOT_RUN)
        }
    }
}

/// Runs a command's plan.
fn execute(plan: Plan) -> anyhow::Result<ExitCode> {
    match plan {
        Plan::Collect(p) => collect(p),
        Plan::Verify(p) => verify(p),
        Plan::Collectors(json) => crate::listing::collectors(json),
        Plan::Analyze(p) => analyze(p),
        Plan::Baseline(p) => baseline(p),
        Plan::Rules(p) => crate::listing::rules(p),
        Plan::Timeline(p) => timeline(&p),
        Plan::Sweep(p) => sweep(p),
        Plan::Plugins(p) => crate::listing::plugins(p),
        Plan::Playbooks(p) => crate::listing::playbooks(p),
        Plan::Keygen(p) => keygen(p),
        Plan::Contain(p) => crate::contain::contain(p),
        Plan::Actions(p) => crate::contain::actions(p),
        Plan::Restore(p) => crate::contain::restore(p),
        Plan::Import(p) => crate::import::import(p),
        Plan::Export(p) => crate::export::run(p),
        Plan::Merge(p) => crate::merge::run(p),
        Plan::Completions(shell) => {
            crate::manual::print(&crate::manual::completions(shell))?;
            Ok(ExitCode::SUCCESS)
        }
        Plan::Man(out) => man(out.as_deref()),
    }
}

/// `dossier man`: every page into the folder, or the top page to stdout.
fn man(out: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match out {
        Some(dir) => {
            for path in crate::manual::write_pages(dir)? {
                println!("{}", path.display());
            }
        }
        None => crate::manual::print(&crate::manual::pages()?[0].1)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(p: KeygenPlan) -> anyhow::Result<ExitCode> {
    let k = signature::keygen(&p.out, &p.passphrase)?;
    println!("key id      {}", k.key_id);
    println!(
        "secret key  {} (keep it private: 0600, off the evidence store)",
        k.secret.display()
    );
    println!("public key  {}", k.public.display());
    Ok(ExitCode::SUCCESS)
}

fn collect(plan: CollectPlan) -> anyhow::Result<ExitCode> {
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
    if let Some(Err(e)) = &c.signature {
        eprintln!("dossier: error: the bundle is complete but not signed: {e}");
    }
    if let Some(Err(e)) = &c.timestamp {
        eprintln!("dossier: warning: the bundle is complete and kept, but not timestamped: {e}");
    }
    // With `--out s3://...` the bundle goes up as soon as it is complete, before analysis.
    let uploaded = plan
        .upload
        .as_ref()
        .map(|up| crate::store::or_keep(up, up.bundle(&c.bundle.path)))
        .transpose()?;
    if plan.analyze {
        analyze_collected(&plan, &c.bundle.path)?;
    }
    if let Some(up) = &plan.upload {
        let n = crate::store::or_keep(up, up.rest())?;
        if !plan.quiet {
            eprintln!(
                "dossier: {n} object(s) written to {}",
                up.location().url("")
            );
        }
    }
    if let (Some(Ok(sig)), false) = (&c.signature, plan.quiet) {
        eprintln!("dossier: signed: {}", sig.display());
    }
    if let (Some(Ok(t)), false) = (&c.timestamp, plan.quiet) {
        let s = &t.stamp;
        eprintln!(
            "dossier: timestamped by {} at {}: {}",
            s.tsa,
            s.gen_time,
            t.path.display()
        );
    }
    println!(
        "{}",
        uploaded.unwrap_or_else(|| c.bundle.path.display().to_string())
    );
    if matches!(c.signature, Some(Err(_))) || matches!(c.timestamp, Some(Err(_))) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The analysis of a bundle just collected, in `OUT/analysis`.
fn analyze_collected(plan: &CollectPlan, bundle: &std::path::Path) -> anyhow::Result<()> {
    let out = plan.out.join("analysis");
    let r = crate::analyze::analyze_bundles(
        &[bundle.to_path_buf()],
        &plan.playbook,
        &plan.registry,
        &out,
        &[],
        None,
        &dossier_bundle::crypt::Identities::none(),
    )?;
    for h in &r.hosts {
        eprintln!(
            "dossier: {}: verdict {} (score {}, {} findings); report {}",
            h.hostname,
            h.verdict,
            h.score,
            h.findings,
            plan.upload
                .as_ref()
                .map_or_else(|| h.report.display().to_string(), |up| up.shown(&h.report))
        );
    }
    for u in &r.unanalyzed {
        eprintln!(
            "dossier: error: {} was not analyzed: {}",
            u.subject,
            crate::messages::without_subject(&u.subject, &u.reason)
        );
    }
    Ok(())
}

fn sweep(p: SweepRun) -> anyhow::Result<ExitCode> {
    let progress = crate::progress::sweep_for_stderr(p.quiet);
    let out = crate::sweep::run(&p.sweep, &p.registry.collectors, progress.as_ref())?;
    let incomplete = out.summary.targets.iter().filter(|t| !t.complete()).count();
    if !p.json {
        for t in &out.summary.targets {
            let what = match (&t.bundle, &t.reason) {
                (Some(b), _) if t.complete() => b.clone(),
                (Some(b), Some(r)) => format!("{b} ({r})"),
                (_, Some(r)) => r.clone(),
                _ => String::new(),
            };
            println!("{:<17} {:<34} {}", t.outcome, t.label, sanitize(&what));
        }
    }
    let analysis = if p.analyze && !out.bundles.is_empty() {
        Some(analyze_swept(&p, &out)?)
    } else {
        None
    };
    let summary_path = match &p.sweep.upload {
        Some(up) => {
            let n = crate::store::or_keep(up, up.rest())?;
            if !p.quiet && !p.json {
                eprintln!(
                    "dossier: {n} object(s) written to {}",
                    up.location().url("")
                );
            }
            up.shown(&out.summary_path)
        }
        None => out.summary_path.display().to_string(),
    };
    if p.json {
        let doc = crate::json_out::Sweep {
            summary: summary_path.clone(),
            targets: &out.summary.targets,
            incomplete,
            analysis: analysis.as_ref().map(|r| {
                let mut a = crate::json_out::analysis(r);
                // With `--out s3://...` the reports are named by their URL in the bucket.
                if let Some(up) = &p.sweep.upload {
                    let url = |s: &mut String| *s = up.shown(std::path::Path::new(s.as_str()));
                    a.hosts.iter_mut().for_each(|h| url(&mut h.report));
                    url(&mut a.fleet_report);
                    url(&mut a.findings);
                }
                a
            }),
        };
        crate::json_out::print("dossier-sweep", doc)?;
    } else {
        if let Some(s) = &out.summary.shard {
            println!(
                "shard {}/{}: {} of {} target(s)",
                s.index, s.count, s.kept, s.of
            );
        }
        println!("sweep summary: {summary_path}");
    }
    if incomplete > 0 {
        eprintln!(
            "dossier: {incomplete} of {} target(s) not completely collected (see {})",
            out.summary.targets.len(),
            summary_path
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The fleet analysis of a sweep's bundles, in `OUT/analysis`, with the targets not
/// collected.
fn analyze_swept(
    p: &SweepRun,
    out: &crate::sweep::SweepOutcome,
) -> anyhow::Result<crate::analyze::Analysis> {
    let dir = p.sweep.out.join("analysis");
    let not_collected = out.summary.not_collected();
    let r = crate::analyze::analyze_bundles(
        &out.bundles,
        &p.sweep.playbook,
        &p.registry,
        &dir,
        &not_collected,
        p.baseline.as_ref(),
        &dossier_bundle::crypt::Identities::none(),
    )?;
    if p.json {
        return Ok(r);
    }
    let shown = |path: &std::path::Path| match &p.sweep.upload {
        Some(up) => up.shown(path),
        None => path.display().to_string(),
    };
    for h in &r.hosts {
        println!(
            "{:<17} {:<34} score {:>3}, {} findings: {}",
            h.verdict,
            sanitize(&h.hostname),
            h.score,
            h.findings,
            shown(&h.report)
        );
    }
    for u in &r.unanalyzed {
        println!(
            "NOT ANALYZED      {}: {}",
            u.subject,
            crate::messages::without_subject(&u.subject, &u.reason)
        );
    }
    println!("fleet report: {}", shown(&r.fleet_report));
    Ok(r)
}

fn analyze(p: AnalyzePlan) -> anyhow::Result<ExitCode> {
    let (bundles, refused) = signed_only(&p.bundles, &p.keys);
    let r = if bundles.is_empty() {
        None
    } else {
        Some(crate::analyze::analyze_bundles(
            &bundles,
            &p.playbook,
            &p.registry,
            &p.out,
            &[],
            p.baseline.as_ref(),
            &p.identities,
        )?)
    };
    let all_analyzed = refused.is_empty() && r.as_ref().is_some_and(|r| r.unanalyzed.is_empty());
    let code = if all_analyzed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if p.json {
        crate::json_out::print(
            "dossier-analyze",
            crate::json_out::analyzed(r.as_ref(), &refused),
        )?;
        return Ok(code);
    }
    for (path, why) in &refused {
        println!("NOT ANALYZED  {}: signature: {why}", path.display());
    }
    let Some(r) = r else { return Ok(code) };
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
        println!(
            "NOT ANALYZED  {}: {}",
            u.subject,
            crate::messages::without_subject(&u.subject, &u.reason)
        );
    }
    println!(
        "fleet report: {}\nfindings:     {}",
        r.fleet_report.display(),
        r.findings_json.display()
    );
    if let Some(e) = &r.events {
        println!(
            "events:       {} ({} events, {} alerts; JSON {})",
            e.report.display(),
            e.events,
            e.alerts,
            e.json.display()
        );
    }
    Ok(code)
}

/// With keys (`analyze --pubkey`): the bundles whose signature verifies, and, when a custody
/// ledger is beside them, whose ledger head does too; the others with why. Without keys, all.
fn signed_only(
    bundles: &[std::path::PathBuf],
    keys: &[signature::TrustedKey],
) -> (Vec<std::path::PathBuf>, Vec<(std::path::PathBuf, String)>) {
    if keys.is_empty() {
        return (bundles.to_vec(), Vec::new());
    }
    let mut refused = Vec::new();
    let signed = bundles
        .iter()
        .filter(|path| {
            let dir = ledger::bundle_dir(path);
            let checked = signature::verify_bundle(path, keys).and_then(|_| {
                let present = [
                    dir.join(ledger::LEDGER_NAME),
                    signature::ledger_head_path(dir),
                ]
                .iter()
                .any(|p| p.symlink_metadata().is_ok());
                if present {
                    signature::verify_ledger_head(dir, keys, Some(&ledger::bundle_name(path)))?;
                }
                Ok(())
            });
            match checked {
                Ok(()) => true,
                Err(e) => {
                    refused.push(((*path).clone(), e.to_string()));
                    false
                }
            }
        })
        .cloned()
        .collect();
    (signed, refused)
}

fn baseline(p: BaselinePlan) -> anyhow::Result<ExitCode> {
    match crate::baseline::build(&p.bundles, &p.playbook, &p.registry, &p.out) {
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
            eprintln!("dossier: error: {}", crate::messages::fold(&e.to_string()));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// `dossier timeline`: 0 when every bundle is in the timeline, 1 when some bundle was refused
/// (the timeline holds the others; none written when none is left), 2 when it could not be
/// written. What it did goes to stdout, or to stderr when the timeline does.
fn timeline(p: &crate::timeline::TimelinePlan) -> anyhow::Result<ExitCode> {
    // A bundle that is missing or not a file: the command cannot run (exit 2), nothing written.
    crate::inputs::bundles(&p.bundles)?;
    let (bundles, unsigned) = signed_only(&p.bundles, &p.keys);
    let mut t = crate::timeline::write_timeline(p, &bundles)?;
    for (path, why) in unsigned {
        t.refused.push((path, format!("signature: {why}")));
    }
    let to_stdout = p.out == crate::timeline::Output::Stdout;
    let say = |line: String| {
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    for (path, r) in &t.bundles {
        let events = if r.events > 0 {
            format!(" ({} imported event(s))", r.events)
        } else {
            String::new()
        };
        say(format!(
            "IN TIMELINE   {}: {} row(s){events}",
            path.display(),
            r.rows
        ));
        if r.skipped > 0 {
            say(format!(
                "              {} record line(s) not in the timeline: {}",
                r.skipped,
                sanitize(&r.skipped_why.join("; "))
            ));
        }
    }
    for (path, why) in &t.refused {
        let name = path.display().to_string();
        say(format!(
            "NOT IN TIMELINE  {name}: {}",
            sanitize(&crate::messages::without_subject(&name, why))
        ));
    }
    let runs = if t.runs > 0 {
        format!("; sorted in {} runs on disk", t.runs)
    } else {
        String::new()
    };
    match (&t.sha256, &p.out) {
        (Some(sha), crate::timeline::Output::File(f)) => say(format!(
            "timeline: {} ({} rows, sha256 {sha}{runs})",
            f.display(),
            t.rows
        )),
        (Some(sha), crate::timeline::Output::Stdout) => say(format!(
            "timeline: standard output ({} rows, sha256 {sha}{runs})",
            t.rows
        )),
        (None, _) => say("timeline: not written (no bundle left)".into()),
    }
    Ok(if t.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify(p: VerifyPlan) -> anyhow::Result<ExitCode> {
    let limits = Limits::default();
    let checks = dossier_bundle::custody::Checks {
        keys: &p.pubkeys,
        ledger: p.ledger,
        require_signature: p.require_signature,
        identities: &p.identities,
    };
    let mut failed = 0usize;
    let mut entries = Vec::new();
    for path in &p.bundles {
        let c = dossier_bundle::custody::check(path, &limits, &checks);
        let mut v = c.verification;
        let stamped = crate::tsa::check_token(&p.tsa_certs, path, &mut v);
        let ledger_dir = match c.ledger {
            ledger::LedgerBeside::Record(dir) => Some(dir),
            ledger::LedgerBeside::Refused => None,
            // With keys, a signed bundle without its ledger already failed (signature).
            ledger::LedgerBeside::Missing if p.ledger && p.pubkeys.is_empty() => {
                eprintln!(
                    "dossier: note: no custody ledger beside {}: its custody is not checked and this verification is not recorded",
                    path.display()
                );
                None
            }
            ledger::LedgerBeside::Missing => None,
        };
        let signer = v
            .manifest
            .as_ref()
            .and_then(|m| m.collection.signer_key_id.as_deref());
        if let (Some(key), true) = (signer, p.pubkeys.is_empty()) {
            eprintln!(
                "dossier: note: {} was signed (key {}): its signature and ledger head are checked only with --pubkey or --trusted-keys",
                path.display(),
                sanitize(key)
            );
        }
        if p.json {
            failed += usize::from(!v.ok());
            entries.push(crate::json_out::verified(
                path,
                &v,
                c.signed.as_ref(),
                stamped.clone(),
            ));
        } else if v.ok() {
            print_verified(path, &v, c.signed.as_ref(), stamped.as_deref());
        } else {
            failed += 1;
            println!("FAILED  {}", crate::store::shown(path));
            for problem in &v.problems {
                println!("        {}: {}", problem.subject, problem.message);
            }
        }
        if let Some(dir) = ledger_dir {
            record_verification(&dir, path, &v);
        }
    }
    if p.json {
        let doc = crate::json_out::Verify {
            bundles: entries,
            failed,
        };
        crate::json_out::print("dossier-verify", doc)?;
    }
    if failed > 0 {
        eprintln!(
            "dossier: {failed} of {} bundle(s) failed verification",
            p.bundles.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of a bundle that verified: its line, then its signature, ledger head and token.
fn print_verified(
    path: &std::path::Path,
    v: &reader::Verification,
    signed: Option<&(signature::Signed, Option<signature::LedgerHead>)>,
    stamped: Option<&str>,
) {
    println!(
        "OK      {}  sha256 {}  {}",
        crate::store::shown(path),
        v.sha256.as_deref().unwrap_or("?"),
        match v.encryption {
            reader::Encryption::None => format!("{} members", v.members_checked + 1),
            reader::Encryption::Decrypted =>
                format!("{} members (encrypted, decrypted)", v.members_checked + 1),
            reader::Encryption::NotDecrypted =>
                "(encrypted, contents not checked: no --identity)".into(),
        }
    );
    if let Some((s, head)) = signed {
        println!(
            "        signed by key {} ({}): {}",
            s.key_id,
            sanitize(&s.signer),
            sanitize(&s.trusted_comment)
        );
        if let Some(h) = head {
            println!(
                "        custody ledger head signed by key {} ({}): {} line(s), {} appended since (unsigned, hash-chained)",
                h.key_id,
                sanitize(&h.signer),
                h.signed_lines,
                h.unsigned_after
            );
        }
    }
    if let Some(line) = stamped {
        println!("        {line}");
    }
}

/// Records a verification in the custody ledger in `dir` (a warning if it cannot).
fn record_verification(dir: &std::path::Path, path: &std::path::Path, v: &reader::Verification) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let detail = if v.ok() && v.encryption == reader::Encryption::NotDecrypted {
        "encrypted: the file checked, not its contents (no identity)".to_string()
    } else if v.ok() {
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
    if let Err(e) = ledger::append(dir, &ev) {
        eprintln!("dossier: warning: custody ledger not updated: {e}");
    }
}
