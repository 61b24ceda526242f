//! One target from text: `host`, `host:port`, `user@host:port`, IP literals (IPv6 bare or in
//! brackets) and CIDR networks, each part validated strictly (never an option, never a shell
//! metacharacter).

use super::error::{TargetError, describe_char, shown};
use super::limits::{MAX_ADDRESSES, MAX_TARGET_LEN, MAX_USER_LEN};
use super::target::{Target, TargetSpec};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

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
pub(super) fn validate_user(u: &str) -> Result<String, String> {
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
pub(super) fn parse_port(p: &str) -> Result<u16, String> {
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
pub(super) fn normalize_host(h: &str) -> Result<String, String> {
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
}
