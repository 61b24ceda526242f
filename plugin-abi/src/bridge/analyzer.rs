//! A plugin analyzer behind the [`Analyzer`] trait, with the one callback it gets: reading a
//! member of the bundle being analyzed.

use super::callbacks::{MAX_PLUGIN_READ, arg, callback_reply, host_free_buf};
use super::check::PluginLib;
use super::instance::{Instance, PluginError};
use crate::wire::PathArg;
use crate::{
    Buf, HostCallbacks, KIND_ANALYZER, METHOD_ANALYZE, METHOD_FLEET, METHOD_INFO, OP_READ_MEMBER,
    WireError,
};
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetFacts, FleetFinding, HostFindings,
    MemberReader,
};
use dossier_plugin_api::collect::PluginOrigin;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

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
        let state = Mutex::new(MemberState {
            reader: members,
            allowed: input,
        });
        let cb = HostCallbacks {
            struct_size: std::mem::size_of::<HostCallbacks>(),
            ctx: (&state as *const Mutex<MemberState<'_>>)
                .cast_mut()
                .cast::<c_void>(),
            call: member_call,
            free_buf: host_free_buf,
        };
        self.inst
            .call_json(METHOD_ANALYZE, input, Some(&cb))
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

/// The callback entry of `analyze`: [`OP_READ_MEMBER`] only.
unsafe extern "C" fn member_call(
    ctx: *mut c_void,
    op: u32,
    input: *const u8,
    input_len: usize,
    _data: *const u8,
    _data_len: usize,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if ctx.is_null() || (input.is_null() && input_len > 0) {
            return Err(WireError::new("bad_input", "null pointer"));
        }
        if op != OP_READ_MEMBER {
            return Err(WireError::new(
                "bad_input",
                format!("operation {op} is not available to analyzers"),
            ));
        }
        // SAFETY: `ctx` is the `Mutex<MemberState>` of the `analyze` call in progress; the
        // input slice is the plugin's, valid for this callback.
        let (state, input) = unsafe {
            (
                &*ctx.cast::<Mutex<MemberState<'static>>>(),
                if input.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(input, input_len)
                },
            )
        };
        let a: PathArg = arg(input)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.allowed.members.contains_key(&a.path) {
            return Err(WireError::new(
                "other",
                format!("{}: no such member in this bundle", a.path),
            ));
        }
        let cap = a.limit.unwrap_or(MAX_PLUGIN_READ).min(MAX_PLUGIN_READ);
        s.reader
            .read_member(&a.path, cap)
            .map(|d| (b"null".to_vec(), d))
            .map_err(|e| WireError::new("other", e))
    }));
    // SAFETY: the plugin passes valid output slots (or null).
    unsafe { callback_reply(r, out, out_data) }
}
