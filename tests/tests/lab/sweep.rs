//! End-to-end tests of `dossier sweep` against the SSH lab: real `sshd` processes as fake
//! hosts in namespaces, swept by the real binary from inside the lab's network namespace
//! (which has no route out). Each scenario ends as an incident responder expects: clean and
//! compromised hosts collected and judged, a silent host abandoned at its timeout, an unknown
//! or changed host key refused, a non-root login collected with what it may read. Collection
//! changes nothing on the targets, and no secret reaches a bundle or a log.
//!
//! Without root the lab cannot run and these tests print `skipped: <test>: <reason>` (they
//! fail under `CI`, where the lab must run).

use dossier_tests::lab::{LAB_PASSWORD, LAB_USER, Lab, MINER_PORT, Scenario};
use dossier_tests::{dossier_bin, manifest, of_kind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `dossier sweep ARGS` inside the lab namespace with the lab's key, no user
/// configuration and no agent, into `out`.
fn sweep(lab: &Lab, home: &Path, out: &Path, known_hosts: &Path, args: &[&str]) -> Output {
    lab.sweep(home, out, known_hosts, args)
}

fn key_args(lab: &Lab) -> Vec<String> {
    vec!["-i".into(), lab.client_key().display().to_string()]
}

fn summary(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("sweep.json")).expect("sweep.json"))
        .expect("sweep.json is JSON")
}

/// Outcome of each target by address (`host` part of the label).
fn outcomes(s: &Value) -> BTreeMap<String, Value> {
    s["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| (t["target"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn addr(lab: &Lab, i: usize) -> String {
    lab.hosts()[i].addr.to_string()
}

fn index(lab: &Lab, s: Scenario) -> usize {
    lab.hosts().iter().position(|h| h.scenario == s).unwrap()
}

fn verify(bundle: &Path) {
    let o = std::process::Command::new(dossier_bin())
        .arg("verify")
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} does not verify: {}",
        bundle.display(),
        text(&o.stdout)
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    walk(dir, &mut Vec::new())
}

fn walk(dir: &Path, acc: &mut Vec<PathBuf>) -> Vec<PathBuf> {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, acc);
        } else {
            acc.push(p);
        }
    }
    acc.clone()
}

