//! The precision/recall corpus: the benign hosts of [`crate::benign`] and the benign twin of
//! the item-3 techniques ([`COVERAGE_BENIGN`]), and the malicious ones (the fixture roots
//! `rootfs-miner`, `rootfs-persist`, `rootfs-persist2`, every family case of [`FAMILIES`] and
//! every item-3 case of [`COVERAGE`]) collected with the real binary (`collect --root`, triage
//! playbook), analyzed together, and summed up as a table and the figures the README quotes.
//!
//! A host is *flagged* when its verdict is not `Unclear/Benign`. A malicious host is *found*
//! when it reaches at least the verdict it must reach (Suspicious; Malicious likely for the
//! miner of seed 000) and, for a planted case, every rule it expects is among its hits or
//! context findings with its ATT&CK id. Precision = found / (found + benign flagged); recall =
//! found / malicious hosts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::benign::{BenignCase, benign_cases};
use crate::cases::{
    COVERAGE, COVERAGE_BENIGN, COVERAGE_BENIGN_HOST, FAMILIES, Plant, coverage_host, planted_root,
};

/// Verdicts, weakest first, as the analysis writes them.
pub const VERDICTS: [&str; 3] = ["Unclear/Benign", "Suspicious", "Malicious likely"];

/// Whether a host of the corpus is known good or known compromised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Benign,
    Malicious,
}

/// How a corpus host is made.
#[derive(Clone, Debug)]
enum Source {
    /// A fixture root used as it is.
    Fixture(&'static str),
    /// A benign case built on a copy of the clean root.
    Benign(BenignCase),
    /// A planted case (family, item 3) or the item-3 twin: these plants on the clean root.
    Planted(&'static [Plant]),
}

/// One host of the corpus.
#[derive(Clone, Debug)]
pub struct Host {
    /// Case name (benign case directory, fixture name, or `<family>/<case>`).
    pub case: String,
    pub kind: Kind,
    /// Its host name (what the analysis reports it as).
    pub hostname: String,
    /// The weakest verdict it must reach (benign: it must stay `Unclear/Benign`).
    pub want: &'static str,
    /// (rule, ATT&CK id, subject) a planted case must produce (the subject is checked by
    /// `tests/tests/e2e/families.rs` and `tests/tests/e2e/coverage.rs`, not here).
    pub expect: &'static [(&'static str, &'static str, &'static str)],
    source: Source,
}

/// Every host of the corpus: the benign cases, then the malicious ones.
pub fn hosts() -> Vec<Host> {
    let mut v: Vec<Host> = benign_cases()
        .into_iter()
        .map(|c| Host {
            case: c.name.clone(),
            kind: Kind::Benign,
            hostname: c.hostname.clone(),
            want: VERDICTS[0],
            expect: &[],
            source: Source::Benign(c),
        })
        .collect();
    v.push(Host {
        case: "coverage/benign-twin".into(),
        kind: Kind::Benign,
        hostname: COVERAGE_BENIGN_HOST.into(),
        want: VERDICTS[0],
        expect: &[],
        source: Source::Planted(COVERAGE_BENIGN),
    });
    for (fixture, hostname, want) in [
        ("rootfs-miner", "esxi-web01", VERDICTS[2]),
        ("rootfs-persist", "db02", VERDICTS[1]),
        ("rootfs-persist2", "app03", VERDICTS[1]),
    ] {
        v.push(Host {
            case: fixture.into(),
            kind: Kind::Malicious,
            hostname: hostname.into(),
            want,
            expect: &[],
            source: Source::Fixture(fixture),
        });
    }
    for fam in FAMILIES {
        for case in fam.cases {
            v.push(Host {
                case: format!("{}/{}", fam.name, case.name),
                kind: Kind::Malicious,
                hostname: format!("c-{}-{}", fam.name, case.name),
                want: VERDICTS[1],
                expect: case.expect,
                source: Source::Planted(case.plants),
            });
        }
    }
    for case in COVERAGE {
        v.push(Host {
            case: format!("coverage/{}", case.name),
            kind: Kind::Malicious,
            hostname: coverage_host(case),
            want: VERDICTS[1],
            expect: case.expect,
            source: Source::Planted(case.plants),
        });
    }
    v
}

