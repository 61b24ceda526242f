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

/// Single-quotes a string for sh.
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The init script of one host (PID 1 of its PID namespace).
pub(super) fn init_script(h: &LabHost, hdir: &Path, sshd: &Path) -> String {
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
