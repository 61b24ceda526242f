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
//!
//! # Modules
//!
//! This file holds the types ([`Scenario`], [`LabHost`], [`Lab`]), what a test does with a
//! running lab, and teardown. `start` starts a lab (preflight, network, keys, planting,
//! waiting until the hosts listen), `seed` plants a host's files, `init` writes its init
//! script, `sys` runs programs and reads `/proc`; [`persist`] and [`benign`] are the files and
//! services of those two scenarios.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};

pub mod benign;
mod init;
pub mod persist;
mod seed;
mod start;
mod sys;

use sys::{alive, key_blob, keygen, run, tail};

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
    /// The incident of seed 000 on a host that runs **systemd as PID 1** (booted with
    /// `systemd-nspawn --boot` on the host's overlay root, in the host's network namespace):
    /// the same files as [`Scenario::Miner`], but `python.service` is a real enabled unit that
    /// systemd started (its `ExecStart` runs `/var/log/log -c <listener>`, so the miner
    /// listens on [`MINER_PORT`]), and sshd is the distribution's `ssh.service`. Only these
    /// two units are wanted by `multi-user.target` and no timer is (the machine's other units
    /// are hidden by opaque `.wants` folders). Root logs in by key, and [`LAB_USER`] by key
    /// with password-less sudo for everything. Not in [`Scenario::ALL`]: containment's
    /// systemd suite uses it. Needs `systemd-nspawn` (package systemd-container).
    SystemdMiner,
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
            Scenario::SystemdMiner => "sdminer",
        }
    }

    /// Whether the host runs sshd (every scenario except `Silent`).
    pub fn has_sshd(self) -> bool {
        self != Scenario::Silent
    }

    /// Whether the seed's miner incident is planted ([`Scenario::Miner`] and
    /// [`Scenario::SystemdMiner`]).
    pub fn is_miner(self) -> bool {
        matches!(self, Scenario::Miner | Scenario::SystemdMiner)
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

impl Lab {
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

    /// The sweep targets of every host: `ADDR:PORT`, `LAB_USER@ADDR:PORT` on NonRoot hosts
    /// (whose root login is refused).
    pub fn targets(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| match h.scenario {
                Scenario::NonRoot => format!("{LAB_USER}@{}:{}", h.addr, h.port),
                _ => format!("{}:{}", h.addr, h.port),
            })
            .collect()
    }

    /// `dossier sweep` inside the lab namespace, with no agent, plugins or data folder of the
    /// tester's (`HOME=home`) and stdin closed; the caller adds targets and options, and runs
    /// or spawns it.
    pub fn sweep_command(&self, home: &Path) -> Command {
        let mut c = self.command(crate::dossier_bin());
        c.arg("sweep")
            .env("HOME", home)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("DOSSIER_PLUGIN_PATH")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null());
        c
    }

    /// `dossier sweep ARGS` inside the lab namespace into `out`, trusting `known_hosts`, with no
    /// user configuration, agent or plugins of the tester's (`HOME=home`); run and logged to
    /// stderr.
    pub fn sweep(&self, home: &Path, out: &Path, known_hosts: &Path, args: &[&str]) -> Output {
        let mut c = self.sweep_command(home);
        c.args(args)
            .arg("--out")
            .arg(out)
            .arg("--known-hosts")
            .arg(known_hosts)
            .args(["--ssh-config", "/dev/null", "--connect-timeout", "3"]);
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
        for ns in &self.namespaces {
            sys::remove_cgroups(ns, deadline);
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
