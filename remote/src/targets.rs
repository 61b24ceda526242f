//! Sweep targets: what `dossier sweep` connects to.
//!
//! A target is written `host`, `host:port`, `user@host`, `user@host:port`, an IPv4 address, an
//! IPv6 address (bare `fd00::1`, or `[fd00::1]` / `[fd00::1]:2222` in brackets), or a network in
//! CIDR notation (`10.0.0.0/24`, `user@10.0.0.0/24`, `10.0.0.0/24:2222`, `fd00::/120`,
//! `[fd00::]/120:2222`). [`parse_target`] parses one; [`parse_hosts_file`] parses a `--hosts`
//! file, which is either a plain list (one target a line, `#` comments) or an Ansible INI
//! inventory (groups, `:vars`, `:children`, host ranges, `ansible_host`/`ansible_port`/
//! `ansible_user`).
//!
//! Everything here is validated strictly, because a target ends up in a connection and in
//! file names: host names are RFC 1123 names or IP literals, users are POSIX-style names, ports
//! are 1-65535, and nothing that starts with `-`, contains white space, control characters or
//! shell metacharacters is accepted, so a target can never smuggle an option (such as
//! `-oProxyCommand=...`) into anything. Nothing in this module resolves names or opens a
//! socket.
//!
//! A network is limited to [`MAX_ADDRESSES`] addresses (a /16 for IPv4, a /112 for IPv6): a
//! responder sweeps subnets, not the internet. The same limit caps how many hosts one
//! inventory range (`web[0001:9999]`) or one hosts file may produce.

use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

/// Largest network (in addresses) a target may name, and the most hosts one inventory range or
/// one hosts file may produce.
pub const MAX_ADDRESSES: u64 = 65_536;

/// Longest target accepted, in bytes.
pub const MAX_TARGET_LEN: usize = 512;

/// Longest line accepted in a hosts file, in bytes.
pub const MAX_LINE_LEN: usize = 8192;

/// Largest hosts file [`load_hosts_file`] reads, in bytes.
pub const MAX_HOSTS_FILE: u64 = 16 << 20;

/// Longest user name accepted.
const MAX_USER_LEN: usize = 32;

/// How much of a hostile input an error message repeats.
const MAX_SHOWN: usize = 80;

/// One host to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target as written: the command-line argument, or the inventory host name (after
    /// range expansion) in a hosts file, or the address for a host of an expanded network.
    pub spec: String,
    /// What to connect to: a lower-case host name, or an IP address in canonical form (IPv6
    /// without brackets). For an inventory host this is `ansible_host` when set.
    pub host: String,
    /// Login user, when the target (or the inventory) names one.
    pub user: Option<String>,
    /// SSH port, when the target (or the inventory) names one.
    pub port: Option<u16>,
    /// Where the target was read: `hosts.ini:12`; `None` for the command line.
    pub origin: Option<String>,
    /// Inventory groups the host is listed in directly (sorted; `ungrouped` left out).
    pub groups: Vec<String>,
}

/// A parsed target: one host, or a network to expand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    Host(Target),
    /// A network in CIDR notation, host bits cleared (`10.0.0.5/24` becomes `10.0.0.0/24`).
    Network {
        net: IpNet,
        user: Option<String>,
        port: Option<u16>,
    },
}

/// An inventory entry that is deliberately not swept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The inventory host name.
    pub name: String,
    /// `hosts.ini:12`.
    pub origin: String,
    /// Why, e.g. "ansible_connection=local: not an SSH target".
    pub reason: String,
}

/// What a hosts file lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostsFile {
    /// Targets in file order, each host once (see [`dedup`]).
    pub targets: Vec<TargetSpec>,
    /// Entries that are not SSH targets (`ansible_connection=local`, `winrm`, ...).
    pub skipped: Vec<SkippedEntry>,
}

/// A target or hosts file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `target` is already quoted, escaped and shortened for display.
    #[error("invalid target {target}: {reason}")]
    Invalid { target: String, reason: String },
    #[error(
        "network {net} has {} addresses; the limit is {limit} per network (a /16 for IPv4, a /112 for IPv6): sweep subnets, not the internet",
        count_text(*host_bits)
    )]
    TooLarge {
        net: String,
        host_bits: u32,
        limit: u64,
    },
    /// An error in one line of a hosts file.
    #[error("{file}:{line}: {error}")]
    Line {
        file: String,
        line: usize,
        error: Box<TargetError>,
    },
    /// A syntax or inventory error in one line of a hosts file.
    #[error("{file}:{line}: {message}")]
    Inventory {
        file: String,
        line: usize,
        message: String,
    },
    /// The hosts file as a whole (unreadable, too large).
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

fn count_text(host_bits: u32) -> String {
    if host_bits < 64 {
        (1u64 << host_bits).to_string()
    } else {
        format!("2^{host_bits}")
    }
}

/// Quotes, escapes and shortens untrusted text for an error message.
fn shown(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_SHOWN).collect();
        format!("{head:?}... ({} bytes)", s.len())
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\0' => "a NUL byte".into(),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c => format!("{c:?} (U+{:04X})", c as u32),
    }
}

/// Parses one target (see the module documentation for the forms).
pub fn parse_target(s: &str) -> Result<TargetSpec, TargetError> {
    let invalid = |reason: String| TargetError::Invalid {
        target: shown(s),
        reason,
    };
    if s.is_empty() {
        return Err(invalid("empty".into()));
    }
    if s.len() > MAX_TARGET_LEN {
        return Err(invalid(format!(
            "longer than {MAX_TARGET_LEN} bytes ({} bytes)",
            s.len()
        )));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(invalid(format!(
            "contains {} (only printable ASCII without spaces is allowed)",
            describe_char(c)
        )));
    }
    if s.starts_with('-') {
        return Err(invalid(
            "starts with `-`: a target is never an option".into(),
        ));
    }
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) => (Some(validate_user(u).map_err(invalid)?), r),
        None => (None, s),
    };
    if rest.is_empty() {
        return Err(invalid("no host after `@`".into()));
    }
    if rest.contains('@') {
        return Err(invalid("more than one `@`".into()));
    }
    if rest.starts_with('-') {
        return Err(invalid(
            "host starts with `-`: a target is never an option".into(),
        ));
    }
    if rest.contains('/') {
        let (net, port) = parse_network(rest).map_err(invalid)?;
        let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
        if host_bits > MAX_ADDRESSES.trailing_zeros() {
            return Err(TargetError::TooLarge {
                net: net.to_string(),
                host_bits,
                limit: MAX_ADDRESSES,
            });
        }
        return Ok(TargetSpec::Network { net, user, port });
    }
    let (host, port) = split_host_port(rest).map_err(invalid)?;
    let host = normalize_host(host).map_err(invalid)?;
    Ok(TargetSpec::Host(Target {
        spec: s.to_string(),
        host,
        user,
        port,
        origin: None,
        groups: Vec::new(),
    }))
}