/// Every file of the bundle (each member decompressed) and every other output file.
fn all_output_bytes(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for p in files_under(out) {
        let data = std::fs::read(&p).unwrap();
        if p.extension().is_some_and(|e| e == "zip") {
            let mut z = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut m = z.by_index(i).unwrap();
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut m, &mut b).unwrap();
                v.push((format!("{}:{:?}", p.display(), m.name()), b));
            }
        }
        v.push((p.display().to_string(), data));
    }
    v
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn sweep_of_every_scenario() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&Scenario::ALL) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let kh = tmp.path().join("known_hosts");
    std::fs::copy(lab.known_hosts(), &kh).unwrap();
    let kh_before = std::fs::read(&kh).unwrap();
    let before: Vec<_> = (0..lab.hosts().len()).map(|i| lab.snapshot(i)).collect();

    let mut args: Vec<String> = key_args(&lab);
    for h in lab.hosts() {
        let user = if h.scenario == Scenario::NonRoot {
            LAB_USER
        } else {
            "root"
        };
        args.push(format!("{user}@{}", h.addr));
    }
    args.extend(["-j", "5", "--case", "LAB-1", "--examiner", "ci"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sweep(&lab, tmp.path(), &out, &kh, &argv);
    assert_eq!(o.status.code(), Some(1), "not every host can be collected");

    let s = summary(&out);
    assert_eq!(s["format"], "dossier-sweep");
    let by = outcomes(&s);
    let of = |sc: Scenario| {
        let a = addr(&lab, index(&lab, sc));
        let user = if sc == Scenario::NonRoot {
            LAB_USER
        } else {
            "root"
        };
        by[&format!("{user}@{a}")].clone()
    };
    for sc in [
        Scenario::Clean,
        Scenario::Miner,
        Scenario::NonRoot,
        Scenario::Persist,
    ] {
        let t = of(sc);
        assert_eq!(t["outcome"], "collected", "{sc:?}: {t}");
        let name = lab.hosts()[index(&lab, sc)].name.clone();
        assert_eq!(
            t["hostname"],
            name.as_str(),
            "facts come from the host itself"
        );
        assert!(
            t["host_key"]
                .as_str()
                .unwrap()
                .starts_with("ED25519 SHA256:")
        );
        assert!(t["bytes_read"].as_u64().unwrap() > 1000);
        let bundle = out.join(t["bundle"].as_str().unwrap());
        verify(&bundle);
        let m = manifest(&bundle);
        assert_eq!(m["target"]["kind"], "ssh");
        assert_eq!(m["case_id"], "LAB-1");
        // What each collector asked of the host and cost, and the target's side (its SFTP
        // server, from /proc/self read over SFTP).
        let costs = t["collectors"].as_array().expect("per-collector costs");
        assert_eq!(
            costs.len(),
            m["collectors"].as_array().unwrap().len(),
            "{sc:?}"
        );
        let sum = |k: &str| costs.iter().map(|c| c[k].as_u64().unwrap()).sum::<u64>();
        for k in ["bytes_read", "files_opened", "dir_listings", "round_trips"] {
            assert_eq!(t["totals"][k].as_u64(), Some(sum(k)), "{sc:?}: {k}");
            assert!(sum(k) > 0, "{sc:?}: {k}");
        }
        assert!(sum("bytes_read") > 1000, "{sc:?}");
        let proc_cost = costs
            .iter()
            .find(|c| c["name"] == "proc")
            .expect("proc ran");
        assert!(
            proc_cost["files_opened"].as_u64().unwrap() > 10,
            "{proc_cost}"
        );
        // Round trips are counted, and files are read in batches (the package lists, each
        // process's files): fewer round trips than files.
        let trips = proc_cost["round_trips"].as_u64().unwrap();
        assert!(
            trips > 0 && trips < proc_cost["files_opened"].as_u64().unwrap(),
            "{proc_cost}"
        );
        let side = &t["target_cost"];
        assert!(
            side["sftp_server"].as_str().is_some_and(|s| !s.is_empty()),
            "{side}"
        );
        assert!(side["sftp_server_cpu_ms"].as_u64().is_some(), "{side}");
        assert!(
            m["target"]["label"]
                .as_str()
                .unwrap()
                .ends_with(&format!("@{}:22", addr(&lab, index(&lab, sc))))
        );
        // IPv4 addresses of the host's own network namespace, read over SFTP from
        // /proc/net/fib_trie and /proc/net/route (as `ip -4 addr` shows them).
        let ifs = of_kind(&bundle, "netif", "net_interface");
        let v4 = |name: &str| {
            ifs.iter()
                .find(|i| i["name"] == name)
                .map(|i| i["ipv4"].clone())
                .unwrap_or_else(|| panic!("{sc:?}: no {name}: {ifs:?}"))
        };
        assert_eq!(
            v4("eth0"),
            serde_json::json!([format!("{}/24", addr(&lab, index(&lab, sc)))]),
            "{sc:?}"
        );
        assert_eq!(v4("lo"), serde_json::json!(["127.0.0.1/8"]), "{sc:?}");
    }
    // The silent host accepted TCP and never spoke SSH: abandoned at the connect timeout.
    let t = of(Scenario::Silent);
    assert_eq!(t["outcome"], "timed_out", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("handshake"), "{t}");
    assert!(t["duration_ms"].as_u64().unwrap() < 10_000);
    // The unknown key is refused before authentication, with the fingerprint offered.
    let t = of(Scenario::UnknownKey);
    assert_eq!(t["outcome"], "host_key_refused", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("SHA256:"), "{t}");
    assert!(t.get("bundle").is_none());
    assert_eq!(
        std::fs::read(&kh).unwrap(),
        kh_before,
        "known_hosts untouched"
    );

    // The non-root login: collected, with what analyst could not read recorded.
    let nr = out.join(of(Scenario::NonRoot)["bundle"].as_str().unwrap());
    let m = manifest(&nr);
    assert!(
        m["target"]["label"]
            .as_str()
            .unwrap()
            .starts_with("ssh:analyst@")
    );
    let denied = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["issues"].as_array().cloned().unwrap_or_default())
        .any(|i| i["kind"]["error"] == "permission_denied");
    assert!(denied, "a non-root login cannot read everything: {m}");

    // Analysis of the sweep: the miner is judged malicious, the clean host is not.
    let report = |sc: Scenario| {
        let name = &lab.hosts()[index(&lab, sc)].name;
        std::fs::read_to_string(out.join("analysis").join(name).join("report.md"))
            .unwrap_or_else(|e| panic!("report of {name}: {e}"))
    };
    let miner = report(Scenario::Miner);
    assert!(miner.contains("Malicious likely"), "{miner}");
    for needle in [
        "/var/log/log",
        "python.service",
        "@reboot",
        &MINER_PORT.to_string(),
    ] {
        assert!(miner.contains(needle), "miner report lacks {needle}");
    }
    let clean = report(Scenario::Clean);
    assert!(clean.contains("Unclear/Benign"), "{clean}");
    // The persistence host (checked rule by rule in lab_persist.rs).
    let persist = report(Scenario::Persist);
    assert!(persist.contains("Malicious likely"), "{persist}");
    let fleet = std::fs::read_to_string(out.join("analysis/fleet-report.md")).unwrap();
    assert!(fleet.contains(&lab.hosts()[index(&lab, Scenario::Miner)].name));
    // The hosts that could not be collected are named in the fleet report, with why.
    assert!(
        fleet.contains("2 target(s) could not be collected (host_key_refused: 1, timed_out: 1)"),
        "{fleet}"
    );
    for sc in [Scenario::Silent, Scenario::UnknownKey] {
        let line = format!("- `ssh:root@{}:22`: ", addr(&lab, index(&lab, sc)));
        assert!(fleet.contains(&line), "{line} missing from {fleet}");
    }

    // Read-only: nothing on any target changed.
    for (i, b) in before.iter().enumerate() {
        let after = lab.snapshot(i);
        let changed: Vec<_> = after
            .iter()
            .filter(|(p, v)| b.get(*p) != Some(v))
            .map(|(p, _)| p.clone())
            .chain(b.keys().filter(|p| !after.contains_key(*p)).cloned())
            .collect();
        assert!(
            changed.is_empty(),
            "sweep changed {} on {}: {changed:?}",
            changed.len(),
            lab.hosts()[i].name
        );
    }

    // No secret in any output: not the client's private key, not a password.
    let key = std::fs::read_to_string(lab.client_key()).unwrap();
    let key_body: String = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let probe = &key_body.as_bytes()[..40.min(key_body.len())];
    for (name, data) in all_output_bytes(&out) {
        assert!(!contains(&data, probe), "private key material in {name}");
        assert!(
            !contains(&data, LAB_PASSWORD.as_bytes()),
            "password in {name}"
        );
    }
    let so = text(&o.stdout) + &text(&o.stderr);
    assert!(!so.contains(&key_body[..40.min(key_body.len())]));
}

