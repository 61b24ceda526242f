//! The user's OpenSSH client configuration (`~/.ssh/config`), as far as a sweep needs it.
//!
//! [`SshConfig::load`] reads the file (a missing file is an empty configuration) and the files
//! it `Include`s; [`SshConfig::resolve`] answers "what does ssh(1) use for this host?" with a
//! [`HostConfig`]. OpenSSH semantics are followed where it matters for connecting:
//!
//! - keywords are case-insensitive; `Keyword value` and `Keyword=value`; `"..."` and `'...'`
//!   quote; a `#` at the start of a word ends the line;
//! - `Host` lines take several patterns with `*`, `?` and `!negation` (a negated match rules the
//!   block out); host patterns are matched case-insensitively against the name given to
//!   `resolve` (the alias, before `HostName`);
//! - the first value obtained for a keyword wins, except `IdentityFile`, which accumulates
//!   (duplicates dropped); `ProxyJump` and `ProxyCommand` share one slot as in OpenSSH;
//! - `Match` is supported with `all`, `host`, `originalhost`, `user` and `localuser` (each may
//!   be negated with `!`, pattern lists are comma-separated, all criteria must hold). Blocks
//!   using any other criterion (`exec`, `canonical`, `final`, `localnetwork`, `tagged`, ...)
//!   never apply; [`HostConfig::warnings`] says so, naming the file, the line and what the
//!   block would have set;
//! - `Include` (only when loaded from a file): paths relative to `~/.ssh/`, `~` expanded, glob
//!   patterns (`*`, `?`, `[...]`) sorted, nested at most 16 deep; an Include inside a `Host` or
//!   `Match` block applies only when that block does. A file that does not exist is skipped,
//!   like OpenSSH does;
//! - files must be owned by the user or root and not writable by group or others (OpenSSH's
//!   "Bad owner or permissions"), at most 1 MiB each, UTF-8.
//!
//! Keywords used: HostName (`%h`, `%%`), User, Port, IdentityFile (`~`, `%d` `%u` `%h` `%r`
//! `%n` `%p` `%i` `%%`), IdentitiesOnly, UserKnownHostsFile (the first file), StrictHostKeyChecking,
//! ConnectTimeout. ProxyJump, ProxyCommand and `RefuseConnection yes` cannot be honoured by
//! dossier's transport, so `resolve` lists them in [`HostConfig::unsupported`] and the sweep
//! must refuse such a host rather than connect directly. Some other keywords that change
//! where or how ssh connects (HostKeyAlias, CertificateFile, IdentityAgent, BindAddress, ...)
//! are not honoured either and produce a warning. All other OpenSSH keywords are accepted and
//! ignored; a keyword OpenSSH does not know either is reported by [`SshConfig::warnings`].
//!
//! Nothing here runs a command, resolves a name or opens a socket.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Deepest `Include` nesting (OpenSSH's limit).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Most files read for one configuration (the main file and all includes).
const MAX_FILES: usize = 256;

/// Most identity files per host (OpenSSH's limit).
const MAX_IDENTITY_FILES: usize = 100;

/// What `StrictHostKeyChecking` asks for. `ask` is read as [`StrictMode::Yes`]: a sweep cannot
/// ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictMode {
    /// `yes`, `true`, `ask`: unknown and changed keys are refused.
    Yes,
    /// `accept-new`: unknown keys are recorded and trusted, changed keys refused.
    AcceptNew,
    /// `no`, `off`, `false`: the configuration disables host key checking.
    No,
}

/// What the configuration says about one host. `None` / empty means "not configured": the
/// caller applies its own default (command-line option, port 22, the local user, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, `%h` expanded; `None`: connect to the name given to `resolve`.
    pub hostname: Option<String>,
    /// `User` (or the user given to [`SshConfig::resolve_with`]).
    pub user: Option<String>,
    /// `Port` (or the port given to [`SshConfig::resolve_with`]).
    pub port: Option<u16>,
    /// `IdentityFile`s in order, `~` and `%` tokens expanded. Empty when none is configured
    /// (OpenSSH would then try `~/.ssh/id_*`).
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// The first `UserKnownHostsFile`, expanded (`none` becomes `/dev/null`).
    pub known_hosts: Option<PathBuf>,
    /// `StrictHostKeyChecking`.
    pub strict: Option<StrictMode>,
    /// `ConnectTimeout`; `None` also when set to `none` or 0 (no timeout in OpenSSH): a sweep
    /// always uses a timeout of its own then.
    pub connect_timeout: Option<Duration>,
    /// Settings that apply to this host and that dossier's transport cannot honour, e.g.
    /// `ProxyJump bastion (~/.ssh/config:12)`. Non-empty means: do not connect to this host.
    pub unsupported: Vec<String>,
    /// Things ignored or approximated for this host, each naming file and line.
    pub warnings: Vec<String>,
}

/// A configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SshConfigError {
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

/// The local account, for `~`, `%d`, `%u`, `%i`, `Match localuser` and file ownership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalUser {
    pub name: String,
    pub home: PathBuf,
    pub uid: u32,
}

impl LocalUser {
    /// The current user from `$HOME` and `$USER` (or `$LOGNAME`) and the real uid. The
    /// password database is not consulted: with NSS modules it may talk to the network.
    pub fn current() -> LocalUser {
        let uid = nix::unistd::getuid().as_raw();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| uid.to_string());
        LocalUser { name, home, uid }
    }

    /// `~/.ssh/config`.
    pub fn default_config_path(&self) -> PathBuf {
        self.home.join(".ssh").join("config")
    }
}

/// A parsed configuration; see the module documentation.
#[derive(Clone, Debug)]
pub struct SshConfig {
    items: Vec<Item>,
    conditions: Vec<Condition>,
    local: LocalUser,
    warnings: Vec<String>,
}

/// Where a line is: `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    file: String,
    line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Clone, Debug)]
enum Item {
    /// A `Host` or `Match` line: evaluate condition `id` here, if every `outer` condition
    /// (from the blocks enclosing the `Include` that brought it in) holds.
    Cond { id: usize, outer: Vec<usize> },
    /// A setting that applies when every condition in `conds` holds.
    Set {
        conds: Vec<usize>,
        at: Origin,
        setting: Setting,
    },
}

