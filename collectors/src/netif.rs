//! The `netif` collector: network interfaces of a live host from `/sys/class/net` — hardware
//! address (and permanent address when it differs), flags decoded (`PROMISC`...), operational
//! state, type, physical or virtual, bridge/bond membership — and their IPv6 addresses from
//! `/proc/net/if_inet6`. An image has no `/sys`: recorded as not available.
//!
//! IPv4 addresses have no per-interface file (tools get them over netlink or `SIOCGIFADDR`,
//! which needs a socket on the target; collection reads files only). They are derived the way
//! the well-known `/proc`-only recipes do: the local addresses are the `/32 host LOCAL` leaves
//! of `/proc/net/fib_trie`, and each is attributed to the interface whose connected route
//! (no gateway, non-zero mask) in `/proc/net/route` contains it, longest prefix first; the
//! prefix is that route's. A loopback device's address also installs a `LOCAL` prefix route
//! (`127.0.0.0/8 host LOCAL`, the kernel's `fib_add_ifaddr`), which attributes it to the
//! loopback interface. An address with no such route (a `/32` on a point-to-point link, an
//! address whose connected route lives in another table) or one whose subnet is connected on
//! several interfaces is recorded as an issue naming the address, never guessed. Both files
//! are kept raw in the bundle. Limitation: `/proc/net/route` shows the main table only.

use crate::util::{name_text, ptext};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::collect::IssueKind;
use dossier_plugin_api::records::{NetInterfaceRecord, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

/// The `netif` collector.
pub struct NetIfCollector;

/// `IFF_*` flags (include/uapi/linux/if.h).
const FLAGS: &[(u32, &str)] = &[
    (0x1, "UP"),
    (0x2, "BROADCAST"),
    (0x4, "DEBUG"),
    (0x8, "LOOPBACK"),
    (0x10, "POINTOPOINT"),
    (0x20, "NOTRAILERS"),
    (0x40, "RUNNING"),
    (0x80, "NOARP"),
    (0x100, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x400, "MASTER"),
    (0x800, "SLAVE"),
    (0x1000, "MULTICAST"),
    (0x2000, "PORTSEL"),
    (0x4000, "AUTOMEDIA"),
    (0x8000, "DYNAMIC"),
];

/// Decodes a `flags` value (`0x1103`).
pub fn decode_flags(raw: &str) -> Vec<String> {
    let v = u32::from_str_radix(raw.trim().trim_start_matches("0x"), 16).unwrap_or(0);
    FLAGS
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// `/proc/net/if_inet6` lines: interface name → `addr/prefix`.
pub fn parse_if_inet6(data: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in String::from_utf8_lossy(data).lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 6 || f[0].len() != 32 {
            continue;
        }
        let groups: Vec<String> = (0..8)
            .map(|i| {
                let g = &f[0][i * 4..i * 4 + 4];
                format!("{:x}", u16::from_str_radix(g, 16).unwrap_or(0))
            })
            .collect();
        let prefix = u8::from_str_radix(f[2], 16).unwrap_or(0);
        let addr: std::net::Ipv6Addr = groups
            .join(":")
            .parse()
            .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
        out.entry(f[5].to_string())
            .or_default()
            .push(format!("{addr}/{prefix}"));
    }
    out
}

/// What `/proc/net/fib_trie` says about local addresses (all tables merged).
#[derive(Debug, Default, PartialEq)]
pub struct FibTrie {
    /// `/32 host LOCAL` leaves: the host's own addresses.
    pub local: BTreeSet<Ipv4Addr>,
    /// `LOCAL` prefix routes shorter than /32 (`127.0.0.0/8`): ranges of a loopback device.
    pub local_ranges: BTreeSet<(Ipv4Addr, u8)>,
    /// `/32 link BROADCAST` leaves.
    pub broadcast: BTreeSet<Ipv4Addr>,
}

/// Parses `/proc/net/fib_trie`: `|-- A.B.C.D` leaf lines, each followed by one
/// `/N scope TYPE` line per alias (route) of that key. Lines that do not fit are skipped.
pub fn parse_fib_trie(data: &[u8]) -> FibTrie {
    let mut out = FibTrie::default();
    let mut leaf: Option<Ipv4Addr> = None;
    for l in String::from_utf8_lossy(data).lines() {
        let t = l.trim();
        if let Some(a) = t.strip_prefix("|--") {
            leaf = a.trim().parse().ok();
            continue;
        }
        if !t.starts_with('/') {
            // `+--` inner nodes, table headers (`Main:`, `Local:`, `Id 100:`).
            if !t.is_empty() {
                leaf = None;
            }
            continue;
        }
        let Some(addr) = leaf else { continue };
        let f: Vec<&str> = t[1..].split_whitespace().collect();
        let Some(plen) = f
            .first()
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|p| *p <= 32)
        else {
            continue;
        };
        match (plen, f.get(2).copied()) {
            (32, Some("LOCAL")) => {
                out.local.insert(addr);
            }
            (_, Some("LOCAL")) => {
                out.local_ranges.insert((addr, plen));
            }
            (32, Some("BROADCAST")) => {
                out.broadcast.insert(addr);
            }
            _ => {}
        }
    }
    out
}

