//! SKELETON (replaced by the audit parser).
use crate::{Error, Options, Sink};
use std::io::BufRead;
pub fn sniff(_head: &[u8]) -> bool {
    false
}
pub fn parse(file: &str, _input: &mut dyn BufRead, _o: &Options, _out: Sink) -> Result<(), Error> {
    Err(Error::Format {
        file: file.into(),
        reason: "audit: not written yet".into(),
    })
}
