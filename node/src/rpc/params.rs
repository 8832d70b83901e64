//! Parameter parsing for the RPC methods: positional JSON arguments, hex, SCALE, hashes, accounts.
//!
//! Every failure is a JSON-RPC "invalid params" error (-32602) whose message names the method,
//! the argument and what a valid value looks like.
use itc_primitives::{decode_untrusted, AccountId, Hash, MilestoneNumber};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use parity_scale_codec::Decode;
use serde_json::Value;

use super::api::MilestoneId;
use super::errors::invalid_params;

/// The positional arguments of one call.
pub struct Args {
    method: &'static str,
    values: Vec<Value>,
}

impl Args {
    /// Parses `params` as a JSON array of at most `max` values.
    pub fn parse(
        method: &'static str,
        params: &Params<'_>,
        max: usize,
    ) -> Result<Self, ErrorObjectOwned> {
        let values: Vec<Value> = match params.as_str() {
            None => Vec::new(),
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Array(values)) => values,
                Ok(Value::Null) => Vec::new(),
                Ok(_) => {
                    return Err(invalid_params(format!(
                        "{method}: parameters must be a JSON array (positional), e.g. \"params\": [\"0x…\"]"
                    )))
                }
                Err(e) => return Err(invalid_params(format!("{method}: parameters are not JSON: {e}"))),
            },
        };
        if values.len() > max {
            return Err(invalid_params(format!(
                "{method}: takes at most {max} parameter(s), got {}; see the method table in the itc-node rpc docs",
                values.len()
            )));
        }
        Ok(Args { method, values })
    }

    fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index).filter(|v| !v.is_null())
    }

    fn missing(&self, index: usize, name: &str, example: &str) -> ErrorObjectOwned {
        invalid_params(format!(
            "{}: parameter {} (`{name}`) is missing; pass {example}",
            self.method,
            index + 1
        ))
    }

    /// A required string argument.
    pub fn string(
        &self,
        index: usize,
        name: &str,
        example: &str,
    ) -> Result<&str, ErrorObjectOwned> {
        match self.get(index) {
            None => Err(self.missing(index, name, example)),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(invalid_params(format!(
                "{}: `{name}` must be a string ({example}), got {other}",
                self.method
            ))),
        }
    }

    /// Hex bytes (with or without `0x`).
    pub fn hex_bytes(&self, index: usize, name: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
        let s = self.string(index, name, "0x-prefixed hex")?;
        itc_primitives::hash::from_hex0x(s).map_err(|e| {
            invalid_params(format!(
                "{}: `{name}` is not hex ({e}); encode the bytes as 0x followed by an even number of hex digits",
                self.method
            ))
        })
    }

    /// A SCALE-encoded `T` given as hex, decoded as untrusted input.
    pub fn scale<T: Decode>(
        &self,
        index: usize,
        name: &str,
        type_name: &str,
    ) -> Result<T, ErrorObjectOwned> {
        let bytes = self.hex_bytes(index, name)?;
        decode_untrusted::<T>(&bytes).map_err(|e| {
            invalid_params(format!(
                "{}: `{name}` is not a SCALE-encoded {type_name} ({e}); encode it with itc-primitives' \
                 {type_name}::encode and send the bytes as hex",
                self.method
            ))
        })
    }

    /// A 32-byte hash as hex.
    pub fn hash(&self, index: usize, name: &str) -> Result<Hash, ErrorObjectOwned> {
        let s = self.string(index, name, "a hash: 0x followed by 64 hex digits")?;
        Hash::from_hex(s).map_err(|e| {
            invalid_params(format!(
                "{}: `{name}` is not a hash ({e}); pass 0x followed by 64 hex digits",
                self.method
            ))
        })
    }

    /// An account as SS58 or 32-byte hex.
    pub fn account(&self, index: usize, name: &str) -> Result<AccountId, ErrorObjectOwned> {
        let s = self.string(index, name, "an SS58 address or 0x + 64 hex digits")?;
        AccountId::from_ss58_or_hex(s).map_err(|e| {
            invalid_params(format!(
                "{}: `{name}` is not an account ({e}); pass an SS58 address (as `itc key inspect` prints) or a 32-byte hex public key",
                self.method
            ))
        })
    }

    /// An optional milestone number.
    pub fn opt_number(
        &self,
        index: usize,
        name: &str,
    ) -> Result<Option<MilestoneNumber>, ErrorObjectOwned> {
        match self.get(index) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                invalid_params(format!(
                    "{}: `{name}` must be a milestone number (a non-negative integer) or null, got {v}",
                    self.method
                ))
            }),
        }
    }

    /// A milestone given as a number or a header hash.
    pub fn milestone_id(&self, index: usize, name: &str) -> Result<MilestoneId, ErrorObjectOwned> {
        const EXAMPLE: &str = "a milestone number (e.g. 12) or a header hash (0x + 64 hex digits)";
        match self.get(index) {
            None => Err(self.missing(index, name, EXAMPLE)),
            Some(Value::Number(n)) => n.as_u64().map(MilestoneId::Number).ok_or_else(|| {
                invalid_params(format!("{}: `{name}` must be {EXAMPLE}, got {n}", self.method))
            }),
            Some(Value::String(_)) => self.hash(index, name).map(MilestoneId::Hash),
            Some(other) => Err(invalid_params(format!(
                "{}: `{name}` must be {EXAMPLE}, got {other}",
                self.method
            ))),
        }
    }
}
