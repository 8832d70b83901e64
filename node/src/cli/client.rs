//! Client commands over JSON-RPC: `itc transfer`, `itc balance`, `itc tx status`.
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use itc_primitives::{
    AccountId, Balance, Hash, Mortality, Pair, Signature, Transaction, UNITS_PER_ITC,
};
use itc_runtime::{modules::balances, RuntimeCall};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee_ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::Encode;
use serde_json::Value;

/// The default RPC endpoint.
pub const DEFAULT_RPC: &str = "http://127.0.0.1:9944";

/// Flags shared by the client commands.
#[derive(Debug, Args)]
pub struct RpcArgs {
    /// The node's JSON-RPC endpoint.
    #[arg(long, default_value = DEFAULT_RPC, env = "ITC_RPC")]
    pub rpc: String,
}

/// `itc transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The sender's secret key URI (e.g. //Alice or a phrase).
    #[arg(long, value_name = "URI")]
    pub from: String,
    /// The recipient (SS58).
    #[arg(long, value_name = "SS58")]
    pub to: String,
    /// Amount in ITC (decimals allowed, e.g. 1.5).
    #[arg(long, value_name = "ITC")]
    pub amount: String,
    /// Tip for the proposer, in ITC.
    #[arg(long, default_value = "0")]
    pub tip: String,
    /// The transaction's nonce; by default the node's `account_nextNonce`. A nonce past the
    /// next one waits at the node (parked) until the ones before it arrive, or is dropped.
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Return once submitted, without waiting for finality.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for finality.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The node to ask.
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `itc balance`.
#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// The account (SS58).
    pub account: String,
    /// The node to ask.
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `itc tx …`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Where a transaction stands: pending, finalised (with its milestone) or failed.
    Status {
        /// The transaction hash (0x + 64 hex digits).
        hash: String,
        /// The node to ask.
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// Parses an ITC amount with up to 12 decimals into units.
pub fn parse_itc(text: &str) -> anyhow::Result<Balance> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 12 {
        bail!("`{text}` is not an ITC amount: use digits with at most 12 decimals, e.g. 1.5");
    }
    let parse = |s: &str| -> anyhow::Result<u128> {
        if s.is_empty() {
            return Ok(0);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            bail!("`{text}` is not an ITC amount: use digits with at most 12 decimals, e.g. 1.5");
        }
        Ok(s.parse::<u128>()?)
    };
    let whole = parse(whole)?;
    let frac = parse(frac)? * 10u128.pow(12 - frac.len() as u32);
    whole
        .checked_mul(UNITS_PER_ITC)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| anyhow::anyhow!("`{text}` ITC is too large"))
}

/// Formats units as ITC.
pub fn format_itc(units: Balance) -> String {
    let whole = units / UNITS_PER_ITC;
    let frac = units % UNITS_PER_ITC;
    if frac == 0 {
        return format!("{whole} ITC");
    }
    let digits = format!("{frac:012}");
    format!("{whole}.{} ITC", digits.trim_end_matches('0'))
}

/// An RPC client for `url`.
pub fn client(url: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .with_context(|| format!("RPC endpoint {url}"))
}

async fn call(
    c: &HttpClient,
    method: &str,
    params: jsonrpsee::core::params::ArrayParams,
) -> anyhow::Result<Value> {
    c.request(method, params)
        .await
        .with_context(|| format!("{method} failed (is a node running at that --rpc address?)"))
}

/// The chain's genesis hash, read from milestone 0.
pub async fn genesis_hash(c: &HttpClient) -> anyhow::Result<Hash> {
    let m = call(c, "chain_getMilestone", rpc_params![0]).await?;
    let hash = m.get("hash").and_then(Value::as_str).context("milestone 0 has no hash")?;
    Hash::from_hex(hash).map_err(|e| anyhow::anyhow!("bad genesis hash {hash}: {e}"))
}

/// Builds and signs a balance transfer.
pub fn signed_transfer(
    from: &Pair,
    genesis: Hash,
    nonce: u64,
    to: AccountId,
    amount: Balance,
    tip: Balance,
) -> Transaction {
    let call = RuntimeCall::Balances(balances::Call::Transfer { dest: to, amount }).encode();
    let mut tx = Transaction {
        signer: from.public(),
        nonce,
        mortality: Mortality::Immortal,
        tip,
        call,
        signature: Signature::default(),
    };
    tx.signature = from.sign(&tx.payload(genesis).signing_bytes());
    tx
}

/// Submits a transaction; returns its hash.
pub async fn submit(c: &HttpClient, tx: &Transaction) -> anyhow::Result<Hash> {
    let hex = itc_primitives::hash::to_hex0x(&tx.encode());
    let v: Value = c
        .request("author_submitTransaction", rpc_params![hex])
        .await
        .context("the node refused the transaction")?;
    let s = v.as_str().context("author_submitTransaction returned no hash")?;
    Hash::from_hex(s).map_err(|e| anyhow::anyhow!("bad hash {s}: {e}"))
}