/// Checks a login user name: `[a-z_][a-z0-9_.-]*$?`, at most 32 characters.
fn validate_user(u: &str) -> Result<String, String> {
    if u.is_empty() {
        return Err("empty user name before `@`".into());
    }
    if u.len() > MAX_USER_LEN {
        return Err(format!("user name longer than {MAX_USER_LEN} characters"));
    }
    let body = u.strip_suffix('$').unwrap_or(u);
    let mut chars = body.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == '-');
    if !first_ok || !rest_ok {
        return Err(format!(
            "user name {} is not a valid login name ([a-z_][a-z0-9_.-]*, optionally ending in `$`)",
            shown(u)
        ));
    }
    Ok(u.to_string())
}

/// Parses a port number, 1-65535, digits only.
fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("empty port after `:`".into());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
        return Err(format!("port {} is not a number 1-65535", shown(p)));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("port {} is not a number 1-65535", shown(p))),
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(rest: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(inner) = rest.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err("`[` without a closing `]`".into());
        };
        check_v6(addr)?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p)?),
                None => return Err("expected `:port` after `]`".into()),
            },
        };
        return Ok((addr, port));
    }
    match rest.matches(':').count() {
        0 => Ok((rest, None)),
        1 => {
            let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
            Ok((h, Some(parse_port(p)?)))
        }
        _ => {
            check_v6(rest).map_err(|e| {
                format!("{e} (to give a port with an IPv6 address, write [address]:port)")
            })?;
            Ok((rest, None))
        }
    }
}

fn check_v6(addr: &str) -> Result<Ipv6Addr, String> {
    if addr.contains('%') {
        return Err("IPv6 zone ids (`%eth0`) are not supported".into());
    }
    addr.parse::<Ipv6Addr>()
        .map_err(|_| format!("{} is not a valid IPv6 address", shown(addr)))
}

/// An IP literal in canonical form, or a validated, lower-cased host name.
fn normalize_host(h: &str) -> Result<String, String> {
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if h.is_empty() {
        return Err("empty host name".into());
    }
    if h.starts_with('-') {
        return Err("host starts with `-`: a target is never an option".into());
    }
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.is_empty() {
        return Err("empty host name".into());
    }
    if name.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    let mut numeric = true;
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("host name {} has an empty label", shown(h)));
        }
        if label.len() > 63 {
            return Err(format!(
                "host name {} has a label longer than 63 characters",
                shown(h)
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!(
                "host name {} contains {} (allowed: letters, digits, `-` and `.`)",
                shown(h),
                describe_char(c)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host name {} has a label starting or ending with `-`",
                shown(h)
            ));
        }
        numeric &= is_numberish(label);
    }
    if numeric {
        // `10.0.0.256`, `127.1`, `0x7f000001`: the resolver would read these as addresses.
        return Err(format!("{} is not a valid IP address", shown(h)));
    }
    Ok(h.to_ascii_lowercase())
}

