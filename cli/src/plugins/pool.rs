//! The plugin host children of one library and the [`Transport`] over them.
//!
//! One child is started when the library is loaded (it reports the metadata); calls that run
//! at the same time (a sweep's hosts, the analysis workers) each take an idle child or start
//! another, so a plugin is never a bottleneck nor shared state between calls. A collector or
//! analyzer instance is made lazily in each child that runs it (with the kind and config it was
//! created with); a reporter instance keeps state between its calls, so it lives in one child
//! of its own. A child that dies or is killed is dropped; the next call starts a new one, whose
//! library must hash to the same SHA-256 as at load.

use super::frame::{Frame, Head};
use super::process::HostProcess;
use super::{PluginLoadError, load_error};
use dossier_plugin_abi::KIND_REPORTER;
use dossier_plugin_abi::bridge::{CallFailure, Handler, LibMeta, Transport};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::playbook::{DEFAULT_PLUGIN_MEMORY_MIB, DEFAULT_PLUGIN_TIMEOUT_SECS};

/// The limits every plugin call runs under; the playbook may change them after loading.
#[derive(Debug)]
pub struct Limits {
    timeout_secs: AtomicU64,
    memory_mib: AtomicU64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_secs: AtomicU64::new(DEFAULT_PLUGIN_TIMEOUT_SECS),
            memory_mib: AtomicU64::new(DEFAULT_PLUGIN_MEMORY_MIB),
        }
    }
}

impl Limits {
    /// Sets both limits (children already started keep their memory limit until replaced).
    pub fn set(&self, timeout_secs: u64, memory_mib: u64) {
        self.timeout_secs.store(timeout_secs, Ordering::Relaxed);
        self.memory_mib.store(memory_mib, Ordering::Relaxed);
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.load(Ordering::Relaxed))
    }

    fn memory(&self) -> u64 {
        self.memory_mib.load(Ordering::Relaxed) << 20
    }
}

/// A made instance: enough to make it again in another child, or the child it lives in.
struct Rec {
    kind: u32,
    config: Vec<u8>,
    /// A reporter's own child (`None` once that child died).
    home: Option<Arc<Mutex<Option<HostProcess>>>>,
}

/// The children of one plugin library.
pub struct PluginHost {
    path: PathBuf,
    meta: LibMeta,
    limits: Arc<Limits>,
    idle: Mutex<Vec<HostProcess>>,
    recs: Mutex<HashMap<u64, Rec>>,
    next: AtomicU64,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("path", &self.path)
            .field("name", &self.meta.name)
            .finish()
    }
}

type Outcome = Result<Vec<u8>, CallFailure>;

impl PluginHost {
    /// Starts the first child, which loads the library; returns the host and the library's
    /// metadata (checked here again), or why the library cannot be used.
    pub fn start(
        path: &Path,
        limits: Arc<Limits>,
    ) -> Result<(PluginHost, LibMeta), PluginLoadError> {
        let (p, meta) = HostProcess::start(path, limits.memory(), limits.timeout())?;
        meta.check().map_err(|e| load_error(path, e.to_string()))?;
        let host = PluginHost {
            path: path.to_path_buf(),
            meta: meta.clone(),
            limits,
            idle: Mutex::new(vec![p]),
            recs: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        };
        Ok((host, meta))
    }

