//! A test plugin for dossier's end-to-end suites: a collector, an analyzer and a reporter
//! (`probe`) whose behaviour the environment variable `DOSSIER_PLUGIN_TEST` controls, so one
//! library (one small build) serves every refusal and panic test:
//!
//! - `wrong-abi`, `wrong-api`, `wrong-target`: `dossier_plugin_info` reports another ABI
//!   version, plugin API major version or target triple;
//! - `panic-create`, `panic-info`, `panic-validate`, `panic-collect`, `panic-analyze`,
//!   `panic-fleet`, `panic-report-host`, `panic-report-finish`, `panic-destroy`: the plugin
//!   panics in that entry point;
//! - `abort-P`, `segv-P` (a write through a null pointer), `overflow-P` (endless recursion),
//!   `loop-P` (never returns), `oom-P` (allocates until refused) and `exit-P` (exits with
//!   status 7), where P is `collect`, `analyze` or `report-host`: the plugin kills or hangs its process
//!   there, which dossier's plugin host must survive; `abort-load` aborts in the library's
//!   constructor, while it is being loaded; `forge-hash` makes the constructor send dossier a
//!   forged `loaded` message with another SHA-256;
//! - unset: it behaves. The collector records `/etc/hostname`; the analyzer flags every probe
//!   record (rule `probe-seen`, weight 1) and returns a fleet finding over the hosts; the
//!   reporter writes `probe.txt` per host and `probe-fleet.txt`.
//!
//! With `DOSSIER_PLUGIN_TEST_CTOR` set to a file path, the library's constructor (run by
//! `dlopen`, before any dossier code can check anything) appends a JSON line there: its
//! process id and parent process id, its open descriptors and its environment's names, so a
//! test can tell which process loaded it and what that process inherited.

use dossier_plugin_abi::{ABI_VERSION, PluginInfo, StrRef};
use dossier_plugin_api::analysis::{Finding, HostAnalysis, Severity};
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetFacts, FleetFinding, HostFindings,
    MemberReader, RuleDescriptor, RuleScope,
};
use dossier_plugin_api::collect::{CollectContext, CollectError, Collector, CollectorInfo};
use dossier_plugin_api::reporter::{FleetInput, ReportError, Reporter, ReporterInfo};
use std::path::Path;

fn mode() -> String {
    std::env::var("DOSSIER_PLUGIN_TEST").unwrap_or_default()
}

fn maybe_panic(point: &str) {
    if mode() == format!("panic-{point}") {
        panic!("test plugin panics in {point} as asked");
    }
}

/// Recurses until the stack is exhausted.
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    recurse(n + 1) + frame[7]
}

/// Kills or hangs this process at `point` when the mode says so.
fn misbehave(point: &str) {
    let m = mode();
    let Some(how) = m.strip_suffix(point).and_then(|m| m.strip_suffix('-')) else {
        return;
    };
    match how {
        "abort" => std::process::abort(),
        "exit" => std::process::exit(7),
        // SAFETY: none: this writes to the unmapped first page on purpose (SIGSEGV). The
        // address is not null, so no debug precondition check turns it into a panic first.
        "segv" => unsafe { std::ptr::write_volatile(std::hint::black_box(8usize) as *mut u8, 1) },
        "overflow" => {
            std::hint::black_box(recurse(0));
        }
        "loop" => loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
        },
        "oom" => {
            let mut held = Vec::new();
            loop {
                held.push(std::hint::black_box(vec![1u8; 64 << 20]));
            }
        }
        _ => {}
    }
}

/// Appends a line to the file `DOSSIER_PLUGIN_TEST_CTOR` names: this process's id, its
/// parent's, where each of its open descriptors leads, and the names of its environment.
extern "C" fn constructor() {
    use std::io::Write;
    if mode() == "abort-load" {
        std::process::abort();
    }
    if mode() == "forge-hash" {
        forge_loaded();
    }
    let Some(f) = std::env::var_os("DOSSIER_PLUGIN_TEST_CTOR") else {
        return;
    };
    let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    let line = serde_json::json!({
        "pid": std::process::id(),
        "ppid": std::os::unix::process::parent_id(),
        "fds": fds,
        "env": env,
    });
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(f)
    {
        let _ = writeln!(out, "{line}");
    }
}

/// Writes, from the constructor, a plugin host `loaded` frame claiming another SHA-256 to the
/// plugin host's frame output (descriptor 4), as a hostile library could.
fn forge_loaded() {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let head = serde_json::json!({"t": "loaded", "meta": {
        "name": "probe", "version": env!("CARGO_PKG_VERSION"),
        "api_version": dossier_plugin_api::API_VERSION, "target": dossier_plugin_abi::TARGET,
        "kinds": 7, "path": "forged", "sha256": "0".repeat(64)}})
    .to_string();
    let mut frame = (head.len() as u32).to_le_bytes().to_vec();
    frame.extend(head.as_bytes());
    frame.extend([0u8; 16]);
    // SAFETY: none needed beyond the test's intent: descriptor 4 is the plugin host's frame
    // output; it is wrapped without being closed (ManuallyDrop).
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(4) });
    let _ = out.write_all(&frame);
}

/// Run by the dynamic loader when the library is loaded.
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

/// The test collector.
pub struct Probe;

impl Default for Probe {
    fn default() -> Self {
        maybe_panic("create");
        Probe
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        maybe_panic("destroy");
    }
}

impl Collector for Probe {
    fn info(&self) -> CollectorInfo {
        maybe_panic("info");
        CollectorInfo {
            name: "probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "test: records /etc/hostname".into(),
            after: vec!["facts".into()],
        }
    }