/// A label `inet_aton` would read as a number.
fn is_numberish(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Parses `net/len`, `v4net/len:port` or `[v6net/len]:port` / `[v6net]/len:port`.
fn parse_network(rest: &str) -> Result<(IpNet, Option<u16>), String> {
    let (text, port) = if let Some(inner) = rest.strip_prefix('[') {
        // `[fd00::/120]`, `[fd00::/120]:22`, `[fd00::]/120` or `[fd00::]/120:22`
        let Some((a, after)) = inner.split_once(']') else {
            return Err("`[` without a closing `]`".into());
        };
        let (text, port) = if let Some(tail) = after.strip_prefix('/') {
            match tail.split_once(':') {
                Some((len, p)) => (format!("{a}/{len}"), Some(p)),
                None => (format!("{a}/{tail}"), None),
            }
        } else if after.is_empty() {
            (a.to_string(), None)
        } else if let Some(p) = after.strip_prefix(':') {
            (a.to_string(), Some(p))
        } else {
            return Err("expected `:port` after `]`".into());
        };
        (text, port.map(parse_port).transpose()?)
    } else if rest.matches(':').count() == 1 {
        // IPv4 network with a port.
        let (n, p) = rest.split_once(':').unwrap_or((rest, ""));
        (n.to_string(), Some(parse_port(p)?))
    } else {
        (rest.to_string(), None)
    };
    match text.parse::<IpNet>() {
        Ok(net) => Ok((net.trunc(), port)),
        Err(_) => {
            let (addr, len) = text.split_once('/').unwrap_or((&text, ""));
            match addr.parse::<IpAddr>() {
                Ok(ip) => {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    Err(format!(
                        "prefix length {} is not a number 0-{max}",
                        shown(len)
                    ))
                }
                Err(_) => Err(format!(
                    "{} is not a network in CIDR notation (e.g. 10.0.0.0/24 or fd00::/120)",
                    shown(&text)
                )),
            }
        }
    }
}

impl Target {
    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    fn key(&self) -> DedupKey {
        DedupKey::Host(self.host.clone(), self.user.clone(), self.port)
    }
}

impl fmt::Display for Target {
    /// `user@host:port`, with brackets around an IPv6 address when a port follows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match self.port {
            Some(p) if self.host.contains(':') => write!(f, "[{}]:{p}", self.host),
            Some(p) => write!(f, "{}:{p}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl TargetSpec {
    /// The addresses to probe: every address of a network, except the network and broadcast
    /// addresses of an IPv4 network shorter than /31; for a host, its address when it is an IP
    /// literal, and nothing for a host name (this module never resolves names).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + use<> {
        let (ip, range) = match self {
            TargetSpec::Host(t) => (t.ip(), None),
            TargetSpec::Network { net, .. } => (None, Some(net.hosts())),
        };
        ip.into_iter().chain(range.into_iter().flatten())
    }

    /// How many addresses [`TargetSpec::addresses`] yields for a network; 1 for a host.
    pub fn address_count(&self) -> u64 {
        match self {
            TargetSpec::Host(_) => 1,
            TargetSpec::Network { net, .. } => {
                let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
                let all = 1u64 << host_bits.min(63);
                match net {
                    IpNet::V4(_) if host_bits >= 2 => all - 2,
                    _ => all,
                }
            }
        }
    }

    /// The hosts to connect to: the host itself, or one [`Target`] per address of a network
    /// (with the network's user and port; `spec` and `host` are the address).
    pub fn targets(&self) -> impl Iterator<Item = Target> + '_ {
        let one = match self {
            TargetSpec::Host(t) => Some(t.clone()),
            TargetSpec::Network { .. } => None,
        };
        let (user, port) = match self {
            TargetSpec::Network { user, port, .. } => (user.clone(), *port),
            TargetSpec::Host(_) => (None, None),
        };
        let expanded = match self {
            TargetSpec::Network { .. } => Some(self.addresses()),
            TargetSpec::Host(_) => None,
        };
        one.into_iter()
            .chain(expanded.into_iter().flatten().map(move |ip| Target {
                spec: ip.to_string(),
                host: ip.to_string(),
                user: user.clone(),
                port,
                origin: None,
                groups: Vec::new(),
            }))
    }

    fn key(&self) -> DedupKey {
        match self {
            TargetSpec::Host(t) => t.key(),
            TargetSpec::Network { net, user, port } => DedupKey::Net(*net, user.clone(), *port),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Host(t) => t.fmt(f),
            TargetSpec::Network { net, user, port } => {
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                match (net, port) {
                    (IpNet::V6(_), Some(p)) => write!(f, "[{net}]:{p}"),
                    (_, Some(p)) => write!(f, "{net}:{p}"),
                    (_, None) => write!(f, "{net}"),
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum DedupKey {
    Host(String, Option<String>, Option<u16>),
    Net(IpNet, Option<String>, Option<u16>),
}

/// Drops repeated targets, keeping the first: hosts are the same when host, user and port are
/// (as written: `web` and `web:22` differ, since the port of `web` may come from the SSH
/// config); networks when network, user and port are. Use it to merge command-line targets
/// with a `--hosts` file. Overlapping networks are not merged here: expand them and use
/// [`dedup_targets`].
pub fn dedup(specs: impl IntoIterator<Item = TargetSpec>) -> Vec<TargetSpec> {
    let mut seen = HashSet::new();
    specs.into_iter().filter(|s| seen.insert(s.key())).collect()
}

/// Drops repeated hosts (same host, user and port), keeping the first; for the hosts of
/// expanded, possibly overlapping networks.
pub fn dedup_targets(targets: impl IntoIterator<Item = Target>) -> Vec<Target> {
    let mut seen = HashSet::new();
    targets
        .into_iter()
        .filter(|t| seen.insert(t.key()))
        .collect()
}

/// Reads and parses a `--hosts` file (at most [`MAX_HOSTS_FILE`] bytes, UTF-8).
pub fn load_hosts_file(path: &Path) -> Result<HostsFile, TargetError> {
    let name = path.display().to_string();
    let file_err = |message: String| TargetError::File {
        file: name.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file_err(e.to_string()))?;
    if !meta.is_file() {
        return Err(file_err("not a regular file".into()));
    }
    if meta.len() > MAX_HOSTS_FILE {
        return Err(file_err(format!(
            "larger than {MAX_HOSTS_FILE} bytes ({} bytes)",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_HOSTS_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| file_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_HOSTS_FILE {
        return Err(file_err(format!("larger than {MAX_HOSTS_FILE} bytes")));
    }
    parse_hosts_bytes(&name, &bytes)
}

/// Parses hosts-file bytes, refusing text that is not UTF-8 with the line it happens on.
pub fn parse_hosts_bytes(name_for_errors: &str, bytes: &[u8]) -> Result<HostsFile, TargetError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_hosts_file(name_for_errors, text),
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(TargetError::Inventory {
                file: name_for_errors.to_string(),
                line,
                message: format!("not valid UTF-8 (byte offset {at}); save the file as UTF-8 text"),
            })
        }
    }
}

/// Values of the inventory variables dossier uses, with the line that set them.
#[derive(Clone, Debug, Default)]
struct Vars(BTreeMap<&'static str, (String, usize)>);

impl Vars {
    fn set(&mut self, key: &str, value: &str, line: usize) {
        if let Some(k) = canonical_var(key) {
            self.0.insert(k, (value.to_string(), line));
        }
    }
    fn merge(&mut self, other: &Vars) {
        for (k, v) in &other.0 {
            self.0.insert(k, v.clone());
        }
    }
}

/// The variables that matter for a connection; `ansible_ssh_*` are old names of the same.
fn canonical_var(key: &str) -> Option<&'static str> {
    Some(match key {
        "ansible_host" | "ansible_ssh_host" => "host",
        "ansible_port" | "ansible_ssh_port" => "port",
        "ansible_user" | "ansible_ssh_user" => "user",
        "ansible_connection" => "connection",
        _ => return None,
    })
}

/// Connection plugins that are SSH.
const SSH_CONNECTIONS: &[&str] = &[
    "ssh",
    "smart",
    "paramiko",
    "paramiko_ssh",
    "ansible.builtin.ssh",
    "ansible.builtin.paramiko_ssh",
];

#[derive(Debug)]
struct InvHost {
    name: String,
    spec: TargetSpec,
    line: usize,
    vars: Vars,
    groups: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Group {
    vars: Vars,
    /// Child groups with the line that made them children.
    children: Vec<(String, usize)>,
}

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

/// Parses a `--hosts` file: a plain list of targets or an Ansible INI inventory.
///
/// Lines: blank; `#` or `;` comments (a `#` after white space also starts a comment); a
/// target with optional `key=value` variables (values may be quoted); `[group]`,
/// `[group:vars]` and `[group:children]` section headers. Host patterns may contain Ansible
/// ranges (`web[01:20].example.com`, `db-[a:f]`, `10.0.0.[1:254]`, `[start:end:step]`;
/// leading zeros are kept). Variables used: `ansible_host`, `ansible_port`, `ansible_user`
/// (and their `ansible_ssh_*` aliases) and `ansible_connection`; others are ignored.
/// Precedence, lowest first: `[all:vars]`, group vars (parents before children, equal depths
/// by group name), the `user@` and `:port` written in the host pattern, the host line's own
/// variables. A host listed several times is one host (its variables merged, later lines
/// winning). Entries whose `ansible_connection` is not SSH (`local`, `winrm`, `docker`, ...)
/// go to [`HostsFile::skipped`]. The result is deduplicated with [`dedup`]. Errors name the
/// file and line: `hosts.ini:12: ...`.
pub fn parse_hosts_file(name_for_errors: &str, text: &str) -> Result<HostsFile, TargetError> {
    let file = name_for_errors;
    let at = |line: usize, message: String| TargetError::Inventory {
        file: file.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut section = Section::Hosts("ungrouped".into());
    let mut hosts: Vec<InvHost> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    groups.entry("all".into()).or_default();

    for (i, raw) in text.split('\n').enumerate() {
        let lineno = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.len() > MAX_LINE_LEN {
            return Err(at(lineno, format!("line longer than {MAX_LINE_LEN} bytes")));
        }
        if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(at(lineno, format!("line contains {}", describe_char(c))));
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(header) = section_header(trimmed) {
            let (name, kind) = match header.split_once(':') {
                Some((n, k)) => (n, Some(k)),
                None => (header, None),
            };
            validate_group(name).map_err(|m| at(lineno, m))?;
            groups.entry(name.to_string()).or_default();
            section = match kind {
                None => Section::Hosts(name.to_string()),
                Some("vars") => Section::Vars(name.to_string()),
                Some("children") => Section::Children(name.to_string()),
                Some(k) => {
                    return Err(at(
                        lineno,
                        format!(
                            "unknown section type {} (expected `:vars` or `:children`)",
                            shown(&format!(":{k}"))
                        ),
                    ));
                }
            };
            continue;
        }
        match &section {
            Section::Vars(group) => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(at(
                        lineno,
                        format!("expected `key=value` in [{group}:vars]"),
                    ));
                };
                let key = key.trim();
                let value = tokenize(value).map_err(|m| at(lineno, m))?;
                if canonical_var(key).is_some() {
                    if value.len() != 1 {
                        return Err(at(lineno, format!("{key} takes exactly one value")));
                    }
                    let g = groups.entry(group.clone()).or_default();
                    g.vars.set(key, &value[0], lineno);
                }
            }
            Section::Children(group) => {
                let tokens = tokenize(line).map_err(|m| at(lineno, m))?;
                if tokens.len() != 1 {
                    return Err(at(
                        lineno,
                        format!("expected one group name a line in [{group}:children]"),
                    ));
                }
                let child = &tokens[0];
                validate_group(child).map_err(|m| at(lineno, m))?;
                if child == group {
                    return Err(at(lineno, format!("group cycle: {group} -> {group}")));
                }
                groups.entry(child.clone()).or_default();
                let g = groups.entry(group.clone()).or_default();
                g.children.push((child.clone(), lineno));
            }
            Section::Hosts(group) => {
                let tokens = tokenize(line).map_err(|m| at(lineno, m))?;
                let Some((pattern, assignments)) = tokens.split_first() else {
                    continue;
                };
                let mut vars = Vars::default();
                for a in assignments {
                    match a.split_once('=') {
                        Some((k, v)) if !k.is_empty() => vars.set(k, v, lineno),
                        _ => {
                            return Err(at(
                                lineno,
                                format!(
                                    "expected `key=value` after the host, found {} (one target a line)",
                                    shown(a)
                                ),
                            ));
                        }
                    }
                }
                let names = expand_ranges(pattern).map_err(|m| at(lineno, m))?;
                for name in names {
                    let slot = match index.get(&name) {
                        Some(&i) => i,
                        None => {
                            let spec = parse_target(&name).map_err(|e| TargetError::Line {
                                file: file.to_string(),
                                line: lineno,
                                error: Box::new(e),
                            })?;
                            if hosts.len() as u64 >= MAX_ADDRESSES {
                                return Err(at(
                                    lineno,
                                    format!("more than {MAX_ADDRESSES} hosts in one file"),
                                ));
                            }
                            index.insert(name.clone(), hosts.len());
                            hosts.push(InvHost {
                                name,
                                spec,
                                line: lineno,
                                vars: Vars::default(),
                                groups: BTreeSet::new(),
                            });
                            hosts.len() - 1
                        }
                    };
                    let h = &mut hosts[slot];
                    h.vars.merge(&vars);
                    h.groups.insert(group.clone());
                }
            }
        }
    }

    check_cycles(file, &groups)?;
    let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, g) in &groups {
        for (child, _) in &g.children {
            parents
                .entry(child.as_str())
                .or_default()
                .push(name.as_str());
        }
    }
    let mut depths: HashMap<&str, usize> = HashMap::new();
    for name in groups.keys() {
        depth(name, &parents, &mut depths);
    }

    let mut out = HostsFile::default();
    for h in hosts {
        // Every group the host is in, directly or through `:children`, and `all`.
        let mut member: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = h.groups.iter().map(String::as_str).collect();
        todo.push("all");
        while let Some(g) = todo.pop() {
            if member.insert(g) {
                todo.extend(parents.get(g).into_iter().flatten().copied());
            }
        }
        let mut ordered: Vec<&str> = member.into_iter().collect();
        ordered.sort_by_key(|g| (depths.get(g).copied().unwrap_or(0), *g));
        let mut vars = Vars::default();
        for g in ordered {
            if let Some(group) = groups.get(g) {
                vars.merge(&group.vars);
            }
        }
        let origin = format!("{file}:{}", h.line);
        let connection = h
            .vars
            .0
            .get("connection")
            .or_else(|| vars.0.get("connection"));
        if let Some((conn, _)) = connection
            && !conn.is_empty()
            && !SSH_CONNECTIONS.contains(&conn.as_str())
        {
            out.skipped.push(SkippedEntry {
                name: h.name,
                origin,
                reason: format!("ansible_connection={conn}: not an SSH target"),
            });
            continue;
        }
        let spec = apply_vars(file, h.spec, &vars, &h.vars)?;
        let spec = match spec {
            TargetSpec::Host(mut t) => {
                t.spec = h.name;
                t.origin = Some(origin);
                t.groups = h.groups.into_iter().filter(|g| g != "ungrouped").collect();
                TargetSpec::Host(t)
            }
            net => net,
        };
        out.targets.push(spec);
    }
    out.targets = dedup(out.targets);
    Ok(out)
}

/// The text of a `[...]` section header, when the (trimmed) line is one rather than a
/// bracketed IPv6 target (`[fd00::1]`) or a pattern starting with a range (`[a:c]-web`).
fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let (header, rest) = inner.split_once(']')?;
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
        return None;
    }
    if header.parse::<Ipv6Addr>().is_ok() || header.contains('/') {
        return None;
    }
    Some(header)
}

fn validate_group(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty group name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "group name {} contains {} (allowed: letters, digits, `_`, `-`, `.`)",
            shown(name),
            describe_char(c)
        ));
    }
    Ok(())
}