#[derive(Clone, Debug)]
enum Setting {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    IdentitiesOnly(bool),
    KnownHosts(String),
    Strict(StrictMode),
    ConnectTimeout(Option<Duration>),
    /// ProxyJump or ProxyCommand (one slot); `none` disables.
    Proxy {
        keyword: &'static str,
        value: String,
    },
    RefuseConnection(bool),
    /// A keyword that is not honoured: warn when it applies.
    NotHonoured(&'static str),
    /// Something else to warn about when it applies.
    Warning(&'static str),
}

impl Setting {
    fn keyword(&self) -> &'static str {
        match self {
            Setting::HostName(_) => "HostName",
            Setting::User(_) => "User",
            Setting::Port(_) => "Port",
            Setting::IdentityFile(_) => "IdentityFile",
            Setting::IdentitiesOnly(_) => "IdentitiesOnly",
            Setting::KnownHosts(_) => "UserKnownHostsFile",
            Setting::Strict(_) => "StrictHostKeyChecking",
            Setting::ConnectTimeout(_) => "ConnectTimeout",
            Setting::Proxy { keyword, .. } => keyword,
            Setting::RefuseConnection(_) => "RefuseConnection",
            Setting::NotHonoured(k) => k,
            Setting::Warning(_) => "Include",
        }
    }
}

#[derive(Clone, Debug)]
struct Pattern {
    negated: bool,
    glob: Vec<char>,
}

#[derive(Clone, Debug)]
enum Criterion {
    All,
    Host(Vec<Pattern>),
    OriginalHost(Vec<Pattern>),
    User(Vec<Pattern>),
    LocalUser(Vec<Pattern>),
}

#[derive(Clone, Debug)]
enum Condition {
    /// `Host` patterns (lower-cased).
    Host(Vec<Pattern>),
    /// `Match` criteria, all of which must hold; `true` for a negated `!criterion`.
    Match(Vec<(bool, Criterion)>),
    /// A `Match` with a criterion that is not supported: never applies; warn when reached.
    Skipped { warning: String },
}

/// OpenSSH client keywords (lower case), so that only truly unknown ones are reported.
const KNOWN_KEYWORDS: &[&str] = &[
    "addkeystoagent",
    "addressfamily",
    "batchmode",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "challengeresponseauthentication",
    "channeltimeout",
    "checkhostip",
    "cipher",
    "ciphers",
    "clearallforwardings",
    "compression",
    "compressionlevel",
    "connectionattempts",
    "connecttimeout",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fallbacktorsh",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardagent",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "globalknownhostsfile",
    "gssapiauthentication",
    "gssapiclientidentity",
    "gssapidelegatecredentials",
    "gssapikeyexchange",
    "gssapikexalgorithms",
    "gssapirenewalforcesrekey",
    "gssapiserveridentity",
    "gssapitrustdns",
    "hashknownhosts",
    "host",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "hostkeyalgorithms",
    "hostkeyalias",
    "hostname",
    "identitiesonly",
    "identityagent",
    "identityfile",
    "ignoreunknown",
    "include",
    "ipqos",
    "kbdinteractiveauthentication",
    "kbdinteractivedevices",
    "kexalgorithms",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "loglevel",
    "logverbose",
    "macs",
    "match",
    "nohostauthenticationforlocalhost",
    "numberofpasswordprompts",
    "obscurekeystroketiming",
    "passwordauthentication",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "port",
    "preferredauthentications",
    "protocol",
    "proxycommand",
    "proxyjump",
    "proxyusefdpass",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "refuseconnection",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "securitykeyprovider",
    "sendenv",
    "serveralivecountmax",
    "serveraliveinterval",
    "sessiontype",
    "setenv",
    "smartcarddevice",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "stricthostkeychecking",
    "syslogfacility",
    "tag",
    "tcpkeepalive",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "usekeychain",
    "useprivilegedport",
    "user",
    "userknownhostsfile",
    "useroaming",
    "usersh",
    "verifyhostkeydns",
    "versionaddendum",
    "visualhostkey",
    "warnweakcrypto",
    "xauthlocation",
];

/// Keywords that change where or how ssh connects and that dossier does not honour.
const NOT_HONOURED: &[(&str, &str)] = &[
    ("hostkeyalias", "HostKeyAlias"),
    ("certificatefile", "CertificateFile"),
    ("identityagent", "IdentityAgent"),
    ("bindaddress", "BindAddress"),
    ("bindinterface", "BindInterface"),
    ("knownhostscommand", "KnownHostsCommand"),
    ("pkcs11provider", "PKCS11Provider"),
    ("securitykeyprovider", "SecurityKeyProvider"),
    ("canonicalizehostname", "CanonicalizeHostname"),
    ("addressfamily", "AddressFamily"),
];

/// Tokens OpenSSH knows in file names but dossier does not expand (the value is then
/// dropped with a warning).
const UNEXPANDED_TOKENS: &str = "CjkLlT";

impl SshConfig {
    /// Parses configuration text, for the current user. `Include` lines are not followed
    /// here (nothing is read from disk): each one that applies to a host adds a warning.
    pub fn parse(name_for_errors: &str, text: &str) -> Result<SshConfig, SshConfigError> {
        SshConfig::parse_as(name_for_errors, text, LocalUser::current())
    }

    /// [`SshConfig::parse`] for a given local user.
    pub fn parse_as(
        name_for_errors: &str,
        text: &str,
        local: LocalUser,
    ) -> Result<SshConfig, SshConfigError> {
        let mut p = Parser::new(local, false);
        p.parse_text(name_for_errors, text, &[], 0)?;
        Ok(p.finish())
    }

    /// Loads a configuration file and its includes, for the current user; a missing file is
    /// an empty configuration.
    pub fn load(path: &Path) -> Result<SshConfig, SshConfigError> {
        SshConfig::load_as(path, LocalUser::current())
    }

    /// [`SshConfig::load`] for a given local user (whose home holds `.ssh/` for includes).
    pub fn load_as(path: &Path, local: LocalUser) -> Result<SshConfig, SshConfigError> {
        let mut p = Parser::new(local, true);
        let name = path.display().to_string();
        if let Some(text) = p.read_file(path, &name)? {
            p.parse_text(&name, &text, &[], 0)?;
        }
        Ok(p.finish())
    }

    /// An empty configuration (no file).
    pub fn empty() -> SshConfig {
        SshConfig {
            items: Vec::new(),
            conditions: Vec::new(),
            local: LocalUser::current(),
            warnings: Vec::new(),
        }
    }

    /// Warnings about the configuration as a whole (keywords OpenSSH does not know,
    /// includes that could not be followed), each naming file and line.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What applies to `alias` (the host name as given on the command line or in the hosts
    /// file).
    pub fn resolve(&self, alias: &str) -> HostConfig {
        self.resolve_with(alias, None, None)
    }

    /// Like [`SshConfig::resolve`], with a user and port given explicitly (`user@host:port`,
    /// `--user`, `--port`): as with `ssh -l user -p port`, they take precedence over the file,
    /// and `Match user` and the `%r`/`%p` tokens see them.
    pub fn resolve_with(&self, alias: &str, user: Option<&str>, port: Option<u16>) -> HostConfig {
        let mut st = State {
            user: user.map(str::to_string),
            port,
            ..State::default()
        };
        let alias_lc = alias.to_ascii_lowercase();
        let mut value = vec![false; self.conditions.len()];
        for item in &self.items {
            match item {
                Item::Cond { id, outer } => {
                    let reached = outer.iter().all(|&o| value[o]);
                    value[*id] = reached && self.eval(*id, alias, &alias_lc, &st);
                    if reached && let Condition::Skipped { warning } = &self.conditions[*id] {
                        st.warn(warning.clone());
                    }
                }
                Item::Set { conds, at, setting } => {
                    if conds.iter().all(|&c| value[c]) {
                        st.apply(setting, at);
                    }
                }
            }
        }
        self.finish_resolve(alias, st)
    }

