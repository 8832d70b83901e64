//! Per-capsule cost of the grant path through this crate's API, against raw umbral-pre calls
//! doing the same cryptographic work (parse the capsule from its bytes, serialise the result),
//! measured in the same run. The bare umbral-pre primitive is printed too, for reference.
//!
//! Run: `cargo bench -p itc-vault --bench umbral -- --warm-up-time 1 --measurement-time 3`
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use itc_primitives::{
    dataset::{FieldType, Schema, Value},
    Hash,
};
use itc_vault::{seal_interval_with_rng, GranteeKeys, OwnerKeys, ProxyService, SealConfig};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use umbral_pre::{Capsule, CapsuleFrag, DefaultDeserialize, DefaultSerialize, PublicKey};

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let owner = OwnerKeys::random_with_rng(&mut rng);
    let grantee = GranteeKeys::random_with_rng(&mut rng);
    let proxies: Vec<ProxyService> =
        (0..3).map(|_| ProxyService::random_with_rng(&mut rng)).collect();
    let proxy_keys: Vec<_> = proxies.iter().map(|p| p.public_key()).collect();
    let terms =
        owner.grant_terms(Hash([1; 32]), 0, 100, &grantee.public_key(), &proxy_keys, 2, 0).unwrap();
    let sealed_kfrags = owner.issue_with_rng(&mut rng, &terms).unwrap();
    for (p, k) in proxies.iter().zip(&sealed_kfrags) {
        p.accept(&terms, k).unwrap();
    }
    let schema = Schema::from_fields(&[("v", FieldType::U64)]).unwrap();
    let sealed = seal_interval_with_rng(
        &mut rng,
        &owner.public_key(),
        Hash([1; 32]),
        0,
        &schema,
        &[vec![Value::U64(1)]],
        &SealConfig::default(),
    )
    .unwrap();
    let manifest = sealed.manifest;
    let grant = terms.id();
    let grantee_pk = grantee.public_key();

    // Raw umbral-pre material equal to what the crate holds.
    let raw_kfrags = umbral_pre::generate_kfrags_with_rng(
        &mut rng,
        owner.secret_key(),
        &grantee_pk,
        owner.signer(),
        2,
        3,
        true,
        true,
    );

    let mut g = c.benchmark_group("kfrag generation (2-of-3, sealed to 3 proxies)");
    g.bench_function("itc-vault OwnerKeys::issue", |b| {
        b.iter(|| black_box(owner.issue_with_rng(&mut rng, &terms).unwrap().len()))
    });
    // The grantee's and proxies' keys come from the chain as bytes, for both paths.
    let grantee_bytes = grantee_pk.to_compressed_bytes();
    let proxy_bytes: Vec<_> = proxy_keys.iter().map(|p| p.to_compressed_bytes()).collect();
    g.bench_function(
        "raw umbral-pre: parse keys + generate_kfrags + encrypt each to its proxy",
        |b| {
            b.iter(|| {
                let grantee = PublicKey::try_from_compressed_bytes(&grantee_bytes).unwrap();
                let proxies: Vec<_> = proxy_bytes
                    .iter()
                    .map(|p| PublicKey::try_from_compressed_bytes(p).unwrap())
                    .collect();
                let kfrags = umbral_pre::generate_kfrags_with_rng(
                    &mut rng,
                    owner.secret_key(),
                    &grantee,
                    owner.signer(),
                    2,
                    3,
                    true,
                    true,
                );
                let sealed: Vec<_> = kfrags
                    .iter()
                    .zip(&proxies)
                    .map(|(k, p)| {
                        umbral_pre::encrypt_with_rng(&mut rng, p, &k.to_bytes().unwrap()).unwrap()
                    })
                    .collect();
                black_box(sealed.len())
            })
        },
    );
    g.bench_function("reference: raw generate_kfrags alone", |b| {
        b.iter(|| {
            black_box(
                umbral_pre::generate_kfrags_with_rng(
                    &mut rng,
                    owner.secret_key(),
                    &grantee_pk,
                    owner.signer(),
                    2,
                    3,
                    true,
                    true,
                )
                .len(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("re-encryption (one capsule)");
    g.bench_function("itc-vault ProxyService::reencrypt", |b| {
        b.iter(|| {
            black_box(
                proxies[0]
                    .reencrypt_with_rng(&mut rng, &grant, &manifest, |_, _| true)
                    .unwrap()
                    .len(),
            )
        })
    });
    g.bench_function("raw umbral-pre: Capsule::from_bytes + reencrypt + to_bytes", |b| {
        b.iter(|| {
            let capsule = Capsule::from_bytes(&manifest.capsule).unwrap();
            let cfrag = umbral_pre::reencrypt_with_rng(&mut rng, &capsule, raw_kfrags[0].clone());
            black_box(cfrag.to_bytes().unwrap().len())
        })
    });
    let capsule = Capsule::from_bytes(&manifest.capsule).unwrap();
    g.bench_function("reference: raw reencrypt alone", |b| {
        b.iter(|| {
            black_box(umbral_pre::reencrypt_with_rng(&mut rng, &capsule, raw_kfrags[0].clone()))
        })
    });
    g.finish();

    let cfrags: Vec<Vec<u8>> = proxies[..2]
        .iter()
        .map(|p| p.reencrypt_with_rng(&mut rng, &grant, &manifest, |_, _| true).unwrap())
        .collect();
    let owner_pk = owner.public_key();
    let verifying = owner.verifying_key();
    let raw_verify = |capsule: &Capsule| {
        cfrags
            .iter()
            .map(|b| {
                CapsuleFrag::from_bytes(b)
                    .unwrap()
                    .verify(capsule, &verifying, &owner_pk, &grantee_pk)
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };

    let mut g = c.benchmark_group("cfrag verification (2 cfrags)");
    g.bench_function("itc-vault GranteeKeys::verify_cfrags", |b| {
        b.iter(|| black_box(grantee.verify_cfrags(&terms, &manifest, &cfrags).unwrap().len()))
    });
    g.bench_function(
        "raw umbral-pre: Capsule::from_bytes + CapsuleFrag::from_bytes + verify",
        |b| {
            b.iter(|| {
                let capsule = Capsule::from_bytes(&manifest.capsule).unwrap();
                black_box(raw_verify(&capsule).len())
            })
        },
    );
    g.finish();

    let mut g = c.benchmark_group("opening the data key (verify 2 cfrags + decrypt)");
    g.bench_function("itc-vault GranteeKeys::open_data_key", |b| {
        b.iter(|| black_box(grantee.open_data_key(&terms, &manifest, &cfrags).unwrap()))
    });
    // The grantee's secret key is private to GranteeKeys, so the raw path uses a fresh grantee
    // with kfrags of its own: identical work.
    let raw_grantee = umbral_pre::SecretKey::random_with_rng(&mut rng);
    let raw_kfrags = umbral_pre::generate_kfrags_with_rng(
        &mut rng,
        owner.secret_key(),
        &raw_grantee.public_key(),
        owner.signer(),
        2,
        3,
        true,
        true,
    );
    let raw_cfrags: Vec<Vec<u8>> = raw_kfrags[..2]
        .iter()
        .map(|k| {
            umbral_pre::reencrypt_with_rng(&mut rng, &capsule, k.clone())
                .to_bytes()
                .unwrap()
                .to_vec()
        })
        .collect();
    g.bench_function("raw umbral-pre: parse + verify + decrypt_reencrypted", |b| {
        b.iter(|| {
            let capsule = Capsule::from_bytes(&manifest.capsule).unwrap();
            let verified: Vec<_> = raw_cfrags
                .iter()
                .map(|c| {
                    CapsuleFrag::from_bytes(c)
                        .unwrap()
                        .verify(&capsule, &verifying, &owner_pk, &raw_grantee.public_key())
                        .unwrap()
                })
                .collect();
            black_box(
                umbral_pre::decrypt_reencrypted(
                    &raw_grantee,
                    &owner_pk,
                    &capsule,
                    verified,
                    &manifest.key_ciphertext[..],
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
