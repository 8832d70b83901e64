//! The malicious zoo: each hostile module is stopped with a clear error, and the same engine
//! then serves an honest job correctly.
mod common;

use common::*;
use itc_chaincode::{ChaincodeEngine, EngineLimits, Error};
use itc_chaincode_sdk::{Aggregate, HostError, Query, QueryResult};
use itc_primitives::{decode_untrusted, Hash};
use parity_scale_codec::Encode;

fn limits() -> EngineLimits {
    // Less fuel than the default keeps the infinite loop's run short.
    EngineLimits { fuel: 20_000_000, host_call_fuel: 100, ..EngineLimits::default() }
}

fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).unwrap()
}

/// An honest job through the probe contract: count of all records, checked against the exact
/// count plus its recomputed noise.
fn assert_serves_honest_job(engine: &ChaincodeEngine, job: u8) {
    let rows = meter_rows(40, 1, 11);
    let n = rows.len() as f64;
    let queries = vec![Query {
        dataset: 0,
        filters: vec![],
        group_by: vec![],
        aggregate: Aggregate::Count,
        epsilon_milli: 500,
    }];
    let res = engine
        .execute(&wasm("probe"), &[view(rows, 5, 1_000)], &ctx(job, vec![1_000], queries.encode()))
        .unwrap();
    let out: Vec<Result<QueryResult, HostError>> = decode_untrusted(&res.output).unwrap();
    let got = out[0].as_ref().unwrap().single().unwrap().number().unwrap();
    let noise = itc_chaincode::privacy::NoiseStream::new(&Hash([job; 32]), 0).laplace(2.0);
    assert_eq!(got, n + noise);
}

fn run(engine: &ChaincodeEngine, code: &[u8]) -> Result<Vec<u8>, Error> {
    engine
        .execute(code, &[view(meter_rows(5, 1, 1), 5, 1_000)], &ctx(9, vec![1_000], vec![]))
        .map(|r| r.output)
}

const MEM: &str = r#"(memory (export "memory") 1)"#;

