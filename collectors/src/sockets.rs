//! The `sockets` collector: TCP and UDP sockets (IPv4 and IPv6, every state) from
//! `/proc/net/{tcp,tcp6,udp,udp6}`, joined to the processes that hold them through the
//! `socket:[inode]` links in `/proc/PID/fd`. `/proc/net` only shows the reader's network
//! namespace, so the tables are read once per namespace seen by the `proc` collector (through
//! `/proc/PID/net/*` of one process in it). The tables are copied verbatim.

use crate::util::{name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::records::{ProcessRecord, Record, SocketRecord, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The `sockets` collector.
pub struct SocketsCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Also record TIME_WAIT sockets (short-lived, usually noise).
    #[serde(default)]
    include_time_wait: bool,
}

const TABLES: &[&str] = &["tcp", "tcp6", "udp", "udp6"];
const TABLE_CAP: u64 = 64 << 20;

impl Collector for SocketsCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "sockets".into(),
            version: crate::util::VERSION.into(),
            description: "TCP/UDP sockets (v4/v6, listening and connected) per network namespace, with owning PIDs and process names".into(),
            after: vec!["proc".into()],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        if !ctx.is_live() {
            ctx.not_available("/proc/net", "not collected: no live /proc (offline image)");
            return Ok(());
        }
        // Namespaces and process names from the proc collector, when it ran.
        let mut comm: BTreeMap<u32, String> = BTreeMap::new();
        let mut netns: BTreeMap<u64, u32> = BTreeMap::new();
        for v in ctx.prior("proc") {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("kind");
            }
            if let Ok(p) = serde_json::from_value::<ProcessRecord>(v) {
                if let Some(ns) = p.namespaces.get("net") {
                    netns.entry(*ns).or_insert(p.pid);
                }
                comm.insert(p.pid, p.comm);
            }
        }
        let owners = socket_owners(ctx, &mut comm);
        // Which table directories to read: one per namespace, else the reader's own.
        let mut dirs: Vec<(PathBuf, Option<u64>)> = netns
            .iter()
            .map(|(ns, pid)| (PathBuf::from(format!("/proc/{pid}/net")), Some(*ns)))
            .collect();
        if dirs.is_empty() {
            dirs.push((PathBuf::from("/proc/net"), None));
        }
        let mut seen_inodes: BTreeSet<(u64, String)> = BTreeSet::new();
        for (dir, ns) in dirs {
            for table in TABLES {
                let path = dir.join(table);
                let Some(c) = ctx.capture(&path, TABLE_CAP) else {
                    continue;
                };
                let source = c.source_ref(&path);
                let (rows, bad) = parse_table(&c.data, table);
                if bad > 0 {
                    ctx.issue(
                        ptext(&path),
                        IssueKind::Malformed,
                        format!("{bad} line(s) could not be parsed"),
                    );
                }
                for mut s in rows {
                    if s.state == "TIME_WAIT" && !cfg.include_time_wait {
                        continue;
                    }
                    // Inode 0 (TIME_WAIT and friends) is not unique; the rest are per socket.
                    if s.inode != 0 && !seen_inodes.insert((s.inode, s.protocol.clone())) {
                        continue;
                    }
                    if let Some(pids) = owners.get(&s.inode) {
                        s.pids = pids.iter().copied().collect();
                        s.processes = s.pids.iter().filter_map(|p| comm.get(p).cloned()).collect();
                    }
                    s.netns = ns;
                    s.source = source.clone();
                    ctx.emit(&Record::Socket(s))?;
                }
            }
        }
        Ok(())
    }
}

/// socket inode → PIDs holding it, from every `/proc/PID/fd/*` link.
fn socket_owners(
    ctx: &mut CollectContext<'_>,
    comm: &mut BTreeMap<u32, String>,
) -> BTreeMap<u64, BTreeSet<u32>> {
    let mut out: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    let host = ctx.host();
    let Ok(entries) = host.read_dir(Path::new("/proc")) else {
        return out;
    };
    let mut pids: Vec<u32> = entries
        .iter()
        .filter_map(|e| name_text(&e.name).parse().ok())
        .collect();
    pids.sort_unstable();
    let mut denied = 0;
    for pid in pids {
        let fd_dir = PathBuf::from(format!("/proc/{pid}/fd"));
        let fds = match host.read_dir(&fd_dir) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => continue,
            Err(e) if e.kind == dossier_plugin_api::HostErrorKind::PermissionDenied => {
                denied += 1;
                continue;
            }
            Err(e) => {
                ctx.host_error(&e);
                continue;
            }
        };
        for fd in fds {
            if let Ok(t) = host.read_link(&fd_dir.join(&fd.name)) {
                let t = t.to_string_lossy();
                if let Some(ino) = t
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|n| n.parse().ok())
                {
                    out.entry(ino).or_default().insert(pid);
                }
            }
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = comm.entry(pid) {
            if let Ok(r) = host.read(&PathBuf::from(format!("/proc/{pid}/comm")), 64) {
                slot.insert(String::from_utf8_lossy(&r.data).trim().to_string());
            }
        }
    }
    if denied > 0 {
        ctx.issue(
            "/proc/*/fd",
            IssueKind::Incomplete,
            format!(
                "{denied} process(es) denied access to their fd table: their sockets have no owner"
            ),
        );
    }
    out
}

