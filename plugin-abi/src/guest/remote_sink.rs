//! Where a plugin writes and what it reads besides the host: the [`EvidenceSink`] of a
//! collector (dossier's bundle writer) and the [`MemberReader`] of an analyzer.

use super::callbacks::{Cb, host_error, path_arg};
use crate::wire::{Copied, LogArg, PathArg};
use crate::{OP_COPY_RAW, OP_ISSUE, OP_LOG, OP_READ_MEMBER, OP_RECORD, OP_STORE_RAW};
use dossier_plugin_api::analyzer::MemberReader;
use dossier_plugin_api::collect::{CopyError, EvidenceSink, Issue, MemberRef, RawCopy, RawSource};
use dossier_plugin_api::host::Host;
use std::path::Path;

/// The [`MemberReader`] a plugin analyzer reads the bundle through.
pub(super) struct RemoteMembers<'a> {
    pub(super) cb: Cb<'a>,
}

impl MemberReader for RemoteMembers<'_> {
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        let arg = PathArg {
            path: name.to_string(),
            limit: Some(cap),
        };
        self.cb
            .op(OP_READ_MEMBER, &arg, &[])
            .map(|(_, data)| data)
            .map_err(|e| e.message)
    }
}

/// The [`EvidenceSink`] a plugin collector writes through: dossier's bundle writer.
pub(super) struct RemoteSink<'a> {
    pub(super) cb: Cb<'a>,
}

impl EvidenceSink for RemoteSink<'_> {
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String> {
        self.cb
            .op_json(OP_STORE_RAW, source, data)
            .map(|(m, _)| m)
            .map_err(|e| e.message)
    }

    fn copy_raw(
        &mut self,
        _host: &dyn Host,
        path: &Path,
        limit: u64,
    ) -> Result<RawCopy, CopyError> {
        match self
            .cb
            .op_json::<Copied>(OP_COPY_RAW, &path_arg(path, Some(limit)), &[])
        {
            Ok((c, _)) => Ok(RawCopy {
                member: c.member,
                source: c.source,
            }),
            Err(e) if e.kind == "host" => Err(CopyError::Host(host_error(e, Some(path)))),
            Err(e) => Err(CopyError::Sink(e.message)),
        }
    }

    fn record(&mut self, _collector: &str, record: serde_json::Value) -> Result<(), String> {
        self.cb
            .op(OP_RECORD, &record, &[])
            .map(|_| ())
            .map_err(|e| e.message)
    }

    fn issue(&mut self, _collector: &str, issue: Issue) {
        let _ = self.cb.op(OP_ISSUE, &issue, &[]);
    }

    fn log(&mut self, _collector: &str, message: &str) {
        let arg = LogArg {
            message: message.to_string(),
        };
        let _ = self.cb.op(OP_LOG, &arg, &[]);
    }
}
