//! The genesis configuration and the building of the genesis state (version 0).
use itc_primitives::{
    uri::DEV_ACCOUNTS, AccountId, Balance, BoundedVec, Hash, Pair, UNITS_PER_ITC,
};

use crate::{
    ext::{Ext, MilestoneContext},
    modules::{balances, system},
    state::StateBackend,
    CallError, Error, Parameters, Result,
};

/// What the chain starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisConfig {
    /// Chain parameters.
    pub params: Parameters,
    /// Prefunded accounts (free balance).
    pub balances: Vec<(AccountId, Balance)>,
    /// The committee of epoch 0, with the stake each member reserves as a candidate (taken from
    /// its prefunded balance).
    pub committee: Vec<(AccountId, Balance)>,
    /// PoW difficulty (leading zero bits) per security level; level 0 is the default.
    pub security_levels: Vec<u32>,
}

/// The dev account `//{name}` (Alice … Ferdie), as Substrate derives it.
pub fn dev_pair(name: &str) -> Result<Pair> {
    Pair::from_string(&format!("//{name}"), None)
        .map_err(|e| Error::Genesis(format!("cannot derive //{name}: {e}")))
}

/// The six dev accounts, in `DEV_ACCOUNTS` order.
pub fn dev_pairs() -> Result<Vec<Pair>> {
    DEV_ACCOUNTS.iter().map(|name| dev_pair(name)).collect()
}

impl GenesisConfig {
    /// The `--dev` chain: //Alice … //Ferdie with 1,000,000 ITC each, //Alice alone in the
    /// committee with the minimum stake, and security levels 0..=3 at 8, 12, 16, 20 bits.
    pub fn dev() -> Result<Self> {
        let params = Parameters::default();
        let accounts: Vec<AccountId> = dev_pairs()?.iter().map(Pair::public).collect();
        let stake = params.min_candidate_stake;
        Ok(GenesisConfig {
            balances: accounts.iter().map(|a| (*a, 1_000_000 * UNITS_PER_ITC)).collect(),
            committee: vec![(accounts[0], stake)],
            params,
            security_levels: vec![8, 12, 16, 20],
        })
    }

    /// Checks the configuration is consistent.
    pub fn validate(&self) -> Result<()> {
        self.params.validate().map_err(Error::Genesis)?;
        if self.security_levels.is_empty()
            || self.security_levels.len() > system::MAX_SECURITY_LEVELS
        {
            return Err(Error::Genesis(format!(
                "need 1 to {} security levels, got {}",
                system::MAX_SECURITY_LEVELS,
                self.security_levels.len()
            )));
        }
        if self.committee.is_empty() {
            return Err(Error::Genesis("the genesis committee is empty".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (who, _) in &self.balances {
            if !seen.insert(who) {
                return Err(Error::Genesis(format!("{who} is prefunded twice")));
            }
        }
        Ok(())
    }
}

/// Writes the genesis state into an empty `backend` and commits it as version 0. Returns the
/// genesis state root.
pub fn build_genesis<B: StateBackend>(backend: &mut B, config: &GenesisConfig) -> Result<Hash> {
    config.validate()?;
    if backend.version().is_some() {
        return Err(Error::Genesis("the backend already holds a state".into()));
    }
    let changes = {
        let ctx = MilestoneContext {
            number: 0,
            timestamp_ms: 0,
            genesis_hash: Hash::ZERO,
            proposer: AccountId::default(),
        };
        let mut ext = Ext::new(&*backend, ctx)?;
        ext.set_params(config.params.clone());
        let levels = BoundedVec::new(config.security_levels.clone())
            .map_err(|_| Error::Genesis("too many security levels".into()))?;
        system::SECURITY_LEVELS.put(&mut ext, &levels);
        system::NUMBER.put(&mut ext, &0);
        balances::TOTAL_ISSUANCE.put(&mut ext, &0);
        for (who, amount) in &config.balances {
            if *amount < config.params.existential_deposit {
                return Err(Error::Genesis(format!(
                    "{who} is prefunded {amount}, below the existential deposit"
                )));
            }
            balances::mint(&mut ext, who, *amount).map_err(genesis_error)?;
        }
        crate::modules::committee::genesis(&mut ext, &config.committee).map_err(genesis_error)?;
        ext.take_events();
        crate::dispatch::try_state(&ext).map_err(Error::Genesis)?;
        ext.into_changes()
    };
    for (key, value) in changes {
        match value {
            Some(value) => backend.put(key, value),
            None => backend.delete(&key),
        }
    }
    backend.commit(0)
}

fn genesis_error(e: CallError) -> Error {
    match e {
        CallError::State(e) => e,
        CallError::Dispatch(e) => Error::Genesis(e.to_string()),
    }
}
