//! `neutralize unit` ([`Step::NeutralizeUnit`](crate::Step)): a systemd unit (service,
//! timer, path or socket), permanently or at runtime.
//!
//! **Permanent** (`runtime: false`, the seed's `--neutralize`). Check: `systemctl show` (load
//! state, fragment, drop-ins, enablement, active state, `Triggers`/`TriggeredBy`) and a scan
//! of the enablement links (symlinks named after the unit or pointing at it, two levels under
//! `/etc/systemd/system`, `/usr/local/lib/systemd/system`, `/usr/lib/systemd/system`,
//! `/lib/systemd/system`); the fragment and the unit's own drop-ins (`UNIT.d/*.conf`) with
//! SHA-256 and metadata. Drop-ins shared with other units (`service.d/`, `foo-.service.d/`)
//! are listed but left alone. Apply: `systemctl stop`, remove the links (each recorded with
//! its target), move fragment and drop-ins into `<quarantine>/<id>/` (mode 000; a rename on
//! the same filesystem, else copy + SHA-256 check + remove, recorded as such), `daemon-reload`,
//! then `systemctl mask`. Masking comes last on purpose: a unit whose file is in
//! `/etc/systemd/system` cannot be masked while the file is there (the mask is a `/dev/null`
//! link at that same path); once the file is in quarantine the mask works, and it keeps a
//! `.timer`, `.path` or `.socket` that triggers the unit from starting it again (those trigger
//! units are in the record and have their own plan steps). A mask that still fails is
//! recorded (`mask_note`); the unit is stopped and its files are gone either way. Undo:
//! refuse when a path to put back is occupied (the mask link excepted) or a quarantined file
//! changed; unmask, move the files back (hash, owner, mode and times verified), recreate the
//! links, `daemon-reload`, start the unit when it was active.
//!
//! **Runtime** (`runtime: true`, the seed's `--strict --neutralize`: block at once without
//! altering the scene): `systemctl stop` and `systemctl mask --runtime` (a `/dev/null` link
//! under `/run/systemd/system`, dropped at reboot); no file is read or changed under `/etc`,
//! `/var` or the binary's folder. A runtime mask is weaker than a unit file in
//! `/etc/systemd/system` (systemd/systemd#10583): when the unit is not `masked` afterwards,
//! a `/dev/null` link in `/run/systemd/transient` (which ranks above `/etc`) plus
//! `daemon-reload` blocks it, still only under `/run`. Undo: `systemctl unmask --runtime` (or
//! remove the transient link), `daemon-reload`, start it when it was active.
//!
//! Without systemd as PID 1 (no `/run/systemd/system`) both are refused as unsupported: the
//! equivalent there is to suspend the process.

use crate::action::{Action, ActionError};
use crate::actuator::{Actuator, Output};
use crate::keep::{self, FileRec, How, QUARANTINE_DIR};
use crate::ops::{self, Kind};
use serde_json::Value;
use std::time::Duration;

/// Where `systemctl` may be (the first that exists is used).
pub const SYSTEMCTL: &[&str] = &["/bin/systemctl", "/usr/bin/systemctl"];

/// Folders scanned for enablement links (two levels: aliases and `*.wants`, `*.requires`,
/// `*.upholds`).
pub const LINK_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Unit types this action handles.
pub const UNIT_TYPES: &[&str] = &["service", "timer", "path", "socket"];

const PROPS: &str =
    "LoadState,FragmentPath,DropInPaths,UnitFileState,ActiveState,Triggers,TriggeredBy";

/// Time limit of one `systemctl` call (`stop` waits for the unit's stop timeout).
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(150);

/// Where things are on the target. Everything but the defaults is for tests: `root` prefixes
/// the folders dossier looks at itself (`/run/systemd/...`, the link folders), `systemctl`
/// replaces the program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitPlaces {
    /// Prefix of the scanned folders (empty on a real target).
    pub root: String,
    /// `systemctl` to run instead of the first of [`SYSTEMCTL`] that exists.
    pub systemctl: Option<String>,
    /// Quarantine folder (empty: [`QUARANTINE_DIR`]).
    pub quarantine: String,
}

