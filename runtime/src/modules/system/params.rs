//! Chain parameters, set at genesis and read once per milestone.
use itc_primitives::{Balance, UNITS_PER_ITC};
use parity_scale_codec::{Decode, Encode};

/// Every tunable of the chain. SCALE-encoded in field order at `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Parameters {
    /// Minimum balance (free + reserved) an account must hold to be created by a transfer.
    pub existential_deposit: Balance,
    /// Fee every transaction pays.
    pub base_fee: Balance,
    /// Fee per unit of weight.
    pub fee_per_weight: Balance,
    /// Fee per byte of the encoded call.
    pub fee_per_byte: Balance,
    /// Milestones per epoch; the last milestone of an epoch names the next committee.
    pub epoch_length: u64,
    /// Seats in the committee (n = 3f + 1 is best).
    pub committee_size: u32,
    /// Minimum stake of a committee candidate.
    pub min_candidate_stake: Balance,
    /// Minimum stake of a re-encryption proxy.
    pub min_proxy_stake: Balance,
    /// Part of a candidate's stake slashed on proven equivocation, in per mille.
    pub slash_permille: u32,
    /// Maximum chaincode size in bytes.
    pub max_code_size: u32,
    /// Milestones a seller's proxies have to attest delivery of an order before it is refunded.
    pub delivery_timeout: u64,
    /// Milestones a buyer has, after delivery, to confirm or dispute before payment is released.
    pub confirm_timeout: u64,
    /// Milestones the committee has to resolve a dispute before the buyer is refunded.
    pub dispute_timeout: u64,
    /// Milestones executors have to agree on a job's result before it is refunded.
    pub job_timeout: u64,
    /// Part of a job's payment that goes to its executors, in per mille.
    pub executor_fee_permille: u32,
    /// Maximum executors per job.
    pub max_executors: u8,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            existential_deposit: UNITS_PER_ITC / 1_000,
            base_fee: UNITS_PER_ITC / 10_000,
            fee_per_weight: 1_000,
            fee_per_byte: 10_000,
            epoch_length: 600,
            committee_size: 4,
            min_candidate_stake: 1_000 * UNITS_PER_ITC,
            min_proxy_stake: 100 * UNITS_PER_ITC,
            slash_permille: 100,
            max_code_size: 512 * 1024,
            delivery_timeout: 100,
            confirm_timeout: 100,
            dispute_timeout: 200,
            job_timeout: 100,
            executor_fee_permille: 100,
            max_executors: 16,
        }
    }
}

impl Parameters {
    /// Checks the parameters can run a chain.
    pub fn validate(&self) -> core::result::Result<(), String> {
        if self.epoch_length == 0 {
            return Err("epoch_length must be at least 1".into());
        }
        if self.committee_size == 0 {
            return Err("committee_size must be at least 1".into());
        }
        if self.slash_permille > 1000 || self.executor_fee_permille > 1000 {
            return Err("per-mille parameters must be at most 1000".into());
        }
        if self.max_executors == 0 {
            return Err("max_executors must be at least 1".into());
        }
        if self.existential_deposit == 0 {
            return Err("existential_deposit must be positive".into());
        }
        Ok(())
    }
}
