//! `dossier contain`, `dossier actions` and `dossier restore` for this machine: the plan
//! (every change exactly, read from the machine now) printed and nothing changed without
//! `--apply`; with it, as root, after a verified snapshot bundle of this machine, the plan
//! carried out by `dossier_contain::engine` with each record written under the state folder
//! and in the case ledger before its change; the records listed; applied actions undone.

pub mod ledger;
pub mod spec;

use crate::args::{ActionsArgs, ContainArgs, RestoreArgs};
use dossier_bundle::reader::{self, Limits};
use dossier_bundle::signature::SigningKey;
use dossier_contain::engine::{self, Context, Outcome, Plan, Selection};
use dossier_contain::record::{Record, Snapshot, valid_id};
use dossier_contain::store::Store;
use dossier_contain::{Actuator, LocalActuator, Places};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `dossier contain`, its flags checked.
pub struct ContainPlan {
    pub specs: Vec<spec::Spec>,
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
}

/// `dossier restore`.
pub struct RestorePlan {
    pub which: Selection,
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

fn places(dir: &str) -> anyhow::Result<Places> {
    anyhow::ensure!(
        dir.starts_with('/') && !dir.split('/').any(|c| c == ".."),
        "--state-dir {dir:?}: not an absolute path without `..`"
    );
    Ok(Places::new(dir))
}

/// Checks the flags of `dossier contain` (`examiner` and `signer` checked by the caller).
pub fn plan_contain(
    a: ContainArgs,
    examiner_given: Option<String>,
    signer: Option<Arc<SigningKey>>,
) -> anyhow::Result<ContainPlan> {
    let specs = a
        .actions
        .iter()
        .map(|s| spec::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        !specs.is_empty(),
        "nothing to contain: give at least one --action (see dossier contain --help)"
    );
    if a.apply {
        require_root("dossier contain --apply")?;
        // Snapshot first. Collecting a fresh snapshot bundle of the host by itself is not
        // built yet (`snapshot::ensure`): until it is, --apply needs one taken before.
        anyhow::ensure!(
            a.snapshot.is_some(),
            "--apply needs --snapshot BUNDLE: a bundle of this machine collected in the last {} minutes (dossier collect); nothing was changed",
            a.snapshot_max_age
        );
    }
    Ok(ContainPlan {
        specs,
        apply: a.apply,
        snapshot: a.snapshot,
        snapshot_max_age_mins: a.snapshot_max_age,
        out: a.out,
        examiner: examiner(examiner_given),
        signer,
        places: places(&a.state_dir)?,
    })
}

/// Checks the flags of `dossier actions`.
pub fn plan_actions(a: ActionsArgs) -> anyhow::Result<ActionsPlan> {
    require_root("dossier actions (the records are root's)")?;
    Ok(ActionsPlan {
        places: places(&a.state_dir)?,
    })
}

/// Checks the flags of `dossier restore` (`examiner` and `signer` checked by the caller).
pub fn plan_restore(
    a: RestoreArgs,
    examiner_given: Option<String>,
    signer: Option<Arc<SigningKey>>,
) -> anyhow::Result<RestorePlan> {
    require_root("dossier restore")?;
    for id in &a.ids {
        anyhow::ensure!(
            valid_id(id),
            "{id:?} is not an action id (see dossier actions)"
        );
    }
    Ok(RestorePlan {
        which: if a.all {
            Selection::All
        } else {
            Selection::Ids(a.ids)
        },
        out: a.out,
        examiner: examiner(examiner_given),
        signer,
        places: places(&a.state_dir)?,
    })
}

/// Verifies the `--snapshot` bundle: intact, of this host, recent enough. Returns its name
/// and SHA-256 for the records.
fn check_snapshot(
    path: &std::path::Path,
    host: &str,
    max_age_mins: u64,
) -> anyhow::Result<Snapshot> {
    let v = reader::verify(path, &Limits::default());
    if !v.ok() {
        let p = &v.problems[0];
        anyhow::bail!(
            "--snapshot {}: does not verify ({}: {}); nothing was changed",
            path.display(),
            p.subject,
            p.message
        );
    }
    let (Some(m), Some(sha256)) = (v.manifest, v.sha256) else {
        anyhow::bail!(
            "--snapshot {}: no manifest or hash (encrypted?)",
            path.display()
        );
    };
    anyhow::ensure!(
        m.host.hostname == host,
        "--snapshot {}: a bundle of {:?}, not of this machine ({host:?}); nothing was changed",
        path.display(),
        m.host.hostname
    );
    let now = dossier_plugin_api::Timestamp::now().unix_seconds();
    let age_mins = (now - m.collection.finished.unix_seconds()) / 60;
    anyhow::ensure!(
        age_mins < i64::try_from(max_age_mins).unwrap_or(i64::MAX),
        "--snapshot {}: collected {age_mins} minutes ago, more than --snapshot-max-age {max_age_mins}; take a new one (nothing was changed)",
        path.display()
    );
    Ok(Snapshot {
        bundle: dossier_bundle::ledger::bundle_name(path),
        sha256,
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

/// `dossier contain`.
pub fn contain(p: ContainPlan) -> anyhow::Result<ExitCode> {
    let mut a = LocalActuator::new();
    // A change in place already is planned as recorded (the file it moved is gone, the cron
    // line it changed reads differently now), so the same plan is the same again.
    let in_place: Vec<Record> = match Store::new(&p.places).list(&mut a) {
        Ok(l) => l.records.into_iter().filter(engine::undoable).collect(),
        Err(_) if !p.apply => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut steps = Vec::new();
    for s in &p.specs {
        match in_place.iter().rfind(|r| spec::same_target(s, &r.step)) {
            Some(r) => steps.push(r.step.clone()),
            None => steps.push(spec::resolve(s, &mut a)?),
        }
    }
    let plan = Plan {
        host: a.host().to_string(),
        steps,
    };
    print_plan(&plan, &p.places, &in_place);
    if !p.apply {
        println!("nothing was changed (add --apply --snapshot BUNDLE, as root, to carry it out)");
        return Ok(ExitCode::SUCCESS);
    }
    let snapshot = match &p.snapshot {
        Some(b) => check_snapshot(b, &plan.host, p.snapshot_max_age_mins)?,
        None => anyhow::bail!("--apply needs --snapshot BUNDLE"),
    };
    dossier_bundle::fsio::ensure_out_dir(&p.out)?;
    let ctx = Context {
        places: p.places.clone(),
        examiner: p.examiner.clone(),
        snapshot: Some(snapshot.clone()),
    };
    let mut hooks = ledger::LedgerHooks {
        out: p.out.clone(),
        signer: p.signer.clone(),
        examiner: p.examiner.clone(),
    };
    println!("snapshot {} (sha256 {})", snapshot.bundle, snapshot.sha256);
    let outcomes = engine::apply(&plan, &mut a, &ctx, &mut hooks)?;
    let mut failed = false;
    for (i, o) in outcomes.iter().enumerate() {
        failed |= o.failed();
        println!("  {}. {}", i + 1, outcome_line(o, "applied"));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
    let reason = r
        .state
        .reason()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    format!(
        "{}  {:<14} {what}{reason}\n    {}",
        r.id,
        r.state.name(),
        times.join(", ")
    )
}

/// `dossier actions`.
pub fn actions(p: ActionsPlan) -> anyhow::Result<ExitCode> {
    let mut a = LocalActuator::new();
    let listing = Store::new(&p.places).list(&mut a)?;
    if listing.records.is_empty() {
        println!("no action records in {}", p.places.actions());
    }
    for r in &listing.records {
        println!("{}", record_line(r));
    }
    for problem in &listing.problems {
        eprintln!("dossier: warning: {}: {problem}", p.places.actions());
    }
    Ok(if listing.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `dossier restore`.
pub fn restore(p: RestorePlan) -> anyhow::Result<ExitCode> {
    let mut a = LocalActuator::new();
    dossier_bundle::fsio::ensure_out_dir(&p.out)?;
    let mut hooks = ledger::LedgerHooks {
        out: p.out.clone(),
        signer: p.signer.clone(),
        examiner: p.examiner.clone(),
    };
    let outcomes = engine::restore(&mut a, &p.places, &p.which, &p.examiner, &mut hooks)?;
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
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
