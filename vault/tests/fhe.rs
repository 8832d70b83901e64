//! TFHE columns: devices encrypt, an executor built from the server key bytes alone aggregates,
//! the owner decrypts the exact result; malformed and foreign bytes are clear errors.
//!
//! Keys are generated, and one column loaded, once for the whole binary (seconds); each test then
//! runs one or two homomorphic aggregates over a handful of values.
use std::sync::OnceLock;

use itc_vault::{
    fhe::{
        CompactColumn, EncryptedAggregate, EncryptedColumn, FheAggregate, FheDevice, FheExecutor,
        FheOwner, FhePublicKey, FheServerKey, Selection,
    },
    Error,
};
use tfhe::{
    prelude::*,
    safe_serialization::{safe_deserialize, safe_serialize},
    shortint::parameters::v1_8::V1_8_PARAM_MESSAGE_1_CARRY_1_KS_PBS_TUNIFORM_2M128,
    ClientKey, CompactCiphertextList, CompactPublicKey, CompressedCompactPublicKey, ConfigBuilder,
    FheUint64,
};

/// The column every test aggregates over (record i is `VALUES[i]`).
const VALUES: [u32; 6] = [u32::MAX, 7, 1_000, 0, 4_000_000_000, 42];

struct Setup {
    owner: FheOwner,
    server_key: Vec<u8>,
    public_key: Vec<u8>,
    column_bytes: Vec<u8>,
    executor: FheExecutor,
    column: EncryptedColumn,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let (owner, server, public) = FheOwner::generate().unwrap();
        let server_key = server.to_bytes().unwrap();
        let public_key = public.to_bytes().unwrap();
        // The executor and the device are built from bytes only, as they would be on another
        // machine: the executor never has the client key.
        let executor = FheExecutor::new(&FheServerKey::from_bytes(&server_key).unwrap()).unwrap();
        let device = FheDevice::new(&FhePublicKey::from_bytes(&public_key).unwrap()).unwrap();
        let column_bytes = device.encrypt_column(&VALUES).unwrap().to_bytes().unwrap();
        let column = executor.load(&CompactColumn::from_bytes(&column_bytes).unwrap()).unwrap();
        Setup { owner, server_key, public_key, column_bytes, executor, column }
    })
}

/// Sends the aggregate through its byte form, as an executor would, and decrypts it.
fn decrypt(s: &Setup, aggregate: &EncryptedAggregate) -> u64 {
    let bytes = aggregate.to_bytes().unwrap();
    s.owner.decrypt(&EncryptedAggregate::from_bytes(&bytes).unwrap())
}

fn fhe_message<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Fhe(m)) => m,
        other => panic!("expected Error::Fhe, got {other:?}"),
    }
}

#[test]
fn sum_over_all_records_is_the_exact_u64_sum_without_wrapping() {
    let s = setup();
    assert_eq!(s.column.len(), VALUES.len());
    let aggregate = s.executor.sum(&s.column, Selection::All, None).unwrap();
    let expected: u64 = VALUES.iter().map(|&v| u64::from(v)).sum();
    assert!(expected > u64::from(u32::MAX), "the test must exercise a sum beyond u32");
    assert_eq!(decrypt(s, &aggregate), expected);
}

#[test]
fn count_above_counts_values_strictly_greater_than_the_threshold() {
    let s = setup();
    // 1_000 itself is not counted; u32::MAX and 4e9 are.
    let aggregate = s.executor.count_above(&s.column, Selection::All, 1_000).unwrap();
    assert_eq!(decrypt(s, &aggregate), 2);
}

#[test]
fn clamped_sum_over_a_subset_of_records_covers_only_those_records() {
    let s = setup();
    // Records 0, 2, 4: min(u32::MAX, 1e6) + min(1_000, 1e6) + min(4e9, 1e6).
    let op = FheAggregate::Sum { clamp_hi: Some(1_000_000) };
    let aggregate = s.executor.aggregate(&s.column, Selection::Records(&[0, 2, 4]), op).unwrap();
    assert_eq!(decrypt(s, &aggregate), 2_001_000);
}

#[test]
fn count_above_over_a_subset_of_records_covers_only_those_records() {
    let s = setup();
    // Records 1, 3, 5 hold 7, 0, 42: two are above 6 (records 0 and 4 would be too).
    let aggregate = s.executor.count_above(&s.column, Selection::Records(&[1, 3, 5]), 6).unwrap();
    assert_eq!(decrypt(s, &aggregate), 2);
}

#[test]
fn empty_selection_is_zero_and_bad_record_indices_are_errors() {
    let s = setup();
    let zero = s.executor.sum(&s.column, Selection::Records(&[]), Some(5)).unwrap();
    assert_eq!(decrypt(s, &zero), 0);
    let m = fhe_message(s.executor.sum(&s.column, Selection::Records(&[1, 6]), None));
    assert!(m.contains("record index 6 is out of range") && m.contains("6 values"), "{m}");
    let m = fhe_message(s.executor.count_above(&s.column, Selection::Records(&[2, 1]), 0));
    assert!(m.contains("strictly ascending"), "{m}");
    let m = fhe_message(s.executor.count_above(&s.column, Selection::Records(&[3, 3]), 0));
    assert!(m.contains("strictly ascending"), "{m}");
}

#[test]
fn a_second_upload_appends_to_the_column_and_its_records_follow_the_first() {
    let s = setup();
    let device = FheDevice::new(&FhePublicKey::from_bytes(&s.public_key).unwrap()).unwrap();
    let more = s.executor.load(&device.encrypt_column(&[5, 9]).unwrap()).unwrap();
    let mut column = s.column.clone();
    column.append(more);
    assert_eq!(column.len(), VALUES.len() + 2);
    let aggregate = s.executor.sum(&column, Selection::Records(&[5, 6, 7]), None).unwrap();
    assert_eq!(decrypt(s, &aggregate), 42 + 5 + 9);
}

