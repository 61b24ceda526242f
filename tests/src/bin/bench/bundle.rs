//! `dossier-bench bundle`: bundle writing against the same work done with stock tools
//! ([`crate::bundle_ref`]: `sha256sum`, `zip` at dossier's level for each file, `sync`,
//! `sha256sum` of the archive) on the same file set, with the same CPUs (both pinned to one
//! CPU; both on every CPU, the tools split N ways), warm and cold page cache; and
//! `dossier verify` against `unzip -t` on the result.

use crate::bundle_ref::{self, RefFile};
use crate::machine::{drop_caches, pin_to_one_cpu};
use crate::measure::{run_quiet, time};
use crate::{arg, median};
use dossier_bundle::manifest::{CollectionTimes, FORMAT, FORMAT_VERSION, Manifest, PlaybookRef};
use dossier_bundle::writer::BundleWriter;
use dossier_cli::local::LocalHost;
use dossier_plugin_api::records::HostFacts;
use dossier_plugin_api::{EvidenceSink, Host, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn xorshift_fill(buf: &mut [u8], seed: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let b = seed.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Builds the file set; returns the file paths (relative to `dir`) and total bytes.
fn make_set(dir: &Path, mib: u64) -> (Vec<PathBuf>, u64) {
    let quarter = mib * 1048576 / 4;
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    // Random (packed or encrypted payloads): two quarters in 64 MiB files.
    std::fs::create_dir_all(dir.join("random")).expect("mkdir");
    let mut left = quarter * 2;
    let mut i = 0;
    while left > 0 {
        let n = left.min(64 << 20);
        let mut buf = vec![0u8; n as usize];
        xorshift_fill(&mut buf, &mut seed);
        let p = PathBuf::from(format!("random/blob{i:03}.bin"));
        std::fs::write(dir.join(&p), &buf).expect("write");
        files.push(p);
        total += n;
        left -= n;
        i += 1;
    }
    // Real executables and libraries (copies), a quarter.
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    let mut sources: Vec<PathBuf> = Vec::new();
    for d in [
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/libexec",
    ] {
        if let Ok(rd) = std::fs::read_dir(d) {
            let mut v: Vec<PathBuf> = rd
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect();
            v.sort();
            sources.extend(v);
        }
    }
    let mut left = quarter;
    let mut i = 0usize;
    while left > 0 && !sources.is_empty() {
        let src = &sources[i % sources.len()];
        if let Ok(data) = std::fs::read(src)
            && !data.is_empty()
        {
            let data = &data[..data.len().min(left as usize)];
            let p = PathBuf::from(format!(
                "bin/{i:05}-{}",
                src.file_name().expect("name").to_string_lossy()
            ));
            std::fs::write(dir.join(&p), data).expect("write");
            files.push(p);
            total += data.len() as u64;
            left -= data.len() as u64;
        }
        i += 1;
    }
    // Log text, a quarter, in 4 MiB files.
    std::fs::create_dir_all(dir.join("log")).expect("mkdir");
    let mut left = quarter;
    let mut i = 0;
    let mut line_no = 0u64;
    while left > 0 {
        let n = left.min(4 << 20) as usize;
        let mut buf = Vec::with_capacity(n + 256);
        while buf.len() < n {
            line_no += 1;
            let _ = writeln!(
                buf,
                "Nov 22 10:{:02}:{:02} web01 sshd[{}]: Failed password for invalid user admin{} from 203.0.113.{} port {} ssh2",
                line_no / 60 % 60,
                line_no % 60,
                1000 + line_no % 9000,
                line_no % 97,
                line_no % 250,
                30000 + line_no % 30000
            );
        }
        buf.truncate(n);
        let p = PathBuf::from(format!("log/auth{i:03}.log"));
        std::fs::write(dir.join(&p), &buf).expect("write");
        files.push(p);
        total += n as u64;
        left -= n as u64;
        i += 1;
    }
    (files, total)
}

fn write_bundle(set: &Path, files: &[PathBuf], out: &Path) -> PathBuf {
    let host = LocalHost::image(set).expect("image");
    let mut w = BundleWriter::create(out, "bench").expect("create");
    w.begin_collector("bench");
    for f in files {
        let p = Path::new("/").join(f);
        w.copy_raw(&host as &dyn Host, &p, u64::MAX).expect("copy");
    }
    w.end_collector("bench").expect("end");
    let now = Timestamp::now();
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        bundle_id: "bench".into(),
        case_id: None,
        examiner: None,
        tool: dossier_cli::orchestrate::tool_info(),
        host: HostFacts {
            hostname: "bench".into(),
            ..Default::default()
        },
        target: host.info(),
        playbook: PlaybookRef {
            name: "bench".into(),
            sha256: "0".repeat(64),
            source: "bench".into(),
        },
        collection: CollectionTimes {
            started: now,
            finished: now,
            duration_ms: 0,
            operator: "bench".into(),
            operator_host: "bench".into(),
            signer_key_id: None,
        },
        collectors: vec![],
        members: vec![],
    };
    w.finish(manifest, "bench").expect("finish").path
}

/// One measured setting: page cache warm or cold, dossier and the tools on one CPU or all.
#[derive(Clone, Copy)]
struct Case {
    cold: bool,
    cpus: usize,
}

impl Case {
    fn label(self) -> String {
        format!(
            "{}, {} CPU{}",
            if self.cold { "cold" } else { "warm" },
            self.cpus,
            if self.cpus == 1 { "" } else { "s" }
        )
    }
}

/// Makes the page cache as `case` wants it: every file read once (warm), or dropped (cold).
fn prepare(case: Case, set: &Path, files: &[PathBuf]) {
    if case.cold {
        drop_caches().expect("drop caches");
    } else {
        for f in files {
            std::fs::read(set.join(f)).expect("read");
        }
    }
}

/// Runs `f` on one CPU (pinned, with everything it starts) when `cpus` is 1, else as is.
fn on_cpus<F: FnMut()>(cpus: usize, f: F) -> f64 {
    let _pin = (cpus == 1).then(|| pin_to_one_cpu().expect("pin to one CPU"));
    time(f)
}

/// The file set, where each side writes, and the tools' file lists (whole, and split N ways).
struct Bench {
    set: PathBuf,
    files: Vec<PathBuf>,
    out: PathBuf,
    ref_out: PathBuf,
    one: Vec<Vec<RefFile>>,
    split: Vec<Vec<RefFile>>,
}

/// Times of one case of one run, and what each side wrote.
struct Sample {
    dossier: f64,
    tools: f64,
    bundle_bytes: u64,
    archives: (usize, u64),
}

impl Bench {
    /// Dossier, then the tools, each from the page cache `case` wants, on its CPUs.
    fn run(&self, case: Case) -> Sample {
        let _ = std::fs::remove_dir_all(&self.out);
        prepare(case, &self.set, &self.files);
        let mut path = PathBuf::new();
        let dossier = on_cpus(case.cpus, || {
            path = write_bundle(&self.set, &self.files, &self.out)
        });
        bundle_ref::clear(&self.ref_out);
        prepare(case, &self.set, &self.files);
        let parts = if case.cpus == 1 {
            &self.one
        } else {
            &self.split
        };
        let tools = on_cpus(case.cpus, || {
            bundle_ref::run_parts(&self.set, parts, &self.ref_out)
        });
        Sample {
            dossier,
            tools,
            bundle_bytes: std::fs::metadata(&path).expect("bundle").len(),
            archives: bundle_ref::archives(&self.ref_out),
        }
    }

    /// `dossier verify` and `unzip -t` of the last bundle, on one CPU.
    fn verify(&self) -> (f64, f64) {
        let path = crate::fleet::only_bundle(&self.out).expect("one bundle in the output folder");
        let limits = dossier_bundle::reader::Limits::default();
        let v = on_cpus(1, || {
            assert!(
                dossier_bundle::reader::verify(&path, &limits)
                    .problems
                    .iter()
                    .all(|p| p.subject == "custody ledger")
            )
        });
        let u = on_cpus(1, || run_quiet(Command::new("unzip").arg("-tq").arg(&path)));
        (v, u)
    }
}

/// Prints the level dossier chose for the files, which the tools are given too.
fn print_levels(refs: &[RefFile]) {
    let levels: Vec<String> = bundle_ref::by_level(refs)
        .iter()
        .map(|(l, n, b)| {
            let how = if *l == 0 {
                "stored".to_string()
            } else {
                format!("deflate -{l}")
            };
            format!("{how} {n} files {:.1} MB", *b as f64 / 1e6)
        })
        .collect();
    println!(
        "levels dossier chose (by content and size), and zip is given: {}",
        levels.join(", ")
    );
}

/// The medians of every case, sizes, and verify against unzip.
fn print_summary(mb: f64, cases: &[Case], samples: &[Vec<Sample>], verify: &[(f64, f64)]) {
    let runs = verify.len();
    let cpus = cases.iter().map(|c| c.cpus).max().unwrap_or(1);
    println!(
        "median of {runs} runs on {mb:.1} MB, {cpus} CPUs, page cache warm (files read just before) or cold (sync, drop_caches before each command):"
    );
    println!(
        "  dossier: one bundle; each file read once, SHA-256, compressed, bundle SHA-256 and fsync"
    );
    println!(
        "  tools:   sha256sum of the files, zip at dossier's level for each file, sync and sha256sum of each archive;"
    );
    println!(
        "           on N CPUs the files are split N ways and the N chains run at once; the tools read each file twice"
    );
    println!(
        "  {:<13} {:>18} {:>18} {:>15}",
        "case", "dossier", "tools", "tools/dossier"
    );
    for (case, s) in cases.iter().zip(samples) {
        let dm = median(s.iter().map(|x| x.dossier).collect());
        let rm = median(s.iter().map(|x| x.tools).collect());
        println!(
            "  {:<13} {:>7.2} s {:>5.0} MB/s {:>7.2} s {:>5.0} MB/s {:>14.2}x",
            case.label(),
            dm,
            mb / dm,
            rm,
            mb / rm,
            rm / dm
        );
    }
    if let Some(s) = samples.first().and_then(|s| s.last()) {
        println!(
            "  sizes: bundle {:.1} MB; the tools' archives {:.1} MB ({} archives on 1 CPU; same levels, different deflate code: dossier zlib-rs, zip Info-ZIP's)",
            s.bundle_bytes as f64 / 1e6,
            s.archives.1 as f64 / 1e6,
            s.archives.0
        );
    }
    let v = median(verify.iter().map(|x| x.0).collect());
    let u = median(verify.iter().map(|x| x.1).collect());
    println!(
        "  verify on 1 CPU, warm: dossier verify (CRC-32 and SHA-256 of every member) {v:.2} s = {:.0} MB/s; unzip -t (CRC-32 only) {u:.2} s = {:.0} MB/s; unzip/dossier {:.2}x",
        mb / v,
        mb / u,
        u / v
    );
    if !cases.iter().any(|c| c.cold) {
        println!("  cold cache: NOT MEASURED (see above)");
    }
}

/// `dossier-bench bundle`: see the crate documentation.
pub fn bundle(args: &[String]) {
    let mib: u64 = arg(args, "--mib").map_or(1024, |s| s.parse().expect("--mib"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let tmp = crate::work_dir(args);
    let set = tmp.path().join("set");
    std::fs::create_dir_all(&set).expect("mkdir");
    let t = Instant::now();
    let (files, total) = make_set(&set, mib);
    let mb = total as f64 / 1e6;
    println!(
        "file set: {} files, {:.1} MB (built in {:.1} s)",
        files.len(),
        mb,
        t.elapsed().as_secs_f64()
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("machine: {cpus} CPUs, load average {}", load.join(" "));
    // A first bundle, not measured: the level dossier chose for each file.
    let out = tmp.path().join("out");
    let first = write_bundle(&set, &files, &out);
    let refs = bundle_ref::levels(&set, &first, &files);
    print_levels(&refs);
    let cold = match drop_caches() {
        Ok(()) => true,
        Err(e) => {
            println!("cold cache: NOT MEASURED ({e}; run as root on a machine that allows it)");
            false
        }
    };
    let mut cases = vec![];
    for c in [false, true].into_iter().filter(|&c| !c || cold) {
        cases.push(Case { cold: c, cpus: 1 });
        if cpus > 1 {
            cases.push(Case { cold: c, cpus });
        }
    }
    let bench = Bench {
        split: bundle_ref::split(&refs, cpus),
        one: vec![refs],
        set,
        files,
        out,
        ref_out: tmp.path().join("ref"),
    };
    let mut samples: Vec<Vec<Sample>> = cases.iter().map(|_| vec![]).collect();
    let mut verify = vec![];
    for run in 0..runs {
        for (i, &case) in cases.iter().enumerate() {
            let s = bench.run(case);
            println!(
                "run {} {:<13} dossier {:.2} s, tools {:.2} s",
                run + 1,
                case.label(),
                s.dossier,
                s.tools
            );
            samples[i].push(s);
        }
        verify.push(bench.verify());
    }
    print_summary(mb, &cases, &samples, &verify);
}