/// Splits a line into words: white space separates, `'...'` and `"..."` quote, a backslash
/// escapes the next character, and a `#` at the start of a word ends the line.
fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    tokens.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated `'` quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unterminated `\"` quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated `\"` quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        tokens.push(cur);
    }
    Ok(tokens)
}

/// Expands Ansible host ranges; a pattern without ranges (or a bracketed IPv6 address) is
/// returned as is.
fn expand_ranges(pattern: &str) -> Result<Vec<String>, String> {
    if let Some(inner) = pattern.strip_prefix('[')
        && let Some((addr, _)) = inner.split_once(']')
        && (addr.parse::<Ipv6Addr>().is_ok() || addr.contains('/'))
    {
        return Ok(vec![pattern.to_string()]);
    }
    // Literal text and ranges, alternating.
    let mut parts: Vec<Vec<String>> = Vec::new();
    let mut rest = pattern;
    let mut total: u64 = 1;
    while let Some(open) = rest.find(['[', ']']) {
        if rest.as_bytes()[open] == b']' {
            return Err(format!(
                "`]` without `[` in host pattern {}",
                shown(pattern)
            ));
        }
        parts.push(vec![rest[..open].to_string()]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            return Err(format!(
                "`[` without `]` in host pattern {}",
                shown(pattern)
            ));
        };
        let range = &after[..close];
        let count = range_len(range).map_err(|m| {
            format!(
                "invalid host range {} in {}: {m}",
                shown(&format!("[{range}]")),
                shown(pattern)
            )
        })?;
        total = total.saturating_mul(count);
        if total > MAX_ADDRESSES {
            return Err(format!(
                "host pattern {} expands to more than {MAX_ADDRESSES} hosts",
                shown(pattern)
            ));
        }
        parts.push(range_items(range));
        rest = &after[close + 1..];
    }
    parts.push(vec![rest.to_string()]);
    let mut names = vec![String::new()];
    for part in parts {
        names = names
            .iter()
            .flat_map(|prefix| part.iter().map(move |p| format!("{prefix}{p}")))
            .collect();
    }
    Ok(names)
}

