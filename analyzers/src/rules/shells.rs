//! Live reverse shells: a shell or interpreter whose stdin and stdout (or stderr) are a TCP
//! connection to another host.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc, Message};
use dossier_plugin_api::records::{ProcessRecord, SocketRecord};

/// Parents that hand a connection to the program they start, on purpose.
const INETD: &[&str] = &["inetd", "xinetd", "tcpserver", "tcpsvd", "s6-tcpserver"];

fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// A TCP connection (not a listener) with this inode.
fn tcp(ctx: &Ctx, inode: u64) -> Option<&At<SocketRecord>> {
    ctx.sockets
        .iter()
        .find(|s| s.rec.inode == inode && s.rec.protocol.starts_with("tcp") && !s.rec.listening)
}

/// A socket-activated service instance (`Accept=yes`): systemd gives it the connection.
fn socket_activated(ctx: &Ctx, p: &ProcessRecord) -> bool {
    let Some(unit) = p.systemd_unit.as_deref() else {
        return false;
    };
    let Some((prefix, _)) = unit.split_once('@') else {
        return false;
    };
    ctx.units.iter().any(|u| {
        u.rec.name == format!("{prefix}.socket")
            && u.rec
                .properties
                .get("Socket.Accept")
                .and_then(|v| v.last())
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1"))
    })
}

pub(crate) fn reverse_shell_stdio(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in ctx
        .procs
        .iter()
        .filter(|p| !p.rec.kernel_thread && p.rec.stdio.len() == 3)
    {
        let exe_name = p.rec.exe.as_deref().map(base).unwrap_or_default();
        if !is_interpreter(&p.rec.comm) && !is_interpreter(exe_name) {
            continue;
        }
        let Some(inode) = socket_inode(&p.rec.stdio[0]) else {
            continue;
        };
        if !p.rec.stdio[1..]
            .iter()
            .any(|t| socket_inode(t) == Some(inode))
        {
            continue;
        }
        let Some(s) = tcp(ctx, inode) else {
            continue;
        };
        let parent = ctx.procs.iter().find(|q| q.rec.pid == p.rec.ppid);
        if parent.is_some_and(|q| INETD.contains(&q.rec.comm.as_str()))
            || socket_activated(ctx, &p.rec)
        {
            continue;
        }
        let peer = format!("{}:{}", s.rec.remote_addr, s.rec.remote_port);
        let mut ev = proc_ev(ctx, p);
        ev.extend(ctx.ev(
            s,
            what(
                "evidence.connection",
                &[("local_addr", &s.rec.local_addr), ("peer", &peer)],
            ),
            Some(&s.rec.source),
        ));
        let mut iocs = proc_iocs(p);
        iocs.push(Ioc::Address(s.rec.remote_addr.clone()));
        iocs.push(Ioc::Port(s.rec.remote_port));
        let stream = if p.rec.stdio[1] == p.rec.stdio[0] {
            "stdout"
        } else {
            "stderr"
        };
        out.push(explained(
            format!("pid {}", p.rec.pid),
            Message::new("finding.shells.reverse-shell")
                .text("comm", &p.rec.comm)
                .text("pid", p.rec.pid)
                .text("argv", p.rec.argv.join(" "))
                .text("user", p.rec.user.as_deref().unwrap_or("?"))
                .text("peer", &peer)
                .text("state", &s.rec.state)
                .text("inode", inode)
                .text("stream", stream),
            ev,
            iocs,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::{input, proc};
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn shells_on_a_tcp_connection_are_reverse_shells_ptys_and_daemons_are_not() {
        let sock = |inode: u64, state: &str| {
            json!({"kind": "socket", "protocol": "tcp", "local_addr": "10.0.0.5", "local_port": 40000 + inode % 1000,
            "remote_addr": "192.0.2.66", "remote_port": 4444, "state": state, "listening": false, "inode": inode, "uid": 0, "pids": [], "processes": [], "source": {"path": "/proc/net/tcp"}})
        };
        let mut r = BTreeMap::new();
        r.insert(
            "proc".to_string(),
            vec![
                (1, proc(700, "bash", &["bash", "-i"], "/usr/bin/bash", json!({"stdio": ["socket:[111]", "socket:[111]", "socket:[111]"]}))),
                (2, proc(701, "python3", &["python3", "-c", "x"], "/usr/bin/python3.11", json!({"stdio": ["socket:[112]", "socket:[112]", "/dev/null"]}))),
                // sshd session: a pty.
                (3, proc(702, "bash", &["-bash"], "/usr/bin/bash", json!({"stdio": ["/dev/pts/0", "/dev/pts/0", "/dev/pts/0"]}))),
                // A daemon given a socket (nginx), and a shell whose stdio is a unix socket.
                (4, proc(703, "nginx", &["nginx"], "/usr/sbin/nginx", json!({"stdio": ["socket:[113]", "socket:[113]", "socket:[113]"]}))),
                (5, proc(704, "sh", &["sh", "/usr/lib/x"], "/usr/bin/dash", json!({"stdio": ["/dev/null", "socket:[999]", "socket:[999]"]}))),
                // A socket-activated (Accept=yes) shell script service.
                (6, proc(705, "sh", &["sh", "/usr/local/lib/echo.sh"], "/usr/bin/dash", json!({"stdio": ["socket:[114]", "socket:[114]", "socket:[114]"], "systemd_unit": "echo@3-10.0.0.5:7-192.0.2.1:5000.service"}))),
            ],
        );
        r.insert(
            "sockets".to_string(),
            vec![
                (1, sock(111, "ESTABLISHED")),
                (2, sock(112, "ESTABLISHED")),
                (3, sock(113, "ESTABLISHED")),
                (4, sock(114, "ESTABLISHED")),
            ],
        );
        r.insert(
            "systemd".to_string(),
            vec![(1, json!({"kind": "unit", "name": "echo.socket", "unit_type": "socket", "scope": "system", "path": "/etc/systemd/system/echo.socket",
                "unit_dir": "/etc/systemd/system", "source": {"path": "x"}, "enabled": true, "properties": {"Socket.Accept": ["yes"]}}))],
        );
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(r, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let got: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.rule == "reverse-shell-stdio")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(got, ["pid 700", "pid 701"]);
        assert!(
            a.findings[0].explanation.contains("192.0.2.66:4444")
                || a.findings
                    .iter()
                    .any(|f| f.explanation.contains("192.0.2.66:4444"))
        );
    }
}
