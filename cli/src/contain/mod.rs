//! `dossier contain` and its parts: [`snapshot`] (the verified bundle of a host taken before
//! its first change).

pub mod snapshot;