/// A range's bounds; letters are their index in `a..zA..Z`, `width` keeps leading zeros.
enum Bounds {
    Numeric {
        begin: u64,
        end: u64,
        step: u64,
        width: usize,
    },
    Alpha {
        begin: usize,
        end: usize,
        step: usize,
    },
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn range_bounds(range: &str) -> Result<Bounds, String> {
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("expected [start:end] or [start:end:step]".into());
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err("no end".into());
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= 1 && s.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("step {} is not a number >= 1", shown(s))),
        },
    };
    let letter = |s: &str| {
        (s.len() == 1)
            .then(|| LETTERS.iter().position(|&b| b == s.as_bytes()[0]))
            .flatten()
    };
    if let (Some(b), Some(e)) = (letter(begin), letter(end)) {
        if b > e {
            return Err("start after end".into());
        }
        return Ok(Bounds::Alpha {
            begin: b,
            end: e,
            step: usize::try_from(step).unwrap_or(usize::MAX),
        });
    }
    let number = |s: &str| {
        (s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (Some(b), Some(e)) = (number(begin), number(end)) else {
        return Err("start and end must both be numbers or both single letters".into());
    };
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if end.len() != begin.len() {
            return Err("start and end with leading zeros must have the same width".into());
        }
        begin.len()
    } else {
        0
    };
    if b > e {
        return Err("start after end".into());
    }
    Ok(Bounds::Numeric {
        begin: b,
        end: e,
        step,
        width,
    })
}

fn range_len(range: &str) -> Result<u64, String> {
    Ok(match range_bounds(range)? {
        Bounds::Numeric {
            begin, end, step, ..
        } => (end - begin) / step + 1,
        Bounds::Alpha { begin, end, step } => ((end - begin) / step + 1) as u64,
    })
}

