//! Secret URIs, resolved exactly as Substrate's `subkey` and `sp_core::Pair::from_string` do.
//!
//! Grammar (Substrate's `SECRET_PHRASE_REGEX`): `[phrase][path][///password]` where
//! - `phrase` is a BIP-39 English mnemonic, or `0x` followed by a 32-byte hex seed; if absent,
//!   the standard development phrase [`DEV_PHRASE`] is used, so `//Alice` works;
//! - `path` is a sequence of junctions: `//name` (hard) or `/name` (soft);
//! - `password` is everything after the first `///` and salts the BIP-39 seed.
//!
//! A junction's chain code is the SCALE encoding of its name, read as a `u64` if it parses as one
//! and as a string otherwise, zero-padded to 32 bytes or replaced by its blake2b-256 hash if
//! longer. A hard junction derives a new mini secret key (schnorrkel's
//! `hard_derive_mini_secret_key`); a soft one derives the secret key in place, so the public key
//! can follow it (`derived_key_simple`).
//!
//! The phrase is turned into a seed as `substrate-bip39` does: PBKDF2-HMAC-SHA512 over the
//! mnemonic's *entropy* (not its words), salted with `"mnemonic" ++ password`, first 32 bytes.
use alloc::{string::String, vec::Vec};

use parity_scale_codec::Encode;

use crate::{hash::blake2_256, Error, Result};

/// Substrate's standard development phrase; the root of `//Alice` … `//Ferdie`.
pub const DEV_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

/// The six development accounts, in Substrate's order.
pub const DEV_ACCOUNTS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// One step of a derivation path, with its 32-byte chain code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeriveJunction {
    /// `/name`: soft derivation; public keys can be derived too.
    Soft([u8; 32]),
    /// `//name`: hard derivation; needs the secret key.
    Hard([u8; 32]),
}

impl DeriveJunction {
    /// Parses one junction's text (without its leading `/`; a leading `/` marks it hard).
    pub fn from_text(text: &str) -> Self {
        let (code, hard) = match text.strip_prefix('/') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let cc = match code.parse::<u64>() {
            Ok(n) => chain_code(&n.encode()),
            Err(_) => chain_code(&code.encode()),
        };
        if hard {
            DeriveJunction::Hard(cc)
        } else {
            DeriveJunction::Soft(cc)
        }
    }
}

fn chain_code(encoded: &[u8]) -> [u8; 32] {
    if encoded.len() > 32 {
        blake2_256(encoded).0
    } else {
        let mut cc = [0u8; 32];
        cc[..encoded.len()].copy_from_slice(encoded);
        cc
    }
}

/// A parsed secret URI. Holds secrets: do not log it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUri {
    /// The mnemonic or `0x` seed (the development phrase if the URI had none).
    pub phrase: String,
    /// Whether the phrase was given (false when the development phrase was filled in).
    pub phrase_given: bool,
    /// The derivation path, in order.
    pub junctions: Vec<DeriveJunction>,
    /// The `///password`, if any.
    pub password: Option<String>,
}

impl core::fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretUri({} junctions, <secret>)", self.junctions.len())
    }
}

fn is_phrase_char(c: char) -> bool {
    // Substrate's regex class `[\d\w ]`: word characters (Unicode letters, digits, `_`) and space.
    c.is_alphanumeric() || c == '_' || c == ' '
}

