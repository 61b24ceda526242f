//! What the event rules know of programs and places, apart from the events: packaged and
//! agent locations, package managers, configuration management and build tools (routine
//! actors, recognised by name *and* location), service accounts, addresses, URLs and the
//! unusual paths a command names; and the text helpers the rule families share.

use super::*;

/// `defender-csv DeviceEvents`, `audit SYSCALL`, `journal sshd`.
pub(crate) fn source_label(ev: &EventRef<'_>) -> String {
    let f = match ev.source.format {
        Format::DefenderCsv => "defender-csv",
        Format::DefenderJson => "defender-json",
        Format::Audit => "audit",
        Format::Journal => "journal",
    };
    match &ev.source.table {
        Some(t) => format!("{f} {t}"),
        None => f.to_string(),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub(crate) fn millis(t: &str) -> Option<i64> {
    dossier_plugin_api::time::Timestamp::parse(t).map(|ts| ts.datetime().timestamp_millis())
}

/// A value cut to [`MAX_FIELD`] characters (on a character boundary), `…` marking the cut.
pub(crate) fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `dir` joined with a relative `path` (`.` and `..` resolved).
pub(crate) fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether a path is where distribution packages install: under /usr (not /usr/local), or
/// /bin, /sbin, /lib (merged into /usr).
pub(crate) fn packaged(path: &str) -> bool {
    let c = canonical(path);
    c.starts_with("/usr/") && !c.starts_with("/usr/local/")
}

/// Install directories of security and monitoring agents, and the agent's name.
const AGENT_DIRS: &[(&str, &str)] = &[
    ("/opt/microsoft/mdatp/", "Microsoft Defender for Endpoint"),
    (
        "/var/opt/microsoft/mdatp/",
        "Microsoft Defender for Endpoint",
    ),
    ("/opt/microsoft/", "Microsoft monitoring agent"),
    ("/var/ossec/", "Wazuh agent"),
    ("/usr/share/wazuh-indexer/", "Wazuh indexer"),
    ("/usr/share/wazuh-manager/", "Wazuh manager"),
    ("/opt/osquery/", "osquery"),
    ("/opt/CrowdStrike/", "CrowdStrike Falcon"),
    ("/opt/sentinelone/", "SentinelOne"),
    ("/opt/qualys/", "Qualys Cloud Agent"),
    ("/usr/local/qualys/", "Qualys Cloud Agent"),
    ("/opt/nessus_agent/", "Tenable Nessus Agent"),
    ("/opt/rapid7/", "Rapid7 Insight Agent"),
    ("/opt/Tanium/", "Tanium Client"),
    ("/opt/datadog-agent/", "Datadog Agent"),
    ("/opt/splunkforwarder/", "Splunk Universal Forwarder"),
    ("/opt/Elastic/", "Elastic Agent"),
    ("/opt/traps/", "Cortex XDR"),
    ("/opt/carbonblack/", "Carbon Black"),
];

/// The agent whose install directory holds `path`.
pub(crate) fn agent_dir(path: &str) -> Option<&'static str> {
    AGENT_DIRS
        .iter()
        .find(|(d, _)| path.starts_with(d))
        .map(|(_, n)| *n)
}

/// The script an interpreter runs (`python3 /opt/x/y.py --flag` → `/opt/x/y.py`), or a
/// program's own path when the command starts with one.
pub(crate) fn script_path(cmd: &str) -> Option<&str> {
    let mut words = cmd
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''));
    let first = words.next()?;
    if crate::rules::common::is_interpreter(base(first)) {
        words
            .find(|w| !w.starts_with('-'))
            .filter(|w| w.starts_with('/'))
    } else {
        first.starts_with('/').then_some(first)
    }
}

/// The agent a process belongs to: its executable, or the script it runs (with an
/// interpreter from a packaged place), in an agent's install directory.
pub(crate) fn agent_of(p: &ProcInfo) -> Option<&'static str> {
    if let Some(a) = p.exe.as_deref().and_then(agent_dir) {
        return Some(a);
    }
    let exe_ok = p.exe.as_deref().is_none_or(packaged);
    p.cmd
        .as_deref()
        .and_then(script_path)
        .filter(|_| exe_ok)
        .and_then(agent_dir)
}

const PACKAGE_MANAGERS: &[&str] = &[
    "dpkg",
    "apt",
    "apt-get",
    "aptitude",
    "unattended-upgrade",
    "unattended-upgr",
    "rpm",
    "yum",
    "dnf",
    "dnf-automatic",
    "microdnf",
    "zypper",
    "packagekitd",
    "snapd",
    "dpkg-preconfigure",
    "debconf",
];

/// A package manager at a packaged path, or a package's maintainer script (Debian's
/// /var/lib/dpkg/info, rpm's scriptlets).
pub(crate) fn is_package_manager(p: &ProcInfo) -> bool {
    let packaged_exe = p.exe.as_deref().is_some_and(packaged);
    if packaged_exe && PACKAGE_MANAGERS.contains(&p.base()) {
        return true;
    }
    p.cmd
        .as_deref()
        .is_some_and(|c| c.contains("/var/lib/dpkg/info/") || c.contains("/var/tmp/rpm-tmp."))
        && p.exe.as_deref().is_none_or(packaged)
}

