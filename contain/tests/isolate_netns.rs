//! `isolate` for real, in network namespaces the test makes (root, `ip`, `nft`, python3): a
//! target namespace joined by veth pairs to a kept peer's namespace and another peer's, IPv4
//! and IPv6 on each link. The actions run through [`Netns`], an actuator that runs every
//! command inside the target namespace (`ip netns exec NS argv...`), so the real `nft` loads
//! the real ruleset there; TCP listeners and connection attempts are python3 socket one-liners
//! run in the namespaces. Everything the test made (namespaces, listeners, rollback sleepers,
//! confirmation files) is removed by a guard, also when a check fails.

#[path = "../../tests/src/skip.rs"]
mod skip;

use dossier_contain::isolate::{self, CONFIRM_DIR, Isolate, TimerChoice};
use dossier_contain::{Action, ActionError, Actuator, LocalActuator, Output, Peer};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const IP_PATHS: &[&str] = &["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
const PYTHON: &str = "/usr/bin/python3";
/// Listens on each port given (IPv4 and IPv6) and echoes what each connection sends.
const LISTEN: &str = "import socket,sys,threading\n\
    def serve(c):\n    with c:\n        while (d:=c.recv(4096)): c.sendall(d)\n\
    def loop(s):\n    while True:\n        c,_=s.accept(); threading.Thread(target=serve,args=(c,),daemon=True).start()\n\
    ss=[socket.create_server(('',int(p)),family=socket.AF_INET6,dualstack_ipv6=True,backlog=64) for p in sys.argv[1:]]\n\
    for s in ss: threading.Thread(target=loop,args=(s,),daemon=True).start()\n\
    print('ready',flush=True)\n\
    threading.Event().wait()\n";
/// One connection kept open: each line on stdin is sent, and the echo (or the error) printed.
const SESSION: &str = "import socket,sys\n\
    c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2)\n\
    print('connected',flush=True)\n\
    for line in sys.stdin:\n    \
    try:\n        c.sendall(line.encode()); print('echo',c.recv(4096).decode().strip(),flush=True)\n    \
    except OSError as e:\n        print('error',e,flush=True)\n";
const CONNECT: &str = "import socket,sys\n\
    try:\n    socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1).close()\n\
    except OSError as e:\n    print(e);sys.exit(1)\n";
/// A firewall of the target's own (conntrack in use, as on most hosts).
const HOST_FIREWALL: &str = "table inet lab_firewall {\n\
    chain input { type filter hook input priority 0; policy accept; ct state established,related accept; }\n\
    chain output { type filter hook output priority 0; policy accept; ct state established,related accept; }\n\
    }\n";
/// The SSH port the kept peer's session uses, another port with a listener, and a port the
/// peers listen on.
const SSH: u16 = 2222;
const OTHER: u16 = 8080;
const PEER_PORT: u16 = 9090;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ip() -> Option<&'static str> {
    IP_PATHS
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).exists())
}

/// Runs every command inside network namespace `ns`, as a remote target's actuator would on
/// that host.
struct Netns {
    ns: String,
    ip: &'static str,
    inner: LocalActuator,
}

impl Actuator for Netns {
    fn host(&self) -> &str {
        &self.ns
    }

    fn is_local(&self) -> bool {
        false
    }

    fn run(
        &mut self,
        argv: &[&str],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<Output, dossier_contain::ActError> {
        let mut full = vec![self.ip, "netns", "exec", &self.ns];
        full.extend_from_slice(argv);
        self.inner.run(&full, stdin, timeout)
    }
}

/// The namespaces and processes of one test, removed on drop.
struct Lab {
    ip: &'static str,
    target: String,
    kept: String,
    other: String,
    made: Vec<String>,
    listeners: Vec<Child>,
    sleepers: Vec<(u32, u64)>,
    files: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.listeners {
            let _ = c.kill();
            let _ = c.wait();
        }
        let local: &mut dyn Actuator = &mut LocalActuator::new();
        for &(pid, start) in &self.sleepers {
            if let Ok(Some((t, _))) = isolate::process_start(local, pid) {
                if t == start {
                    let pgid = nix::unistd::Pid::from_raw(pid as i32);
                    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::SIGTERM);
                }
            }
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        for ns in &self.made {
            let _ = Command::new(self.ip).args(["netns", "del", ns]).status();
        }
    }
}

