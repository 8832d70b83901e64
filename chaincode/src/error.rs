//! The engine's error type: why a job could not run or was stopped.
use thiserror::Error;

/// Why a job failed. Every variant is contained: the engine keeps serving the next job.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The module is bigger than the engine accepts.
    #[error("chaincode module is {size} bytes, the limit is {limit}; strip it or build with opt-level \"z\"")]
    ModuleTooLarge {
        /// Module size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The module defines too many functions.
    #[error("chaincode module defines {count} functions, the limit is {limit}")]
    TooManyFunctions {
        /// Functions defined and imported.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// The module's data segments are bigger than the engine accepts.
    #[error("chaincode data segments total {size} bytes, the limit is {limit}")]
    DataTooLarge {
        /// Total bytes of data segments.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The module declares more initial memory than a job may use.
    #[error("chaincode declares {pages} initial memory pages, a job may use at most {limit}")]
    InitialMemoryTooLarge {
        /// Declared pages.
        pages: u64,
        /// Page limit.
        limit: u64,
    },
    /// The module imports something the host does not provide.
    #[error("chaincode imports `{module}.{name}`, which the host does not provide; chaincode may import only `itc.{{input_len, input_read, dataset_count, call, take, output}}` (use itc-chaincode-sdk)")]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// The module lacks a required export or has it with the wrong type.
    #[error("chaincode must export `run: func()` and a memory named `memory`: {0}")]
    BadExports(String),
    /// The module is not valid WebAssembly or uses a disabled feature.
    #[error("invalid chaincode module: {0}")]
    InvalidModule(String),
    /// The job ran out of fuel.
    #[error("chaincode ran out of fuel ({limit} units); it loops too long or queries too much")]
    OutOfFuel {
        /// The fuel the job had.
        limit: u64,
    },
    /// The wasm stack limit was hit.
    #[error("chaincode overflowed its stack ({limit} bytes); avoid deep recursion")]
    StackOverflow {
        /// Stack limit in bytes.
        limit: usize,
    },
    /// The job asked for more linear memory (or table space) than allowed.
    #[error(
        "chaincode exceeded its memory limit: it asked for {requested} bytes, the limit is {limit}"
    )]
    MemoryLimit {
        /// Bytes (or table elements) asked for.
        requested: usize,
        /// The limit.
        limit: usize,
    },
    /// The job made too many host calls.
    #[error("chaincode made more than {limit} host calls")]
    HostCallLimit {
        /// The limit.
        limit: u32,
    },
    /// The job's output is too big.
    #[error("chaincode output is {size} bytes, the limit is {limit}; return aggregates, not data")]
    OutputTooLarge {
        /// Output size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A host call passed a pointer or length outside linear memory, or too large a request.
    #[error("chaincode passed a bad buffer to the host: {0}")]
    BadHostCall(String),
    /// The chaincode trapped (unreachable, division by zero, out-of-bounds access, ...).
    #[error("chaincode trapped: {0}")]
    Trap(String),
    /// A dataset's policy does not allow this chaincode.
    #[error("dataset {dataset} does not allow chaincode {code_hash}; ask its owner to add it to the policy")]
    ChaincodeNotAllowed {
        /// Dataset id (hex).
        dataset: String,
        /// Code hash (hex).
        code_hash: String,
    },
    /// The job's datasets or context are inconsistent (records off schema, bad policy, ...).
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// The engine could not be configured (a wasmtime error, not the chaincode's fault).
    #[error("chaincode engine setup failed: {0}")]
    Engine(String),
}

/// Result with the engine's [`enum@Error`].
pub type Result<T> = core::result::Result<T, Error>;
