//! What every callback dossier serves a plugin shares: the size limits, JSON answers and
//! arguments, and the `free_buf` for the buffers of in-process replies.

use crate::{Buf, WireError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest file a plugin may read into memory in one `read` (larger reads are truncated; a
/// plugin streams bigger files with `copy` or `open`).
pub(super) const MAX_PLUGIN_READ: u64 = 256 << 20;
/// Largest chunk of one `file_read`.
pub(super) const MAX_CHUNK: usize = 4 << 20;
/// Files a plugin may hold open at once.
pub(super) const MAX_OPEN: usize = 64;

pub(super) type Answer = Result<(Vec<u8>, Vec<u8>), WireError>;

pub(super) fn answer(v: &impl Serialize) -> Answer {
    serde_json::to_vec(v)
        .map(|j| (j, Vec::new()))
        .map_err(|e| WireError::new("other", e.to_string()))
}

pub(super) fn arg<T: DeserializeOwned>(input: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(input).map_err(|e| WireError::new("bad_input", e.to_string()))
}

/// Frees a buffer dossier allocated for a callback answer.
pub(super) unsafe extern "C" fn host_free_buf(buf: Buf) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by `Buf::from_vec` in this library, freed once by the plugin's contract.
        drop(unsafe { buf.into_vec() });
    }));
}

/// What a dossier callback answers: JSON and raw bytes, or an error.
pub type CallbackResult = Result<(Vec<u8>, Vec<u8>), WireError>;
