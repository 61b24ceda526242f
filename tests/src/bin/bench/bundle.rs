//! `dossier-bench bundle`: bundle writing against `sha256sum` and `zip -r` on the same file
//! set, and `dossier verify` against `unzip -t`.

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

/// `dossier-bench bundle`: see the crate documentation.
pub fn bundle(args: &[String]) {
    let mib: u64 = arg(args, "--mib").map_or(1024, |s| s.parse().expect("--mib"));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs"));
    let base = arg(args, "--dir").map(PathBuf::from);
    let tmp = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("tempdir");
    let set = tmp.path().join("set");
    let out = tmp.path().join("out");
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
    // Warm the page cache once for everyone.
    run_quiet(Command::new("cat").args(&files).current_dir(&set));

    let (mut d, mut s, mut z, mut v, mut u) = (vec![], vec![], vec![], vec![], vec![]);
    let mut bundle_size = 0;
    let mut zip_size = 0;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let mut path = PathBuf::new();
        d.push(time(|| path = write_bundle(&set, &files, &out)));
        bundle_size = std::fs::metadata(&path).expect("bundle").len();
        s.push(time(|| {
            run_quiet(Command::new("sha256sum").args(&files).current_dir(&set))
        }));
        let refzip = tmp.path().join("ref.zip");
        let _ = std::fs::remove_file(&refzip);
        z.push(time(|| {
            run_quiet(
                Command::new("zip")
                    .arg("-q")
                    .arg("-r")
                    .arg(&refzip)
                    .arg(".")
                    .current_dir(&set),
            )
        }));
        zip_size = std::fs::metadata(&refzip).expect("ref zip").len();
        let limits = dossier_bundle::reader::Limits::default();
        v.push(time(|| {
            assert!(
                dossier_bundle::reader::verify(&path, &limits)
                    .problems
                    .iter()
                    .all(|p| p.subject == "custody ledger")
            )
        }));
        u.push(time(|| {
            run_quiet(Command::new("unzip").arg("-tq").arg(&path))
        }));
    }
    let (d, s, z, v, u) = (median(d), median(s), median(z), median(v), median(u));
    println!("median of {runs} runs on {mb:.1} MB:");
    println!(
        "  dossier bundle write (hash+compress+hash, fsync): {d:.2} s = {:.0} MB/s, bundle {:.1} MB",
        mb / d,
        bundle_size as f64 / 1e6
    );
    println!(
        "  sha256sum alone:                                  {s:.2} s = {:.0} MB/s",
        mb / s
    );
    println!(
        "  zip -r alone (default level):                     {z:.2} s = {:.0} MB/s, zip {:.1} MB",
        mb / z,
        zip_size as f64 / 1e6
    );
    println!(
        "  sha256sum + zip:                                  {:.2} s = {:.0} MB/s",
        s + z,
        mb / (s + z)
    );
    println!(
        "  ratio dossier / sha256sum: {:.2}x faster; dossier / (sha256sum + zip): {:.2}x faster",
        s / d,
        (s + z) / d
    );
    println!(
        "  dossier verify: {v:.2} s = {:.0} MB/s; unzip -t: {u:.2} s = {:.0} MB/s; ratio {:.2}x",
        mb / v,
        mb / u,
        u / v
    );
}
