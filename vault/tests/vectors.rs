//! Hex test vectors of the SCALE formats this crate defines (see the module docs).
use itc_primitives::{decode_untrusted, merkle::MerkleProof, BoundedVec, Hash};
use itc_vault::{grant::GrantTerms, manifest::ChunkEnvelope, umbral::UmbralKey, IntervalManifest};
use parity_scale_codec::Encode;

#[test]
fn interval_manifest_vector() {
    let m = IntervalManifest {
        version: 1,
        dataset: Hash([0x11; 32]),
        interval: 5,
        schema_hash: Hash([0x22; 32]),
        record_count: 3,
        plaintext_size: 100,
        compressed_size: 80,
        chunk_size: 64,
        chunk_count: 2,
        chunks_root: Hash([0x33; 32]),
        capsule: BoundedVec::new(vec![1, 2, 3]).unwrap(),
        key_ciphertext: BoundedVec::new(vec![4]).unwrap(),
    };
    let expected = format!(
        "01{}14{}0c910141010101 08{}0c010203 0404",
        "11".repeat(32),
        "22".repeat(32),
        "33".repeat(32)
    )
    .replace(' ', "");
    assert_eq!(hex::encode(m.encode()), expected);
    assert_eq!(decode_untrusted::<IntervalManifest>(&hex::decode(&expected).unwrap()).unwrap(), m);
    // The capsule bytes are not a real capsule, so the checked decoder refuses them.
    assert!(IntervalManifest::from_bytes(&m.encode()).is_err());
}

#[test]
fn chunk_envelope_vector() {
    let env = ChunkEnvelope {
        proof: MerkleProof { leaf_index: 0, leaf_count: 1, siblings: BoundedVec::default() },
        sealed: vec![0xaa, 0xbb],
    };
    assert_eq!(hex::encode(env.encode()), "00040008aabb");
}

#[test]
fn grant_terms_vector() {
    let terms = GrantTerms {
        dataset: Hash([0x44; 32]),
        first_interval: 0,
        last_interval: 9,
        owner_key: UmbralKey([2; 33]),
        owner_verifying_key: UmbralKey([3; 33]),
        grantee_key: UmbralKey([4; 33]),
        proxies: BoundedVec::new(vec![UmbralKey([5; 33])]).unwrap(),
        threshold: 1,
        nonce: 0,
    };
    let expected = format!(
        "{}0024{}{}{}04{}0100",
        "44".repeat(32),
        "02".repeat(33),
        "03".repeat(33),
        "04".repeat(33),
        "05".repeat(33)
    );
    assert_eq!(hex::encode(terms.encode()), expected);
    assert_eq!(terms.id(), itc_primitives::blake2_256(&hex::decode(&expected).unwrap()));
}