fn account(text: &str) -> anyhow::Result<AccountId> {
    AccountId::from_ss58_or_hex(text).map_err(|e| {
        anyhow::anyhow!("`{text}` is not an SS58 address ({e}); `itc key inspect <URI>` prints one")
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// `itc transfer`: signs, submits and (unless --no-wait) waits for finality.
pub fn run_transfer(args: TransferArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let from =
        Pair::from_string(&args.from, None).map_err(|e| anyhow::anyhow!("invalid --from: {e}"))?;
    let to = account(&args.to)?;
    let amount = parse_itc(&args.amount)?;
    let tip = parse_itc(&args.tip)?;
    runtime()?.block_on(async {
        let c = client(&args.rpc.rpc)?;
        let genesis = genesis_hash(&c).await?;
        let nonce = match args.nonce {
            Some(nonce) => nonce,
            None => call(&c, "account_nextNonce", rpc_params![from.public().to_string()])
                .await?
                .as_u64()
                .context("account_nextNonce returned no number")?,
        };
        let tx = signed_transfer(&from, genesis, nonce, to, amount, tip);
        // Subscribed before submitting, so the milestone that confirms the transfer cannot
        // be missed.
        let finals = if args.no_wait { None } else { subscribe_finalized(&args.rpc.rpc).await };
        let started = Instant::now();
        let hash = submit(&c, &tx).await?;
        writeln!(out, "submitted {} (nonce {nonce})", hash.to_hex())?;
        let status = call(&c, "tx_status", rpc_params![hash.to_hex()]).await?;
        if let Some(waiting_for) = status.get("waitingFor").and_then(Value::as_u64) {
            writeln!(
                out,
                "parked: the node holds it until the account's transaction with nonce \
                 {waiting_for} arrives"
            )?;
        }
        if args.no_wait {
            return Ok(());
        }
        let deadline = started + Duration::from_secs(args.timeout);
        let hex = hash.to_hex();
        let Some(status) = wait_final(&c, finals, hash, deadline).await? else {
            bail!(
                "transaction {hex} not final after {} s; check it later with `itc tx status {hex}`",
                args.timeout
            );
        };
        if status.get("status").and_then(Value::as_str) != Some("finalized") {
            let reason = status.get("reason").and_then(Value::as_str).unwrap_or("unknown");
            bail!("transaction {hex}: {reason}");
        }
        let m = status.get("milestone").and_then(Value::as_u64).unwrap_or_default();
        writeln!(
            out,
            "finalised in milestone {m} after {} ms: {} from {} to {}",
            started.elapsed().as_millis(),
            format_itc(amount),
            from.public(),
            to
        )?;
        Ok(())
    })
}

/// How often `itc transfer` asks for the status when the node offers no WebSocket.
const STATUS_POLL: Duration = Duration::from_millis(50);

/// How often `itc transfer` asks for the status between the subscription's notifications: a
/// transaction can also end without a milestone listing it (a parked one is dropped).
const STATUS_RECHECK: Duration = Duration::from_secs(1);

/// The WebSocket form of an HTTP JSON-RPC endpoint (the node serves both on one port).
fn ws_url(http: &str) -> Option<String> {
    if let Some(rest) = http.strip_prefix("http://") {
        Some(format!("ws://{rest}"))
    } else if let Some(rest) = http.strip_prefix("https://") {
        Some(format!("wss://{rest}"))
    } else if http.starts_with("ws://") || http.starts_with("wss://") {
        Some(http.to_string())
    } else {
        None
    }
}

/// Finalised milestones from the node at `rpc`, or `None` where it cannot be reached over a
/// WebSocket (a proxy that passes only HTTP, say): the caller then polls.
async fn subscribe_finalized(rpc: &str) -> Option<(WsClient, Subscription<Value>)> {
    let url = ws_url(rpc)?;
    let ws = WsClientBuilder::default().build(&url).await.ok()?;
    let sub = ws
        .subscribe("chain_subscribeFinalized", rpc_params![], "chain_unsubscribeFinalized")
        .await
        .ok()?;
    Some((ws, sub))
}

/// Whether a finalised-milestone notification lists `hash` among its transactions.
fn lists(note: &Value, hash: &Hash) -> bool {
    note.get("transactions").and_then(Value::as_array).is_some_and(|txs| {
        txs.iter().filter_map(Value::as_str).any(|t| Hash::from_hex(t).ok() == Some(*hash))
    })
}

/// Waits until `hash` is finalised, failed in a finalised milestone or dropped, and returns its
/// `tx_status` answer, or `None` at `deadline`. With a subscription it asks for the status when
/// a milestone lists the transaction and every [`STATUS_RECHECK`] without one; without a
/// subscription (or once it ends) it polls.
async fn wait_final(
    c: &HttpClient,
    mut finals: Option<(WsClient, Subscription<Value>)>,
    hash: Hash,
    deadline: Instant,
) -> anyhow::Result<Option<Value>> {
    let until = tokio::time::Instant::from_std(deadline);
    loop {
        if let Some((_, sub)) = finals.as_mut() {
            let recheck = until.min(tokio::time::Instant::now() + STATUS_RECHECK);
            loop {
                match tokio::time::timeout_at(recheck, sub.next()).await {
                    Err(_) if recheck == until => return Ok(None),
                    // No milestone listed it for a while: ask, then wait again.
                    Err(_) => break,
                    Ok(Some(Ok(note))) if !lists(&note, &hash) => {}
                    // Listed (if it is not reported final, from a node that answers from a
                    // lagging replica, say, no later milestone will list it again), or the
                    // subscription ended or sent something unreadable: poll from here on.
                    Ok(_) => {
                        finals = None;
                        break;
                    }
                }
            }
        }
        let status = call(c, "tx_status", rpc_params![hash.to_hex()]).await?;
        if matches!(status.get("status").and_then(Value::as_str), Some("finalized" | "failed")) {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        if finals.is_none() {
            tokio::time::sleep(STATUS_POLL).await;
        }
    }
}

/// `itc balance`.
pub fn run_balance(args: BalanceArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let who = account(&args.account)?;
    runtime()?.block_on(async {
        let c = client(&args.rpc.rpc)?;
        let v = call(&c, "state_getAccount", rpc_params![who.to_string()]).await?;
        if v.is_null() {
            writeln!(out, "{who}: 0 ITC (no account)")?;
            return Ok(());
        }
        let field = |name: &str| -> anyhow::Result<u128> {
            v.get(name)
                .and_then(Value::as_str)
                .context("malformed account")?
                .parse()
                .context("malformed balance")
        };
        writeln!(
            out,
            "{who}: free {}, reserved {}, nonce {}",
            format_itc(field("free")?),
            format_itc(field("reserved")?),
            v.get("nonce").and_then(Value::as_u64).unwrap_or_default()
        )?;
        Ok(())
    })
}

/// `itc tx status`.
pub fn run_tx(cmd: TxCommand, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let TxCommand::Status { hash, rpc } = cmd;
    let hash = Hash::from_hex(&hash)
        .map_err(|e| anyhow::anyhow!("`{hash}` is not a transaction hash: {e}"))?;
    runtime()?.block_on(async {
        let c = client(&rpc.rpc)?;
        let v = call(&c, "tx_status", rpc_params![hash.to_hex()]).await?;
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itc_amounts_parse_and_format_exactly() {
        assert_eq!(parse_itc("1").unwrap(), UNITS_PER_ITC);
        assert_eq!(parse_itc("1.5").unwrap(), UNITS_PER_ITC * 3 / 2);
        assert_eq!(parse_itc("0.000000000001").unwrap(), 1);
        assert_eq!(parse_itc(".25").unwrap(), UNITS_PER_ITC / 4);
        for bad in ["", ".", "1.0000000000001", "-1", "1e3", "abc", "1.2.3"] {
            assert!(parse_itc(bad).is_err(), "{bad}");
        }
        assert!(parse_itc(&"9".repeat(40)).is_err());
        assert_eq!(format_itc(UNITS_PER_ITC * 3 / 2), "1.5 ITC");
        assert_eq!(format_itc(7 * UNITS_PER_ITC), "7 ITC");
        assert_eq!(format_itc(1), "0.000000000001 ITC");
    }

    #[test]
    fn the_websocket_endpoint_is_the_rpc_port_and_notifications_are_matched_by_hash() {
        assert_eq!(ws_url("http://127.0.0.1:9944").as_deref(), Some("ws://127.0.0.1:9944"));
        assert_eq!(ws_url("https://rpc.example/itc").as_deref(), Some("wss://rpc.example/itc"));
        assert_eq!(ws_url("ws://[::1]:9944").as_deref(), Some("ws://[::1]:9944"));
        assert_eq!(ws_url("127.0.0.1:9944"), None);

        let hash = Hash([7; 32]);
        let other = Hash([8; 32]);
        let note = |txs: &[Hash]| serde_json::json!({ "transactions": txs.iter().map(Hash::to_hex).collect::<Vec<_>>() });
        assert!(lists(&note(&[other, hash]), &hash));
        assert!(!lists(&note(&[other]), &hash));
        assert!(!lists(&serde_json::json!({ "transactions": "0x07" }), &hash));
        assert!(!lists(&serde_json::json!({}), &hash));
    }
}