fn tcp_state(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// Parses one `/proc/net/{tcp,tcp6,udp,udp6}` table. Returns the sockets and the number of
/// lines that could not be parsed.
pub fn parse_table(data: &[u8], protocol: &str) -> (Vec<SocketRecord>, usize) {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut bad = 0;
    let udp = protocol.starts_with("udp");
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(line, protocol, udp) {
            Some(s) => out.push(s),
            None => bad += 1,
        }
    }
    (out, bad)
}

fn parse_row(line: &str, protocol: &str, udp: bool) -> Option<SocketRecord> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (la, lp) = parse_endpoint(f[1])?;
    let (ra, rp) = parse_endpoint(f[2])?;
    let st = u8::from_str_radix(f[3], 16).ok()?;
    let state = if udp {
        match st {
            0x01 => "ESTABLISHED",
            0x07 => "UNCONN",
            _ => tcp_state(st),
        }
    } else {
        tcp_state(st)
    };
    Some(SocketRecord {
        protocol: protocol.to_string(),
        local_addr: la,
        local_port: lp,
        remote_addr: ra,
        remote_port: rp,
        listening: state == "LISTEN" || state == "UNCONN",
        state: state.to_string(),
        uid: f[7].parse().ok()?,
        inode: f[9].parse().ok()?,
        pids: vec![],
        processes: vec![],
        netns: None,
        source: SourceRef::default(),
    })
}

/// `0100007F:0277` → ("127.0.0.1", 631). Addresses are stored as 32-bit words in host byte
/// order (little-endian on x86 and arm64), ports in network order as hex.
pub fn parse_endpoint(s: &str) -> Option<(String, u16)> {
    let (a, p) = s.split_once(':')?;
    // Hex digits only: a table that is not the kernel's (a file bind-mounted over it) may hold
    // anything, and slicing a 32-byte string with multi-byte characters would panic.
    if !a.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = match a.len() {
        8 => Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?.swap_bytes()).to_string(),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&a[i * 8..i * 8 + 8], 16)
                    .ok()?
                    .swap_bytes();
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            match v6.to_ipv4_mapped() {
                Some(v4) => format!("::ffff:{v4}"),
                None => v6.to_string(),
            }
        }
        _ => return None,
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0D05 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 41002 1\n   2: 0A00000F:D4C2 5DB8D822:0D05 01 00000000:00000000 02:000A7D1E 00000000     0        0 41003 2\n   3: 0A00000F:D4C4 5DB8D822:0050 06 00000000:00000000 03:00001234 00000000     0        0 0 3\n   4: junk\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42001 1\n   1: 0000000000000000FFFF00000100007F:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42002 1\n";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  10: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 43001 2 0000000000000000 0\n";

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("0100007F:0277"),
            Some(("127.0.0.1".into(), 631))
        );
        assert_eq!(
            parse_endpoint("00000000000000000000000000000000:0016"),
            Some(("::".into(), 22))
        );
        assert_eq!(
            parse_endpoint("0000000000000000FFFF00000100007F:0CEA"),
            Some(("::ffff:127.0.0.1".into(), 3306))
        );
        assert_eq!(
            parse_endpoint("B80D0120000000000000000001000000:0050"),
            Some(("2001:db8::1".into(), 80))
        );
        assert_eq!(parse_endpoint("zz:1"), None);
        assert_eq!(parse_endpoint("00000000000000€000000000000000:0016"), None);
    }

    #[test]
    fn tables() {
        let (rows, bad) = parse_table(TCP.as_bytes(), "tcp");
        assert_eq!(bad, 1);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (
                rows[0].local_addr.as_str(),
                rows[0].local_port,
                rows[0].state.as_str(),
                rows[0].listening
            ),
            ("0.0.0.0", 3333, "LISTEN", true)
        );
        assert_eq!(
            (
                rows[2].remote_addr.as_str(),
                rows[2].remote_port,
                rows[2].state.as_str()
            ),
            ("34.216.184.93", 3333, "ESTABLISHED")
        );
        let (u, _) = parse_table(UDP.as_bytes(), "udp");
        assert_eq!(
            (u[0].state.as_str(), u[0].listening, u[0].uid),
            ("UNCONN", true, 101)
        );
    }

    #[test]
    fn joins_sockets_to_processes() {
        let h = MemHost::new(true)
            .file("/proc/net/tcp", TCP)
            .file("/proc/net/tcp6", TCP6)
            .file("/proc/net/udp", UDP)
            .file("/proc/812/comm", "log\n")
            .link("/proc/812/fd/3", "socket:[41001]")
            .link("/proc/812/fd/4", "socket:[41003]")
            .link("/proc/812/fd/0", "/dev/null")
            .file("/proc/500/comm", "sshd\n")
            .link("/proc/500/fd/3", "socket:[42001]")
            .dir("/proc/600/fd")
            .deny("/proc/600/fd");
        let (sink, r) = run_collector(
            &SocketsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let socks = sink.of_kind("sockets", "socket");
        assert_eq!(socks.len(), 6, "TIME_WAIT and junk dropped: {socks:#?}");
        let miner = socks.iter().find(|s| s["inode"] == 41001).unwrap();
        assert_eq!(miner["pids"], serde_json::json!([812]));
        assert_eq!(miner["processes"], serde_json::json!(["log"]));
        assert_eq!(miner["source"]["member"], "raw/proc/net/tcp");
        assert_eq!(
            socks.iter().find(|s| s["inode"] == 42001).unwrap()["processes"][0],
            "sshd"
        );
        assert_eq!(sink.issues_about("/proc/net/tcp").len(), 1);
        assert_eq!(sink.issues_about("/proc/*/fd").len(), 1);
    }
}