/// A hostile module: its name, its bytes and the error it must get.
type Specimen = (&'static str, Vec<u8>, fn(&Error) -> bool);

fn zoo() -> Vec<Specimen> {
    let mut many_funcs =
        String::from("(module (memory (export \"memory\") 1) (func (export \"run\"))");
    for _ in 0..10_001 {
        many_funcs.push_str("(func)");
    }
    many_funcs.push(')');
    let mut huge = wat(&format!(r#"(module {MEM} (func (export "run")))"#));
    // A 2 MiB custom section.
    let payload = vec![0u8; 2 << 20];
    huge.push(0);
    let mut len = payload.len() as u32 + 2;
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            huge.push(b);
            break;
        }
        huge.push(b | 0x80);
    }
    huge.extend_from_slice(&[1, b'x']);
    huge.extend_from_slice(&payload);
    let big_data = format!(
        r#"(module (memory (export "memory") 8) (data (i32.const 0) "{}") (func (export "run")))"#,
        "\\00".repeat(300 << 10)
    );
    vec![
        (
            "infinite loop",
            wat(&format!(r#"(module {MEM} (func (export "run") (loop br 0)))"#)),
            |e| matches!(e, Error::OutOfFuel { .. }),
        ),
        (
            "memory.grow bomb",
            wat(&format!(
                r#"(module {MEM} (func (export "run") (loop (drop (memory.grow (i32.const 16))) br 0)))"#
            )),
            |e| matches!(e, Error::MemoryLimit { .. }),
        ),
        (
            "initial memory bomb",
            wat(r#"(module (memory (export "memory") 60000) (func (export "run")))"#),
            |e| matches!(e, Error::InitialMemoryTooLarge { .. }),
        ),
        (
            "deep recursion",
            wat(&format!(r#"(module {MEM} (func $f (export "run") (call $f)))"#)),
            |e| matches!(e, Error::StackOverflow { .. }),
        ),
        ("huge module", huge, |e| matches!(e, Error::ModuleTooLarge { .. })),
        ("too many functions", wat(&many_funcs), |e| matches!(e, Error::TooManyFunctions { .. })),
        ("huge data segment", wat(&big_data), |e| matches!(e, Error::DataTooLarge { .. })),
        (
            "host-call storm",
            wat(&format!(
                r#"(module (import "itc" "dataset_count" (func $dc (result i32))) {MEM}
                   (func (export "run") (loop (drop (call $dc)) br 0)))"#
            )),
            |e| matches!(e, Error::HostCallLimit { .. }),
        ),
        (
            "missing import",
            wat(&format!(
                r#"(module (import "env" "read_row" (func $r (param i32))) {MEM}
                   (func (export "run") (call $r (i32.const 0))))"#
            )),
            |e| matches!(e, Error::UnknownImport { module, name } if module == "env" && name == "read_row"),
        ),
        (
            "misspelt host import",
            wat(&format!(r#"(module (import "itc" "rows" (func)) {MEM} (func (export "run")))"#)),
            |e| matches!(e, Error::UnknownImport { .. }),
        ),
        (
            "oversized output",
            wat(
                r#"(module (import "itc" "output" (func $o (param i32 i32))) (memory (export "memory") 2)
                   (func (export "run") (call $o (i32.const 0) (i32.const 100000))))"#,
            ),
            |e| matches!(e, Error::OutputTooLarge { .. }),
        ),
        (
            "buffer outside memory",
            wat(&format!(
                r#"(module (import "itc" "call" (func $c (param i32 i32) (result i32))) {MEM}
                   (func (export "run") (drop (call $c (i32.const 65530) (i32.const 100)))))"#
            )),
            |e| matches!(e, Error::BadHostCall(_)),
        ),
        ("no run export", wat(&format!(r#"(module {MEM} (func (export "start")))"#)), |e| {
            matches!(e, Error::BadExports(_))
        }),
        ("trap", wat(&format!(r#"(module {MEM} (func (export "run") unreachable))"#)), |e| {
            matches!(e, Error::Trap(_))
        }),
        ("not wasm", b"\0asm\x01\0\0\0garbage".to_vec(), |e| matches!(e, Error::InvalidModule(_))),
    ]
}

#[test]
fn malicious_zoo_is_contained_and_the_engine_keeps_serving() {
    let engine = ChaincodeEngine::new(limits()).unwrap();
    for (i, (name, code, expected)) in zoo().into_iter().enumerate() {
        let err = run(&engine, &code).expect_err(name);
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
        assert_serves_honest_job(&engine, 100 + i as u8);
    }
}

#[test]
fn nan_bit_patterns_are_canonicalised() {
    // 0/0 on x86 yields a NaN with the sign bit set; a module that leaks those bits would differ
    // across CPUs. The engine canonicalises every NaN an arithmetic op produces.
    let code = wat(r#"(module
        (import "itc" "output" (func $o (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "run")
          (i64.store (i32.const 0)
            (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0))))
          (i64.store (i32.const 8)
            (i64.reinterpret_f64 (f64.sqrt (f64.const -1))))
          (i32.store (i32.const 16)
            (i32.reinterpret_f32 (f32.add (f32.const nan:0x200000) (f32.const 1))))
          (call $o (i32.const 0) (i32.const 20))))"#);
    let engine = ChaincodeEngine::new(limits()).unwrap();
    let a = run(&engine, &code).unwrap();
    let b = run(&engine, &code).unwrap();
    assert_eq!(a, b);
    let canon64 = 0x7ff8_0000_0000_0000u64.to_le_bytes();
    assert_eq!(&a[0..8], &canon64);
    assert_eq!(&a[8..16], &canon64);
    assert_eq!(&a[16..20], &0x7fc0_0000u32.to_le_bytes());
}

#[test]
fn fuel_and_output_are_deterministic_across_engines() {
    let code = wasm("probe");
    let rows = meter_rows(30, 2, 12);
    let queries = vec![Query {
        dataset: 0,
        filters: vec![],
        group_by: vec![itc_chaincode_sdk::GroupKey::Field("region".into())],
        aggregate: Aggregate::Mean { field: "kwh".into(), lo: 0.0, hi: 8.0 },
        epsilon_milli: 300,
    }];
    let go = || {
        let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
        engine
            .execute(
                &code,
                &[view(rows.clone(), 5, 1_000)],
                &ctx(42, vec![1_000], queries.encode()),
            )
            .unwrap()
    };
    let (a, b) = (go(), go());
    assert_eq!(a, b);
    assert!(a.fuel_used > 0);
}
