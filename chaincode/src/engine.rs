//! The engine: a deterministic wasmtime configuration, the compiled-module cache and job
//! execution.
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use itc_primitives::{blake2_256, Hash};
use wasmtime::{Config, Engine, ExternType, Linker, Module, OptLevel, Store, Trap};

use crate::{
    fhe::FheBackend,
    host::{link, HostState, HostTrap, JobInputs},
    job::{DatasetView, ExecutionResult, JobContext},
    limits::GrowDenied,
    validate::precheck,
    EngineLimits, Error, Result,
};

/// Compiled modules by code hash, evicting the oldest beyond capacity.
#[derive(Default)]
struct ModuleCache {
    modules: HashMap<Hash, Module>,
    order: VecDeque<Hash>,
}

/// Runs analytics chaincode. Cheap to share (`&self` everywhere); one engine serves many jobs,
/// and a job that fails (whatever the chaincode does) leaves it ready for the next.
pub struct ChaincodeEngine {
    engine: Engine,
    linker: Linker<HostState>,
    limits: EngineLimits,
    cache: Mutex<ModuleCache>,
    fhe: Option<Arc<dyn FheBackend>>,
}

impl ChaincodeEngine {
    /// An engine with `limits` and no FHE backend.
    ///
    /// The wasmtime configuration makes execution deterministic: fuel metering, NaN
    /// canonicalisation, a fixed wasm stack limit, and no SIMD, relaxed SIMD, multi-memory or
    /// memory64. Threads, GC, components and WASI are not even compiled into this wasmtime
    /// (its `threads`, `gc`, `component-model` features are off): the only imports are the
    /// host API's.
    pub fn new(limits: EngineLimits) -> Result<Self> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .cranelift_nan_canonicalization(true)
            .cranelift_opt_level(OptLevel::Speed)
            .max_wasm_stack(limits.max_wasm_stack)
            .wasm_simd(false)
            .wasm_relaxed_simd(false)
            .relaxed_simd_deterministic(true)
            .wasm_multi_memory(false)
            .wasm_memory64(false);
        let engine = Engine::new(&config).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        link(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
        Ok(ChaincodeEngine {
            engine,
            linker,
            limits,
            cache: Mutex::new(ModuleCache::default()),
            fhe: None,
        })
    }

    /// Attaches the vault's FHE backend for aggregates over encrypted columns.
    pub fn with_fhe_backend(mut self, backend: Arc<dyn FheBackend>) -> Self {
        self.fhe = Some(backend);
        self
    }

