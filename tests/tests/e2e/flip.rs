//! The flip test (issue 15): a signed bundle, made by the real `collect --sign`, with its
//! sidecar, signature, custody ledger and signed ledger head; single bits flipped across every
//! region of every file, by an attacker who can write the evidence folder and forge the
//! SHA-256 sidecar (rewritten to match the flipped bundle after each flip) but has no key.
//! Every flip must make `verify --pubkey` fail.
//!
//! Each flip is checked in-process through `dossier_bundle::custody::check`, the function the
//! `verify` command calls for each bundle (with the same default limits, the ledger checked),
//! on one copy of the case per worker thread, so some 13,000 positions take well under a
//! minute in a debug build; two positions per region also go through the real binary. Positions are chosen deterministically: every bit of a region of
//! up to `ALL_BITS` bits, otherwise one bit in each of `SPREAD` equal strata, the bit within a
//! stratum drawn from a fixed-seed PRNG.
//!
//! Comments: the untrusted comment line of a `.minisig` is not signed. dossier does not treat
//! an edit there as harmless: `verify` accepts a signature file only when it is byte for byte
//! what minisign writes for the signature it holds, with the untrusted comment dossier wrote,
//! so those flips are in the counts and must be caught like any other.
//!
//! Ledger lines: the lines after the signed head (appended by `verify`, unsigned) are only
//! hash-chained: a line is covered by the `prev` of the line after it. The last line of the
//! ledger is covered by nothing (no key signs it, no line follows it): its flips are tried
//! and counted, and reported on their own line, outside the 100% claim (see README, Signing).
//! The test ledger has two such lines, so the one before the last is in the claim.

use dossier_bundle::custody::{self, Checks};
use dossier_bundle::reader::Limits;
use dossier_bundle::signature::TrustedKey;
use dossier_tests::*;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Regions of up to this many bits have every bit flipped.
const ALL_BITS: usize = 2048;
/// Positions tried in a larger region (one per stratum).
const SPREAD: usize = 1200;

/// A fixed-seed PRNG (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Which file of the case a region is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum File {
    Bundle,
    Sidecar,
    Signature,
    LedgerHead,
    Ledger,
}

/// Bytes of one file, by kind.
struct Region {
    name: String,
    file: File,
    ranges: Vec<Range<usize>>,
    /// Part of the 100% claim (all but the ledger's last, unsigned, unchained line).
    claimed: bool,
}

impl Region {
    fn new(name: &str, file: File, ranges: Vec<Range<usize>>) -> Region {
        Region {
            name: name.into(),
            file,
            ranges,
            claimed: true,
        }
    }

    /// A region of one range of bytes.
    fn one(name: &str, file: File, range: Range<usize>) -> Region {
        Region::new(name, file, Vec::from([range]))
    }

    fn bits(&self) -> usize {
        self.ranges.iter().map(|r| r.len() * 8).sum()
    }

    /// The bit positions (absolute bit index in the file) to flip.
    fn positions(&self, rng: &mut Rng) -> Vec<usize> {
        let bits = self.bits();
        let nth = |mut i: usize| {
            for r in &self.ranges {
                if i < r.len() * 8 {
                    return r.start * 8 + i;
                }
                i -= r.len() * 8;
            }
            unreachable!()
        };
        if bits <= ALL_BITS {
            return (0..bits).map(nth).collect();
        }
        (0..SPREAD)
            .map(|s| {
                let (lo, hi) = (s * bits / SPREAD, (s + 1) * bits / SPREAD);
                nth(lo + (rng.next() as usize) % (hi - lo))
            })
            .collect()
    }
}

fn u16_at(d: &[u8], at: usize) -> usize {
    u16::from_le_bytes([d[at], d[at + 1]]) as usize
}

fn u32_at(d: &[u8], at: usize) -> usize {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]) as usize
}

