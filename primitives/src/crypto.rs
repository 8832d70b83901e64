//! sr25519 keys and signatures (schnorrkel), with Substrate's signing context.
//!
//! A [`Public`] key is also an account id. Signatures are made over `signing_context(b"substrate")`
//! exactly as `sp_core::sr25519` does, so a signature made here verifies in Polkadot.js and
//! vice versa. Verification, including batch verification, is available without `std`; key
//! generation, derivation and signing need `std` (schnorrkel draws signing nonces from the OS).
use alloc::vec::Vec;
use core::fmt;

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

use crate::{hash::parse_hex_array, ss58, Error, Result};

/// The signing context of every ITC and Substrate sr25519 signature.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";

/// An sr25519 public key (a compressed ristretto point), which is also an [`crate::AccountId`].
/// SCALE-encoded as its 32 raw bytes.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, MaxEncodedLen,
)]
pub struct Public(pub [u8; 32]);

/// An sr25519 signature. SCALE-encoded as its 64 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct Signature(pub [u8; 64]);

impl Default for Signature {
    fn default() -> Self {
        Signature([0u8; 64])
    }
}

impl Public {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SS58 address of this key under `prefix`.
    pub fn to_ss58(&self, prefix: u16) -> alloc::string::String {
        ss58::encode(&self.0, prefix)
    }

    /// The SS58 address under ITC's default prefix (42).
    pub fn to_ss58_default(&self) -> alloc::string::String {
        ss58::encode(&self.0, ss58::DEFAULT_PREFIX)
    }

    /// Parses an SS58 address (any prefix) or 32 bytes of hex.
    pub fn from_ss58_or_hex(s: &str) -> Result<Self> {
        if s.starts_with("0x") {
            return Ok(Public(parse_hex_array::<32>(s)?));
        }
        ss58::decode(s).map(|(key, _prefix)| Public(key))
    }

    /// `0x`-prefixed hex of the key.
    pub fn to_hex(&self) -> alloc::string::String {
        crate::hash::to_hex0x(&self.0)
    }

    fn to_schnorrkel(self) -> Result<schnorrkel::PublicKey> {
        #[cfg(feature = "std")]
        {
            decompressed(self)
        }
        #[cfg(not(feature = "std"))]
        {
            self.decompress()
        }
    }

    fn decompress(self) -> Result<schnorrkel::PublicKey> {
        schnorrkel::PublicKey::from_bytes(&self.0)
            .map_err(|e| Error::PublicKey(alloc::format!("{e}")))
    }

    /// Whether `signature` is this key's sr25519 signature of `message` in the Substrate context.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(public) = self.to_schnorrkel() else {
            return false;
        };
        let Ok(sig) = schnorrkel::Signature::from_bytes(&signature.0) else {
            return false;
        };
        public.verify_simple(SIGNING_CONTEXT, message, &sig).is_ok()
    }
}

impl Signature {
    /// `0x`-prefixed hex of the signature.
    pub fn to_hex(&self) -> alloc::string::String {
        crate::hash::to_hex0x(&self.0)
    }

    /// Parses 64 bytes of hex, with or without `0x`.
    pub fn from_hex(s: &str) -> Result<Self> {
        Ok(Signature(parse_hex_array::<64>(s)?))
    }
}

/// Most keys [`decompressed`] remembers; past that it starts over (~200 bytes a key).
#[cfg(feature = "std")]
const DECOMPRESSED_KEYS: usize = 8_192;

/// `public` as a curve point, remembered: decompressing a key (a square root in the field) is
/// ~4 µs, a tenth of a verification, and a few keys sign most of what a node checks (its
/// committee's consensus messages, busy accounts' transactions). Decompression is a pure
/// function, so remembering it changes no answer; invalid keys are not remembered.
#[cfg(feature = "std")]
fn decompressed(public: Public) -> Result<schnorrkel::PublicKey> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], schnorrkel::PublicKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    // A poisoned lock only costs the cache.
    if let Some(key) = keys.lock().ok().and_then(|map| map.get(&public.0).copied()) {
        return Ok(key);
    }
    let key = public.decompress()?;
    if let Ok(mut map) = keys.lock() {
        if map.len() >= DECOMPRESSED_KEYS {
            map.clear();
        }
        map.insert(public.0, key);
    }
    Ok(key)
}