impl Host {
    /// Builds the host's root under `dir` (fixtures are used in place) and returns it.
    pub fn root(&self, dir: &Path) -> PathBuf {
        match &self.source {
            Source::Fixture(name) => crate::fixture(name),
            Source::Benign(c) => c.build(&dir.join(&self.hostname)),
            Source::Planted(plants) => planted_root(dir, &self.hostname, *plants),
        }
    }

    /// The benign case, for benign hosts.
    pub fn benign(&self) -> Option<&BenignCase> {
        match &self.source {
            Source::Benign(c) => Some(c),
            _ => None,
        }
    }
}

/// What the analysis said about one host.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub host: Host,
    pub verdict: String,
    pub score: u64,
    /// Every rule hit: `rule(weight)`, `rule(weight+boost: context rules)` when context on
    /// the same subject raised it, `rule(counted under other)` when its fact scored under
    /// another rule.
    pub rules: Vec<String>,
    /// Rules of the context findings (shown, not scored on their own), sorted, once each.
    pub context: Vec<String>,
    /// `rule/ATT&CK id` pairs of [`Host::expect`] that are neither a hit nor a context
    /// finding with that id.
    pub missing: Vec<String>,
    /// The bundle it was collected into.
    pub bundle: PathBuf,
}

impl Outcome {
    /// Verdict other than `Unclear/Benign`.
    pub fn flagged(&self) -> bool {
        self.verdict != VERDICTS[0]
    }

    /// Whether the verdict is where it must be: benign hosts not flagged, malicious ones at
    /// least at their verdict.
    pub fn verdict_as_wanted(&self) -> bool {
        let rank = |v: &str| VERDICTS.iter().position(|x| *x == v);
        match self.host.kind {
            Kind::Benign => !self.flagged(),
            Kind::Malicious => rank(&self.verdict) >= rank(self.host.want),
        }
    }

    /// Whether the host is where it must be: its verdict, and every rule it expects there
    /// with its ATT&CK id.
    pub fn as_wanted(&self) -> bool {
        self.verdict_as_wanted() && self.missing.is_empty()
    }
}

/// Without root the benign hosts are built without their `owner` lines (chown):
/// [`crate::skip_or_fail`], once for the run.
fn owners_or_fail(hosts: &[Host]) {
    if nix::unistd::geteuid().is_root() {
        return;
    }
    let unowned: Vec<&str> = hosts
        .iter()
        .filter_map(Host::benign)
        .filter(|c| c.sets_owners())
        .map(|c| c.name.as_str())
        .collect();
    if !unowned.is_empty() {
        crate::skip_or_fail(&format!(
            "benign case(s) {} built without their `owner` lines (chown needs root)",
            unowned.join(", ")
        ));
    }
}

