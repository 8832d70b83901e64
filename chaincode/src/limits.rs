//! Resource limits of the sandbox, and the memory/table limiter built on wasmtime's
//! `StoreLimits`.
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Every limit a job runs under. The defaults suit analytics chaincode built with the SDK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineLimits {
    /// Largest accepted module, in bytes (checked before parsing).
    pub max_module_bytes: usize,
    /// Most functions (defined and imported) a module may have (checked before compiling).
    pub max_functions: u64,
    /// Largest total size of data segments, in bytes (checked before compiling).
    pub max_data_bytes: u64,
    /// Linear memory a job may use, in bytes.
    pub max_memory_bytes: usize,
    /// Table elements a job may use.
    pub max_table_elements: usize,
    /// Fuel (roughly, wasm instructions) a job may burn, host work included.
    pub fuel: u64,
    /// The wasm stack limit in bytes (deterministic for a given engine build).
    pub max_wasm_stack: usize,
    /// Most host calls per job.
    pub max_host_calls: u32,
    /// Most queries per job.
    pub max_queries: u32,
    /// Most groups a query may produce.
    pub max_groups: u32,
    /// Most histogram buckets.
    pub max_buckets: u32,
    /// Largest request chaincode may send to the host, in bytes.
    pub max_request_bytes: u32,
    /// Largest job output, in bytes.
    pub max_output_bytes: usize,
    /// Most compiled modules kept in the cache.
    pub cache_capacity: usize,
    /// Fuel a host call costs before its work.
    pub host_call_fuel: u64,
    /// Fuel charged per record a query scans.
    pub fuel_per_record: u64,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            max_module_bytes: 1 << 20,
            max_functions: 10_000,
            max_data_bytes: 256 << 10,
            max_memory_bytes: 64 << 20,
            max_table_elements: 10_000,
            fuel: 2_000_000_000,
            max_wasm_stack: 256 << 10,
            max_host_calls: 10_000,
            max_queries: 256,
            max_groups: 4_096,
            max_buckets: 1_024,
            max_request_bytes: 4 << 20,
            max_output_bytes: 64 << 10,
            cache_capacity: 64,
            host_call_fuel: 10_000,
            fuel_per_record: 2,
        }
    }
}

/// Why the limiter refused growth; the engine turns it into [`crate::Error::MemoryLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GrowDenied {
    pub requested: usize,
    pub limit: usize,
}

impl core::fmt::Display for GrowDenied {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "growth to {} denied (limit {})", self.requested, self.limit)
    }
}

impl std::error::Error for GrowDenied {}

/// `StoreLimits` (memory, tables, instances) whose refusals trap with a typed error, so that a
/// `memory.grow` bomb stops at once instead of looping on `-1` until it runs out of fuel.
pub(crate) struct Limiter {
    inner: StoreLimits,
    memory: usize,
    table: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &EngineLimits) -> Self {
        Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .table_elements(limits.max_table_elements)
                .instances(1)
                .tables(1)
                .memories(1)
                .build(),
            memory: limits.max_memory_bytes,
            table: limits.max_table_elements,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.inner.memory_growing(current, desired, maximum)? {
            Ok(true)
        } else {
            Err(GrowDenied { requested: desired, limit: self.memory }.into())
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.inner.table_growing(current, desired, maximum)? {
            Ok(true)
        } else {
            Err(GrowDenied { requested: desired, limit: self.table }.into())
        }
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
