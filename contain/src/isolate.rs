//! Network isolation of a target with nftables ([`Step::Isolate`]): one table of dossier's own,
//! `inet dossier_isolate`, whose base chains (input, output, forward; priority -150, before
//! the usual filter tables) drop everything but loopback, IPv6 neighbour discovery on the
//! link, and the kept sessions: each kept peer's address (IPv4 or IPv6) to and from the
//! target's SSH port, with the ICMP errors related to connections that peer opened. Every
//! address is parsed as an [`IpAddr`] and printed back before it goes into the ruleset text,
//! which is loaded atomically with `nft -f -` (one transaction that replaces an earlier
//! dossier table, so applying twice leaves one table).
//!
//! A **dead-man rollback** is started on the target *before* the ruleset is loaded, so a
//! ruleset that cuts the responder's own session still removes itself: where systemd is PID
//! 1, a transient timer (`systemd-run --on-active=N --unit dossier-isolate-ID`) that runs
//! `nft delete table inet dossier_isolate`; elsewhere a detached sleeper (`setsid`, its own
//! session, standard streams on `/dev/null`, so the SSH channel closing does not end it) that
//! deletes the table after N seconds unless a confirmation file exists. Its PID and start time
//! are recorded. [`Action::confirm`], called over a fresh connection, cancels it (stops the
//! timer, or writes the confirmation file and ends the sleeper's process group after
//! checking its start time) and fails when the rollback already happened. [`Action::undo`]
//! cancels the timer and deletes the table.

use crate::action::{Action, ActionError, Peer, Step};
use crate::actuator::{Actuator, Output};
use crate::ops::{self, Kind, OP_TIMEOUT, OpError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// The table's family and name (`nft ... table inet dossier_isolate`).
pub const FAMILY: &str = "inet";
pub const TABLE: &str = "dossier_isolate";
/// Where `nft` is looked for on a target, in order.
pub const NFT_PATHS: &[&str] = &["/usr/sbin/nft", "/sbin/nft"];
/// The folder of the sleeper's confirmation files (root-only, emptied at boot).
pub const CONFIRM_DIR: &str = "/run/dossier";
/// Base chain priority: before `filter` (0) and after conntrack (-200).
const PRIORITY: i32 = -150;
/// Longest rollback delay a plan may ask for.
pub const MAX_ROLLBACK_SECS: u64 = 86_400;
const SETSID_PATHS: &[&str] = &["/usr/bin/setsid", "/bin/setsid"];
const SYSTEMD_RUN_PATHS: &[&str] = &["/usr/bin/systemd-run", "/bin/systemd-run"];
const SYSTEMCTL_PATHS: &[&str] = &["/usr/bin/systemctl", "/bin/systemctl"];

/// Starts the sleeper: `$1` setsid, `$2` seconds, `$3` confirmation file, `$4` nft. A fixed
/// script: every value is a positional argument. It prints the sleeper's PID (`setsid` does
/// not fork in a background job, so `$!` is the sleeper itself, leader of its own session).
const SLEEPER: &str = "\"$1\" /bin/sh -c 'sleep \"$1\"; [ -e \"$2\" ] || exec \"$3\" delete table inet dossier_isolate' \
                       dossier-isolate \"$2\" \"$3\" \"$4\" </dev/null >/dev/null 2>&1 & echo $!";
/// Ends the process group `$1` (the sleeper and its `sleep`).
const KILL_GROUP: &str = "kill -TERM \"-$1\"";

/// How the dead-man rollback is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerChoice {
    /// A systemd transient timer where systemd is PID 1, else the detached sleeper.
    Auto,
    /// Always the detached sleeper (for a target whose systemd runs in another network
    /// namespace than the one isolated, as in tests).
    Sleeper,
}

/// The isolation step (see the module documentation).
#[derive(Debug, Clone)]
pub struct Isolate {
    keep: Vec<Peer>,
    rollback_secs: u64,
    nft_paths: Vec<String>,
    timer: TimerChoice,
}

