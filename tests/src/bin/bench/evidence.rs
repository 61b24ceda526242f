//! `dossier-bench evidence`: one lab, swept by two dossier binaries one after the other (and
//! the first again, to see what changes between two runs of the same binary), the outputs
//! kept, for checking that a change collects the same evidence (records, raw members,
//! findings) as before. The comparison itself reads the kept folders.

use crate::fleet::sweep_command;
use crate::measure::measure_cmd;
use crate::{arg, default_bin};
use dossier_tests::lab::{Lab, Scenario};
use std::path::PathBuf;

/// `dossier-bench evidence --keep DIR [--hosts N] [--bin NEW] [--against OLD]`: sweeps into
/// `DIR/old-1`, `DIR/new`, `DIR/old-2` (with analysis).
pub fn evidence(args: &[String]) {
    let n: usize = arg(args, "--hosts").map_or(3, |s| s.parse().expect("--hosts"));
    let keep = PathBuf::from(arg(args, "--keep").expect("--keep DIR"));
    let canon = |p: PathBuf| std::fs::canonicalize(&p).expect("binary");
    let new = canon(arg(args, "--bin").map_or_else(default_bin, PathBuf::from));
    let old = canon(PathBuf::from(
        arg(args, "--against").expect("--against OLD"),
    ));
    let me = std::fs::canonicalize(std::env::current_exe().expect("exe")).expect("exe");
    let miners = if n >= 2 { (n / 15).max(1) } else { 0 };
    let mut scenarios = vec![Scenario::Clean; n - miners];
    scenarios.extend(std::iter::repeat_n(Scenario::Miner, miners));
    let lab = Lab::start(&scenarios).expect("lab start");
    std::fs::create_dir_all(&keep).expect("--keep DIR");
    let home = keep.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let addrs: Vec<String> = lab.hosts().iter().map(|h| h.addr.to_string()).collect();
    for (name, bin) in [("old-1", &old), ("new", &new), ("old-2", &old)] {
        let out = keep.join(name);
        let mut c = sweep_command(&lab, (&me, bin), &home, &addrs, 4, &out);
        let m = measure_cmd(&mut c);
        println!(
            "{name}: {} wall {:.2} s, CPU {:.2} s, ok {}, into {}",
            bin.display(),
            m.wall,
            m.cpu,
            m.ok,
            out.display()
        );
    }
}
