//! The init script of a fake host (PID 1 of its PID namespace: mounts, network, services),
//! and the programs it starts.

use super::{LabHost, MINER_PORT, PYTHON, Scenario, benign, persist};
use std::fmt::Write as _;
use std::path::Path;

/// A program that listens on a TCP port of 0.0.0.0 and accepts connections and holds them
/// open forever without ever sending a byte.
pub(super) fn hold_program(port: u16) -> String {
    format!(
        "import socket;s=socket.create_server((\"0.0.0.0\",{port}),backlog=256);h=[];[h.append(s.accept()) for _ in iter(int,1)]"
    )
}

/// What PID 1 of a fake host becomes once its services are started: it reaps every process
/// that ends under it (sshd's session processes whose parent went first are re-parented to
/// PID 1 of the namespace; a shell blocked in `read` never reaps them, and the zombies then
/// make collection differ from run to run) and lives until its standard input reaches
/// end-of-file. Python retries the `read` a SIGCHLD interrupts (PEP 475).
const REAPER: &str = r"import os, signal


def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


signal.signal(signal.SIGCHLD, reap)
reap()
while os.read(0, 65536):
    pass
";

/// The end of every init script: says the host started, then becomes [`REAPER`] (the same
/// PID, so the host's processes keep their parent), its program in the host's directory.
fn reap_until_eof() -> String {
    format!(
        "cat > \"$D/reaper.py\" <<'EOF'\n{REAPER}EOF\necho started\nexec {PYTHON} \"$D/reaper.py\"\n"
    )
}

/// Single-quotes a string for sh.
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Name of the cgroup of a [`Scenario::SystemdMiner`] host (in each hierarchy it uses): the
/// host's network namespace name, so that labs and hosts never share one, and a dead lab's
/// are found by the same rule as its namespaces.
pub(super) fn cgroup_name(netns: &str) -> String {
    netns.to_string()
}

/// The cgroup hierarchies a [`Scenario::SystemdMiner`] host mounts (and its systemd uses):
/// `name=systemd` (v1, systemd's own), the unified v2 hierarchy and the v1 freezer.
pub(super) const CGROUP_HIERARCHIES: [(&str, &str); 3] = [
    ("systemd", "-t cgroup -o none,name=systemd"),
    ("unified", "-t cgroup2"),
    ("freezer", "-t cgroup -o freezer"),
];

/// The rest of the init script of a [`Scenario::SystemdMiner`] host, once its root is mounted
/// and its network is up: its own cgroup in each hierarchy, then systemd booted as PID 1 of a
/// nested PID namespace on the host's overlay root (`systemd-nspawn --boot`, in this network
/// namespace), its console in `console.log` in the host's directory.
fn systemd_boot(h: &LabHost, netns: &str, nspawn: &Path) -> String {
    let mut s = String::from("mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup\n");
    let cg = cgroup_name(netns);
    for (dir, how) in CGROUP_HIERARCHIES {
        let _ = writeln!(
            s,
            "mkdir /sys/fs/cgroup/{dir}\nmount {how} cgroup /sys/fs/cgroup/{dir}\n\
             mkdir -p /sys/fs/cgroup/{dir}/{cg}\necho $$ > /sys/fs/cgroup/{dir}/{cg}/cgroup.procs"
        );
    }
    let _ = writeln!(
        s,
        "{} -D \"$R\" --boot --register=no --keep-unit --machine={} --resolv-conf=off \
         --timezone=off --link-journal=no --console=read-only </dev/null >\"$D/console.log\" 2>&1 &",
        sh_quote(nspawn.to_str().expect("utf-8 nspawn path")),
        h.name
    );
    s
}

/// The init script of one host (PID 1 of its PID namespace). `netns` is the host's network
/// namespace; `nspawn` is `systemd-nspawn` for [`Scenario::SystemdMiner`] hosts.
pub(super) fn init_script(
    h: &LabHost,
    hdir: &Path,
    sshd: &Path,
    netns: &str,
    nspawn: Option<&Path>,
) -> String {
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
         echo {name} > /proc/sys/kernel/hostname\n\
         ip link set lo up\n\
         ip addr add {addr}/24 dev eth0\n\
         ip link set eth0 up\n\
         export PYTHONDONTWRITEBYTECODE=1\n",
        name = h.name,
        addr = h.addr,
    );
    if h.scenario == Scenario::SystemdMiner {
        s.push_str(&systemd_boot(
            h,
            netns,
            nspawn.expect("systemd-nspawn for a systemd host"),
        ));
        s.push_str(&reap_until_eof());
        return s;
    }
    s.push_str(
        "mount -t proc proc \"$R/proc\"\n\
         mount -t sysfs sysfs \"$R/sys\"\n\
         mount --bind /dev \"$R/dev\"\n\
         mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts \"$R/dev/pts\"\n\
         mount -t tmpfs -o mode=1777 shm \"$R/dev/shm\"\n\
         mount -t tmpfs -o mode=0755 run \"$R/run\"\n\
         mkdir -m 0755 \"$R/run/sshd\"\n\
         mount -t tmpfs -o mode=1777 tmp \"$R/tmp\"\n",
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
    s.push_str(&reap_until_eof());
    s
}
