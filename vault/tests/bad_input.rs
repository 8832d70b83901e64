//! Bad input: each case is a clear error and nothing is decrypted.
mod common;

use common::*;
use itc_vault::{
    manifest::ChunkEnvelope, open_interval, Error, IntervalManifest, LocalStorage, SealedKfrag,
    Storage,
};
use parity_scale_codec::{Decode, Encode};

fn sealed_world(
    seed: u64,
    dir: &str,
) -> (World, itc_vault::SealedInterval, LocalStorage, tempfile::TempDir) {
    let world = World::new(seed, 0, 5);
    let dir = temp_dir(dir);
    let storage = LocalStorage::new(dir.path()).unwrap();
    let sealed = seal(&world.owner, 1, 60, seed + 50);
    upload(&sealed, &storage);
    (world, sealed, storage, dir)
}

#[test]
fn tampered_chunk_is_rejected_before_decryption() {
    let (world, sealed, storage, _dir) = sealed_world(10, "tamper");
    let key = world.owner.open_data_key(&sealed.manifest).unwrap();
    let uri = sealed.manifest.chunk_uri(1);
    // Flip one ciphertext bit inside the envelope.
    let mut env = ChunkEnvelope::decode(&mut &storage.get(&uri).unwrap()[..]).unwrap();
    env.sealed[30] ^= 0x01;
    storage.put(&uri, &env.encode()).unwrap();
    let err = open_interval(&sealed.manifest, &key, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::ChunkIntegrity { interval: 1, chunk: 1, .. }), "{err}");
    assert!(err.to_string().contains("tampered"), "{err}");

    // A chunk swapped in from another position fails too (its proof is for another leaf).
    storage.put(&uri, &storage.get(&sealed.manifest.chunk_uri(0)).unwrap()).unwrap();
    let err = open_interval(&sealed.manifest, &key, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::ChunkIntegrity { chunk: 1, .. }), "{err}");

    // Garbage bytes are a clear error, not a panic.
    storage.put(&uri, b"not an envelope").unwrap();
    let err = open_interval(&sealed.manifest, &key, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::ChunkIntegrity { chunk: 1, .. }), "{err}");
}

#[test]
fn tampered_chunk_stops_the_stream_with_the_integrity_error() {
    let world = World::new(11, 0, 5);
    let dir = temp_dir("tamper-stream");
    let storage = LocalStorage::new(dir.path()).unwrap();
    // Big enough that the reader yields records before it reaches the last chunk.
    let n = 6000;
    let sealed = seal(&world.owner, 1, n, 61);
    upload(&sealed, &storage);
    let key = world.owner.open_data_key(&sealed.manifest).unwrap();
    let last = sealed.manifest.chunk_count - 1;
    let uri = sealed.manifest.chunk_uri(last);
    let mut env = ChunkEnvelope::decode(&mut &storage.get(&uri).unwrap()[..]).unwrap();
    env.sealed[0] ^= 0x80;
    storage.put(&uri, &env.encode()).unwrap();
    let schema = schema();
    let results: Vec<_> =
        itc_vault::stream_interval(&sealed.manifest, &key, &storage, &schema).unwrap().collect();
    let (last, good) = results.split_last().unwrap();
    let err = last.as_ref().unwrap_err();
    assert!(matches!(err, Error::ChunkIntegrity { .. }), "{err}");
    assert!(!good.is_empty() && good.len() < n, "{} records before the error", good.len());
    let expected = records(1, n);
    for (got, want) in good.iter().zip(&expected) {
        assert_eq!(got.as_ref().unwrap(), want);
    }
}

#[test]
fn wrong_data_key_decrypts_nothing() {
    let (world, sealed, storage, _dir) = sealed_world(12, "wrong-key");
    let other = seal(&world.owner, 2, 10, 99);
    let wrong = world.owner.open_data_key(&other.manifest).unwrap();
    let err = open_interval(&sealed.manifest, &wrong, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::ChunkDecrypt { interval: 1, chunk: 0 }), "{err}");
    assert!(err.to_string().contains("key is wrong"), "{err}");
}

