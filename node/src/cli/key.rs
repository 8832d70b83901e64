//! `itc key`: generate, inspect, sign and verify, printing exactly what Substrate's `subkey`
//! prints (text or `--output-type json`), so tooling written for `subkey` works with `itc`.
use std::io::{Read, Write};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use itc_primitives::{
    ss58,
    uri::{phrase_from_entropy, SecretUri},
    Pair, Public, Signature,
};
use rand::RngCore;
use serde_json::json;

/// `itc key …` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a random account (a new BIP-39 phrase).
    Generate {
        /// Number of words in the phrase: 12, 15, 18, 21 or 24.
        #[arg(short, long, default_value_t = 12)]
        words: usize,
        /// Formatting and password options.
        #[command(flatten)]
        opts: OutputOpts,
    },
    /// Show the keys and addresses of a secret URI, phrase, seed, SS58 address or public key.
    Inspect {
        /// A secret URI (`phrase//hard/soft///password`, `0x` seed, `//Alice`), or with `--public`
        /// an SS58 address or `0x` public key.
        uri: String,
        /// Treat the URI as a public key or address.
        #[arg(long)]
        public: bool,
        /// Formatting and password options.
        #[command(flatten)]
        opts: OutputOpts,
    },
    /// Sign a message (from `--message` or standard input) with a secret URI.
    Sign {
        /// The secret URI of the signing key.
        #[arg(long)]
        suri: String,
        /// The message; read from standard input if absent.
        #[arg(long)]
        message: Option<String>,
        /// The message is hex (with or without `0x`).
        #[arg(long)]
        hex: bool,
        /// Password for the secret URI (overrides `///password`).
        #[arg(long)]
        password: Option<String>,
    },
    /// Verify a signature of a message (from `--message` or standard input).
    Verify {
        /// The signature, 64 bytes of hex.
        sig: String,
        /// The signer: an SS58 address, a `0x` public key, or a secret URI.
        uri: String,
        /// The message; read from standard input if absent.
        #[arg(long)]
        message: Option<String>,
        /// The message is hex (with or without `0x`).
        #[arg(long)]
        hex: bool,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputType {
    /// `subkey`'s text layout.
    Text,
    /// `subkey`'s JSON layout.
    Json,
}

/// Options shared by `generate` and `inspect`.
#[derive(Debug, Args)]
pub struct OutputOpts {
    /// Network (SS58 prefix) for addresses: substrate/itc (42), polkadot (0), kusama (2) or a
    /// number.
    #[arg(short, long, default_value = "substrate")]
    pub network: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputType::Text)]
    pub output_type: OutputType,
    /// Password for the phrase (overrides `///password`).
    #[arg(long)]
    pub password: Option<String>,
}

/// Runs a `key` subcommand, reading messages from `input` and printing to `out`.
pub fn run(cmd: KeyCommand, input: &mut impl Read, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Generate { words, opts } => {
            let entropy_len = match words {
                12 => 16,
                15 => 20,
                18 => 24,
                21 => 28,
                24 => 32,
                n => bail!("a phrase has 12, 15, 18, 21 or 24 words, not {n}"),
            };
            let mut entropy = vec![0u8; entropy_len];
            rand::rngs::OsRng.fill_bytes(&mut entropy);
            let phrase = phrase_from_entropy(&entropy)?;
            let text = inspect_secret(&phrase, &opts)?;
            writeln!(out, "{text}")?;
        }
        KeyCommand::Inspect { uri, public, opts } => {
            let text = if public {
                inspect_public(&uri, &opts)?
            } else {
                match inspect_secret(&uri, &opts) {
                    Ok(text) => text,
                    // `subkey inspect <address>` works without `--public`, so do the same.
                    Err(secret_err) => inspect_public(&uri, &opts).map_err(|_| secret_err)?,
                }
            };
            writeln!(out, "{text}")?;
        }
        KeyCommand::Sign { suri, message, hex, password } => {
            let message = read_message(message, hex, input)?;
            let pair = Pair::from_string(&suri, password.as_deref())
                .with_context(|| "cannot use --suri as a secret key")?;
            writeln!(out, "{}", pair.sign(&message).to_hex())?;
        }
        KeyCommand::Verify { sig, uri, message, hex } => {
            let message = read_message(message, hex, input)?;
            let signature = Signature::from_hex(&sig).context("the signature")?;
            let public = match Public::from_ss58_or_hex(&uri) {
                Ok(p) => p,
                Err(public_err) => {
                    Pair::from_string(&uri, None).map(|p| p.public()).map_err(|_| {
                        anyhow!("`{uri}` is neither a public key nor a secret URI: {public_err}")
                    })?
                }
            };
            if public.verify(&message, &signature) {
                writeln!(out, "Signature verifies correctly.")?;
            } else {
                bail!("Signature invalid.");
            }
        }
    }
    Ok(())
}

