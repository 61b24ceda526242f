//! A target: one host to connect to, or a network to expand into hosts; how each is written
//! back, and deduplication.

use ipnet::IpNet;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

/// One host to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target as written: the command-line argument, or the inventory host name (after
    /// range expansion) in a hosts file, or the address for a host of an expanded network.
    pub spec: String,
    /// What to connect to: a lower-case host name, or an IP address in canonical form (IPv6
    /// without brackets). For an inventory host this is `ansible_host` when set.
    pub host: String,
    /// Login user, when the target (or the inventory) names one.
    pub user: Option<String>,
    /// SSH port, when the target (or the inventory) names one.
    pub port: Option<u16>,
    /// Where the target was read: `hosts.ini:12`; `None` for the command line.
    pub origin: Option<String>,
    /// Inventory groups the host is listed in directly (sorted; `ungrouped` left out).
    pub groups: Vec<String>,
}

/// A parsed target: one host, or a network to expand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    Host(Target),
    /// A network in CIDR notation, host bits cleared (`10.0.0.5/24` becomes `10.0.0.0/24`).
    Network {
        net: IpNet,
        user: Option<String>,
        port: Option<u16>,
    },
}

impl Target {
    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    fn key(&self) -> DedupKey {
        DedupKey::Host(self.host.clone(), self.user.clone(), self.port)
    }
}

impl fmt::Display for Target {
    /// `user@host:port`, with brackets around an IPv6 address when a port follows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match self.port {
            Some(p) if self.host.contains(':') => write!(f, "[{}]:{p}", self.host),
            Some(p) => write!(f, "{}:{p}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl TargetSpec {
    /// The addresses to probe: every address of a network, except the network and broadcast
    /// addresses of an IPv4 network shorter than /31; for a host, its address when it is an IP
    /// literal, and nothing for a host name (this module never resolves names).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + use<> {
        let (ip, range) = match self {
            TargetSpec::Host(t) => (t.ip(), None),
            TargetSpec::Network { net, .. } => (None, Some(net.hosts())),
        };
        ip.into_iter().chain(range.into_iter().flatten())
    }

    /// How many addresses [`TargetSpec::addresses`] yields for a network; 1 for a host.
    pub fn address_count(&self) -> u64 {
        match self {
            TargetSpec::Host(_) => 1,
            TargetSpec::Network { net, .. } => {
                let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
                let all = 1u64 << host_bits.min(63);
                match net {
                    IpNet::V4(_) if host_bits >= 2 => all - 2,
                    _ => all,
                }
            }
        }
    }

    /// The hosts to connect to: the host itself, or one [`Target`] per address of a network
    /// (with the network's user and port; `spec` and `host` are the address).
    pub fn targets(&self) -> impl Iterator<Item = Target> + '_ {
        let one = match self {
            TargetSpec::Host(t) => Some(t.clone()),
            TargetSpec::Network { .. } => None,
        };
        let (user, port) = match self {
            TargetSpec::Network { user, port, .. } => (user.clone(), *port),
            TargetSpec::Host(_) => (None, None),
        };
        let expanded = match self {
            TargetSpec::Network { .. } => Some(self.addresses()),
            TargetSpec::Host(_) => None,
        };
        one.into_iter()
            .chain(expanded.into_iter().flatten().map(move |ip| Target {
                spec: ip.to_string(),
                host: ip.to_string(),
                user: user.clone(),
                port,
                origin: None,
                groups: Vec::new(),
            }))
    }

    fn key(&self) -> DedupKey {
        match self {
            TargetSpec::Host(t) => t.key(),
            TargetSpec::Network { net, user, port } => DedupKey::Net(*net, user.clone(), *port),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Host(t) => t.fmt(f),
            TargetSpec::Network { net, user, port } => {
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                match (net, port) {
                    (IpNet::V6(_), Some(p)) => write!(f, "[{net}]:{p}"),
                    (_, Some(p)) => write!(f, "{net}:{p}"),
                    (_, None) => write!(f, "{net}"),
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum DedupKey {
    Host(String, Option<String>, Option<u16>),
    Net(IpNet, Option<String>, Option<u16>),
}

/// Drops repeated targets, keeping the first: hosts are the same when host, user and port are
/// (as written: `web` and `web:22` differ, since the port of `web` may come from the SSH
/// config); networks when network, user and port are. Use it to merge command-line targets
/// with a `--hosts` file. Overlapping networks are not merged here: expand them and use
/// [`dedup_targets`].
pub fn dedup(specs: impl IntoIterator<Item = TargetSpec>) -> Vec<TargetSpec> {
    let mut seen = HashSet::new();
    specs.into_iter().filter(|s| seen.insert(s.key())).collect()
}

/// Drops repeated hosts (same host, user and port), keeping the first; for the hosts of
/// expanded, possibly overlapping networks.
pub fn dedup_targets(targets: impl IntoIterator<Item = Target>) -> Vec<Target> {
    let mut seen = HashSet::new();
    targets
        .into_iter()
        .filter(|t| seen.insert(t.key()))
        .collect()
}