/// Verifies many (message, signature, key) triples at once, about twice as fast per signature as
/// one-by-one verification. The batch coefficients are derived from the inputs (schnorrkel's
/// deterministic delinearisation), so no randomness is needed and the result is reproducible.
///
/// Returns `Ok(())` if every signature is valid; otherwise the caller learns only that at least one
/// is invalid and should fall back to [`Public::verify`] to find which.
pub fn verify_batch(items: &[(&[u8], &Signature, &Public)]) -> Result<()> {
    // A batch of one costs ~25 % more than a plain verification (50 vs 40 µs here): the
    // multiscalar multiplication only pays off from two signatures on. Gossip at moderate rates
    // mostly carries single vertices.
    if let [(message, signature, public)] = items {
        return if public.verify(message, signature) {
            Ok(())
        } else {
            Err(Error::BadSignature("the signature is not the signer's".into()))
        };
    }
    let mut transcripts = Vec::with_capacity(items.len());
    let mut signatures = Vec::with_capacity(items.len());
    let mut publics = Vec::with_capacity(items.len());
    let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
    for (message, signature, public) in items {
        transcripts.push(ctx.bytes(message));
        signatures.push(
            schnorrkel::Signature::from_bytes(&signature.0)
                .map_err(|e| Error::BadSignature(alloc::format!("{e}")))?,
        );
        publics.push(public.to_schnorrkel()?);
    }
    schnorrkel::verify_batch_deterministic(transcripts, &signatures, &publics, false)
        .map_err(|e| Error::BadSignature(alloc::format!("batch verification failed: {e}")))
}

impl fmt::Debug for Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.to_ss58_default(), self.to_hex())
    }
}

impl fmt::Display for Public {
    /// The SS58 address under the default prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58_default())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Public {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_ss58_default())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Public {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
        Public::from_ss58_or_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
        Signature::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "std")]
pub use pair::Pair;

#[cfg(feature = "std")]
mod pair {
    use schnorrkel::{ExpansionMode, MiniSecretKey};

    use super::{Public, Signature, SIGNING_CONTEXT};
    use crate::{uri::SecretUri, Error, Result};

    /// An sr25519 key pair. Created from a 32-byte seed (a schnorrkel mini secret key, expanded in
    /// Ed25519 mode as Substrate does), from a secret URI, or at random.
    #[derive(Clone)]
    pub struct Pair {
        keypair: schnorrkel::Keypair,
    }

    impl Pair {
        /// The key pair of a 32-byte seed (Substrate's "secret seed").
        pub fn from_seed(seed: &[u8; 32]) -> Result<Self> {
            let mini = MiniSecretKey::from_bytes(seed)
                .map_err(|e| Error::SecretUri(format!("bad seed: {e}")))?;
            Ok(Self::from_mini_secret(&mini))
        }

        pub(crate) fn from_mini_secret(mini: &MiniSecretKey) -> Self {
            Pair { keypair: mini.expand_to_keypair(ExpansionMode::Ed25519) }
        }

        pub(crate) fn from_secret(secret: schnorrkel::SecretKey) -> Self {
            Pair { keypair: secret.to_keypair() }
        }

        /// Resolves a secret URI (`phrase`, `0xseed`, `//hard/soft///password`) as `subkey` does.
        /// `password`, if given, overrides a `///password` in the URI.
        pub fn from_string(uri: &str, password: Option<&str>) -> Result<Self> {
            Ok(SecretUri::parse(uri)?.resolve(password)?.pair)
        }

        /// A fresh random key pair (uses the OS's entropy).
        pub fn generate() -> Self {
            Self::from_mini_secret(&MiniSecretKey::generate())
        }

        /// The public key, which is also the account id.
        pub fn public(&self) -> Public {
            Public(self.keypair.public.to_bytes())
        }

