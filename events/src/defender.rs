//! SKELETON (replaced by the Defender parser).
use crate::{Error, Format, Options, Sink};
use std::io::BufRead;
pub fn sniff(_head: &[u8]) -> Option<Format> {
    None
}
pub fn parse(
    file: &str,
    _input: &mut dyn BufRead,
    _f: Format,
    _o: &Options,
    _out: Sink,
) -> Result<(), Error> {
    Err(Error::Format {
        file: file.into(),
        reason: "defender: not written yet".into(),
    })
}