fn sh(ip: &str, args: &[&str]) {
    let o = Command::new(ip).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A lab, or `None` (after `skip_or_fail`) when this machine cannot make one.
fn lab() -> Option<Lab> {
    if !nix::unistd::geteuid().is_root() {
        skip::skip_or_fail("network namespaces need root");
        return None;
    }
    let Some(ip) = ip() else {
        skip::skip_or_fail("no ip program (iproute2)");
        return None;
    };
    if !isolate::NFT_PATHS
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        skip::skip_or_fail("no nft program (nftables)");
        return None;
    }
    if !std::path::Path::new(PYTHON).exists() {
        skip::skip_or_fail("no /usr/bin/python3 for the TCP listeners");
        return None;
    }
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = |r: &str| format!("dj-{}-{n}-{r}", std::process::id());
    let mut lab = Lab {
        ip,
        target: name("t"),
        kept: name("k"),
        other: name("o"),
        made: Vec::new(),
        listeners: Vec::new(),
        sleepers: Vec::new(),
        files: Vec::new(),
    };
    for ns in [lab.target.clone(), lab.kept.clone(), lab.other.clone()] {
        sh(ip, &["netns", "add", &ns]);
        lab.made.push(ns.clone());
        sh(ip, &["-n", &ns, "link", "set", "lo", "up"]);
    }
    for (peer, net, a, b) in [(&lab.kept, 1, "tk", "kt"), (&lab.other, 2, "to", "ot")] {
        let t = &lab.target;
        sh(
            ip,
            &[
                "-n", t, "link", "add", a, "type", "veth", "peer", "name", b, "netns", peer,
            ],
        );
        for (ns, dev, host) in [(t, a, 1), (peer, b, 2)] {
            let v4 = format!("10.77.{net}.{host}/24");
            let v6 = format!("fd77:{net}::{host}/64");
            sh(ip, &["-n", ns, "addr", "add", &v4, "dev", dev]);
            sh(ip, &["-n", ns, "addr", "add", &v6, "dev", dev, "nodad"]);
            sh(ip, &["-n", ns, "link", "set", dev, "up"]);
        }
    }
    Some(lab)
}

impl Lab {
    fn actuator(&self) -> Netns {
        Netns {
            ns: self.target.clone(),
            ip: self.ip,
            inner: LocalActuator::new(),
        }
    }

    /// Starts a listener on `ports` (IPv4 and IPv6) in `ns` and waits until it listens.
    fn listen(&mut self, ns: &str, ports: &[u16]) {
        let mut c = Command::new(self.ip);
        c.args(["netns", "exec", ns, PYTHON, "-c", LISTEN]);
        c.args(ports.iter().map(u16::to_string));
        let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        self.listeners.push(child);
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "listener in {ns} did not start");
    }

    /// Opens a connection from `ns` to `host:port` that stays open (see [`Session::echoes`]).
    fn session(&mut self, ns: &str, host: &str, port: u16) -> Session {
        let p = port.to_string();
        let mut child = Command::new(self.ip)
            .args(["netns", "exec", ns, PYTHON, "-c", SESSION, host, &p])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        self.listeners.push(child);
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "connected",
            "no session from {ns} to {host}:{port}"
        );
        Session { input, output }
    }

    /// Whether a TCP connection from namespace `ns` to `host:port` is accepted within 1 s.
    fn connects(&self, ns: &str, host: &str, port: u16) -> bool {
        let p = port.to_string();
        let args = ["netns", "exec", ns, PYTHON, "-c", CONNECT, host, &p];
        Command::new(self.ip)
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Records the rollback sleeper and confirmation file of `after` for clean-up.
    fn track(&mut self, after: &Value) {
        let t = &after["timer"];
        assert_eq!(t["kind"], "sleeper", "{after}");
        let pid = t["pid"].as_u64().unwrap() as u32;
        self.sleepers.push((pid, t["start_time"].as_u64().unwrap()));
        self.files
            .push(t["confirm_file"].as_str().unwrap().to_string());
    }

    fn table_present(&self) -> bool {
        let a: &mut dyn Actuator = &mut self.actuator();
        isolate::table_present(a, &nft()).unwrap()
    }
}

/// A TCP connection opened before a change, held by a python3 client.
struct Session {
    input: std::process::ChildStdin,
    output: BufReader<std::process::ChildStdout>,
}

