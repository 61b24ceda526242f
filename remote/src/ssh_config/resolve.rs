//! Answering "what does ssh(1) use for this host?": conditions evaluated in order, the
//! first value of each keyword kept (IdentityFile accumulating), `%` tokens and `~`
//! expanded, and what cannot be honoured listed.

use super::host_config::{HostConfig, StrictMode};
use super::limits::MAX_IDENTITY_FILES;
use super::local_user::LocalUser;
use super::model::{Condition, Criterion, Item, Origin, Setting, SshConfig};
use super::pattern::match_list;
use std::path::PathBuf;
use std::time::Duration;

impl SshConfig {
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
