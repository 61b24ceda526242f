//! The ABI end to end inside one process: a plugin exported with [`crate::export_plugin!`] is
//! driven through its vtable by the bridge, exactly as dossier drives a loaded library (only
//! `dlopen` is left out), against an in-memory host and sink.

use crate::bridge::{DynAnalyzer, DynCollector, DynReporter, PluginError, PluginLib, Refusal};
use crate::{ABI_VERSION, PluginInfo, StrRef, TARGET};
use dossier_plugin_api::analysis::{Finding, HostAnalysis, Severity};
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetFacts, FleetFinding, HostFindings,
    MemberReader, RuleDescriptor, RuleScope,
};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, Collector, CollectorInfo, IssueKind,
};
use dossier_plugin_api::host::HostErrorKind;
use dossier_plugin_api::reporter::{FleetInput, ReportError, Reporter, ReporterInfo};
use dossier_plugin_api::testing::{MemHost, run_collector};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the test plugin panics (one bit per entry point).
static PANIC: AtomicU32 = AtomicU32::new(0);
const P_COLLECT: u32 = 1;
const P_ANALYZE: u32 = 2;
const P_DROP: u32 = 4;

fn panics(bit: u32) -> bool {
    PANIC.load(Ordering::SeqCst) & bit != 0
}

#[derive(Default)]
struct Probe;

impl Collector for Probe {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "probe".into(),
            version: "1.2.3".into(),
            description: "test".into(),
            after: vec!["facts".into()],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        match config.get("max") {
            Some(v) if !v.is_u64() => Err("max must be a number".into()),
            _ => Ok(()),
        }
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        if panics(P_COLLECT) {
            panic!("probe collect exploded");
        }
        let facts = ctx.prior("facts").len();
        let names: Vec<String> = ctx
            .list_dir(Path::new("/etc"))
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.name.to_string_lossy().into_owned())
            .collect();
        let cap = ctx.capture(Path::new("/etc/passwd"), 1 << 20);
        let copied = ctx.copy(Path::new("/usr/bin/tool"), 4);
        let mut streamed = Vec::new();
        ctx.host()
            .open(Path::new("/etc/passwd"))
            .map_err(|e| CollectError::Other(e.to_string()))?
            .read_to_end(&mut streamed)
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let denied = ctx.host().read(Path::new("/secret"), 10).unwrap_err().kind;
        ctx.capture(Path::new("/secret"), 10);
        ctx.log("probe ran");
        ctx.emit(&serde_json::json!({
            "kind": "probe",
            "facts": facts,
            "etc": names,
            "passwd_member": cap.map(|c| c.member.name),
            "copy_size": copied.map(|c| c.member.size),
            "streamed": String::from_utf8_lossy(&streamed),
            "denied": denied,
            "live": ctx.is_live(),
        }))
    }
}

#[derive(Default)]
struct Judge;

impl Analyzer for Judge {
    fn info(&self) -> AnalyzerInfo {
        AnalyzerInfo {
            name: "judge".into(),
            version: "1.2.3".into(),
            description: "test".into(),
            reads: vec!["probe".into()],
            rules: vec![RuleDescriptor {
                id: "probe-seen".into(),
                title: "Probe seen".into(),
                mitre: vec!["T0000".into()],
                severity: Severity::Low,
                weight: 5,
                needs: vec!["probe".into()],
                scope: RuleScope::Host,
                doc: String::new(),
            }],
        }
    }

