//! Grants: the owner's side of threshold proxy re-encryption.
//!
//! A grant lets one grantee read intervals `first_interval..=last_interval` of one dataset. The
//! owner makes `threshold`-of-`proxies.len()` Umbral kfrags for the grantee's key (signed by the
//! owner's signing key, binding both the owner's and the grantee's public keys) and seals each
//! kfrag to one proxy:
//!
//! ```text
//! SealedKfrag = SCALE { grant: GrantId (32 bytes), proxy: UmbralKey (33 bytes),
//!                       capsule: Vec<u8>, ciphertext: Vec<u8> }
//! (capsule, ciphertext) = umbral_pre::encrypt(proxy's public key, grant id ++ kfrag bytes)
//! ```
//!
//! i.e. Umbral's own KEM/DEM (secp256k1 ECDH → HKDF-SHA256 → XChaCha20-Poly1305) to the proxy's
//! Umbral key; the grant id inside the plaintext stops a sealed kfrag being replayed under
//! another grant. Kfrag bytes are umbral-pre's default serialisation ([`crate::umbral`]).
//!
//! [`GrantTerms`] is what the chain records about a grant; its `blake2b-256` is the [`GrantId`].
use itc_primitives::{decode_untrusted, hash::hash_of, BoundedVec, Hash};
use parity_scale_codec::{Decode, Encode};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use rand_core::{CryptoRng, OsRng, RngCore};
use umbral_pre::{PublicKey, SecretKey, Signer};

use crate::{
    key::DataKey,
    manifest::{DatasetId, IntervalManifest},
    umbral::{to_standard_bytes, UmbralKey},
    Error, Result,
};

/// A grant's id: `blake2b-256(SCALE(GrantTerms))`.
pub type GrantId = Hash;
/// At most this many proxies per grant.
pub const MAX_PROXIES: usize = 32;
/// Upper bound on a sealed kfrag's capsule and ciphertext.
pub const MAX_SEALED_KFRAG_BYTES: usize = 4096;

/// What the chain records about a grant. SCALE in field order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GrantTerms {
    /// The dataset.
    pub dataset: DatasetId,
    /// First interval covered.
    #[codec(compact)]
    pub first_interval: u64,
    /// Last interval covered (inclusive).
    #[codec(compact)]
    pub last_interval: u64,
    /// The owner's Umbral public key (the key the capsules are made for).
    pub owner_key: UmbralKey,
    /// The owner's Umbral verifying key (signs kfrags).
    pub owner_verifying_key: UmbralKey,
    /// The grantee's Umbral public key.
    pub grantee_key: UmbralKey,
    /// The proxies, one kfrag each.
    pub proxies: BoundedVec<UmbralKey, MAX_PROXIES>,
    /// How many cfrags open a capsule (M of N).
    pub threshold: u8,
    /// Distinguishes otherwise equal grants (e.g. a renewed grant).
    #[codec(compact)]
    pub nonce: u64,
}

impl GrantTerms {
    /// The grant id.
    pub fn id(&self) -> GrantId {
        hash_of(self)
    }

    /// Whether interval `interval` of `dataset` is covered.
    pub fn covers(&self, dataset: &DatasetId, interval: u64) -> bool {
        &self.dataset == dataset && (self.first_interval..=self.last_interval).contains(&interval)
    }

    /// Checks threshold and range, and that every key parses.
    pub fn validate(&self) -> Result<()> {
        self.check_shape()?;
        for p in self.proxies.iter() {
            p.to_public()?;
        }
        self.owner_key.to_public()?;
        self.owner_verifying_key.to_public()?;
        self.grantee_key.to_public()?;
        Ok(())
    }

    /// Checks threshold, range and that no proxy is listed twice, without parsing keys.
    fn check_shape(&self) -> Result<()> {
        let n = self.proxies.len();
        if self.threshold == 0 || usize::from(self.threshold) > n {
            return Err(Error::Grant(format!(
                "threshold {} must be between 1 and the number of proxies ({n})",
                self.threshold
            )));
        }
        if self.first_interval > self.last_interval {
            return Err(Error::Grant(format!(
                "interval range {}..={} is empty",
                self.first_interval, self.last_interval
            )));
        }
        for (i, p) in self.proxies.iter().enumerate() {
            if self.proxies[..i].contains(p) {
                return Err(Error::Grant(format!("proxy {p:?} is listed twice")));
            }
        }
        Ok(())
    }
}

/// A kfrag sealed to one proxy. See the module docs for the layout.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SealedKfrag {
    /// The grant it belongs to.
    pub grant: GrantId,
    /// The proxy it is sealed to.
    pub proxy: UmbralKey,
    /// Umbral capsule (standard bytes) for the proxy's key.
    pub capsule: BoundedVec<u8, MAX_SEALED_KFRAG_BYTES>,
    /// `grant id ++ kfrag bytes`, encrypted under the capsule.
    pub ciphertext: BoundedVec<u8, MAX_SEALED_KFRAG_BYTES>,
}

impl SealedKfrag {
    /// SCALE bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Decodes from untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode_untrusted(bytes).map_err(|e| Error::decode("sealed kfrag", e))
    }
}

