//! The grantee's side: verify cfrags from the proxies and open an interval's data key.
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use rand_core::{CryptoRng, OsRng, RngCore};
use umbral_pre::{Capsule, PublicKey, SecretKey, VerifiedCapsuleFrag};

use crate::{
    grant::GrantTerms,
    key::DataKey,
    manifest::IntervalManifest,
    umbral::{cfrag_from_bytes, UmbralKey},
    Error, Result,
};

/// A grantee's Umbral key pair.
pub struct GranteeKeys {
    secret: SecretKey,
    // Cached: deriving a public key is a scalar multiplication.
    public: PublicKey,
    public_bytes: UmbralKey,
}

/// The keys and capsule a set of cfrags is verified against, parsed once.
struct Context {
    capsule: Capsule,
    owner: PublicKey,
    verifying: PublicKey,
}

impl GranteeKeys {
    /// Fresh keys from the OS.
    pub fn random() -> Self {
        Self::random_with_rng(&mut OsRng)
    }

    /// Fresh keys from `rng`.
    pub fn random_with_rng(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::new(SecretKey::random_with_rng(rng))
    }

    /// Keys derived from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::random_with_rng(&mut ChaCha20Rng::from_seed(seed))
    }

    /// Wraps an existing secret key.
    pub fn new(secret: SecretKey) -> Self {
        let public = secret.public_key();
        GranteeKeys { public_bytes: UmbralKey::from_public(&public), secret, public }
    }

    /// The public key grants are made for.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    fn context(&self, terms: &GrantTerms, manifest: &IntervalManifest) -> Result<Context> {
        if terms.grantee_key != self.public_bytes {
            return Err(Error::Grant("these terms grant another key, not this grantee".into()));
        }
        Ok(Context {
            capsule: manifest.capsule()?,
            owner: terms.owner_key.to_public()?,
            verifying: terms.owner_verifying_key.to_public()?,
        })
    }

    /// Verifies `cfrags` (standard bytes, one per proxy) for `manifest`'s capsule under `terms`,
    /// and keeps those that verify, one per kfrag.
    ///
    /// Returns the verified cfrags, or an error if fewer than `terms.threshold` verify: the
    /// first invalid cfrag's error if there was one, else [`Error::NotEnoughCfrags`].
    pub fn verify_cfrags(
        &self,
        terms: &GrantTerms,
        manifest: &IntervalManifest,
        cfrags: &[Vec<u8>],
    ) -> Result<Vec<VerifiedCapsuleFrag>> {
        let ctx = self.context(terms, manifest)?;
        self.verify_with(&ctx, terms, cfrags)
    }

    fn verify_with(
        &self,
        ctx: &Context,
        terms: &GrantTerms,
        cfrags: &[Vec<u8>],
    ) -> Result<Vec<VerifiedCapsuleFrag>> {
        let mut valid: Vec<VerifiedCapsuleFrag> = Vec::new();
        let mut seen_kfrags: Vec<String> = Vec::new();
        let mut first_error = None;
        for (index, bytes) in cfrags.iter().enumerate() {
            let checked = cfrag_from_bytes(bytes)
                .map_err(|e| Error::CfragInvalid { index, reason: e.to_string() })
                .and_then(|c| {
                    c.verify(&ctx.capsule, &ctx.verifying, &ctx.owner, &self.public)
                        .map_err(|(e, _)| Error::CfragInvalid { index, reason: e.to_string() })
                });
            match checked {
                Ok(v) => {
                    // umbral-pre prints a cfrag as its kfrag id (first 8 bytes, hex): two cfrags
                    // from the same kfrag (the same proxy) count once. This avoids re-encoding
                    // the cfrag's eight curve points just to read its id.
                    let kfrag = v.to_string();
                    if !seen_kfrags.contains(&kfrag) {
                        seen_kfrags.push(kfrag);
                        valid.push(v);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let need = usize::from(terms.threshold);
        if valid.len() < need {
            return Err(first_error.unwrap_or(Error::NotEnoughCfrags { have: valid.len(), need }));
        }
        Ok(valid)
    }

    /// Opens `manifest`'s data key with cfrags from at least `terms.threshold` proxies.
    pub fn open_data_key(
        &self,
        terms: &GrantTerms,
        manifest: &IntervalManifest,
        cfrags: &[Vec<u8>],
    ) -> Result<DataKey> {
        let ctx = self.context(terms, manifest)?;
        let verified = self.verify_with(&ctx, terms, cfrags)?;
        let key = umbral_pre::decrypt_reencrypted(
            &self.secret,
            &ctx.owner,
            &ctx.capsule,
            verified.into_iter().take(usize::from(terms.threshold)),
            &manifest.key_ciphertext[..],
        )
        .map_err(|e| Error::Open { what: "data key", reason: e.to_string() })?;
        DataKey::from_slice(&key)
    }
}

impl core::fmt::Debug for GranteeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GranteeKeys").field("public_key", &self.public_bytes).finish()
    }
}