/// Collects every host of `hosts` with `threads` workers (each builds its root under `dir`
/// and runs `dossier collect --quiet --no-analyze --playbook triage --root ROOT`), then
/// analyzes all bundles in one `dossier analyze --playbook triage` run. Returns the outcomes in
/// the order of `hosts` and the parsed `findings.json`.
pub fn run(dir: &Path, hosts: &[Host], threads: usize) -> (Vec<Outcome>, Value) {
    owners_or_fail(hosts);
    std::fs::create_dir_all(dir.join("roots")).expect("roots dir");
    let next = Mutex::new(0usize);
    let bundles: Mutex<BTreeMap<usize, PathBuf>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(h) = hosts.get(i) else { break };
                    let root = h.root(&dir.join("roots"));
                    let out = dir.join("bundles").join(&h.hostname);
                    let bundle = crate::collect(
                        dir,
                        &out,
                        &[
                            "--no-analyze",
                            "--playbook",
                            "triage",
                            "--root",
                            root.to_str().expect("utf-8 path"),
                        ],
                    );
                    bundles.lock().unwrap().insert(i, bundle);
                }
            });
        }
    });
    let bundles = bundles.into_inner().unwrap();
    assert_eq!(bundles.len(), hosts.len(), "every host collected");
    let rep = dir.join("report");
    let mut args = vec![
        "analyze".to_string(),
        "--playbook".into(),
        "triage".into(),
        "--out".into(),
        rep.to_string_lossy().into_owned(),
    ];
    args.extend(bundles.values().map(|b| b.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = crate::dossier(dir, &args);
    assert!(
        o.status.success(),
        "analyze: {}{}",
        crate::stdout(&o),
        crate::stderr(&o)
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(rep.join("findings.json")).expect("findings.json"))
            .expect("findings JSON");
    let outcomes = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let a = json["hosts"]
                .as_array()
                .expect("hosts")
                .iter()
                .find(|x| x["hostname"] == h.hostname.as_str())
                .unwrap_or_else(|| panic!("{} ({}) not analyzed", h.hostname, h.case));
            Outcome {
                host: h.clone(),
                missing: missing(a, h.expect),
                verdict: a["verdict"].as_str().unwrap_or_default().to_string(),
                score: a["score"].as_u64().unwrap_or_default(),
                rules: a["hits"]
                    .as_array()
                    .map(|hits| hits.iter().map(hit_text).collect())
                    .unwrap_or_default(),
                context: {
                    let mut c: Vec<String> = a["context"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(|x| x["rule"].as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    c.sort();
                    c.dedup();
                    c
                },
                bundle: bundles[&i].clone(),
            }
        })
        .collect();
    (outcomes, json)
}

/// The (rule, ATT&CK id) pairs of `expect` that host analysis `a` lacks: neither a hit nor a
/// context finding of that rule carries the id.
fn missing(a: &Value, expect: &[(&str, &str, &str)]) -> Vec<String> {
    let entries = || {
        let list = |k: &str| a[k].as_array().cloned().unwrap_or_default();
        list("hits").into_iter().chain(list("context"))
    };
    expect
        .iter()
        .filter(|(rule, mitre, _)| {
            !entries().any(|x| {
                x["rule"] == *rule
                    && x["mitre"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| m == *mitre))
            })
        })
        .map(|(rule, mitre, _)| format!("{rule}/{mitre}"))
        .collect()
}

/// One rule hit of findings.json as the table shows it.
fn hit_text(x: &Value) -> String {
    let rule = x["rule"].as_str().unwrap_or("?");
    if let Some(other) = x["counted_under"].as_str() {
        return format!("{rule}(counted under {other})");
    }
    let boost = x["boost"].as_u64().unwrap_or(0);
    if boost == 0 {
        return format!("{rule}({})", x["weight"]);
    }
    let by: Vec<&str> = x["boosted_by"]
        .as_array()
        .map(|b| b.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!("{rule}({}+{boost}: {})", x["weight"], by.join(" "))
}

/// The corpus figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    pub benign: usize,
    pub benign_flagged: usize,
    pub malicious: usize,
    /// Malicious hosts at (or above) the verdict they must reach.
    pub malicious_found: usize,
}

impl Figures {
    pub fn of(outcomes: &[Outcome]) -> Figures {
        let count = |k: Kind, f: &dyn Fn(&Outcome) -> bool| {
            outcomes.iter().filter(|o| o.host.kind == k && f(o)).count()
        };
        Figures {
            benign: count(Kind::Benign, &|_| true),
            benign_flagged: count(Kind::Benign, &Outcome::flagged),
            malicious: count(Kind::Malicious, &|_| true),
            malicious_found: count(Kind::Malicious, &Outcome::as_wanted),
        }
    }

    /// found / (found + benign flagged); 1 when nothing is flagged at all.
    pub fn precision(&self) -> f64 {
        let flagged = self.malicious_found + self.benign_flagged;
        if flagged == 0 {
            1.0
        } else {
            self.malicious_found as f64 / flagged as f64
        }
    }

    /// found / malicious hosts; 1 for an empty malicious corpus.
    pub fn recall(&self) -> f64 {
        if self.malicious == 0 {
            1.0
        } else {
            self.malicious_found as f64 / self.malicious as f64
        }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// The Markdown table of the outcomes and the figures below it, as the README shows them.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut s = String::from(
        "| Case | Kind | Host | Must be | Verdict | Score | Rules hit | Context only |\n|---|---|---|---|---|---:|---|---|\n",
    );
    for o in outcomes {
        let kind = match o.host.kind {
            Kind::Benign => "benign",
            Kind::Malicious => "malicious",
        };
        let mut mark = if o.verdict_as_wanted() {
            String::new()
        } else {
            " **(wrong)**".to_string()
        };
        if !o.missing.is_empty() {
            let _ = write!(mark, " **(lacks {})**", o.missing.join(", "));
        }
        let _ = writeln!(
            s,
            "| {} | {kind} | {} | {} | {}{mark} | {} | {} | {} |",
            o.host.case,
            o.host.hostname,
            if o.host.kind == Kind::Benign {
                "not flagged"
            } else {
                o.host.want
            },
            o.verdict,
            o.score,
            list(&o.rules),
            list(&o.context)
        );
    }
    let f = Figures::of(outcomes);
    let _ = write!(
        s,
        "\nBenign hosts flagged: {} of {}. Malicious hosts at their verdict: {} of {}. \
         Precision {:.2}, recall {:.2}.\n",
        f.benign_flagged,
        f.benign,
        f.malicious_found,
        f.malicious,
        f.precision(),
        f.recall()
    );
    s.push_str(NOTES);
    s
}