    fn analyze(
        &self,
        input: &AnalysisInput,
        members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError> {
        if panics(P_ANALYZE) {
            panic!("judge exploded");
        }
        let raw = members
            .read_member("raw/etc/passwd", 1 << 20)
            .map_err(AnalyzeError)?;
        let denied = members.read_member("raw/etc/shadow", 1 << 20).unwrap_err();
        let findings = input
            .of_kind("probe", "probe")
            .map(|r| Finding {
                rule: "probe-seen".into(),
                title: String::new(),
                mitre: vec![],
                severity: Severity::Info,
                weight: 0,
                explanation: format!(
                    "{} entries; passwd {} bytes; {denied}",
                    r.record["etc"].as_array().map_or(0, Vec::len),
                    raw.len()
                ),
                subject: input.hostname.clone(),
                evidence: vec![input.record_evidence("probe", r.line, "probe record")],
                iocs: vec![],
                ..Finding::new("", "", vec![], vec![])
            })
            .collect();
        Ok(HostFindings {
            findings,
            not_evaluated: vec![],
            fleet_facts: Some(serde_json::json!({"host": input.hostname})),
        })
    }

    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        Ok(vec![FleetFinding {
            rule: "probe-seen".into(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            subject: "fleet".into(),
            explanation: format!("{} hosts", hosts.len()),
            hosts: hosts.iter().map(|h| h.hostname.clone()).collect(),
            evidence: vec![],
        }])
    }
}

#[derive(Default)]
struct Lister {
    prefix: String,
    hosts: Vec<String>,
}

impl Drop for Lister {
    fn drop(&mut self) {
        if panics(P_DROP) {
            panic!("lister drop exploded");
        }
    }
}

impl Reporter for Lister {
    fn info(&self) -> ReporterInfo {
        ReporterInfo {
            name: "lister".into(),
            version: "1.2.3".into(),
            description: "test".into(),
            host_file: Some("list.txt".into()),
            fleet_file: Some("fleet.txt".into()),
        }
    }

    fn configure(&mut self, config: &serde_json::Value) -> Result<(), ReportError> {
        self.prefix = config["prefix"].as_str().unwrap_or("-").to_string();
        Ok(())
    }

    fn host(&mut self, a: &HostAnalysis) -> Result<Option<String>, ReportError> {
        self.hosts.push(a.hostname.clone());
        Ok(Some(format!("{} {}\n", self.prefix, a.hostname)))
    }