    fn eval(&self, id: usize, alias: &str, alias_lc: &str, st: &State) -> bool {
        match &self.conditions[id] {
            Condition::Host(patterns) => match_list(patterns, alias_lc),
            Condition::Skipped { .. } => false,
            Condition::Match(criteria) => criteria.iter().all(|(negated, c)| {
                let hit = match c {
                    Criterion::All => true,
                    Criterion::Host(p) => {
                        let target = match &st.hostname {
                            Some(h) => expand_hostname(h, alias),
                            None => alias.to_string(),
                        };
                        match_list(p, &target.to_ascii_lowercase())
                    }
                    Criterion::OriginalHost(p) => match_list(p, alias_lc),
                    Criterion::User(p) => {
                        match_list(p, st.user.as_deref().unwrap_or(&self.local.name))
                    }
                    Criterion::LocalUser(p) => match_list(p, &self.local.name),
                };
                hit != *negated
            }),
        }
    }

    fn finish_resolve(&self, alias: &str, mut st: State) -> HostConfig {
        let hostname = st.hostname.as_deref().map(|h| expand_hostname(h, alias));
        let tokens = Tokens {
            local: &self.local,
            host: hostname.as_deref().unwrap_or(alias),
            alias,
            port: st.port.unwrap_or(22),
            remote_user: st.user.as_deref().unwrap_or(&self.local.name),
        };
        let mut identity_files: Vec<PathBuf> = Vec::new();
        for (raw, at) in &st.identity {
            match tokens.expand_path(raw) {
                Ok(p) => {
                    if !identity_files.contains(&p) {
                        if identity_files.len() >= MAX_IDENTITY_FILES {
                            st.warnings.push(format!(
                                "{at}: more than {MAX_IDENTITY_FILES} identity files; the rest are ignored"
                            ));
                            break;
                        }
                        identity_files.push(p);
                    }
                }
                Err(why) => st
                    .warnings
                    .push(format!("{at}: IdentityFile {raw:?} ignored: {why}")),
            }
        }
        let known_hosts = match &st.known_hosts {
            Some((raw, _)) if raw.eq_ignore_ascii_case("none") => Some(PathBuf::from("/dev/null")),
            Some((raw, at)) => match tokens.expand_path(raw) {
                Ok(p) => Some(p),
                Err(why) => {
                    st.warnings
                        .push(format!("{at}: UserKnownHostsFile {raw:?} ignored: {why}"));
                    None
                }
            },
            None => None,
        };
        let mut unsupported = Vec::new();
        if let Some((keyword, value, at)) = &st.proxy
            && !value.eq_ignore_ascii_case("none")
        {
            unsupported.push(format!(
                "{keyword} {value} ({at}): dossier's SSH transport cannot connect through a proxy"
            ));
        }
        if let Some((true, at)) = &st.refuse {
            unsupported.push(format!(
                "RefuseConnection yes ({at}): the SSH configuration refuses connections to this host"
            ));
        }
        let mut warnings = Vec::new();
        for w in st.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        HostConfig {
            hostname,
            user: st.user,
            port: st.port,
            identity_files,
            identities_only: st.identities_only.unwrap_or(false),
            known_hosts,
            strict: st.strict,
            connect_timeout: st.connect_timeout.flatten(),
            unsupported,
            warnings,
        }
    }
}

/// Values obtained so far while resolving one host (first one wins).
#[derive(Default)]
struct State {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity: Vec<(String, Origin)>,
    identities_only: Option<bool>,
    known_hosts: Option<(String, Origin)>,
    strict: Option<StrictMode>,
    connect_timeout: Option<Option<Duration>>,
    proxy: Option<(&'static str, String, Origin)>,
    refuse: Option<(bool, Origin)>,
    warnings: Vec<String>,
}

impl State {
    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn apply(&mut self, setting: &Setting, at: &Origin) {
        fn first<T: Clone>(slot: &mut Option<T>, v: &T) {
            if slot.is_none() {
                *slot = Some(v.clone());
            }
        }
        match setting {
            Setting::HostName(v) => first(&mut self.hostname, v),
            Setting::User(v) => first(&mut self.user, v),
            Setting::Port(v) => first(&mut self.port, v),
            Setting::IdentityFile(v) => self.identity.push((v.clone(), at.clone())),
            Setting::IdentitiesOnly(v) => first(&mut self.identities_only, v),
            Setting::KnownHosts(v) => first(&mut self.known_hosts, &(v.clone(), at.clone())),
            Setting::Strict(v) => first(&mut self.strict, v),
            Setting::ConnectTimeout(v) => first(&mut self.connect_timeout, v),
            Setting::Proxy { keyword, value } => {
                first(&mut self.proxy, &(*keyword, value.clone(), at.clone()))
            }
            Setting::RefuseConnection(v) => first(&mut self.refuse, &(*v, at.clone())),
            Setting::NotHonoured(k) => self.warn(format!(
                "{at}: {k} is not honoured by dossier's SSH transport (ignored)"
            )),
            Setting::Warning(w) => self.warn(format!("{at}: {w}")),
        }
    }
}

/// Context for `%` tokens and `~` in file names.
struct Tokens<'a> {
    local: &'a LocalUser,
    host: &'a str,
    alias: &'a str,
    port: u16,
    remote_user: &'a str,
}

impl Tokens<'_> {
    fn expand_path(&self, raw: &str) -> Result<PathBuf, String> {
        if raw.contains("${") {
            return Err("environment variables (${...}) are not expanded by dossier".into());
        }
        let home = self.local.home.to_string_lossy();
        let tilde = if raw == "~" {
            home.to_string()
        } else if let Some(rest) = raw.strip_prefix("~/") {
            format!("{}/{rest}", home.trim_end_matches('/'))
        } else if raw.starts_with('~') {
            return Err("`~user` paths are not supported".into());
        } else {
            raw.to_string()
        };
        let mut out = String::new();
        let mut chars = tilde.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str(&home),
                Some('h') => out.push_str(self.host),
                Some('n') => out.push_str(self.alias),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(self.remote_user),
                Some('u') => out.push_str(&self.local.name),
                Some('i') => out.push_str(&self.local.uid.to_string()),
                Some(t) => return Err(format!("token %{t} is not expanded by dossier")),
                None => return Err("`%` at the end".into()),
            }
        }
        Ok(PathBuf::from(out))
    }
}