impl SecretUri {
    /// Parses `[phrase][//hard|/soft]*[///password]`.
    pub fn parse(uri: &str) -> Result<Self> {
        // A path component is `/` or `//` followed by at least one non-slash, so the first `///`
        // in the string can only start the password, which may itself contain slashes.
        let (head, password) = match uri.find("///") {
            Some(i) => (&uri[..i], Some(String::from(&uri[i + 3..]))),
            None => (uri, None),
        };
        let phrase_end = head.find('/').unwrap_or(head.len());
        let (phrase, path) = head.split_at(phrase_end);
        if let Some(bad) = phrase.chars().find(|c| !is_phrase_char(*c)) {
            return Err(Error::SecretUri(alloc::format!(
                "the phrase may hold only letters, digits, `_` and spaces; found {bad:?}"
            )));
        }
        let junctions = parse_path(path)?;
        let phrase_given = !phrase.is_empty();
        Ok(SecretUri {
            phrase: if phrase_given { phrase.into() } else { DEV_PHRASE.into() },
            phrase_given,
            junctions,
            password,
        })
    }

    /// Derives the key pair. `password_override` takes precedence over the URI's `///password`.
    #[cfg(feature = "std")]
    pub fn resolve(&self, password_override: Option<&str>) -> Result<Resolved> {
        use schnorrkel::{derive::ChainCode, derive::Derivation, ExpansionMode, MiniSecretKey};

        use crate::crypto::Pair;

        let password = password_override.or(self.password.as_deref());
        let root_seed = seed_of_phrase(&self.phrase, password)?;
        let mut seed = Some(root_seed);
        let mini = MiniSecretKey::from_bytes(&root_seed)
            .map_err(|e| Error::SecretUri(alloc::format!("bad seed: {e}")))?;
        let mut secret = mini.expand(ExpansionMode::Ed25519);
        for junction in &self.junctions {
            match junction {
                DeriveJunction::Soft(cc) => {
                    secret = secret.derived_key_simple(ChainCode(*cc), []).0;
                    seed = None;
                }
                DeriveJunction::Hard(cc) => {
                    let derived = secret.hard_derive_mini_secret_key(Some(ChainCode(*cc)), b"").0;
                    secret = derived.expand(ExpansionMode::Ed25519);
                    seed = seed.map(|_| derived.to_bytes());
                }
            }
        }
        Ok(Resolved { pair: Pair::from_secret(secret), seed })
    }
}

/// A resolved secret URI: the key pair and, when the path had no soft junction, its 32-byte seed
/// (what `subkey` prints as "Secret seed"; soft derivation leaves no seed).
#[cfg(feature = "std")]
pub struct Resolved {
    /// The derived key pair.
    pub pair: crate::crypto::Pair,
    /// The mini secret key of the derived pair, if it has one.
    pub seed: Option<[u8; 32]>,
}

fn parse_path(path: &str) -> Result<Vec<DeriveJunction>> {
    let mut junctions = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        // rest starts with '/', by construction of the split at the first '/'.
        let body = rest.strip_prefix('/').unwrap_or(rest);
        let (hard, name_start) = match body.strip_prefix('/') {
            Some(after) => (true, after),
            None => (false, body),
        };
        let name_len = name_start.find('/').unwrap_or(name_start.len());
        if name_len == 0 {
            return Err(Error::SecretUri(
                "empty derivation junction: use `//name` or `/name`".into(),
            ));
        }
        let name = &name_start[..name_len];
        junctions.push(if hard {
            DeriveJunction::from_text(&alloc::format!("/{name}"))
        } else {
            DeriveJunction::from_text(name)
        });
        rest = &name_start[name_len..];
    }
    Ok(junctions)
}

/// The 32-byte seed of a phrase: a `0x` hex seed as is, or a BIP-39 mnemonic through
/// substrate-bip39 (PBKDF2 over the entropy, salted with the password).
#[cfg(feature = "std")]
pub fn seed_of_phrase(phrase: &str, password: Option<&str>) -> Result<[u8; 32]> {
    if let Some(hex_seed) = phrase.strip_prefix("0x") {
        return crate::hash::parse_hex_array::<32>(hex_seed)
            .map_err(|e| Error::SecretUri(alloc::format!("bad hex seed: {e}")));
    }
    let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase)
        .map_err(|e| Error::SecretUri(alloc::format!("not a valid BIP-39 English phrase: {e}")))?;
    let (entropy, len) = mnemonic.to_entropy_array();
    let big = substrate_bip39::seed_from_entropy(&entropy[..len], password.unwrap_or(""))
        .map_err(|e| Error::SecretUri(alloc::format!("cannot derive seed: {e:?}")))?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&big[..32]);
    Ok(seed)
}