#[test]
fn keys_and_ciphertexts_round_trip_through_their_bytes() {
    let s = setup();
    // Re-serialising what was read gives the same bytes.
    let server = FheServerKey::from_bytes(&s.server_key).unwrap();
    assert_eq!(server.to_bytes().unwrap(), s.server_key);
    let public = FhePublicKey::from_bytes(&s.public_key).unwrap();
    assert_eq!(public.to_bytes().unwrap(), s.public_key);
    let column = CompactColumn::from_bytes(&s.column_bytes).unwrap();
    assert_eq!(column.len(), VALUES.len());
    assert_eq!(column.to_bytes().unwrap(), s.column_bytes);
    // The owner restored from its bytes decrypts what the original owner's keys produced.
    let owner = FheOwner::from_bytes(&s.owner.to_bytes().unwrap()).unwrap();
    let aggregate = s.executor.sum(&s.column, Selection::Records(&[1, 2]), None).unwrap();
    let bytes = aggregate.to_bytes().unwrap();
    assert_eq!(EncryptedAggregate::from_bytes(&bytes).unwrap().to_bytes().unwrap(), bytes);
    assert_eq!(owner.decrypt(&EncryptedAggregate::from_bytes(&bytes).unwrap()), 1_007);
    // The keys travel compressed: a compressed server key is tens of MB (decompressed, hundreds).
    assert!(s.server_key.len() < 100 << 20, "server key is {} bytes", s.server_key.len());
    assert!(s.public_key.len() < 100 << 10, "public key is {} bytes", s.public_key.len());
}

#[test]
fn garbage_truncated_trailing_and_mistyped_bytes_are_clear_errors() {
    let s = setup();
    let aggregate = s.executor.sum(&s.column, Selection::Records(&[]), None).unwrap();
    let aggregate = aggregate.to_bytes().unwrap();
    let owner = s.owner.to_bytes().unwrap();
    let cases: [(&str, &[u8]); 5] = [
        ("server key", &s.server_key),
        ("public key", &s.public_key),
        ("column", &s.column_bytes),
        ("aggregate", &aggregate),
        ("client key", &owner),
    ];
    for (what, good) in cases {
        let mut trailing = good.to_vec();
        trailing.push(0);
        let bad: [&[u8]; 4] = [&[], b"not a tfhe object", &good[..good.len() / 2], &trailing];
        for bytes in bad {
            let m = match what {
                "server key" => fhe_message(FheServerKey::from_bytes(bytes)),
                "public key" => fhe_message(FhePublicKey::from_bytes(bytes)),
                "column" => fhe_message(CompactColumn::from_bytes(bytes)),
                "aggregate" => fhe_message(EncryptedAggregate::from_bytes(bytes)),
                _ => fhe_message(FheOwner::from_bytes(bytes)),
            };
            assert!(m.starts_with(what), "{what}: {m}");
        }
    }
    // One object's bytes are not another's (tfhe's header names the type).
    fhe_message(FheServerKey::from_bytes(&s.public_key));
    fhe_message(EncryptedAggregate::from_bytes(&s.column_bytes));
    fhe_message(CompactColumn::from_bytes(&aggregate));
    // Nothing to encrypt, or too much, is refused before any encryption.
    let device = FheDevice::new(&FhePublicKey::from_bytes(&s.public_key).unwrap()).unwrap();
    assert!(fhe_message(device.encrypt_column(&[])).contains("1..=65536 values, got 0"));
}

#[test]
fn objects_made_with_other_tfhe_parameters_are_rejected() {
    // Client keys are cheap to generate (no bootstrapping key): tfhe's default config has no
    // dedicated public key parameters, the 1-bit config has other block parameters.
    let default = ClientKey::generate(ConfigBuilder::default());
    let small = ClientKey::generate(ConfigBuilder::with_custom_parameters(
        V1_8_PARAM_MESSAGE_1_CARRY_1_KS_PBS_TUNIFORM_2M128,
    ));
    let public = ser(&CompressedCompactPublicKey::new(&default));
    let m = fhe_message(FhePublicKey::from_bytes(&public));
    assert!(m.contains("other TFHE parameters"), "{m}");
    let list =
        CompactCiphertextList::builder(&CompactPublicKey::new(&default)).push(5u32).build_packed();
    let column = ser(&list);
    fhe_message(CompactColumn::from_bytes(&column));
    let aggregate = ser(&FheUint64::encrypt(5u64, &small));
    fhe_message(EncryptedAggregate::from_bytes(&aggregate));
    let client = ser(&small);
    let m = fhe_message(FheOwner::from_bytes(&client));
    assert!(m.contains("other TFHE parameters"), "{m}");
}

#[test]
fn a_column_of_non_u32_values_is_rejected_when_loaded() {
    let s = setup();
    // Right keys and parameters, wrong integer type: the list is conformant, loading it is not.
    let public: CompressedCompactPublicKey = safe_deserialize(&s.public_key[..], 1 << 30).unwrap();
    let list = CompactCiphertextList::builder(&public.decompress()).push(5u64).build_packed();
    let column = CompactColumn::from_bytes(&ser(&list)).unwrap();
    let m = fhe_message(s.executor.load(&column));
    assert!(m.contains("value 0 is not an encrypted u32"), "{m}");
}

/// tfhe's safe serialisation of a raw tfhe object.
fn ser<T: serde::Serialize + tfhe::Versionize + tfhe::named::Named>(obj: &T) -> Vec<u8> {
    let mut out = Vec::new();
    safe_serialize(obj, &mut out, 1 << 30).unwrap();
    out
}
