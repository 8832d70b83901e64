//! `itc key` agrees with Substrate's `subkey`. Every expected value below is output printed by
//! `subkey` itself (Substrate's docs and tests, and public transcripts of `subkey inspect`).
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

fn itc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itc")).args(args).output().expect("run itc")
}

fn stdout(args: &[&str]) -> String {
    let out = itc(args);
    assert!(out.status.success(), "itc {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}"))
}

#[test]
fn inspect_alice_prints_subkeys_exact_text() {
    assert_eq!(
        stdout(&["key", "inspect", "//Alice"]),
        "Secret Key URI `//Alice` is account:\n\
         \x20 Network ID:        substrate\n\
         \x20 Secret seed:       0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a\n\
         \x20 Public key (hex):  0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\n\
         \x20 Account ID:        0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\n\
         \x20 Public key (SS58): 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n\
         \x20 SS58 Address:      5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n"
    );
}

#[test]
fn inspect_phrase_json_matches_subkey_docs() {
    let out = stdout(&[
        "key",
        "inspect",
        "caution juice atom organ advance problem want pledge someone senior holiday very",
        "--output-type",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        v["secretSeed"],
        "0xc8fa03532fb22ee1f7f6908b9c02b4e72483f0dbd66e4cd456b8f34c6230b849"
    );
    assert_eq!(
        v["publicKey"],
        "0xd6a3105d6768e956e9e5d41050ac29843f98561410d3a47f9dd5b3b227ab8746"
    );
    assert_eq!(v["ss58Address"], "5Gv8YYFu8H1btvmrJy9FjjAWfb99wrhV3uhPFoNEr918utyR");
    assert_eq!(v["networkId"], "substrate");
    assert_eq!(
        v["secretPhrase"],
        "caution juice atom organ advance problem want pledge someone senior holiday very"
    );
}

#[test]
fn hard_junctions_match_subkey() {
    let phrase = "owner word vocal dose decline sunset battle example forget excite gentle waste";
    let cases = [
        (
            "",
            "0x43c86cffec54d0ae966eda288a58f813964fd074c5fbdaab546bf9ac126a00c3",
            "5FemZuvaJ7wVy4S49X7Y9mj7FyTR4caQD5mZo2rL7MXQoXMi",
        ),
        (
            "//1//stash",
            "0x4e73cec7a4023d8dbccbd54cba395883480a8f7228179e3de55d7fc067fe86cf",
            "5Grpw9i5vNyF6pbbvw7vA8pC5Vo8GMUbG8zraLMmAn32kTNH",
        ),
        (
            "//1//controller",
            "0x013f446b2911f86518a65528e833f59dce641878b1719de7bfa0934520ff6193",
            "5DLMZF33f61KvPDbJU5c2dPNQZ3jJyptsacpvsDhwNS1wUuU",
        ),
    ];
    for (path, seed, address) in cases {
        let out = stdout(&["key", "inspect", &format!("{phrase}{path}")]);
        assert_eq!(field(&out, "Secret seed:"), seed, "{path}");
        assert_eq!(field(&out, "SS58 Address:"), address, "{path}");
    }
}

#[test]
fn soft_and_numeric_junctions_from_a_hex_seed_match_polkadot_vectors() {
    let seed = "0x0c8ecfba39e5343fda983c2c5b8b0dcc7293fad84f05c5e4089088849ddf2fcf";
    let cases = [
        ("", "12VeJH6DpBgRFaJ5K8itdRAMjTMwvSswPcvdeZkw7gKp2HK2"),
        ("//0", "12p5axbNBe7yqhQ2z877ijTDboGcjGxPQ7j7HinroturWhPM"),
        ("//0/1", "14Y8px1MvVkCoygUSUjeF6RUUDi7B84CNH8k8M1hqt8fVvy7"),
        ("//0/1//hard", "1pm4vKW1HpeJXksu69mULrSKJkgJPyGJANoUE3xrYX3jm5s"),
    ];
    for (path, address) in cases {
        let out = stdout(&["key", "inspect", &format!("{seed}{path}"), "--network", "polkadot"]);
        assert_eq!(field(&out, "SS58 Address:"), address, "{path}");
        assert_eq!(field(&out, "Network ID:"), "polkadot");
    }
    let out = stdout(&["key", "inspect", &format!("{seed}//0/1//hard//1"), "--network", "0"]);
    assert_eq!(
        field(&out, "Public key (hex):"),
        "0xd63f18d817a2819fd045c1884d4b05318a2030c06f77b618a0b0ee0751e5356d"
    );
    assert_eq!(field(&out, "Secret seed:"), "n/a", "a soft junction leaves no seed");
}

#[test]
fn password_flag_and_uri_password_match_subkey() {
    let phrase = "very museum phone decade snack design lock throw brother fly dwarf great";
    let expected_seed = "0xbe9f179926a539cd0e27400f09b3f902826e30d9ef64e0675682c81a4344c616";
    let expected_pk = "0x00fb3eb89b326db889521f202fd81e20ba85e755c03ce02b6649c1d1cf15aa6d";
    for out in [
        stdout(&["key", "inspect", phrase, "--password", "12345678"]),
        stdout(&["key", "inspect", &format!("{phrase}///12345678")]),
    ] {
        assert_eq!(field(&out, "Secret seed:"), expected_seed);
        assert_eq!(field(&out, "Public key (hex):"), expected_pk);
    }
}

#[test]
fn inspect_address_prints_public_info() {
    let out = stdout(&["key", "inspect", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"]);
    assert!(out.starts_with(
        "Public Key URI `5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY` is account:"
    ));
    assert_eq!(
        field(&out, "Public key (hex):"),
        "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
    );
}

#[test]
fn sign_then_verify_and_reject_tampering() {
    let sig = stdout(&["key", "sign", "--suri", "//Alice", "--message", "hello"]);
    let sig = sig.trim();
    let ok = stdout(&[
        "key",
        "verify",
        sig,
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        "--message",
        "hello",
    ]);
    assert_eq!(ok.trim(), "Signature verifies correctly.");
    let bad = itc(&["key", "verify", sig, "//Bob", "--message", "hello"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Signature invalid"));
    let bad = itc(&["key", "verify", sig, "//Alice", "--message", "hellp"]);
    assert!(!bad.status.success());
}

#[test]
fn sign_reads_hex_message_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_itc"))
        .args(["key", "sign", "--suri", "//Bob", "--hex"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"0x68656c6c6f\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    let sig = String::from_utf8(out.stdout).expect("utf-8");
    let ok = stdout(&["key", "verify", sig.trim(), "//Bob", "--message", "hello"]);
    assert_eq!(ok.trim(), "Signature verifies correctly.");
}

#[test]
fn generate_makes_a_phrase_that_inspects_to_the_same_account() {
    let out = stdout(&["key", "generate", "--words", "24", "--output-type", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let phrase = v["secretPhrase"].as_str().expect("phrase");
    assert_eq!(phrase.split(' ').count(), 24);
    let again = stdout(&["key", "inspect", phrase, "--output-type", "json"]);
    let w: serde_json::Value = serde_json::from_str(&again).expect("json");
    assert_eq!(v["ss58Address"], w["ss58Address"]);
}

#[test]
fn bad_input_gives_errors_not_panics() {
    for args in [
        &["key", "inspect", "not a valid phrase at all"][..],
        &["key", "inspect", "0x1234"],
        &["key", "inspect", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", "--public"],
        &["key", "generate", "--words", "13"],
        &["key", "verify", "0x00", "//Alice", "--message", "x"],
        &["key", "inspect", "//Alice", "--network", "nowhere"],
    ] {
        let out = itc(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && !err.contains("panicked"), "{args:?}: {err}");
    }
}