/// The BIP-39 English phrase of `entropy` (16, 20, 24, 28 or 32 bytes: 12 to 24 words). The caller
/// draws the entropy, so this crate stays free of randomness.
#[cfg(feature = "std")]
pub fn phrase_from_entropy(entropy: &[u8]) -> Result<String> {
    let mnemonic = bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy)
        .map_err(|e| Error::SecretUri(alloc::format!("cannot make a phrase: {e}")))?;
    Ok(mnemonic.to_string())
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::crypto::Pair;

    fn public_hex(uri: &str) -> String {
        Pair::from_string(uri, None).unwrap().public().to_hex()
    }

    // Vectors from Substrate: sp-core's sr25519 tests and `subkey`'s documentation.
    #[test]
    fn dev_accounts_match_substrate() {
        assert_eq!(
            public_hex("//Alice"),
            "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert_eq!(
            public_hex("//Bob"),
            "0x8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"
        );
        assert_eq!(
            public_hex(DEV_PHRASE),
            "0x46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a"
        );
    }

    #[test]
    fn alice_seed_matches_subkey() {
        let r = SecretUri::parse("//Alice").unwrap().resolve(None).unwrap();
        assert_eq!(
            hex::encode(r.seed.unwrap()),
            "e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a"
        );
    }

    #[test]
    fn soft_junction_matches_sp_core_vector() {
        // sp-core `derive_soft_known_pair_should_work`.
        assert_eq!(
            public_hex(&format!("{DEV_PHRASE}/Alice")),
            "0xd6c71059dbbe9ad2b0ed3f289738b800836eb425544ce694825285b958ca755e"
        );
        let r = SecretUri::parse("/Alice").unwrap().resolve(None).unwrap();
        assert!(r.seed.is_none(), "soft derivation leaves no seed");
    }

    #[test]
    fn hex_seed_matches_sp_core_vector() {
        // sp-core `test_vector_by_string_should_work`.
        assert_eq!(
            public_hex("0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
            "0x44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f"
        );
    }

    #[test]
    fn password_in_uri_equals_password_override() {
        let a = Pair::from_string("//Alice///password", None).unwrap().public();
        let b =
            Pair::from_string(&format!("{DEV_PHRASE}//Alice"), Some("password")).unwrap().public();
        assert_eq!(a, b);
        assert_ne!(a, Pair::from_string("//Alice", None).unwrap().public());
    }

    #[test]
    fn numeric_junction_is_encoded_as_u64() {
        assert_eq!(
            DeriveJunction::from_text("1"),
            DeriveJunction::Soft(chain_code(&1u64.encode()))
        );
        let long = "a".repeat(40);
        assert_eq!(
            DeriveJunction::from_text(&format!("/{long}")),
            DeriveJunction::Hard(blake2_256(&long.encode()).0)
        );
    }

    #[test]
    fn parse_splits_phrase_path_and_password() {
        let u = SecretUri::parse("//a/b///p//w").unwrap();
        assert!(!u.phrase_given);
        assert_eq!(u.junctions.len(), 2);
        assert!(matches!(u.junctions[0], DeriveJunction::Hard(_)));
        assert!(matches!(u.junctions[1], DeriveJunction::Soft(_)));
        assert_eq!(u.password.as_deref(), Some("p//w"));
    }

    #[test]
    fn bad_uris_are_rejected_with_reasons() {
        assert!(SecretUri::parse("bad-phrase").is_err());
        assert!(Pair::from_string("not a real mnemonic at all", None).is_err());
        assert!(Pair::from_string("0x1234", None).is_err());
    }
}
