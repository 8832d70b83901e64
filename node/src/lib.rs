//! The ITC node library behind the `itc` binary.
//!
//! - [`cli`]: the command-line interface (`itc key …`, and the node commands as they land).
pub mod cli;