/// The items of a range already checked by [`range_len`].
fn range_items(range: &str) -> Vec<String> {
    match range_bounds(range) {
        Ok(Bounds::Numeric {
            begin,
            end,
            step,
            width,
        }) => (begin..=end)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .map(|n| format!("{n:0width$}"))
            .collect(),
        Ok(Bounds::Alpha { begin, end, step }) => LETTERS[begin..=end]
            .iter()
            .step_by(step)
            .map(|&b| char::from(b).to_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Refuses `[a:children]` loops, naming the line that closes the loop.
fn check_cycles(file: &str, groups: &BTreeMap<String, Group>) -> Result<(), TargetError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        groups: &'a BTreeMap<String, Group>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Result<(), (usize, String)> {
        marks.insert(name, Mark::Active);
        path.push(name);
        if let Some(g) = groups.get(name) {
            for (child, line) in &g.children {
                match marks.get(child.as_str()) {
                    Some(Mark::Active) => {
                        let start = path.iter().position(|p| p == child).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].to_vec();
                        cycle.push(child);
                        return Err((*line, cycle.join(" -> ")));
                    }
                    Some(Mark::Done) => {}
                    None => visit(child, groups, marks, path)?,
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        Ok(())
    }
    let mut marks = HashMap::new();
    for name in groups.keys() {
        if !marks.contains_key(name.as_str()) {
            visit(name, groups, &mut marks, &mut Vec::new()).map_err(|(line, cycle)| {
                TargetError::Inventory {
                    file: file.to_string(),
                    line,
                    message: format!("group cycle: {cycle}"),
                }
            })?;
        }
    }
    Ok(())
}

/// Depth of a group below `all` (0): top-level groups 1, children one more than their
/// deepest parent. The graph is acyclic (checked before).
fn depth<'a>(
    name: &'a str,
    parents: &HashMap<&'a str, Vec<&'a str>>,
    memo: &mut HashMap<&'a str, usize>,
) -> usize {
    if name == "all" {
        return 0;
    }
    if let Some(&d) = memo.get(name) {
        return d;
    }
    let d = 1 + parents
        .get(name)
        .into_iter()
        .flatten()
        .map(|p| depth(p, parents, memo))
        .max()
        .unwrap_or(0);
    memo.insert(name, d);
    d
}

/// Applies group variables, the host pattern's own `user@`/`:port`, then host-line variables.
fn apply_vars(
    file: &str,
    spec: TargetSpec,
    group_vars: &Vars,
    host_vars: &Vars,
) -> Result<TargetSpec, TargetError> {
    let at = |line: usize, message: String| TargetError::Inventory {
        file: file.to_string(),
        line,
        message,
    };
    let pick = |key: &str| host_vars.0.get(key).or_else(|| group_vars.0.get(key));
    let group_only = |key: &str| {
        if host_vars.0.contains_key(key) {
            None
        } else {
            group_vars.0.get(key)
        }
    };
    let user = |written: Option<String>| -> Result<Option<String>, TargetError> {
        match (host_vars.0.get("user"), written, group_only("user")) {
            (Some((u, line)), _, _) => validate_user(u)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_user: {m}"))),
            (None, Some(w), _) => Ok(Some(w)),
            (None, None, Some((u, line))) => validate_user(u)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_user: {m}"))),
            (None, None, None) => Ok(None),
        }
    };
    let port = |written: Option<u16>| -> Result<Option<u16>, TargetError> {
        match (host_vars.0.get("port"), written, group_only("port")) {
            (Some((p, line)), _, _) => parse_port(p)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_port: {m}"))),
            (None, Some(w), _) => Ok(Some(w)),
            (None, None, Some((p, line))) => parse_port(p)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_port: {m}"))),
            (None, None, None) => Ok(None),
        }
    };
    match spec {
        TargetSpec::Host(mut t) => {
            if let Some((h, line)) = pick("host") {
                if h.starts_with('[') || h.contains('@') || h.matches(':').count() == 1 {
                    return Err(at(
                        *line,
                        format!(
                            "ansible_host {}: expected a host name or an IP address",
                            shown(h)
                        ),
                    ));
                }
                t.host = normalize_host(h)
                    .map_err(|m| at(*line, format!("ansible_host {}: {m}", shown(h))))?;
            }
            t.user = user(t.user.take())?;
            t.port = port(t.port)?;
            Ok(TargetSpec::Host(t))
        }
        TargetSpec::Network {
            net,
            user: u,
            port: p,
        } => {
            if let Some((_, line)) = pick("host") {
                return Err(at(
                    *line,
                    format!("ansible_host cannot apply to the network {net}"),
                ));
            }
            Ok(TargetSpec::Network {
                net,
                user: user(u)?,
                port: port(p)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Target {
        match parse_target(s) {
            Ok(TargetSpec::Host(t)) => t,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse_target(s) {
            Err(e) => e.to_string(),
            Ok(t) => panic!("{s:?} accepted: {t:?}"),
        }
    }

    fn inv(text: &str) -> HostsFile {
        parse_hosts_file("hosts.ini", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn inv_err(text: &str) -> String {
        match parse_hosts_file("hosts.ini", text) {
            Err(e) => e.to_string(),
            Ok(h) => panic!("accepted: {h:?}"),
        }
    }

    /// `user@host:port` of every host target, in order.
    fn shown_targets(h: &HostsFile) -> Vec<String> {
        h.targets.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn host_forms() {
        let t = host("web01.example.com");
        assert_eq!(
            (t.host.as_str(), t.user, t.port),
            ("web01.example.com", None, None)
        );
        let t = host("ops@Web01.Example.com:2222");
        assert_eq!(t.spec, "ops@Web01.Example.com:2222");
        assert_eq!(t.host, "web01.example.com");
        assert_eq!(t.user.as_deref(), Some("ops"));
        assert_eq!(t.port, Some(2222));
        assert_eq!(host("root@db").to_string(), "root@db");
        assert_eq!(host("db:22").port, Some(22));
        assert_eq!(host("svc_backup$@db").user.as_deref(), Some("svc_backup$"));
        assert_eq!(host("localhost.").host, "localhost.");
    }

    #[test]
    fn ip_forms() {
        let t = host("10.0.0.5");
        assert_eq!(t.ip(), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(host("10.0.0.5:2222").port, Some(2222));
        let t = host("::1");
        assert_eq!((t.host.as_str(), t.port), ("::1", None));
        let t = host("fd00:0:0::0001");
        assert_eq!(t.host, "fd00::1");
        let t = host("root@[fd00::1]:2222");
        assert_eq!((t.host.as_str(), t.port), ("fd00::1", Some(2222)));
        assert_eq!(t.to_string(), "root@[fd00::1]:2222");
        assert_eq!(host("[fd00::1]").port, None);
        assert_eq!(
            TargetSpec::Host(host("[::1]:22"))
                .addresses()
                .collect::<Vec<_>>(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(TargetSpec::Host(host("web")).addresses().count(), 0);
    }

    #[test]
    fn invalid_hosts_users_ports() {
        for (bad, why) in [
            ("", "empty"),
            ("web:0", "1-65535"),
            ("web:65536", "1-65535"),
            ("web:+22", "1-65535"),
            ("web:", "empty port"),
            ("web:22:33", "IPv6"),
            ("web..example", "empty label"),
            ("-web", "never an option"),
            ("web-.example", "ending with `-`"),
            ("web_1", "contains '_'"),
            ("Root@web", "not a valid login name"),
            ("1root@web", "not a valid login name"),
            ("@web", "empty user"),
            ("ops@", "no host"),
            ("a@b@c", "more than one `@`"),
            ("10.0.0.256", "not a valid IP address"),
            ("127.1", "not a valid IP address"),
            ("0x7f000001", "not a valid IP address"),
            ("[fd00::1", "closing"),
            ("[fd00::1]22", "expected `:port`"),
            ("[web]:22", "not a valid IPv6"),
            ("fe80::1%eth0", "zone"),
            ("abcdefghijklmnopqrstuvwxyzabcdefg@web", "longer than 32"),
        ] {
            let e = err(bad);
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let label = "a".repeat(64);
        assert!(err(&format!("{label}.example")).contains("63"));
        let long = ["abcdefghij"; 30].join(".");
        assert!(err(&long).contains("253"));
    }

    #[test]
    fn hostile_targets_are_refused() {
        for bad in [
            "-oProxyCommand=nc evil 22",
            "-oProxyCommand=sh",
            "root@-oProxyCommand=sh",
            "web;reboot",
            "web$(id)",
            "web`id`",
            "web|nc",
            "web&",
            "web>x",
            "web'x",
            "web\"x",
            "web x",
            "web\tx",
            "web\nx",
            "web\0",
            "web\u{7f}",
            "wéb.example",
            "web\u{202e}moc.",
            "ops$(id)@web",
            "../../etc/passwd",
            "web/../x",
            "web\\x",
            "*",
            "web,db",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} accepted");
        }
        assert!(err("web\0").contains("NUL"));
        assert!(err("-oProxyCommand=sh").contains("never an option"));
        // A huge input gives a short error.
        let e = err(&"a".repeat(100_000));
        assert!(e.contains("longer than 512 bytes") && e.len() < 300, "{e}");
        let e = err(&format!("web;{}", "x".repeat(400)));
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn networks() {
        let spec = parse_target("ops@10.0.0.0/24").unwrap();
        let TargetSpec::Network { net, user, port } = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(net.to_string(), "10.0.0.0/24");
        assert_eq!(user.as_deref(), Some("ops"));
        assert_eq!(*port, None);
        let addrs: Vec<IpAddr> = spec.addresses().collect();
        assert_eq!(addrs.len(), 254);
        assert_eq!(spec.address_count(), 254);
        assert_eq!(addrs[0].to_string(), "10.0.0.1");
        assert_eq!(addrs[253].to_string(), "10.0.0.254");
        let targets: Vec<Target> = spec.targets().collect();
        assert_eq!(targets[0].to_string(), "ops@10.0.0.1");

        // Host bits are cleared; a port may follow an IPv4 network.
        let spec = parse_target("10.0.0.77/30:2222").unwrap();
        assert_eq!(spec.to_string(), "10.0.0.76/30:2222");
        let addrs: Vec<String> = spec.addresses().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.77", "10.0.0.78"]);

        // /31 and /32 keep every address.
        assert_eq!(parse_target("10.0.0.0/31").unwrap().addresses().count(), 2);
        assert_eq!(parse_target("10.0.0.9/32").unwrap().addresses().count(), 1);

        // IPv6: every address, no broadcast.
        let spec = parse_target("fd00::/120").unwrap();
        assert_eq!(spec.addresses().count(), 256);
        assert_eq!(spec.address_count(), 256);
        assert_eq!(spec.addresses().next().unwrap().to_string(), "fd00::");
        let spec = parse_target("root@[fd00::]/126:2222").unwrap();
        assert_eq!(spec.to_string(), "root@[fd00::/126]:2222");
        let spec = parse_target("[fd00::/126]:22").unwrap();
        assert_eq!(spec.targets().last().unwrap().to_string(), "[fd00::3]:22");

        // The limit: a /16 and a /112 are fine, one bit more is not.
        assert_eq!(
            parse_target("10.1.0.0/16").unwrap().addresses().count(),
            65_534
        );
        assert!(parse_target("fd00::/112").is_ok());
        for big in [
            "10.0.0.0/15",
            "0.0.0.0/0",
            "fd00::/111",
            "::/0",
            "ops@10.0.0.0/8",
        ] {
            let e = err(big);
            assert!(e.contains("the limit is 65536"), "{big}: {e}");
        }
        assert!(err("::/0").contains("2^128 addresses"));
        assert!(err("10.0.0.0/8").contains("16777216 addresses"));

        for (bad, why) in [
            ("10.0.0.0/33", "prefix length"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/24:0", "1-65535"),
            ("web/24", "CIDR"),
            ("10.0.0.0/24/8", "prefix length"),
            ("[fd00::/120]x", "expected `:port`"),
            ("[fd00::/120", "closing"),
        ] {
            let e = err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn dedup_keeps_first() {
        let specs: Vec<TargetSpec> = ["web", "ops@web", "WEB", "web:22", "web", "10.0.0.0/24"]
            .iter()
            .chain(&["10.0.0.5/24", "db"])
            .map(|s| parse_target(s).unwrap())
            .collect();
        let out: Vec<String> = dedup(specs).iter().map(|s| s.to_string()).collect();
        assert_eq!(out, ["web", "ops@web", "web:22", "10.0.0.0/24", "db"]);

        // Overlapping networks, expanded.
        let a = parse_target("10.0.0.0/29").unwrap();
        let b = parse_target("10.0.0.4/30").unwrap();
        let all = dedup_targets(a.targets().chain(b.targets()));
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn plain_hosts_file() {
        let h = inv("# incident 42\n\
             web01.example.com\n\
             \n\
             ops@db:2222   # the database\n\
             10.0.0.0/28\n\
             \t[fd00::1]:22\n\
             fd00::2\n\
             web01.example.com\n");
        assert_eq!(
            shown_targets(&h),
            [
                "web01.example.com",
                "ops@db:2222",
                "10.0.0.0/28",
                "[fd00::1]:22",
                "fd00::2"
            ]
        );
        let TargetSpec::Host(t) = &h.targets[1] else {
            panic!()
        };
        assert_eq!(t.origin.as_deref(), Some("hosts.ini:4"));
        assert_eq!(t.spec, "ops@db:2222");
        assert!(h.skipped.is_empty());
    }

    #[test]
    fn crlf_bom_and_comments() {
        let h = inv("\u{feff}web\r\n; old style comment\r\ndb # note\r\n\r\n");
        assert_eq!(shown_targets(&h), ["web", "db"]);
    }

    #[test]
    fn ansible_inventory() {
        let text = r#"
mail.example.com

[webservers]
web[01:03].example.com ansible_user=deploy
foo.example.com:5309 ansible_host=192.0.2.50 description="front door"

[dbservers]
db-[a:c].example.com
one ansible_ssh_host=10.0.0.1 ansible_ssh_port=2200 ansible_ssh_user=dba

[dbservers:vars]
ansible_port=2222
ansible_user = postgres
ntp_server=ntp.example.com

[all:vars]
ansible_user=admin

[local]
localhost ansible_connection=local
"#;
        let h = inv(text);
        assert_eq!(
            shown_targets(&h),
            [
                "admin@mail.example.com",
                "deploy@web01.example.com",
                "deploy@web02.example.com",
                "deploy@web03.example.com",
                "admin@192.0.2.50:5309",
                "postgres@db-a.example.com:2222",
                "postgres@db-b.example.com:2222",
                "postgres@db-c.example.com:2222",
                "dba@10.0.0.1:2200",
            ]
        );
        let TargetSpec::Host(t) = &h.targets[4] else {
            panic!()
        };
        assert_eq!(t.spec, "foo.example.com:5309");
        assert_eq!(t.groups, ["webservers"]);
        assert_eq!(t.origin.as_deref(), Some("hosts.ini:6"));
        assert_eq!(
            h.skipped,
            [SkippedEntry {
                name: "localhost".into(),
                origin: "hosts.ini:21".into(),
                reason: "ansible_connection=local: not an SSH target".into(),
            }]
        );
    }

    #[test]
    fn children_inherit_vars_deeper_wins() {
        let text = "\
[atlanta]
host1
host2 ansible_user=alice

[raleigh]
host3

[southeast:children]
atlanta
raleigh

[southeast:vars]
ansible_user=south
ansible_port=2201

[usa:children]
southeast

[usa:vars]
ansible_user=usa
ansible_port=2200

[raleigh:vars]
ansible_port=2203
ansible_connection=ssh
";
        let h = inv(text);
        assert_eq!(
            shown_targets(&h),
            ["south@host1:2201", "alice@host2:2201", "south@host3:2203"]
        );
    }

    #[test]
    fn group_connection_vars_skip_hosts() {
        let h = inv("[win]\nw1\nw2 ansible_connection=ssh\n[win:vars]\nansible_connection=winrm\n");
        assert_eq!(shown_targets(&h), ["w2"]);
        assert_eq!(h.skipped.len(), 1);
        assert_eq!(h.skipped[0].name, "w1");
        assert!(h.skipped[0].reason.contains("winrm"));
    }

    #[test]
    fn group_cycles_are_refused() {
        let e = inv_err("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n");
        assert!(e.starts_with("hosts.ini:"), "{e}");
        assert!(e.contains("group cycle: a -> b -> c -> a"), "{e}");
        let e = inv_err("[a:children]\na\n");
        assert_eq!(e, "hosts.ini:2: group cycle: a -> a");
    }

    #[test]
    fn ranges() {
        let h = inv("web[08:11].example.com\nh[a:c][1:2]\nn[0:10:5]\n10.0.0.[1:3]\n[y:B]x\n");
        assert_eq!(
            shown_targets(&h),
            [
                "web08.example.com",
                "web09.example.com",
                "web10.example.com",
                "web11.example.com",
                "ha1",
                "ha2",
                "hb1",
                "hb2",
                "hc1",
                "hc2",
                "n0",
                "n5",
                "n10",
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.3",
                "yx",
                "zx",
                "ax", // `A` and `B` come after `z`, and host names are lower-cased
                "bx",
            ]
        );
        for (bad, why) in [
            ("web[01:3]", "same width"),
            ("web[5:1]", "start after end"),
            ("web[1:5:0]", "step"),
            ("web[1:]", "no end"),
            ("web[a:5]", "both be numbers"),
            ("web[B:a]", "start after end"),
            ("web[1]", "expected [start:end]"),
            ("web[1:2", "without `]`"),
            ("web1:2]", "without `[`"),
            ("web[0:99999999]", "more than 65536 hosts"),
            ("h[0:999][0:999]", "more than 65536 hosts"),
        ] {
            let e = inv_err(&format!("\n{bad}\n"));
            assert!(e.starts_with("hosts.ini:2: "), "{bad}: {e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn overlapping_ranges_give_each_host_once() {
        let h = inv("[a]\n10.0.0.[1:6]\n[b]\n10.0.0.[4:8] ansible_user=ops\n[c]\n10.0.0.5\n");
        assert_eq!(h.targets.len(), 8);
        let TargetSpec::Host(t) = &h.targets[4] else {
            panic!()
        };
        // 10.0.0.5 is in all three groups; the variables of its later lines apply.
        assert_eq!(t.to_string(), "ops@10.0.0.5");
        assert_eq!(t.groups, ["a", "b", "c"]);
        assert_eq!(t.origin.as_deref(), Some("hosts.ini:2"));
        // Different names, same host+user+port: kept once.
        let h = inv("web ansible_host=10.0.0.9\nalias ansible_host=10.0.0.9\n10.0.0.9\n");
        assert_eq!(shown_targets(&h), ["10.0.0.9"]);
        let TargetSpec::Host(t) = &h.targets[0] else {
            panic!()
        };
        assert_eq!(t.spec, "web");
    }

    #[test]
    fn networks_in_inventories() {
        let h = inv("[lab]\n10.9.0.0/24\n[lab:vars]\nansible_user=ir\nansible_port=2022\n");
        assert_eq!(shown_targets(&h), ["ir@10.9.0.0/24:2022"]);
        let e = inv_err("[lab]\n10.9.0.0/24 ansible_host=10.0.0.1\n");
        assert!(
            e.starts_with("hosts.ini:2: ansible_host cannot apply"),
            "{e}"
        );
        let e = inv_err("10.0.0.0/8\n");
        assert!(e.starts_with("hosts.ini:1: network 10.0.0.0/8"), "{e}");
    }

    #[test]
    fn inventory_errors_name_file_and_line() {
        for (text, expect) in [
            ("web\n-oProxyCommand=sh\n", "hosts.ini:2: invalid target"),
            (
                "web\nweb db\n",
                "hosts.ini:2: expected `key=value` after the host",
            ),
            (
                "[web servers]\n",
                "hosts.ini:1: group name \"web servers\" contains a space",
            ),
            ("[web] extra\n", "hosts.ini:1: expected `key=value`"),
            ("[we$b]\n", "hosts.ini:1: group name"),
            ("[web:hosts]\n", "hosts.ini:1: unknown section type"),
            ("[g:vars]\nnot a var\n", "hosts.ini:2: expected `key=value`"),
            (
                "[g:vars]\nansible_port=99999\n[g]\nh\n",
                "hosts.ini:2: ansible_port",
            ),
            (
                "[g:vars]\nansible_user=a b\n",
                "hosts.ini:2: ansible_user takes exactly one",
            ),
            ("h ansible_user=Root\n", "hosts.ini:1: ansible_user"),
            (
                "h ansible_host=-oProxyCommand=x\n",
                "hosts.ini:1: ansible_host",
            ),
            ("h ansible_host=a;b\n", "hosts.ini:1: ansible_host"),
            ("h ansible_host=a:22\n", "hosts.ini:1: ansible_host"),
            (
                "h description=\"unterminated\n",
                "hosts.ini:1: unterminated",
            ),
            (
                "[g:children]\na b\n",
                "hosts.ini:2: expected one group name",
            ),
            ("web\nd\0b\n", "hosts.ini:2: line contains a NUL byte"),
            (
                "web\rdb\n",
                "hosts.ini:1: line contains control character U+000D",
            ),
        ] {
            let e = inv_err(text);
            assert!(e.starts_with(expect), "{text:?}: {e}");
        }
    }

    #[test]
    fn hostile_files() {
        let long = format!("web\n{}\n", "a".repeat(MAX_LINE_LEN + 1));
        let e = inv_err(&long);
        assert!(
            e.starts_with("hosts.ini:2: line longer than 8192 bytes"),
            "{e}"
        );
        assert!(e.len() < 100);

        let e = parse_hosts_bytes("hosts.txt", b"web\ndb\n\xff\xfehost\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hosts.txt:3: not valid UTF-8 (byte offset 7); save the file as UTF-8 text"
        );
        // UTF-16 (a Windows editor's "Unicode"): refused, not misread.
        assert!(parse_hosts_bytes("h", b"\xff\xfew\x00e\x00b\x00").is_err());

        // A quoted value with a `#` and spaces in an ignored variable is fine.
        let h = inv("web note=\"a # b\" ansible_port='2222'\n");
        assert_eq!(shown_targets(&h), ["web:2222"]);

        // Far too many hosts in one file.
        let many = "a[0:60000]\nb[0:60000]\n";
        assert!(inv_err(many).contains("more than 65536 hosts in one file"));
    }

    #[test]
    fn load_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.ini");
        std::fs::write(&path, "[g]\nweb ansible_port=2200\n").unwrap();
        let h = load_hosts_file(&path).unwrap();
        assert_eq!(shown_targets(&h), ["web:2200"]);
        let e = load_hosts_file(&dir.path().join("nope")).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = load_hosts_file(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
