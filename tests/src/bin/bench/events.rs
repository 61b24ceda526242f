//! `dossier-bench events`: import and analysis throughput of telemetry. Generates (see
//! `events_gen`) an audit log and a Defender JSON export of `--size-mib` each, then per run
//! and per file: `dossier import FILE` into a fresh directory, `dossier analyze` of the import
//! bundle, and as the floor, in the same run, `wc -l FILE` and (for the JSON export) `jq -c .
//! FILE >/dev/null`. Each command runs in its own child (`dossier-bench one`): wall time, CPU
//! time and peak RSS; events/s (the events the import's `records/import.jsonl` counts), the
//! medians over the runs and the ratio of import to the floor.

use crate::events_gen;
use crate::measure::{Measured, measure_cmd};
use crate::{arg, default_bin, median};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one measured command did in each run.
#[derive(Default)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    failed: usize,
    /// Runs whose report says records were not analyzed.
    partial: usize,
}

impl Series {
    fn add(&mut self, m: &Measured) {
        self.wall.push(m.wall);
        self.cpu.push(m.cpu);
        self.rss.push(m.rss_mib);
        self.failed += usize::from(!m.ok);
    }

    fn wall(&self) -> f64 {
        median(self.wall.clone())
    }

    /// `median 1.23 s, CPU 1.20 s, peak RSS 12.3 MiB`, with events/s when `events` is given.
    fn text(&self, events: Option<u64>) -> String {
        let wall = self.wall();
        let cpu = median(self.cpu.clone());
        // Per CPU second too: on a shared machine the wall time says more of the neighbours.
        let rate = events.map_or(String::new(), |n| {
            format!(
                " = {:.0}k events/s ({:.0}k per CPU second)",
                n as f64 / wall / 1000.0,
                n as f64 / cpu / 1000.0
            )
        });
        let mut failed = if self.failed > 0 {
            format!(" ({} of the runs FAILED)", self.failed)
        } else {
            String::new()
        };
        if self.partial > 0 {
            failed.push_str(&format!(
                " ({} of the runs did not analyze the records: verification only)",
                self.partial
            ));
        }
        format!(
            "median {wall:.2} s{rate}, CPU {cpu:.2} s, peak RSS {:.1} MiB{failed}",
            median(self.rss.clone())
        )
    }
}

/// Runs `program args...` through `dossier-bench one`.
fn one(program: &Path, args: &[&std::ffi::OsStr]) -> Measured {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.arg("one").arg(program).args(args);
    measure_cmd(&mut cmd)
}

/// The import bundle written into `out` (the one `.zip`).
fn bundle_in(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .expect("out")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .expect("an import bundle")
}

/// (records read, events, skipped) of the bundle's `records/import.jsonl`, summed.
fn import_counts(bundle: &Path) -> (u64, u64, u64) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(bundle).expect("bundle")).expect("zip");
    let mut text = String::new();
    z.by_name("records/import.jsonl")
        .expect("records/import.jsonl")
        .read_to_string(&mut text)
        .expect("read");
    text.lines().fold((0, 0, 0), |(r, e, s), l| {
        let v: serde_json::Value = serde_json::from_str(l).expect("summary");
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        (r + n("records_read"), e + n("events"), s + n("skipped"))
    })
}

/// Whether the reports in `dir` say the bundle's records were not analyzed (over the reader's
/// limits): the analyze time then is that of verifying only.
fn not_analyzed(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            return not_analyzed(&p);
        }
        p.extension().is_some_and(|x| x == "md")
            && std::fs::read_to_string(&p).is_ok_and(|t| t.contains("not analyzed"))
    })
}