    fn finish(&mut self, f: &FleetInput) -> Result<Option<String>, ReportError> {
        Ok(Some(format!(
            "{} {} / {}\n",
            self.prefix,
            self.hosts.join(","),
            f.fleet_findings.len()
        )))
    }
}

crate::export_plugin!(custom_info;
    name: "abi-test",
    version: "1.2.3",
    collector: Probe,
    analyzer: Judge,
    reporter: Lister,
);

/// Serializes the tests that flip [`PANIC`].
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lib() -> Arc<PluginLib> {
    // SAFETY: static metadata of this test binary.
    Arc::new(unsafe { PluginLib::check(&DOSSIER_PLUGIN_INFO, "/test/abi-test.so", "ab") }.unwrap())
}

fn host() -> MemHost {
    MemHost::new(false)
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/group", "root:x:0:\n")
        .file("/usr/bin/tool", "0123456789")
        .file("/secret", "s")
        .deny("/secret")
}

#[test]
fn metadata_is_checked_and_kinds_listed() {
    let l = lib();
    assert_eq!((l.name.as_str(), l.version.as_str()), ("abi-test", "1.2.3"));
    assert_eq!(l.kind_names(), ["collector", "analyzer", "reporter"]);
    assert_eq!(l.target, TARGET);
    assert_eq!(l.origin().sha256, "ab");
}

fn info_with(abi: u32, api: &'static str, target: &'static str) -> PluginInfo {
    PluginInfo {
        abi_version: abi,
        kinds: 1,
        api_version: StrRef::new(api),
        target: StrRef::new(target),
        name: StrRef::new("x"),
        version: StrRef::new("1.0.0"),
        vtable: DOSSIER_PLUGIN_INFO.vtable,
    }
}

#[test]
fn incompatible_plugins_are_refused_naming_both_versions() {
    let check = |i: &PluginInfo| {
        // SAFETY: a valid PluginInfo on the stack, used only during the check.
        unsafe { PluginLib::check(i, "p", "s") }.unwrap_err()
    };
    let e = check(&info_with(
        ABI_VERSION + 1,
        dossier_plugin_api::API_VERSION,
        TARGET,
    ));
    assert_eq!(
        e,
        Refusal::AbiVersion {
            found: ABI_VERSION + 1,
            expected: ABI_VERSION
        }
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("ABI version {}", ABI_VERSION + 1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("ABI version {ABI_VERSION}")),
        "{text}"
    );
    let e = check(&info_with(ABI_VERSION, "99.0.0", TARGET)).to_string();
    assert!(
        e.contains("99.0.0") && e.contains(dossier_plugin_api::API_VERSION),
        "{e}"
    );
    let e = check(&info_with(
        ABI_VERSION,
        dossier_plugin_api::API_VERSION,
        "riscv64gc-unknown-none-elf",
    ));
    assert!(matches!(e, Refusal::Target { .. }), "{e}");
    // SAFETY: a null pointer is checked first.
    assert_eq!(
        unsafe { PluginLib::check(std::ptr::null(), "p", "s") }.unwrap_err(),
        Refusal::Null
    );
    assert!(super::bridge::api_compatible("0.1.9", "0.1.0"));
    assert!(!super::bridge::api_compatible("0.2.0", "0.1.0"));
    assert!(super::bridge::api_compatible("1.4.0", "1.0.2"));
    assert!(!super::bridge::api_compatible("2.0.0", "1.0.2"));
    assert!(!super::bridge::api_compatible("x", "1.0.2"));
}

#[test]
fn collector_works_through_the_callbacks() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    PANIC.store(0, Ordering::SeqCst);
    let c = DynCollector::new(&lib()).unwrap();
    assert_eq!(c.info().name, "probe");
    assert_eq!(c.origin().unwrap().path, "/test/abi-test.so");
    assert!(c.validate_config(&serde_json::json!({"max": 3})).is_ok());
    let e = c
        .validate_config(&serde_json::json!({"max": "x"}))
        .unwrap_err();
    assert_eq!(e, "max must be a number");
    let mut prior = dossier_plugin_api::PriorRecords::new();
    prior.insert(
        "facts".into(),
        vec![serde_json::json!({"kind": "host_facts"})],
    );
    let (sink, r) = run_collector(&c, &host(), serde_json::json!({}), &prior);
    r.unwrap();
    let rec = &sink.records["probe"][0];
    assert_eq!(rec["facts"], 1);
    assert_eq!(rec["etc"], serde_json::json!(["group", "passwd"]));
    assert_eq!(rec["passwd_member"], "raw/etc/passwd");
    assert_eq!(rec["copy_size"], 4);
    assert_eq!(rec["streamed"], "root:x:0:0:root:/root:/bin/bash\n");
    assert_eq!(rec["denied"], "permission_denied");
    assert_eq!(rec["live"], false);
    assert_eq!(
        sink.raw["raw/etc/passwd"].1,
        b"root:x:0:0:root:/root:/bin/bash\n"
    );
    assert_eq!(sink.raw["raw/usr/bin/tool"].1, b"0123");
    assert!(sink.issues.iter().any(|(c, i)| c == "probe"
        && i.kind == IssueKind::Truncated
        && i.subject == "/usr/bin/tool"));
    assert!(
        sink.issues
            .iter()
            .any(|(_, i)| i.kind == IssueKind::Error(HostErrorKind::PermissionDenied))
    );
    assert!(
        sink.logs
            .iter()
            .any(|(c, m)| c == "probe" && m == "probe ran")
    );
}