/// The regions of a zip file: local headers, member data, data descriptors (whatever lies
/// between a member's data and the next header), central directory, end record. Every byte
/// is in exactly one region (asserted).
fn zip_regions(d: &[u8]) -> Vec<Region> {
    let eocd = (0..=d.len() - 22)
        .rev()
        .find(|&i| d[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("end of central directory record");
    let (cd_size, cd_start) = (u32_at(d, eocd + 12), u32_at(d, eocd + 16));
    assert_eq!(
        cd_start + cd_size,
        eocd,
        "no zip64 records in a small bundle"
    );
    let (mut headers, mut data, mut descriptors) = (Vec::new(), Vec::new(), Vec::new());
    let mut members = Vec::new();
    let mut at = cd_start;
    while at < eocd {
        assert_eq!(d[at..at + 4], [0x50, 0x4b, 0x01, 0x02], "central header");
        let csize = u32_at(d, at + 20);
        let local = u32_at(d, at + 42);
        members.push((local, csize));
        at += 46 + u16_at(d, at + 28) + u16_at(d, at + 30) + u16_at(d, at + 32);
    }
    members.sort_unstable();
    for (i, &(local, csize)) in members.iter().enumerate() {
        assert_eq!(
            d[local..local + 4],
            [0x50, 0x4b, 0x03, 0x04],
            "local header"
        );
        let start = local + 30 + u16_at(d, local + 26) + u16_at(d, local + 28);
        headers.push(local..start);
        data.push(start..start + csize);
        let next = members.get(i + 1).map_or(cd_start, |m| m.0);
        if next > start + csize {
            descriptors.push(start + csize..next);
        }
    }
    assert_eq!(members[0].0, 0, "the first member starts the file");
    let mut regions = vec![
        Region::new("zip local headers", File::Bundle, headers),
        Region::new("zip member data", File::Bundle, data),
        Region::new("zip data descriptors", File::Bundle, descriptors),
        Region::one("zip central directory", File::Bundle, cd_start..eocd),
        Region::one("zip end of central directory", File::Bundle, eocd..d.len()),
    ];
    regions.retain(|r| r.bits() > 0);
    let covered: usize = regions.iter().map(|r| r.bits() / 8).sum();
    assert_eq!(covered, d.len(), "every byte of the bundle in one region");
    regions
}

/// One region per ledger line (its newline included).
fn ledger_regions(ledger: &[u8], signed_lines: usize) -> Vec<Region> {
    let mut regions = Vec::new();
    let mut start = 0;
    let lines = ledger.iter().filter(|&&b| b == b'\n').count();
    for (i, end) in ledger
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .enumerate()
    {
        let line: serde_json::Value = serde_json::from_slice(&ledger[start..end - 1]).unwrap();
        let what = if i < signed_lines {
            "signed"
        } else if i + 1 < lines {
            "unsigned, chained"
        } else {
            "unsigned, last"
        };
        let mut r = Region::one(
            &format!(
                "ledger line {} ({}, {what})",
                i + 1,
                line["action"].as_str().unwrap()
            ),
            File::Ledger,
            start..end,
        );
        r.claimed = i + 1 < lines;
        regions.push(r);
        start = end;
    }
    regions
}

/// The case: its files' paths and original bytes.
struct Case {
    bundle: PathBuf,
    keys: Vec<TrustedKey>,
    originals: Vec<(File, PathBuf, Vec<u8>)>,
}

impl Case {
    fn original(&self, file: File) -> &(File, PathBuf, Vec<u8>) {
        self.originals.iter().find(|o| o.0 == file).unwrap()
    }

    /// What `verify --pubkey` concludes: true when it fails the bundle.
    fn caught(&self) -> bool {
        let checks = Checks {
            keys: &self.keys,
            ledger: true,
            require_signature: true,
            identities: &dossier_bundle::crypt::Identities::none(),
        };
        !custody::check(&self.bundle, &Limits::default(), &checks)
            .verification
            .ok()
    }

    /// Flips bit `bit` of `file` in place and, for the bundle, forges its sidecar to match
    /// (`scratch` holds the bundle's bytes, flipped while hashing).
    fn flip(&self, file: File, bit: usize, scratch: &mut [u8]) {
        let (_, path, data) = self.original(file);
        let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_at(&[data[byte] ^ mask], byte as u64).unwrap();
        if file == File::Bundle {
            use sha2::Digest;
            scratch[byte] ^= mask;
            let sha = dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(&*scratch));
            scratch[byte] ^= mask;
            let name = self.bundle.file_name().unwrap().to_str().unwrap();
            let (_, sidecar, _) = self.original(File::Sidecar);
            std::fs::write(sidecar, format!("{sha}  {name}\n")).unwrap();
        }
    }

    /// Puts `file` (and the sidecar) back as they were.
    fn restore(&self, file: File, bit: usize) {
        let (_, path, data) = self.original(file);
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_at(&data[bit / 8..bit / 8 + 1], (bit / 8) as u64)
            .unwrap();
        if file == File::Bundle {
            let (_, sidecar, original) = self.original(File::Sidecar);
            std::fs::write(sidecar, original).unwrap();
        }
    }
}

/// A signed case (bundle, sidecar, signature, ledger with two unsigned `verified` lines
/// after its signed head) made by the real binary in `dir`.
fn signed_case(dir: &Path) -> Case {
    let (_, pk, bundle) = crate::signing::signed_bundle(dir);
    for _ in 0..2 {
        let o = dossier(
            dir,
            &[
                "verify",
                "--pubkey",
                pk.to_str().unwrap(),
                bundle.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    let out = bundle.parent().unwrap().to_path_buf();
    let files = [
        (File::Bundle, bundle.clone()),
        (
            File::Sidecar,
            PathBuf::from(format!("{}.sha256", bundle.display())),
        ),
        (
            File::Signature,
            PathBuf::from(format!("{}.minisig", bundle.display())),
        ),
        (File::LedgerHead, out.join("custody.jsonl.minisig")),
        (File::Ledger, out.join("custody.jsonl")),
    ];
    Case {
        keys: vec![TrustedKey::load(&pk).unwrap()],
        originals: files
            .into_iter()
            .map(|(f, p)| {
                let data = std::fs::read(&p).unwrap();
                (f, p, data)
            })
            .collect(),
        bundle,
    }
}

/// Every region of the case.
fn regions_of(case: &Case) -> Vec<Region> {
    let mut regions = zip_regions(&case.original(File::Bundle).2);
    for (file, name) in [
        (File::Sidecar, "sidecar (.sha256)"),
        (File::Signature, "bundle signature (.minisig)"),
        (
            File::LedgerHead,
            "ledger head signature (custody.jsonl.minisig)",
        ),
    ] {
        let len = case.original(file).2.len();
        regions.push(Region::one(name, file, 0..len));
    }
    let head = String::from_utf8(case.original(File::LedgerHead).2.clone()).unwrap();
    let signed_lines: usize = head
        .split_whitespace()
        .find_map(|w| w.strip_prefix("lines:"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(signed_lines, 2, "created and signed");
    regions.extend(ledger_regions(&case.original(File::Ledger).2, signed_lines));
    regions
}

/// A copy of the case in `dir` (same file names: the ledger names the bundle).
fn copy_case(case: &Case, dir: &Path) -> Case {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let originals = case
        .originals
        .iter()
        .map(|(f, p, data)| {
            let to = out.join(p.file_name().unwrap());
            std::fs::write(&to, data).unwrap();
            (*f, to, data.clone())
        })
        .collect();
    Case {
        bundle: out.join(case.bundle.file_name().unwrap()),
        keys: case
            .keys
            .iter()
            .map(|k| TrustedKey::load(&k.path).unwrap())
            .collect(),
        originals,
    }
}

/// Flips each of `positions` of region `r` in `case` (one at a time, put back after each):
/// how many `verify --pubkey` caught, and the first few it did not.
fn flip_all(case: &Case, r: &Region, positions: &[usize]) -> (usize, Vec<String>) {
    let mut scratch = case.original(File::Bundle).2.clone();
    let (mut hit, mut missed) = (0, Vec::new());
    for &bit in positions {
        case.flip(r.file, bit, &mut scratch);
        if case.caught() {
            hit += 1;
        } else if missed.len() < 20 {
            missed.push(format!("{}: byte {} bit {}", r.name, bit / 8, bit % 8));
        }
        case.restore(r.file, bit);
    }
    (hit, missed)
}

#[test]
fn every_flipped_bit_of_a_signed_case_is_caught_by_verify_pubkey() {
    let d = tempfile::tempdir().unwrap();
    let case = signed_case(d.path());
    assert!(!case.caught(), "the intact case verifies");
    let regions = regions_of(&case);
    // One copy of the case per worker thread; each flips its share of every region's positions.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let copies: Vec<Case> = (0..workers)
        .map(|w| copy_case(&case, &d.path().join(format!("worker{w}"))))
        .collect();
    let mut rng = Rng(0x0D05_51E5_F11B_7E57);
    let started = std::time::Instant::now();
    let (mut tried, mut caught) = (0usize, 0usize);
    let mut missed: Vec<String> = Vec::new();
    println!("flip test: {} ({workers} threads)", case.bundle.display());
    println!(
        "{:<52} {:>8} {:>8} {:>8}",
        "region", "bits", "tried", "caught"
    );
    for r in &regions {
        let positions = r.positions(&mut rng);
        assert!(!positions.is_empty(), "{}: no position", r.name);
        let shares: Vec<Vec<usize>> = (0..workers)
            .map(|w| positions.iter().copied().skip(w).step_by(workers).collect())
            .collect();
        let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = copies
                .iter()
                .zip(&shares)
                .map(|(c, share)| s.spawn(move || flip_all(c, r, share)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let hit: usize = results.iter().map(|(h, _)| h).sum();
        println!(
            "{:<52} {:>8} {:>8} {:>8}{}",
            r.name,
            r.bits(),
            positions.len(),
            hit,
            if r.claimed {
                ""
            } else {
                "  (not claimed: unsigned, nothing chains it)"
            }
        );
        if r.claimed {
            tried += positions.len();
            caught += hit;
            missed.extend(results.into_iter().flat_map(|(_, m)| m));
        }
    }
    println!(
        "total (claimed regions): {caught} of {tried} flips caught in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(missed.is_empty(), "flips not caught: {missed:#?}");
    assert_eq!(caught, tried);
    assert!(tried >= 10_000, "only {tried} positions");
    for c in &copies {
        assert!(!c.caught(), "each copy is intact again after the test");
    }
    for needed in [
        "zip local headers",
        "zip member data",
        "zip central directory",
        "zip end of central directory",
        "sidecar",
        "bundle signature",
        "ledger head signature",
        "ledger line 1",
        "ledger line 2",
        "ledger line 3",
    ] {
        assert!(
            regions
                .iter()
                .any(|r| r.claimed && r.name.starts_with(needed)),
            "no region {needed}"
        );
    }
}

#[test]
fn flips_in_each_region_fail_the_real_verify_command() {
    let d = tempfile::tempdir().unwrap();
    let case = signed_case(d.path());
    let pk = d.path().join("keys/dossier.pub");
    let mut rng = Rng(0x5EED);
    let mut scratch = case.original(File::Bundle).2.clone();
    let mut runs = 0;
    for r in regions_of(&case).iter().filter(|r| r.claimed) {
        let positions = r.positions(&mut rng);
        for &bit in positions.iter().step_by(positions.len().div_ceil(2)) {
            case.flip(r.file, bit, &mut scratch);
            // The command appends its outcome to the ledger: run it on a copy of the case.
            let copy = tempfile::tempdir_in(d.path()).unwrap();
            let out = copy.path().join("out");
            std::fs::create_dir(&out).unwrap();
            for (_, p, _) in &case.originals {
                std::fs::copy(p, out.join(p.file_name().unwrap())).unwrap();
            }
            case.restore(r.file, bit);
            let b = out.join(case.bundle.file_name().unwrap());
            let o = dossier(
                copy.path(),
                &[
                    "verify",
                    "--pubkey",
                    pk.to_str().unwrap(),
                    b.to_str().unwrap(),
                ],
            );
            assert_eq!(
                o.status.code(),
                Some(1),
                "{}: byte {} bit {}: {}{}",
                r.name,
                bit / 8,
                bit % 8,
                stdout(&o),
                stderr(&o)
            );
            assert!(stdout(&o).starts_with("FAILED"), "{}", stdout(&o));
            runs += 1;
        }
    }
    assert!(runs >= 20, "{runs} runs of the binary");
}
