//! The numbers behind an audit SYSCALL record when auditd did not translate them: the
//! architecture (`arch=c000003e`), the syscall number for the calls an investigator asks
//! about (process start, network, file changes, privilege, tracing, modules, signals) on
//! x86_64 and aarch64, and the socket address of a SOCKADDR record (`saddr=` hex).

/// The architecture name of an audit `arch=` value.
pub(crate) fn arch_name(arch: &str) -> Option<&'static str> {
    match arch.to_ascii_lowercase().as_str() {
        "c000003e" => Some("x86_64"),
        "c00000b7" => Some("aarch64"),
        "40000003" => Some("i386"),
        _ => None,
    }
}

/// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const X86_64: &[(u64, &str)] = &[
    (2, "open"),
    (41, "socket"),
    (42, "connect"),
    (43, "accept"),
    (44, "sendto"),
    (49, "bind"),
    (50, "listen"),
    (56, "clone"),
    (57, "fork"),
    (58, "vfork"),
    (59, "execve"),
    (62, "kill"),
    (76, "truncate"),
    (77, "ftruncate"),
    (82, "rename"),
    (83, "mkdir"),
    (84, "rmdir"),
    (85, "creat"),
    (86, "link"),
    (87, "unlink"),
    (88, "symlink"),
    (90, "chmod"),
    (91, "fchmod"),
    (92, "chown"),
    (93, "fchown"),
    (94, "lchown"),
    (101, "ptrace"),
    (105, "setuid"),
    (106, "setgid"),
    (113, "setreuid"),
    (114, "setregid"),
    (117, "setresuid"),
    (119, "setresgid"),
    (122, "setfsuid"),
    (123, "setfsgid"),
    (133, "mknod"),
    (165, "mount"),
    (166, "umount2"),
    (169, "reboot"),
    (170, "sethostname"),
    (175, "init_module"),
    (176, "delete_module"),
    (200, "tkill"),
    (234, "tgkill"),
    (257, "openat"),
    (260, "fchownat"),
    (263, "unlinkat"),
    (264, "renameat"),
    (265, "linkat"),
    (266, "symlinkat"),
    (268, "fchmodat"),
    (288, "accept4"),
    (313, "finit_module"),
    (316, "renameat2"),
    (319, "memfd_create"),
    (321, "bpf"),
    (322, "execveat"),
    (437, "openat2"),
];

/// aarch64 syscall numbers (the generic table, include/uapi/asm-generic/unistd.h).
const AARCH64: &[(u64, &str)] = &[
    (33, "mknodat"),
    (34, "mkdirat"),
    (35, "unlinkat"),
    (36, "symlinkat"),
    (37, "linkat"),
    (38, "renameat"),
    (39, "umount2"),
    (40, "mount"),
    (45, "truncate"),
    (46, "ftruncate"),
    (52, "fchmod"),
    (53, "fchmodat"),
    (54, "fchownat"),
    (55, "fchown"),
    (56, "openat"),
    (105, "init_module"),
    (106, "delete_module"),
    (117, "ptrace"),
    (129, "kill"),
    (130, "tkill"),
    (131, "tgkill"),
    (142, "reboot"),
    (143, "setregid"),
    (144, "setgid"),
    (145, "setreuid"),
    (146, "setuid"),
    (147, "setresuid"),
    (149, "setresgid"),
    (151, "setfsuid"),
    (152, "setfsgid"),
    (161, "sethostname"),
    (198, "socket"),
    (200, "bind"),
    (201, "listen"),
    (202, "accept"),
    (203, "connect"),
    (206, "sendto"),
    (220, "clone"),
    (221, "execve"),
    (242, "accept4"),
    (273, "finit_module"),
    (276, "renameat2"),
    (279, "memfd_create"),
    (280, "bpf"),
    (281, "execveat"),
    (437, "openat2"),
];

