//! Evidence in S3-compatible object storage (`--out s3://bucket/prefix`): a bucket location
//! and its checks, the connection with the environment's AWS credentials (or the shared
//! credentials file's profile), create-only multipart uploads that never show an incomplete
//! object under its name, listings and ranged downloads.
//!
//! It depends on no dossier crate: it moves bytes between readers, writers and a bucket; the
//! command line decides what is uploaded and opens every local file.

#![forbid(unsafe_code)]

mod client;
mod error;
mod location;
mod profile;

pub use client::{MAX_UPLOADS, Object, PART_SIZE, Store};
pub use error::StoreError;
pub use location::{Location, endpoint_policy};
