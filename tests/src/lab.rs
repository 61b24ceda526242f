//! The SSH lab: fake hosts made of Linux namespaces, each running the real OpenSSH `sshd`, for
//! testing `dossier sweep` against real SSH instead of a mock.
//!
//! # Layout
//!
//! One **client** network namespace per [`Lab`] (`dlab-<pid>-<n>`) holds a bridge `br0` with
//! the client address [`CLIENT_ADDR`]. Every fake host has its own named network namespace
//! (`dlab-<pid>-<n>-h<i>`) joined to that bridge by a veth pair (`vh<i>` on the bridge, `eth0`
//! in the host), with the address `198.18.0.<10+i>/24` (the benchmarking range, RFC 2544).
//! Labs never share a namespace, so every lab uses the same addresses. No namespace has a
//! default route and nothing is linked to the machine's real interfaces: the only way out of
//! the lab is through its own bridge, and that leads nowhere.
//!
//! Inside its network namespace each host is started as
//! `ip netns exec H unshare --mount --uts --pid --fork --kill-child -- /bin/sh <dir>/h<i>/init`:
//! the init script is PID 1 of the host's PID namespace. It mounts a tmpfs on `<dir>/h<i>/fs`
//! (in the host's private mount namespace only, so nothing is ever mounted where the test
//! runs), copies the host's planted files (`<dir>/h<i>/seed`: its `/etc/hostname`,
//! `/etc/machine-id`, sshd config and keys, scenario files, and its own `/root` and `/home`,
//! opaque so the machine's do not show through) into `fs/upper`, mounts an overlayfs
//! `fs/root` with the real `/` as lower layer, mounts a fresh `/proc` (of the host's
//! PID namespace), `/sys` (of its network namespace), `/dev` (bind, with a new `devpts`
//! instance and `/dev/shm`), tmpfs on `/run` and `/tmp`, sets the hostname and the network,
//! starts the scenario's services with `chroot fs/root ...`, and then waits on its standard
//! input. The init itself stays outside the chroot, so the test reaches the host's upper
//! directory and whole filesystem through `/proc/<init>/root/...` ([`LabHost::upper`],
//! [`LabHost::root`]).
//!
//! Every host's sshd has its own ed25519 host key, `Subsystem sftp internal-sftp`,
//! `UsePAM no`, `PermitRootLogin prohibit-password` (`no` on [`Scenario::NonRoot`]) and
//! `PasswordAuthentication yes`: only the [`LAB_USER`] account of NonRoot hosts has a password
//! ([`LAB_PASSWORD`]), so that password authentication can be tested too; every other account
//! logs in with [`Lab::client_key`] only. sshd logs (`-e`) go to [`LabHost::log`], outside the
//! host.
//!
//! # Teardown
//!
//! [`Drop`] kills every host's PID 1 by PID (the kernel then kills everything else in that PID
//! namespace, and the host's mounts disappear with its mount namespace), reaps the processes
//! it spawned, deletes the lab's network namespaces and removes its directory; it runs when a
//! test panics too. If the test process itself dies without unwinding, every host's PID 1 sees
//! end-of-file on its standard input (a pipe only the test process held) and exits, taking its
//! namespace with it; the named network namespaces and the directory left behind are removed
//! by the next [`Lab::start`] once the process that created them is gone.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};

pub mod benign;
pub mod persist;

/// The non-root account of [`Scenario::NonRoot`] hosts (uid/gid 1000); [`Scenario::Persist`]
/// hosts have it too, without a password and with sudo for sftp-server only (what
/// `dossier sweep --sudo` runs).
pub const LAB_USER: &str = "analyst";
/// Password of [`LAB_USER`] on [`Scenario::NonRoot`] hosts (no other account has a password).
pub const LAB_PASSWORD: &str = "analyst-lab-pass";
/// `openssl passwd -6 -salt dossierlab analyst-lab-pass`.
const LAB_PASSWORD_HASH: &str = "$6$dossierlab$2Gid2DJzcBkoEJ./TxeFjOogmN9DqJ5nr1FjdQxdHi8wWiLHodH1HQheWXoL7qD0aV45/f4z7mNihm.gkaNS/.";
/// Address of the lab client (the bridge in [`Lab::netns`]).
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Port on which the miner process of [`Scenario::Miner`] hosts listens (0.0.0.0).
pub const MINER_PORT: u16 = 3333;
/// The intruder's key that [`Scenario::Miner`] hosts have in root's `authorized_keys` (after
/// the lab client's key), with a forced command: an ssh-ed25519 public key made from a fixed
/// seed (no private key exists).
pub const INTRUDER_KEY: &str = "command=\"/var/log/log >/dev/null 2>&1 &\",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2vl+GX3yinq9uUHTZJYjTcExsf6Zp8I3aoTc/PNqPs intruder@miner";
/// Its fingerprint, as `ssh-keygen -l` prints it.
pub const INTRUDER_FINGERPRINT: &str = "SHA256:zp+jazHLKqmAisa/Vf+xeHrTzqQWFokHGcrz9n9PYa0";
/// How long [`Lab::start`] waits for every host to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The interpreter copied as the miner and used for the listeners (must be on the real `/`).
const PYTHON: &str = "/usr/bin/python3";
/// PATH of everything started in the lab.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A program that listens on a TCP port of 0.0.0.0 and accepts connections and holds them
/// open forever without ever sending a byte.
fn hold_program(port: u16) -> String {
    format!(
        "import socket;s=socket.create_server((\"0.0.0.0\",{port}),backlog=256);h=[];[h.append(s.accept()) for _ in iter(int,1)]"
    )
}