/// One route of `/proc/net/route`.
#[derive(Clone, Debug, PartialEq)]
pub struct Route4 {
    pub iface: String,
    pub dest: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub flags: u16,
    pub mask: Ipv4Addr,
}

/// A `/proc/net/route` address: 8 hex digits of the address in host (little-endian) order.
fn route_addr(hex: &str) -> Option<Ipv4Addr> {
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16)
        .ok()
        .map(|v| Ipv4Addr::from(v.to_le_bytes()))
}

/// Parses `/proc/net/route` (header line, then `Iface Destination Gateway Flags RefCnt Use
/// Metric Mask MTU Window IRTT`). Returns the routes and the number of lines that did not parse.
pub fn parse_route(data: &[u8]) -> (Vec<Route4>, usize) {
    let mut routes = Vec::new();
    let mut bad = 0;
    for l in String::from_utf8_lossy(data).lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let parsed = (f.len() >= 8)
            .then(|| {
                Some(Route4 {
                    iface: f[0].to_string(),
                    dest: route_addr(f[1])?,
                    gateway: route_addr(f[2])?,
                    flags: u16::from_str_radix(f[3], 16).ok()?,
                    mask: route_addr(f[7])?,
                })
            })
            .flatten();
        match parsed {
            Some(r) => routes.push(r),
            None => bad += 1,
        }
    }
    (routes, bad)
}

/// Prefix length of a contiguous netmask (`None` for `255.0.255.0`).
fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let n = m.leading_ones();
    (m.checked_shl(n).unwrap_or(0) == 0).then_some(n as u8)
}

fn in_net(a: Ipv4Addr, net: Ipv4Addr, plen: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(plen)).unwrap_or(0);
    u32::from(a) & mask == u32::from(net) & mask
}

/// IPv4 addresses per interface, and the local addresses that could not be attributed.
#[derive(Debug, Default, PartialEq)]
pub struct Ipv4Map {
    /// Interface → (`addr/prefix`, broadcast when the kernel has a broadcast route for it).
    pub by_iface: BTreeMap<String, Vec<(String, Option<Ipv4Addr>)>>,
    /// Address → why it has no interface (`no connected route`, `connected on eth0, eth1`).
    pub unattributed: Vec<(Ipv4Addr, String)>,
}

/// Joins the local addresses of `fib_trie` with the connected routes of `route` (see the
/// module documentation). `loopback` names the interface(s) with the `LOOPBACK` flag.
pub fn ipv4_by_interface(fib: &FibTrie, routes: &[Route4], loopback: &[String]) -> Ipv4Map {
    const RTF_UP: u16 = 0x1;
    const RTF_GATEWAY: u16 = 0x2;
    let connected: Vec<(&Route4, u8)> = routes
        .iter()
        .filter(|r| {
            r.flags & RTF_UP != 0 && r.flags & RTF_GATEWAY == 0 && r.gateway.is_unspecified()
        })
        .filter_map(|r| Some((r, prefix_len(r.mask).filter(|p| *p > 0)?)))
        .collect();
    let mut out = Ipv4Map::default();
    for &a in &fib.local {
        let best = connected
            .iter()
            .filter(|(r, p)| in_net(a, r.dest, *p))
            .map(|(_, p)| *p)
            .max();
        let (ifaces, plen): (BTreeSet<&str>, u8) = match best {
            Some(p) => (
                connected
                    .iter()
                    .filter(|(r, q)| *q == p && in_net(a, r.dest, p))
                    .map(|(r, _)| r.iface.as_str())
                    .collect(),
                p,
            ),
            None => match fib
                .local_ranges
                .iter()
                .filter(|(n, p)| in_net(a, *n, *p))
                .map(|(_, p)| *p)
                .max()
            {
                Some(p) => (loopback.iter().map(String::as_str).collect(), p),
                None => (BTreeSet::new(), 32),
            },
        };
        if ifaces.len() != 1 {
            let why = if ifaces.is_empty() {
                "no connected route in /proc/net/route contains it".to_string()
            } else {
                format!(
                    "its subnet /{plen} is connected on several interfaces: {}",
                    ifaces.iter().copied().collect::<Vec<_>>().join(", ")
                )
            };
            out.unattributed.push((a, why));
            continue;
        }
        let iface = ifaces.into_iter().next().unwrap_or_default();
        let brd = (plen < 31)
            .then(|| Ipv4Addr::from(u32::from(a) | (u32::MAX >> plen)))
            .filter(|b| fib.broadcast.contains(b));
        out.by_iface
            .entry(iface.to_string())
            .or_default()
            .push((format!("{a}/{plen}"), brd));
    }
    out
}

