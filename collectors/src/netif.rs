//! The `netif` collector: network interfaces of a live host from `/sys/class/net` — hardware
//! address (and permanent address when it differs), flags decoded (`PROMISC`...), operational
//! state, type, physical or virtual, bridge/bond membership — and their IPv6 addresses from
//! `/proc/net/if_inet6`. An image has no `/sys`: recorded as not available.

use crate::util::{name_text, ptext};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::records::{NetInterfaceRecord, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use std::collections::BTreeMap;
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
            version: crate::VERSION.into(),
            description: "Network interfaces: MAC (and permanent MAC), flags incl. PROMISC, state, physical/virtual, bridge/bond membership, IPv6 addresses".into(),
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
        let base = Path::new("/sys/class/net");
        let Some(entries) = ctx.list_dir(base) else {
            ctx.not_available("/sys/class/net", "not readable");
            return Ok(());
        };
        for e in entries {
            let name = name_text(&e.name);
            let dir = base.join(&e.name);
            let Some(flags_raw) = small(ctx, &dir.join("flags")) else {
                continue; // bonding_masters and other plain files
            };
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
            let record = NetInterfaceRecord {
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
                source: SourceRef::path_only(ptext(&dir)),
                name,
            };
            ctx.emit(&Record::NetInterface(record))?;
        }
        Ok(())
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
        assert_eq!(ifs.len(), 2);
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