/// What the table does not hold, printed under it.
pub const NOTES: &str = "\nNot in this table (they need live processes, not a root image): \
    the live reverse shell of `tests/tests/e2e/coverage.rs` (an interactive bash whose \
    stdin/stdout are a loopback TCP socket, collected from this machine: \
    `reverse-shell-stdio`, T1059.004) and the SSH-lab scenarios (`tests/tests/lab/smoke.rs` \
    miner, `tests/tests/lab/persist.rs` persist, `tests/tests/lab/benign.rs` benign), which \
    assert their own verdicts.\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(kind: Kind, want: &'static str, verdict: &str) -> Outcome {
        Outcome {
            host: Host {
                case: "x".into(),
                kind,
                hostname: "x".into(),
                want,
                expect: &[],
                source: Source::Fixture("rootfs-clean"),
            },
            verdict: verdict.into(),
            score: 0,
            rules: vec![],
            context: vec![],
            missing: vec![],
            bundle: PathBuf::new(),
        }
    }

    #[test]
    fn figures_count_flagged_benign_and_found_malicious() {
        let o = [
            outcome(Kind::Benign, VERDICTS[0], "Unclear/Benign"),
            outcome(Kind::Benign, VERDICTS[0], "Suspicious"),
            outcome(Kind::Malicious, VERDICTS[1], "Malicious likely"),
            outcome(Kind::Malicious, VERDICTS[2], "Suspicious"),
            outcome(Kind::Malicious, VERDICTS[1], "Unclear/Benign"),
        ];
        let f = Figures::of(&o);
        assert_eq!(
            f,
            Figures {
                benign: 2,
                benign_flagged: 1,
                malicious: 3,
                malicious_found: 1
            }
        );
        assert_eq!(f.precision(), 0.5);
        assert!((f.recall() - 1.0 / 3.0).abs() < 1e-9);
        let md = markdown(&o);
        assert!(md.contains("Benign hosts flagged: 1 of 2"), "{md}");
        assert_eq!(md.matches("**(wrong)**").count(), 3, "{md}");
    }

    #[test]
    fn expected_rules_need_their_attack_id_in_hits_or_context() {
        let a: Value = serde_json::from_str(
            r#"{"hits":[{"rule":"a","mitre":["T1"]}],
                "context":[{"rule":"c","mitre":["T3"]}]}"#,
        )
        .unwrap();
        assert!(missing(&a, &[("a", "T1", "x"), ("c", "T3", "y")]).is_empty());
        assert_eq!(
            missing(&a, &[("a", "T2", "x"), ("b", "T1", "x")]),
            ["a/T2", "b/T1"]
        );
        let mut o = outcome(Kind::Malicious, VERDICTS[1], "Suspicious");
        o.missing = vec!["a/T2".into()];
        assert!(o.verdict_as_wanted() && !o.as_wanted());
        let md = markdown(&[o]);
        assert!(md.contains("Suspicious **(lacks a/T2)**"), "{md}");
        assert!(md.contains("at their verdict: 0 of 1"), "{md}");
    }

    #[test]
    fn hits_say_boosts_and_counted_under() {
        let j = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        assert_eq!(hit_text(&j(r#"{"rule":"a","weight":10}"#)), "a(10)");
        assert_eq!(
            hit_text(&j(
                r#"{"rule":"a","weight":30,"boost":15,"boosted_by":["exec-unowned"]}"#
            )),
            "a(30+15: exec-unowned)"
        );
        assert_eq!(
            hit_text(&j(r#"{"rule":"b","weight":25,"counted_under":"a"}"#)),
            "b(counted under a)"
        );
    }
}