    fn validate_config(&self, _config: &serde_json::Value) -> Result<(), String> {
        maybe_panic("validate");
        Ok(())
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        maybe_panic("collect");
        misbehave("collect");
        let c = ctx.capture(Path::new("/etc/hostname"), 4096);
        let hostname = c
            .as_ref()
            .map(|c| String::from_utf8_lossy(&c.data).trim().to_string());
        let member = c.map(|c| c.member.name);
        ctx.emit(&serde_json::json!({"kind": "probe", "hostname": hostname, "member": member, "facts_seen": ctx.prior_ran("facts")}))
    }
}

/// The test analyzer.
#[derive(Default)]
pub struct ProbeAnalyzer;

impl Analyzer for ProbeAnalyzer {
    fn info(&self) -> AnalyzerInfo {
        AnalyzerInfo {
            name: "probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "test".into(),
            reads: vec!["probe".into()],
            rules: vec![
                RuleDescriptor {
                    id: "probe-seen".into(),
                    title: "Probe record seen".into(),
                    mitre: vec!["T1082".into()],
                    severity: Severity::Info,
                    weight: 1,
                    needs: vec!["probe".into()],
                    scope: RuleScope::Host,
                    doc: "test rule".into(),
                },
                RuleDescriptor {
                    id: "probe-fleet".into(),
                    title: "Probe fleet".into(),
                    mitre: vec!["T1082".into()],
                    severity: Severity::Low,
                    weight: 0,
                    needs: vec!["probe".into()],
                    scope: RuleScope::Fleet,
                    doc: "test rule".into(),
                },
            ],
        }
    }

    fn analyze(
        &self,
        input: &AnalysisInput,
        members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError> {
        maybe_panic("analyze");
        misbehave("analyze");
        // Reads the raw copy its collector made, through dossier (hash re-checked).
        let mut raw = Vec::new();
        for r in input.of_kind("probe", "probe") {
            if let Some(m) = r.record["member"].as_str() {
                raw = members.read_member(m, 4096).map_err(AnalyzeError)?;
            }
        }
        let findings = input
            .of_kind("probe", "probe")
            .map(|r| Finding {
                rule: "probe-seen".into(),
                title: String::new(),
                mitre: vec![],
                severity: Severity::Info,
                weight: 0,
                explanation: format!(
                    "probe saw hostname {} ({} raw bytes)",
                    r.record["hostname"],
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
            fleet_facts: Some(serde_json::json!(input.hostname)),
        })
    }

    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        maybe_panic("fleet");
        Ok(vec![FleetFinding {
            rule: "probe-fleet".into(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            subject: "probe".into(),
            explanation: format!("{} host(s) probed", hosts.len()),
            hosts: hosts.iter().map(|h| h.hostname.clone()).collect(),
            evidence: vec![],
        }])
    }
}

/// The test reporter.
#[derive(Default)]
pub struct ProbeReporter {
    hosts: Vec<String>,
    title: String,
}

impl Drop for ProbeReporter {
    fn drop(&mut self) {
        maybe_panic("destroy");
    }
}

impl Reporter for ProbeReporter {
    fn info(&self) -> ReporterInfo {
        ReporterInfo {
            name: "probe-report".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "test: lists hosts".into(),
            host_file: Some("probe.txt".into()),
            fleet_file: Some("probe-fleet.txt".into()),
        }
    }

    fn configure(&mut self, config: &serde_json::Value) -> Result<(), ReportError> {
        self.title = config["title"].as_str().unwrap_or("probe").to_string();
        Ok(())
    }

    fn host(&mut self, a: &HostAnalysis) -> Result<Option<String>, ReportError> {
        maybe_panic("report-host");
        misbehave("report-host");
        self.hosts.push(a.hostname.clone());
        Ok(Some(format!(
            "{}: {} score {}\n",
            self.title, a.hostname, a.score
        )))
    }

    fn finish(&mut self, f: &FleetInput) -> Result<Option<String>, ReportError> {
        maybe_panic("report-finish");
        Ok(Some(format!(
            "{}: {} host(s): {}; {} fleet finding(s)\n",
            self.title,
            self.hosts.len(),
            self.hosts.join(","),
            f.fleet_findings.len()
        )))
    }
}

dossier_plugin_abi::export_plugin!(custom_info;
    name: "probe",
    version: env!("CARGO_PKG_VERSION"),
    collector: Probe,
    analyzer: ProbeAnalyzer,
    reporter: ProbeReporter,
);

/// Metadata with one field changed, for the refusal tests.
static WRONG_ABI: PluginInfo = PluginInfo {
    abi_version: ABI_VERSION + 41,
    ..copy_info()
};
static WRONG_API: PluginInfo = PluginInfo {
    api_version: StrRef::new("99.0.0"),
    ..copy_info()
};
static WRONG_TARGET: PluginInfo = PluginInfo {
    target: StrRef::new("sparc64-sun-solaris"),
    ..copy_info()
};

const fn copy_info() -> PluginInfo {
    PluginInfo {
        abi_version: ABI_VERSION,
        kinds: DOSSIER_PLUGIN_INFO.kinds,
        api_version: DOSSIER_PLUGIN_INFO.api_version,
        target: DOSSIER_PLUGIN_INFO.target,
        name: DOSSIER_PLUGIN_INFO.name,
        version: DOSSIER_PLUGIN_INFO.version,
        vtable: &DOSSIER_PLUGIN_VTABLE,
    }
}

/// The plugin's entry point, with the metadata the environment asks for.
#[unsafe(no_mangle)]
pub extern "C" fn dossier_plugin_info() -> *const PluginInfo {
    match mode().as_str() {
        "wrong-abi" => &WRONG_ABI,
        "wrong-api" => &WRONG_API,
        "wrong-target" => &WRONG_TARGET,
        _ => &DOSSIER_PLUGIN_INFO,
    }
}
