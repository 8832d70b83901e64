//! SS58 addresses, encoded and decoded exactly as Substrate's `Ss58Codec` does.
//!
//! Layout before base58: `prefix (1 or 2 bytes) ++ public key (32 bytes) ++ checksum (2 bytes)`,
//! where the checksum is the first two bytes of `blake2b-512(b"SS58PRE" ++ prefix ++ key)`.
//! Prefixes 0–63 take one byte; 64–16383 take two bytes in Substrate's bit layout.
//! ITC uses prefix 42, the generic Substrate prefix, so every Substrate wallet shows ITC
//! addresses in their familiar `5…` form.
use alloc::{string::String, vec::Vec};

use crate::{hash::blake2_512, Error, Result};

/// ITC's SS58 prefix: 42, the generic Substrate one.
pub const DEFAULT_PREFIX: u16 = 42;
/// Largest prefix SS58 can represent.
pub const MAX_PREFIX: u16 = 16_383;
const CHECKSUM_LEN: usize = 2;
const KEY_LEN: usize = 32;

fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut pre = Vec::with_capacity(7 + data.len());
    pre.extend_from_slice(b"SS58PRE");
    pre.extend_from_slice(data);
    let h = blake2_512(&pre);
    [h[0], h[1]]
}

/// Whether `prefix` may be used: within range and not one of the two reserved prefixes (46, 47).
pub fn prefix_is_allowed(prefix: u16) -> bool {
    prefix <= MAX_PREFIX && prefix != 46 && prefix != 47
}

/// Encodes a 32-byte key under `prefix`. Prefixes above 16383 are masked to 14 bits, as in Substrate.
pub fn encode(key: &[u8; KEY_LEN], prefix: u16) -> String {
    let ident = prefix & 0b0011_1111_1111_1111;
    let mut v = Vec::with_capacity(2 + KEY_LEN + CHECKSUM_LEN);
    if ident < 64 {
        v.push(ident as u8);
    } else {
        let first = ((ident & 0b0000_0000_1111_1100) as u8) >> 2;
        let second = ((ident >> 8) as u8) | (((ident & 0b0000_0000_0000_0011) as u8) << 6);
        v.push(first | 0b0100_0000);
        v.push(second);
    }
    v.extend_from_slice(key);
    let c = checksum(&v);
    v.extend_from_slice(&c);
    bs58::encode(v).into_string()
}

/// Decodes an SS58 address into its 32-byte key and its prefix, checking length and checksum.
pub fn decode(address: &str) -> Result<([u8; KEY_LEN], u16)> {
    let data = bs58::decode(address)
        .into_vec()
        .map_err(|e| Error::Ss58(alloc::format!("`{address}` is not base58: {e}")))?;
    if data.len() < 2 {
        return Err(Error::Ss58(alloc::format!("`{address}` is too short")));
    }
    let (prefix_len, ident) = match data[0] {
        0..=63 => (1, u16::from(data[0])),
        64..=127 => {
            let lower = (data[0] << 2) | (data[1] >> 6);
            let upper = data[1] & 0b0011_1111;
            (2, u16::from(lower) | (u16::from(upper) << 8))
        }
        other => {
            return Err(Error::Ss58(alloc::format!(
                "`{address}` starts with byte {other}, which is not an SS58 prefix"
            )))
        }
    };
    if data.len() != prefix_len + KEY_LEN + CHECKSUM_LEN {
        return Err(Error::Ss58(alloc::format!(
            "`{address}` decodes to {} bytes; a 32-byte key with prefix {ident} needs {}",
            data.len(),
            prefix_len + KEY_LEN + CHECKSUM_LEN
        )));
    }
    if !prefix_is_allowed(ident) {
        return Err(Error::Ss58(alloc::format!("prefix {ident} is reserved")));
    }
    let body_end = prefix_len + KEY_LEN;
    if checksum(&data[..body_end]) != data[body_end..] {
        return Err(Error::Ss58(alloc::format!("`{address}` has a bad checksum (mistyped?)")));
    }
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(&data[prefix_len..body_end]);
    Ok((key, ident))
}

/// Resolves a network name or number to an SS58 prefix: `substrate` (42), `polkadot` (0),
/// `kusama` (2), `itc` (42), or a decimal number.
pub fn prefix_from_network(name: &str) -> Result<u16> {
    let prefix = match name.to_ascii_lowercase().as_str() {
        "substrate" | "itc" | "generic" => 42,
        "polkadot" => 0,
        "kusama" => 2,
        other => other.parse::<u16>().map_err(|_| {
            Error::Ss58(alloc::format!(
                "unknown network `{name}`; use substrate, polkadot, kusama, itc or a number 0..=16383"
            ))
        })?,
    };
    if !prefix_is_allowed(prefix) {
        return Err(Error::Ss58(alloc::format!("prefix {prefix} is reserved or out of range")));
    }
    Ok(prefix)
}

/// The name `subkey` prints for a prefix ("substrate" for 42, or the number).
pub fn network_name(prefix: u16) -> String {
    match prefix {
        42 => "substrate".into(),
        0 => "polkadot".into(),
        2 => "kusama".into(),
        n => alloc::format!("{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::parse_hex_array;

    const ALICE: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    #[test]
    fn alice_address_under_known_prefixes() {
        let key = parse_hex_array::<32>(ALICE).unwrap();
        assert_eq!(encode(&key, 42), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert_eq!(encode(&key, 0), "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5");
        assert_eq!(encode(&key, 2), "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F");
    }

    #[test]
    fn two_byte_prefix_round_trips() {
        let key = parse_hex_array::<32>(ALICE).unwrap();
        for prefix in [64u16, 255, 1000, 16_383] {
            let addr = encode(&key, prefix);
            assert_eq!(decode(&addr).unwrap(), (key, prefix));
        }
    }

    #[test]
    fn decode_rejects_bad_checksum_length_and_alphabet() {
        assert!(decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").is_err());
        assert!(decode("5Grwva").is_err());
        assert!(decode("0OIl").is_err());
        assert!(decode("").is_err());
    }
}
