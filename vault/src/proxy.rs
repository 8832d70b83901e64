//! The proxy service: holds kfrags, and re-encrypts capsules for live grants only.
//!
//! A proxy accepts a [`SealedKfrag`] together with the grant's on-chain [`GrantTerms`], opens it
//! with its own Umbral secret key and verifies the kfrag against the owner's verifying key and
//! the owner's and grantee's public keys. On request it re-encrypts the capsule of an interval
//! manifest, but only if the interval is within the terms and the caller's grant-check (the
//! chain: is the grant still live, is this manifest the one on chain?) says yes. Revocation
//! deletes the kfrag; from then on the proxy cannot help anyone with that grant.
use std::{collections::HashMap, sync::Mutex};

use rand_core::{CryptoRng, OsRng, RngCore};
use umbral_pre::{PublicKey, SecretKey, VerifiedKeyFrag};

use crate::{
    grant::{GrantId, GrantTerms, SealedKfrag},
    manifest::IntervalManifest,
    storage::dataset_hex,
    umbral::{capsule_from_bytes, kfrag_from_bytes, to_standard_bytes, UmbralKey},
    Error, Result,
};

struct Held {
    terms: GrantTerms,
    kfrag: VerifiedKeyFrag,
}

/// A re-encryption proxy. Thread-safe: share it behind an `Arc`.
pub struct ProxyService {
    secret: SecretKey,
    public: PublicKey,
    public_bytes: UmbralKey,
    held: Mutex<HashMap<GrantId, Held>>,
}

impl ProxyService {
    /// A proxy with the Umbral secret key `secret`.
    pub fn new(secret: SecretKey) -> Self {
        let public = secret.public_key();
        ProxyService {
            public_bytes: UmbralKey::from_public(&public),
            secret,
            public,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// A proxy with a fresh key from `rng`.
    pub fn random_with_rng(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::new(SecretKey::random_with_rng(rng))
    }

    /// The public key owners seal kfrags to.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<GrantId, Held>> {
        // A panic while holding the lock leaves the map consistent (every update is a single
        // insert or remove), so a poisoned lock is safe to keep using.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens and verifies a sealed kfrag for `terms`, and keeps it. Returns the grant id.
    pub fn accept(&self, terms: &GrantTerms, sealed: &SealedKfrag) -> Result<GrantId> {
        terms.validate()?;
        let grant = terms.id();
        let invalid = |reason: String| Error::KfragInvalid { grant: grant.to_hex(), reason };
        if sealed.grant != grant {
            return Err(invalid("the sealed kfrag names another grant".into()));
        }
        let me = self.public_bytes;
        if sealed.proxy != me || !terms.proxies.contains(&me) {
            return Err(invalid("it is sealed to another proxy".into()));
        }
        let capsule = capsule_from_bytes(&sealed.capsule)?;
        let plain = umbral_pre::decrypt_original(&self.secret, &capsule, &sealed.ciphertext[..])
            .map_err(|e| Error::Open { what: "sealed kfrag", reason: e.to_string() })?;
        let (embedded, kfrag_bytes) = plain.split_at(plain.len().min(32));
        if embedded != grant.0 {
            return Err(invalid("the sealed plaintext names another grant".into()));
        }
        let kfrag = kfrag_from_bytes(kfrag_bytes)?
            .verify(
                &terms.owner_verifying_key.to_public()?,
                Some(&terms.owner_key.to_public()?),
                Some(&terms.grantee_key.to_public()?),
            )
            .map_err(|(e, _)| invalid(e.to_string()))?;
        self.held().insert(grant, Held { terms: terms.clone(), kfrag });
        Ok(grant)
    }

    /// Whether this proxy holds a kfrag for `grant`.
    pub fn holds(&self, grant: &GrantId) -> bool {
        self.held().contains_key(grant)
    }

    /// The terms of a held grant.
    pub fn terms(&self, grant: &GrantId) -> Option<GrantTerms> {
        self.held().get(grant).map(|h| h.terms.clone())
    }

    /// Deletes the kfrag of `grant` (revocation, crypto-shredding). Returns whether one was held.
    pub fn revoke(&self, grant: &GrantId) -> bool {
        self.held().remove(grant).is_some()
    }

    /// Re-encrypts `manifest`'s capsule under `grant`, returning the cfrag's standard bytes.
    ///
    /// `is_live(terms, manifest)` is asked last, after the proxy's own checks (the kfrag is held,
    /// the manifest is well-formed and its interval is within the terms); it must consult the
    /// chain: the grant is not revoked or expired, and `manifest` is the one recorded on chain.
    pub fn reencrypt(
        &self,
        grant: &GrantId,
        manifest: &IntervalManifest,
        is_live: impl FnOnce(&GrantTerms, &IntervalManifest) -> bool,
    ) -> Result<Vec<u8>> {
        self.reencrypt_with_rng(&mut OsRng, grant, manifest, is_live)
    }

    /// As [`ProxyService::reencrypt`], with randomness from `rng`.
    pub fn reencrypt_with_rng(
        &self,
        rng: &mut (impl CryptoRng + RngCore),
        grant: &GrantId,
        manifest: &IntervalManifest,
        is_live: impl FnOnce(&GrantTerms, &IntervalManifest) -> bool,
    ) -> Result<Vec<u8>> {
        let (terms, kfrag) = {
            let held = self.held();
            let h = held.get(grant).ok_or_else(|| Error::UnknownGrant { grant: grant.to_hex() })?;
            (h.terms.clone(), h.kfrag.clone())
        };
        let not_live = || Error::GrantNotLive {
            grant: grant.to_hex(),
            dataset: dataset_hex(&manifest.dataset),
            interval: manifest.interval,
        };
        if !terms.covers(&manifest.dataset, manifest.interval) {
            return Err(not_live());
        }
        let capsule = manifest.capsule()?;
        if !is_live(&terms, manifest) {
            return Err(not_live());
        }
        let cfrag = umbral_pre::reencrypt_with_rng(rng, &capsule, kfrag);
        to_standard_bytes(&cfrag, "cfrag")
    }
}

/// Re-encrypts one capsule with one kfrag, if `is_live` allows: the stateless core of
/// [`ProxyService::reencrypt`] for callers that keep kfrags elsewhere. Takes and returns
/// standard bytes.
pub fn reencrypt_capsule(
    rng: &mut (impl CryptoRng + RngCore),
    kfrag: &VerifiedKeyFrag,
    capsule: &[u8],
    is_live: impl FnOnce() -> bool,
) -> Result<Vec<u8>> {
    let capsule = capsule_from_bytes(capsule)?;
    if !is_live() {
        return Err(Error::Grant("the grant check refused re-encryption".into()));
    }
    to_standard_bytes(&umbral_pre::reencrypt_with_rng(rng, &capsule, kfrag.clone()), "cfrag")
}

impl core::fmt::Debug for ProxyService {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProxyService")
            .field("public_key", &self.public_bytes)
            .field("grants", &self.held().len())
            .finish()
    }
}
