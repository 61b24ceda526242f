//! `dossier contain` and its parts: [`targets`] (the hosts acted on, reached as `sweep`
//! reaches them, one actuator each) and [`snapshot`] (the verified bundle of a host taken
//! before its first change).

pub mod snapshot;
pub mod targets;
