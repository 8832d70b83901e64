//! The test harness: an ExtBuilder-style genesis builder and a `Chain` that applies milestones.
use std::{collections::BTreeMap, sync::OnceLock};

use itc_primitives::{AccountId, Balance, BoundedVec, Hash, Mortality, Pair, Transaction, Vertex};
use itc_runtime::{
    apply_milestone, build_genesis, dispatch::try_state, genesis::dev_pairs, DispatchError, Ext,
    GenesisConfig, MemoryBackend, MilestoneContext, MilestoneOutcome, ModuleError, Outcome,
    Parameters, Receipt, RuntimeCall, StateBackend,
};
use parity_scale_codec::Encode;

/// Test balance unit.
pub const UNIT: Balance = 1_000;

fn pairs() -> &'static Vec<Pair> {
    static PAIRS: OnceLock<Vec<Pair>> = OnceLock::new();
    PAIRS.get_or_init(|| dev_pairs().unwrap())
}

pub fn alice() -> AccountId {
    pairs()[0].public()
}
pub fn bob() -> AccountId {
    pairs()[1].public()
}
pub fn charlie() -> AccountId {
    pairs()[2].public()
}
pub fn dave() -> AccountId {
    pairs()[3].public()
}
pub fn eve() -> AccountId {
    pairs()[4].public()
}
pub fn ferdie() -> AccountId {
    pairs()[5].public()
}
pub fn pair_of(who: &AccountId) -> &'static Pair {
    pairs().iter().find(|p| p.public() == *who).unwrap()
}
/// An account no dev key controls (no funds).
pub fn nobody(i: u8) -> AccountId {
    AccountId::from_ss58_or_hex(&format!("0x{}", hex::encode([i; 32]))).unwrap()
}

/// Small, round parameters: every transaction costs exactly `base_fee` = 1.
pub fn test_params() -> Parameters {
    Parameters {
        existential_deposit: 10,
        base_fee: 1,
        fee_per_weight: 0,
        fee_per_byte: 0,
        epoch_length: 10,
        committee_size: 4,
        min_candidate_stake: 100 * UNIT,
        min_proxy_stake: 10 * UNIT,
        slash_permille: 100,
        max_code_size: 1024,
        delivery_timeout: 5,
        confirm_timeout: 5,
        dispute_timeout: 5,
        job_timeout: 5,
        executor_fee_permille: 100,
        max_executors: 4,
    }
}

/// Builds a genesis state.
pub struct ExtBuilder {
    config: GenesisConfig,
}

impl Default for ExtBuilder {
    /// Six dev accounts with 1,000,000 UNIT each; Alice, Bob, Charlie and Dave in the committee
    /// with the minimum stake.
    fn default() -> Self {
        let params = test_params();
        let stake = params.min_candidate_stake;
        ExtBuilder {
            config: GenesisConfig {
                balances: pairs().iter().map(|p| (p.public(), 1_000_000 * UNIT)).collect(),
                committee: vec![
                    (alice(), stake),
                    (bob(), stake),
                    (charlie(), stake),
                    (dave(), stake),
                ],
                params,
                security_levels: vec![4, 8, 12],
            },
        }
    }
}

impl ExtBuilder {
    pub fn params(mut self, f: impl FnOnce(&mut Parameters)) -> Self {
        f(&mut self.config.params);
        self
    }
    pub fn balance(mut self, who: AccountId, amount: Balance) -> Self {
        self.config.balances.retain(|(w, _)| *w != who);
        self.config.balances.push((who, amount));
        self
    }
    pub fn config(&self) -> &GenesisConfig {
        &self.config
    }
    pub fn build(self) -> Chain {
        let mut backend = MemoryBackend::new();
        build_genesis(&mut backend, &self.config).unwrap();
        Chain { backend, proposer: nobody(0xEE) }
    }
}

/// A chain under test.
pub struct Chain {
    pub backend: MemoryBackend,
    pub proposer: AccountId,
}

pub fn vertex(tx: Transaction) -> Vertex {
    Vertex { tx, parents: BoundedVec::new(vec![Hash::ZERO]).unwrap(), pow_nonce: 0 }
}

/// An unsigned transaction (the runtime trusts the DAG for signatures).
pub fn tx(who: AccountId, nonce: u64, call: impl Into<RuntimeCall>) -> Transaction {
    Transaction {
        signer: who,
        nonce,
        mortality: Mortality::Immortal,
        tip: 0,
        call: call.into().encode(),
        signature: Default::default(),
    }
}

impl Chain {
    pub fn number(&self) -> u64 {
        self.backend.version().unwrap()
    }

