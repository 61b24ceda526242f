//! Sockets and interfaces: listeners, suspicious ports, promiscuous interfaces, duplicate MACs.

use super::common::*;
use super::process::upgraded_not_restarted;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, Ioc, Message};
use dossier_plugin_api::records::ProcessRecord;

/// Shells and network relays: listening, they are a bind shell.
const SHELLS_AND_RELAYS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "ash", "busybox", "nc", "ncat", "netcat",
    "socat",
];

/// Why a listening interpreter process is a bad sign, if it is: a shell or relay, a one-liner
/// (`-c`, `-e`, `-r`), a script from an unusual place (or a relative script in such a working
/// directory), a deleted or memory-only interpreter.
fn listening_interpreter_problem(name: &str, p: Option<&ProcessRecord>) -> Option<Message> {
    let n = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if SHELLS_AND_RELAYS.contains(&name) || SHELLS_AND_RELAYS.contains(&n) {
        return Some(Message::new("reason.network.shell-or-relay").text("name", name));
    }
    let p = p?;
    if p.exe_deleted || p.exe.as_deref().is_some_and(|e| e.starts_with("/memfd:")) {
        return Some(Message::new("reason.network.exe-deleted-or-memory"));
    }
    let args: Vec<&str> = p.argv.iter().skip(1).map(String::as_str).collect();
    if let Some(flag) = args
        .iter()
        .find(|a| matches!(**a, "-c" | "-e" | "-E" | "-r" | "--eval"))
    {
        return Some(Message::new("reason.network.one-liner").text("flag", flag));
    }
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a == "-m" {
            return None; // a module of the interpreter's own path
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        let path = if a.starts_with('/') {
            a.to_string()
        } else {
            format!(
                "{}/{a}",
                p.cwd.as_deref().unwrap_or("").trim_end_matches('/')
            )
        };
        return unusual_location_msg(&path).map(|w| {
            Message::new("reason.network.script-unusual")
                .text("path", &path)
                .msg("why", w)
        });
    }
    None
}

/// An optional part of a sentence that is absent: the empty text.
fn optional_none() -> Arg {
    Arg::Text(String::new())
}

pub(crate) fn interpreter_listening(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in ctx.sockets.iter().filter(|s| s.rec.listening) {
        for name in s.rec.processes.iter().filter(|n| is_interpreter(n)) {
            let mut iocs = vec![Ioc::Port(s.rec.local_port)];
            iocs.extend(s.rec.pids.iter().map(|p| Ioc::Pid(*p)));
            let procs: Vec<&ProcessRecord> = ctx
                .procs
                .iter()
                .filter(|p| s.rec.pids.contains(&p.rec.pid) && p.rec.comm == *name)
                .map(|p| &p.rec)
                .collect();
            let problem = if procs.is_empty() {
                listening_interpreter_problem(name, None)
            } else {
                procs
                    .iter()
                    .find_map(|p| listening_interpreter_problem(name, Some(p)))
            };
            let cmd = procs.first().map_or_else(optional_none, |p| {
                Message::new("reason.network.command")
                    .text(
                        "command",
                        p.argv.join(" ").chars().take(200).collect::<String>(),
                    )
                    .into()
            });
            let pids = if s.rec.pids.is_empty() {
                optional_none()
            } else {
                Message::new("reason.network.pids")
                    .text(
                        "pids",
                        s.rec
                            .pids
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                    )
                    .into()
            };
            let listener = |id: &str| {
                let m = Message::new(id)
                    .text("name", name)
                    .text("protocol", &s.rec.protocol)
                    .text("addr", &s.rec.local_addr)
                    .text("port", s.rec.local_port);
                with_arg(with_arg(m, "pids", pids.clone()), "command", cmd.clone())
            };
            let mut ev = ctx.ev(
                s,
                what(
                    "evidence.socket",
                    &[
                        ("local_addr", &s.rec.local_addr),
                        ("local_port", &s.rec.local_port),
                    ],
                ),
                Some(&s.rec.source),
            );
            for p in ctx.procs.iter().filter(|p| s.rec.pids.contains(&p.rec.pid)) {
                ev.extend(proc_ev(ctx, p));
            }
            let subject = format!("{}/{}", s.rec.protocol, s.rec.local_port);
            out.push(match problem {
                Some(why) => explained(
                    subject,
                    listener("finding.network.interpreter-listening").msg("why", why),
                    ev,
                    iocs,
                ),
                // An application server running a script from a normal place.
                None => explained(
                    subject,
                    listener("finding.network.interpreter-listening-normal"),
                    ev,
                    iocs,
                )
                .context(),
            });
        }
    }
    out
}

