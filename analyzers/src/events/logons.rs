//! Logons: password guessing from one address (`event-brute-force`), guessing followed by a
//! successful logon from that address (`event-brute-force-success`), and logons from an
//! address new for the account (`event-logon-new-source`).
//!
//! A failure is sshd's `Failed ...`/`Invalid user` (journal), Defender's `LogonFailed`, or an
//! audit `USER_AUTH` record that failed with an address (one per password tried; `USER_LOGIN`
//! failures are not counted, they repeat the same attempt). A success is the journal's
//! `Accepted ...`, Defender's `LogonSuccess` or audit `USER_LOGIN` success, with a remote
//! address (local logons such as cron's have none). When both the journal and the audit log
//! of a host are given, each attempt is counted once by each. State is per host and address,
//! and per host and account, bounded.

use super::view::{Bounded, View, loopback, private_addr};
use super::{ArgExt, EvidenceEvent, Hit, MAX_EVIDENCE, say};
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};
use std::collections::VecDeque;

/// Failures from one address that make guessing: fail2ban's defaults ban at five failures
/// in ten minutes and sshd allows six tries per connection; a person mistyping makes one to
/// three. Twice fail2ban's point is beyond any fumbling.
const FAILURES: usize = 10;
/// The window the failures must fall in.
const WINDOW_MS: i64 = 10 * 60 * 1000;
/// A success this long after the last failure still counts as the guessing's outcome: an
/// attacker who found a password usually logs on at once; an hour leaves room for a tool
/// that hands its hits to a person.
const SUCCESS_WITHIN_MS: i64 = 60 * 60 * 1000;
/// Guessing sources reported one by one per host; the rest fold into one alert, so that an
/// internet-facing host's background of scanners stays a handful of alerts.
const MAX_SOURCES: usize = 20;
/// Addresses remembered per account (the first ones; a roaming account's later addresses
/// are judged against these).
const MAX_KNOWN: usize = 32;
/// Addresses and accounts tracked at once.
const CAP: usize = 8192;

#[derive(Default)]
struct Source {
    times: VecDeque<i64>,
    accounts: Vec<String>,
    evidence: Vec<EvidenceEvent>,
    total: u64,
    /// Time of the last failure of a window that reached [`FAILURES`].
    guessed: Option<i64>,
    first_time: Option<String>,
}

/// What the logon rules remember.
pub(crate) struct State {
    sources: Bounded<(String, String), Source>,
    known: Bounded<(String, String), Vec<String>>,
    /// Guessing sources alerted per host.
    alerted: Bounded<String, Vec<String>>,
}

impl Default for State {
    fn default() -> Self {
        State {
            sources: Bounded::new(CAP),
            known: Bounded::new(CAP),
            alerted: Bounded::new(CAP),
        }
    }
}

/// Whether the event is a failed or successful remote logon: `Some(true)` success.
fn logon(v: &View) -> Option<bool> {
    match v.action() {
        "logon_failed" | "LogonFailed" => Some(false),
        "logon_success" | "LogonSuccess" => Some(true),
        "USER_AUTH" if v.ev.outcome.as_deref() == Some("failure") => Some(false),
        "USER_LOGIN" if v.ev.outcome.as_deref() == Some("success") => Some(true),
        _ => None,
    }
}

/// The remote address, when there is one.
fn address<'a>(v: &View<'a>) -> Option<&'a str> {
    let a = v.ev.peer.as_ref()?.addr.as_deref()?;
    (!a.is_empty() && a != "?" && a != "-" && !loopback(a)).then_some(a)
}

/// The /24 (IPv4) or /64 (IPv6) an address is in.
fn prefix(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => addr.to_string(),
    }
}

pub(crate) fn check(v: &View, st: &mut State, out: &mut Vec<Hit>) {
    let Some(success) = logon(v) else { return };
    let Some(addr) = address(v) else { return };
    let Some(now) = v.ms() else { return };
    let account =
        v.ev.user
            .as_deref()
            .map_or_else(|| "an unknown account".into(), str::to_string);
    if success {
        guessed_then_success(v, st, addr, &account, now, out);
        new_source(v, st, addr, &account, out);
    } else {
        failure(v, st, addr, &account, now, out);
    }
}

