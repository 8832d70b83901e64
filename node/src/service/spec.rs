//! Chain specifications: what every node of a chain must agree on to derive the same genesis.
//!
//! A spec is JSON (`itc testnet` writes one for its validators; `--chain <file>` reads it):
//!
//! ```json
//! {
//!   "name": "local",
//!   "genesisTimestampMs": 0,
//!   "validators": ["5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"],
//!   "endowed": ["5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"],
//!   "endowmentItc": 1000000,
//!   "securityLevels": [8, 12, 16, 20]
//! }
//! ```
//!
//! Validators join the genesis committee with the minimum candidate stake; every endowed
//! account (validators are endowed too) starts with `endowmentItc` ITC. The built-in `dev` spec
//! is the runtime's dev genesis: //Alice validates, //Alice … //Ferdie hold 1,000,000 ITC each.
use std::path::Path;

use itc_primitives::{AccountId, UNITS_PER_ITC};
use itc_runtime::{GenesisConfig, Parameters};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A chain specification (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainSpec {
    /// A name for logs and the network's chain id.
    pub name: String,
    /// The genesis milestone's timestamp.
    pub genesis_timestamp_ms: u64,
    /// The genesis committee.
    pub validators: Vec<AccountId>,
    /// Prefunded accounts besides the validators.
    pub endowed: Vec<AccountId>,
    /// What each prefunded account holds, in ITC.
    pub endowment_itc: u64,
    /// PoW difficulty (leading zero bits) of each security level.
    pub security_levels: Vec<u32>,
}

impl ChainSpec {
    /// The development chain: //Alice validates; //Alice … //Ferdie are prefunded.
    pub fn dev() -> Result<Self> {
        let genesis = GenesisConfig::dev().map_err(|e| Error::Config(e.to_string()))?;
        Ok(ChainSpec {
            name: "dev".into(),
            genesis_timestamp_ms: 0,
            validators: genesis.committee.iter().map(|(a, _)| *a).collect(),
            endowed: genesis.balances.iter().map(|(a, _)| *a).collect(),
            endowment_itc: 1_000_000,
            security_levels: genesis.security_levels,
        })
    }

    /// Reads a JSON spec.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Config(format!(
                "chain spec {}: {e}; see `itc testnet` for an example",
                path.display()
            ))
        })
    }

    /// Writes the spec as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Config(format!("cannot encode the chain spec: {e}")))?;
        std::fs::write(path, text).map_err(|source| Error::Io { path: path.to_path_buf(), source })
    }

    /// The runtime's genesis configuration.
    pub fn genesis_config(&self) -> Result<GenesisConfig> {
        let params = Parameters::default();
        let amount = u128::from(self.endowment_itc)
            .checked_mul(UNITS_PER_ITC)
            .ok_or_else(|| Error::Config("endowmentItc is too large".into()))?;
        let mut balances: Vec<(AccountId, u128)> = Vec::new();
        for who in self.validators.iter().chain(&self.endowed) {
            if !balances.iter().any(|(a, _)| a == who) {
                balances.push((*who, amount));
            }
        }
        let stake = params.min_candidate_stake;
        let config = GenesisConfig {
            committee: self.validators.iter().map(|v| (*v, stake)).collect(),
            balances,
            params,
            security_levels: self.security_levels.clone(),
        };
        config.validate().map_err(|e| Error::Config(format!("chain spec: {e}")))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_spec_is_the_runtime_dev_genesis_and_round_trips_through_json() {
        let spec = ChainSpec::dev().unwrap();
        assert_eq!(spec.genesis_config().unwrap(), GenesisConfig::dev().unwrap());
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<ChainSpec>(&json).unwrap(), spec);
        let bad = json.replace("endowmentItc", "endowment");
        assert!(serde_json::from_str::<ChainSpec>(&bad).is_err());
        let empty = ChainSpec { validators: Vec::new(), ..spec };
        assert!(empty.genesis_config().unwrap_err().to_string().contains("committee is empty"));
    }
}
