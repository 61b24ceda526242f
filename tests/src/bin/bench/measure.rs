//! Measuring one command: `dossier-bench one` runs it in a fresh process and prints its wall
//! time, peak RSS and CPU time (child rusage); the other commands run `one` and read that.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Runs one command and prints `<wall seconds> <peak RSS KiB> <success> <user CPU seconds>
/// <system CPU seconds>` of it (child rusage of this fresh process covers only that command
/// and the children it waited for).
pub fn one(cmd: &[String]) {
    let t = Instant::now();
    let st = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    let wall = t.elapsed().as_secs_f64();
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    println!(
        "{wall} {} {} {} {}",
        ru.max_rss(),
        st.success(),
        secs(ru.user_time()),
        secs(ru.system_time())
    );
}

pub fn measure(cmd: &[&str]) -> (f64, f64) {
    let me = std::env::current_exe().expect("exe");
    let m = measure_cmd(Command::new(me).arg("one").args(cmd));
    assert!(m.ok, "command failed: {cmd:?}");
    (m.wall, m.rss_mib)
}

/// Wall time, peak RSS, success and CPU time (user + system) of one command, as measured by
/// `dossier-bench one`.
pub struct Measured {
    pub wall: f64,
    pub rss_mib: f64,
    pub ok: bool,
    pub cpu: f64,
}

/// Runs `cmd`, which must run `dossier-bench one PROGRAM ARGS...` (possibly through `ip netns
/// exec` or `nsenter`, which exec it or wait for it), and reads what `one` printed.
pub fn measure_cmd(cmd: &mut Command) -> Measured {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.len(), 5, "{cmd:?} printed {text:?} ({})", out.status);
    let num = |i: usize| f[i].parse::<f64>().expect("number");
    Measured {
        wall: num(0),
        rss_mib: num(1) / 1024.0,
        ok: f[2] == "true",
        cpu: num(3) + num(4),
    }
}

pub fn time<F: FnMut()>(mut f: F) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

pub fn run_quiet(cmd: &mut Command) {
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
}
