//! `dossier-bench crypto`: the cost of signing and encrypting a bundle-sized file, dossier's
//! library functions beside the stock tools on the same file in the same run: dossier's
//! `SigningKey::sign_bundle` (what `--sign` runs) against `minisign -S` (Ed25519 both,
//! prehashed with BLAKE2b), and dossier's
//! `crypt::encrypt` (what `--encrypt-to` streams the zip through) to a file against
//! `age -r`. Repetitions are interleaved (one of each in turn), medians and ratios printed.

use crate::{arg, median};
use dossier_bundle::crypt::{Recipients, encrypt};
use dossier_bundle::signature::{SigningKey, signature_path};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// `--size` as bytes: a number with an optional `K`, `M` or `G` suffix (binary units).
fn parse_size(s: &str) -> u64 {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
        _ => (s, 'B'),
    };
    let n: u64 = num
        .parse()
        .expect("--size: a number, optionally with K, M or G");
    n << match unit {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => 0,
    }
}

/// Writes `size` bytes of xorshift output (incompressible) to `path`.
fn make_file(path: &Path, size: u64) {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for c in buf.chunks_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            c.copy_from_slice(&seed.to_le_bytes()[..c.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        w.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
    w.flush().expect("flush");
}

fn run_ok(cmd: &mut Command) {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn seconds(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// The keys: a minisign key pair without password for `minisign -S` (`-G -W`: an encrypted
/// key would put its scrypt unlocking into every timed run), dossier's own Ed25519 key pair
/// (`dossier keygen`'s format, unlocked once before timing: the same algorithm, so the same
/// cost per signature), and an age key pair.
fn keys(dir: &Path) -> (PathBuf, SigningKey, String) {
    let (sk, pk) = (dir.join("bench.key"), dir.join("bench.pub"));
    run_ok(
        Command::new("minisign")
            .args(["-G", "-W", "-f", "-p"])
            .arg(&pk)
            .arg("-s")
            .arg(&sk),
    );
    let ours = dir.join("dossier-key");
    std::fs::create_dir(&ours).expect("mkdir");
    let k = dossier_bundle::signature::keygen(&ours, "bench").expect("dossier keygen");
    let signer = SigningKey::load(&k.secret, "bench").expect("unlock");
    let id = dir.join("age.key");
    run_ok(Command::new("age-keygen").arg("-o").arg(&id));
    let o = Command::new("age-keygen")
        .arg("-y")
        .arg(&id)
        .output()
        .expect("age-keygen -y");
    assert!(o.status.success());
    (
        sk,
        signer,
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
    )
}

/// `dossier-bench crypto [--size 1G] [--runs 3] [--dir DIR]`.
pub fn crypto(args: &[String]) {
    let size = arg(args, "--size").map_or(1 << 30, |s| parse_size(&s));
    let runs: usize = arg(args, "--runs").map_or(3, |s| s.parse().expect("--runs N"));
    for tool in ["minisign", "age", "age-keygen"] {
        if Command::new(tool).arg("--help").output().is_err() {
            eprintln!("dossier-bench crypto: needs {tool} on PATH (Debian packages minisign, age)");
            std::process::exit(2);
        }
    }
    let tmp = crate::work_dir(args);
    let dir = tmp.path();
    let file = dir.join("bundle.zip");
    eprintln!(
        "making {} MiB of incompressible data in {}",
        size >> 20,
        dir.display()
    );
    make_file(&file, size);
    let (sk, signer, recipient) = keys(dir);
    let recipients = Recipients::parse(std::slice::from_ref(&recipient)).expect("recipient");
    let sha = dossier_tests::sha256_file(&file);
    // Read once so every measurement starts from the page cache.
    std::io::copy(
        &mut std::fs::File::open(&file).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    let (mut ds, mut ms, mut de, mut ae) = (vec![], vec![], vec![], vec![]);
    let (out_age, out_sig) = (dir.join("out.age"), dir.join("out.minisig"));
    for r in 0..runs {
        let _ = std::fs::remove_file(signature_path(&file));
        ds.push(seconds(|| {
            signer.sign_bundle(&file, &sha).expect("dossier signs");
        }));
        let _ = std::fs::remove_file(&out_sig);
        ms.push(seconds(|| {
            run_ok(
                Command::new("minisign")
                    .arg("-S")
                    .arg("-s")
                    .arg(&sk)
                    .arg("-m")
                    .arg(&file)
                    .arg("-x")
                    .arg(&out_sig)
                    .args(["-t", "bench"]),
            );
        }));
        let _ = std::fs::remove_file(&out_age);
        de.push(seconds(|| dossier_encrypt(&file, &out_age, &recipients)));
        let _ = std::fs::remove_file(&out_age);
        ae.push(seconds(|| {
            run_ok(
                Command::new("age")
                    .arg("-r")
                    .arg(&recipient)
                    .arg("-o")
                    .arg(&out_age)
                    .arg(&file),
            );
        }));
        let _ = std::fs::remove_file(&out_age);
        eprintln!(
            "run {}: dossier sign {:.2}s, minisign -S {:.2}s, dossier encrypt {:.2}s, age -r {:.2}s",
            r + 1,
            ds[r],
            ms[r],
            de[r],
            ae[r]
        );
    }
    let mb = size as f64 / 1e6;
    let rate = |v: &[f64]| mb / median(v.to_vec());
    println!(
        "file: {} MiB incompressible, {runs} interleaved runs, medians (MB = 10^6 bytes)",
        size >> 20
    );
    println!("{:<40} {:>10}", "", "MB/s");
    let (a, b, c, d) = (rate(&ds), rate(&ms), rate(&de), rate(&ae));
    println!("{:<40} {a:>10.0}", "dossier sign (SigningKey::sign_bundle)");
    println!("{:<40} {b:>10.0}", "minisign -S");
    println!("{:<40} {c:>10.0}", "dossier encrypt (crypt::encrypt)");
    println!("{:<40} {d:>10.0}", "age -r");
    println!(
        "ratio dossier/stock: signing {:.2}, encryption {:.2}",
        a / b,
        c / d
    );
}

/// What `--encrypt-to` does to the zip's bytes: streamed through the age encryptor into a
/// file (1 MiB reads and writes, as the bundle writer's buffers).
fn dossier_encrypt(input: &Path, output: &Path, recipients: &Recipients) {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(input).expect("open"));
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(output).expect("create"));
    let mut w = encrypt(out, recipients).expect("encrypt");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n]).expect("write");
    }
    w.finish().expect("finish").flush().expect("flush");
}