/// The data owner's Umbral keys: an encryption key (capsules are made for it) and a signing
/// key (kfrags are signed with it).
pub struct OwnerKeys {
    secret: SecretKey,
    signer: Signer,
    // Cached: deriving a public key is a scalar multiplication.
    public: PublicKey,
    verifying: PublicKey,
    public_bytes: UmbralKey,
    verifying_bytes: UmbralKey,
}

impl OwnerKeys {
    /// Fresh keys from the OS.
    pub fn random() -> Self {
        Self::random_with_rng(&mut OsRng)
    }

    /// Fresh keys from `rng`.
    pub fn random_with_rng(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let secret = SecretKey::random_with_rng(rng);
        let signer = Signer::new(SecretKey::random_with_rng(rng));
        let public = secret.public_key();
        let verifying = signer.verifying_key();
        OwnerKeys {
            public_bytes: UmbralKey::from_public(&public),
            verifying_bytes: UmbralKey::from_public(&verifying),
            secret,
            signer,
            public,
            verifying,
        }
    }

    /// Keys derived from a 32-byte seed (ChaCha20 stream): same seed, same keys.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::random_with_rng(&mut ChaCha20Rng::from_seed(seed))
    }

    /// The public key capsules are made for.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The key kfrags are verified against.
    pub fn verifying_key(&self) -> PublicKey {
        self.verifying
    }

    /// The encryption secret (for the owner's own tooling; never send it anywhere).
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Opens an interval's data key directly (the owner needs no proxy).
    pub fn open_data_key(&self, manifest: &IntervalManifest) -> Result<DataKey> {
        let capsule = manifest.capsule()?;
        let key =
            umbral_pre::decrypt_original(&self.secret, &capsule, &manifest.key_ciphertext[..])
                .map_err(|e| Error::Open { what: "data key", reason: e.to_string() })?;
        DataKey::from_slice(&key)
    }

    /// Terms for a grant of `dataset` intervals `first..=last` to `grantee`, through `proxies`
    /// with threshold `threshold`.
    pub fn grant_terms(
        &self,
        dataset: DatasetId,
        first: u64,
        last: u64,
        grantee: &PublicKey,
        proxies: &[PublicKey],
        threshold: u8,
        nonce: u64,
    ) -> Result<GrantTerms> {
        let proxies = BoundedVec::new(proxies.iter().map(UmbralKey::from_public).collect())
            .map_err(|p| Error::Grant(format!("{} proxies, at most {MAX_PROXIES}", p.len())))?;
        let terms = GrantTerms {
            dataset,
            first_interval: first,
            last_interval: last,
            owner_key: self.public_bytes,
            owner_verifying_key: self.verifying_bytes,
            grantee_key: UmbralKey::from_public(grantee),
            proxies,
            threshold,
            nonce,
        };
        terms.validate()?;
        Ok(terms)
    }

    /// Makes the kfrags of `terms` and seals one to each proxy, in the order of `terms.proxies`.
    pub fn issue(&self, terms: &GrantTerms) -> Result<Vec<SealedKfrag>> {
        self.issue_with_rng(&mut OsRng, terms)
    }

    /// As [`OwnerKeys::issue`], with randomness from `rng`.
    pub fn issue_with_rng(
        &self,
        rng: &mut (impl CryptoRng + RngCore),
        terms: &GrantTerms,
    ) -> Result<Vec<SealedKfrag>> {
        // The owner's keys are compared, not parsed; the grantee's and proxies' keys are parsed
        // once here.
        terms.check_shape()?;
        if terms.owner_key != self.public_bytes || terms.owner_verifying_key != self.verifying_bytes
        {
            return Err(Error::Grant("the terms name another owner's keys".into()));
        }
        let grantee = terms.grantee_key.to_public()?;
        let proxies = terms.proxies.iter().map(UmbralKey::to_public).collect::<Result<Vec<_>>>()?;
        let kfrags = umbral_pre::generate_kfrags_with_rng(
            rng,
            &self.secret,
            &grantee,
            &self.signer,
            usize::from(terms.threshold),
            terms.proxies.len(),
            true,
            true,
        );
        let grant = terms.id();
        kfrags
            .iter()
            .zip(terms.proxies.iter().zip(&proxies))
            .map(|(kfrag, (proxy, proxy_pk))| {
                let mut plain = grant.0.to_vec();
                plain.extend_from_slice(&to_standard_bytes(kfrag, "kfrag")?);
                let (capsule, ciphertext) = umbral_pre::encrypt_with_rng(rng, proxy_pk, &plain)
                    .map_err(|e| Error::Umbral { what: "kfrag sealing", reason: e.to_string() })?;
                let bounded = |what: &'static str, b: Vec<u8>| {
                    BoundedVec::new(b).map_err(|b| Error::Umbral {
                        what,
                        reason: format!("{} bytes, at most {MAX_SEALED_KFRAG_BYTES}", b.len()),
                    })
                };
                Ok(SealedKfrag {
                    grant,
                    proxy: *proxy,
                    capsule: bounded("capsule", to_standard_bytes(&capsule, "capsule")?)?,
                    ciphertext: bounded("sealed kfrag", ciphertext.into_vec())?,
                })
            })
            .collect()
    }
}

impl core::fmt::Debug for OwnerKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnerKeys")
            .field("public_key", &self.public_bytes)
            .field("verifying_key", &self.verifying_bytes)
            .finish()
    }
}
