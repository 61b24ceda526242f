//! STIX 2.1 patterns of dossier's IOCs (STIX 2.1 part 9, patterning; object paths of the
//! cyber-observable objects of part 6): one comparison expression per IOC, or two joined with
//! `AND` for a path (file name and parent directory of the same `file`).
//!
//! | IOC | pattern |
//! |---|---|
//! | SHA-256 | `[file:hashes.'SHA-256' = '…']` |
//! | path | `[file:name = 'syncd' AND file:parent_directory_ref.path = '/tmp/.x']` |
//! | address | `[ipv4-addr:value = '…']`, `[ipv6-addr:value = '…']`, `[mac-addr:value = '…']` (lower case, colons) or `[domain-name:value = '…']` |
//! | port | `[network-traffic:dst_port = 4444]` |
//! | cron command | `[process:command_line = '…']` |
//! | unit | `[file:name = 'syncd.service']` (a unit is named by its unit file) |
//! | account | `[user-account:account_login = '…']` |
//!
//! A PID means nothing off its host and a configuration line has no observable object: neither
//! gives a pattern. String literals escape `\` and `'` with a backslash, as the grammar says.

use dossier_plugin_api::analysis::Ioc;
use std::net::IpAddr;

/// A string literal of the pattern grammar: `'…'` with `\` and `'` escaped.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The pattern of an IOC, with a short name of what it matches (`None`: no observable
/// expresses it, or the value is malformed, such as a SHA-256 that is not 64 hex digits).
pub fn of(ioc: &Ioc) -> Option<(String, String)> {
    Some(match ioc {
        Ioc::Sha256(h) => {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let h = h.to_ascii_lowercase();
            (
                format!("[file:hashes.'SHA-256' = {}]", literal(&h)),
                format!("File SHA-256 {h}"),
            )
        }
        Ioc::Path(p) => (path(p)?, format!("File {p}")),
        Ioc::Address(a) => address(a)?,
        Ioc::Port(p) => (
            format!("[network-traffic:dst_port = {p}]"),
            format!("Network traffic to port {p}"),
        ),
        Ioc::CronCommand(c) => (
            format!("[process:command_line = {}]", literal(c)),
            format!("Command line {c}"),
        ),
        Ioc::Unit(u) => (
            format!("[file:name = {}]", literal(u)),
            format!("Unit file {u}"),
        ),
        Ioc::Account(a) => (
            format!("[user-account:account_login = {}]", literal(a)),
            format!("Account {a}"),
        ),
        Ioc::Pid(_) | Ioc::ConfigLine(_) => return None,
    })
}

/// `/tmp/.x/syncd` → name and parent directory; a bare name → the name alone.
fn path(p: &str) -> Option<String> {
    let (dir, name) = match p.rsplit_once('/') {
        Some(("", name)) => (Some("/"), name),
        Some((dir, name)) => (Some(dir), name),
        None => (None, p),
    };
    if name.is_empty() {
        return None;
    }
    Some(match dir {
        Some(d) => format!(
            "[file:name = {} AND file:parent_directory_ref.path = {}]",
            literal(name),
            literal(d)
        ),
        None => format!("[file:name = {}]", literal(name)),
    })
}

/// An address: IPv4, IPv6, MAC (`00-11-…` or `00:11:…`) or a host name.
fn address(a: &str) -> Option<(String, String)> {
    if let Ok(ip) = a.parse::<IpAddr>() {
        let (kind, label) = match ip {
            IpAddr::V4(_) => ("ipv4-addr", "IPv4 address"),
            IpAddr::V6(_) => ("ipv6-addr", "IPv6 address"),
        };
        return Some((
            format!("[{kind}:value = {}]", literal(&ip.to_string())),
            format!("{label} {ip}"),
        ));
    }
    let octets: Vec<&str> = a.split([':', '-']).collect();
    if octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        let mac = octets.join(":").to_ascii_lowercase();
        return Some((
            format!("[mac-addr:value = {}]", literal(&mac)),
            format!("MAC address {mac}"),
        ));
    }
    let host_name = !a.is_empty()
        && a.len() <= 253
        && a.contains('.')
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    host_name.then(|| {
        (
            format!("[domain-name:value = {}]", literal(a)),
            format!("Domain name {a}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ioc: Ioc) -> Option<String> {
        of(&ioc).map(|(pattern, _)| pattern)
    }

    #[test]
    fn each_ioc_kind_has_its_pattern() {
        let h = "B904A02BFBAE3D692F6F2BD4A64170AFF4FD7B7E7B92FED5293AF10F6218E794";
        assert_eq!(
            p(Ioc::Sha256(h.into())).unwrap(),
            format!("[file:hashes.'SHA-256' = '{}']", h.to_ascii_lowercase())
        );
        assert_eq!(p(Ioc::Sha256("abc".into())), None);
        assert_eq!(
            p(Ioc::Path("/tmp/.x/syncd".into())).unwrap(),
            "[file:name = 'syncd' AND file:parent_directory_ref.path = '/tmp/.x']"
        );
        assert_eq!(
            p(Ioc::Path("/syncd".into())).unwrap(),
            "[file:name = 'syncd' AND file:parent_directory_ref.path = '/']"
        );
        assert_eq!(p(Ioc::Path("/tmp/".into())), None);
        assert_eq!(
            p(Ioc::Address("203.0.113.45".into())).unwrap(),
            "[ipv4-addr:value = '203.0.113.45']"
        );
        assert_eq!(
            p(Ioc::Address("2001:DB8::7".into())).unwrap(),
            "[ipv6-addr:value = '2001:db8::7']"
        );
        assert_eq!(
            p(Ioc::Address("52:54:00:AB:cd:01".into())).unwrap(),
            "[mac-addr:value = '52:54:00:ab:cd:01']"
        );
        assert_eq!(
            p(Ioc::Address("evil.example.com".into())).unwrap(),
            "[domain-name:value = 'evil.example.com']"
        );
        assert_eq!(p(Ioc::Address("not an address".into())), None);
        assert_eq!(
            p(Ioc::Port(4444)).unwrap(),
            "[network-traffic:dst_port = 4444]"
        );
        assert_eq!(
            p(Ioc::Unit("syncd.service".into())).unwrap(),
            "[file:name = 'syncd.service']"
        );
        assert_eq!(
            p(Ioc::Account("deploy".into())).unwrap(),
            "[user-account:account_login = 'deploy']"
        );
        assert_eq!(p(Ioc::Pid(812)), None);
        assert_eq!(
            p(Ioc::ConfigLine("ALL ALL=(ALL) NOPASSWD: ALL".into())),
            None
        );
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(literal(r"it's a\b"), r"'it\'s a\\b'");
        assert_eq!(
            p(Ioc::CronCommand(r"sh -c 'echo \x41' >/dev/null".into())).unwrap(),
            r"[process:command_line = 'sh -c \'echo \\x41\' >/dev/null']"
        );
    }
}