        /// Signs `message` in the Substrate signing context.
        pub fn sign(&self, message: &[u8]) -> Signature {
            Signature(self.keypair.sign_simple(SIGNING_CONTEXT, message).to_bytes())
        }

        /// Signs `message` without external randomness: the signing nonce is derived from the
        /// secret nonce and the message transcript alone (as in EdDSA), so the same key and
        /// message always give the same signature. Protocol cores use this so that a seeded
        /// simulation replays byte for byte; the signature verifies like any other.
        pub fn sign_deterministic(&self, message: &[u8]) -> Signature {
            let transcript = schnorrkel::context::attach_rng(
                schnorrkel::signing_context(SIGNING_CONTEXT).bytes(message),
                NoExternalRandomness,
            );
            Signature(self.keypair.sign(transcript).to_bytes())
        }
    }

    /// An "RNG" that contributes nothing; merlin still keys the witness with the secret nonce.
    struct NoExternalRandomness;

    impl rand_core::RngCore for NoExternalRandomness {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
        fn try_fill_bytes(
            &mut self,
            dest: &mut [u8],
        ) -> core::result::Result<(), rand_core::Error> {
            dest.fill(0);
            Ok(())
        }
    }

    impl rand_core::CryptoRng for NoExternalRandomness {}

    impl core::fmt::Debug for Pair {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "Pair({:?})", self.public())
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_and_tamper() {
        let pair = Pair::from_seed(&[7u8; 32]).unwrap();
        let sig = pair.sign(b"hello");
        assert!(pair.public().verify(b"hello", &sig));
        assert!(!pair.public().verify(b"hellp", &sig));
        let mut bad = sig;
        bad.0[3] ^= 1;
        assert!(!pair.public().verify(b"hello", &bad));
    }

    #[test]
    fn remembered_keys_give_the_same_answers() {
        let pair = Pair::from_seed(&[9u8; 32]).unwrap();
        let sig = pair.sign(b"twice");
        for _ in 0..2 {
            assert!(pair.public().verify(b"twice", &sig));
            assert!(!pair.public().verify(b"other", &sig));
        }
        // Bytes that are no curve point: refused every time (and never remembered).
        let invalid = Public([0xff; 32]);
        for _ in 0..2 {
            assert!(!invalid.verify(b"twice", &sig));
            assert!(
                verify_batch(&[(b"twice", &sig, &invalid), (b"twice", &sig, &invalid)]).is_err()
            );
        }
    }

    #[test]
    fn batch_verification_accepts_good_and_rejects_one_bad() {
        let pairs: Vec<Pair> = (0..5u8).map(|i| Pair::from_seed(&[i; 32]).unwrap()).collect();
        let msgs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let sigs: Vec<Signature> = pairs.iter().zip(&msgs).map(|(p, m)| p.sign(m)).collect();
        let publics: Vec<Public> = pairs.iter().map(Pair::public).collect();
        let items: Vec<(&[u8], &Signature, &Public)> =
            (0..5).map(|i| (msgs[i].as_slice(), &sigs[i], &publics[i])).collect();
        assert!(verify_batch(&items).is_ok());
        let mut items = items;
        items[2].0 = b"other";
        assert!(verify_batch(&items).is_err());
        // One item takes the single-verification path; its answer is the same.
        assert!(verify_batch(&items[..1]).is_ok());
        let err = verify_batch(&items[2..3]).unwrap_err();
        assert!(err.to_string().contains("not the signer's"), "{err}");
        assert!(verify_batch(&[]).is_ok());
    }

    #[test]
    fn deterministic_signatures_repeat_and_verify() {
        let pair = Pair::from_seed(&[3u8; 32]).unwrap();
        let a = pair.sign_deterministic(b"msg");
        assert_eq!(a, pair.sign_deterministic(b"msg"));
        assert_ne!(a, pair.sign_deterministic(b"msh"));
        assert!(pair.public().verify(b"msg", &a));
    }

    #[test]
    fn invalid_point_is_not_a_valid_key() {
        // 0xff..ff is not a canonical ristretto encoding.
        assert!(!Public([0xff; 32]).verify(b"x", &Signature([0; 64])));
    }
}