    /// An idle child under the current memory limit, or a new one.
    fn acquire(&self) -> Result<HostProcess, CallFailure> {
        let memory = self.limits.memory();
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            while let Some(p) = idle.pop() {
                if p.memory == memory {
                    return Ok(p);
                }
            }
        }
        let (p, meta) = HostProcess::start(&self.path, memory, self.limits.timeout())
            .map_err(|e| CallFailure::Process(e.to_string()))?;
        if meta.sha256 != self.meta.sha256 {
            return Err(CallFailure::Process(format!(
                "the library file changed since it was loaded (SHA-256 {} then, {} now)",
                self.meta.sha256, meta.sha256
            )));
        }
        Ok(p)
    }

    fn release(&self, p: HostProcess) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    }

    /// One request to child `p` (callbacks to `handler`): its outcome, or `Err` when the child
    /// is gone (`p` must then be dropped), with the reason in the failure.
    fn request(
        &self,
        p: &mut HostProcess,
        head: Head,
        a: &[u8],
        handler: Option<Handler<'_>>,
    ) -> Result<Outcome, CallFailure> {
        let req = Frame::new(head, a.to_vec());
        match p.exchange(&req, handler, self.limits.timeout()) {
            Ok(Frame {
                head: Head::Done { status },
                a,
                ..
            }) => Ok(if status == 0 {
                Ok(a)
            } else {
                Err(CallFailure::Status(status, a))
            }),
            Ok(other) => Err(CallFailure::Process(
                p.kill(format!("answered {:?} out of turn", other.head)),
            )),
            Err(gone) => Err(CallFailure::Process(gone)),
        }
    }

    /// Makes instance `id` in child `p` unless it is there.
    fn ensure(
        &self,
        p: &mut HostProcess,
        id: u64,
        rec: (u32, &[u8]),
    ) -> Result<Outcome, CallFailure> {
        if p.instances.contains(&id) {
            return Ok(Ok(Vec::new()));
        }
        let r = self.request(p, Head::Create { id, kind: rec.0 }, rec.1, None)?;
        if r.is_ok() {
            p.instances.insert(id);
        }
        Ok(r)
    }

    /// Runs `f` on a child holding instance `id`; a child that is gone is dropped.
    fn on_child(
        &self,
        id: u64,
        f: impl FnOnce(&mut HostProcess) -> Result<Outcome, CallFailure>,
    ) -> Outcome {
        let (kind, config, home) = {
            let recs = self.recs.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = recs.get(&id) else {
                return Err(CallFailure::Process(format!("no instance {id}")));
            };
            (r.kind, r.config.clone(), r.home.clone())
        };
        if let Some(home) = home {
            let mut slot = home.lock().unwrap_or_else(|e| e.into_inner());
            let Some(p) = slot.as_mut() else {
                return Err(CallFailure::Process(
                    "its plugin host died in an earlier call".into(),
                ));
            };
            let r = f(p);
            if r.is_err() {
                *slot = None;
            }
            return r.unwrap_or_else(Err);
        }
        let mut p = self.acquire()?;
        let r = self
            .ensure(&mut p, id, (kind, &config))
            .and_then(|made| match made {
                Ok(_) => f(&mut p),
                Err(e) => Ok(Err(e)),
            });
        match r {
            Ok(out) => {
                self.release(p);
                out
            }
            // `p` is dropped: already reaped.
            Err(gone) => Err(gone),
        }
    }
}

impl Transport for PluginHost {
    fn create(&self, kind: u32, config: &[u8]) -> Result<u64, CallFailure> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut p = self.acquire()?;
        match self.ensure(&mut p, id, (kind, config)) {
            Ok(Ok(_)) => {
                let home = (kind == KIND_REPORTER).then(|| Arc::new(Mutex::new(None)));
                let rec = Rec {
                    kind,
                    config: config.to_vec(),
                    home: home.clone(),
                };
                match home {
                    Some(h) => *h.lock().unwrap_or_else(|e| e.into_inner()) = Some(p),
                    None => self.release(p),
                }
                self.recs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id, rec);
                Ok(id)
            }
            Ok(Err(e)) => {
                self.release(p);
                Err(e)
            }
            Err(gone) => Err(gone),
        }
    }

    fn call(&self, id: u64, method: u32, input: &[u8], handler: Option<Handler<'_>>) -> Outcome {
        let callbacks = handler.is_some();
        self.on_child(id, |p| {
            let head = Head::Call {
                id,
                method,
                callbacks,
            };
            self.request(p, head, input, handler)
        })
    }

    fn destroy(&self, id: u64) -> Result<(), CallFailure> {
        let Some(rec) = self
            .recs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
        else {
            return Ok(());
        };
        let mut first = Ok(());
        let mut run = |p: &mut HostProcess| -> bool {
            if !p.instances.remove(&id) {
                return true;
            }
            match self.request(p, Head::Destroy { id }, &[], None) {
                Ok(r) => {
                    if let (Err(e), Ok(())) = (r, &first) {
                        first = Err(e);
                    }
                    true
                }
                Err(gone) => {
                    if first.is_ok() {
                        first = Err(gone);
                    }
                    false
                }
            }
        };
        match rec.home {
            Some(home) => {
                let p = home.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(mut p) = p {
                    if run(&mut p) {
                        self.release(p);
                    }
                }
            }
            None => {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.retain_mut(|p| run(p));
            }
        }
        first.map(|_| ())
    }
}
