//! Records of the host as a whole: its identity, kernel modules and taint, network interfaces.

use super::source::SourceRef;
use crate::host::HostInfo;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identity of the host and of the collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// `PRETTY_NAME` from os-release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_pretty_name: Option<String>,
    /// `ID`, `VERSION_ID`, `ID_LIKE`... from os-release.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub os_release: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Account the collection ran as on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_as_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_as_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<HostInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
}

/// A kernel module seen in `/proc/modules` or `/sys/module` (live hosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelModuleRecord {
    pub name: String,
    /// Listed in `/proc/modules`.
    pub in_proc_modules: bool,
    /// Has a `/sys/module/<name>` directory.
    pub in_sys_module: bool,
    /// `/sys/module/<name>/initstate` (`live`, `coming`, `going`); absent for built-in code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initstate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refcnt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Taint letters of the module (`/proc/modules` `(OE)` or `/sys/module/<name>/taint`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub taint: String,
    /// The module file, from `modules.dep` of the running kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `/proc/modules` line number (or 0).
    pub line: u32,
    pub source: SourceRef,
}

/// A module loading or modprobe configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleConfigRecord {
    pub path: String,
    /// `load` (`/etc/modules`, `modules-load.d`: modules loaded at boot) or `modprobe`.
    pub purpose: String,
    /// Modules loaded at boot (`load`) or directives (`modprobe`: `install x /bin/true`...).
    pub entries: Vec<String>,
    /// Commands of `install`/`remove` directives (they run as root when the module loads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    pub source: SourceRef,
}

/// `/proc/sys/kernel/tainted`, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelTaintRecord {
    pub value: u64,
    /// Letters and meanings of the set bits (`O: out-of-tree module loaded`...).
    pub flags: Vec<String>,
    pub source: SourceRef,
}

/// A network interface from `/sys/class/net` (live hosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterfaceRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    /// Hardware address (`address`), lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Permanent hardware address when the driver reports one that differs from `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm_mac: Option<String>,
    /// `flags` as read (hex) and decoded (`UP`, `BROADCAST`, `PROMISC`...).
    pub flags_raw: String,
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operstate: Option<String>,
    /// ARPHRD type number (1 = Ethernet, 772 = loopback...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_type: Option<u32>,
    /// Backed by a device (`/sys/class/net/<if>/device` exists): a physical adapter.
    pub physical: bool,
    /// Bridge, bond or team the interface is enslaved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The interface is itself a bridge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bridge: bool,
    /// IPv6 addresses from `/proc/net/if_inet6` (`addr/prefix`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6: Vec<String>,
    /// IPv4 addresses (`addr/prefix`): the local addresses of `/proc/net/fib_trie` attributed
    /// to this interface through its connected route in `/proc/net/route` (or, for a
    /// loopback device, through its local prefix route such as `127.0.0.0/8`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv4: Vec<String>,
    /// Broadcast addresses of those subnets that the kernel has a broadcast route for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv4_broadcast: Vec<String>,
    pub source: SourceRef,
}