impl Session {
    /// Whether `text` sent now comes back through the connection (within 2 s).
    fn echoes(&mut self, text: &str) -> bool {
        writeln!(self.input, "{text}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.trim() == format!("echo {text}")
    }
}

fn nft() -> String {
    isolate::NFT_PATHS
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap()
        .to_string()
}

fn peer(addr: &str) -> Peer {
    Peer {
        addr: addr.into(),
        port: SSH,
    }
}

fn id(tag: &str) -> String {
    format!("test-{}-{tag}", std::process::id())
}

fn sleeper_alive(after: &Value) -> bool {
    let pid = after["timer"]["pid"].as_u64().unwrap() as u32;
    let start = after["timer"]["start_time"].as_u64().unwrap();
    let local: &mut dyn Actuator = &mut LocalActuator::new();
    isolate::process_start(local, pid)
        .unwrap()
        .is_some_and(|(t, _)| t == start)
}

/// What the target can reach: (description, from namespace, to address, port, expected).
fn reach(lab: &Lab, isolated: bool) {
    let (t, k, o) = (&lab.target, &lab.kept, &lab.other);
    let checks: [(&str, &str, &str, u16, bool); 11] = [
        ("kept peer to the SSH port, IPv4", k, "10.77.1.1", SSH, true),
        ("kept peer to the SSH port, IPv6", k, "fd77:1::1", SSH, true),
        ("target's loopback, IPv4", t, "127.0.0.1", OTHER, true),
        ("target's loopback, IPv6", t, "::1", OTHER, true),
        (
            "kept peer to another port, IPv4",
            k,
            "10.77.1.1",
            OTHER,
            !isolated,
        ),
        (
            "kept peer to another port, IPv6",
            k,
            "fd77:1::1",
            OTHER,
            !isolated,
        ),
        (
            "other peer to the SSH port, IPv4",
            o,
            "10.77.2.1",
            SSH,
            !isolated,
        ),
        (
            "other peer to the SSH port, IPv6",
            o,
            "fd77:2::1",
            SSH,
            !isolated,
        ),
        (
            "target to the kept peer, IPv4",
            t,
            "10.77.1.2",
            PEER_PORT,
            !isolated,
        ),
        (
            "target to the kept peer, IPv6",
            t,
            "fd77:1::2",
            PEER_PORT,
            !isolated,
        ),
        (
            "target to the other peer, IPv4",
            t,
            "10.77.2.2",
            PEER_PORT,
            !isolated,
        ),
    ];
    for (what, from, to, port, want) in checks {
        assert_eq!(
            lab.connects(from, to, port),
            want,
            "{what} ({to} port {port}) with isolation {}",
            if isolated { "on" } else { "off" }
        );
    }
}

#[test]
fn isolation_cuts_all_but_loopback_and_the_kept_session_in_ipv4_and_ipv6() {
    let Some(mut lab) = lab() else { return };
    let (t, k, o) = (lab.target.clone(), lab.kept.clone(), lab.other.clone());
    lab.listen(&t, &[SSH, OTHER]);
    lab.listen(&k, &[PEER_PORT]);
    lab.listen(&o, &[PEER_PORT]);
    reach(&lab, false);
    // The host's own firewall, which tracks connections and accepts everything: its accepts
    // do not get past the isolation's drops.
    let a: &mut dyn Actuator = &mut lab.actuator();
    let loaded = a.run(
        &[&nft(), "-f", "-"],
        HOST_FIREWALL.as_bytes(),
        Duration::from_secs(30),
    );
    assert!(loaded.unwrap().success(), "host firewall not loaded");
    // Sessions open before the isolation: the responder's (kept) and another peer's.
    let mut kept_session = lab.session(&k, "fd77:1::1", SSH);
    let mut other_session = lab.session(&o, "10.77.2.1", SSH);
    assert!(kept_session.echoes("before") && other_session.echoes("before"));

    let iso = Isolate::new(vec![peer("10.77.1.2"), peer("fd77:1::2")], 600)
        .with_timer(TimerChoice::Sleeper);
    let id = id("cut");
    let a: &mut dyn Actuator = &mut lab.actuator();
    let before = iso.check(a).unwrap();
    assert_eq!(before["table_present"], false, "{before}");
    assert_eq!(before["timer"], "sleeper");
    assert_eq!(before["ruleset_sha256"].as_str().unwrap().len(), 64);
    let after = iso.apply(a, &id, &before).unwrap();
    lab.track(&after);
    assert!(sleeper_alive(&after), "no rollback sleeper: {after}");
    // Addresses resolved afresh: IPv6 neighbour discovery must pass the isolation.
    for ns in [&t, &k, &o] {
        sh(lab.ip, &["-n", ns, "neigh", "flush", "all"]);
    }
    reach(&lab, true);
    assert!(kept_session.echoes("after"), "the kept session was cut");
    assert!(
        !other_session.echoes("after"),
        "another peer's open session was not cut"
    );

    // Applying again replaces the table: still one.
    let a: &mut dyn Actuator = &mut lab.actuator();
    let again = iso.check(a).unwrap();
    assert_eq!(again["table_present"], true, "{again}");
    let after2 = iso.apply(a, &id, &again).unwrap();
    lab.track(&after2);
    let o = a
        .run(&[&nft(), "list", "tables"], b"", Duration::from_secs(30))
        .unwrap();
    let tables = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        tables.matches("table inet dossier_isolate").count(),
        1,
        "{tables}"
    );
    reach(&lab, true);