#[test]
fn panics_in_each_entry_point_become_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = lib();
    PANIC.store(P_COLLECT, Ordering::SeqCst);
    let c = DynCollector::new(&l).unwrap();
    let (_, r) = run_collector(&c, &host(), serde_json::json!({}), &Default::default());
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("panicked") && e.contains("probe collect exploded"),
        "{e}"
    );

    PANIC.store(P_ANALYZE, Ordering::SeqCst);
    let a = DynAnalyzer::new(&l).unwrap();
    let input = AnalysisInput {
        hostname: "h".into(),
        bundle: "b.zip".into(),
        bundle_sha256: String::new(),
        target: "local".into(),
        live: false,
        collectors: Default::default(),
        records: Default::default(),
        members: Default::default(),
    };
    let e = a
        .analyze(
            &input,
            &mut std::collections::BTreeMap::<String, Vec<u8>>::new(),
        )
        .unwrap_err()
        .0;
    assert!(e.contains("judge exploded"), "{e}");

    PANIC.store(P_DROP, Ordering::SeqCst);
    let mut r = DynReporter::new(&l);
    // The throw-away instance of `new` panics in its destructor too.
    assert!(matches!(r, Err(PluginError::Panicked { .. })), "{r:?}");
    PANIC.store(0, Ordering::SeqCst);
    r = DynReporter::new(&l);
    let mut r = r.unwrap();
    r.configure(&serde_json::json!({"prefix": "#"})).unwrap();
    PANIC.store(P_DROP, Ordering::SeqCst);
    let e = r.close().unwrap_err().to_string();
    assert!(
        e.contains("destroy panicked") && e.contains("lister drop exploded"),
        "{e}"
    );
    PANIC.store(0, Ordering::SeqCst);
}

#[test]
fn analyzer_and_reporter_round_trip() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    PANIC.store(0, Ordering::SeqCst);
    let l = lib();
    let a = DynAnalyzer::new(&l).unwrap();
    assert_eq!(a.info().rules[0].id, "probe-seen");
    let mut input = AnalysisInput {
        hostname: "web01".into(),
        bundle: "b.zip".into(),
        bundle_sha256: "0".repeat(64),
        target: "local".into(),
        live: true,
        collectors: Default::default(),
        records: Default::default(),
        members: [
            ("records/probe.jsonl".to_string(), "f".repeat(64)),
            ("raw/etc/passwd".to_string(), "e".repeat(64)),
        ]
        .into_iter()
        .collect(),
    };
    input.records.insert(
        "probe".into(),
        vec![dossier_plugin_api::analyzer::NumberedRecord {
            line: 1,
            record: serde_json::json!({"kind": "probe", "etc": ["a", "b"]}),
        }],
    );
    let mut bundle: std::collections::BTreeMap<String, Vec<u8>> = [
        (
            "raw/etc/passwd".to_string(),
            b"root:x:0:0::/root:/bin/sh\n".to_vec(),
        ),
        ("raw/etc/shadow".to_string(), b"secret".to_vec()),
    ]
    .into_iter()
    .collect();
    let out = a.analyze(&input, &mut bundle).unwrap();
    assert_eq!(
        out.findings[0].explanation,
        "2 entries; passwd 26 bytes; raw/etc/shadow: no such member in this bundle"
    );
    assert_eq!(out.findings[0].evidence[0].sha256, "f".repeat(64));
    let facts = FleetFacts {
        hostname: "web01".into(),
        bundle: "b.zip".into(),
        facts: out.fleet_facts.unwrap(),
    };
    assert_eq!(a.fleet(&[facts]).unwrap()[0].hosts, ["web01"]);

    let mut r = DynReporter::new(&l).unwrap();
    assert_eq!(r.info().fleet_file.as_deref(), Some("fleet.txt"));
    r.configure(&serde_json::json!({"prefix": "#"})).unwrap();
    let sample: HostAnalysis = serde_json::from_value(serde_json::json!({
        "hostname": "web01", "bundle": "b.zip", "bundle_sha256": "0", "target": "local",
        "collected_started": "2026-01-01T00:00:00Z", "collected_finished": "2026-01-01T00:00:01Z",
        "playbook": "triage", "playbook_sha256": "1", "tool": "t", "score": 0,
        "verdict": "Unclear/Benign", "hits": [], "findings": [], "not_evaluated": [],
        "executables": [], "listeners": [], "gaps": []
    }))
    .unwrap();
    assert_eq!(r.host(&sample).unwrap().as_deref(), Some("# web01\n"));
    let doc = r.finish(&FleetInput::default()).unwrap();
    assert_eq!(doc.as_deref(), Some("# web01 / 0\n"));
    r.close().unwrap();
}
