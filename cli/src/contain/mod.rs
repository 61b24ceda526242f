//! `dossier contain`, `dossier actions` and `dossier restore`, for this machine or for SSH
//! targets ([`targets`]): the plan (every change exactly, read from the host now, from
//! `--action`s and the flagged findings of `--from findings.json`) printed and nothing changed
//! without `--apply`; with it, after a verified snapshot bundle of the host ([`snapshot`]:
//! collected then, or `--snapshot`), the plan carried out by `dossier_contain::engine` with
//! each record written under the state folder and in the case ledger before its change; the
//! records listed; applied actions undone.

pub mod ledger;
pub mod snapshot;
pub mod spec;
pub mod targets;

use crate::args::{ActionsArgs, ContainArgs, RestoreArgs, SshArgs};
use crate::orchestrate::Custody;
use crate::playbook::Playbook;
use dossier_bundle::signature::SigningKey;
use dossier_contain::engine::{self, Context, Outcome, Plan, Selection};
use dossier_contain::from_findings::{self, FindingsDoc};
use dossier_contain::record::{Record, valid_id};
use dossier_contain::store::Store;
use dossier_contain::{Actuator, Places};
use dossier_plugin_api::Collector;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `dossier contain`, its flags checked.
pub struct ContainPlan {
    pub specs: Vec<spec::Spec>,
    /// Hosts (none: this machine) and how to reach them.
    pub targets: Vec<String>,
    pub ssh: SshArgs,
    /// `--from`: the findings document read and checked, and its path.
    pub from: Option<(FindingsDoc, String)>,
    pub runtime: bool,
    /// `--kill`: a kill step after each suspend.
    pub kill: bool,
    /// What a fresh snapshot is collected with.
    pub collectors: Vec<Arc<dyn Collector>>,
    pub playbook: Playbook,
    pub apply: bool,
    pub snapshot: Option<PathBuf>,
    pub snapshot_max_age_mins: u64,
    pub out: PathBuf,
    pub examiner: String,
    pub signer: Option<Arc<SigningKey>>,
    pub places: Places,
}