    // Confirmed over a fresh connection, then undone: the sleeper is gone, so is the table.
    iso.confirm(&mut lab.actuator(), &id, &after2).unwrap();
    assert!(
        !sleeper_alive(&after2),
        "confirm left the rollback sleeper running"
    );
    iso.undo(&mut lab.actuator(), &id, &again, &after2).unwrap();
    assert!(!lab.table_present());
    assert!(!std::path::Path::new(&isolate_confirm(&id)).exists());
    reach(&lab, false);
}

fn isolate_confirm(id: &str) -> String {
    format!("{CONFIRM_DIR}/isolate-{id}.confirmed")
}

#[test]
fn without_confirmation_the_rollback_removes_the_isolation_in_time() {
    let Some(mut lab) = lab() else { return };
    let k = lab.kept.clone();
    lab.listen(&k, &[PEER_PORT]);
    let iso = Isolate::new(vec![peer("10.77.1.2")], 2).with_timer(TimerChoice::Sleeper);
    let id = id("rollback");
    let a: &mut dyn Actuator = &mut lab.actuator();
    let before = iso.check(a).unwrap();
    let started = Instant::now();
    let after = iso.apply(a, &id, &before).unwrap();
    lab.track(&after);
    assert!(lab.table_present());
    assert!(!lab.connects(&lab.target, "10.77.1.2", PEER_PORT));
    while lab.table_present() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    assert!(
        !lab.table_present(),
        "the rollback did not remove the table"
    );
    assert!(
        took >= Duration::from_millis(1500),
        "removed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "removed late: {took:?}");
    assert!(lab.connects(&lab.target, "10.77.1.2", PEER_PORT));
    assert!(!sleeper_alive(&after));
    // Too late to confirm: said so; undo still works.
    match iso.confirm(&mut lab.actuator(), &id, &after) {
        Err(ActionError::Failed(m)) => assert!(m.contains("already removed"), "{m}"),
        other => panic!("a late confirmation was accepted: {other:?}"),
    }
    iso.undo(&mut lab.actuator(), &id, &before, &after).unwrap();
    assert!(!lab.table_present());
}

#[test]
fn with_confirmation_the_isolation_outlives_its_deadline_until_undone() {
    let Some(mut lab) = lab() else { return };
    let k = lab.kept.clone();
    lab.listen(&k, &[PEER_PORT]);
    let iso = Isolate::new(vec![peer("10.77.1.2")], 2).with_timer(TimerChoice::Sleeper);
    let id = id("confirmed");
    let a: &mut dyn Actuator = &mut lab.actuator();
    let before = iso.check(a).unwrap();
    let after = iso.apply(a, &id, &before).unwrap();
    lab.track(&after);
    iso.confirm(&mut lab.actuator(), &id, &after).unwrap();
    assert!(std::path::Path::new(&isolate_confirm(&id)).exists());
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        lab.table_present(),
        "the confirmed isolation was rolled back"
    );
    assert!(!lab.connects(&lab.target, "10.77.1.2", PEER_PORT));
    iso.undo(&mut lab.actuator(), &id, &before, &after).unwrap();
    assert!(!lab.table_present());
    assert!(lab.connects(&lab.target, "10.77.1.2", PEER_PORT));
}