#[test]
fn wrong_umbral_key_cannot_open_the_data_key() {
    let (_, sealed, _, _dir) = sealed_world(13, "wrong-owner");
    let stranger = itc_vault::OwnerKeys::from_seed([77; 32]);
    let err = stranger.open_data_key(&sealed.manifest).unwrap_err();
    assert!(matches!(err, Error::Open { what: "data key", .. }), "{err}");
}

#[test]
fn truncated_manifest_is_a_decode_error() {
    let (_, sealed, _, _dir) = sealed_world(14, "truncated");
    let bytes = sealed.manifest.to_bytes();
    for cut in 0..bytes.len() {
        let err = IntervalManifest::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "cut {cut}: {err}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(IntervalManifest::from_bytes(&long), Err(Error::Decode { .. })));
    assert_eq!(IntervalManifest::from_bytes(&bytes).unwrap(), sealed.manifest);
}

#[test]
fn inconsistent_manifest_is_rejected() {
    let (world, sealed, storage, _dir) = sealed_world(15, "inconsistent");
    let key = world.owner.open_data_key(&sealed.manifest).unwrap();
    let mut m = sealed.manifest.clone();
    m.chunk_count -= 1; // drop the last chunk
    assert!(matches!(IntervalManifest::from_bytes(&m.to_bytes()), Err(Error::Manifest(_))));
    assert!(open_interval(&m, &key, &storage, &schema()).is_err());
    let mut m = sealed.manifest.clone();
    m.plaintext_size += 1;
    let err = open_interval(&m, &key, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::Decompress { .. }), "{err}");
    // Sizes a hostile manifest claims cost nothing up front: a clear error, no huge allocation.
    let mut m = sealed.manifest.clone();
    m.plaintext_size = u64::MAX / 2;
    let err = open_interval(&m, &key, &storage, &schema()).unwrap_err();
    assert!(matches!(err, Error::Decompress { .. }), "{err}");
    let mut m = sealed.manifest.clone();
    m.version = 9;
    assert!(matches!(IntervalManifest::from_bytes(&m.to_bytes()), Err(Error::Manifest(_))));
}

#[test]
fn forged_cfrag_is_rejected() {
    let (world, sealed, _, _dir) = sealed_world(16, "forged");
    let mut cfrags = world.cfrags(&sealed.manifest, &[0, 1]);
    // A cfrag made by a proxy holding a kfrag from a forger (not signed by the owner).
    let forger = itc_vault::OwnerKeys::from_seed([66; 32]);
    let fake_terms = forger
        .grant_terms(
            DATASET,
            0,
            5,
            &world.grantee.public_key(),
            &[world.proxies[2].public_key()],
            1,
            0,
        )
        .unwrap();
    let fake_kfrag = forger.issue_with_rng(&mut rng(6), &fake_terms).unwrap().remove(0);
    world.proxies[2].accept(&fake_terms, &fake_kfrag).unwrap();
    let forged =
        world.proxies[2].reencrypt(&fake_terms.id(), &sealed.manifest, |_, _| true).unwrap();
    cfrags[1] = forged;
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &cfrags).unwrap_err();
    assert!(matches!(err, Error::CfragInvalid { index: 1, .. }), "{err}");

    // Bit-flipped and garbage cfrags too.
    let mut flipped = world.cfrags(&sealed.manifest, &[0, 1]);
    let n = flipped[0].len();
    flipped[0][n - 5] ^= 0x01;
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &flipped).unwrap_err();
    assert!(matches!(err, Error::CfragInvalid { index: 0, .. }), "{err}");
    let garbage = vec![vec![1, 2, 3], world.cfrags(&sealed.manifest, &[2]).remove(0)];
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &garbage).unwrap_err();
    assert!(matches!(err, Error::CfragInvalid { index: 0, .. }), "{err}");

    // With a forged one plus two honest ones the grantee still gets in.
    let mut three = world.cfrags(&sealed.manifest, &[0, 1]);
    three.insert(0, vec![9; 10]);
    assert!(world.grantee.open_data_key(&world.terms, &sealed.manifest, &three).is_ok());
}