/// Configuration management: ansible's module payloads (AnsiballZ in ~/.ansible/tmp, run by
/// a packaged interpreter), puppet, chef, salt and cloud-init from their install places.
pub(crate) fn config_management(p: &ProcInfo) -> Option<&'static str> {
    let exe = p.exe.as_deref().unwrap_or("");
    if let Some(c) = p.cmd.as_deref()
        && c.contains("/.ansible/tmp/ansible-tmp-")
        && c.contains("AnsiballZ_")
        && (exe.is_empty() || packaged(exe))
    {
        return Some("ansible");
    }
    for (d, n) in [
        ("/opt/puppetlabs/", "puppet"),
        ("/opt/chef/", "chef"),
        ("/opt/cinc/", "chef"),
        ("/opt/saltstack/", "salt"),
    ] {
        if exe.starts_with(d) {
            return Some(n);
        }
    }
    if packaged(exe) {
        match p.base() {
            "salt-minion" | "salt-call" => return Some("salt"),
            "cloud-init" => return Some("cloud-init"),
            "google_guest_agent" | "amazon-ssm-agent" => return Some("the cloud guest agent"),
            _ => {}
        }
        // Python services run as `python3 /usr/sbin/waagent ...`, `python3 /usr/bin/cloud-init`.
        if let Some(s) = p
            .cmd
            .as_deref()
            .and_then(script_path)
            .filter(|s| packaged(s))
        {
            match base(s) {
                "waagent" => return Some("the Azure guest agent"),
                "cloud-init" => return Some("cloud-init"),
                "salt-minion" | "salt-call" => return Some("salt"),
                _ => {}
            }
        }
    }
    None
}

const BUILD_TOOLS: &[&str] = &[
    "make",
    "gmake",
    "cargo",
    "rustc",
    "cc",
    "gcc",
    "g++",
    "c++",
    "clang",
    "clang++",
    "ld",
    "ld.lld",
    "ld.gold",
    "ld.bfd",
    "collect2",
    "cc1",
    "cc1plus",
    "go",
    "ninja",
    "cmake",
    "ctest",
    "meson",
    "bazel",
    "mvn",
    "gradle",
    "javac",
    "npm",
    "yarn",
    "pytest",
    "tox",
    "gitlab-runner",
    "Runner.Worker",
];

/// A build tool whose executable is where toolchains install (not an unusual place).
pub(crate) fn is_build_tool(p: &ProcInfo) -> bool {
    // The name as started (`cc`) or the resolved executable (`x86_64-linux-gnu-gcc-12`).
    (BUILD_TOOLS.contains(&p.base()) || p.name.as_deref().is_some_and(|n| BUILD_TOOLS.contains(&n)))
        && p.exe
            .as_deref()
            .is_some_and(|e| e.starts_with('/') && unusual_location(e).is_none())
}

/// Programs that serve web requests: what they start is what a web visitor made them start.
pub(crate) fn is_web_server(name: &str) -> bool {
    name.starts_with("php-fpm")
        || name.starts_with("php-cgi")
        || matches!(
            name,
            "httpd" | "apache2" | "nginx" | "lighttpd" | "caddy" | "uwsgi" | "gunicorn"
        )
}

/// Accounts services run as: no person logs on with them.
pub(crate) fn service_account(user: &str) -> bool {
    matches!(
        user,
        "www-data" | "apache" | "nginx" | "http" | "wwwrun" | "nobody" | "daemon" | "tomcat"
    )
}

/// Whether an address is loopback, private (RFC 1918, ULA, CGNAT) or link-local.
pub(crate) fn private_addr(addr: &str) -> bool {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

pub(crate) fn loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback())
        || addr == "localhost"
}

/// Hosts named by URLs in a command (`http://203.0.113.45/x.sh` → `203.0.113.45`).
pub(crate) fn url_hosts(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://", "ftp://", "tftp://"] {
        let mut rest = cmd;
        while let Some(i) = rest.find(scheme) {
            let after = &rest[i + scheme.len()..];
            let end = after
                .find(['/', ' ', '"', '\'', '?', '|', ';', ')'])
                .unwrap_or(after.len());
            let hostport = &after[..end];
            let host = hostport
                .rsplit_once('@')
                .map_or(hostport, |(_, h)| h)
                .split(':')
                .next()
                .unwrap_or("");
            if !host.is_empty() && !out.iter().any(|h| h == host) {
                out.push(host.to_string());
            }
            rest = &after[end..];
        }
    }
    out
}

/// The first URL in a command.
pub(crate) fn first_url(cmd: &str) -> Option<&str> {
    let i = ["http://", "https://", "ftp://", "tftp://"]
        .iter()
        .filter_map(|s| cmd.find(s))
        .min()?;
    let rest = &cmd[i..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '|' | ';' | ')'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Absolute paths in unusual places that a command names (programs, files it writes, lines
/// it writes into a file), the `skip` path excepted.
pub(crate) fn unusual_paths(cmd: &str, skip: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for w in cmd.split(|c: char| c.is_whitespace() || "'\";|&()`<>=,\\".contains(c)) {
        let w = w.trim_end_matches(['.', ':']);
        if !w.starts_with('/') || w.len() < 3 || Some(w) == skip || w.starts_with("/dev/null") {
            continue;
        }
        if matches!(w, "/dev/tcp" | "/dev/udp") || w.starts_with("/dev/tcp/") {
            continue;
        }
        if let Some(why) = unusual_location(w)
            && !out.iter().any(|(p, _)| p == w)
        {
            out.push((w.to_string(), why));
        }
        if out.len() >= MAX_EVIDENCE {
            break;
        }
    }
    out
}

/// Whether `text` contains any of `needles`: a cheap test before a rule's parsing, with the
/// words the parsing can possibly act on.
pub(crate) fn mentions(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

/// Whether an address is a literal IP (not a DNS name).
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}