pub(crate) fn renamed_process_listening(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in ctx.sockets.iter().filter(|s| s.rec.listening) {
        for pid in &s.rec.pids {
            let Some(p) = ctx
                .procs
                .iter()
                .find(|p| p.rec.pid == *pid && !p.rec.kernel_thread)
            else {
                continue;
            };
            let exe = p.rec.exe.as_deref().unwrap_or("?");
            let why = masquerade_reason_msg(ctx, &p.rec).or_else(|| {
                if exe.starts_with("/memfd:") {
                    Some(Message::new("reason.network.runs-memfd").text("exe", exe))
                } else if p.rec.exe_deleted {
                    Some(Message::new("reason.network.runs-deleted").text("exe", exe))
                } else {
                    None
                }
            });
            let Some(why) = why else { continue };
            let mut iocs = vec![Ioc::Port(s.rec.local_port)];
            iocs.extend(proc_iocs(p));
            let mut ev = ctx.ev(
                s,
                what(
                    "evidence.socket",
                    &[
                        ("local_addr", &s.rec.local_addr),
                        ("local_port", &s.rec.local_port),
                    ],
                ),
                Some(&s.rec.source),
            );
            ev.extend(proc_ev(ctx, p));
            let fileless = exe.starts_with("/memfd:") || p.rec.exe_deleted;
            let masquerade = masquerade_reason_msg(ctx, &p.rec).is_some();
            // A daemon not restarted after an upgrade.
            let upgraded =
                !masquerade && fileless && p.rec.exe_deleted && upgraded_not_restarted(ctx, exe);
            let message = Message::new(if upgraded {
                "finding.network.renamed-listening-upgraded"
            } else {
                "finding.network.renamed-listening"
            })
            .text("pid", p.rec.pid)
            .text("comm", &p.rec.comm)
            .text("protocol", &s.rec.protocol)
            .text("addr", &s.rec.local_addr)
            .text("port", s.rec.local_port)
            .msg("why", why);
            let f = explained(
                format!("{}/{}", s.rec.protocol, s.rec.local_port),
                message,
                ev,
                iocs,
            );
            out.push(if masquerade || !fileless {
                f
            } else if upgraded {
                f.context()
            } else {
                // The fileless executable deleted-exe-running and exec-unusual-path report.
                f.with_fact(format!("fileless-exe:pid:{}", p.rec.pid))
            });
        }
    }
    out
}

pub(crate) fn suspicious_port(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in &ctx.sockets {
        let procs: Arg = if s.rec.processes.is_empty() {
            Message::new("reason.network.unknown-process").into()
        } else {
            s.rec.processes.join(",").into()
        };
        let by = |id: &str| with_arg(Message::new(id), "processes", procs.clone());
        if s.rec.listening && cfg.suspicious_ports.contains(&s.rec.local_port) {
            // Many ordinary servers use these ports (8888, 9999): a listener is context,
            // raising behaviour found on the same process or socket.
            let mut iocs = vec![Ioc::Port(s.rec.local_port)];
            iocs.extend(s.rec.pids.iter().map(|p| Ioc::Pid(*p)));
            out.push(
                explained(
                    format!("{}/{}", s.rec.protocol, s.rec.local_port),
                    by("finding.network.suspicious-port-listening")
                        .text("protocol", &s.rec.protocol)
                        .text("port", s.rec.local_port),
                    ctx.ev(
                        s,
                        what(
                            "evidence.socket",
                            &[
                                ("local_addr", &s.rec.local_addr),
                                ("local_port", &s.rec.local_port),
                            ],
                        ),
                        Some(&s.rec.source),
                    ),
                    iocs,
                )
                .context(),
            );
        } else if !s.rec.listening
            && s.rec.remote_port != 0
            && cfg.suspicious_ports.contains(&s.rec.remote_port)
        {
            out.push(explained(
                format!("{}:{}", s.rec.remote_addr, s.rec.remote_port),
                by("finding.network.suspicious-port-connected")
                    .text("addr", &s.rec.remote_addr)
                    .text("port", s.rec.remote_port),
                ctx.ev(
                    s,
                    what(
                        "evidence.socket-to",
                        &[
                            ("remote_addr", &s.rec.remote_addr),
                            ("remote_port", &s.rec.remote_port),
                        ],
                    ),
                    Some(&s.rec.source),
                ),
                [
                    Ioc::Address(s.rec.remote_addr.clone()),
                    Ioc::Port(s.rec.remote_port),
                ]
                .into_iter()
                .chain(s.rec.pids.iter().map(|p| Ioc::Pid(*p)))
                .collect(),
            ));
        }
    }
    out
}