impl Isolate {
    /// Isolation keeping `keep`, rolled back after `rollback_secs` unless confirmed.
    pub fn new(keep: Vec<Peer>, rollback_secs: u64) -> Isolate {
        Isolate {
            keep,
            rollback_secs,
            nft_paths: NFT_PATHS.iter().map(|s| s.to_string()).collect(),
            timer: TimerChoice::Auto,
        }
    }

    /// The action of an [`Step::Isolate`] step (`None` for any other step).
    pub fn from_step(step: &Step) -> Option<Isolate> {
        match step {
            Step::Isolate {
                keep,
                rollback_secs,
            } => Some(Isolate::new(keep.clone(), *rollback_secs)),
            _ => None,
        }
    }

    /// Looks for `nft` at these absolute paths instead of [`NFT_PATHS`].
    pub fn with_nft_paths(mut self, paths: Vec<String>) -> Isolate {
        self.nft_paths = paths;
        self
    }

    /// Chooses how the rollback is timed.
    pub fn with_timer(mut self, timer: TimerChoice) -> Isolate {
        self.timer = timer;
        self
    }

    /// The kept peers, each address parsed (IPv4-mapped IPv6 as IPv4); refuses anything else.
    fn peers(&self) -> Result<Vec<(IpAddr, u16)>, ActionError> {
        self.keep.iter().map(parse_peer).collect()
    }

    /// Everything that can be refused without touching the target.
    fn validate(&self, a: &dyn Actuator) -> Result<Vec<(IpAddr, u16)>, ActionError> {
        let peers = self.peers()?;
        if self.rollback_secs == 0 || self.rollback_secs > MAX_ROLLBACK_SECS {
            return Err(ActionError::Refused(format!(
                "rollback after {} s: must be 1 to {MAX_ROLLBACK_SECS} s",
                self.rollback_secs
            )));
        }
        if peers.is_empty() && !a.is_local() {
            return Err(ActionError::Refused(format!(
                "isolating {} over a connection without keeping any peer would cut that \
                 connection: name the responder's address and SSH port",
                a.host()
            )));
        }
        Ok(peers)
    }

    /// The `nft` of the target, checked to work (`nft list tables`).
    fn nft(&self, a: &mut dyn Actuator) -> Result<String, ActionError> {
        let Some(nft) = find(a, self.nft_paths.iter().map(String::as_str))? else {
            return Err(ActionError::Unsupported(format!(
                "no nftables: no nft program at {} on {}",
                self.nft_paths.join(" or "),
                a.host()
            )));
        };
        let o = a
            .run(&[&nft, "list", "tables"], b"", OP_TIMEOUT)
            .map_err(OpError::from)?;
        if !o.success() {
            return Err(ActionError::Unsupported(format!(
                "no nftables: `{nft} list tables` fails on {}: {}",
                a.host(),
                o.reason()
            )));
        }
        Ok(nft)
    }

    /// The systemd tools where systemd is PID 1 and the choice allows them.
    fn systemd(&self, a: &mut dyn Actuator) -> Result<Option<(String, String)>, ActionError> {
        if self.timer == TimerChoice::Sleeper {
            return Ok(None);
        }
        let booted = ops::lstat(a, "/run/systemd/system")?.map(|m| m.kind) == Some(Kind::Directory);
        if !booted {
            return Ok(None);
        }
        let run = find(a, SYSTEMD_RUN_PATHS.iter().copied())?;
        let ctl = find(a, SYSTEMCTL_PATHS.iter().copied())?;
        Ok(run.zip(ctl))
    }
}

impl Isolate {
    /// Cancels a rollback timer whose record is lost (an apply interrupted after it started
    /// the timer): stops the unit named by `id`, and leaves the confirmation file of `id` so a
    /// sleeper of it does not fire (it goes at the next boot, with `/run`).
    fn cancel_unrecorded(&self, a: &mut dyn Actuator, id: &str) -> Result<(), ActionError> {
        check_id(id)?;
        if let Some((_, ctl)) = self.systemd(a)? {
            let timer = format!("{}.timer", unit_name(id));
            run(a, &[&ctl, "stop", "--", &timer], b"")?;
        }
        let dir = ops::lstat(a, CONFIRM_DIR)?.map(|m| m.kind);
        let file = confirm_file(id);
        if dir == Some(Kind::Directory) && ops::lstat(a, &file)?.is_none() {
            ops::write_new(a, &file, b"undone\n", 0o600)?;
        }
        Ok(())
    }
}