/// Caps of the IPv4 sources (a router with a full table has a large `fib_trie`; what is
/// beyond the cap is recorded as truncated).
const FIB_TRIE_CAP: u64 = 16 << 20;
const ROUTE_CAP: u64 = 8 << 20;

/// Captures one IPv4 source; when it cannot be read, says so in the bundle (a read error is
/// recorded by `capture` itself, a missing file here).
fn read_v4(ctx: &mut CollectContext<'_>, path: &Path, cap: u64) -> Option<Vec<u8>> {
    let before = ctx.issues_recorded();
    let got = ctx.capture(path, cap).map(|c| c.data);
    if got.is_none() && ctx.issues_recorded() == before {
        ctx.not_available(
            &ptext(path),
            "not present: IPv4 addresses of the interfaces not collected",
        );
    }
    got
}

fn small(ctx: &mut CollectContext<'_>, path: &Path) -> Option<String> {
    ctx.host()
        .read(path, 4096)
        .ok()
        .map(|o| String::from_utf8_lossy(&o.data).trim().to_string())
        .filter(|s| !s.is_empty())
}

impl Collector for NetIfCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "netif".into(),
            version: crate::util::VERSION.into(),
            description: "Network interfaces: MAC (and permanent MAC), flags incl. PROMISC, state, physical/virtual, bridge/bond membership, IPv6 and IPv4 addresses".into(),
            after: vec![],
        }
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        if !ctx.is_live() {
            ctx.not_available(
                "/sys/class/net",
                "not collected: no live /sys (offline image)",
            );
            return Ok(());
        }
        let inet6 = Path::new("/proc/net/if_inet6");
        let v6 = ctx
            .capture(inet6, 1 << 20)
            .map(|c| parse_if_inet6(&c.data))
            .unwrap_or_default();
        let fib =
            read_v4(ctx, Path::new("/proc/net/fib_trie"), FIB_TRIE_CAP).map(|d| parse_fib_trie(&d));
        let routes = read_v4(ctx, Path::new("/proc/net/route"), ROUTE_CAP).map(|d| {
            let (routes, bad) = parse_route(&d);
            if bad > 0 {
                ctx.issue(
                    "/proc/net/route",
                    IssueKind::Malformed,
                    format!("{bad} line(s) not understood; IPv4 addresses may be incomplete"),
                );
            }
            routes
        });
        let base = Path::new("/sys/class/net");
        let Some(entries) = ctx.list_dir(base) else {
            ctx.not_available("/sys/class/net", "not readable");
            return Ok(());
        };
        let mut records = Vec::new();
        for e in entries {
            let name = name_text(&e.name);
            if let Some(r) = interface(ctx, &base.join(&e.name), name, &v6) {
                records.push(r);
            }
        }
        if let (Some(fib), Some(routes)) = (fib, routes) {
            attach_ipv4(ctx, &mut records, &fib, &routes);
        }
        for record in records {
            ctx.emit(&Record::NetInterface(record))?;
        }
        Ok(())
    }
}

