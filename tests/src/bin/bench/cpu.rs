//! CPU time from `/proc`: the machine's (busy fraction over an interval) and the lab hosts'
//! sshd (with the sessions they reaped).

use dossier_tests::lab::{Lab, LabHost};
use std::time::Instant;

/// USER_HZ, the unit of the times in `/proc/PID/stat` (100 on every mainstream Linux).
const USER_HZ: f64 = 100.0;

/// Busy and total time of all CPUs so far, in jiffies (first line of `/proc/stat`).
fn machine_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Fields of `/proc/PID/stat` after the command name (index 0 is the state, field 3).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The host's sshd listener: the first of its services named `sshd` (sshd is chrooted into
/// the host's filesystem; the host's PID 1 is not).
pub fn sshd_pid(h: &LabHost) -> Option<u32> {
    h.pids.iter().skip(2).copied().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sshd")
    })
}

/// CPU seconds used so far by every host's sshd and the children it reaped (the sessions,
/// their SFTP server and the commands they ran): utime + stime + cutime + cstime of each
/// listener. Waits (up to 5 s) for the sessions of a finished sweep to be reaped first.
pub fn sshd_cpu(lab: &Lab) -> f64 {
    let pids: Vec<u32> = lab.hosts().iter().filter_map(sshd_pid).collect();
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    for &pid in &pids {
        while Instant::now() < deadline
            && !std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .trim()
                .is_empty()
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let mut jiffies = 0u64;
    for pid in pids {
        let f = stat_fields(pid);
        jiffies += (11..=14)
            .filter_map(|i| f.get(i).and_then(|x| x.parse::<u64>().ok()))
            .sum::<u64>();
    }
    jiffies as f64 / USER_HZ
}

/// Machine CPU use over an interval, as a fraction of all its CPUs.
pub struct Busy((u64, u64));

impl Busy {
    pub fn start() -> Busy {
        Busy(machine_jiffies())
    }
    pub fn fraction(&self) -> f64 {
        let (b1, t1) = machine_jiffies();
        let (b0, t0) = self.0;
        (b1 - b0) as f64 / (t1 - t0).max(1) as f64
    }
}