/// Parses a kept peer; the address must be an IP address (no names, no zone, no text).
pub fn parse_peer(p: &Peer) -> Result<(IpAddr, u16), ActionError> {
    let addr: IpAddr = p.addr.parse().map_err(|_| {
        ActionError::Refused(format!(
            "kept peer {:?} is not an IPv4 or IPv6 address",
            p.addr
        ))
    })?;
    if p.port == 0 {
        return Err(ActionError::Refused(format!(
            "kept peer {}: port 0",
            p.addr
        )));
    }
    Ok((addr.to_canonical(), p.port))
}

/// Refuses an action id that could not name a unit or a file as is.
fn check_id(id: &str) -> Result<(), ActionError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ActionError::Refused(format!(
            "action id {id:?}: only letters, digits, '.', '_' and '-' can name a timer"
        )))
    }
}

/// The first of `paths` that is a file (or a link to one) on the target.
fn find<'p>(
    a: &mut dyn Actuator,
    paths: impl Iterator<Item = &'p str>,
) -> Result<Option<String>, ActionError> {
    for p in paths {
        if let Some(m) = ops::lstat(a, p)? {
            if matches!(m.kind, Kind::Regular | Kind::Symlink) {
                return Ok(Some(p.to_string()));
            }
        }
    }
    Ok(None)
}

/// The ruleset loaded by `nft -f -`: creates the table if absent, deletes it and defines it
/// again, in one transaction.
pub fn ruleset(peers: &[(IpAddr, u16)]) -> String {
    let (mut input, mut output) = (String::new(), String::new());
    for (addr, port) in peers {
        let ip = match addr {
            IpAddr::V4(_) => "ip",
            IpAddr::V6(_) => "ip6",
        };
        input += &format!("\t\t{ip} saddr {addr} tcp dport {port} accept\n");
        input += &format!("\t\tct state related ct original {ip} saddr {addr} accept\n");
        output += &format!("\t\t{ip} daddr {addr} tcp sport {port} accept\n");
        output += &format!("\t\tct state related ct original {ip} saddr {addr} accept\n");
    }
    let nd = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, \
              nd-router-advert } ip6 hoplimit 255 accept";
    let hook = |h: &str| format!("\t\ttype filter hook {h} priority {PRIORITY}; policy drop;\n");
    format!(
        "table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\ntable {FAMILY} {TABLE} {{\n\
         \tchain input {{\n{}\t\tiif \"lo\" accept\n\t\t{nd}\n{input}\t}}\n\
         \tchain output {{\n{}\t\toif \"lo\" accept\n\t\t{nd}\n{output}\t}}\n\
         \tchain forward {{\n{}\t}}\n}}\n",
        hook("input"),
        hook("output"),
        hook("forward"),
    )
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(a: &mut dyn Actuator, argv: &[&str], stdin: &[u8]) -> Result<Output, ActionError> {
    Ok(a.run(argv, stdin, OP_TIMEOUT).map_err(OpError::from)?)
}

/// Whether the isolation table is there.
pub fn table_present(a: &mut dyn Actuator, nft: &str) -> Result<bool, ActionError> {
    let o = run(a, &[nft, "list", "table", FAMILY, TABLE], b"")?;
    if o.success() {
        return Ok(true);
    }
    if String::from_utf8_lossy(&o.stderr).contains("No such file or directory") {
        return Ok(false);
    }
    Err(ActionError::Failed(format!(
        "`nft list table {FAMILY} {TABLE}`: {}",
        o.reason()
    )))
}

/// Deletes the isolation table if it is there.
fn delete_table(a: &mut dyn Actuator, nft: &str) -> Result<(), ActionError> {
    if !table_present(a, nft)? {
        return Ok(());
    }
    let o = run(a, &[nft, "delete", "table", FAMILY, TABLE], b"")?;
    if !o.success() && table_present(a, nft)? {
        return Err(ActionError::Failed(format!(
            "`nft delete table {FAMILY} {TABLE}`: {}",
            o.reason()
        )));
    }
    Ok(())
}

/// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot) and field 6 (session
/// id); `None` when the process is gone (or a zombie: it has ended, no one reaped it yet).
pub fn process_start(a: &mut dyn Actuator, pid: u32) -> Result<Option<(u64, u32)>, ActionError> {
    let path = format!("/proc/{pid}/stat");
    if ops::lstat(a, &path)?.is_none() {
        return Ok(None);
    }
    let o = run(a, &["/bin/cat", "--", &path], b"")?;
    if !o.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: index 0 is field 3 (state), so field N is index N - 3.
    let start = fields.get(19).and_then(|s| s.parse().ok());
    let session = fields.get(3).and_then(|s| s.parse().ok());
    match (start, session) {
        _ if matches!(fields.first(), Some(&("Z" | "X" | "x"))) => Ok(None),
        (Some(t), Some(s)) => Ok(Some((t, s))),
        _ => Err(ActionError::Failed(format!(
            "{path}: unexpected contents {:?}",
            text.trim()
        ))),
    }
}

fn confirm_file(id: &str) -> String {
    format!("{CONFIRM_DIR}/isolate-{id}.confirmed")
}

fn unit_name(id: &str) -> String {
    format!("dossier-isolate-{id}")
}

/// Starts the detached sleeper; its record for the after JSON.
fn start_sleeper(
    a: &mut dyn Actuator,
    id: &str,
    secs: u64,
    nft: &str,
) -> Result<Value, ActionError> {
    let Some(setsid) = find(a, SETSID_PATHS.iter().copied())? else {
        return Err(ActionError::Unsupported(format!(
            "no setsid at {} on {} for the rollback timer",
            SETSID_PATHS.join(" or "),
            a.host()
        )));
    };
    ops::mkdir_private(a, CONFIRM_DIR)?;
    let confirm = confirm_file(id);
    // A confirmation left by an earlier apply of the same action must not cancel this one.
    let o = run(a, &["/bin/rm", "-f", "--", &confirm], b"")?;
    if !o.success() {
        return Err(ActionError::Failed(format!("rm {confirm}: {}", o.reason())));
    }
    let secs = secs.to_string();
    let argv = [
        "/bin/sh", "-c", SLEEPER, "sh", &setsid, &secs, &confirm, nft,
    ];
    let o = run(a, &argv, b"")?;
    let text = String::from_utf8_lossy(&o.stdout);
    let pid: u32 = match text.trim().parse() {
        Ok(p) if o.success() => p,
        _ => {
            return Err(ActionError::Failed(format!(
                "rollback timer not started: {}",
                o.reason()
            )));
        }
    };
    match process_start(a, pid)? {
        Some((start_time, session)) if session == pid => Ok(json!({
            "kind": "sleeper",
            "pid": pid,
            "start_time": start_time,
            "confirm_file": confirm,
        })),
        Some((_, session)) => Err(ActionError::Failed(format!(
            "rollback timer PID {pid} is in session {session}, not its own: not detached"
        ))),
        None => Err(ActionError::Failed(format!(
            "rollback timer PID {pid} ended at once"
        ))),
    }
}

/// Starts the systemd transient timer; its record for the after JSON.
fn start_unit(
    a: &mut dyn Actuator,
    id: &str,
    secs: u64,
    nft: &str,
    (systemd_run, systemctl): (&str, &str),
) -> Result<Value, ActionError> {
    let unit = unit_name(id);
    let (timer, service) = (format!("{unit}.timer"), format!("{unit}.service"));
    // An earlier apply of the same action: its timer is replaced (errors mean "not there").
    run(a, &[systemctl, "stop", "--", &timer, &service], b"")?;
    run(a, &[systemctl, "reset-failed", "--", &timer, &service], b"")?;
    let unit_arg = format!("--unit={unit}");
    let active = format!("--on-active={secs}s");
    let argv = [
        systemd_run,
        &unit_arg,
        &active,
        "--timer-property=AccuracySec=100ms",
        "--description=dossier isolation rollback",
        "--",
        nft,
        "delete",
        "table",
        FAMILY,
        TABLE,
    ];
    let o = run(a, &argv, b"")?;
    if !o.success() {
        return Err(ActionError::Failed(format!(
            "rollback timer not started: {}",
            o.reason()
        )));
    }
    Ok(json!({ "kind": "systemd", "unit": timer, "systemctl": systemctl }))
}

