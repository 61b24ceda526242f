//! Reads and verifies bundles, treating every bundle as untrusted input.
//!
//! [`verify()`] checks, and names exactly what differs:
//! - the whole file against `<bundle>.sha256` (so a flipped byte anywhere, even in zip
//!   headers no member hash covers, fails);
//! - the zip structure (truncation, duplicate, unsafe or symlink entries, unknown compression);
//! - the manifest (present, bounded size, known format and version, well-formed);
//! - every member against the manifest (listed, size, SHA-256 recomputed from the content) and
//!   every manifest entry against the zip (missing members).
//!
//! Memory stays bounded whatever the bundle claims: members are streamed through the hash,
//! never read beyond the size the manifest lists, and declared sizes that deflate cannot
//! produce from the stored bytes are refused without decompressing. Time is bounded too:
//! inflating stops at a deadline per bundle ([`Limits`]) and the bundle fails with "took too
//! long". Nothing is extracted.
//!
//! An encrypted bundle (`.zip.age`, see [`crate::crypt`]) is checked as a file (sidecar) by
//! anyone; with an identity ([`verify_with`], [`Bundle::open_with`]) it is decrypted as it is
//! read, never to disk, and checked as above.
//! [`Bundle`] gives analyzers verified access to records and members.

mod archive;
mod central;
mod deadline;
mod error;
mod kept;
mod limits;
mod lines;
mod open;
mod outcome;
mod parse;
mod records;
mod sidecar;
mod source;
mod verify;

pub use central::lists_member;
pub use error::{MemberError, OpenError};
pub use limits::Limits;
pub use open::Bundle;
pub use outcome::{Encryption, Problem, Verification};
pub use parse::parse_manifest;
pub use records::NumberedRecords;
pub use sidecar::sidecar_path;
pub use verify::{verify, verify_with};