/// One interface from its `/sys/class/net/<name>` directory (IPv4 addresses attached later);
/// `None` for the plain files of that directory (`bonding_masters`).
fn interface(
    ctx: &mut CollectContext<'_>,
    dir: &Path,
    name: String,
    v6: &BTreeMap<String, Vec<String>>,
) -> Option<NetInterfaceRecord> {
    let flags_raw = small(ctx, &dir.join("flags"))?;
    let link_name = |ctx: &mut CollectContext<'_>, p: &Path| {
        ctx.host()
            .read_link(p)
            .ok()
            .and_then(|t| t.file_name().map(name_text))
    };
    let mac = small(ctx, &dir.join("address")).map(|m| m.to_ascii_lowercase());
    let perm_mac = small(ctx, &dir.join("perm_addr"))
        .map(|m| m.to_ascii_lowercase())
        .filter(|p| Some(p) != mac.as_ref() && p != "00:00:00:00:00:00");
    Some(NetInterfaceRecord {
        ifindex: small(ctx, &dir.join("ifindex")).and_then(|s| s.parse().ok()),
        mac,
        perm_mac,
        flags: decode_flags(&flags_raw),
        flags_raw,
        operstate: small(ctx, &dir.join("operstate")),
        arp_type: small(ctx, &dir.join("type")).and_then(|s| s.parse().ok()),
        physical: ctx.host().lstat(&dir.join("device")).is_ok(),
        master: link_name(ctx, &dir.join("master")),
        bridge: ctx.host().lstat(&dir.join("bridge")).is_ok(),
        ipv6: v6.get(&name).cloned().unwrap_or_default(),
        ipv4: Vec::new(),
        ipv4_broadcast: Vec::new(),
        source: SourceRef::path_only(ptext(dir)),
        name,
    })
}

