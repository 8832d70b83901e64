//! The runtime modules, FRAME-style without macros. Each has a `Call` enum with stable explicit
//! indices, an `Event` enum with named fields, an `Error` enum with a doc line per variant,
//! typed storage items, a weight per call, and a `try_state` invariant check. Each call reads
//! authorise → validate → mutate → emit.
pub mod access;
pub mod balances;
pub mod chaincode;
pub mod committee;
pub mod datasets;
pub mod market;
pub mod system;
