//! Starting a lab: preflight checks, cleanup of labs left by dead processes, and the stages
//! of [`Lab::start`] (network, keys, planting and starting the hosts, waiting until they
//! listen, known_hosts).

use super::init::init_script;
use super::seed::{
    PYTHON_SERVICE, SFTP_SERVERS, Seed, lab_user, plant_base, plant_miner, plant_sshd,
    plant_systemd_units, shadow_root_unlocked, systemd_python_service,
};
use super::sys::{
    ZOMBIE_GRACE, alive, children, find_program, in_netns_running, keygen, listening, run, tail,
    zombie,
};
use super::{
    CLIENT_ADDR, COUNTER, HostProc, LAB_PASSWORD_HASH, Lab, LabHost, MINER_PORT, PATH, PYTHON,
    START_TIMEOUT, Scenario, benign, known_host_name, persist,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Removes what labs of processes that no longer exist left behind (their network
/// namespaces, once no process is in them, and their directories). Their hosts stopped when
/// those processes died (end-of-file on PID 1's standard input).
pub(super) fn collect_stale(ip: &Path) {
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
                    super::sys::remove_cgroups(&name, Instant::now());
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
    pub(super) fn preflight(
        scenarios: &[Scenario],
    ) -> Result<BTreeMap<&'static str, PathBuf>, String> {
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
            .any(|s| s.is_miner() || matches!(s, Scenario::Silent | Scenario::Benign));
        if needs_python && !Path::new(PYTHON).is_file() {
            return Err(format!(
                "the Miner, Silent and Benign scenarios need {PYTHON} (package python3)"
            ));
        }
        if scenarios.contains(&Scenario::SystemdMiner) {
            let nspawn = find_program("systemd-nspawn").ok_or(
                "the SystemdMiner scenario needs systemd-nspawn (package systemd-container)",
            )?;
            found.insert("systemd-nspawn", nspawn);
            if !Path::new("/lib/systemd/systemd").is_file() {
                return Err("the SystemdMiner scenario needs systemd (package systemd)".into());
            }
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

    /// [`Lab::start`] for tests. When the lab cannot run here ([`Lab::unavailable`]) it is
    /// [`crate::skip_or_fail`]: under `CI` the test fails, elsewhere it prints
    /// `skipped: <test>: <reason>` and returns None. A lab that can run but fails to start
    /// panics everywhere.
    pub fn start_or_skip(scenarios: &[Scenario]) -> Option<Lab> {
        if let Some(reason) = Lab::unavailable(scenarios) {
            crate::skip_or_fail(&format!("the SSH lab cannot run: {reason}"));
            return None;
        }
        match Lab::start(scenarios) {
            Ok(lab) => Some(lab),
            Err(e) => panic!("the SSH lab failed to start: {e}"),
        }
    }

    /// Sets the lab up in stages: network, keys and host records, every host planted and
    /// started, then waits until each listens, and writes the client's known_hosts.
    pub(super) fn build(
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
    pub(super) fn network(&self, hosts: usize) -> Result<(), String> {
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
    pub(super) fn keys_and_hosts(&mut self, scenarios: &[Scenario]) -> Result<(), String> {
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
                log: hdir.join(if scenario == Scenario::SystemdMiner {
                    "console.log"
                } else {
                    "sshd.log"
                }),
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
    pub(super) fn start_hosts(
        &mut self,
        scenarios: &[Scenario],
        found: &BTreeMap<&str, PathBuf>,
    ) -> Result<Vec<PathBuf>, String> {
        let client_pub =
            fs::read_to_string(self.client_key.with_extension("pub")).map_err(|e| e.to_string())?;
        let python = if scenarios.iter().any(|s| s.is_miner()) {
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
            let netns = format!("{}-h{i}", self.netns);
            let nspawn = found.get("systemd-nspawn").map(PathBuf::as_path);
            fs::write(&init, init_script(h, &hdir, &found["sshd"], &netns, nspawn))
                .map_err(|e| e.to_string())?;
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
    pub(super) fn wait_listening(&mut self, log_files: &[PathBuf]) -> Result<(), String> {
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
    pub(super) fn host_ready(
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
        if h.scenario.is_miner() {
            want.push(MINER_PORT);
        }
        if h.scenario == Scenario::Benign {
            want.extend([benign::APP_PORT, benign::DEV_PORT, benign::DB_PORT]);
        }
        let ports = listening(init);
        let services = if h.scenario == Scenario::SystemdMiner {
            // systemd started them: sshd and the miner, found by their programs in this
            // host's network namespace (once both listen).
            if !want.iter().all(|w| ports.contains(w)) {
                return Ok(false);
            }
            let found: Vec<u32> = ["/usr/sbin/sshd", "/var/log/log"]
                .iter()
                .filter_map(|exe| in_netns_running(init, exe))
                .collect();
            if found.len() < 2 {
                return Ok(false);
            }
            [children(init), found].concat()
        } else {
            children(init)
        };
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
    pub(super) fn write_known_hosts(&self) -> Result<(), String> {
        let mut known = String::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if h.scenario.has_sshd() && h.scenario != Scenario::UnknownKey {
                let _ = writeln!(known, "{} {}", known_host_name(h), self.host_key(i)?);
            }
        }
        fs::write(&self.known_hosts, known).map_err(|e| e.to_string())?;
        Ok(())
    }
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
        // The responder's own account: contain and restore through `sudo -n`.
        Scenario::SystemdMiner => lab_user(&s, client_pub, None, "ALL")?,
        Scenario::Persist => {
            // Only what `dossier sweep --sudo` runs: a collection account's narrow rule.
            if let Some(server) = SFTP_SERVERS.iter().find(|p| Path::new(p).is_file()) {
                lab_user(&s, client_pub, None, &format!("{server} -R"))?;
            }
        }
        _ => {}
    }
    match h.scenario {
        Scenario::Miner => plant_miner(&s, python, PYTHON_SERVICE)?,
        Scenario::SystemdMiner => {
            plant_miner(&s, python, &systemd_python_service())?;
            plant_systemd_units(&s)?;
        }
        _ => {}
    }
    Ok(())
}
