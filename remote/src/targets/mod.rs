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

//!
//! One module per concern, lowest first: `limits` and `error`; `target` (a target, a network,
//! deduplication); `parse` (one target from text); `lexer` (inventory lines, words, section
//! headers), `ranges` (`web[01:20]`), `vars` (inventory variables and their precedence),
//! `groups` (the group graph); `inventory` (a hosts file's text to targets); `hosts_file`
//! (reading it from disk).

mod error;
mod groups;
mod hosts_file;
mod inventory;
mod lexer;
mod limits;
mod parse;
mod ranges;
mod target;
mod vars;

pub use error::TargetError;
pub use hosts_file::{load_hosts_file, parse_hosts_bytes};
pub use inventory::{HostsFile, SkippedEntry, parse_hosts_file};
pub use limits::{MAX_ADDRESSES, MAX_HOSTS_FILE, MAX_LINE_LEN, MAX_TARGET_LEN};
pub use parse::parse_target;
pub use target::{Target, TargetSpec, dedup, dedup_targets};

#[cfg(test)]
mod tests {
    //! Tests across modules: a network parsed and expanded, targets of several sources
    //! deduplicated, hosts files read from bytes and from disk.
    use super::*;
    use std::net::IpAddr;

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
