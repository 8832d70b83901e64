//! Umbral keys and objects in their standard byte forms, so that umbral-pre's Python and JS
//! bindings (and any other umbral-pre user) can read and write them.
//!
//! | object | bytes |
//! |---|---|
//! | `PublicKey` | 33 bytes: SEC1 compressed secp256k1 point (`PublicKey::to_compressed_bytes`) |
//! | `Capsule`, `KeyFrag`, `CapsuleFrag` | umbral-pre's default serialisation (`DefaultSerialize::to_bytes`, MessagePack), what the bindings' `bytes(obj)` / `from_bytes` use |
use parity_scale_codec::{Decode, Encode};
use umbral_pre::{Capsule, CapsuleFrag, DefaultDeserialize, DefaultSerialize, KeyFrag, PublicKey};

use crate::{Error, Result};

/// An Umbral public key in its 33-byte compressed form; SCALE-encodes as the 33 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct UmbralKey(pub [u8; 33]);

impl UmbralKey {
    /// The compressed form of `pk`.
    pub fn from_public(pk: &PublicKey) -> Self {
        let bytes = pk.to_compressed_bytes();
        let mut out = [0u8; 33];
        out.copy_from_slice(&bytes);
        UmbralKey(out)
    }

    /// The public key, if the bytes are a valid point.
    pub fn to_public(&self) -> Result<PublicKey> {
        PublicKey::try_from_compressed_bytes(&self.0)
            .map_err(|e| Error::Umbral { what: "public key", reason: e })
    }
}

impl From<&PublicKey> for UmbralKey {
    fn from(pk: &PublicKey) -> Self {
        UmbralKey::from_public(pk)
    }
}

impl core::fmt::Debug for UmbralKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "UmbralKey(0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The standard bytes of a capsule.
pub fn capsule_to_bytes(c: &Capsule) -> Result<Vec<u8>> {
    c.to_bytes()
        .map(Vec::from)
        .map_err(|e| Error::Umbral { what: "capsule", reason: e.to_string() })
}

/// Parses a capsule from its standard bytes.
pub fn capsule_from_bytes(b: &[u8]) -> Result<Capsule> {
    Capsule::from_bytes(b).map_err(|e| Error::Umbral { what: "capsule", reason: e.to_string() })
}

/// Parses a kfrag from its standard bytes (it still has to be verified).
pub fn kfrag_from_bytes(b: &[u8]) -> Result<KeyFrag> {
    KeyFrag::from_bytes(b).map_err(|e| Error::Umbral { what: "kfrag", reason: e.to_string() })
}

/// Parses a cfrag from its standard bytes (it still has to be verified).
pub fn cfrag_from_bytes(b: &[u8]) -> Result<CapsuleFrag> {
    CapsuleFrag::from_bytes(b).map_err(|e| Error::Umbral { what: "cfrag", reason: e.to_string() })
}

/// Serialises any umbral-pre object with its default serialisation.
pub fn to_standard_bytes(obj: &impl DefaultSerialize, what: &'static str) -> Result<Vec<u8>> {
    obj.to_bytes().map(Vec::from).map_err(|e| Error::Umbral { what, reason: e.to_string() })
}
