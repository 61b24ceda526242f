//! The three kinds of plugin (collector, analyzer, reporter) behind a [`GuestInstance`]: each
//! method code is dispatched to the safe trait with its input deserialized.

use super::callbacks::Cb;
use super::instance::{CallFailure, GuestInstance, bad_input, failed, json, parse, unknown_method};
use super::remote_host::RemoteHost;
use super::remote_sink::{RemoteMembers, RemoteSink};
use crate::wire::{CollectInput, DocumentOut};
use crate::{
    HostCallbacks, METHOD_ANALYZE, METHOD_COLLECT, METHOD_FLEET, METHOD_INFO, METHOD_REPORT_FINISH,
    METHOD_REPORT_HOST, METHOD_VALIDATE_CONFIG, STATUS_ERROR, WireError,
};
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::analyzer::{AnalysisInput, Analyzer, FleetFacts};
use dossier_plugin_api::collect::{CollectContext, CollectError, Collector};
use dossier_plugin_api::reporter::{FleetInput, Reporter};
use std::collections::HashMap;
use std::sync::Mutex;

/// A collector behind the ABI.
pub struct CollectorGuest<C>(pub C);

impl<C: Collector> GuestInstance for CollectorGuest<C> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        match method {
            METHOD_INFO => json(&self.0.info()),
            METHOD_VALIDATE_CONFIG => {
                let config: serde_json::Value = parse(input)?;
                self.0
                    .validate_config(&config)
                    .map_err(|e| failed("config", e))?;
                Ok(b"null".to_vec())
            }
            METHOD_COLLECT => {
                let input: CollectInput = parse(input)?;
                let cb = host.ok_or_else(|| bad_input("collect needs host callbacks"))?;
                let remote = RemoteHost::connect(cb).map_err(|e| {
                    (
                        STATUS_ERROR,
                        WireError {
                            kind: "host_lost".into(),
                            message: e.to_string(),
                            host: Some(e),
                        },
                    )
                })?;
                let mut sink = RemoteSink { cb: Cb(cb) };
                let mut cache = HashMap::new();
                let name = self.0.info().name;
                let mut ctx = CollectContext::new(
                    &name,
                    &remote,
                    &mut sink,
                    &input.config,
                    &input.prior,
                    &mut cache,
                );
                match self.0.collect(&mut ctx) {
                    Ok(()) => Ok(b"null".to_vec()),
                    Err(CollectError::Config(m)) => Err(failed("config", m)),
                    Err(CollectError::Sink(m)) => Err(failed("sink", m)),
                    Err(CollectError::Other(m)) => Err(failed("other", m)),
                    Err(CollectError::HostLost(e)) => Err((
                        STATUS_ERROR,
                        WireError {
                            kind: "host_lost".into(),
                            message: e.to_string(),
                            host: Some(e),
                        },
                    )),
                }
            }
            m => Err(unknown_method(m)),
        }
    }
}

/// An analyzer behind the ABI.
pub struct AnalyzerGuest<A>(pub A);

impl<A: Analyzer> GuestInstance for AnalyzerGuest<A> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        match method {
            METHOD_INFO => json(&self.0.info()),
            METHOD_ANALYZE => {
                let input: AnalysisInput = parse(input)?;
                let cb = host.ok_or_else(|| bad_input("analyze needs member callbacks"))?;
                let mut members = RemoteMembers { cb: Cb(cb) };
                let out = self
                    .0
                    .analyze(&input, &mut members)
                    .map_err(|e| failed("other", e.0))?;
                json(&out)
            }
            METHOD_FLEET => {
                let hosts: Vec<FleetFacts> = parse(input)?;
                let out = self.0.fleet(&hosts).map_err(|e| failed("other", e.0))?;
                json(&out)
            }
            m => Err(unknown_method(m)),
        }
    }
}

/// A reporter behind the ABI (its methods take `&mut self`: calls are serialized).
pub struct ReporterGuest<R>(pub Mutex<R>);

impl<R: Reporter + Default> ReporterGuest<R> {
    /// A reporter made with `Default` and configured with `config`.
    pub fn configured(config: &serde_json::Value) -> Result<Self, String> {
        let mut r = R::default();
        r.configure(config).map_err(|e| e.0)?;
        Ok(ReporterGuest(Mutex::new(r)))
    }
}

impl<R: Reporter> GuestInstance for ReporterGuest<R> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        _host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            METHOD_INFO => json(&r.info()),
            METHOD_REPORT_HOST => {
                let a: HostAnalysis = parse(input)?;
                let document = r.host(&a).map_err(|e| failed("other", e.0))?;
                json(&DocumentOut { document })
            }
            METHOD_REPORT_FINISH => {
                let f: FleetInput = parse(input)?;
                let document = r.finish(&f).map_err(|e| failed("other", e.0))?;
                json(&DocumentOut { document })
            }
            m => Err(unknown_method(m)),
        }
    }
}