#[test]
fn unknown_key_accept_new_then_changed_key() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let kh = tmp.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let target = format!("root@{}", addr(&lab, 0));
    let mut args = key_args(&lab);
    args.push(target.clone());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();

    let out1 = tmp.path().join("o1");
    let o = sweep(&lab, tmp.path(), &out1, &kh, &argv);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        outcomes(&summary(&out1))[&target]["outcome"],
        "host_key_refused"
    );
    assert_eq!(std::fs::read(&kh).unwrap(), b"", "strict: nothing recorded");

    // Trust on first use: collected, and the key recorded as OpenSSH writes it.
    let out2 = tmp.path().join("o2");
    let mut a2 = argv.clone();
    a2.push("--accept-new");
    let o = sweep(&lab, tmp.path(), &out2, &kh, &a2);
    assert!(o.status.success());
    let recorded = std::fs::read_to_string(&kh).unwrap();
    let expected = lab.host_key(0).unwrap();
    let key_b64 = expected.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        recorded.starts_with(&format!("{} ssh-ed25519 ", addr(&lab, 0)))
            && recorded.contains(&key_b64),
        "recorded {recorded:?}, host key {expected:?}"
    );
    // The OpenSSH client accepts what was recorded.
    let ssh = lab
        .command("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", kh.display()))
        .arg("-i")
        .arg(lab.client_key())
        .arg(&target)
        .arg("true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(ssh.status.success(), "{}", text(&ssh.stderr));

    // The key changes: refused even with --accept-new, and the file is not touched.
    lab.rotate_host_key(0).unwrap();
    let out3 = tmp.path().join("o3");
    let o = sweep(&lab, tmp.path(), &out3, &kh, &a2);
    assert_eq!(o.status.code(), Some(1));
    let t = &outcomes(&summary(&out3))[&target];
    assert_eq!(t["outcome"], "host_key_refused", "{t}");
    assert!(
        t["reason"].as_str().unwrap().contains("does not match"),
        "{t}"
    );
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded);

    // A key marked @revoked is refused even where another line trusts it.
    let new_key = lab.host_key(0).unwrap();
    let kh2 = tmp.path().join("known_hosts2");
    std::fs::write(
        &kh2,
        format!("{} {new_key}\n@revoked * {new_key}\n", addr(&lab, 0)),
    )
    .unwrap();
    let out4 = tmp.path().join("o4");
    let o = sweep(&lab, tmp.path(), &out4, &kh2, &argv);
    assert_eq!(o.status.code(), Some(1));
    let t = &outcomes(&summary(&out4))[&target];
    assert_eq!(t["outcome"], "host_key_refused", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("@revoked"), "{t}");
}