    /// The limits jobs run under.
    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }

    /// Number of compiled modules in the cache.
    pub fn cached_modules(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).modules.len()
    }

    /// Empties the module cache.
    pub fn clear_cache(&self) {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        c.modules.clear();
        c.order.clear();
    }

    /// Checks and compiles `code`, or returns it from the cache. Returns its code hash.
    pub fn prepare(&self, code: &[u8]) -> Result<Hash> {
        self.module(code).map(|(h, _)| h)
    }

    fn module(&self, code: &[u8]) -> Result<(Hash, Module)> {
        let hash = blake2_256(code);
        if let Some(m) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).modules.get(&hash) {
            return Ok((hash, m.clone()));
        }
        precheck(code, &self.limits)?;
        let module = Module::from_binary(&self.engine, code)
            .map_err(|e| Error::InvalidModule(format!("{e:#}")))?;
        check_exports(&module)?;
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if !c.modules.contains_key(&hash) {
            while c.order.len() >= self.limits.cache_capacity.max(1) {
                if let Some(old) = c.order.pop_front() {
                    c.modules.remove(&old);
                }
            }
            c.order.push_back(hash);
            c.modules.insert(hash, module.clone());
        }
        Ok((hash, module))
    }

    /// Compiles (or fetches from the cache) and instantiates `code` for an empty job without
    /// running it: the fixed cost every job pays before `run`.
    pub fn start(&self, code: &[u8]) -> Result<()> {
        let (_, module) = self.module(code)?;
        let inputs = Arc::new(JobInputs {
            datasets: Vec::new(),
            job_id: Hash::default(),
            input: Vec::new(),
            fhe: None,
            limits: self.limits.clone(),
        });
        let mut store = Store::new(&self.engine, HostState::new(inputs, &[]));
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(self.limits.fuel).map_err(|e| Error::Engine(format!("{e:#}")))?;
        self.linker
            .instantiate(&mut store, &module)
            .map_err(|e| classify(e, &self.limits, true))?;
        Ok(())
    }

    /// Runs `code` over `datasets` for the job `ctx`.
    ///
    /// Checks first that every dataset's policy allows the code and is well formed (rows are
    /// checked once, when the view is built: [`DatasetView::new`]). Same inputs give the same
    /// result, output bytes and fuel on every executor.
    pub fn execute(
        &self,
        code: &[u8],
        datasets: &[DatasetView],
        ctx: &JobContext,
    ) -> Result<ExecutionResult> {
        if ctx.budget_remaining_milli.len() != datasets.len() {
            return Err(Error::InvalidJob(format!(
                "{} budgets for {} datasets; give one remaining budget per dataset",
                ctx.budget_remaining_milli.len(),
                datasets.len()
            )));
        }
        let code_hash = blake2_256(code);
        for d in datasets {
            if !d.policy.allows(&code_hash) {
                return Err(Error::ChaincodeNotAllowed {
                    dataset: d.id.to_hex(),
                    code_hash: code_hash.to_hex(),
                });
            }
            d.validate_policy()?;
        }
        let (_, module) = self.module(code)?;
        let inputs = Arc::new(JobInputs {
            datasets: datasets.to_vec(),
            job_id: ctx.job_id,
            input: ctx.input.clone(),
            fhe: self.fhe.clone(),
            limits: self.limits.clone(),
        });
        let mut store =
            Store::new(&self.engine, HostState::new(inputs, &ctx.budget_remaining_milli));
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(self.limits.fuel).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let instance = self
            .linker
            .instantiate(&mut store, &module)
            .map_err(|e| classify(e, &self.limits, true))?;
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .map_err(|e| Error::BadExports(format!("{e:#}")))?;
        run.call(&mut store, ()).map_err(|e| classify(e, &self.limits, false))?;
        let left = store.get_fuel().map_err(|e| Error::Engine(format!("{e:#}")))?;
        let st = store.into_data();
        Ok(ExecutionResult {
            code_hash,
            output: st.output,
            fuel_used: self.limits.fuel - left,
            queries: st.queries,
            host_calls: st.host_calls,
            epsilon_spent_milli: st.budgets.iter().map(|b| b.spent()).collect(),
            records_contributed: st
                .contributed
                .iter()
                .map(|bits| bits.iter().map(|w| u64::from(w.count_ones())).sum())
                .collect(),
        })
    }
}

fn check_exports(module: &Module) -> Result<()> {
    match module.get_export("run") {
        Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
        Some(_) => return Err(Error::BadExports("`run` is not a `func()`".into())),
        None => return Err(Error::BadExports("no export named `run`".into())),
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err(Error::BadExports("no memory exported as `memory`".into())),
    }
}

/// Turns a wasmtime error into the engine's error.
fn classify(e: wasmtime::Error, limits: &EngineLimits, instantiating: bool) -> Error {
    if let Some(t) = e.downcast_ref::<HostTrap>() {
        return match t {
            HostTrap::HostCalls(limit) => Error::HostCallLimit { limit: *limit },
            HostTrap::OutOfFuel => Error::OutOfFuel { limit: limits.fuel },
            HostTrap::Output { size, limit } => {
                Error::OutputTooLarge { size: *size, limit: *limit }
            }
            HostTrap::BadBuffer(m) => Error::BadHostCall(m.clone()),
        };
    }
    if let Some(g) = e.downcast_ref::<GrowDenied>() {
        return Error::MemoryLimit { requested: g.requested, limit: g.limit };
    }
    if let Some(t) = e.downcast_ref::<Trap>() {
        return match t {
            Trap::OutOfFuel => Error::OutOfFuel { limit: limits.fuel },
            Trap::StackOverflow => Error::StackOverflow { limit: limits.max_wasm_stack },
            other => Error::Trap(other.to_string()),
        };
    }
    if instantiating {
        Error::InvalidModule(format!("instantiation failed: {e:#}"))
    } else {
        Error::Trap(format!("{e:#}"))
    }
}
