//! A hosts file's text to targets: a plain list or an Ansible INI inventory (sections, group
//! and host variables, host ranges), read line by line, then each host resolved against its
//! groups.

use super::error::{TargetError, describe_char, shown};
use super::groups::{Group, Hierarchy};
use super::lexer::{section_header, tokenize, validate_group};
use super::limits::{MAX_ADDRESSES, MAX_LINE_LEN};
use super::parse::parse_target;
use super::ranges::expand_ranges;
use super::target::{TargetSpec, dedup};
use super::vars::{SSH_CONNECTIONS, Vars, apply_vars, canonical_var};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

#[derive(Debug)]
struct InvHost {
    name: String,
    spec: TargetSpec,
    line: usize,
    vars: Vars,
    groups: BTreeSet<String>,
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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::new(name_for_errors);
    for (i, raw) in text.split('\n').enumerate() {
        reader.line(i + 1, raw)?;
    }
    reader.finish()
}

/// An inventory being read, line by line: its hosts in file order and its groups.
struct Reader<'f> {
    file: &'f str,
    /// The section the next lines belong to.
    section: Section,
    hosts: Vec<InvHost>,
    /// Host name to its index in `hosts`.
    index: HashMap<String, usize>,
    groups: BTreeMap<String, Group>,
}

impl<'f> Reader<'f> {
    fn new(file: &'f str) -> Self {
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        groups.entry("all".into()).or_default();
        Reader {
            file,
            section: Section::Hosts("ungrouped".into()),
            hosts: Vec::new(),
            index: HashMap::new(),
            groups,
        }
    }

    /// An error in line `line`.
    fn at(&self, line: usize, message: String) -> TargetError {
        TargetError::Inventory {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    /// One line of the file (without its `\n`).
    fn line(&mut self, lineno: usize, raw: &str) -> Result<(), TargetError> {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.len() > MAX_LINE_LEN {
            return Err(self.at(lineno, format!("line longer than {MAX_LINE_LEN} bytes")));
        }
        if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(self.at(lineno, format!("line contains {}", describe_char(c))));
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            return Ok(());
        }
        if let Some(header) = section_header(trimmed) {
            return self.header(lineno, header);
        }
        match &self.section {
            Section::Vars(group) => {
                let group = group.clone();
                self.vars_line(lineno, line, &group)
            }
            Section::Children(group) => {
                let group = group.clone();
                self.children_line(lineno, line, &group)
            }
            Section::Hosts(group) => {
                let group = group.clone();
                self.hosts_line(lineno, line, &group)
            }
        }
    }

    /// A `[group]`, `[group:vars]` or `[group:children]` header.
    fn header(&mut self, lineno: usize, header: &str) -> Result<(), TargetError> {
        let (name, kind) = match header.split_once(':') {
            Some((n, k)) => (n, Some(k)),
            None => (header, None),
        };
        validate_group(name).map_err(|m| self.at(lineno, m))?;
        self.groups.entry(name.to_string()).or_default();
        self.section = match kind {
            None => Section::Hosts(name.to_string()),
            Some("vars") => Section::Vars(name.to_string()),
            Some("children") => Section::Children(name.to_string()),
            Some(k) => {
                return Err(self.at(
                    lineno,
                    format!(
                        "unknown section type {} (expected `:vars` or `:children`)",
                        shown(&format!(":{k}"))
                    ),
                ));
            }
        };
        Ok(())
    }

    /// A `key=value` line in `[group:vars]`.
    fn vars_line(&mut self, lineno: usize, line: &str, group: &str) -> Result<(), TargetError> {
        let Some((key, value)) = line.split_once('=') else {
            return Err(self.at(lineno, format!("expected `key=value` in [{group}:vars]")));
        };
        let key = key.trim();
        let value = tokenize(value).map_err(|m| self.at(lineno, m))?;
        if canonical_var(key).is_some() {
            if value.len() != 1 {
                return Err(self.at(lineno, format!("{key} takes exactly one value")));
            }
            let g = self.groups.entry(group.to_string()).or_default();
            g.vars.set(key, &value[0], lineno);
        }
        Ok(())
    }

    /// A child group name in `[group:children]`.
    fn children_line(&mut self, lineno: usize, line: &str, group: &str) -> Result<(), TargetError> {
        let tokens = tokenize(line).map_err(|m| self.at(lineno, m))?;
        if tokens.len() != 1 {
            return Err(self.at(
                lineno,
                format!("expected one group name a line in [{group}:children]"),
            ));
        }
        let child = &tokens[0];
        validate_group(child).map_err(|m| self.at(lineno, m))?;
        if child == group {
            return Err(self.at(lineno, format!("group cycle: {group} -> {group}")));
        }
        self.groups.entry(child.clone()).or_default();
        let g = self.groups.entry(group.to_string()).or_default();
        g.children.push((child.clone(), lineno));
        Ok(())
    }

    /// A host pattern with its `key=value` variables, in `[group]` (or before any header).
    fn hosts_line(&mut self, lineno: usize, line: &str, group: &str) -> Result<(), TargetError> {
        let tokens = tokenize(line).map_err(|m| self.at(lineno, m))?;
        let Some((pattern, assignments)) = tokens.split_first() else {
            return Ok(());
        };
        let mut vars = Vars::default();
        for a in assignments {
            match a.split_once('=') {
                Some((k, v)) if !k.is_empty() => vars.set(k, v, lineno),
                _ => {
                    return Err(self.at(
                        lineno,
                        format!(
                            "expected `key=value` after the host, found {} (one target a line)",
                            shown(a)
                        ),
                    ));
                }
            }
        }
        let names = expand_ranges(pattern).map_err(|m| self.at(lineno, m))?;
        for name in names {
            let slot = match self.index.get(&name) {
                Some(&i) => i,
                None => self.add_host(lineno, name)?,
            };
            let h = &mut self.hosts[slot];
            h.vars.merge(&vars);
            h.groups.insert(group.to_string());
        }
        Ok(())
    }

    /// A host named for the first time; its index in `hosts`.
    fn add_host(&mut self, lineno: usize, name: String) -> Result<usize, TargetError> {
        let spec = parse_target(&name).map_err(|e| TargetError::Line {
            file: self.file.to_string(),
            line: lineno,
            error: Box::new(e),
        })?;
        if self.hosts.len() as u64 >= MAX_ADDRESSES {
            return Err(self.at(
                lineno,
                format!("more than {MAX_ADDRESSES} hosts in one file"),
            ));
        }
        self.index.insert(name.clone(), self.hosts.len());
        self.hosts.push(InvHost {
            name,
            spec,
            line: lineno,
            vars: Vars::default(),
            groups: BTreeSet::new(),
        });
        Ok(self.hosts.len() - 1)
    }

    /// Every host with the variables of its groups applied, or skipped when its connection is
    /// not SSH; deduplicated.
    fn finish(self) -> Result<HostsFile, TargetError> {
        let file = self.file;
        let hierarchy = Hierarchy::new(file, &self.groups)?;
        let mut out = HostsFile::default();
        for h in self.hosts {
            let vars = hierarchy.vars_of(&h.groups);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
