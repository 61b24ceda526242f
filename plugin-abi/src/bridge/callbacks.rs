//! What every callback dossier serves a plugin shares: the size limits, JSON answers and
//! arguments, the reply written into the plugin's output slots, and the `free_buf` for them.

use crate::{Buf, STATUS_ERROR, STATUS_OK, STATUS_PANIC, WireError, panic_message};
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
pub(super) type CallbackResult = Result<(Vec<u8>, Vec<u8>), WireError>;

/// Turns the outcome of a dossier callback (run under `catch_unwind`) into its status code and
/// writes its JSON and byte outputs to the plugin's slots.
///
/// # Safety
/// `out` and `out_data` are null or valid for one write of a `Buf`.
pub(super) unsafe fn callback_reply(
    r: std::thread::Result<CallbackResult>,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32 {
    let (status, json, bytes) = match r {
        Ok(Ok((json, bytes))) => (STATUS_OK, json, bytes),
        Ok(Err(e)) => (STATUS_ERROR, e.to_json(), Vec::new()),
        Err(p) => (
            STATUS_PANIC,
            WireError::new(
                "panic",
                format!("dossier callback panicked: {}", panic_message(p.as_ref())),
            )
            .to_json(),
            Vec::new(),
        ),
    };
    // SAFETY: the caller guarantees the slots (see above).
    unsafe {
        if !out.is_null() {
            out.write(Buf::from_vec(json));
        }
        if !out_data.is_null() {
            out_data.write(Buf::from_vec(bytes));
        }
    }
    status
}
