//! A plugin reporter behind the [`Reporter`] trait: one instance per analysis run.

use super::check::PluginLib;
use super::instance::{Instance, PluginError};
use crate::wire::DocumentOut;
use crate::{KIND_REPORTER, METHOD_INFO, METHOD_REPORT_FINISH, METHOD_REPORT_HOST};
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::collect::PluginOrigin;
use dossier_plugin_api::reporter::{FleetInput, ReportError, Reporter, ReporterInfo};
use std::sync::Arc;

/// A plugin reporter: one instance per analysis run, made when configured (or on first use).
#[derive(Debug)]
pub struct DynReporter {
    lib: Arc<PluginLib>,
    inst: Option<Instance>,
    info: ReporterInfo,
}

impl DynReporter {
    /// Asks the plugin for its reporter's description (with a throw-away instance).
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynReporter, PluginError> {
        let inst = lib.create(KIND_REPORTER, &serde_json::json!({}))?;
        let info: ReporterInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        inst.close()?;
        Ok(DynReporter {
            lib: lib.clone(),
            inst: None,
            info,
        })
    }

    /// Provenance recorded in reports.
    pub fn origin(&self) -> PluginOrigin {
        self.lib.origin()
    }

    /// The library it comes from.
    pub fn origin_lib(&self) -> &PluginLib {
        &self.lib
    }

    fn instance(&mut self) -> Result<&Instance, ReportError> {
        if self.inst.is_none() {
            self.configure(&serde_json::json!({}))?;
        }
        self.inst
            .as_ref()
            .ok_or_else(|| ReportError("reporter not created".into()))
    }

    /// Destroys the instance, reporting a destructor that panicked.
    pub fn close(&mut self) -> Result<(), PluginError> {
        match self.inst.take() {
            Some(i) => i.close(),
            None => Ok(()),
        }
    }
}

impl Reporter for DynReporter {
    fn info(&self) -> ReporterInfo {
        self.info.clone()
    }

    fn configure(&mut self, config: &serde_json::Value) -> Result<(), ReportError> {
        if let Some(old) = self.inst.take() {
            old.close().map_err(|e| ReportError(e.to_string()))?;
        }
        let inst = self
            .lib
            .create(KIND_REPORTER, config)
            .map_err(|e| ReportError(e.to_string()))?;
        self.inst = Some(inst);
        Ok(())
    }

    fn host(&mut self, analysis: &HostAnalysis) -> Result<Option<String>, ReportError> {
        let inst = self.instance()?;
        inst.call_json::<DocumentOut>(METHOD_REPORT_HOST, analysis, None)
            .map(|d| d.document)
            .map_err(|e| ReportError(e.to_string()))
    }

    fn finish(&mut self, fleet: &FleetInput) -> Result<Option<String>, ReportError> {
        let inst = self.instance()?;
        inst.call_json::<DocumentOut>(METHOD_REPORT_FINISH, fleet, None)
            .map(|d| d.document)
            .map_err(|e| ReportError(e.to_string()))
    }
}