/// What is planted on a fake host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Nothing planted: sshd, root login by key.
    Clean,
    /// The incident of seed 000: `python.service` running `/var/log/log`, `@reboot` in root's
    /// crontab, a cron.d entry, copies of the binary as `/usr/bin/log` and `/usr/log`, the
    /// intruder's SSH key ([`INTRUDER_KEY`]) in root's `authorized_keys`, and
    /// `/var/log/log` running (a copy of python3 with miner strings appended) and listening
    /// on [`MINER_PORT`].
    Miner,
    /// Port 22 accepts TCP connections and never says anything; no sshd.
    Silent,
    /// Like `Clean`, but its host key is not in [`Lab::known_hosts`].
    UnknownKey,
    /// Root login refused (`PermitRootLogin no`); [`LAB_USER`] logs in with the client key or
    /// [`LAB_PASSWORD`], and may `sudo -n` anything (when the machine has sudo).
    NonRoot,
    /// One case of every persistence family of issue 7 that a sweep sees over SSH, planted
    /// as an intruder leaves them ([`persist`] has the details): an extra uid-0 account,
    /// `www-data` made usable with password-less sudo, an init script with rc links,
    /// `rc.local`, a motd script, an xdg autostart entry, a udev `RUN+=` rule and a systemd
    /// generator that download and run scripts, a profile.d script decoding base64, root's
    /// `.bashrc` opening `/dev/tcp`, `/etc/ld.so.preload`, a loader directory under
    /// `/dev/shm`, a modprobe `install` command, an unowned `ps` first in PATH, a brute force
    /// then a login from the same address and a session forged as `LOGIN` in wtmp, btmp and
    /// utmp, `eth0` in promiscuous mode, an apt hook decoding base64 before every index
    /// update, a `pam_exec` line in sshd's PAM service passing passwords to a script, an
    /// unowned PAM module made `sufficient` for `su`, and a polkit rule granting everything to
    /// `www-data`. Root logs in by key as on `Clean` hosts, and
    /// [`LAB_USER`] by key, with sudo for sftp-server only (for `--sudo`).
    Persist,
    /// An ordinary, uncompromised server with the local administration of a real fleet and
    /// live services ([`benign`] has the details): an in-house Python web service running as
    /// its own user on `0.0.0.0:8080`, a developer's dev server on `127.0.0.1:3000`, a
    /// source-built database in `/usr/local/pgsql` listening on 5432, a heartbeat unit, a
    /// backup timer, and an `ansible` account with password-less sudo. Root logs in by key as
    /// on `Clean` hosts. Not in [`Scenario::ALL`]: it has its own suite (`lab_benign.rs`).
    Benign,
}

impl Scenario {
    /// Every scenario of the sweep suites, once (all but [`Scenario::Benign`]).
    pub const ALL: [Scenario; 6] = [
        Scenario::Clean,
        Scenario::Miner,
        Scenario::Silent,
        Scenario::UnknownKey,
        Scenario::NonRoot,
        Scenario::Persist,
    ];

    /// Short lower-case name, used in host names (`clean-00`).
    pub fn slug(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Miner => "miner",
            Scenario::Silent => "silent",
            Scenario::UnknownKey => "unknownkey",
            Scenario::NonRoot => "nonroot",
            Scenario::Persist => "persist",
            Scenario::Benign => "benign",
        }
    }

    /// Whether the host runs sshd (every scenario except `Silent`).
    pub fn has_sshd(self) -> bool {
        self != Scenario::Silent
    }
}

/// One fake host of a [`Lab`].
#[derive(Debug)]
pub struct LabHost {
    /// Host name (`<scenario>-<index>`, e.g. `miner-01`), also its kernel hostname.
    pub name: String,
    /// Its address on the lab bridge.
    pub addr: IpAddr,
    /// Its SSH port.
    pub port: u16,
    /// What is planted on it.
    pub scenario: Scenario,
    /// The overlay upper directory: every file the host has of its own (planted files and
    /// anything written on it since). Reachable while the lab runs.
    pub upper: PathBuf,
    /// The host's whole root filesystem as its processes see it (overlay over the real `/`;
    /// its `/tmp`, `/run`, `/proc` are its own mounts).
    pub root: PathBuf,
    /// sshd's log (`sshd -e`), kept outside the host.
    pub log: PathBuf,
    /// Processes of the host, as PIDs of the test's PID namespace: the `unshare` this lab
    /// spawned, the host's PID 1 (its init script), then its services (sshd or the silent
    /// listener, then the miner).
    pub pids: Vec<u32>,
}

/// What the lab holds of one running host.
struct HostProc {
    /// `ip netns exec ... unshare ...` (exec'd into `unshare`).
    child: Child,
    /// Write end of PID 1's standard input: closing it stops the host.
    stdin: Option<ChildStdin>,
    /// The host's PID 1, once known.
    init: Option<u32>,
    /// sshd (or the silent listener), once known.
    service: Option<u32>,
    /// The host's directory in the lab directory.
    dir: PathBuf,
}

/// A running SSH lab; see the module documentation.
pub struct Lab {
    netns: String,
    dir: PathBuf,
    client_key: PathBuf,
    known_hosts: PathBuf,
    hosts: Vec<LabHost>,
    procs: Vec<HostProc>,
    /// Every network namespace name this lab may have created (client first).
    namespaces: Vec<String>,
    ip: PathBuf,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("netns", &self.netns)
            .field("dir", &self.dir)
            .field("hosts", &self.hosts)
            .finish()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Held by every lab test while it runs: see [`serial`].
static SERIAL: Mutex<()> = Mutex::new(());

/// One lab test at a time in this process: every test that starts a lab holds this guard for
/// its whole run (lab, sweeps and checks). Labs never share a namespace, veth, address or
/// directory, so this is not for correctness: each lab starts several hosts with their sshd,
/// the sweep tests assert timeouts and deadlines, and the lab's smoke test prints start-up
/// times; on a two-core machine two labs at once would make those flaky or meaningless. A test
/// that panicked while holding it does not stop the next one.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Absolute path of a program: PATH, then the sbin directories (not on a user's PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a command to completion; Err with its stderr when it fails.
fn run(cmd: &mut Command, input: Option<&str>) -> Result<String, String> {
    let what = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{what}: writing stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Generates an ed25519 key pair without passphrase at `path` (and `path.pub`).
fn keygen(path: &Path, comment: &str) -> Command {
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path);
    c
}

/// `type base64` of an OpenSSH public key line (without comment).
fn key_blob(pub_line: &str) -> String {
    pub_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a process exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a process has exited and is waiting to be reaped.
/// How long a child of a host's init must stay a zombie to count as a service that died.
const ZOMBIE_GRACE: Duration = Duration::from_millis(300);

fn zombie(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'))
}

/// Child PIDs of a process (`/proc/PID/task/PID/children`).
fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// TCP ports in LISTEN state (IPv4) in the network namespace of `pid`.
fn listening(pid: u32) -> Vec<u16> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3) != Some(&"0A") {
                return None;
            }
            let port = f.get(1)?.rsplit(':').next()?;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// The last `max` bytes of a file, as text.
fn tail(path: &Path, max: usize) -> String {
    let data = fs::read(path).unwrap_or_default();
    let start = data.len().saturating_sub(max);
    String::from_utf8_lossy(&data[start..]).trim().to_string()
}

/// Files planted on one host before it starts: a tree copied into the overlay's upper
/// directory. Directories it has to create take mode and owner from the real `/` where they
/// exist there, so that planting `/root/.ssh/...` does not change how `/root` looks.
struct Seed {
    dir: PathBuf,
}

impl Seed {
    fn path(&self, host_path: &str) -> PathBuf {
        self.dir.join(host_path.trim_start_matches('/'))
    }

