//! What the generic entry points drive: a [`GuestInstance`] per instance made by the plugin's
//! [`MakeInstances`], and the helpers that turn its results into a status and a
//! [`WireError`].

use crate::{HostCallbacks, STATUS_BAD_INPUT, STATUS_ERROR, WireError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed call: status code and error.
pub type CallFailure = (i32, WireError);

/// One instance of a plugin kind, as the generic entry points drive it.
pub trait GuestInstance: Send + Sync {
    /// Runs `method` with JSON `input`.
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure>;
}

/// What [`crate::export_plugin!`] implements for a plugin: makes an instance of a kind.
pub trait MakeInstances {
    /// An instance of `kind` configured with `config`; `None` when the plugin has no such kind.
    fn make(
        kind: u32,
        config: &serde_json::Value,
    ) -> Option<Result<Box<dyn GuestInstance>, String>>;
}

/// `kind` (used by the macro to build the kind bit set from the types it was given).
pub const fn kind_of<T: ?Sized>(kind: u32) -> u32 {
    kind
}

pub(super) fn bad_input(message: impl Into<String>) -> CallFailure {
    (STATUS_BAD_INPUT, WireError::new("bad_input", message))
}

pub(super) fn parse<T: DeserializeOwned>(input: &[u8]) -> Result<T, CallFailure> {
    serde_json::from_slice(input).map_err(|e| bad_input(format!("input is not valid: {e}")))
}

pub(super) fn json(v: &impl Serialize) -> Result<Vec<u8>, CallFailure> {
    serde_json::to_vec(v).map_err(|e| {
        (
            STATUS_ERROR,
            WireError::new("other", format!("output not serializable: {e}")),
        )
    })
}

pub(super) fn failed(kind: &str, message: impl Into<String>) -> CallFailure {
    (STATUS_ERROR, WireError::new(kind, message))
}

pub(super) fn unknown_method(method: u32) -> CallFailure {
    bad_input(format!("unknown method {method}"))
}