pub(crate) fn iface_ev(
    ctx: &Ctx,
    i: &At<dossier_plugin_api::records::NetInterfaceRecord>,
) -> Vec<Evidence> {
    ctx.ev(
        i,
        what("evidence.interface", &[("name", &i.rec.name)]),
        None,
    )
}

pub(crate) fn promiscuous_interface(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let is_bridge = |n: &str| {
        ctx.interfaces
            .iter()
            .any(|i| i.rec.name == n && i.rec.bridge)
    };
    ctx.interfaces
        .iter()
        .filter(|i| i.rec.flags.iter().any(|f| f == "PROMISC"))
        .filter(|i| !i.rec.master.as_deref().is_some_and(is_bridge))
        .map(|i| {
            let m = Message::new("finding.network.promiscuous")
                .text("name", &i.rec.name)
                .text(
                    "addresses",
                    i.rec
                        .ipv4
                        .iter()
                        .map(|a| format!(", {a}"))
                        .collect::<String>(),
                )
                .text("flags", i.rec.flags.join(","));
            let m = with_arg(
                m,
                "mac",
                match &i.rec.mac {
                    Some(mac) => Arg::from(mac.as_str()),
                    None => Message::new("reason.network.no-mac").into(),
                },
            );
            explained(
                &i.rec.name,
                m,
                iface_ev(ctx, i),
                i.rec.mac.clone().map(Ioc::Address).into_iter().collect(),
            )
        })
        .collect()
}