/// Where a tool is on PATH.
fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// `dossier-bench events-gen DIR [--size-mib N]`: only writes the two files into DIR (to
/// profile or try by hand).
pub fn generate(args: &[String]) {
    let dir = PathBuf::from(args.get(2).expect("usage: dossier-bench events-gen DIR"));
    let mib: u64 = arg(args, "--size-mib").map_or(64, |s| s.parse().expect("--size-mib"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let a = events_gen::audit_log(&dir.join("audit.log"), mib << 20);
    let d = events_gen::defender_json(&dir.join("DeviceEvents.json"), mib << 20);
    println!(
        "{}: audit.log ({a} events), DeviceEvents.json ({d} rows)",
        dir.display()
    );
}

/// `dossier-bench events`: see the crate documentation.
pub fn events(args: &[String]) {
    let mib: u64 = arg(args, "--size-mib").map_or(64, |s| s.parse().expect("--size-mib"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let bin = arg(args, "--bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_bin);
    let dir = crate::work_dir(args);
    let audit = dir.path().join("audit.log");
    let mde = dir.path().join("DeviceEvents.json");
    let t = std::time::Instant::now();
    let audit_events = events_gen::audit_log(&audit, mib << 20);
    let mde_rows = events_gen::defender_json(&mde, mib << 20);
    println!(
        "generated {mib} MiB each in {:.1} s: {} ({audit_events} events), {} ({mde_rows} rows); {runs} runs, {}",
        t.elapsed().as_secs_f64(),
        audit.display(),
        mde.display(),
        bin.display()
    );
    let jq = which("jq");
    for (file, is_json) in [(&audit, false), (&mde, true)] {
        measure_file(
            &bin,
            dir.path(),
            file,
            is_json.then_some(jq.as_deref()).flatten(),
            runs,
        );
    }
}

/// The runs of one file: import, analyze, `wc -l`, `jq` (when given); then the medians.
fn measure_file(bin: &Path, dir: &Path, file: &Path, jq: Option<&Path>, runs: usize) {
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let size = std::fs::metadata(file).expect("file").len();
    let (mut import, mut analyze, mut wc, mut jqs) = Default::default();
    let (import, analyze, wc, jqs): (&mut Series, &mut Series, &mut Series, &mut Series) =
        (&mut import, &mut analyze, &mut wc, &mut jqs);
    let mut counts = (0, 0, 0);
    let wc_bin = which("wc").expect("wc on PATH");
    for run in 0..runs {
        let out = dir.join(format!("out-{name}-{run}"));
        let report = dir.join(format!("report-{name}-{run}"));
        let m = one(
            bin,
            &[
                "import".as_ref(),
                file.as_os_str(),
                "--quiet".as_ref(),
                "--host".as_ref(),
                "bench".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        );
        import.add(&m);
        let bundle = bundle_in(&out);
        counts = import_counts(&bundle);
        let a = one(
            bin,
            &[
                "analyze".as_ref(),
                "--out".as_ref(),
                report.as_os_str(),
                bundle.as_os_str(),
            ],
        );
        analyze.add(&a);
        let skipped_records = not_analyzed(&report);
        analyze.partial += usize::from(skipped_records);
        let w = one(&wc_bin, &["-l".as_ref(), file.as_os_str()]);
        wc.add(&w);
        let mut line = format!(
            "  {name} run {}: import {:.2} s ({:.0}k events/s, peak RSS {:.1} MiB), analyze {:.2} s ({:.1} MiB{}), wc -l {:.2} s",
            run + 1,
            m.wall,
            counts.1 as f64 / m.wall / 1000.0,
            m.rss_mib,
            a.wall,
            a.rss_mib,
            match (a.ok, skipped_records) {
                (false, _) => ", FAILED",
                (true, true) => ", records NOT ANALYZED: over the reader's limits",
                (true, false) => "",
            },
            w.wall
        );
        if let Some(jq) = jq {
            let j = one(jq, &["-c".as_ref(), ".".as_ref(), file.as_os_str()]);
            line.push_str(&format!(", jq -c . {:.2} s", j.wall));
            jqs.add(&j);
        }
        println!("{line}");
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_dir_all(&report);
    }
    let (records, events, skipped) = counts;
    println!(
        "{name} ({:.0} MiB, {records} records read, {events} events, {skipped} skipped):",
        size as f64 / 1048576.0
    );
    println!("  import:           {}", import.text(Some(events)));
    println!("  analyze:          {}", analyze.text(Some(events)));
    let both = import.wall() + analyze.wall();
    println!(
        "  import + analyze: {both:.2} s = {:.0}k events/s",
        events as f64 / both / 1000.0
    );
    println!("  wc -l (floor):    {}", wc.text(Some(events)));
    let mut ratios = format!("  import / wc -l: {:.1}x", import.wall() / wc.wall());
    if jq.is_some() {
        println!("  jq -c . (floor):  {}", jqs.text(Some(events)));
        ratios.push_str(&format!(
            ", import / jq -c .: {:.2}x",
            import.wall() / jqs.wall()
        ));
    }
    println!("{ratios}");
}
