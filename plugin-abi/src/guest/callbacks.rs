//! The host callbacks of one call as the plugin side sees them: one operation code, JSON in and
//! out, raw bytes beside, and dossier's buffers handed back to dossier's `free_buf`.

use crate::wire::PathArg;
use crate::{Buf, HostCallbacks, STATUS_OK, WireError};
use dossier_plugin_api::encoding::path_to_text;
use dossier_plugin_api::host::{HostError, HostErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The host callbacks of one call. Dossier serializes the operations behind a lock and keeps
/// the context alive for the whole call, so sharing it between the plugin's threads during the
/// call is sound.
#[derive(Clone, Copy)]
pub(super) struct Cb<'a>(pub(super) &'a HostCallbacks);

// SAFETY: see the type's documentation: the context is locked on dossier's side.
unsafe impl Send for Cb<'_> {}
// SAFETY: as above.
unsafe impl Sync for Cb<'_> {}

impl Cb<'_> {
    /// Runs a host operation; returns its JSON output and raw bytes.
    pub(super) fn op(
        &self,
        op: u32,
        input: &impl Serialize,
        data: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), WireError> {
        let input = serde_json::to_vec(input)
            .map_err(|e| WireError::new("bad_input", format!("input not serializable: {e}")))?;
        let mut out = Buf::EMPTY;
        let mut out_data = Buf::EMPTY;
        let cb = self.0;
        // SAFETY: dossier keeps the callbacks valid during the call; the buffers are ours to
        // read and are handed back to dossier's `free_buf` once copied.
        let (status, json, bytes) = unsafe {
            let status = (cb.call)(
                cb.ctx,
                op,
                input.as_ptr(),
                input.len(),
                data.as_ptr(),
                data.len(),
                &mut out,
                &mut out_data,
            );
            let json = out.bytes().to_vec();
            let bytes = out_data.bytes().to_vec();
            (cb.free_buf)(out);
            (cb.free_buf)(out_data);
            (status, json, bytes)
        };
        if status == STATUS_OK {
            Ok((json, bytes))
        } else {
            Err(WireError::from_json(&json))
        }
    }

    pub(super) fn op_json<T: DeserializeOwned>(
        &self,
        op: u32,
        input: &impl Serialize,
        data: &[u8],
    ) -> Result<(T, Vec<u8>), WireError> {
        let (json, bytes) = self.op(op, input, data)?;
        let v = serde_json::from_slice(&json)
            .map_err(|e| WireError::new("other", format!("unreadable answer from dossier: {e}")))?;
        Ok((v, bytes))
    }
}

pub(super) fn host_error(e: WireError, path: Option<&Path>) -> HostError {
    e.host.unwrap_or_else(|| match path {
        Some(p) => HostError::new(HostErrorKind::Other, p, e.message),
        None => HostError::general(HostErrorKind::Other, e.message),
    })
}

pub(super) fn path_arg(path: &Path, limit: Option<u64>) -> PathArg {
    PathArg {
        path: path_to_text(path),
        limit,
    }
}