    /// Creates the ancestors of `host_path` in the seed.
    fn parents(&self, host_path: &str) -> std::io::Result<()> {
        let mut real = PathBuf::from("/");
        let comps: Vec<_> = Path::new(host_path).components().skip(1).collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            real.push(c);
            let rel = real.strip_prefix("/").expect("absolute");
            let dst = self.dir.join(rel);
            if dst.exists() {
                continue;
            }
            match fs::symlink_metadata(&real) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(std::io::Error::other(format!(
                        "cannot plant {host_path}: {} is a symlink on the lower layer",
                        real.display()
                    )));
                }
                Ok(m) if m.is_dir() => {
                    fs::create_dir(&dst)?;
                    fs::set_permissions(&dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
                    std::os::unix::fs::chown(&dst, Some(m.uid()), Some(m.gid()))?;
                }
                _ => {
                    fs::create_dir(&dst)?;
                    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
                }
            }
        }
        Ok(())
    }

    fn dir(&self, host_path: &str, mode: u32, uid: u32, gid: u32) -> std::io::Result<()> {
        self.parents(host_path)?;
        let p = self.path(host_path);
        if !p.exists() {
            fs::create_dir(&p)?;
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&p, Some(uid), Some(gid))
    }

    /// A directory that hides everything of the real `/` at the same path (an overlayfs
    /// opaque directory): the host has its own `/root` and `/home`, not the machine's.
    fn opaque_dir(&self, host_path: &str, mode: u32, uid: u32, gid: u32) -> std::io::Result<()> {
        self.dir(host_path, mode, uid, gid)?;
        let p = std::ffi::CString::new(self.path(host_path).as_os_str().as_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: both names are NUL-terminated and the value is one readable byte.
        let r = unsafe {
            nix::libc::setxattr(
                p.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    fn file(
        &self,
        host_path: &str,
        data: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> std::io::Result<()> {
        self.parents(host_path)?;
        let p = self.path(host_path);
        fs::write(&p, data)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&p, Some(uid), Some(gid))
    }

    fn symlink(&self, host_path: &str, target: &str) -> std::io::Result<()> {
        self.parents(host_path)?;
        std::os::unix::fs::symlink(target, self.path(host_path))
    }
}

/// Contents of the miner binary's tail (as in `tests/fixtures/generate.py`).
const MINER_STRINGS: &[u8] = b"xmrig 6.21.0 built for linux-x86_64\x00--donate-level=1\x00stratum+tcp://pool.supportxmr.com:3333\x00-o pool.minexmr.com:4444 -u 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A\x00";

const PYTHON_SERVICE: &[u8] = b"[Unit]\nDescription=Python Service\nAfter=network.target\n\n[Service]\nType=simple\nExecStart=/var/log/log\nRestart=always\nRestartSec=10\nUser=root\n\n[Install]\nWantedBy=multi-user.target\n";
const ROOT_CRONTAB: &[u8] = b"# DO NOT EDIT THIS FILE - edit the master and reinstall.\n@reboot /var/log/log >/dev/null 2>&1\n*/10 * * * * pgrep -x log >/dev/null || /var/log/log >/dev/null 2>&1\n";
const CRON_D_PYTHON: &[u8] = b"SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n*/5 * * * * root /var/log/log >/dev/null 2>&1\n";

/// Lines of a colon-separated account file (`passwd`, `group`, `shadow`...) without `user`
/// and without the entries whose third field is `id`, plus `extra`.
fn accounts(text: &str, user: &str, id: Option<&str>, extra: &str) -> Vec<u8> {
    let mut out = String::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f[0] == user || (id.is_some() && f.get(2).copied() == id) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(extra);
    out.into_bytes()
}

/// A file of the real `/` as text (empty if unreadable).
fn real(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// `/etc/shadow` of the real `/` with root's account usable by key without PAM (sshd refuses
/// locked accounts, `!...`, when `UsePAM no`), or None when it already is.
fn shadow_root_unlocked(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::new();
    for line in text.lines() {
        let mut f: Vec<&str> = line.split(':').collect();
        if f[0] == "root" && f.get(1).is_some_and(|p| p.starts_with('!')) {
            f[1] = "*";
            changed = true;
        }
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    changed.then_some(out)
}

fn sshd_config(h: &LabHost) -> String {
    let root_login = if h.scenario == Scenario::NonRoot {
        "no"
    } else {
        "prohibit-password"
    };
    format!(
        "# sshd of dossier lab host {name} (scenario {scenario:?})\n\
         Port {port}\n\
         HostKey /etc/ssh/ssh_host_ed25519_key\n\
         PermitRootLogin {root_login}\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes yes\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         X11Forwarding no\n\
         LoginGraceTime 60\n\
         MaxStartups 200:30:400\n\
         MaxSessions 64\n\
         AcceptEnv LANG LC_*\n\
         Subsystem sftp internal-sftp\n",
        name = h.name,
        scenario = h.scenario,
        port = h.port,
    )
}

/// Where `dossier sweep --sudo` looks for sftp-server (as `cli/src/ssh.rs` does).
const SFTP_SERVERS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/misc/sftp-server",
];

/// A file as planted in the seed so far, or else as on the real `/` (empty if neither).
fn planted_or_real(s: &Seed, host_path: &str) -> String {
    fs::read_to_string(s.path(host_path)).unwrap_or_else(|_| real(host_path))
}

/// Plants [`LAB_USER`] (uid/gid 1000, `/home/analyst` from `/etc/skel`, the lab client's key,
/// the password hash given or none) and, when the machine has sudo, a sudoers drop-in letting
/// it run `sudo_cmnd` as root without a password.
fn lab_user(
    s: &Seed,
    client_pub: &str,
    password_hash: Option<&str>,
    sudo_cmnd: &str,
) -> std::io::Result<()> {
    let u = LAB_USER;
    s.file(
        "/etc/passwd",
        &accounts(
            &planted_or_real(s, "/etc/passwd"),
            u,
            Some("1000"),
            &format!("{u}:x:1000:1000:Lab Analyst,,,:/home/{u}:/bin/bash\n"),
        ),
        0o644,
        0,
        0,
    )?;
    s.file(
        "/etc/group",
        &accounts(
            &planted_or_real(s, "/etc/group"),
            u,
            Some("1000"),
            &format!("{u}:x:1000:\n"),
        ),
        0o644,
        0,
        0,
    )?;
    let shadow_gid = fs::metadata("/etc/shadow").map(|m| m.gid()).unwrap_or(0);
    s.file(
        "/etc/shadow",
        &accounts(
            &planted_or_real(s, "/etc/shadow"),
            u,
            None,
            &format!("{u}:{}:20000:0:99999:7:::\n", password_hash.unwrap_or("*")),
        ),
        0o640,
        0,
        shadow_gid,
    )?;
    s.file(
        "/etc/gshadow",
        &accounts(
            &planted_or_real(s, "/etc/gshadow"),
            u,
            None,
            &format!("{u}:!::\n"),
        ),
        0o640,
        0,
        shadow_gid,
    )?;
    let home = format!("/home/{u}");
    s.dir(&home, 0o700, 1000, 1000)?;
    if let Ok(rd) = fs::read_dir("/etc/skel") {
        for e in rd.flatten() {
            if e.file_type()?.is_file() {
                let p = format!("{home}/{}", e.file_name().to_string_lossy());
                s.file(&p, &fs::read(e.path())?, 0o644, 1000, 1000)?;
            }
        }
    }
    if Path::new("/usr/bin/sudo").is_file() {
        s.file(
            &format!("/etc/sudoers.d/{u}"),
            format!("{u} ALL=(ALL:ALL) NOPASSWD: {sudo_cmnd}\n").as_bytes(),
            0o440,
            0,
            0,
        )?;
    }
    s.dir(&format!("{home}/.ssh"), 0o700, 1000, 1000)?;
    s.file(
        &format!("{home}/.ssh/authorized_keys"),
        client_pub.as_bytes(),
        0o600,
        1000,
        1000,
    )
}

/// Plants the files of `h` (whose directory is `hdir`) into `hdir/seed`.
fn plant(h: &LabHost, hdir: &Path, client_pub: &str, python: &[u8]) -> std::io::Result<()> {
    let s = Seed {
        dir: hdir.join("seed"),
    };
    fs::create_dir(&s.dir)?;
    fs::set_permissions(&s.dir, fs::Permissions::from_mode(0o755))?;
    plant_base(&s, &h.name)?;
    if h.scenario.has_sshd() {
        plant_sshd(&s, h, hdir, client_pub)?;
    }
    let shadow = fs::read_to_string("/etc/shadow").unwrap_or_default();
    if let Some(unlocked) = shadow_root_unlocked(&shadow) {
        let gid = fs::metadata("/etc/shadow").map(|m| m.gid()).unwrap_or(0);
        s.file("/etc/shadow", unlocked.as_bytes(), 0o640, 0, gid)?;
    }
    if h.scenario == Scenario::Persist {
        persist::plant(&s, hdir)?;
    }
    if h.scenario == Scenario::Benign {
        benign::plant(&s, client_pub)?;
    }
    match h.scenario {
        Scenario::NonRoot => lab_user(&s, client_pub, Some(LAB_PASSWORD_HASH), "ALL")?,
        Scenario::Persist => {
            // Only what `dossier sweep --sudo` runs: a collection account's narrow rule.
            if let Some(server) = SFTP_SERVERS.iter().find(|p| Path::new(p).is_file()) {
                lab_user(&s, client_pub, None, &format!("{server} -R"))?;
            }
        }
        _ => {}
    }
    if h.scenario == Scenario::Miner {
        plant_miner(&s, python)?;
    }
    Ok(())
}

/// Every host's own identity (hostname, hosts, machine-id) and its own `/root` (as a fresh
/// Debian's) and `/home`, not the machine's.
fn plant_base(s: &Seed, name: &str) -> std::io::Result<()> {
    s.file("/etc/hostname", format!("{name}\n").as_bytes(), 0o644, 0, 0)?;
    s.file(
        "/etc/hosts",
        format!("127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n").as_bytes(),
        0o644,
        0,
        0,
    )?;
    let mid = dossier_plugin_api::encoding::hex(&Sha256::digest(format!("dossier-lab {name}")));
    s.file(
        "/etc/machine-id",
        format!("{}\n", &mid[..32]).as_bytes(),
        0o444,
        0,
        0,
    )?;
    // Its own /root (as a fresh Debian's) and /home, not the machine's.
    s.opaque_dir("/root", 0o700, 0, 0)?;
    for (dot, src) in [
        (".bashrc", "/usr/share/base-files/dot.bashrc"),
        (".profile", "/usr/share/base-files/dot.profile"),
    ] {
        if let Ok(data) = fs::read(src) {
            s.file(&format!("/root/{dot}"), &data, 0o644, 0, 0)?;
        }
    }
    s.opaque_dir("/home", 0o755, 0, 0)?;
    Ok(())
}

/// sshd's configuration and host key, and root's authorized_keys (the client's key, and on a
/// Miner host the intruder's too).
fn plant_sshd(s: &Seed, h: &LabHost, hdir: &Path, client_pub: &str) -> std::io::Result<()> {
    s.file(
        "/etc/ssh/sshd_config",
        sshd_config(h).as_bytes(),
        0o644,
        0,
        0,
    )?;
    let key = fs::read(hdir.join("ssh_host_ed25519_key"))?;
    let pubkey = fs::read(hdir.join("ssh_host_ed25519_key.pub"))?;
    s.file("/etc/ssh/ssh_host_ed25519_key", &key, 0o600, 0, 0)?;
    s.file("/etc/ssh/ssh_host_ed25519_key.pub", &pubkey, 0o644, 0, 0)?;
    s.dir("/root/.ssh", 0o700, 0, 0)?;
    let mut keys = client_pub.to_string();
    if h.scenario == Scenario::Miner {
        if !keys.ends_with('\n') {
            keys.push('\n');
        }
        keys.push_str(INTRUDER_KEY);
        keys.push('\n');
    }
    s.file("/root/.ssh/authorized_keys", keys.as_bytes(), 0o600, 0, 0)?;
    Ok(())
}

/// The miner incident: the disguised interpreter, its unit, root's crontab and a cron.d job.
fn plant_miner(s: &Seed, python: &[u8]) -> std::io::Result<()> {
    let mut bin = python.to_vec();
    bin.extend_from_slice(&[0u8; 64]);
    bin.extend_from_slice(MINER_STRINGS);
    for p in ["/var/log/log", "/usr/bin/log", "/usr/log"] {
        s.file(p, &bin, 0o755, 0, 0)?;
    }
    s.file(
        "/etc/systemd/system/python.service",
        PYTHON_SERVICE,
        0o644,
        0,
        0,
    )?;
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/python.service",
        "/etc/systemd/system/python.service",
    )?;
    let crontab_gid = fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == "crontab")
                .then(|| f.get(2)?.parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    s.dir("/var/spool/cron", 0o755, 0, 0)?;
    s.dir("/var/spool/cron/crontabs", 0o1730, 0, crontab_gid)?;
    s.file(
        "/var/spool/cron/crontabs/root",
        ROOT_CRONTAB,
        0o600,
        0,
        crontab_gid,
    )?;
    s.file("/etc/cron.d/python", CRON_D_PYTHON, 0o644, 0, 0)?;
    Ok(())
}

/// Single-quotes a string for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The init script of one host (PID 1 of its PID namespace).
fn init_script(h: &LabHost, hdir: &Path, sshd: &Path) -> String {
    let d = sh_quote(hdir.to_str().expect("utf-8 lab dir"));
    let mut s = format!(
        "# PID 1 of dossier lab host {name}: mounts its filesystem, starts its services, and\n\
         # lives until its standard input reaches end-of-file (the lab is dropped or its test\n\
         # process dies).\n\
         set -eu\n\
         D={d}\n\
         R=\"$D/fs/root\"\n\
         mount -t tmpfs -o mode=0755 dlab \"$D/fs\"\n\
         mkdir \"$D/fs/upper\" \"$D/fs/work\" \"$R\"\n\
         cp -a \"$D/seed/.\" \"$D/fs/upper/\"\n\
         mount -t overlay dlab -o \"lowerdir=/,upperdir=$D/fs/upper,workdir=$D/fs/work\" \"$R\"\n\
         mount -t proc proc \"$R/proc\"\n\
         mount -t sysfs sysfs \"$R/sys\"\n\
         mount --bind /dev \"$R/dev\"\n\
         mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts \"$R/dev/pts\"\n\
         mount -t tmpfs -o mode=1777 shm \"$R/dev/shm\"\n\
         mount -t tmpfs -o mode=0755 run \"$R/run\"\n\
         mkdir -m 0755 \"$R/run/sshd\"\n\
         mount -t tmpfs -o mode=1777 tmp \"$R/tmp\"\n\
         echo {name} > /proc/sys/kernel/hostname\n\
         ip link set lo up\n\
         ip addr add {addr}/24 dev eth0\n\
         ip link set eth0 up\n\
         export PYTHONDONTWRITEBYTECODE=1\n",
        name = h.name,
        addr = h.addr,
    );
    if h.scenario == Scenario::Persist {
        s.push_str(persist::NETWORK_SETUP);
        s.push_str(&persist::utmp_setup());
    }
    if h.scenario.has_sshd() {
        let _ = writeln!(
            s,
            "chroot \"$R\" {} -D -e -f /etc/ssh/sshd_config </dev/null >>\"$D/sshd.log\" 2>&1 &",
            sh_quote(sshd.to_str().expect("utf-8 sshd path"))
        );
    } else {
        let _ = writeln!(
            s,
            "chroot \"$R\" {PYTHON} -c {} </dev/null >/dev/null 2>&1 &",
            sh_quote(&hold_program(h.port))
        );
    }
    if h.scenario == Scenario::Benign {
        s.push_str(&benign::services());
    }
    if h.scenario == Scenario::Miner {
        let _ = writeln!(
            s,
            "chroot \"$R\" /var/log/log -c {} </dev/null >/dev/null 2>&1 &",
            sh_quote(&hold_program(MINER_PORT))
        );
    }
    s.push_str("echo started\nread -r _ || true\n");
    s
}

/// Removes what labs of processes that no longer exist left behind (their network
/// namespaces, once no process is in them, and their directories). Their hosts stopped when
/// those processes died (end-of-file on PID 1's standard input).
fn collect_stale(ip: &Path) {
    let dead = |name: &str| -> bool {
        let Some(rest) = name.strip_prefix("dlab-") else {
            return false;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            return false;
        };
        pid != std::process::id() && !alive(pid)
    };
    if let Ok(rd) = fs::read_dir("/run/netns") {
        let mut del = String::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(&name) {
                let pids = Command::new(ip)
                    .args(["netns", "pids", &name])
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                if pids.iter().all(u8::is_ascii_whitespace) {
                    let _ = writeln!(del, "netns del {name}");
                }
            }
        }
        if !del.is_empty() {
            let _ = run(Command::new(ip).args(["-force", "-batch", "-"]), Some(&del));
        }
    }
    if let Ok(rd) = fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Lab {
    /// The programs the lab runs, by name; Err(why the lab cannot run on this machine).
    fn preflight(scenarios: &[Scenario]) -> Result<BTreeMap<&'static str, PathBuf>, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("the SSH lab needs root (network, mount and PID namespaces)".into());
        }
        let mut missing = vec![];
        let mut found = BTreeMap::new();
        for p in [
            "ip",
            "unshare",
            "sshd",
            "ssh-keygen",
            "ssh-keyscan",
            "chroot",
            "mount",
        ] {
            match find_program(p) {
                Some(path) => {
                    found.insert(p, path);
                }
                None => missing.push(p),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "the SSH lab needs {} (packages openssh-server, openssh-client, iproute2, util-linux)",
                missing.join(", ")
            ));
        }
        let needs_python = scenarios
            .iter()
            .any(|s| matches!(s, Scenario::Miner | Scenario::Silent | Scenario::Benign));
        if needs_python && !Path::new(PYTHON).is_file() {
            return Err(format!(
                "the Miner, Silent and Benign scenarios need {PYTHON} (package python3)"
            ));
        }
        if !fs::read_to_string("/proc/filesystems")
            .unwrap_or_default()
            .contains("overlay")
        {
            return Err("the SSH lab needs overlayfs (modprobe overlay)".into());
        }
        let me = std::process::id();
        if !Path::new(&format!("/proc/{me}/task/{me}/children")).exists() {
            return Err(
                "the SSH lab needs /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)".into(),
            );
        }
        run(
            Command::new(&found["unshare"]).args([
                "--net",
                "--mount",
                "--uts",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "true",
            ]),
            None,
        )
        .map_err(|e| format!("cannot create namespaces here: {e}"))?;
        Ok(found)
    }

    /// Why the lab cannot run on this machine (not root, a program missing, namespaces or
    /// overlayfs unavailable), or None when it can.
    pub fn unavailable(scenarios: &[Scenario]) -> Option<String> {
        Lab::preflight(scenarios).err()
    }

    /// Starts the lab with one host per entry of `scenarios` (host `i` is `scenarios[i]`).
    /// Err(reason) when the lab cannot run here ([`Lab::unavailable`]) or failed to start.
    pub fn start(scenarios: &[Scenario]) -> Result<Lab, String> {
        let found = Lab::preflight(scenarios)?;
        if scenarios.len() > 240 {
            return Err("at most 240 hosts per lab".into());
        }
        let ip = found["ip"].clone();
        collect_stale(&ip);

        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let netns = format!("dlab-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&netns);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
        let mut lab = Lab {
            client_key: dir.join("client/id_ed25519"),
            known_hosts: dir.join("client/known_hosts"),
            namespaces: std::iter::once(netns.clone())
                .chain((0..scenarios.len()).map(|i| format!("{netns}-h{i}")))
                .collect(),
            netns,
            dir,
            hosts: vec![],
            procs: vec![],
            ip,
        };
        lab.build(scenarios, &found)?;
        Ok(lab)
    }

    /// [`Lab::start`] for tests. When the lab cannot run here ([`Lab::unavailable`]) it prints
    /// `skipped: <reason>` and returns None, except when the environment variable `CI` is
    /// set: the lab must run in CI, so it panics. A lab that can run but fails to start
    /// panics everywhere.
    pub fn start_or_skip(scenarios: &[Scenario]) -> Option<Lab> {
        if let Some(reason) = Lab::unavailable(scenarios) {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("the SSH lab must run in CI, but: {reason}");
            }
            eprintln!("skipped: {reason}");
            return None;
        }
        match Lab::start(scenarios) {
            Ok(lab) => Some(lab),
            Err(e) => panic!("the SSH lab failed to start: {e}"),
        }
    }

    /// Sets the lab up in stages: network, keys and host records, every host planted and
    /// started, then waits until each listens, and writes the client's known_hosts.
    fn build(
        &mut self,
        scenarios: &[Scenario],
        found: &BTreeMap<&str, PathBuf>,
    ) -> Result<(), String> {
        self.network(scenarios.len())?;
        self.keys_and_hosts(scenarios)?;
        let log_files = self.start_hosts(scenarios, found)?;
        self.wait_listening(&log_files)?;
        self.write_known_hosts()
    }

    /// Network: namespaces, the client's bridge, one veth pair per host.
    fn network(&self, hosts: usize) -> Result<(), String> {
        let ip = &self.ip;
        let mut batch = String::new();
        for ns in &self.namespaces {
            let _ = writeln!(batch, "netns add {ns}");
        }
        run(Command::new(ip).args(["-batch", "-"]), Some(&batch))
            .map_err(|e| format!("cannot create network namespaces: {e}"))?;
        let mut batch = format!(
            "link set lo up\nlink add br0 type bridge\naddr add {CLIENT_ADDR}/24 dev br0\nlink set br0 up\n"
        );
        for i in 0..hosts {
            let _ = writeln!(
                batch,
                "link add vh{i} type veth peer name eth0 netns {}-h{i}\nlink set vh{i} master br0\nlink set vh{i} up",
                self.netns
            );
        }
        run(
            Command::new(ip).args(["-n", &self.netns, "-batch", "-"]),
            Some(&batch),
        )
        .map_err(|e| format!("cannot set up the lab network: {e}"))?;
        Ok(())
    }

    /// Keys: the client's, and one host key per sshd, generated concurrently; and the record
    /// of every host (its directory made), in scenario order.
    fn keys_and_hosts(&mut self, scenarios: &[Scenario]) -> Result<(), String> {
        let client = self.dir.join("client");
        fs::create_dir(&client).map_err(|e| e.to_string())?;
        let mut keygens = vec![(
            "client key".to_string(),
            keygen(&self.client_key, "dossier-lab-client"),
        )];
        for (i, &scenario) in scenarios.iter().enumerate() {
            let name = format!("{}-{i:02}", scenario.slug());
            let hdir = self.dir.join(format!("h{i}"));
            fs::create_dir(&hdir).map_err(|e| e.to_string())?;
            fs::create_dir(hdir.join("fs")).map_err(|e| e.to_string())?;
            if scenario.has_sshd() {
                keygens.push((
                    format!("host key of {name}"),
                    keygen(&hdir.join("ssh_host_ed25519_key"), &format!("root@{name}")),
                ));
            }
            let addr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10 + i as u8));
            self.hosts.push(LabHost {
                name,
                addr,
                port: 22,
                scenario,
                upper: PathBuf::new(),
                root: PathBuf::new(),
                log: hdir.join("sshd.log"),
                pids: vec![],
            });
        }
        let running: Vec<_> = keygens
            .into_iter()
            .map(|(what, mut c)| {
                c.stdin(Stdio::null()).stdout(Stdio::null());
                (what, c.spawn())
            })
            .collect();
        for (what, child) in running {
            let ok = child
                .and_then(|mut c| c.wait())
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if s.success() {
                        Ok(())
                    } else {
                        Err(s.to_string())
                    }
                });
            ok.map_err(|e| format!("ssh-keygen ({what}): {e}"))?;
        }
        Ok(())
    }

    /// Plants every host's files and starts it (its init in its namespaces); the init logs.
    fn start_hosts(
        &mut self,
        scenarios: &[Scenario],
        found: &BTreeMap<&str, PathBuf>,
    ) -> Result<Vec<PathBuf>, String> {
        let client_pub =
            fs::read_to_string(self.client_key.with_extension("pub")).map_err(|e| e.to_string())?;
        let python = if scenarios.contains(&Scenario::Miner) {
            fs::read(PYTHON).map_err(|e| format!("{PYTHON}: {e}"))?
        } else {
            vec![]
        };
        let mut log_files = vec![];
        for (i, h) in self.hosts.iter().enumerate() {
            let hdir = self.dir.join(format!("h{i}"));
            plant(h, &hdir, &client_pub, &python)
                .map_err(|e| format!("planting files of {}: {e}", h.name))?;
            let init = hdir.join("init");
            fs::write(&init, init_script(h, &hdir, &found["sshd"])).map_err(|e| e.to_string())?;
            let log = hdir.join("init.log");
            let out = fs::File::create(&log).map_err(|e| e.to_string())?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let mut child = Command::new(&self.ip)
                .args(["netns", "exec", &format!("{}-h{i}", self.netns)])
                .arg(&found["unshare"])
                .args(["--mount", "--uts", "--pid", "--fork", "--kill-child", "--"])
                .arg("/bin/sh")
                .arg(&init)
                .env_clear()
                .env("PATH", PATH)
                .env("LANG", "C.UTF-8")
                .stdin(Stdio::piped())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("starting {}: {e}", h.name))?;
            let stdin = child.stdin.take();
            self.procs.push(HostProc {
                child,
                stdin,
                init: None,
                service: None,
                dir: hdir,
            });
            log_files.push(log);
        }
        Ok(log_files)
    }

    /// Waits until every host listens on its ports (or one stops, or [`START_TIMEOUT`]).
    fn wait_listening(&mut self, log_files: &[PathBuf]) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut zombies: HashMap<u32, Instant> = HashMap::new();
        let mut pending: Vec<usize> = (0..self.hosts.len()).collect();
        while !pending.is_empty() {
            let mut still = vec![];
            for i in pending {
                if !self.host_ready(i, &log_files[i], &mut zombies)? {
                    still.push(i);
                }
            }
            pending = still;
            if !pending.is_empty() {
                if Instant::now() > deadline {
                    let names: Vec<_> = pending.iter().map(|&i| &self.hosts[i].name).collect();
                    return Err(format!(
                        "lab hosts not listening after {START_TIMEOUT:?}: {names:?}; {}",
                        tail(&log_files[pending[0]], 2000)
                    ));
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        Ok(())
    }

    /// Whether host `i` is up: its init known, every port of its scenario listening and its
    /// services started (then its paths and PIDs are filled in). Err when it stopped, or a
    /// service died (stayed a zombie for [`ZOMBIE_GRACE`], first seen as one in `zombies`).
    fn host_ready(
        &mut self,
        i: usize,
        init_log: &Path,
        zombies: &mut HashMap<u32, Instant>,
    ) -> Result<bool, String> {
        let (h, p) = (&mut self.hosts[i], &mut self.procs[i]);
        if let Ok(Some(status)) = p.child.try_wait() {
            return Err(format!(
                "lab host {} stopped while starting ({status}): {} {}",
                h.name,
                tail(init_log, 2000),
                tail(&h.log, 2000)
            ));
        }
        if p.init.is_none() {
            p.init = children(p.child.id()).first().copied();
        }
        let Some(init) = p.init else {
            return Ok(false);
        };
        let mut want = vec![h.port];
        if h.scenario == Scenario::Miner {
            want.push(MINER_PORT);
        }
        if h.scenario == Scenario::Benign {
            want.extend([benign::APP_PORT, benign::DEV_PORT, benign::DB_PORT]);
        }
        let ports = listening(init);
        let services = children(init);
        // A zombie child may be a command of the init script the shell has not yet
        // reaped: only one that stays a zombie is a service that died.
        let now = Instant::now();
        let dead = services.iter().find(|&&s| {
            zombie(s) && now.duration_since(*zombies.entry(s).or_insert(now)) > ZOMBIE_GRACE
        });
        if let Some(dead) = dead {
            return Err(format!(
                "lab host {}: service {dead} exited while starting: {} {}",
                h.name,
                tail(&h.log, 2000),
                tail(init_log, 2000)
            ));
        }
        if !want.iter().all(|w| ports.contains(w)) || services.len() < want.len() {
            return Ok(false);
        }
        p.service = services.first().copied();
        let fs_dir = format!("/proc/{init}/root{}/fs", p.dir.display());
        h.upper = PathBuf::from(format!("{fs_dir}/upper"));
        h.root = PathBuf::from(format!("{fs_dir}/root"));
        h.pids = [p.child.id(), init].into_iter().chain(services).collect();
        Ok(true)
    }

    /// known_hosts: every host key but those of UnknownKey hosts.
    fn write_known_hosts(&self) -> Result<(), String> {
        let mut known = String::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if h.scenario.has_sshd() && h.scenario != Scenario::UnknownKey {
                let _ = writeln!(known, "{} {}", known_host_name(h), self.host_key(i)?);
            }
        }
        fs::write(&self.known_hosts, known).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The hosts, in the order of the scenarios given to [`Lab::start`].
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// Private key (ed25519, no passphrase) authorized for root on every host and for
    /// [`LAB_USER`] on NonRoot hosts (`.pub` beside it).
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// OpenSSH known_hosts with the host key of every host except UnknownKey (and Silent)
    /// hosts, as `addr` (`[addr]:port` when the port is not 22).
    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    /// Name of the lab client network namespace.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The lab's own directory (keys, known_hosts, logs); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A command running `program` inside the lab client network namespace
    /// (`ip netns exec <netns> program`); add arguments, environment, etc. as usual.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(&self.ip);
        c.args(["netns", "exec", &self.netns]).arg(program);
        c
    }

    /// `dossier sweep ARGS` inside the lab namespace into `out`, trusting `known_hosts`, with no
    /// user configuration, agent or plugins of the tester's (`HOME=home`); run and logged to
    /// stderr.
    pub fn sweep(&self, home: &Path, out: &Path, known_hosts: &Path, args: &[&str]) -> Output {
        let mut c = self.command(crate::dossier_bin());
        c.arg("sweep")
            .args(args)
            .arg("--out")
            .arg(out)
            .arg("--known-hosts")
            .arg(known_hosts)
            .args(["--ssh-config", "/dev/null", "--connect-timeout", "3"])
            .env("HOME", home)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("DOSSIER_PLUGIN_PATH")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null());
        let o = c.output().expect("run dossier sweep");
        eprintln!(
            "--- dossier sweep {args:?}: {}\n{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// Options that make OpenSSH clients (`ssh`, `sftp`, `scp`) use only the lab's key and
    /// known_hosts, strictly, without prompting, and ignore the user's configuration.
    pub fn ssh_options(&self) -> Vec<String> {
        let mut v = vec!["-F".to_string(), "/dev/null".to_string()];
        for o in [
            format!("IdentityFile={}", self.client_key.display()),
            "IdentitiesOnly=yes".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "GlobalKnownHostsFile=/dev/null".into(),
            "StrictHostKeyChecking=yes".into(),
            "BatchMode=yes".into(),
            "ConnectTimeout=5".into(),
            "LogLevel=ERROR".into(),
        ] {
            v.push("-o".into());
            v.push(o);
        }
        v
    }

    /// `ssh [lab options] -p PORT user@addr`, run in the lab client namespace: append the
    /// remote command.
    pub fn ssh(&self, user: &str, host: usize) -> Command {
        let h = &self.hosts[host];
        let mut c = self.command("ssh");
        c.args(self.ssh_options())
            .arg("-p")
            .arg(h.port.to_string())
            .arg(format!("{user}@{}", h.addr));
        c
    }

    /// `sftp [lab options] -P PORT -b - user@addr`, run in the lab client namespace: write
    /// the batch commands to its standard input.
    pub fn sftp(&self, user: &str, host: usize) -> Command {
        let h = &self.hosts[host];
        let mut c = self.command("sftp");
        c.args(self.ssh_options())
            .arg("-P")
            .arg(h.port.to_string())
            .args(["-b", "-"])
            .arg(format!("{user}@{}", h.addr));
        c
    }

    /// The host key a host serves now (`ssh-ed25519 AAAA...`, no comment).
    pub fn host_key(&self, host: usize) -> Result<String, String> {
        let h = &self.hosts[host];
        if !h.scenario.has_sshd() {
            return Err(format!("{} runs no sshd", h.name));
        }
        let p = h.root.join("etc/ssh/ssh_host_ed25519_key.pub");
        fs::read_to_string(&p)
            .map(|l| key_blob(&l))
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Gives a host a new host key and restarts its sshd (SIGHUP: sshd re-executes itself,
    /// same PID); returns when the host serves the new key. [`Lab::known_hosts`] keeps the old
    /// key, as for "host key changed between two sweeps".
    pub fn rotate_host_key(&self, host: usize) -> Result<(), String> {
        let h = &self.hosts[host];
        let p = &self.procs[host];
        let sshd = p
            .service
            .filter(|_| h.scenario.has_sshd())
            .ok_or_else(|| format!("{} runs no sshd", h.name))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let new = p.dir.join(format!("rotated-{n}"));
        run(&mut keygen(&new, &format!("root@{}", h.name)), None)?;
        let key = fs::read(&new).map_err(|e| e.to_string())?;
        let pubkey = fs::read_to_string(new.with_extension("pub")).map_err(|e| e.to_string())?;
        let etc = h.root.join("etc/ssh");
        fs::write(etc.join("ssh_host_ed25519_key"), key).map_err(|e| e.to_string())?;
        fs::write(etc.join("ssh_host_ed25519_key.pub"), &pubkey).map_err(|e| e.to_string())?;
        let want = key_blob(&pubkey);
        kill(Pid::from_raw(sshd as i32), Signal::SIGHUP).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self
                .command("ssh-keyscan")
                .args(["-T", "2", "-t", "ed25519", "-p"])
                .arg(h.port.to_string())
                .arg(h.addr.to_string())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| e.to_string())?;
            let served = String::from_utf8_lossy(&out.stdout);
            if served.lines().any(|l| l.contains(&want)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} still does not serve its new host key: {}",
                    h.name,
                    tail(&h.log, 1000)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host's files as `path on the host -> (size, mtime in ns since the epoch, SHA-256
    /// in hex)`: everything in its overlay upper directory (all its own files and every file
    /// changed, created or deleted on it) plus its own tmpfs mounts `/tmp`, `/run` and
    /// `/dev/shm`. Directories hash as `dir`, symlinks as `-> target`, overlay whiteouts
    /// (deleted files) as `whiteout`, other special files as `special`. Two snapshots equal
    /// means nothing on the host changed in between.
    pub fn snapshot(&self, host: usize) -> BTreeMap<PathBuf, (u64, i64, String)> {
        let h = &self.hosts[host];
        let mut out = BTreeMap::new();
        walk(&h.upper, Path::new("/"), &mut out);
        for d in ["tmp", "run", "dev/shm"] {
            walk(&h.root.join(d), &Path::new("/").join(d), &mut out);
        }
        out
    }
}

/// Name of a host in known_hosts.
fn known_host_name(h: &LabHost) -> String {
    if h.port == 22 {
        h.addr.to_string()
    } else {
        format!("[{}]:{}", h.addr, h.port)
    }
}

/// Adds every entry under `dir` to `out`, keyed by `at` joined with its relative path.
fn walk(dir: &Path, at: &Path, out: &mut BTreeMap<PathBuf, (u64, i64, String)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let path = e.path();
        let key = at.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        let mtime = m.mtime() * 1_000_000_000 + m.mtime_nsec();
        let ft = m.file_type();
        let what = if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_symlink() {
            let t = fs::read_link(&path).unwrap_or_default();
            format!("-> {}", String::from_utf8_lossy(t.as_os_str().as_bytes()))
        } else if ft.is_file() {
            let mut h = Sha256::new();
            if let Ok(mut f) = fs::File::open(&path) {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            dossier_plugin_api::encoding::hex(&h.finalize())
        } else if ft.is_char_device() && m.rdev() == 0 {
            "whiteout".to_string()
        } else {
            "special".to_string()
        };
        out.insert(key.clone(), (m.size(), mtime, what));
        if ft.is_dir() {
            walk(&path, &key, out);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Kill every host's PID 1 (or, if it is not known yet, the unshare whose
        // --kill-child kills it): the kernel kills the rest of its PID namespace.
        for p in &mut self.procs {
            drop(p.stdin.take());
            let pid = p.init.unwrap_or(p.child.id());
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for p in &mut self.procs {
            loop {
                match p.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }
        // Every process of every host is gone once its PID 1 is reaped; wait for the last
        // ones anyway (a PID namespace is torn down asynchronously).
        for h in &self.hosts {
            for &pid in &h.pids {
                while alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        let mut batch = String::new();
        for ns in self.namespaces.iter().rev() {
            if Path::new("/run/netns").join(ns).exists() {
                let _ = writeln!(batch, "netns del {ns}");
            }
        }
        if !batch.is_empty()
            && let Err(e) = run(
                Command::new(&self.ip).args(["-force", "-batch", "-"]),
                Some(&batch),
            )
        {
            eprintln!("lab teardown: {e}");
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("lab teardown: {}: {e}", self.dir.display());
        }
    }
}