/// `HostName` with `%h` (the alias) and `%%` expanded.
fn expand_hostname(value: &str, alias: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(alias),
            // `%%`; other tokens were refused when parsing.
            Some(other) => out.push(other),
            None => out.push('%'),
        }
    }
    out
}

/// Checks `%` tokens: `allowed` are expanded, [`UNEXPANDED_TOKENS`] are known to OpenSSH (the
/// value is dropped with a warning when used), anything else is an error as in OpenSSH.
fn check_tokens(value: &str, allowed: &str, unexpanded_ok: bool) -> Result<(), String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('%') => {}
            Some(t) if allowed.contains(t) => {}
            Some(t) if unexpanded_ok && UNEXPANDED_TOKENS.contains(t) => {}
            Some(t) => return Err(format!("unknown token %{t} in {value:?}")),
            None => return Err(format!("`%` at the end of {value:?}")),
        }
    }
    Ok(())
}

/// OpenSSH's `match_pattern_list`: some positive pattern matches and no negated one does.
fn match_list(patterns: &[Pattern], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let mut hit = false;
    for p in patterns {
        if wildmatch(&p.glob, &text, false) {
            if p.negated {
                return false;
            }
            hit = true;
        }
    }
    hit
}

/// `*` and `?` wildcards (and `[...]` classes when `classes`), without exponential
/// backtracking.
fn wildmatch(pattern: &[char], text: &[char], classes: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' if classes => {
                    if let Some((matched, len)) = match_class(&pattern[p..], text[t]) {
                        if matched {
                            p += len;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches one character against a `[...]` class at the start of `pattern`: `Some((hit,
/// length of the class))`, or `None` when the `[` does not open a valid class.
fn match_class(pattern: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < pattern.len() {
        let lo = pattern[i];
        if lo == ']' && !first {
            return Some((hit != negated, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = pattern[i + 2];
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    None
}

fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// OpenSSH's `argv_split`: white space separates words, `"` and `'` quote, a backslash
/// escapes a quote, a backslash or (outside quotes) a space, and a `#` at the start of a
/// word ends the line.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                match chars.get(i + 1) {
                    Some(&n @ ('\'' | '"' | '\\')) => {
                        arg.push(n);
                        i += 1;
                    }
                    Some(' ') if quote.is_none() => {
                        arg.push(' ');
                        i += 1;
                    }
                    _ => arg.push('\\'),
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        args.push(arg);
    }
    Ok(args)
}

/// Splits a line into its lower-cased keyword, the raw rest (for ProxyCommand) and the
/// arguments; `None` for blank and comment lines.
fn split_line(line: &str) -> Result<Option<(String, String, Vec<String>)>, String> {
    let line = line.trim_end_matches([' ', '\t', '\r', '\n', '\x0c']);
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = &line[..end];
    if keyword.is_empty() {
        return Err("missing keyword before `=`".into());
    }
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    if rest.is_empty() {
        return Err(format!("no argument after keyword \"{keyword}\""));
    }
    let args = split_args(rest)?;
    if args.is_empty() {
        return Err(format!("no argument after keyword \"{keyword}\""));
    }
    Ok(Some((keyword.to_ascii_lowercase(), rest.to_string(), args)))
}

fn parse_patterns(args: &[String], lowercase: bool) -> Vec<Pattern> {
    args.iter()
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (negated, glob) = match a.strip_prefix('!') {
                Some(g) => (true, g),
                None => (false, a.as_str()),
            };
            let glob = if lowercase {
                glob.to_ascii_lowercase()
            } else {
                glob.to_string()
            };
            Pattern {
                negated,
                glob: glob.chars().collect(),
            }
        })
        .collect()
}

fn comma_list(arg: &str, lowercase: bool) -> Vec<Pattern> {
    let parts: Vec<String> = arg.split(',').map(str::to_string).collect();
    parse_patterns(&parts, lowercase)
}

fn parse_bool(keyword: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!(
            "{keyword}: unsupported option {v:?} (expected yes or no)"
        )),
    }
}

/// OpenSSH's `convtime`: `90`, `1m30s`, `2h`, units s m h d w (any case).
fn parse_time(v: &str) -> Result<Option<Duration>, String> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || format!("invalid time value {v:?}");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.checked_add(n).ok_or_else(bad)?;
    } else if v.is_empty() || !v.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    if total > i32::MAX as u64 {
        return Err(bad());
    }
    Ok((total > 0).then(|| Duration::from_secs(total)))
}

struct Parser {
    local: LocalUser,
    follow_includes: bool,
    items: Vec<Item>,
    conditions: Vec<Condition>,
    warnings: Vec<String>,
    ignore_unknown: Vec<Pattern>,
    files: usize,
}

impl Parser {
    fn new(local: LocalUser, follow_includes: bool) -> Parser {
        Parser {
            local,
            follow_includes,
            items: Vec::new(),
            conditions: Vec::new(),
            warnings: Vec::new(),
            ignore_unknown: Vec::new(),
            files: 0,
        }
    }

    /// Adds to each skipped `Match` block's warning what the block would have set.
    fn finish(mut self) -> SshConfig {
        let mut sets: Vec<Vec<&'static str>> = vec![Vec::new(); self.conditions.len()];
        for item in &self.items {
            if let Item::Set { conds, setting, .. } = item {
                for &c in conds {
                    let k = setting.keyword();
                    if !sets[c].contains(&k) {
                        sets[c].push(k);
                    }
                }
            }
        }
        for (c, keywords) in self.conditions.iter_mut().zip(sets) {
            if let Condition::Skipped { warning } = c {
                if keywords.is_empty() {
                    warning.push_str(" (it sets nothing dossier uses)");
                } else {
                    warning.push_str(&format!(" (it would set {})", keywords.join(", ")));
                }
            }
        }
        SshConfig {
            items: self.items,
            conditions: self.conditions,
            local: self.local,
            warnings: self.warnings,
        }
    }

