//! What a journal message says, for the messages an investigator needs: sshd logons and
//! failures, sudo, su, account changes, units started (the vocabulary is in the parent
//! module's documentation). Messages are recognized only from the program that writes them
//! (`SYSLOG_IDENTIFIER`, else `_COMM`), so that a line another program logs does not pass
//! for a logon.

use crate::{Event, Peer};

/// The catalog id of systemd's "unit started" message.
const UNIT_STARTED_ID: &str = "39f53479d3a045ac8e11786248231fbf";

/// Sets the action and what goes with it on `ev` from `message`, written by `identifier`;
/// `field` gives the entry's other fields.
pub(super) fn apply(
    ev: &mut Event,
    identifier: &str,
    message: &str,
    field: impl Fn(&str) -> Option<String>,
) {
    let message = message.trim();
    match identifier {
        id if id.starts_with("sshd") => sshd(ev, message),
        "sudo" => sudo(ev, message),
        "su" => su(ev, message),
        "useradd" | "usermod" | "userdel" | "groupadd" | "groupmod" | "groupdel" | "gpasswd"
        | "chage" => account(ev, message),
        "passwd" | "chpasswd" if message.contains("password changed for ") => account(ev, message),
        "systemd"
            if message.starts_with("Started ")
                || field("MESSAGE_ID").as_deref() == Some(UNIT_STARTED_ID) =>
        {
            started(ev, message, field);
        }
        _ => {}
    }
}

/// `USER from ADDR port P[ ...]` (or without the port): user, address, port. The user is
/// taken up to the last ` from ` before the address, so a name with spaces stays whole.
fn user_from(s: &str) -> Option<(&str, &str, Option<u16>)> {
    let (head, port) = match s.rfind(" port ") {
        Some(i) => (
            &s[..i],
            s[i + 6..]
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok()),
        ),
        None => (s.trim_end_matches(" [preauth]"), None),
    };
    let (user, addr) = head.rsplit_once(" from ")?;
    let addr = addr.split_whitespace().next()?;
    Some((user, addr, port))
}

fn logon(ev: &mut Event, action: &str, user: &str, addr: &str, port: Option<u16>) {
    let (user, invalid) = match user.strip_prefix("invalid user ") {
        Some(u) => (u, true),
        None => (user, false),
    };
    ev.action = action.into();
    ev.user = Some(user.to_string());
    ev.outcome = Some(
        if action == "logon_success" {
            "success"
        } else {
            "failure"
        }
        .into(),
    );
    ev.peer = Some(Peer {
        addr: Some(addr.to_string()),
        port,
        protocol: Some("tcp".into()),
    });
    if invalid {
        ev.fields.insert("invalid_user".into(), "yes".into());
    }
}

fn sshd(ev: &mut Event, m: &str) {
    for (prefix, action) in [("Accepted ", "logon_success"), ("Failed ", "logon_failed")] {
        if let Some(rest) = m.strip_prefix(prefix)
            && let Some((method, rest)) = rest.split_once(" for ")
            && !method.contains(' ')
            && let Some((user, addr, port)) = user_from(rest)
        {
            logon(ev, action, user, addr, port);
            ev.fields.insert("auth_method".into(), method.to_string());
            return;
        }
    }
    if let Some(rest) = m.strip_prefix("Invalid user ")
        && let Some((user, addr, port)) = user_from(rest)
    {
        logon(ev, "logon_failed", user, addr, port);
        ev.fields.insert("invalid_user".into(), "yes".into());
    }
}

/// `USER : [REASON ; ]TTY=pts/1 ; PWD=/home/u ; USER=root ; COMMAND=/usr/bin/id`.
fn sudo(ev: &mut Event, m: &str) {
    let Some((user, rest)) = m.split_once(" : ") else {
        return;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return;
    }
    // COMMAND comes last and may itself hold " ; ".
    let (pre, command) = match rest.find("COMMAND=") {
        Some(i) => (&rest[..i], Some(rest[i + 8..].to_string())),
        None => (rest, None),
    };
    let mut reason = None;
    let mut any = false;
    for part in pre.split(" ; ").map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k @ ("TTY" | "PWD" | "USER" | "GROUP"), v)) => {
                any = true;
                let key = match k {
                    "USER" => "target_user".to_string(),
                    "GROUP" => "target_group".to_string(),
                    _ => k.to_ascii_lowercase(),
                };
                ev.fields.insert(key, v.to_string());
            }
            Some(_) => {}
            None => reason = Some(part.trim_end_matches(';').trim().to_string()),
        }
    }
    if !any && command.is_none() {
        return;
    }
    ev.action = "sudo".into();
    ev.user = Some(user.to_string());
    ev.outcome = Some(
        if reason.is_some() {
            "failure"
        } else {
            "success"
        }
        .into(),
    );
    if let Some(r) = reason {
        ev.fields.insert("reason".into(), r);
    }
    if let Some(c) = command {
        ev.process.get_or_insert_with(Default::default).command_line = Some(c);
    }
}

/// `(to root) alice on pts/1`, `FAILED SU (to root) alice on pts/1`.
fn su(ev: &mut Event, m: &str) {
    let (failed, rest) = match m.strip_prefix("FAILED SU ") {
        Some(r) => (true, r),
        None => (false, m),
    };
    let Some(rest) = rest.strip_prefix("(to ") else {
        return;
    };
    let Some((target, rest)) = rest.split_once(") ") else {
        return;
    };
    let (user, tty) = match rest.rsplit_once(" on ") {
        Some((u, t)) => (u, Some(t)),
        None => (rest, None),
    };
    ev.action = "su".into();
    ev.user = Some(user.trim().to_string());
    ev.outcome = Some(if failed { "failure" } else { "success" }.into());
    ev.fields.insert("target_user".into(), target.to_string());
    if let Some(t) = tty {
        ev.fields.insert("tty".into(), t.trim().to_string());
    }
}

/// The account an account-management message is about: `name=X,` (useradd, groupadd),
/// the first quoted `'X'` (usermod, userdel, gpasswd), or `password changed for X`.
fn account(ev: &mut Event, m: &str) {
    let named = m
        .split_once("name=")
        .map(|(_, r)| r.split([',', ' ']).next().unwrap_or(r))
        .or_else(|| m.split('\'').nth(1))
        .or_else(|| {
            m.split_once("password changed for ")
                .and_then(|(_, r)| r.split_whitespace().next())
        })
        .filter(|n| !n.is_empty());
    ev.action = "account_change".into();
    ev.user = named.map(str::to_string);
    ev.fields.insert("change".into(), m.to_string());
}

/// systemd's `Started UNIT - Description.` (systemd 249 and later) or `Started
/// Description.`: the unit from the entry's `UNIT`/`USER_UNIT`, else from the message.
fn started(ev: &mut Event, m: &str, field: impl Fn(&str) -> Option<String>) {
    ev.action = "unit_started".into();
    let unit = field("UNIT").or_else(|| field("USER_UNIT")).or_else(|| {
        let rest = m.strip_prefix("Started ")?;
        let first = rest.split(" - ").next()?.trim_end_matches('.');
        (first.contains('.') && !first.contains(' ')).then(|| first.to_string())
    });
    if let Some(u) = unit {
        ev.fields.insert("unit".into(), u);
    }
}