#[test]
fn too_few_cfrags_open_nothing() {
    let (world, sealed, _, _dir) = sealed_world(17, "too-few");
    let one = world.cfrags(&sealed.manifest, &[1]);
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &one).unwrap_err();
    assert!(matches!(err, Error::NotEnoughCfrags { have: 1, need: 2 }), "{err}");
    // The same proxy twice counts once.
    let twice = vec![one[0].clone(), one[0].clone()];
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &twice).unwrap_err();
    assert!(matches!(err, Error::NotEnoughCfrags { have: 1, need: 2 }), "{err}");
}

#[test]
fn cfrags_for_another_grantee_do_not_verify() {
    let (world, sealed, _, _dir) = sealed_world(18, "other-grantee");
    let cfrags = world.cfrags(&sealed.manifest, &[0, 1]);
    let eve = itc_vault::GranteeKeys::from_seed([3; 32]);
    let err = eve.open_data_key(&world.terms, &sealed.manifest, &cfrags).unwrap_err();
    assert!(matches!(err, Error::Grant(_)), "{err}");
    let mut eve_terms = world.terms.clone();
    eve_terms.grantee_key = itc_vault::umbral::UmbralKey::from_public(&eve.public_key());
    let err = eve.open_data_key(&eve_terms, &sealed.manifest, &cfrags).unwrap_err();
    assert!(matches!(err, Error::CfragInvalid { .. }), "{err}");
}

#[test]
fn kfrags_sealed_to_another_proxy_or_grant_are_refused() {
    let world = World::new(19, 0, 1);
    let sealed = world.owner.issue_with_rng(&mut rng(1), &world.terms).unwrap();
    // Proxy 1 is handed proxy 0's kfrag.
    let err = world.proxies[1].accept(&world.terms, &sealed[0]).unwrap_err();
    assert!(matches!(err, Error::KfragInvalid { .. }), "{err}");
    // Relabelled to another grant.
    let mut other_terms = world.terms.clone();
    other_terms.last_interval = 100;
    let mut relabelled = sealed[0].clone();
    relabelled.grant = other_terms.id();
    let err = world.proxies[0].accept(&other_terms, &relabelled).unwrap_err();
    assert!(matches!(err, Error::KfragInvalid { .. }), "{err}");
    // Truncated sealed kfrag bytes.
    let bytes = sealed[0].to_bytes();
    assert!(matches!(
        SealedKfrag::from_bytes(&bytes[..bytes.len() - 1]),
        Err(Error::Decode { .. })
    ));
    // A flipped ciphertext bit: the proxy cannot open it.
    let mut flipped = sealed[0].clone();
    let mut ct = flipped.ciphertext.clone().into_inner();
    ct[40] ^= 1;
    flipped.ciphertext = itc_primitives::BoundedVec::new(ct).unwrap();
    assert!(matches!(world.proxies[0].accept(&world.terms, &flipped), Err(Error::Open { .. })));
}

#[test]
fn invalid_grant_terms_are_rejected() {
    let world = World::new(20, 0, 1);
    let keys: Vec<_> = world.proxies.iter().map(|p| p.public_key()).collect();
    let g = world.grantee.public_key();
    let o = &world.owner;
    assert!(matches!(o.grant_terms(DATASET, 0, 1, &g, &keys, 0, 0), Err(Error::Grant(_))));
    assert!(matches!(o.grant_terms(DATASET, 0, 1, &g, &keys, 4, 0), Err(Error::Grant(_))));
    assert!(matches!(o.grant_terms(DATASET, 2, 1, &g, &keys, 2, 0), Err(Error::Grant(_))));
    let dup = [keys[0], keys[0]];
    assert!(matches!(o.grant_terms(DATASET, 0, 1, &g, &dup, 1, 0), Err(Error::Grant(_))));
}
