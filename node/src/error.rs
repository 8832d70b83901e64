//! The node library's error type.
//!
//! Every variant says what went wrong and, where the operator or caller can act, what to do.
use std::path::PathBuf;

/// Everything that can go wrong in the node's I/O adapters (network, storage, RPC, metrics,
/// configuration).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or a read/write failed.
    #[error("database error ({context}): {source}")]
    Database {
        /// What the store was doing.
        context: String,
        /// The RocksDB error.
        #[source]
        source: rocksdb::Error,
    },
    /// A stored record does not decode: the database is damaged or was written by another program.
    #[error(
        "corrupt record in column `{column}` at key 0x{key}: {reason}; the database is damaged: \
         restore it from a backup or resync the node into an empty --base-path"
    )]
    Corrupt {
        /// The column family.
        column: &'static str,
        /// The key, hex-encoded.
        key: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The database was written by an incompatible version of the node.
    #[error(
        "database at {path} has schema {found}, this node reads schema {expected}; \
         use a node version that matches, or resync into an empty --base-path"
    )]
    SchemaMismatch {
        /// Where the database lives.
        path: PathBuf,
        /// The schema the database declares.
        found: String,
        /// The schema this build expects.
        expected: String,
    },
    /// A finalised milestone does not extend the stored chain or does not match its certificate.
    #[error("cannot apply milestone: {0}")]
    BadMilestone(String),
    /// The chain service failed (a store error, or this node diverged from the committee).
    #[error("chain: {0}")]
    Chain(String),
    /// A configuration file or value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A networking operation failed.
    #[error("network error: {0}")]
    Network(String),
    /// The network event loop has stopped, so the command could not be delivered or answered.
    #[error("the network event loop is not running; restart the node")]
    NetworkStopped,
    /// A server (RPC or metrics) could not start.
    #[error("cannot start the {service} server on {addr}: {reason}; pick a free address or stop the other process")]
    Server {
        /// Which server.
        service: &'static str,
        /// The address it tried to bind.
        addr: String,
        /// The underlying failure.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result type of the node library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