/// Cancels the rollback recorded in `timer`; says what it did.
fn cancel_timer(a: &mut dyn Actuator, timer: &Value) -> Result<String, ActionError> {
    let bad = || ActionError::Failed(format!("unreadable rollback timer record: {timer}"));
    match timer.get("kind").and_then(Value::as_str) {
        Some("systemd") => {
            let unit = timer["unit"].as_str().ok_or_else(bad)?;
            let ctl = timer["systemctl"].as_str().ok_or_else(bad)?;
            if !SYSTEMCTL_PATHS.contains(&ctl) || !unit.starts_with("dossier-isolate-") {
                return Err(bad());
            }
            let o = run(a, &[ctl, "stop", "--", unit], b"")?;
            if o.success() {
                return Ok(format!("stopped {unit}"));
            }
            // A timer that already fired is gone (transient units are not kept).
            let state = run(a, &[ctl, "is-active", "--", unit], b"")?;
            if String::from_utf8_lossy(&state.stdout).trim() == "active" {
                return Err(ActionError::Failed(format!("stop {unit}: {}", o.reason())));
            }
            Ok(format!("{unit} had already ended"))
        }
        Some("sleeper") => {
            let pid = timer["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
            let start = timer["start_time"].as_u64();
            let file = timer["confirm_file"].as_str().ok_or_else(bad)?;
            let (Some(pid), Some(start)) = (pid, start) else {
                return Err(bad());
            };
            if !file.starts_with(CONFIRM_DIR) || file.contains("..") {
                return Err(bad());
            }
            // The file first: even a sleeper that cannot be ended then leaves the table.
            if ops::lstat(a, file)?.is_none() {
                ops::write_new(a, file, b"confirmed\n", 0o600)?;
            }
            match process_start(a, pid)? {
                Some((t, _)) if t == start => {
                    let p = pid.to_string();
                    let o = run(a, &["/bin/sh", "-c", KILL_GROUP, "sh", &p], b"")?;
                    if !o.success() && process_start(a, pid)?.is_some_and(|(t, _)| t == start) {
                        return Err(ActionError::Failed(format!(
                            "rollback sleeper {pid} not ended: {}",
                            o.reason()
                        )));
                    }
                    Ok(format!("wrote {file} and ended sleeper {pid}"))
                }
                _ => Ok(format!("wrote {file}; sleeper {pid} had already ended")),
            }
        }
        _ => Err(bad()),
    }
}

impl Action for Isolate {
    fn describe(&self) -> String {
        let keep: Vec<String> = self
            .keep
            .iter()
            .map(|p| format!("{} to port {}", p.addr, p.port))
            .collect();
        let keep = if keep.is_empty() {
            "nothing but loopback".to_string()
        } else {
            format!("loopback and {}", keep.join(", "))
        };
        format!(
            "isolate: nftables table {FAMILY} {TABLE} drops all traffic but {keep}; removed \
             after {} s unless confirmed over a fresh connection",
            self.rollback_secs
        )
    }

    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        self.validate(a)?;
        let nft = self.nft(a)?;
        let o = run(a, &[&nft, "list", "ruleset"], b"")?;
        if !o.success() {
            return Err(ActionError::Failed(format!(
                "`nft list ruleset`: {}",
                o.reason()
            )));
        }
        let tables = run(a, &[&nft, "list", "tables"], b"")?;
        let tables: Vec<String> = String::from_utf8_lossy(&tables.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let timer = if self.systemd(a)?.is_some() {
            "systemd"
        } else {
            "sleeper"
        };
        Ok(json!({
            "nft": nft,
            "ruleset_sha256": sha256_hex(&o.stdout),
            "tables": tables,
            "table_present": table_present(a, &nft)?,
            "timer": timer,
        }))
    }

    fn apply(&self, a: &mut dyn Actuator, id: &str, _before: &Value) -> Result<Value, ActionError> {
        let peers = self.validate(a)?;
        check_id(id)?;
        let nft = self.nft(a)?;
        let text = ruleset(&peers);
        let applied_at = chrono::Utc::now();
        // The rollback first: a ruleset that cuts this very connection still goes away.
        let timer = match self.systemd(a)? {
            Some((r, c)) => start_unit(a, id, self.rollback_secs, &nft, (&r, &c))?,
            None => start_sleeper(a, id, self.rollback_secs, &nft)?,
        };
        let o = run(a, &[&nft, "-f", "-"], text.as_bytes())?;
        if !o.success() {
            let cancelled = cancel_timer(a, &timer)
                .unwrap_or_else(|e| format!("the rollback timer could not be cancelled: {e}"));
            return Err(ActionError::Failed(format!(
                "`nft -f -` did not load the ruleset ({}); nothing loaded; {cancelled}",
                o.reason()
            )));
        }
        if !table_present(a, &nft)? {
            return Err(ActionError::Failed(format!(
                "table {FAMILY} {TABLE} missing right after `nft -f -` succeeded"
            )));
        }
        let secs = i64::try_from(self.rollback_secs).unwrap_or(i64::MAX);
        let keep: Vec<Value> = peers
            .iter()
            .map(|(ip, port)| json!({ "addr": ip.to_string(), "port": port }))
            .collect();
        Ok(json!({
            "table": format!("{FAMILY} {TABLE}"),
            "nft": nft,
            "ruleset": text,
            "ruleset_sha256": sha256_hex(text.as_bytes()),
            "keep": keep,
            "rollback_secs": self.rollback_secs,
            "applied_at": applied_at.to_rfc3339(),
            "rollback_at": (applied_at + chrono::Duration::seconds(secs)).to_rfc3339(),
            "timer": timer,
        }))
    }

    fn undo(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        _before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        let nft = self.nft(a)?;
        if after["timer"].is_null() {
            // An apply interrupted before its record was written.
            self.cancel_unrecorded(a, id)?;
        } else {
            cancel_timer(a, &after["timer"])?;
            if let Some(file) = after["timer"]["confirm_file"].as_str() {
                if file.starts_with(CONFIRM_DIR) && !file.contains("..") {
                    run(a, &["/bin/rm", "-f", "--", file], b"")?;
                }
            }
        }
        delete_table(a, &nft)?;
        if table_present(a, &nft)? {
            return Err(ActionError::Failed(format!(
                "table {FAMILY} {TABLE} still there after it was deleted"
            )));
        }
        Ok(())
    }

    fn needs_confirmation(&self) -> bool {
        true
    }

    fn confirm(&self, a: &mut dyn Actuator, _id: &str, after: &Value) -> Result<(), ActionError> {
        let nft = self.nft(a)?;
        let done = cancel_timer(a, &after["timer"])?;
        if !table_present(a, &nft)? {
            return Err(ActionError::Failed(format!(
                "the rollback already removed table {FAMILY} {TABLE} ({done}): the host is not \
                 isolated; apply again and confirm within {} s",
                self.rollback_secs
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::{ActError, LocalActuator};
    use std::time::Duration;

    /// Counts the commands it is asked to run and runs them locally.
    struct Counting(usize, LocalActuator);

    impl Actuator for Counting {
        fn host(&self) -> &str {
            "counting"
        }
        fn is_local(&self) -> bool {
            false
        }
        fn run(&mut self, argv: &[&str], stdin: &[u8], t: Duration) -> Result<Output, ActError> {
            self.0 += 1;
            self.1.run(argv, stdin, t)
        }
    }

    fn peer(addr: &str, port: u16) -> Peer {
        Peer {
            addr: addr.into(),
            port,
        }
    }

    #[test]
    fn the_ruleset_keeps_loopback_and_each_peer_both_ways_in_one_transaction() {
        let peers = [
            parse_peer(&peer("192.0.2.7", 22)).unwrap(),
            parse_peer(&peer("2001:db8::7", 2222)).unwrap(),
            parse_peer(&peer("::ffff:198.51.100.1", 22)).unwrap(),
        ];
        let text = ruleset(&peers);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            &lines[..3],
            [
                "table inet dossier_isolate",
                "delete table inet dossier_isolate",
                "table inet dossier_isolate {"
            ]
        );
        for want in [
            "type filter hook input priority -150; policy drop;",
            "type filter hook output priority -150; policy drop;",
            "type filter hook forward priority -150; policy drop;",
            "iif \"lo\" accept",
            "oif \"lo\" accept",
            "ip saddr 192.0.2.7 tcp dport 22 accept",
            "ip daddr 192.0.2.7 tcp sport 22 accept",
            "ip6 saddr 2001:db8::7 tcp dport 2222 accept",
            "ip6 daddr 2001:db8::7 tcp sport 2222 accept",
            // An IPv4-mapped address is the IPv4 address the kernel sees.
            "ip saddr 198.51.100.1 tcp dport 22 accept",
        ] {
            assert!(lines.contains(&want), "{want:?} missing from\n{text}");
        }
        assert!(!text.contains("ct state established"), "{text}");
    }

    #[test]
    fn an_invalid_peer_is_refused_before_anything_runs() {
        for bad in [
            "10.0.0.1; flush ruleset",
            "host.example",
            "fe80::1%eth0",
            "10.0.0.1 tcp dport 1-65535 accept",
            "",
        ] {
            let step = Step::Isolate {
                keep: vec![peer(bad, 22)],
                rollback_secs: 30,
            };
            let iso = Isolate::from_step(&step).unwrap();
            let mut a = Counting(0, LocalActuator::new());
            assert!(
                matches!(iso.check(&mut a), Err(ActionError::Refused(_))),
                "{bad}"
            );
            let r = iso.apply(&mut a, "id-1", &Value::Null);
            assert!(matches!(r, Err(ActionError::Refused(ref m)) if m.contains("not an IPv4")));
            assert_eq!(a.0, 0, "{bad}: ran a command");
        }
        let iso = Isolate::new(vec![peer("10.0.0.1", 0)], 30);
        assert!(matches!(
            iso.check(&mut Counting(0, LocalActuator::new())),
            Err(ActionError::Refused(_))
        ));
        // No rollback, or none kept over a connection that isolation would cut.
        let mut a = Counting(0, LocalActuator::new());
        let r = Isolate::new(vec![peer("10.0.0.1", 22)], 0).check(&mut a);
        assert!(matches!(r, Err(ActionError::Refused(_))));
        let r = Isolate::new(vec![], 30).check(&mut a);
        assert!(matches!(r, Err(ActionError::Refused(ref m)) if m.contains("cut")));
        let r = Isolate::new(vec![peer("10.0.0.1", 22)], 30).apply(&mut a, "../x", &Value::Null);
        assert!(matches!(r, Err(ActionError::Refused(ref m)) if m.contains("action id")));
        assert_eq!(a.0, 0, "ran a command");
        assert!(
            Isolate::from_step(&Step::Quarantine {
                path: "/x".into(),
                sha256: String::new()
            })
            .is_none()
        );
    }

    #[test]
    fn a_host_without_nft_is_unsupported_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nft").to_str().unwrap().to_string();
        let iso =
            Isolate::new(vec![peer("10.0.0.1", 22)], 30).with_nft_paths(vec![missing.clone()]);
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        for r in [
            iso.check(a).map(|_| ()),
            iso.apply(a, "id-1", &Value::Null).map(|_| ()),
            iso.undo(a, "id-1", &Value::Null, &Value::Null),
        ] {
            match r {
                Err(ActionError::Unsupported(m)) => {
                    assert!(m.starts_with("no nftables: no nft program at"), "{m}");
                    assert!(m.contains(&missing), "{m}");
                }
                other => panic!("not refused as unsupported: {other:?}"),
            }
        }
        // An nft that is there but does not work (here: a link to `false`).
        let fake = d.path().join("nft-broken");
        std::os::unix::fs::symlink("/bin/false", &fake).unwrap();
        let iso = iso.with_nft_paths(vec![fake.to_str().unwrap().into()]);
        match iso.check(a) {
            Err(ActionError::Unsupported(m)) => {
                assert!(m.contains("list tables` fails"), "{m}");
                assert!(m.contains("exit status 1"), "{m}");
            }
            other => panic!("not refused as unsupported: {other:?}"),
        }
        assert!(iso.needs_confirmation());
        assert!(iso.describe().contains("10.0.0.1 to port 22"));
    }

    /// A target with systemd as PID 1 and a working nft, simulated; records every argv.
    #[derive(Default)]
    struct FakeSystemd {
        log: Vec<Vec<String>>,
        table: bool,
    }

    impl Actuator for FakeSystemd {
        fn host(&self) -> &str {
            "fake"
        }
        fn is_local(&self) -> bool {
            false
        }
        fn run(&mut self, argv: &[&str], _: &[u8], _: Duration) -> Result<Output, ActError> {
            self.log.push(argv.iter().map(|s| s.to_string()).collect());
            let out = |status: i32, stdout: &str, stderr: &str| Output {
                status: Some(status),
                stdout: stdout.into(),
                stderr: stderr.into(),
            };
            let none = out(1, "", "stat: cannot statx: No such file or directory");
            Ok(match argv {
                ["/usr/bin/stat", "-c", _, "--", p] => match *p {
                    "/run/systemd/system" => out(0, "41ed 0 0 40 1.0 1.0 13 2", ""),
                    "/usr/sbin/nft" | "/usr/bin/systemd-run" | "/usr/bin/systemctl" => {
                        out(0, "81ed 0 0 9 1.0 1.0 803 3", "")
                    }
                    _ => none,
                },
                ["/usr/sbin/nft", "-f", "-"] => {
                    self.table = true;
                    out(0, "", "")
                }
                ["/usr/sbin/nft", "list", "table", ..] if !self.table => {
                    out(1, "", "Error: No such file or directory")
                }
                ["/usr/sbin/nft", "delete", "table", ..] => {
                    self.table = false;
                    out(0, "", "")
                }
                _ => out(0, "", ""),
            })
        }
    }

    fn position(log: &[Vec<String>], argv: &[&str]) -> usize {
        log.iter()
            .position(|l| l == argv)
            .unwrap_or_else(|| panic!("{argv:?} never ran: {log:#?}"))
    }

    #[test]
    fn under_systemd_a_transient_timer_is_started_before_the_ruleset_and_stopped_to_confirm() {
        let iso = Isolate::new(vec![peer("192.0.2.7", 22)], 30);
        let mut a = FakeSystemd::default();
        let before = iso.check(&mut a).unwrap();
        assert_eq!(before["timer"], "systemd");
        let after = iso.apply(&mut a, "act-1", &before).unwrap();
        assert_eq!(after["timer"]["unit"], "dossier-isolate-act-1.timer");
        let timer = position(
            &a.log,
            &[
                "/usr/bin/systemd-run",
                "--unit=dossier-isolate-act-1",
                "--on-active=30s",
                "--timer-property=AccuracySec=100ms",
                "--description=dossier isolation rollback",
                "--",
                "/usr/sbin/nft",
                "delete",
                "table",
                "inet",
                "dossier_isolate",
            ],
        );
        let load = position(&a.log, &["/usr/sbin/nft", "-f", "-"]);
        assert!(
            timer < load,
            "the ruleset was loaded before the rollback timer started"
        );
        a.log.clear();
        iso.confirm(&mut a, "act-1", &after).unwrap();
        let stop = [
            "/usr/bin/systemctl",
            "stop",
            "--",
            "dossier-isolate-act-1.timer",
        ];
        position(&a.log, &stop);
        // Undo without the after record (an interrupted apply): the timer of the id is
        // stopped and the table deleted.
        a.log.clear();
        iso.undo(&mut a, "act-1", &before, &Value::Null).unwrap();
        let delete = [
            "/usr/sbin/nft",
            "delete",
            "table",
            "inet",
            "dossier_isolate",
        ];
        assert!(position(&a.log, &stop) < position(&a.log, &delete));
        assert!(!a.table);
        let sleeper = iso.with_timer(TimerChoice::Sleeper);
        assert_eq!(sleeper.check(&mut a).unwrap()["timer"], "sleeper");
    }
}