/// Gives each interface its IPv4 addresses and broadcasts (from `fib_trie` and `route`);
/// addresses routed on an interface `/sys` does not list, or of no known interface, become
/// issues.
fn attach_ipv4(
    ctx: &mut CollectContext<'_>,
    records: &mut [NetInterfaceRecord],
    fib: &FibTrie,
    routes: &[Route4],
) {
    let loopback: Vec<String> = records
        .iter()
        .filter(|r| r.flags.iter().any(|f| f == "LOOPBACK"))
        .map(|r| r.name.clone())
        .collect();
    let mut map = ipv4_by_interface(fib, routes, &loopback);
    for r in records.iter_mut() {
        for (addr, brd) in map.by_iface.remove(&r.name).unwrap_or_default() {
            r.ipv4.push(addr);
            match brd.map(|b| b.to_string()) {
                Some(b) if !r.ipv4_broadcast.contains(&b) => r.ipv4_broadcast.push(b),
                _ => {}
            }
        }
    }
    for (iface, addrs) in map.by_iface {
        let list: Vec<&str> = addrs.iter().map(|(a, _)| a.as_str()).collect();
        ctx.issue(
            "/proc/net/route",
            IssueKind::Malformed,
            format!(
                "IPv4 address(es) {} routed on {iface}, which /sys/class/net does not list",
                list.join(", ")
            ),
        );
    }
    for (a, why) in map.unattributed {
        ctx.issue(
            "/proc/net/fib_trie",
            IssueKind::NotAvailable,
            format!("local IPv4 address {a}/32 of unknown interface: {why}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn flags_and_inet6() {
        assert_eq!(
            decode_flags("0x1103"),
            ["UP", "BROADCAST", "PROMISC", "MULTICAST"]
        );
        let v = parse_if_inet6(b"fe80000000000000021122fffe334455 02 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\n");
        assert_eq!(v["eth0"], ["fe80::211:22ff:fe33:4455/64"]);
        assert_eq!(v["lo"], ["::1/128"]);
    }

    /// `/proc/net/fib_trie` of a host with `lo` 127.0.0.1/8, `eth0` 192.0.2.2/24 and a
    /// point-to-point `/32` (10.9.9.9) that has no connected route (kernel 6.x layout).
    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 10.9.9.9
        /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
";
    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn ipv4_from_fib_trie_and_route() {
        let fib = parse_fib_trie(FIB.as_bytes());
        assert_eq!(
            fib.local.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["10.9.9.9", "127.0.0.1", "192.0.2.2"]
        );
        assert!(fib.local_ranges.contains(&(Ipv4Addr::new(127, 0, 0, 0), 8)));
        assert!(fib.broadcast.contains(&Ipv4Addr::new(192, 0, 2, 255)));
        let (routes, bad) = parse_route(ROUTE.as_bytes());
        assert_eq!(bad, 0);
        assert_eq!(routes[1].dest, Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(routes[1].mask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(routes[0].gateway, Ipv4Addr::new(192, 0, 2, 1));
        let m = ipv4_by_interface(&fib, &routes, &["lo".to_string()]);
        assert_eq!(
            m.by_iface["eth0"],
            [(
                "192.0.2.2/24".to_string(),
                Some(Ipv4Addr::new(192, 0, 2, 255))
            )]
        );
        assert_eq!(
            m.by_iface["lo"],
            [(
                "127.0.0.1/8".to_string(),
                Some(Ipv4Addr::new(127, 255, 255, 255))
            )]
        );
        // The /32 is not put on eth0 through the default route: its interface is unknown.
        assert_eq!(m.unattributed.len(), 1);
        assert_eq!(m.unattributed[0].0, Ipv4Addr::new(10, 9, 9, 9));

        // Same subnet connected on two interfaces: ambiguous, not guessed; the longer
        // prefix wins over a shorter one.
        let two = format!(
            "{ROUTE}eth1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             eth2\t000000C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\nbad line\n"
        );
        let (routes, bad) = parse_route(two.as_bytes());
        assert_eq!(bad, 1);
        let m = ipv4_by_interface(&fib, &routes, &["lo".to_string()]);
        assert!(!m.by_iface.contains_key("eth0"));
        assert!(!m.by_iface.contains_key("eth2"));
        assert!(
            m.unattributed
                .iter()
                .any(|(a, why)| *a == Ipv4Addr::new(192, 0, 2, 2) && why.contains("eth0, eth1"))
        );
        assert_eq!(prefix_len(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
    }

    #[test]
    fn collects_interfaces() {
        let h = MemHost::new(true)
            .file("/sys/class/net/eth0/flags", "0x1103\n")
            .file("/sys/class/net/eth0/address", "00:11:22:33:44:55\n")
            .file("/sys/class/net/eth0/perm_addr", "00:11:22:33:44:99\n")
            .file("/sys/class/net/eth0/type", "1\n")
            .file("/sys/class/net/eth0/operstate", "up\n")
            .dir("/sys/class/net/eth0/device")
            .link("/sys/class/net/eth0/master", "../br0")
            .file("/sys/class/net/br0/flags", "0x1003\n")
            .file("/sys/class/net/br0/address", "00:11:22:33:44:55\n")
            .dir("/sys/class/net/br0/bridge")
            .file("/sys/class/net/bonding_masters", "\n")
            .file("/sys/class/net/lo/flags", "0x9\n")
            .file("/proc/net/fib_trie", FIB)
            .file("/proc/net/route", ROUTE.replace("eth0", "br0"))
            .file(
                "/proc/net/if_inet6",
                "fe80000000000000021122fffe334455 02 40 20 80     br0\n",
            );
        let (sink, r) = run_collector(
            &NetIfCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let ifs = sink.of_kind("netif", "net_interface");
        assert_eq!(ifs.len(), 3);
        let eth0 = ifs.iter().find(|i| i["name"] == "eth0").unwrap();
        assert_eq!(eth0["physical"], true);
        assert_eq!(eth0["master"], "br0");
        assert_eq!(eth0["perm_mac"], "00:11:22:33:44:99");
        assert!(
            eth0["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "PROMISC")
        );
        let br0 = ifs.iter().find(|i| i["name"] == "br0").unwrap();
        assert_eq!(br0["bridge"], true);
        assert_eq!(br0["ipv6"][0], "fe80::211:22ff:fe33:4455/64");
        assert_eq!(br0["ipv4"], serde_json::json!(["192.0.2.2/24"]));
        assert_eq!(br0["ipv4_broadcast"], serde_json::json!(["192.0.2.255"]));
        assert!(eth0.get("ipv4").is_none());
        let lo = ifs.iter().find(|i| i["name"] == "lo").unwrap();
        assert_eq!(lo["ipv4"], serde_json::json!(["127.0.0.1/8"]));
        let unknown = sink.issues_about("/proc/net/fib_trie");
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(format!("{unknown:?}").contains("10.9.9.9/32 of unknown interface"));
        assert!(sink.raw.contains_key("raw/proc/net/route"));
        assert!(sink.raw.contains_key("raw/proc/net/fib_trie"));

        // Without the IPv4 sources: said in the bundle, interfaces still collected.
        let h = MemHost::new(true).file("/sys/class/net/lo/flags", "0x9\n");
        let (sink, r) = run_collector(
            &NetIfCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(sink.of_kind("netif", "net_interface").len(), 1);
        assert_eq!(sink.issues_about("/proc/net/fib_trie").len(), 1);
        assert_eq!(sink.issues_about("/proc/net/route").len(), 1);

        let (sink, r) = run_collector(
            &NetIfCollector,
            &MemHost::new(false),
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(sink.issues_about("/sys/class/net").len(), 1);
    }
}