fn read_message(
    message: Option<String>,
    hex: bool,
    input: &mut impl Read,
) -> anyhow::Result<Vec<u8>> {
    let raw = match message {
        Some(m) => m.into_bytes(),
        None => {
            let mut buf = Vec::new();
            input.read_to_end(&mut buf).context("reading the message from standard input")?;
            buf
        }
    };
    if !hex {
        return Ok(raw);
    }
    let text = String::from_utf8(raw).context("a --hex message must be text")?;
    let text = text.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
        .context("the --hex message is not valid hex")
}

fn format_seed(seed: Option<[u8; 32]>) -> String {
    seed.map_or_else(|| "n/a".to_string(), |s| itc_primitives::hash::to_hex0x(&s))
}

/// What `subkey inspect` prints for a secret phrase or secret URI.
pub fn inspect_secret(uri: &str, opts: &OutputOpts) -> anyhow::Result<String> {
    let prefix = ss58::prefix_from_network(&opts.network)?;
    let network = ss58::network_name(prefix);
    let parsed = SecretUri::parse(uri)?;
    let resolved = parsed.resolve(opts.password.as_deref())?;
    let public = resolved.pair.public();
    let seed = format_seed(resolved.seed);
    let address = public.to_ss58(prefix);
    // subkey shows "Secret phrase" when the whole input is a phrase, "Secret Key URI" otherwise.
    let is_plain_phrase = parsed.phrase_given
        && parsed.junctions.is_empty()
        && parsed.password.is_none()
        && !uri.starts_with("0x");
    Ok(match opts.output_type {
        OutputType::Json => {
            let mut v = json!({
                "networkId": network,
                "secretSeed": seed,
                "publicKey": public.to_hex(),
                "ss58PublicKey": address,
                "accountId": public.to_hex(),
                "ss58Address": address,
            });
            let key = if is_plain_phrase { "secretPhrase" } else { "secretKeyUri" };
            v[key] = json!(uri);
            serde_json::to_string_pretty(&v)?
        }
        OutputType::Text => {
            let head = if is_plain_phrase {
                format!("Secret phrase:       {uri}")
            } else {
                format!("Secret Key URI `{uri}` is account:")
            };
            format!(
                "{head}\n  Network ID:        {network}\n  Secret seed:       {seed}\n  Public key (hex):  {pk}\n  Account ID:        {pk}\n  Public key (SS58): {address}\n  SS58 Address:      {address}",
                pk = public.to_hex(),
            )
        }
    })
}

/// What `subkey inspect --public` prints for an SS58 address or hex public key.
pub fn inspect_public(uri: &str, opts: &OutputOpts) -> anyhow::Result<String> {
    let (public, prefix) = if uri.starts_with("0x") {
        (Public::from_ss58_or_hex(uri)?, ss58::prefix_from_network(&opts.network)?)
    } else {
        let (key, prefix) = ss58::decode(uri)?;
        (Public(key), prefix)
    };
    let network = ss58::network_name(prefix);
    let address = public.to_ss58(prefix);
    Ok(match opts.output_type {
        OutputType::Json => serde_json::to_string_pretty(&json!({
            "publicKeyUri": uri,
            "networkId": network,
            "publicKey": public.to_hex(),
            "accountId": public.to_hex(),
            "ss58PublicKey": address,
            "ss58Address": address,
        }))?,
        OutputType::Text => format!(
            "Public Key URI `{uri}` is account:\n  Network ID/Version: {network}\n  Public key (hex):   {pk}\n  Account ID:         {pk}\n  Public key (SS58):  {address}\n  SS58 Address:       {address}",
            pk = public.to_hex(),
        ),
    })
}