fn failure(v: &View, st: &mut State, addr: &str, account: &str, now: i64, out: &mut Vec<Hit>) {
    let s = st
        .sources
        .entry((v.hk.to_string(), addr.to_string()), Source::default);
    s.total += 1;
    s.times.push_back(now);
    while s.times.front().is_some_and(|t| now - t > WINDOW_MS) {
        s.times.pop_front();
    }
    // More than the threshold need not be kept to know it was reached.
    while s.times.len() > FAILURES {
        s.times.pop_front();
    }
    if s.accounts.len() < 16 && !s.accounts.iter().any(|a| a == account) {
        s.accounts.push(account.to_string());
    }
    if s.first_time.is_none() {
        s.first_time = Some(v.ev.time.to_string());
    }
    let reached = s.times.len() >= FAILURES;
    let already = s.guessed.is_some();
    if reached {
        s.guessed = Some(now);
    }
    if !reached && !already {
        if s.evidence.len() < MAX_EVIDENCE - 1 {
            s.evidence.push(v.evidence(&[]));
        }
        return;
    }
    let accounts = s.accounts.clone();
    let (count, earlier, first) = if already {
        (1, Vec::new(), None)
    } else {
        (
            s.total,
            std::mem::take(&mut s.evidence),
            s.first_time.clone(),
        )
    };
    let alerted = st.alerted.entry(v.hk.to_string(), Vec::new);
    let subject = if alerted.iter().any(|a| a == addr) || alerted.len() < MAX_SOURCES {
        if !alerted.iter().any(|a| a == addr) {
            alerted.push(addr.to_string());
        }
        addr.to_string()
    } else {
        "further sources".to_string()
    };
    let spray = accounts.len() >= 3;
    let tried = if accounts.len() == 1 {
        "event-said.one-account"
    } else {
        "event-said.several-accounts"
    };
    let spray_arg = if spray {
        Arg::Message(Message::new("event-said.spray"))
    } else {
        Arg::Text(String::new())
    };
    let mut h = Hit::said(
        "event-brute-force",
        Severity::Medium,
        subject,
        say(
            "event-said.brute-force",
            &[
                ("addr", &addr),
                ("host", &v.ev.host),
                ("n", &FAILURES),
                ("accounts", &accounts.join(", ")),
            ],
        )
        .msg("tried", Message::new(tried))
        .arg("spray", spray_arg),
        say("event-risk.brute-force", &[("addr", &addr)]),
    )
    .iocs([Ioc::Address(addr.to_string())])
    .iocs(accounts.iter().map(|a| Ioc::Account(a.clone())));
    h.techniques = Some(if spray {
        vec!["T1110.001", "T1110.003"]
    } else {
        vec!["T1110.001"]
    });
    h.count = count;
    h.earlier = earlier;
    h.first_time = first;
    out.push(h);
}

fn guessed_then_success(
    v: &View,
    st: &mut State,
    addr: &str,
    account: &str,
    now: i64,
    out: &mut Vec<Hit>,
) {
    let Some(s) = st.sources.get(&(v.hk.to_string(), addr.to_string())) else {
        return;
    };
    let Some(last) = s.guessed else { return };
    if now < last || now - last > SUCCESS_WITHIN_MS {
        return;
    }
    let tried = s.accounts.join(", ");
    let failures = s.total;
    let first = s.first_time.clone();
    let by = match v.ev.fields.get("auth_method") {
        Some(m) => Arg::Message(Message::new("event-said.by-method").text("method", m)),
        None => Arg::Text(String::new()),
    };
    let mut h = Hit::said(
        "event-brute-force-success",
        Severity::High,
        addr,
        say(
            "event-said.brute-force-success",
            &[
                ("addr", &addr),
                ("failures", &failures),
                ("tried", &tried),
                ("n", &FAILURES),
                ("account", &account),
            ],
        )
        .arg("by", by),
        say(
            "event-risk.brute-force-success",
            &[("account", &account), ("addr", &addr)],
        ),
    )
    .iocs([
        Ioc::Address(addr.to_string()),
        Ioc::Account(account.to_string()),
    ]);
    h.first_time = first;
    h.count = failures + 1;
    out.push(h);
}

fn new_source(v: &View, st: &mut State, addr: &str, account: &str, out: &mut Vec<Hit>) {
    let known = st
        .known
        .entry((v.hk.to_string(), account.to_string()), Vec::new);
    if known.iter().any(|k| k == addr) {
        return;
    }
    let p = prefix(addr);
    let near = known.iter().any(|k| prefix(k) == p);
    let baseline = !known.is_empty();
    let all_private = known.iter().all(|k| private_addr(k));
    let previous: Vec<String> = known.iter().take(4).cloned().collect();
    if known.len() < MAX_KNOWN {
        known.push(addr.to_string());
    }
    if !baseline || near {
        return;
    }
    let public_jump = !private_addr(addr) && all_private;
    let severity = if public_jump || account == "root" {
        Severity::Medium
    } else {
        Severity::Low
    };
    out.push(
        Hit::said(
            "event-logon-new-source",
            severity,
            format!("{account} from {addr}"),
            say(
                "event-said.new-source",
                &[
                    ("account", &account),
                    ("host", &v.ev.host),
                    ("addr", &addr),
                    ("known", &previous.join(", ")),
                ],
            )
            .arg(
                "jump",
                if public_jump {
                    Arg::Message(Message::new("event-said.public-jump"))
                } else {
                    Arg::Text(String::new())
                },
            ),
            say("event-risk.new-source", &[("account", &account)]),
        )
        .iocs([
            Ioc::Address(addr.to_string()),
            Ioc::Account(account.to_string()),
        ]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(prefix("10.0.5.10"), "10.0.5.0/24");
        assert_eq!(prefix("2001:db8::17"), "2001:db8:0:0::/64");
    }
}
