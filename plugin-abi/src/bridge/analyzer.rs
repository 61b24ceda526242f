//! A plugin analyzer behind the [`Analyzer`] trait, with the one callback it gets: reading a
//! member of the bundle being analyzed.

use super::callbacks::{CallbackResult, MAX_PLUGIN_READ, arg};
use super::check::PluginLib;
use super::instance::{Instance, PluginError};
use super::transport::Reply;
use crate::wire::PathArg;
use crate::{KIND_ANALYZER, METHOD_ANALYZE, METHOD_FLEET, METHOD_INFO, OP_READ_MEMBER, WireError};
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetFacts, FleetFinding, HostFindings,
    MemberReader,
};
use dossier_plugin_api::collect::PluginOrigin;
use std::sync::Arc;

/// A plugin analyzer, driven like a built-in one.
#[derive(Debug)]
pub struct DynAnalyzer {
    inst: Instance,
    info: AnalyzerInfo,
}

impl DynAnalyzer {
    /// Makes the plugin's analyzer and asks for its description.
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynAnalyzer, PluginError> {
        let inst = lib.create(KIND_ANALYZER, &serde_json::json!({}))?;
        let info: AnalyzerInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        Ok(DynAnalyzer { inst, info })
    }

    /// Provenance recorded in reports.
    pub fn origin(&self) -> PluginOrigin {
        self.inst.lib().origin()
    }

    /// The library it comes from.
    pub fn origin_lib(&self) -> &PluginLib {
        self.inst.lib()
    }
}

impl Analyzer for DynAnalyzer {
    fn info(&self) -> AnalyzerInfo {
        self.info.clone()
    }

    fn analyze(
        &self,
        input: &AnalysisInput,
        members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError> {
        let mut state = MemberState {
            reader: members,
            allowed: input,
        };
        let mut serve = |op: u32, arg: &[u8], _data: &[u8]| Reply::guarded(|| state.serve(op, arg));
        self.inst
            .call_json(METHOD_ANALYZE, input, Some(&mut serve))
            .map_err(|e| AnalyzeError(e.to_string()))
    }

    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        self.inst
            .call_json(METHOD_FLEET, &hosts, None)
            .map_err(|e| AnalyzeError(e.to_string()))
    }
}

/// What the member callback of one `analyze` call works on.
struct MemberState<'s> {
    reader: &'s mut dyn MemberReader,
    /// The input given to the analyzer: it may read the members listed there.
    allowed: &'s AnalysisInput,
}

impl MemberState<'_> {
    /// The one operation of `analyze`: [`OP_READ_MEMBER`] of a member listed in its input.
    fn serve(&mut self, op: u32, input: &[u8]) -> CallbackResult {
        if op != OP_READ_MEMBER {
            return Err(WireError::new(
                "bad_input",
                format!("operation {op} is not available to analyzers"),
            ));
        }
        let a: PathArg = arg(input)?;
        if !self.allowed.members.contains_key(&a.path) {
            return Err(WireError::new(
                "other",
                format!("{}: no such member in this bundle", a.path),
            ));
        }
        let cap = a.limit.unwrap_or(MAX_PLUGIN_READ).min(MAX_PLUGIN_READ);
        self.reader
            .read_member(&a.path, cap)
            .map(|d| (b"null".to_vec(), d))
            .map_err(|e| WireError::new("other", e))
    }
}