/// The neutralization of one unit.
#[derive(Debug, Clone)]
pub struct NeutralizeUnit {
    unit: String,
    runtime: bool,
    places: UnitPlaces,
}

/// What `systemctl show` said.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Shown {
    load_state: String,
    fragment_path: String,
    drop_in_paths: Vec<String>,
    unit_file_state: String,
    active_state: String,
    triggers: Vec<String>,
    triggered_by: Vec<String>,
}

fn parse_show(text: &str) -> Shown {
    let mut s = Shown::default();
    let list = |v: &str| v.split_whitespace().map(String::from).collect();
    for l in text.lines() {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        match k {
            "LoadState" => s.load_state = v.into(),
            "FragmentPath" => s.fragment_path = v.into(),
            "DropInPaths" => s.drop_in_paths = list(v),
            "UnitFileState" => s.unit_file_state = v.into(),
            "ActiveState" => s.active_state = v.into(),
            "Triggers" => s.triggers = list(v),
            "TriggeredBy" => s.triggered_by = list(v),
            _ => {}
        }
    }
    s
}

/// A symlink: where it is and what it points to (as written).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Link {
    path: String,
    target: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Before {
    unit: String,
    runtime: bool,
    systemctl: String,
    shown: Shown,
    /// The unit file (permanent only; `None` when masked or a symlink, then in `links`).
    fragment: Option<FileRec>,
    /// The unit's own drop-ins (`UNIT.d/*.conf`).
    drop_ins: Vec<FileRec>,
    /// Drop-ins that also apply to other units: left alone.
    shared_drop_ins: Vec<String>,
    /// Enablement and alias links to the unit.
    links: Vec<Link>,
}

