//! From text and files to the [`SshConfig`] model: reading files (ownership, permissions,
//! size, UTF-8), lines, `Host` and `Match` conditions, `Include`s and keyword values.

use super::error::SshConfigError;
use super::host_config::StrictMode;
use super::keywords::{KNOWN_KEYWORDS, NOT_HONOURED};
use super::limits::{MAX_CONFIG_FILE, MAX_FILES, MAX_INCLUDE_DEPTH};
use super::local_user::LocalUser;
use super::model::{Condition, Criterion, Item, Origin, Pattern, Setting, SshConfig};
use super::pattern::{glob, match_list};
use super::syntax::{check_tokens, comma_list, parse_bool, parse_patterns, parse_time, split_line};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
