//! Discovery bursts (`event-discovery-burst`): one parent process running many different
//! discovery commands within a few minutes — who am I, what system, network configuration,
//! connections, processes, accounts, privileges, setuid files, hardware.
//!
//! Kept per host and parent process (bounded): the last time each kind was seen, and the
//! first commands as evidence. Security agents and configuration management running such
//! commands from their install places go to `event-agent-inventory` (Info) one by one,
//! whatever their number.

use super::view::{Bounded, View, base};
use super::{ArgExt, EvidenceEvent, Hit, MAX_EVIDENCE, process_arg, say, who_arg};
use crate::rules::common::comma_list;
use dossier_plugin_api::analysis::{Arg, Message, Severity};

/// Window of a burst. An intruder's first look at a host (or a post-exploitation script's)
/// takes seconds to a couple of minutes; five minutes holds it with room to spare while an
/// administrator's occasional `ps` or `ss` over a session does not accumulate.
const WINDOW_MS: i64 = 5 * 60 * 1000;

/// Distinct kinds within the window that make a burst. Recon playbooks run most of the nine
/// kinds; a person troubleshooting looks at one to three (processes, connections, network
/// configuration) at a time. Five is more than troubleshooting and less than any playbook.
const THRESHOLD: usize = 5;

/// Parents tracked at once: a host rarely has more than a few hundred shells and scripts
/// alive; the oldest are forgotten first.
const PARENTS_CAP: usize = 4096;

/// Kinds of discovery, with what they learn and their technique.
const KINDS: [(&str, &str); 9] = [
    ("user", "T1033"),
    ("system", "T1082"),
    ("network configuration", "T1016"),
    ("connections", "T1049"),
    ("processes", "T1057"),
    ("accounts", "T1087.001"),
    ("privileges", "T1033"),
    ("setuid files", "T1083"),
    ("hardware", "T1082"),
];

/// The catalogue ids of the kinds' names, in the order of [`KINDS`] (their English is the
/// name).
const KIND_IDS: [&str; 9] = [
    "event-said.kind-user",
    "event-said.kind-system",
    "event-said.kind-network",
    "event-said.kind-connections",
    "event-said.kind-processes",
    "event-said.kind-accounts",
    "event-said.kind-privileges",
    "event-said.kind-setuid",
    "event-said.kind-hardware",
];

/// The discovery kind of a command line (index into [`KINDS`]).
pub(crate) fn kind(cmd: &str) -> Option<usize> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if words.first().is_some_and(|w| base(w) == "sudo")
        && matches!(words.get(1).copied(), Some("-l" | "-ll"))
    {
        return Some(6);
    }
    let mut i = 0;
    while i < words.len() && matches!(base(words[i]), "sudo" | "env" | "busybox" | "command") {
        i += 1;
    }
    let prog = base(words.get(i)?);
    let args = &words[i + 1..];
    let has = |a: &str| args.iter().any(|w| w.contains(a));
    Some(match prog {
        "id" | "whoami" | "groups" | "w" | "who" | "users" | "logname" | "last" => 0,
        "uname" | "hostname" | "hostnamectl" | "lsb_release" => 1,
        "cat" | "head" | "less" | "more"
            if has("/etc/os-release")
                || has("/etc/issue")
                || has("/proc/version")
                || has("/etc/lsb-release")
                || has("/etc/redhat-release") =>
        {
            1
        }
        "ifconfig" | "route" | "arp" | "iwconfig" => 2,
        "ip" if args.len() <= 3
            && !args
                .iter()
                .any(|a| matches!(*a, "set" | "add" | "del" | "flush" | "replace"))
            && args.first().is_some_and(|a| {
                matches!(
                    *a,
                    "a" | "addr"
                        | "address"
                        | "r"
                        | "route"
                        | "link"
                        | "l"
                        | "neigh"
                        | "n"
                        | "-br"
                        | "-4"
                        | "-6"
                )
            }) =>
        {
            2
        }
        "cat" if has("/etc/resolv.conf") || has("/etc/hosts") => 2,
        "netstat" | "ss" => 3,
        "lsof" if has("-i") => 3,
        "ps" | "pstree" | "pgrep" => 4,
        "top" if has("-b") => 4,
        "getent" if has("passwd") || has("group") || has("shadow") => 5,
        "cat" | "head" | "less" | "more" | "awk" | "cut" | "grep"
            if has("/etc/passwd") || has("/etc/group") =>
        {
            5
        }
        "lastlog" => 5,
        "find" if has("-perm") && (has("4000") || has("u=s") || has("u+s") || has("2000")) => 7,
        "lscpu" | "dmidecode" | "lspci" | "lsusb" | "nproc" | "lsblk" => 8,
        "cat" if has("/proc/cpuinfo") || has("/proc/meminfo") => 8,
        _ => return None,
    })
}

#[derive(Default)]
struct Burst {
    /// When each kind was last seen (ms), per [`KINDS`] index.
    seen: [Option<i64>; 9],
    evidence: Vec<EvidenceEvent>,
    events: u64,
    first_time: Option<String>,
    fired: bool,
}

/// Bursts per host and parent.
pub(crate) struct State {
    bursts: Bounded<(String, String), Burst>,
}

impl Default for State {
    fn default() -> Self {
        State {
            bursts: Bounded::new(PARENTS_CAP),
        }
    }
}