    /// Reads one configuration file: `None` when it does not exist.
    fn read_file(&mut self, path: &Path, name: &str) -> Result<Option<String>, SshConfigError> {
        let err = |message: String| SshConfigError::File {
            file: name.to_string(),
            message,
        };
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(e.to_string())),
        };
        if !meta.is_file() {
            return Err(err("not a regular file".into()));
        }
        if (meta.uid() != 0 && meta.uid() != self.local.uid) || meta.mode() & 0o022 != 0 {
            return Err(err(format!(
                "bad owner or permissions (owner uid {}, mode {:o}): it must belong to you or root and not be writable by group or others, as ssh(1) requires",
                meta.uid(),
                meta.mode() & 0o7777
            )));
        }
        if meta.len() > MAX_CONFIG_FILE {
            return Err(err(format!(
                "larger than {MAX_CONFIG_FILE} bytes ({} bytes); not read",
                meta.len()
            )));
        }
        self.files += 1;
        if self.files > MAX_FILES {
            return Err(err(format!(
                "more than {MAX_FILES} configuration files included"
            )));
        }
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG_FILE + 1).read_to_end(&mut bytes))
            .map_err(|e| err(e.to_string()))?;
        if bytes.len() as u64 > MAX_CONFIG_FILE {
            return Err(err(format!(
                "larger than {MAX_CONFIG_FILE} bytes; not read"
            )));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                Err(SshConfigError::Syntax {
                    file: name.to_string(),
                    line,
                    message: "not valid UTF-8".into(),
                })
            }
        }
    }

    fn parse_text(
        &mut self,
        file: &str,
        text: &str,
        inherited: &[usize],
        depth: usize,
    ) -> Result<(), SshConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut current: Option<usize> = None;
        for (i, raw) in text.split('\n').enumerate() {
            let at = Origin {
                file: file.to_string(),
                line: i + 1,
            };
            let syntax = |message: String| SshConfigError::Syntax {
                file: at.file.clone(),
                line: at.line,
                message,
            };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(c) = raw
                .chars()
                .find(|&c| c.is_control() && !matches!(c, '\t' | '\x0c'))
            {
                return Err(syntax(format!(
                    "line contains control character U+{:04X}",
                    c as u32
                )));
            }
            let Some((keyword, rest, args)) = split_line(raw).map_err(syntax)? else {
                continue;
            };
            let mut conds: Vec<usize> = inherited.to_vec();
            conds.extend(current);
            match keyword.as_str() {
                "host" => {
                    let patterns = parse_patterns(&args, true);
                    if patterns.is_empty() {
                        return Err(syntax("Host needs at least one pattern".into()));
                    }
                    current = Some(self.condition(Condition::Host(patterns), inherited));
                }
                "match" => {
                    let cond = self.match_condition(&args, &at).map_err(syntax)?;
                    current = Some(self.condition(cond, inherited));
                }
                "include" => {
                    self.include(&args, &at, &conds, depth)?;
                }
                "ignoreunknown" => {
                    self.ignore_unknown.extend(comma_list(&args[0], true));
                }
                _ => {
                    if let Some(setting) =
                        self.setting(&keyword, &rest, &args, &at).map_err(syntax)?
                    {
                        self.items.push(Item::Set { conds, at, setting });
                    }
                }
            }
        }
        Ok(())
    }

    fn condition(&mut self, cond: Condition, inherited: &[usize]) -> usize {
        let id = self.conditions.len();
        self.conditions.push(cond);
        self.items.push(Item::Cond {
            id,
            outer: inherited.to_vec(),
        });
        id
    }

    fn match_condition(&self, args: &[String], at: &Origin) -> Result<Condition, String> {
        let mut criteria = Vec::new();
        let mut unsupported: Option<String> = None;
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            let (negated, name) = match word.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, word.as_str()),
            };
            let name = name.to_ascii_lowercase();
            i += 1;
            match name.as_str() {
                "all" => {
                    if args.len() > 1 {
                        return Err(format!(
                            "'{word}' cannot be combined with other Match attributes"
                        ));
                    }
                    criteria.push((negated, Criterion::All));
                    continue;
                }
                "canonical" | "final" => {
                    unsupported.get_or_insert_with(|| format!("Match {}", args.join(" ")));
                    continue;
                }
                _ => {}
            }
            let Some(arg) = args.get(i) else {
                return Err(format!("missing Match criteria for {name}"));
            };
            i += 1;
            match name.as_str() {
                "host" => criteria.push((negated, Criterion::Host(comma_list(arg, true)))),
                "originalhost" => {
                    criteria.push((negated, Criterion::OriginalHost(comma_list(arg, true))))
                }
                "user" => criteria.push((negated, Criterion::User(comma_list(arg, false)))),
                "localuser" => {
                    criteria.push((negated, Criterion::LocalUser(comma_list(arg, false))))
                }
                "exec" | "localnetwork" | "tagged" | "version" | "sessiontype" | "command" => {
                    unsupported.get_or_insert_with(|| format!("Match {}", args.join(" ")));
                }
                _ => return Err(format!("unsupported Match attribute {name}")),
            }
        }
        if criteria.is_empty() && unsupported.is_none() {
            return Err("one or more attributes required for Match".into());
        }
        Ok(match unsupported {
            Some(what) => Condition::Skipped {
                warning: format!(
                    "{at}: `{what}` is not supported by dossier: the block is skipped"
                ),
            },
            None => Condition::Match(criteria),
        })
    }

    fn include(
        &mut self,
        args: &[String],
        at: &Origin,
        conds: &[usize],
        depth: usize,
    ) -> Result<(), SshConfigError> {
        let syntax = |message: String| SshConfigError::Syntax {
            file: at.file.clone(),
            line: at.line,
            message,
        };
        if !self.follow_includes {
            self.items.push(Item::Set {
                conds: conds.to_vec(),
                at: at.clone(),
                setting: Setting::Warning(
                    "Include not followed: the configuration was parsed from text, not loaded from a file",
                ),
            });
            return Ok(());
        }
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(syntax(format!(
                "Include nested more than {MAX_INCLUDE_DEPTH} deep (an Include loop?)"
            )));
        }
        let ssh_dir = self.local.home.join(".ssh");
        for arg in args {
            let pattern = if arg == "~" {
                self.local.home.clone()
            } else if let Some(rest) = arg.strip_prefix("~/") {
                self.local.home.join(rest)
            } else if arg.starts_with('~') {
                self.warnings.push(format!(
                    "{at}: Include {arg:?} not followed: `~user` paths are not supported"
                ));
                continue;
            } else if arg.starts_with('/') {
                PathBuf::from(arg)
            } else {
                ssh_dir.join(arg)
            };
            let paths = glob(&pattern).map_err(syntax)?;
            for path in paths {
                let name = path.display().to_string();
                if let Some(text) = self.read_file(&path, &name)? {
                    self.parse_text(&name, &text, conds, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// One keyword that is neither `Host`, `Match` nor `Include`.
    fn setting(
        &mut self,
        keyword: &str,
        rest: &str,
        args: &[String],
        at: &Origin,
    ) -> Result<Option<Setting>, String> {
        let one = |name: &str| -> Result<&String, String> {
            if args.len() > 1 {
                Err(format!("{name}: garbage at end of line ({:?})", args[1]))
            } else {
                Ok(&args[0])
            }
        };
        let v = &args[0];
        Ok(Some(match keyword {
            "hostname" => {
                let v = one("HostName")?;
                if v.chars().any(|c| c.is_whitespace() || c.is_control()) || v.is_empty() {
                    return Err(format!("HostName {v:?} is not a host name"));
                }
                check_tokens(v, "h", false).map_err(|e| format!("HostName: {e}"))?;
                Setting::HostName(v.clone())
            }
            "user" => {
                let v = one("User")?;
                if v.chars().any(|c| c.is_whitespace() || c.is_control()) || v.is_empty() {
                    return Err(format!("User {v:?} is not a user name"));
                }
                Setting::User(v.clone())
            }
            "port" => {
                let v = one("Port")?;
                match v.parse::<u32>() {
                    Ok(n @ 1..=65535) if v.bytes().all(|b| b.is_ascii_digit()) => {
                        Setting::Port(n as u16)
                    }
                    _ => return Err(format!("Port {v:?} is not a number 1-65535")),
                }
            }
            "identityfile" => {
                let v = one("IdentityFile")?;
                check_tokens(v, "dhinpru", true).map_err(|e| format!("IdentityFile: {e}"))?;
                Setting::IdentityFile(v.clone())
            }
            "identitiesonly" => {
                Setting::IdentitiesOnly(parse_bool("IdentitiesOnly", one("IdentitiesOnly")?)?)
            }
            "userknownhostsfile" => {
                for f in args {
                    check_tokens(f, "dhinpru", true)
                        .map_err(|e| format!("UserKnownHostsFile: {e}"))?;
                }
                Setting::KnownHosts(v.clone())
            }
            "stricthostkeychecking" => {
                let v = one("StrictHostKeyChecking")?;
                Setting::Strict(match v.to_ascii_lowercase().as_str() {
                    "yes" | "true" | "ask" => StrictMode::Yes,
                    "accept-new" => StrictMode::AcceptNew,
                    "no" | "false" | "off" => StrictMode::No,
                    _ => {
                        return Err(format!(
                            "StrictHostKeyChecking: unsupported option {v:?} (expected yes, no, ask, accept-new or off)"
                        ));
                    }
                })
            }
            "connecttimeout" => Setting::ConnectTimeout(
                parse_time(one("ConnectTimeout")?).map_err(|e| format!("ConnectTimeout: {e}"))?,
            ),
            "proxyjump" => Setting::Proxy {
                keyword: "ProxyJump",
                value: one("ProxyJump")?.clone(),
            },
            "proxycommand" => Setting::Proxy {
                keyword: "ProxyCommand",
                value: rest.to_string(),
            },
            "refuseconnection" => Setting::RefuseConnection(parse_bool("RefuseConnection", v)?),
            "canonicalizehostname"
                if v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("false") =>
            {
                return Ok(None);
            }
            k => {
                if let Some((_, name)) = NOT_HONOURED.iter().find(|(lc, _)| *lc == k) {
                    Setting::NotHonoured(name)
                } else {
                    if !KNOWN_KEYWORDS.contains(&k) && !match_list(&self.ignore_unknown, k) {
                        self.warnings.push(format!(
                            "{at}: unknown keyword {k:?} ignored (OpenSSH would refuse it: \"Bad configuration option\")"
                        ));
                    }
                    return Ok(None);
                }
            }
        }))
    }
}

/// Expands a glob pattern in an absolute path, component by component, into the existing
/// paths it matches (sorted). Names starting with `.` match only a pattern starting with `.`.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut bases = vec![PathBuf::new()];
    for comp in pattern.components() {
        match comp {
            Component::Normal(os) => {
                let s = os.to_string_lossy();
                if !has_wildcards(&s) {
                    for b in &mut bases {
                        b.push(os);
                    }
                    continue;
                }
                let pat: Vec<char> = s.chars().collect();
                let mut next = Vec::new();
                for b in &bases {
                    let Ok(entries) = fs::read_dir(b) else {
                        continue;
                    };
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| !n.starts_with('.') || s.starts_with('.'))
                        .filter(|n| wildmatch(&pat, &n.chars().collect::<Vec<_>>(), true))
                        .take(MAX_FILES + 1)
                        .collect();
                    names.sort();
                    next.extend(names.into_iter().map(|n| b.join(n)));
                }
                if next.len() > MAX_FILES {
                    return Err(format!(
                        "Include pattern {} matches more than {MAX_FILES} files",
                        pattern.display()
                    ));
                }
                bases = next;
            }
            other => {
                for b in &mut bases {
                    b.push(other.as_os_str());
                }
            }
        }
    }
    bases.sort();
    bases.retain(|p| p.exists());
    Ok(bases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> LocalUser {
        LocalUser {
            name: "alice".into(),
            home: PathBuf::from("/home/alice"),
            uid: 1000,
        }
    }

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse_as("config", text, me()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cfg_err(text: &str) -> String {
        match SshConfig::parse_as("config", text, me()) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    const REALISTIC: &str = r#"
# ~/.ssh/config of an incident responder
Host bastion
    HostName bastion.corp.example.com
    User jump

Host *.prod.example.com !db-*.prod.example.com
    User ops
    Port 2222
    IdentityFile ~/.ssh/prod_ed25519
    IdentitiesOnly yes

Host db-*.prod.example.com
    ProxyJump bastion

Host web?
    HostName %h.internal.example.com
    StrictHostKeyChecking accept-new

Host lab-* 10.9.*
    UserKnownHostsFile ~/.ssh/known_hosts.lab ~/.ssh/known_hosts.other
    StrictHostKeyChecking=ask
    ConnectTimeout=5
    IdentityFile "~/.ssh/keys/%r@%h"

Host *
    User fallback
    Port 22
    IdentityFile ~/.ssh/id_ed25519
    ServerAliveInterval 30
    ConnectTimeout 10
"#;

    #[test]
    fn realistic_config() {
        let c = cfg(REALISTIC);
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());

        let h = c.resolve("app1.prod.example.com");
        assert_eq!(h.hostname, None);
        assert_eq!(h.user.as_deref(), Some("ops"));
        assert_eq!(h.port, Some(2222));
        assert_eq!(
            h.identity_files,
            [
                PathBuf::from("/home/alice/.ssh/prod_ed25519"),
                PathBuf::from("/home/alice/.ssh/id_ed25519")
            ]
        );
        assert!(h.identities_only);
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(10)));
        assert!(h.unsupported.is_empty());

        // Negation rules the first block out; ProxyJump is reported, not followed.
        let h = c.resolve("db-1.prod.example.com");
        assert_eq!(h.user.as_deref(), Some("fallback"));
        assert_eq!(h.port, Some(22));
        assert!(!h.identities_only);
        assert_eq!(h.unsupported.len(), 1);
        assert!(
            h.unsupported[0].starts_with("ProxyJump bastion (config:14)"),
            "{:?}",
            h.unsupported
        );

        // `?` matches one character; %h expands to the alias.
        let h = c.resolve("web1");
        assert_eq!(h.hostname.as_deref(), Some("web1.internal.example.com"));
        assert_eq!(h.strict, Some(StrictMode::AcceptNew));
        assert_eq!(c.resolve("web12").hostname, None);

        // Several patterns on one line, `Keyword=value`, ask -> yes, first known-hosts
        // file, tokens in a quoted IdentityFile.
        let h = c.resolve("10.9.0.7");
        assert_eq!(h.strict, Some(StrictMode::Yes));
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            h.known_hosts,
            Some(PathBuf::from("/home/alice/.ssh/known_hosts.lab"))
        );
        assert_eq!(
            h.identity_files,
            [
                PathBuf::from("/home/alice/.ssh/keys/fallback@10.9.0.7"),
                PathBuf::from("/home/alice/.ssh/id_ed25519")
            ]
        );

        // Unmatched host: only `Host *`.
        let h = c.resolve("elsewhere");
        assert_eq!(h.user.as_deref(), Some("fallback"));
        assert_eq!(h.strict, None);
        assert_eq!(h.known_hosts, None);

        // Host patterns match case-insensitively.
        assert_eq!(c.resolve("BASTION").user.as_deref(), Some("jump"));
    }

    #[test]
    fn first_value_wins() {
        let c = cfg(
            "Host *\n  User root\n  Port 2200\nHost web\n  User ops\n  Port 2222\n  HostName 10.0.0.5\n",
        );
        let h = c.resolve("web");
        assert_eq!(h.user.as_deref(), Some("root"));
        assert_eq!(h.port, Some(2200));
        assert_eq!(h.hostname.as_deref(), Some("10.0.0.5"));
        // Settings before any Host line apply to every host.
        let c = cfg("User early\nHost web\n  User late\n");
        assert_eq!(c.resolve("web").user.as_deref(), Some("early"));
    }

    #[test]
    fn explicit_user_and_port_win() {
        let c = cfg(
            "Host web\n  User ops\n  Port 2222\n  IdentityFile ~/.ssh/%r-%p-%n-%u-%d-%i\nMatch user admin\n  ConnectTimeout 3\n",
        );
        let h = c.resolve_with("web", Some("admin"), Some(22));
        assert_eq!(h.user.as_deref(), Some("admin"));
        assert_eq!(h.port, Some(22));
        assert_eq!(
            h.identity_files,
            [PathBuf::from(
                "/home/alice/.ssh/admin-22-web-alice-/home/alice-1000"
            )]
        );
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(c.resolve("web").connect_timeout, None);
    }

    #[test]
    fn match_blocks() {
        let c = cfg(r#"
Host short
    HostName short.corp.example.com
Match host *.corp.example.com
    User corp
Match originalhost short !user root
    Port 2201
Match localuser alice
    IdentityFile ~/.ssh/alice
Match !localuser alice
    IdentityFile ~/.ssh/other
Match exec "test -f /tmp/vpn-up"
    ProxyCommand nc -X 5 -x proxy:1080 %h %p
Match all
    ConnectTimeout 1m30s
"#);
        let h = c.resolve("short");
        assert_eq!(h.user.as_deref(), Some("corp"));
        assert_eq!(h.port, Some(2201));
        assert_eq!(h.identity_files, [PathBuf::from("/home/alice/.ssh/alice")]);
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(90)));
        assert!(h.unsupported.is_empty(), "{:?}", h.unsupported);
        assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
        assert_eq!(
            h.warnings[0],
            "config:12: `Match exec test -f /tmp/vpn-up` is not supported by dossier: the block is skipped (it would set ProxyCommand)"
        );
        // `Match host` sees HostName; `!user root` rules out an explicit root.
        assert_eq!(c.resolve_with("short", Some("root"), None).port, None);
        assert_eq!(c.resolve("other").user, None);
    }

    #[test]
    fn proxies_and_refusals() {
        let c = cfg(
            "Host a\n  ProxyCommand ssh -W %h:%p jump\nHost b\n  ProxyJump none\nHost *\n  ProxyJump bastion\nHost c\n  RefuseConnection yes\n",
        );
        let a = c.resolve("a");
        assert_eq!(a.unsupported.len(), 1);
        assert!(a.unsupported[0].starts_with("ProxyCommand ssh -W %h:%p jump (config:2)"));
        // `ProxyJump none` first: no proxy, the later `Host *` ProxyJump does not apply.
        assert!(c.resolve("b").unsupported.is_empty());
        let cc = c.resolve("c");
        assert_eq!(cc.unsupported.len(), 2, "{:?}", cc.unsupported);
        assert!(cc.unsupported[1].starts_with("RefuseConnection yes (config:8)"));
    }

    #[test]
    fn quoting_comments_and_case() {
        let c = cfg(
            "HOST \"my host\" other # comment\n\tuSeR = \"ops\"\n  identityfile '~/.ssh/with space'  # trailing\n  PORT=2022\n  HostName\t\"o\\\"q\"\n",
        );
        let h = c.resolve("my host");
        assert_eq!(h.user.as_deref(), Some("ops"));
        assert_eq!(h.port, Some(2022));
        assert_eq!(h.hostname.as_deref(), Some("o\"q"));
        assert_eq!(c.resolve("OTHER").port, Some(2022));
        assert!(
            cfg_err("User \"o p s\"\n").starts_with("config:1: User \"o p s\" is not a user name")
        );
        assert_eq!(
            h.identity_files,
            [PathBuf::from("/home/alice/.ssh/with space")]
        );
    }

    #[test]
    fn not_honoured_and_unknown_keywords() {
        let c = cfg(
            "IgnoreUnknown UseKeychain,Foo*\nUseKeychain yes\nFooBar 1\nHostKeyAlias other\nFrobnicate yes\nCanonicalizeHostname no\nCertificateFile ~/.ssh/c.pub\n",
        );
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
        assert!(c.warnings()[0].starts_with("config:5: unknown keyword \"frobnicate\""));
        let h = c.resolve("x");
        assert_eq!(
            h.warnings,
            [
                "config:4: HostKeyAlias is not honoured by dossier's SSH transport (ignored)",
                "config:7: CertificateFile is not honoured by dossier's SSH transport (ignored)"
            ]
        );
    }

    #[test]
    fn token_handling() {
        let c = cfg(
            "Host *\n  IdentityFile ~/.ssh/%C\n  IdentityFile %d/.ssh/%%literal\n  IdentityFile ${HOME}/k\n  IdentityFile ~bob/k\n  UserKnownHostsFile none\n",
        );
        let h = c.resolve("x");
        assert_eq!(
            h.identity_files,
            [PathBuf::from("/home/alice/.ssh/%literal")]
        );
        assert_eq!(h.known_hosts, Some(PathBuf::from("/dev/null")));
        assert_eq!(h.warnings.len(), 3, "{:?}", h.warnings);
        assert!(h.warnings[0].contains("config:2: IdentityFile \"~/.ssh/%C\" ignored: token %C"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, expect) in [
            (
                "Host a\n  Port 0\n",
                "config:2: Port \"0\" is not a number 1-65535",
            ),
            ("Host a\n  Port 70000\n", "config:2: Port"),
            (
                "Host a\n  Port 22 23\n",
                "config:2: Port: garbage at end of line",
            ),
            ("Host\n", "config:1: no argument after keyword \"Host\""),
            ("Host a\n  User\n", "config:2: no argument"),
            ("Host a\n  User \"ops\n", "config:2: unterminated quote"),
            (
                "Host a\n  HostName %x.example\n",
                "config:2: HostName: unknown token %x",
            ),
            (
                "Host a\n  IdentityFile ~/.ssh/%q\n",
                "config:2: IdentityFile: unknown token %q",
            ),
            (
                "Host a\n  StrictHostKeyChecking maybe\n",
                "config:2: StrictHostKeyChecking: unsupported option",
            ),
            (
                "Host a\n  IdentitiesOnly perhaps\n",
                "config:2: IdentitiesOnly",
            ),
            (
                "Host a\n  ConnectTimeout soon\n",
                "config:2: ConnectTimeout: invalid time value",
            ),
            ("Match\n", "config:1: no argument"),
            ("Match host\n", "config:1: missing Match criteria for host"),
            ("Match all host x\n", "config:1: 'all' cannot be combined"),
            (
                "Match colour blue\n",
                "config:1: unsupported Match attribute colour",
            ),
            (
                "Host a\n  User o\0ps\n",
                "config:2: line contains control character U+0000",
            ),
            ("=value\n", "config:1: missing keyword"),
        ] {
            let e = cfg_err(text);
            assert!(e.starts_with(expect), "{text:?}: {e}");
        }
    }

    #[test]
    fn parse_does_not_follow_include() {
        let c = cfg("Host web\n  Include conf.d/*\n");
        assert!(c.resolve("db").warnings.is_empty());
        let h = c.resolve("web");
        assert_eq!(h.warnings.len(), 1);
        assert_eq!(
            h.warnings[0],
            "config:2: Include not followed: the configuration was parsed from text, not loaded from a file"
        );
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn home() -> (tempfile::TempDir, LocalUser) {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalUser {
            name: "alice".into(),
            home: dir.path().to_path_buf(),
            uid: nix::unistd::getuid().as_raw(),
        };
        (dir, local)
    }

    #[test]
    fn load_with_includes() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(
            &ssh.join("config"),
            "Include conf.d/*.conf\nHost web\n  Include ~/.ssh/web-only\nHost *\n  User fallback\n",
        );
        write(
            &ssh.join("conf.d/20-db.conf"),
            "Host db\n  User dba\n  Port 2200\n",
        );
        write(
            &ssh.join("conf.d/10-first.conf"),
            "Host db\n  User first\nHost *.lab\n  IdentityFile %d/.ssh/lab\n",
        );
        write(&ssh.join("conf.d/ignored.txt"), "Host db\n  User wrong\n");
        write(&ssh.join("conf.d/.hidden.conf"), "Host db\n  User hidden\n");
        write(&ssh.join("web-only"), "User webops\nHost other\n  Port 1\n");

        let c = SshConfig::load_as(&ssh.join("config"), local.clone()).unwrap();
        // 10-first.conf is read before 20-db.conf (sorted), and first wins.
        let h = c.resolve("db");
        assert_eq!(h.user.as_deref(), Some("first"));
        assert_eq!(h.port, Some(2200));
        let h = c.resolve("x.lab");
        assert_eq!(h.identity_files, [dir.path().join(".ssh/lab")]);
        // The Include inside `Host web` applies only to web; its own Host block ends at the
        // end of the included file.
        let h = c.resolve("web");
        assert_eq!(h.user.as_deref(), Some("webops"));
        assert_eq!(h.port, None);
        assert_eq!(c.resolve("other").port, None);
        assert_eq!(c.resolve("other").user.as_deref(), Some("fallback"));

        // Missing files: an empty configuration; includes that match nothing are skipped.
        let c = SshConfig::load_as(&ssh.join("nope"), local.clone()).unwrap();
        assert_eq!(c.resolve("web"), HostConfig::default());
        write(
            &ssh.join("config2"),
            "Include missing/*.conf nothing\nUser u\n",
        );
        let c = SshConfig::load_as(&ssh.join("config2"), local).unwrap();
        assert_eq!(c.resolve("web").user.as_deref(), Some("u"));
    }

    #[test]
    fn include_errors_name_the_included_file() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(&ssh.join("config"), "Host *\n  Include extra\n");
        write(&ssh.join("extra"), "\n\nPort many\n");
        let e = SshConfig::load_as(&ssh.join("config"), local).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:3: Port \"many\" is not a number 1-65535",
                ssh.join("extra").display()
            )
        );
    }

    #[test]
    fn include_loops_are_depth_limited() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(&ssh.join("config"), "Include config\n");
        let e = SshConfig::load_as(&ssh.join("config"), local).unwrap_err();
        assert!(
            e.to_string().contains("Include nested more than 16 deep"),
            "{e}"
        );
    }

    #[test]
    fn hostile_files_are_refused() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        let big = ssh.join("big");
        write(&big, &"# padding\n".repeat(110_000));
        let e = SshConfig::load_as(&big, local.clone()).unwrap_err();
        assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");

        let bin = ssh.join("bin");
        write(&bin, "");
        fs::write(&bin, b"Host a\n  User \xff\xfe\n").unwrap();
        let e = SshConfig::load_as(&bin, local.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:2: not valid UTF-8", bin.display())
        );

        let open = ssh.join("open");
        write(&open, "User x\n");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
        let e = SshConfig::load_as(&open, local.clone()).unwrap_err();
        assert!(e.to_string().contains("bad owner or permissions"), "{e}");

        let e = SshConfig::load_as(&ssh, local).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| {
            wildmatch(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
                true,
            )
        };
        assert!(m("*", ""));
        assert!(m("*.example.com", "a.b.example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("web?", "web1"));
        assert!(!m("web?", "web"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("[0-9]*.conf", "10-x.conf"));
        assert!(!m("[!0-9]*.conf", "10-x.conf"));
        assert!(m("[x", "[x"));
        // Pathological patterns stay fast.
        let text = "a".repeat(5000);
        assert!(!m(&"*a".repeat(50), &format!("{text}b")));
        assert!(!m("*a*a*a*a*a*a*a*a*b", &text));
    }

    #[test]
    fn strict_modes() {
        for (v, mode) in [
            ("yes", StrictMode::Yes),
            ("TRUE", StrictMode::Yes),
            ("ask", StrictMode::Yes),
            ("accept-new", StrictMode::AcceptNew),
            ("no", StrictMode::No),
            ("off", StrictMode::No),
            ("false", StrictMode::No),
        ] {
            let c = cfg(&format!("StrictHostKeyChecking {v}\n"));
            assert_eq!(c.resolve("h").strict, Some(mode), "{v}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("30"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_time("1m30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_time("1H"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse_time("0"), Ok(None));
        assert_eq!(parse_time("none"), Ok(None));
        assert!(parse_time("").is_err());
        assert!(parse_time("m").is_err());
        assert!(parse_time("10x").is_err());
        assert!(parse_time("99999999999999999999").is_err());
    }
}