/// `dossier actions`.
pub struct ActionsPlan {
    pub places: Places,
    pub targets: Vec<String>,
    pub ssh: SshArgs,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier restore`.
pub struct RestorePlan {
    pub which: Selection,
    pub targets: Vec<String>,
    pub ssh: SshArgs,
    pub out: PathBuf,
    pub examiner: String,
    pub signer: Option<Arc<SigningKey>>,
    pub places: Places,
}

/// Fails unless dossier runs as root (`what` says which command needs it).
fn require_root(what: &str) -> anyhow::Result<()> {
    let uid = nix::unistd::geteuid();
    anyhow::ensure!(
        uid.is_root(),
        "{what} must run as root (this is uid {uid}); nothing was changed"
    );
    Ok(())
}

/// `--examiner` (checked), else the user who ran sudo, else this user's name.
fn examiner(given: Option<String>) -> String {
    if let Some(e) = given {
        return e;
    }
    let uid = nix::unistd::geteuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid{uid}"), |u| u.name);
    match std::env::var("SUDO_USER") {
        Ok(s) if uid.is_root() && !s.is_empty() && s.len() <= 64 => format!("{s} (sudo)"),
        _ => name,
    }
}

/// `--state-dir` and `--runtime-dir`, checked.
fn places(dir: &str, runtime_dir: &str) -> anyhow::Result<Places> {
    for (flag, d) in [("--state-dir", dir), ("--runtime-dir", runtime_dir)] {
        anyhow::ensure!(
            d.starts_with('/') && !d.split('/').any(|c| c == ".."),
            "{flag} {d:?}: not an absolute path without `..`"
        );
    }
    Ok(Places::new(dir).with_runtime_dir(runtime_dir))
}

/// Checks the flags of `dossier contain` (`examiner` and `signer` checked by the caller).
pub fn plan_contain(
    a: ContainArgs,
    examiner_given: Option<String>,
    signer: Option<Arc<SigningKey>>,
) -> anyhow::Result<ContainPlan> {
    let mut specs = a
        .actions
        .iter()
        .map(|s| spec::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    spec::set_rollback(&mut specs, a.rollback_secs).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        !specs.is_empty() || a.from.is_some(),
        "nothing to contain: give at least one --action or --from findings.json (see dossier contain --help)"
    );
    anyhow::ensure!(
        !a.runtime || a.from.is_some(),
        "--runtime is for plans made --from findings.json"
    );
    anyhow::ensure!(
        !a.kill || a.from.is_some() || specs.iter().any(|s| matches!(s, spec::Spec::Suspend(_))),
        "--kill kills the processes a plan suspends: give --from findings.json or --action suspend:PID"
    );
    if a.apply && a.targets.is_empty() {
        require_root("dossier contain --apply")?;
    }
    // Checked now, so that a bad target or option fails before any connection.
    targets::resolve(&a.targets, &a.ssh)?;
    let from = match &a.from {
        Some(f) => Some((from_findings::read_findings(f)?, f.display().to_string())),
        None => None,
    };
    let registry = crate::plugins::Registry::builtin();
    let playbook = crate::playbook::load(a.playbook.as_deref(), &registry)?;
    Ok(ContainPlan {
        specs,
        targets: a.targets,
        ssh: a.ssh,
        from,
        runtime: a.runtime,
        kill: a.kill,
        collectors: registry.collectors.clone(),
        playbook,
        apply: a.apply,
        snapshot: a.snapshot,
        snapshot_max_age_mins: a.snapshot_max_age,
        out: a.case.out,
        examiner: examiner(examiner_given),
        signer,
        places: places(&a.case.state_dir, &a.case.runtime_dir)?,
    })
}

/// Checks the flags of `dossier actions`.
pub fn plan_actions(a: ActionsArgs) -> anyhow::Result<ActionsPlan> {
    if a.targets.is_empty() {
        require_root("dossier actions (the records are root's)")?;
    }
    targets::resolve(&a.targets, &a.ssh)?;
    Ok(ActionsPlan {
        places: places(&a.state_dir, &a.runtime_dir)?,
        targets: a.targets,
        ssh: a.ssh,
        json: a.json,
    })
}

/// Checks the flags of `dossier restore` (`examiner` and `signer` checked by the caller).
pub fn plan_restore(
    a: RestoreArgs,
    examiner_given: Option<String>,
    signer: Option<Arc<SigningKey>>,
) -> anyhow::Result<RestorePlan> {
    // Hosts first, then action ids (an argument in the form of an id is one).
    let (ids, hosts): (Vec<String>, Vec<String>) = a.ids.into_iter().partition(|x| valid_id(x));
    anyhow::ensure!(
        a.all == ids.is_empty(),
        "name the action ids to undo (see dossier actions), or --all, not both"
    );
    if hosts.is_empty() {
        require_root("dossier restore")?;
    }
    targets::resolve(&hosts, &a.ssh)?;
    Ok(RestorePlan {
        which: if a.all {
            Selection::All
        } else {
            Selection::Ids(ids)
        },
        targets: hosts,
        ssh: a.ssh,
        out: a.case.out,
        examiner: examiner(examiner_given),
        signer,
        places: places(&a.case.state_dir, &a.case.runtime_dir)?,
    })
}

/// Prints the plan: one block for the host, one line per change.
fn print_plan(plan: &Plan, places: &Places, in_place: &[Record]) {
    println!(
        "plan {} for host {} ({} change{}):",
        plan.id(),
        plan.host,
        plan.steps.len(),
        if plan.steps.len() == 1 { "" } else { "s" }
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let done = in_place
            .iter()
            .rfind(|r| r.step == *s)
            .map(|r| format!(" [in place: action {}, {}]", r.id, r.state.name()))
            .unwrap_or_default();
        println!("  {}. {}{done}", i + 1, s.action(places).describe());
    }
}

/// `dossier contain`: every host connected first (a host that cannot be reached, or a login
/// without root, stops it before any change), then each host planned, and with `--apply`
/// snapshotted and changed in turn.
pub fn contain(p: ContainPlan) -> anyhow::Result<ExitCode> {
    let mut hosts = targets::connect(&p.targets, &p.ssh)?;
    let mut failed = false;
    for h in &mut hosts {
        failed |= contain_host(&p, h)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The plan of one host: its `--action`s resolved there, then the steps of its findings; and
/// the records of changes in place already there. `peer` (an SSH target) is the session an
/// isolation keeps, instead of the one dossier itself runs in.
fn plan_host(
    p: &ContainPlan,
    a: &mut dyn Actuator,
    peer: Option<dossier_contain::Peer>,
) -> anyhow::Result<(Plan, Vec<Record>)> {
    // A change in place already is planned as recorded (the file it moved is gone, the cron
    // line it changed reads differently now), so the same plan is the same again.
    let in_place: Vec<Record> = match Store::new(&p.places).list(a) {
        Ok(l) => l.records.into_iter().filter(engine::undoable).collect(),
        Err(_) if !p.apply => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut steps = Vec::new();
    for s in &p.specs {
        match in_place.iter().rfind(|r| spec::same_target(s, &r.step)) {
            Some(r) => steps.push(r.step.clone()),
            None => match (spec::resolve(s, a)?, &peer) {
                (dossier_contain::Step::Isolate { rollback_secs, .. }, Some(peer)) => {
                    steps.push(dossier_contain::Step::Isolate {
                        keep: vec![peer.clone()],
                        rollback_secs,
                    });
                }
                (step, _) => steps.push(step),
            },
        }
    }
    if let Some((doc, name)) = &p.from {
        let fp = from_findings::plan_from_findings(doc, name, a, p.runtime)?;
        println!(
            "from {name}: the analysis of bundle {} (sha256 {})",
            fp.bundle, fp.bundle_sha256
        );
        for l in &fp.left_out {
            println!("  not planned: {l}");
        }
        for s in fp.steps {
            if !steps.contains(&s) {
                steps.push(s);
            }
        }
    }
    if p.kill {
        steps = spec::with_kills(steps);
        if !steps
            .iter()
            .any(|s| matches!(s, dossier_contain::Step::Kill { .. }))
        {
            println!("  not planned: --kill: the plan suspends no process");
        }
    }
    let plan = Plan {
        host: a.host().to_string(),
        steps,
    };
    Ok((plan, in_place))
}

/// Plans one host and, with `--apply`, carries the plan out after its snapshot; whether a
/// step failed.
fn contain_host(p: &ContainPlan, h: &mut targets::Connected) -> anyhow::Result<bool> {
    let peer = h.session_peer()?;
    let (plan, in_place) = plan_host(p, h.actuator(), peer)?;
    print_plan(&plan, &p.places, &in_place);
    if p.runtime {
        println!(
            "records in {} (dropped at reboot, with the runtime masks): nothing under /etc, /var or the binaries' folders changes",
            p.places.runtime_actions()
        );
    }
    if !p.apply {
        println!("nothing was changed (add --apply to carry it out, after a snapshot)");
        return Ok(false);
    }
    anyhow::ensure!(
        !plan.steps.is_empty(),
        "{}: nothing in the plan to apply; nothing was changed",
        plan.host
    );
    let custody = Custody {
        examiner: Some(p.examiner.clone()),
        signer: p.signer.clone(),
        ..Default::default()
    };
    let collection = snapshot::Collection {
        collectors: &p.collectors,
        playbook: &p.playbook,
        custody: &custody,
        out: &p.out,
        quiet: false,
    };
    let snapshot = snapshot::ensure(
        p.snapshot.as_deref(),
        p.snapshot_max_age_mins,
        &plan.host,
        &h.reach(),
        &collection,
    )?;
    dossier_bundle::fsio::ensure_out_dir(&p.out)?;
    let ctx = Context {
        places: p.places.clone(),
        examiner: p.examiner.clone(),
        snapshot: Some(snapshot.clone()),
        runtime: p.runtime,
    };
    let mut hooks = ledger::LedgerHooks {
        out: p.out.clone(),
        signer: p.signer.clone(),
        examiner: p.examiner.clone(),
        fresh: h.fresh(),
    };
    println!("snapshot {} (sha256 {})", snapshot.bundle, snapshot.sha256);
    let outcomes = engine::apply(&plan, h.actuator(), &ctx, &mut hooks)?;
    let mut failed = false;
    for (i, o) in outcomes.iter().enumerate() {
        failed |= o.failed();
        println!("  {}. {}", i + 1, outcome_line(o, "applied"));
    }
    Ok(failed)
}

fn outcome_line(o: &Outcome, done: &str) -> String {
    match o {
        Outcome::Done { id } => format!("{done:<15} {id}"),
        Outcome::AlreadyDone { id } => format!("{:<15} {id}", format!("already {done}")),
        Outcome::Failed { id, reason } => {
            format!("{:<15} {} {reason}", "FAILED", id.as_deref().unwrap_or("-"))
        }
    }
}

/// One line of `dossier actions`.
fn record_line(r: &Record) -> String {
    let what = match &r.step {
        dossier_contain::Step::Quarantine { path, .. } => format!("quarantine {path}"),
        other => format!(
            "{} {}",
            other.kind(),
            serde_json::to_string(other).unwrap_or_default()
        ),
    };
    let times: Vec<String> = r
        .transitions
        .iter()
        .map(|t| match t.by.as_str() {
            "" => format!("{} {}", t.state, t.time),
            by => format!("{} {} by {by}", t.state, t.time),
        })
        .collect();
    let mut reason = r
        .state
        .reason()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    if r.runtime {
        reason.push_str(" [runtime record: dropped at reboot]");
    }
    format!(
        "{}  {:<14} {what}{reason}\n    {}",
        r.id,
        r.state.name(),
        times.join(", ")
    )
}

/// `dossier actions`.
pub fn actions(p: ActionsPlan) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut hosts = Vec::new();
    for mut h in targets::connect(&p.targets, &p.ssh)? {
        if p.json {
            let listing = Store::new(&p.places).list(h.actuator())?;
            failed |= !listing.problems.is_empty();
            hosts.push(crate::json_out::ActionsHost {
                host: h.label(),
                records: listing.records,
                problems: listing.problems,
            });
            continue;
        }
        if p.targets.len() > 1 {
            println!("{}:", h.label());
        }
        failed |= actions_host(&p, h.actuator())?;
    }
    if p.json {
        crate::json_out::print("dossier-actions", crate::json_out::Actions { hosts })?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lists the records of one host; whether some could not be read.
fn actions_host(p: &ActionsPlan, a: &mut dyn Actuator) -> anyhow::Result<bool> {
    let listing = Store::new(&p.places).list(a)?;
    if listing.records.is_empty() {
        println!(
            "no action records in {} or {}",
            p.places.actions(),
            p.places.runtime_actions()
        );
    }
    for r in &listing.records {
        println!("{}", record_line(r));
    }
    for problem in &listing.problems {
        eprintln!("dossier: warning: {problem}");
    }
    Ok(!listing.problems.is_empty())
}

/// `dossier restore`.
pub fn restore(p: RestorePlan) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for mut h in targets::connect(&p.targets, &p.ssh)? {
        failed |= restore_host(&p, h.actuator())?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Restores one host; whether an undo failed.
fn restore_host(p: &RestorePlan, a: &mut dyn Actuator) -> anyhow::Result<bool> {
    dossier_bundle::fsio::ensure_out_dir(&p.out)?;
    let mut hooks = ledger::LedgerHooks {
        out: p.out.clone(),
        signer: p.signer.clone(),
        examiner: p.examiner.clone(),
        fresh: None,
    };
    let outcomes = engine::restore(a, &p.places, &p.which, &p.examiner, &mut hooks)?;
    if outcomes.is_empty() {
        println!("nothing to restore on {}", a.host());
    }
    let mut failed = false;
    for (id, o) in &outcomes {
        failed |= o.failed();
        match o {
            Outcome::Failed { reason, .. } => println!("{:<15} {id} {reason}", "FAILED"),
            other => println!("{}", outcome_line(other, "restored")),
        }
    }
    Ok(failed)
}