/// How the unit was masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mask {
    /// `systemctl mask` (a link in `/etc/systemd/system`).
    Etc,
    /// `systemctl mask --runtime` (a link in `/run/systemd/system`).
    Runtime,
    /// `mask --runtime` was shadowed: also a link in `/run/systemd/transient`.
    Transient,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Moved {
    from: Option<FileRec>,
    to: String,
    how: Option<How>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct After {
    stopped: bool,
    removed_links: Vec<Link>,
    moved: Vec<Moved>,
    daemon_reloaded: bool,
    mask: Option<Mask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mask_note: Option<String>,
}

impl After {
    fn nothing_done(&self) -> bool {
        !self.stopped && self.removed_links.is_empty() && self.moved.is_empty()
    }
}

fn valid_unit(unit: &str) -> Result<(), ActionError> {
    let chars_ok = unit
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":-_.@\\".contains(&b));
    let typed = unit
        .rsplit_once('.')
        .is_some_and(|(n, t)| !n.is_empty() && UNIT_TYPES.contains(&t));
    if chars_ok && typed && !unit.starts_with('.') && unit.len() <= 255 {
        Ok(())
    } else {
        Err(ActionError::Refused(format!(
            "{unit:?} is not a unit name of type {}",
            UNIT_TYPES.join(", ")
        )))
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<Value, ActionError> {
    serde_json::to_value(v).map_err(|e| ActionError::Failed(e.to_string()))
}

fn record<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, ActionError> {
    serde_json::from_value(v.clone())
        .map_err(|e| ActionError::Failed(format!("unreadable unit record: {e}")))
}

fn was_active(b: &Before) -> bool {
    matches!(
        b.shown.active_state.as_str(),
        "active" | "activating" | "reloading" | "deactivating"
    )
}

/// What a symlink at `path` points to; `None` when `path` is not a symlink.
fn readlink(a: &mut dyn Actuator, path: &str) -> Result<Option<String>, ActionError> {
    match ops::lstat(a, path)? {
        Some(m) if m.kind == Kind::Symlink => {}
        _ => return Ok(None),
    }
    let o = ops::run_ok(
        a,
        "readlink",
        path,
        &["/usr/bin/find", path, "-maxdepth", "0", "-printf", "%l"],
        b"",
    )?;
    Ok(Some(String::from_utf8_lossy(&o.stdout).into_owned()))
}

impl NeutralizeUnit {
    /// The step for `unit` on a real target.
    pub fn new(unit: &str, runtime: bool) -> NeutralizeUnit {
        NeutralizeUnit::with_places(unit, runtime, UnitPlaces::default())
    }

    /// The same with other places (tests).
    pub fn with_places(unit: &str, runtime: bool, places: UnitPlaces) -> NeutralizeUnit {
        NeutralizeUnit {
            unit: unit.into(),
            runtime,
            places,
        }
    }

    fn quarantine(&self) -> &str {
        if self.places.quarantine.is_empty() {
            QUARANTINE_DIR
        } else {
            &self.places.quarantine
        }
    }

    fn at_root(&self, path: &str) -> String {
        format!("{}{path}", self.places.root)
    }

    /// Refuses (unsupported) unless systemd runs as PID 1.
    fn require_systemd(&self, a: &mut dyn Actuator) -> Result<(), ActionError> {
        let run = self.at_root("/run/systemd/system");
        if matches!(ops::lstat(a, &run)?, Some(m) if m.kind == Kind::Directory) {
            return Ok(());
        }
        let comm = ops::read(a, "/proc/1/comm", 256)
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"));
        Err(ActionError::Unsupported(format!(
            "no systemd as PID 1: PID 1 is {comm:?} and {run} is absent; the equivalent \
             is to suspend the process (Suspend) — do that"
        )))
    }

    fn find_systemctl(&self, a: &mut dyn Actuator) -> Result<String, ActionError> {
        if let Some(s) = &self.places.systemctl {
            return Ok(s.clone());
        }
        for p in SYSTEMCTL {
            if matches!(ops::lstat(a, p)?, Some(m) if m.kind != Kind::Directory) {
                return Ok((*p).into());
            }
        }
        Err(ActionError::Unsupported(format!(
            "no systemctl at {}",
            SYSTEMCTL.join(" or ")
        )))
    }

    /// Runs `systemctl ARGS`; fails with its reason unless it exits 0.
    fn systemctl(
        &self,
        a: &mut dyn Actuator,
        sc: &str,
        args: &[&str],
    ) -> Result<Output, ActionError> {
        let mut argv = vec![sc];
        argv.extend_from_slice(args);
        let o = a
            .run(&argv, b"", SYSTEMCTL_TIMEOUT)
            .map_err(ops::OpError::from)?;
        if !o.success() {
            return Err(ActionError::Failed(format!(
                "systemctl {}: {}",
                args.join(" "),
                o.reason()
            )));
        }
        Ok(o)
    }

    fn show(&self, a: &mut dyn Actuator, sc: &str) -> Result<Shown, ActionError> {
        let o = self.systemctl(a, sc, &["show", "-p", PROPS, "--", &self.unit])?;
        Ok(parse_show(&String::from_utf8_lossy(&o.stdout)))
    }

    /// Symlinks named after the unit or pointing at it (or at `fragment`), masks excepted.
    fn scan_links(&self, a: &mut dyn Actuator, fragment: &str) -> Result<Vec<Link>, ActionError> {
        let mut out = Vec::new();
        for dir in LINK_DIRS {
            let d = self.at_root(dir);
            if !matches!(ops::lstat(a, &d)?, Some(m) if m.kind == Kind::Directory) {
                continue; // absent, or `/lib` as a link to `usr/lib` (scanned there)
            }
            let o = ops::run_ok(
                a,
                "scan",
                &d,
                &[
                    "/usr/bin/find",
                    &d,
                    "-mindepth",
                    "1",
                    "-maxdepth",
                    "2",
                    "-type",
                    "l",
                    "-printf",
                    "%p\\0%l\\0",
                ],
                b"",
            )?;
            let parts: Vec<&[u8]> = o.stdout.split(|b| *b == 0).collect();
            for pair in parts.chunks_exact(2) {
                let path = String::from_utf8_lossy(pair[0]).into_owned();
                let target = String::from_utf8_lossy(pair[1]).into_owned();
                let ours = keep::base(&path) == self.unit
                    || keep::base(&target) == self.unit
                    || (!fragment.is_empty() && target == fragment);
                if ours && target != "/dev/null" && path != fragment {
                    out.push(Link { path, target });
                }
            }
        }
        out.sort_by(|x, y| x.path.cmp(&y.path));
        out.dedup();
        Ok(out)
    }

    /// The permanent part of the check: files and links.
    fn check_files(&self, a: &mut dyn Actuator, b: &mut Before) -> Result<(), ActionError> {
        let fp = b.shown.fragment_path.clone();
        if !fp.is_empty() && fp != "/dev/null" {
            match ops::lstat(a, &fp)? {
                Some(m) if m.kind == Kind::Regular => b.fragment = Some(FileRec::read(a, &fp)?),
                Some(m) if m.kind == Kind::Symlink => {
                    let target = readlink(a, &fp)?.unwrap_or_default();
                    b.links.push(Link {
                        path: fp.clone(),
                        target,
                    });
                }
                other => {
                    return Err(ActionError::Refused(format!(
                        "unit file {fp} is {other:?}, not a regular file or link"
                    )));
                }
            }
        }
        let own_dir = format!("{}.d", self.unit);
        for p in b.shown.drop_in_paths.clone() {
            if keep::base(keep::parent(&p)) == own_dir {
                b.drop_ins.push(FileRec::read(a, &p)?);
            } else {
                b.shared_drop_ins.push(p);
            }
        }
        let found = self.scan_links(a, &fp)?;
        for l in found {
            if !b.links.contains(&l) {
                b.links.push(l);
            }
        }
        Ok(())
    }

    fn apply_permanent(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        b: &Before,
        af: &mut After,
    ) -> Result<(), ActionError> {
        let sc = b.systemctl.as_str();
        let files: Vec<&FileRec> = b.fragment.iter().chain(&b.drop_ins).collect();
        for f in &files {
            let now = ops::sha256(a, &f.path)?;
            if now != f.sha256 {
                return Err(ActionError::Refused(format!(
                    "{} changed since the plan (SHA-256 {now}, planned {})",
                    f.path, f.sha256
                )));
            }
        }
        for l in &b.links {
            if readlink(a, &l.path)?.as_deref() != Some(l.target.as_str()) {
                return Err(ActionError::Refused(format!(
                    "{} no longer points to {} as planned",
                    l.path, l.target
                )));
            }
        }
        self.systemctl(a, sc, &["stop", "--", &self.unit])?;
        af.stopped = true;
        for l in &b.links {
            ops::run_ok(a, "remove", &l.path, &["/bin/rm", "-f", "--", &l.path], b"")?;
            af.removed_links.push(l.clone());
        }
        let qdir = format!("{}/{id}", self.quarantine());
        ops::mkdir_private(a, &qdir)?;
        for (n, f) in files.iter().enumerate() {
            let to = format!("{qdir}/unit-{n}-{}", keep::base(&f.path));
            let how = keep::move_out(a, f, &to)?;
            af.moved.push(Moved {
                from: Some((*f).clone()),
                to,
                how: Some(how),
            });
        }
        self.systemctl(a, sc, &["daemon-reload"])?;
        af.daemon_reloaded = true;
        if b.shown.load_state != "masked" {
            match self.systemctl(a, sc, &["mask", "--", &self.unit]) {
                Ok(_) => af.mask = Some(Mask::Etc),
                Err(e) => af.mask_note = Some(format!("not masked: {e}")),
            }
        }
        Ok(())
    }

    fn apply_runtime(
        &self,
        a: &mut dyn Actuator,
        b: &Before,
        af: &mut After,
    ) -> Result<(), ActionError> {
        let sc = b.systemctl.as_str();
        self.systemctl(a, sc, &["stop", "--", &self.unit])?;
        af.stopped = true;
        if b.shown.load_state == "masked" {
            af.mask_note = Some("already masked".into());
            return Ok(());
        }
        self.systemctl(a, sc, &["mask", "--runtime", "--", &self.unit])?;
        af.mask = Some(Mask::Runtime);
        if self.show(a, sc)?.load_state == "masked" {
            return Ok(());
        }
        // Shadowed by a unit file that ranks above /run/systemd/system (one in /etc).
        let dir = self.at_root("/run/systemd/transient");
        let link = format!("{dir}/{}", self.unit);
        if ops::lstat(a, &link)?.is_some() {
            return Err(ActionError::Failed(format!(
                "stopped, runtime mask shadowed, and {link} is occupied: not blocked"
            )));
        }
        ops::run_ok(a, "mkdir", &dir, &["/bin/mkdir", "-p", "--", &dir], b"")?;
        ops::run_ok(
            a,
            "link",
            &link,
            &["/bin/ln", "-s", "-T", "--", "/dev/null", &link],
            b"",
        )?;
        af.mask = Some(Mask::Transient);
        self.systemctl(a, sc, &["daemon-reload"])?;
        af.daemon_reloaded = true;
        let state = self.show(a, sc)?.load_state;
        if state != "masked" {
            return Err(ActionError::Failed(format!(
                "stopped, but still {state} after a runtime and a transient mask"
            )));
        }
        af.mask_note = Some(format!(
            "mask --runtime is shadowed by the unit file (it ranks above /run/systemd/system): \
             masked by {link}"
        ));
        Ok(())
    }

    /// Refuses unless every path undo would fill is free (or already as recorded) and every
    /// quarantined file is intact.
    fn preflight(&self, a: &mut dyn Actuator, af: &After) -> Result<(), ActionError> {
        let mask_link = self.at_root(&format!("/etc/systemd/system/{}", self.unit));
        let mut busy = Vec::new();
        for m in &af.moved {
            let Some(rec) = &m.from else { continue };
            let masked_here = af.mask == Some(Mask::Etc) && rec.path == mask_link;
            match ops::lstat(a, &rec.path)? {
                None => {}
                Some(_)
                    if masked_here && readlink(a, &rec.path)?.as_deref() == Some("/dev/null") => {}
                Some(_) => busy.push(rec.path.clone()),
            }
            keep::check_kept(a, rec, &m.to)?;
        }
        for l in &af.removed_links {
            if ops::lstat(a, &l.path)?.is_some()
                && readlink(a, &l.path)?.as_deref() != Some(l.target.as_str())
            {
                busy.push(l.path.clone());
            }
        }
        if busy.is_empty() {
            Ok(())
        } else {
            Err(ActionError::Refused(format!(
                "occupied since the neutralization, nothing overwritten: {}",
                busy.join(", ")
            )))
        }
    }

    fn undo_permanent(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        b: &Before,
        af: &After,
    ) -> Result<(), ActionError> {
        let sc = b.systemctl.as_str();
        self.preflight(a, af)?;
        if af.mask == Some(Mask::Etc) {
            self.systemctl(a, sc, &["unmask", "--", &self.unit])?;
        }
        for m in &af.moved {
            if let Some(rec) = &m.from {
                keep::move_back(a, rec, &m.to)?;
            }
        }
        for l in &af.removed_links {
            if ops::lstat(a, &l.path)?.is_some() {
                continue; // already there, pointing where it did (preflight)
            }
            let dir = keep::parent(&l.path);
            ops::run_ok(a, "mkdir", dir, &["/bin/mkdir", "-p", "--", dir], b"")?;
            ops::run_ok(
                a,
                "link",
                &l.path,
                &["/bin/ln", "-s", "-T", "--", &l.target, &l.path],
                b"",
            )?;
        }
        self.systemctl(a, sc, &["daemon-reload"])?;
        if was_active(b) && af.stopped {
            self.systemctl(a, sc, &["start", "--", &self.unit])?;
        }
        let qdir = format!("{}/{id}", self.quarantine());
        let _ = a.run(&["/bin/rmdir", "--", &qdir], b"", ops::OP_TIMEOUT);
        Ok(())
    }

    fn undo_runtime(
        &self,
        a: &mut dyn Actuator,
        b: &Before,
        af: &After,
    ) -> Result<(), ActionError> {
        let sc = b.systemctl.as_str();
        if af.mask == Some(Mask::Transient) {
            let link = self.at_root(&format!("/run/systemd/transient/{}", self.unit));
            if readlink(a, &link)?.as_deref() == Some("/dev/null") {
                ops::run_ok(a, "remove", &link, &["/bin/rm", "-f", "--", &link], b"")?;
            }
        }
        if af.mask.is_some() {
            let run_link = self.at_root(&format!("/run/systemd/system/{}", self.unit));
            if self
                .systemctl(a, sc, &["unmask", "--runtime", "--", &self.unit])
                .is_err()
                && readlink(a, &run_link)?.as_deref() == Some("/dev/null")
            {
                // systemd 239 refused `unmask --runtime`: the link is dossier's own.
                ops::run_ok(
                    a,
                    "remove",
                    &run_link,
                    &["/bin/rm", "-f", "--", &run_link],
                    b"",
                )?;
            }
        }
        self.systemctl(a, sc, &["daemon-reload"])?;
        if was_active(b) && af.stopped {
            self.systemctl(a, sc, &["start", "--", &self.unit])?;
        }
        Ok(())
    }
}

impl Action for NeutralizeUnit {
    fn describe(&self) -> String {
        if self.runtime {
            format!(
                "neutralize unit {} at runtime: systemctl stop, then systemctl mask --runtime \
                 (a /dev/null link under /run that a reboot drops); nothing under /etc, /var or \
                 the binary's folder changes",
                self.unit
            )
        } else {
            format!(
                "neutralize unit {}: systemctl stop, remove its enablement links, move its unit \
                 file and own drop-ins into {}/<id>/ (mode 000), daemon-reload, systemctl mask \
                 (a .timer/.path/.socket triggering it cannot start it then; the record lists them)",
                self.unit,
                self.quarantine()
            )
        }
    }

    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        valid_unit(&self.unit)?;
        if !self.runtime && self.unit.contains('@') && !self.unit.contains("@.") {
            return Err(ActionError::Refused(format!(
                "{} is an instance of a template shared with other instances: neutralize it \
                 at runtime, or plan the template",
                self.unit
            )));
        }
        self.require_systemd(a)?;
        let systemctl = self.find_systemctl(a)?;
        let shown = self.show(a, &systemctl)?;
        if shown.load_state == "not-found" || shown.load_state.is_empty() {
            return Err(ActionError::Refused(format!(
                "unit {} not found (LoadState={})",
                self.unit, shown.load_state
            )));
        }
        let mut b = Before {
            unit: self.unit.clone(),
            runtime: self.runtime,
            systemctl,
            shown,
            fragment: None,
            drop_ins: Vec::new(),
            shared_drop_ins: Vec::new(),
            links: Vec::new(),
        };
        if !self.runtime {
            self.check_files(a, &mut b)?;
        }
        json(&b)
    }

    fn apply(&self, a: &mut dyn Actuator, id: &str, before: &Value) -> Result<Value, ActionError> {
        keep::check_id(id)?;
        let b: Before = record(before)?;
        if b.unit != self.unit || b.runtime != self.runtime {
            return Err(ActionError::Failed(format!(
                "the record is of {} (runtime {}), not of this step",
                b.unit, b.runtime
            )));
        }
        let mut af = After::default();
        let r = if self.runtime {
            self.apply_runtime(a, &b, &mut af)
        } else {
            self.apply_permanent(a, id, &b, &mut af)
        };
        match r {
            Ok(()) => json(&af),
            Err(e) if af.nothing_done() => Err(e),
            Err(e) => Err(ActionError::Failed(format!(
                "{e}; done before that: {}",
                json(&af).map(|v| v.to_string()).unwrap_or_default()
            ))),
        }
    }

    fn undo(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        keep::check_id(id)?;
        let b: Before = record(before)?;
        let af: After = record(after)?;
        if self.runtime {
            self.undo_runtime(a, &b, &af)
        } else {
            self.undo_permanent(a, id, &b, &af)
        }
    }
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;
