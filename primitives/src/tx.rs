//! Signed transactions.
//!
//! A [`Transaction`] carries an opaque, SCALE-encoded runtime call: this crate does not know the
//! runtime's modules, so the call is bytes here and decoded by `itc-runtime`.
//!
//! The signature covers the [`SignedPayload`]: `SCALE(genesis_hash, signer, nonce, mortality, tip,
//! call)`. The genesis hash is not transmitted but binds the transaction to one chain, so it cannot
//! be replayed on another. As in Substrate, a payload longer than 256 bytes is hashed with
//! blake2b-256 and the hash is signed instead.
use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::{
    crypto::Signature,
    hash::{blake2_256, hash_of},
    AccountId, Balance, Hash, Nonce,
};

/// Payloads longer than this are signed through their blake2b-256 hash (Substrate's rule).
pub const MAX_RAW_SIGNED_PAYLOAD: usize = 256;

/// How long a transaction stays valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Mortality {
    /// Valid forever (replay is still prevented by the nonce).
    #[codec(index = 0)]
    Immortal,
    /// Valid only in milestones numbered at most `until`.
    #[codec(index = 1)]
    Mortal {
        /// The last milestone number that may include the transaction.
        #[codec(compact)]
        until: u64,
    },
}

impl Mortality {
    /// Whether a transaction with this mortality may execute in milestone `number`.
    pub fn is_alive_at(&self, number: u64) -> bool {
        match self {
            Mortality::Immortal => true,
            Mortality::Mortal { until } => number <= *until,
        }
    }
}

/// A signed transaction. SCALE layout: `signer (32) ++ compact nonce ++ mortality ++ compact tip
/// ++ call (compact length ++ bytes) ++ signature (64)`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Transaction {
    /// The account that signed and pays.
    pub signer: AccountId,
    /// The signer's nonce; must equal the account's next nonce when executed.
    #[codec(compact)]
    pub nonce: Nonce,
    /// Validity window.
    pub mortality: Mortality,
    /// Extra fee offered on top of the weight fee.
    #[codec(compact)]
    pub tip: Balance,
    /// The SCALE-encoded runtime call.
    #[cfg_attr(feature = "serde", serde(with = "hex_bytes"))]
    pub call: Vec<u8>,
    /// sr25519 signature of the signed payload.
    pub signature: Signature,
}

/// What a transaction's signature covers. Encoded, never transmitted.
#[derive(Clone, PartialEq, Eq, Debug, Encode)]
pub struct SignedPayload<'a> {
    /// The hash of the chain's genesis milestone.
    pub genesis: Hash,
    /// See [`Transaction::signer`].
    pub signer: &'a AccountId,
    /// See [`Transaction::nonce`].
    #[codec(compact)]
    pub nonce: Nonce,
    /// See [`Transaction::mortality`].
    pub mortality: &'a Mortality,
    /// See [`Transaction::tip`].
    #[codec(compact)]
    pub tip: Balance,
    /// See [`Transaction::call`].
    pub call: &'a [u8],
}

impl SignedPayload<'_> {
    /// The bytes actually signed: the encoding, or its blake2b-256 if longer than 256 bytes.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let encoded = self.encode();
        if encoded.len() > MAX_RAW_SIGNED_PAYLOAD {
            blake2_256(&encoded).0.to_vec()
        } else {
            encoded
        }
    }
}

impl Transaction {
    /// The payload the signature must cover on the chain with genesis hash `genesis`.
    pub fn payload(&self, genesis: Hash) -> SignedPayload<'_> {
        SignedPayload {
            genesis,
            signer: &self.signer,
            nonce: self.nonce,
            mortality: &self.mortality,
            tip: self.tip,
            call: &self.call,
        }
    }

    /// Builds and signs a transaction.
    #[cfg(feature = "std")]
    pub fn signed(
        pair: &crate::Pair,
        genesis: Hash,
        nonce: Nonce,
        mortality: Mortality,
        tip: Balance,
        call: Vec<u8>,
    ) -> Self {
        let mut tx = Transaction {
            signer: pair.public(),
            nonce,
            mortality,
            tip,
            call,
            signature: Signature::default(),
        };
        tx.signature = pair.sign(&tx.payload(genesis).signing_bytes());
        tx
    }

    /// Whether the signature is the signer's, on the chain with genesis hash `genesis`.
    pub fn verify_signature(&self, genesis: Hash) -> bool {
        self.signer.verify(&self.payload(genesis).signing_bytes(), &self.signature)
    }

    /// [`Transaction::verify_signature`] for many transactions, with one batch verification
    /// (about twice as fast per signature); only if the batch fails are they checked one by one,
    /// to tell which are bad. One answer per transaction, in order.
    pub fn verify_signatures<'a>(
        txs: impl IntoIterator<Item = &'a Transaction>,
        genesis: Hash,
    ) -> Vec<bool> {
        let txs: Vec<&Transaction> = txs.into_iter().collect();
        let messages: Vec<Vec<u8>> =
            txs.iter().map(|tx| tx.payload(genesis).signing_bytes()).collect();
        let items: Vec<(&[u8], &Signature, &AccountId)> = txs
            .iter()
            .zip(&messages)
            .map(|(tx, m)| (m.as_slice(), &tx.signature, &tx.signer))
            .collect();
        if items.is_empty() || crate::crypto::verify_batch(&items).is_ok() {
            return alloc::vec![true; items.len()];
        }
        items.iter().map(|(message, signature, signer)| signer.verify(message, signature)).collect()
    }

    /// The transaction hash: blake2b-256 of its full SCALE encoding (signature included).
    pub fn hash(&self) -> Hash {
        hash_of(self)
    }
}

#[cfg(feature = "serde")]
mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(
        bytes: &[u8],
        s: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hash::to_hex0x(bytes))
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::Pair;

    #[test]
    fn signature_binds_genesis_and_every_field() {
        let alice = Pair::from_string("//Alice", None).unwrap();
        let genesis = blake2_256(b"genesis");
        let tx = Transaction::signed(&alice, genesis, 3, Mortality::Immortal, 5, vec![1, 2, 3]);
        assert!(tx.verify_signature(genesis));
        assert!(!tx.verify_signature(blake2_256(b"other chain")));
        let mut t = tx.clone();
        t.nonce = 4;
        assert!(!t.verify_signature(genesis));
        let mut t = tx.clone();
        t.call.push(0);
        assert!(!t.verify_signature(genesis));
        let mut t = tx;
        t.tip = 6;
        assert!(!t.verify_signature(genesis));
    }

    #[test]
    fn long_payloads_are_signed_through_their_hash() {
        let bob = Pair::from_string("//Bob", None).unwrap();
        let genesis = Hash::ZERO;
        let tx = Transaction::signed(&bob, genesis, 0, Mortality::Immortal, 0, vec![9; 1000]);
        assert_eq!(tx.payload(genesis).signing_bytes().len(), 32);
        assert!(tx.verify_signature(genesis));
    }

    #[test]
    fn mortality_window() {
        assert!(Mortality::Immortal.is_alive_at(u64::MAX));
        assert!(Mortality::Mortal { until: 10 }.is_alive_at(10));
        assert!(!Mortality::Mortal { until: 10 }.is_alive_at(11));
    }
}