    pub fn next_ctx(&self) -> MilestoneContext {
        let number = self.number() + 1;
        MilestoneContext {
            number,
            timestamp_ms: 1_700_000_000_000 + number * 1000,
            genesis_hash: Hash::ZERO,
            proposer: self.proposer,
        }
    }

    /// Applies a milestone with these transactions and checks every invariant afterwards.
    pub fn apply(&mut self, txs: Vec<Transaction>) -> MilestoneOutcome {
        let ctx = self.next_ctx();
        let vertices: Vec<Vertex> = txs.into_iter().map(vertex).collect();
        let out = apply_milestone(&mut self.backend, ctx, &vertices).unwrap();
        self.check_invariants();
        out
    }

    /// Applies empty milestones until the chain is at `number`.
    pub fn advance_to(&mut self, number: u64) -> Vec<MilestoneOutcome> {
        let mut outs = Vec::new();
        while self.number() < number {
            outs.push(self.apply(vec![]));
        }
        outs
    }

    pub fn nonce(&self, who: &AccountId) -> u64 {
        itc_runtime::modules::system::account(&self.view(), who).unwrap().nonce
    }

    /// Runs `call` signed by `who` in its own milestone; returns the receipt.
    pub fn call(&mut self, who: AccountId, call: impl Into<RuntimeCall>) -> Receipt {
        let nonce = self.nonce(&who);
        let out = self.apply(vec![tx(who, nonce, call)]);
        out.receipts.into_iter().next().unwrap()
    }

    /// Runs `call` and asserts it succeeded; returns its events.
    pub fn ok(
        &mut self,
        who: AccountId,
        call: impl Into<RuntimeCall>,
    ) -> Vec<itc_runtime::RuntimeEvent> {
        let r = self.call(who, call);
        assert_eq!(r.outcome, Outcome::Success, "call failed: {:?}", r.outcome);
        r.events
    }

    /// Runs `call` and asserts it failed with `error`; checks nothing but fee and nonce changed.
    pub fn fails(
        &mut self,
        who: AccountId,
        call: impl Into<RuntimeCall>,
        error: impl Into<ModuleError>,
    ) {
        let r = self.call(who, call);
        assert_eq!(r.outcome, Outcome::Failed(DispatchError::Module(error.into())));
        assert!(r.events.is_empty());
    }

    pub fn view(&self) -> Ext<'_> {
        Ext::view(&self.backend, 0).unwrap()
    }

    pub fn free(&self, who: &AccountId) -> Balance {
        itc_runtime::modules::balances::balance_of(&self.view(), who).unwrap().free
    }

    pub fn reserved(&self, who: &AccountId) -> Balance {
        itc_runtime::modules::balances::balance_of(&self.view(), who).unwrap().reserved
    }

    pub fn check_invariants(&self) {
        try_state(&self.view()).unwrap();
    }

    /// Every key-value pair of the state (to compare states).
    pub fn dump(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.backend.iter_prefix(&[]).unwrap().into_iter().collect()
    }
}

use itc_primitives::dataset::{AnalyticsPolicy, FieldType, Schema};
use itc_runtime::modules::datasets;

pub fn schema() -> Schema {
    Schema::from_fields(&[("device", FieldType::String), ("kwh", FieldType::U64)]).unwrap()
}

pub fn policy() -> AnalyticsPolicy {
    AnalyticsPolicy {
        k: 5,
        price_per_record: 2,
        epsilon_budget_milli: 1_000,
        hll_precision: 12,
        allowed_chaincode: BoundedVec::default(),
    }
}

pub fn bounded<const N: usize>(bytes: &[u8]) -> BoundedVec<u8, N> {
    BoundedVec::new(bytes.to_vec()).unwrap()
}

pub fn append_call(dataset: u64, index: u64, records: u64) -> datasets::Call {
    datasets::Call::AppendInterval {
        dataset,
        index,
        chunk_root: Hash([index as u8 + 1; 32]),
        records,
        capsule: bounded(&[0xCA; 98]),
        uris: BoundedVec::new(vec![bounded(b"otp://local/chunk0")]).unwrap(),
    }
}

impl Chain {
    /// Registers a dataset owned by `owner` with `intervals` intervals of `records` each.
    pub fn dataset(&mut self, owner: AccountId, intervals: u64, records: u64) -> u64 {
        let id = datasets::NEXT_ID.get_or_default(&self.view()).unwrap();
        self.ok(owner, datasets::Call::Register { schema: schema(), policy: policy() });
        for i in 0..intervals {
            self.ok(owner, append_call(id, i, records));
        }
        id
    }
}
