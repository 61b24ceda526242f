//! A plugin collector behind the [`Collector`] trait: its `collect` serves the plugin's
//! callbacks (see [`super::host_ops`]) for the length of the call.

use super::check::PluginLib;
use super::host_ops::CallbackState;
use super::instance::{Instance, PluginError};
use super::transport::Reply;
use crate::wire::CollectInput;
use crate::{KIND_COLLECTOR, METHOD_COLLECT, METHOD_INFO, METHOD_VALIDATE_CONFIG, WireError};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, Collector, CollectorInfo, PluginOrigin, PriorRecords,
};
use dossier_plugin_api::host::{HostError, HostErrorKind};
use std::sync::Arc;

/// A plugin collector, driven like a built-in one.
#[derive(Debug)]
pub struct DynCollector {
    inst: Instance,
    info: CollectorInfo,
}

impl DynCollector {
    /// Makes the plugin's collector and asks for its description.
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynCollector, PluginError> {
        let inst = lib.create(KIND_COLLECTOR, &serde_json::json!({}))?;
        let info: CollectorInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        Ok(DynCollector { inst, info })
    }
}

impl Collector for DynCollector {
    fn info(&self) -> CollectorInfo {
        self.info.clone()
    }

    fn origin(&self) -> Option<PluginOrigin> {
        Some(self.inst.lib().origin())
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        self.inst
            .call_json::<serde_json::Value>(METHOD_VALIDATE_CONFIG, config, None)
            .map(|_| ())
            .map_err(|e| match e {
                PluginError::Failed { error, .. } => error.message,
                other => other.to_string(),
            })
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let prior: PriorRecords = self
            .info
            .after
            .iter()
            .filter(|n| ctx.prior_ran(n))
            .map(|n| (n.clone(), ctx.prior(n).to_vec()))
            .collect();
        let input = CollectInput {
            config: ctx.config_value().clone(),
            prior,
        };
        let (result, lost) = {
            let (host, sink) = ctx.bridge_parts();
            let mut state = CallbackState::new(host, sink, self.info.name.clone());
            let mut serve = |op: u32, input: &[u8], data: &[u8]| {
                Reply::guarded(|| state.serve(op, input, data))
            };
            let r =
                self.inst
                    .call_json::<serde_json::Value>(METHOD_COLLECT, &input, Some(&mut serve));
            (r, state.into_lost())
        };
        if let Some(e) = &lost {
            ctx.note_host_lost(e.clone());
        }
        match result {
            Ok(_) => Ok(()),
            Err(PluginError::Failed { error, .. }) => {
                let WireError {
                    kind,
                    message,
                    host,
                } = *error;
                Err(match kind.as_str() {
                    "config" => CollectError::Config(message),
                    "sink" => CollectError::Sink(message),
                    "host_lost" => CollectError::HostLost(host.unwrap_or_else(|| {
                        HostError::general(HostErrorKind::Disconnected, message)
                    })),
                    _ => CollectError::Other(message),
                })
            }
            Err(e) => Err(CollectError::Other(e.to_string())),
        }
    }
}