pub(crate) fn duplicate_mac(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut by_mac: std::collections::BTreeMap<
        &str,
        Vec<&At<dossier_plugin_api::records::NetInterfaceRecord>>,
    > = std::collections::BTreeMap::new();
    for i in ctx
        .interfaces
        .iter()
        .filter(|i| i.rec.physical && i.rec.master.is_none())
    {
        if let Some(m) = i.rec.mac.as_deref().filter(|m| *m != "00:00:00:00:00:00") {
            by_mac.entry(m).or_default().push(i);
        }
    }
    by_mac
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(mac, v)| {
            let names = and_list(v.iter().map(|i| {
                match &i.rec.perm_mac {
                    Some(p) => Message::new("reason.network.permanent-address")
                        .text("name", &i.rec.name)
                        .text("permanent", p)
                        .into(),
                    None => Arg::from(i.rec.name.as_str()),
                }
            }));
            explained(
                mac,
                with_arg(
                    Message::new("finding.network.duplicate-mac").text("mac", mac),
                    "names",
                    names,
                ),
                v.iter().flat_map(|i| iface_ev(ctx, i)).collect(),
                vec![Ioc::Address(mac.to_string())],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::engine::analyze_records;
    use crate::testkit::{self, input, proc};
    use serde_json::json;

    #[test]
    fn listeners_are_judged_by_what_they_run() {
        let procs = vec![
            (
                1,
                proc(
                    30,
                    "python3",
                    &["/usr/bin/python3", "/opt/app/server.py", "--port", "8080"],
                    "/usr/bin/python3.11",
                    json!({"uid": 998}),
                ),
            ),
            (
                2,
                proc(
                    31,
                    "python3",
                    &["python3", "-m", "http.server", "8000"],
                    "/usr/bin/python3.11",
                    json!({"cwd": "/home/dev/site"}),
                ),
            ),
            (
                3,
                proc(
                    32,
                    "python3",
                    &["python3", "-c", "import socket,pty;s=socket.socket()"],
                    "/usr/bin/python3.11",
                    json!({}),
                ),
            ),
            (
                4,
                proc(
                    33,
                    "perl",
                    &["perl", "x.pl"],
                    "/usr/bin/perl",
                    json!({"cwd": "/tmp/.k"}),
                ),
            ),
            (5, proc(34, "bash", &["bash"], "/usr/bin/bash", json!({}))),
            (
                6,
                proc(
                    35,
                    "java",
                    &["java", "-jar", "/opt/j.jar"],
                    "/usr/bin/java",
                    json!({}),
                ),
            ),
        ];
        let src = json!({"path": "/proc/net/tcp"});
        let sock = |line: usize, port: u16, pid: u32, name: &str| {
            (
                line,
                json!({"kind": "socket", "protocol": "tcp", "local_addr": "0.0.0.0", "local_port": port, "remote_addr": "0.0.0.0", "remote_port": 0, "state": "LISTEN", "listening": true, "inode": line, "uid": 0, "pids": [pid], "processes": [name], "source": src}),
            )
        };
        let sockets = vec![
            sock(1, 8080, 30, "python3"),
            sock(2, 8000, 31, "python3"),
            sock(3, 9001, 32, "python3"),
            sock(4, 9002, 33, "perl"),
            sock(5, 9003, 34, "bash"),
            sock(6, 8888, 35, "java"),
        ];
        let records = [
            ("proc".to_string(), procs),
            ("sockets".to_string(), sockets),
        ]
        .into_iter()
        .collect();
        let a = analyze_records(records);
        let class = |rule: &str| testkit::classes(&a, rule);
        assert_eq!(
            class("interpreter-listening"),
            [
                ("tcp/9001".to_string(), true),
                ("tcp/9002".to_string(), true),
                ("tcp/9003".to_string(), true),
                ("tcp/8000".to_string(), false),
                ("tcp/8080".to_string(), false),
                ("tcp/8888".to_string(), false),
            ]
        );
        // A java server on 8888 (a listed port) is context; nothing else points at it.
        assert_eq!(class("suspicious-port"), [("tcp/8888".to_string(), false)]);
        assert!(
            a.context
                .iter()
                .find(|f| f.rule == "suspicious-port")
                .unwrap()
                .linked_to
                .is_empty()
        );
    }

    #[test]
    fn renamed_process_listening_rule() {
        // (pid, comm, argv, exe, extra): each one listens on port 4000 + pid.
        let cases: Vec<(u32, &str, Vec<&str>, &str, serde_json::Value)> = vec![
            // Positives: a copy of python named kworker, python renamed to a kernel thread,
            // a deleted-exe listener, a fileless (memfd) listener, argv[0] of another program.
            (
                44,
                "kworker",
                vec!["kworker"],
                "/var/lib/.cache/kworker",
                json!({}),
            ),
            (
                45,
                "python3",
                vec!["[kworker/0:1]"],
                "/usr/bin/python3.11",
                json!({}),
            ),
            (
                46,
                "updater",
                vec!["/opt/updater"],
                "/opt/updater",
                json!({"exe_deleted": true}),
            ),
            (47, "3", vec!["3"], "/memfd:x", json!({"exe_deleted": true})),
            (
                48,
                "cupsd",
                vec!["cupsd"],
                "/usr/local/lib/.x/backdoor",
                json!({}),
            ),
            // Negatives: process titles, systemd's (sd-pam), interpreters under their
            // versioned names, busybox applets, packaged symlinks, java, /proc/self/exe.
            (
                50,
                "sshd",
                vec!["sshd: alice@pts/0"],
                "/usr/sbin/sshd",
                json!({}),
            ),
            (
                51,
                "nginx",
                vec!["nginx: master process /usr/sbin/nginx -g daemon on;"],
                "/usr/sbin/nginx",
                json!({}),
            ),
            (
                52,
                "postgres",
                vec!["postgres: 15/main: checkpointer "],
                "/usr/lib/postgresql/15/bin/postgres",
                json!({}),
            ),
            (
                53,
                "(sd-pam)",
                vec!["(sd-pam)"],
                "/usr/lib/systemd/systemd",
                json!({}),
            ),
            (
                54,
                "python3",
                vec!["python3", "-m", "http.server"],
                "/usr/bin/python3.11",
                json!({}),
            ),
            (
                55,
                "httpd",
                vec!["httpd", "-f"],
                "/usr/bin/busybox",
                json!({}),
            ),
            (
                56,
                "mysqld",
                vec!["/usr/sbin/mysqld"],
                "/usr/sbin/mariadbd",
                json!({}),
            ),
            (
                57,
                "rsyslogd",
                vec!["/sbin/rsyslogd", "-n"],
                "/usr/sbin/rsyslogd",
                json!({}),
            ),
            (
                58,
                "java",
                vec!["java", "-jar", "app.jar"],
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                json!({}),
            ),
            (
                59,
                "exe",
                vec!["/proc/self/exe", "init"],
                "/usr/bin/runc",
                json!({}),
            ),
            (
                60,
                "sshd",
                vec!["/usr/sbin/sshd", "-D"],
                "/usr/sbin/sshd",
                json!({}),
            ),
        ];
        let src = json!({"path": "/proc/net/tcp"});
        let procs: Vec<(usize, serde_json::Value)> = cases
            .iter()
            .enumerate()
            .map(|(i, (pid, comm, argv, exe, extra))| {
                (i + 1, proc(*pid, comm, argv, exe, extra.clone()))
            })
            .collect();
        let sockets: Vec<(usize, serde_json::Value)> = cases
            .iter()
            .enumerate()
            .map(|(i, (pid, comm, ..))| {
                (
                    i + 1,
                    json!({"kind": "socket", "protocol": "tcp", "local_addr": "0.0.0.0", "local_port": 4000 + pid, "remote_addr": "0.0.0.0", "remote_port": 0, "state": "LISTEN", "listening": true, "inode": pid, "uid": 0, "pids": [pid], "processes": [comm], "source": src}),
                )
            })
            .collect();
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "mariadb-server", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "mariadb-server", "files": ["/usr/sbin/mysqld", "/usr/sbin/mariadbd"], "source": {"path": "/var/lib/dpkg/info/mariadb-server.list"}}),
            ),
        ];
        let records = [
            ("proc".to_string(), procs),
            ("sockets".to_string(), sockets),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("no members".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .chain(&a.context)
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(
            subjects("renamed-process-listening"),
            ["tcp/4044", "tcp/4045", "tcp/4046", "tcp/4047", "tcp/4048"]
        );
        // Same name judgement as process-masquerade (deleted and memfd are this rule's own).
        assert_eq!(
            subjects("process-masquerade"),
            ["pid 44", "pid 45", "pid 48"]
        );
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "renamed-process-listening" && f.subject == "tcp/4047")
            .unwrap();
        assert!(
            f.explanation.contains("memory-only (fileless)"),
            "{}",
            f.explanation
        );
        use dossier_plugin_api::analysis::Ioc;
        assert!(f.iocs.contains(&Ioc::Port(4047)) && f.iocs.contains(&Ioc::Pid(47)));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.member == "records/sockets.jsonl")
                && f.evidence.iter().any(|e| e.member == "records/proc.jsonl")
        );
        let unusual = a
            .findings
            .iter()
            .find(|f| f.rule == "exec-unusual-path" && f.subject == "/memfd:x")
            .unwrap();
        assert!(
            unusual.explanation.contains("memory-only (fileless)")
                && !unusual.explanation.contains("system binary directory"),
            "{}",
            unusual.explanation
        );
    }

    #[test]
    fn interface_rules() {
        let nic = |line: usize, name: &str, mac: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "net_interface", "name": name, "mac": mac, "flags_raw": "0x1003", "flags": ["UP", "BROADCAST", "MULTICAST"], "physical": true, "source": {"path": format!("/sys/class/net/{name}")}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let promisc = json!(["UP", "BROADCAST", "PROMISC", "MULTICAST"]);
        let recs = vec![
            nic(
                1,
                "eth0",
                "00:11:22:33:44:55",
                json!({"flags": promisc, "ipv4": ["192.0.2.7/24"]}),
            ),
            nic(
                2,
                "eth1",
                "00:11:22:33:44:55",
                json!({"perm_mac": "00:11:22:33:44:66"}),
            ),
            nic(
                3,
                "eth2",
                "00:11:22:33:44:77",
                json!({"flags": promisc, "master": "br0"}),
            ),
            nic(
                4,
                "br0",
                "00:11:22:33:44:77",
                json!({"physical": false, "bridge": true}),
            ),
            nic(5, "eth3", "00:11:22:33:44:88", json!({"master": "bond0"})),
            nic(6, "eth4", "00:11:22:33:44:88", json!({"master": "bond0"})),
        ];
        let records = [("netif".to_string(), recs)].into_iter().collect();
        let a = analyze_records(records);
        let subjects = |rule: &str| testkit::subjects(&a, rule);
        assert_eq!(subjects("promiscuous-interface"), ["eth0"]);
        let promisc_text = &a
            .findings
            .iter()
            .find(|f| f.rule == "promiscuous-interface")
            .unwrap()
            .explanation;
        assert!(
            promisc_text.contains("(00:11:22:33:44:55, 192.0.2.7/24)"),
            "{promisc_text}"
        );
        assert_eq!(subjects("duplicate-mac"), ["00:11:22:33:44:55"]);
    }
}