/// The name of syscall `number` on `arch` (a name from [`arch_name`]), when in the tables.
pub(crate) fn syscall_name(arch: &str, number: u64) -> Option<&'static str> {
    let table = match arch {
        "x86_64" => X86_64,
        "aarch64" => AARCH64,
        _ => return None,
    };
    table
        .binary_search_by_key(&number, |&(n, _)| n)
        .ok()
        .map(|i| table[i].1)
}

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SockAddr {
    Inet {
        addr: String,
        port: u16,
    },
    Unix(String),
    /// Another family: its number.
    Other(u16),
}

impl SockAddr {
    /// The family's name as `fields["sockaddr_family"]` gives it.
    pub(crate) fn family(&self) -> String {
        match self {
            SockAddr::Inet { addr, .. } if addr.contains(':') => "inet6".into(),
            SockAddr::Inet { .. } => "inet".into(),
            SockAddr::Unix(_) => "unix".into(),
            SockAddr::Other(n) => format!("family {n}"),
        }
    }
}

/// A `struct sockaddr` as the kernel logs it: the family in host order (little-endian on
/// x86_64 and aarch64), then for AF_INET/AF_INET6 the port and address in network order.
pub(crate) fn sockaddr(bytes: &[u8]) -> Option<SockAddr> {
    let family = u16::from_le_bytes([*bytes.first()?, *bytes.get(1)?]);
    let port = || Some(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]));
    match family {
        1 => {
            let path = bytes.get(2..).unwrap_or_default();
            // An abstract socket starts with NUL; a path ends at the first NUL.
            let path = match path.split_first() {
                Some((0, rest)) => {
                    format!(
                        "@{}",
                        String::from_utf8_lossy(rest.split(|&b| b == 0).next()?)
                    )
                }
                _ => String::from_utf8_lossy(path.split(|&b| b == 0).next()?).into_owned(),
            };
            Some(SockAddr::Unix(path))
        }
        2 => {
            let a: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            Some(SockAddr::Inet {
                addr: std::net::Ipv4Addr::from(a).to_string(),
                port: port()?,
            })
        }
        10 => {
            let a: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let ip = std::net::Ipv6Addr::from(a);
            let addr = match ip.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => ip.to_string(),
            };
            Some(SockAddr::Inet {
                addr,
                port: port()?,
            })
        }
        n => Some(SockAddr::Other(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::unhex;

    #[test]
    fn tables_are_sorted_and_name_the_calls_on_both_architectures() {
        for t in [X86_64, AARCH64] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_eq!(syscall_name("x86_64", 59), Some("execve"));
        assert_eq!(syscall_name("x86_64", 42), Some("connect"));
        assert_eq!(syscall_name("aarch64", 221), Some("execve"));
        assert_eq!(syscall_name("aarch64", 203), Some("connect"));
        assert_eq!(syscall_name("x86_64", 0), None);
        assert_eq!(syscall_name("mips", 59), None);
        assert_eq!(arch_name("C000003E"), Some("x86_64"));
        assert_eq!(arch_name("c00000b7"), Some("aarch64"));
    }

    #[test]
    fn socket_addresses_decode() {
        let v4 = sockaddr(&unhex(b"02000050CB0071050000000000000000").unwrap()).unwrap();
        assert_eq!(
            v4,
            SockAddr::Inet {
                addr: "203.0.113.5".into(),
                port: 80
            }
        );
        assert_eq!(v4.family(), "inet");
        let v6 = sockaddr(
            &unhex(b"0A0001BB0000000020010DB8000000000000000000000001000000000000").unwrap(),
        )
        .unwrap();
        assert_eq!(
            v6,
            SockAddr::Inet {
                addr: "2001:db8::1".into(),
                port: 443
            }
        );
        assert_eq!(v6.family(), "inet6");
        let unix = sockaddr(&unhex(b"01002F72756E2F646275732F736F636B657400").unwrap()).unwrap();
        assert_eq!(unix, SockAddr::Unix("/run/dbus/socket".into()));
        assert_eq!(sockaddr(&[0x10, 0x00]), Some(SockAddr::Other(16)));
        assert_eq!(sockaddr(&[0x02, 0x00, 0x00]), None);
        assert_eq!(sockaddr(&[]), None);
    }
}