pub(crate) fn check(v: &View, st: &mut State, out: &mut Vec<Hit>) {
    if !v.is_exec() {
        return;
    }
    let Some(cmd) = v.run_command() else { return };
    let Some(k) = kind(cmd) else { return };
    if let Some(agent) = v.agent().or_else(|| v.config_management()).filter(|_| {
        v.lineage().all(|p| {
            p.exe
                .as_deref()
                .is_none_or(|e| crate::rules::common::unusual_location(e).is_none())
        })
    }) {
        out.push(
            Hit::said(
                "event-agent-inventory",
                Severity::Info,
                format!("{agent} discovery commands"),
                say(
                    "event-said.agent-discovery",
                    &[("agent", &agent), ("cmd", &cmd)],
                )
                .msg("kind", Message::new(KIND_IDS[k]))
                .arg("who", who_arg(v)),
                say("event-risk.agent-discovery", &[("agent", &agent)]),
            )
            .field("Discovery", KINDS[k].0),
        );
        return;
    }
    let Some(now) = v.ms() else { return };
    let parent = v.ancestors.first();
    let pkey = match parent.and_then(|p| p.pid) {
        Some(pid) => format!("pid {pid}"),
        None => match v.user() {
            Some(u) => format!("user {u}"),
            None => return,
        },
    };
    let label = parent.map(|p| p.label()).unwrap_or_else(|| pkey.clone());
    let b = st
        .bursts
        .entry((v.hk.to_string(), pkey.clone()), Burst::default);
    // A new window when every kind seen is older than the window.
    if b.seen.iter().flatten().all(|t| now - t > WINDOW_MS) {
        *b = Burst::default();
    }
    b.seen[k] = Some(now);
    b.events += 1;
    if b.first_time.is_none() {
        b.first_time = Some(v.ev.time.to_string());
    }
    let recent: Vec<usize> = (0..KINDS.len())
        .filter(|i| b.seen[*i].is_some_and(|t| (now - t).abs() <= WINDOW_MS))
        .collect();
    if b.fired {
        // Later commands of a burst fold into its alert.
        out.push(burst_hit(v, &label, &pkey, &recent, 1, None, Vec::new()));
        return;
    }
    if recent.len() < THRESHOLD {
        if b.evidence.len() < MAX_EVIDENCE - 1 {
            b.evidence
                .push(v.evidence(&[("Discovery".into(), KINDS[k].0.into())]));
        }
        return;
    }
    b.fired = true;
    let earlier = std::mem::take(&mut b.evidence);
    let count = b.events;
    let first = b.first_time.clone();
    out.push(burst_hit(v, &label, &pkey, &recent, count, first, earlier));
}

fn burst_hit(
    v: &View,
    label: &str,
    pkey: &str,
    kinds: &[usize],
    count: u64,
    first_time: Option<String>,
    earlier: Vec<EvidenceEvent>,
) -> Hit {
    let names: Vec<&str> = kinds.iter().map(|i| KINDS[*i].0).collect();
    let mut techniques: Vec<&'static str> = Vec::new();
    for i in kinds {
        if !techniques.contains(&KINDS[*i].1) {
            techniques.push(KINDS[*i].1);
        }
    }
    let odd_parent = v
        .ancestors
        .first()
        .and_then(|p| p.exe.as_deref())
        .and_then(crate::rules::common::unusual_location);
    let (severity, context) = if v.web_context() || odd_parent.is_some() || v.taint.is_some() {
        (Severity::High, "event-said.discovery-foothold")
    } else if v.interactive() {
        (Severity::Low, "event-said.discovery-terminal")
    } else {
        (Severity::Medium, "event-said.discovery-script")
    };
    // The parent's label (`sshd (pid 416601)`), else its key (`user alice`).
    let label_arg = match (v.ancestors.first(), v.user()) {
        (Some(p), _) => process_arg(p),
        (None, Some(u)) if pkey == format!("user {u}") => {
            Arg::Message(Message::new("event-said.user-key").text("user", u))
        }
        _ => Arg::Text(label.to_string()),
    };
    let explanation = say(
        "event-said.discovery",
        &[
            ("n", &kinds.len()),
            ("latest", &v.run_command().unwrap_or("")),
        ],
    )
    .arg("label", label_arg.clone())
    .arg("who", who_arg(v))
    .arg(
        "kinds",
        comma_list(kinds.iter().map(|i| Message::new(KIND_IDS[*i]))),
    )
    .msg("context", Message::new(context));
    let mut h = Hit::said(
        "event-discovery-burst",
        severity,
        format!("{pkey} ({label})"),
        explanation,
        Message::new("event-risk.discovery").arg("label", label_arg),
    )
    .techniques(techniques)
    .field("Discovery", names.join(", "));
    h.count = count;
    h.first_time = first_time;
    h.earlier = earlier;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_s_catalogue_name_is_its_english_name() {
        let en = dossier_i18n::catalog(dossier_i18n::Lang::En);
        for (id, (name, _)) in KIND_IDS.iter().zip(KINDS) {
            assert_eq!(en.get(id), Some(name));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("id"), Some(0));
        assert_eq!(kind("uname -a"), Some(1));
        assert_eq!(kind("ip a"), Some(2));
        assert_eq!(kind("ss -tlnp"), Some(3));
        assert_eq!(kind("/bin/ps -A -o comm,pid"), Some(4));
        assert_eq!(kind("cat /etc/passwd"), Some(5));
        assert_eq!(kind("sudo -l"), Some(6));
        assert_eq!(kind("find / -perm -4000 -type f"), Some(7));
        assert_eq!(kind("cat /var/log/syslog"), None);
        assert_eq!(kind("ip link set eth0 up"), None);
        assert_eq!(kind("ip route show"), Some(2));
        assert_eq!(kind("systemctl restart nginx"), None);
    }
}