#[test]
fn resume_collects_only_what_is_missing_and_cidr_finds_hosts() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Clean]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (a0, a1) = (addr(&lab, 0), addr(&lab, 1));
    let mut args = key_args(&lab);
    args.push(a0.clone());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sweep(&lab, tmp.path(), &out, lab.known_hosts(), &argv);
    assert!(o.status.success());
    let first = outcomes(&summary(&out))[&a0]["bundle"]
        .as_str()
        .unwrap()
        .to_string();

    // Resume over a network that holds both hosts: only the second is collected.
    let net = format!("{}/28", {
        let std::net::IpAddr::V4(v4) = lab.hosts()[0].addr else {
            panic!("lab is IPv4")
        };
        let o = v4.octets();
        std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3] & 0xf0)
    });
    let mut args = key_args(&lab);
    args.extend([
        net.clone(),
        "--resume".into(),
        "--probe-timeout".into(),
        "500".into(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sweep(&lab, tmp.path(), &out, lab.known_hosts(), &argv);
    assert!(o.status.success());
    let s = summary(&out);
    assert_eq!(s["networks"][0]["network"], net.as_str());
    assert_eq!(s["networks"][0]["probed"], 14);
    assert_eq!(s["networks"][0]["answered"], 2);
    let by = outcomes(&s);
    assert_eq!(by[&a0]["outcome"], "resumed", "{s}");
    assert_eq!(by[&a0]["bundle"], first.as_str());
    assert_eq!(by[&a1]["outcome"], "collected", "{s}");
    assert_eq!(by[&a1]["via"], net.as_str());
    let zips = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .count();
    assert_eq!(zips, 2, "the resumed host was not collected again");
}

#[test]
fn password_login_from_the_environment() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::NonRoot]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let target = format!("{LAB_USER}@{}", addr(&lab, 0));
    // No key at all (HOME is empty): the password is the only credential.
    let out = tmp.path().join("out");
    let mut c = lab.sweep_command(tmp.path());
    c.args([
        &target,
        "--password-env",
        "LAB_PW",
        "--ssh-config",
        "/dev/null",
    ])
    .arg("--out")
    .arg(&out)
    .arg("--known-hosts")
    .arg(lab.known_hosts())
    .env("LAB_PW", LAB_PASSWORD);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(outcomes(&summary(&out))[&target]["outcome"], "collected");
    for (name, data) in all_output_bytes(&out) {
        assert!(
            !contains(&data, LAB_PASSWORD.as_bytes()),
            "password in {name}"
        );
    }

    // A wrong password: auth_failed, and the sweep says so.
    let out2 = tmp.path().join("out2");
    let o = lab
        .sweep_command(tmp.path())
        .args([
            &target,
            "--password-env",
            "LAB_PW",
            "--ssh-config",
            "/dev/null",
        ])
        .arg("--out")
        .arg(&out2)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .env("LAB_PW", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = &outcomes(&summary(&out2))[&target];
    assert_eq!(t["outcome"], "auth_failed", "{t}");
    // A host whose key is trusted on first use in this run is not sent the password.
    let kh = tmp.path().join("empty_known_hosts");
    std::fs::write(&kh, "").unwrap();
    let out3 = tmp.path().join("out3");
    let o = lab
        .sweep_command(tmp.path())
        .args([
            &target,
            "--password-env",
            "LAB_PW",
            "--ssh-config",
            "/dev/null",
        ])
        .arg("--accept-new")
        .arg("--out")
        .arg(&out3)
        .arg("--known-hosts")
        .arg(&kh)
        .env("LAB_PW", LAB_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = &outcomes(&summary(&out3))[&target];
    assert_eq!(t["outcome"], "auth_failed", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("no password is sent"),
        "{t}"
    );
    // An unset variable is a usage error, before any connection.
    let o = lab
        .sweep_command(tmp.path())
        .args([&target, "--password-env", "NO_SUCH_VAR_SET"])
        .env_remove("NO_SUCH_VAR_SET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("NO_SUCH_VAR_SET"));
}

/// Every descendant of `pid` (through `/proc/PID/task/*/children`).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// Sweeps two hosts; once host 0's first collector is done, sends `signal` to its SSH
/// session (sshd's children). Returns host 0's and host 1's results, the output dir and the log.
fn sweep_with_signal_mid_collection(
    signal: nix::sys::signal::Signal,
    host_timeout: &str,
) -> Option<(Value, Value, tempfile::TempDir, String)> {
    use std::io::BufRead;
    let lab = Lab::start_or_skip(&[Scenario::Clean, Scenario::Clean])?;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (a0, a1) = (addr(&lab, 0), addr(&lab, 1));
    let sshd = lab.hosts()[0].pids[2];
    let mut child = lab
        .sweep_command(tmp.path())
        .args([
            &a0,
            &a1,
            "-j",
            "2",
            "--no-analyze",
            "--host-timeout",
            host_timeout,
        ])
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args(["--ssh-config", "/dev/null"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut hit = Vec::new();
    let mut log = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if hit.is_empty() && line.contains(&format!("@{a0}:22: facts: ")) {
            hit = descendants(sshd);
            for p in &hit {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p as i32), signal);
            }
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    for p in &hit {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p as i32),
            nix::sys::signal::Signal::SIGCONT,
        );
    }
    assert!(!hit.is_empty(), "no session to signal:\n{log}");
    assert_eq!(status.code(), Some(1), "{log}");
    let by = outcomes(&summary(&out));
    Some((by[&a0].clone(), by[&a1].clone(), tmp, log))
}

/// The partial bundle of a host cut mid-collection: complete, verifiable, and saying what
/// was not collected.
fn check_cut_bundle(out: &Path, t: &Value) {
    let bundle = out.join(t["bundle"].as_str().expect("partial bundle kept"));
    verify(&bundle);
    let m = manifest(&bundle);
    let runs = m["collectors"].as_array().unwrap();
    assert_eq!(runs[0]["name"], "facts");
    assert_eq!(runs[0]["status"], "ok");
    assert!(
        runs.iter()
            .any(|r| r["error"].as_str().is_some_and(|e| e.contains("host lost"))),
        "{m}"
    );
    check_cut_analysis(&bundle, runs);
}

/// Analysis of a bundle cut mid-collection: every rule reading a collector that was cut short
/// with records (status `partial`, error "host lost") is listed as evaluated on partial data,
/// naming the lost host.
fn check_cut_analysis(bundle: &Path, runs: &[Value]) {
    let d = tempfile::tempdir().unwrap();
    let o = dossier_tests::dossier(
        d.path(),
        &[
            "analyze",
            "--out",
            d.path().join("rep").to_str().unwrap(),
            bundle.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", dossier_tests::stderr(&o));
    let json: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("rep/findings.json")).unwrap())
            .unwrap();
    let partial = json["hosts"][0]["partial"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Collectors some built-in rule reads (`dossier rules --long`: "needs: a, b + ...").
    let rules = dossier_tests::stdout(&dossier_tests::dossier(d.path(), &["rules", "--long"]));
    let needed: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("needs: "))
        .flat_map(|n| n.split(['+', ',']).map(str::trim))
        .collect();
    let cut: Vec<&str> = runs
        .iter()
        .filter(|r| r["status"] == "partial")
        .filter(|r| r["error"].as_str().is_some_and(|e| e.contains("host lost")))
        .filter_map(|r| r["name"].as_str())
        .collect();
    eprintln!(
        "cut short with records: {cut:?}; rules on partial data: {}",
        partial.len()
    );
    for c in cut.iter().filter(|c| needed.contains(c)) {
        assert!(
            partial.iter().any(|p| {
                p["collectors"].as_array().unwrap().iter().any(|x| x == c)
                    && p["missing"].as_str().unwrap().contains("host lost")
            }),
            "no rule on partial data for {c}: {partial:?}"
        );
    }
}

#[test]
fn host_that_stalls_mid_collection_is_abandoned_at_its_deadline() {
    let _g = dossier_tests::lab::serial();
    // Frozen session: the connection stays open and silent, as with a hung host.
    let Some((t, other, tmp, log)) =
        // The deadline is long enough for the healthy host to finish on a loaded machine
        // (a lab host takes about 3 s alone, over 8 s with a load of 12 on 2 cores).
        sweep_with_signal_mid_collection(nix::sys::signal::Signal::SIGSTOP, "20")
    else {
        return;
    };
    assert_eq!(
        other["outcome"], "collected",
        "the other host is unaffected: {other}\n{log}"
    );
    assert_eq!(t["outcome"], "timed_out", "{t}\n{log}");
    let ms = t["duration_ms"].as_u64().unwrap();
    assert!(
        (19_500..60_000).contains(&ms),
        "abandoned at its deadline: {ms} ms"
    );
    check_cut_bundle(&tmp.path().join("out"), &t);
}

#[test]
fn host_whose_sshd_is_killed_mid_collection_is_reported_and_kept() {
    let _g = dossier_tests::lab::serial();
    let Some((t, other, tmp, log)) =
        sweep_with_signal_mid_collection(nix::sys::signal::Signal::SIGKILL, "60")
    else {
        return;
    };
    assert_eq!(
        other["outcome"], "collected",
        "the other host is unaffected: {other}\n{log}"
    );
    assert_eq!(t["outcome"], "failed", "{t}\n{log}");
    assert!(
        t["reason"].as_str().unwrap().contains("connection lost"),
        "{t}"
    );
    assert!(
        t["duration_ms"].as_u64().unwrap() < 30_000,
        "not held until a timeout"
    );
    check_cut_bundle(&tmp.path().join("out"), &t);
}

fn denied(bundle: &Path) -> Vec<String> {
    manifest(bundle)["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["issues"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["kind"]["error"] == "permission_denied")
        .map(|i| i["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn sudo_reads_as_root_for_a_non_root_login() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::NonRoot]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let target = format!("{LAB_USER}@{}", addr(&lab, 0));
    let run = |out: &Path, sudo: bool| {
        let mut args = key_args(&lab);
        args.extend([target.clone(), "--no-analyze".into()]);
        if sudo {
            args.push("--sudo".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sweep(&lab, tmp.path(), out, lab.known_hosts(), &argv);
        assert!(o.status.success());
        out.join(outcomes(&summary(out))[&target]["bundle"].as_str().unwrap())
    };
    let as_user = run(&tmp.path().join("user"), false);
    let as_root = run(&tmp.path().join("root"), true);
    let before = denied(&as_user);
    assert!(!before.is_empty(), "analyst alone is denied something");
    assert_eq!(denied(&as_root), Vec::<String>::new(), "sudo reads it all");
    verify(&as_root);
    // Root's processes: only through sudo are their executables read and hashed.
    assert!(before.iter().any(|s| s == "/proc/1/exe"), "{before:?}");
}

#[test]
fn host_deadline_covers_the_ssh_handshake() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Silent]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let target = addr(&lab, 0);
    let started = std::time::Instant::now();
    let o = lab
        .sweep_command(tmp.path())
        .args([&target, "--connect-timeout", "20", "--host-timeout", "2"])
        .args(["--ssh-config", "/dev/null", "-q"])
        .arg("--out")
        .arg(&out)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = &outcomes(&summary(&out))[&target];
    assert_eq!(t["outcome"], "timed_out", "{t}");
    assert!(
        t["reason"].as_str().unwrap().contains("host deadline"),
        "{t}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the 2 s host deadline, not the 20 s connect timeout, ended it"
    );
}

#[test]
fn sweep_killed_half_way_then_resumed_collects_exactly_the_missing_hosts() {
    use std::io::BufRead;
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Clean, Scenario::Clean]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let addrs: Vec<String> = (0..3).map(|i| addr(&lab, i)).collect();
    let mut args = addrs.clone();
    args.extend(key_args(&lab));
    args.extend(["-j", "1", "--no-analyze", "--ssh-config", "/dev/null"].map(String::from));
    let mut child = lab
        .sweep_command(tmp.path())
        .args(&args)
        .arg("--out")
        .arg(&out)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // SIGKILL as soon as the first host is done and the second one has started collecting:
    // a bundle is being written when the orchestrator dies.
    let mut done = 0;
    for line in std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if line.contains(": collected: ") {
            done += 1;
        }
        if done == 1 && line.contains(": proc: ") {
            // `ip netns exec` execs dossier: the child is dossier itself.
            let _ = child.kill();
            break;
        }
    }
    let _ = child.wait();
    assert_eq!(done, 1, "killed after exactly one host");

    // Nothing partial looks complete: every visible bundle verifies (with its .sha256 and
    // the custody ledger), and unfinished ones only exist under hidden .partial names.
    let visible: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(visible.len(), 1, "{visible:?}");
    for b in &visible {
        verify(b);
    }
    let first = summary(&out);
    assert_eq!(first["targets"].as_array().unwrap().len(), 1, "{first}");

    // Resume: exactly the two missing hosts are collected.
    let mut r: Vec<String> = vec![
        "--resume".into(),
        "-j".into(),
        "1".into(),
        "--no-analyze".into(),
    ];
    r.extend(addrs.iter().cloned());
    r.extend(key_args(&lab));
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let o = sweep(&lab, tmp.path(), &out, lab.known_hosts(), &r);
    assert!(o.status.success());
    let by = outcomes(&summary(&out));
    let n = |o: &str| by.values().filter(|t| t["outcome"] == o).count();
    assert_eq!((n("resumed"), n("collected")), (1, 2), "{by:?}");
    let zips = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .count();
    assert_eq!(zips, 3);
    // The ledger is still one valid chain (verify checks it for each bundle).
    for t in by.values() {
        verify(&out.join(t["bundle"].as_str().unwrap()));
    }
}

#[test]
fn inventory_and_ssh_config_name_the_hosts() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Miner]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a0, a1) = (addr(&lab, 0), addr(&lab, 1));
    // ~/.ssh/config: an alias with HostName, User and IdentityFile; a host behind a jump
    // host (refused: the transport does not proxy, and must not silently connect directly).
    let config = tmp.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host web\n  HostName {a0}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n\n\
             Host hidden\n  HostName {a1}\n  ProxyJump bastion\n",
            lab.client_key().display()
        ),
    )
    .unwrap();
    // An Ansible inventory: a group with vars, a range, a local entry (not an SSH target).
    let inv = tmp.path().join("hosts.ini");
    std::fs::write(
        &inv,
        format!(
            "# lab inventory\n[db]\nminer ansible_host={a1}\n\n[db:vars]\nansible_user=root\n\n\
             [local]\ncontrol ansible_connection=local\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = lab
        .sweep_command(tmp.path())
        .args(["web", "hidden", "--hosts"])
        .arg(&inv)
        .arg("--ssh-config")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .arg("-i")
        .arg(lab.client_key())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let s = summary(&out);
    let by = outcomes(&s);
    assert_eq!(by["web"]["outcome"], "collected", "{s}");
    assert_eq!(by["web"]["label"], format!("ssh:root@{a0}:22").as_str());
    assert_eq!(by["miner"]["outcome"], "collected", "{s}");
    assert_eq!(by["miner"]["label"], format!("ssh:root@{a1}:22").as_str());
    assert_eq!(by["hidden"]["outcome"], "refused", "{s}");
    assert!(
        by["hidden"]["reason"]
            .as_str()
            .unwrap()
            .contains("ProxyJump")
    );
    let local = by
        .iter()
        .find(|(k, _)| k.starts_with("control"))
        .map(|(_, v)| v.clone())
        .expect("the local inventory entry is listed");
    assert_eq!(local["outcome"], "refused");
    assert!(
        local["reason"]
            .as_str()
            .unwrap()
            .contains("ansible_connection=local")
    );
}
