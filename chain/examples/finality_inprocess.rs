//! Pushes N signed transfers through 4 in-process validators (the seeded simulated network of
//! `itc_chain::sim`) and prints finalised tx/s, with this machine's single-core signature
//! verification rate measured in the same run as the baseline, and their ratio.
//!
//! `cargo run -p itc-chain --release --example finality_inprocess -- [N] [accounts]`
//!
//! All four validators run on one thread here, so the figure is the work of the whole committee
//! on one core: every transaction is admitted by 4 nodes (signature and PoW checks), ordered,
//! executed by 4 nodes and certified by PBFT. Network latency is virtual (1–5 ms) and costs no
//! wall time.
use std::time::Instant;

use itc_chain::{
    sim::{genesis_config, transfer, Network},
    ChainConfig,
};
use itc_primitives::{blake2_256, Pair, UNITS_PER_ITC};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4_000);
    let accounts: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(n.div_ceil(16));
    let per_account = n.div_ceil(accounts);

    let senders: Vec<Pair> = (0..accounts as u64)
        .map(|i| Pair::from_seed(&blake2_256(&i.to_le_bytes()).0))
        .collect::<Result<_, _>>()?;
    let mut genesis = genesis_config(4)?;
    genesis.balances.extend(senders.iter().map(|p| (p.public(), 1_000 * UNITS_PER_ITC)));
    let mut net = Network::new(4, 1, ChainConfig::default(), genesis)?;
    let genesis_hash = net.nodes[0].genesis_hash();
    let dest = senders[0].public();

    // Client side, not timed: sign every transfer.
    let mut txs = Vec::with_capacity(n);
    'outer: for nonce in 0..per_account as u64 {
        for sender in &senders {
            if txs.len() == n {
                break 'outer;
            }
            txs.push(transfer(sender, genesis_hash, nonce, dest, UNITS_PER_ITC / 100));
        }
    }

    // Baseline: single-core sr25519 verification of the same signatures.
    let started = Instant::now();
    let valid = txs.iter().filter(|tx| tx.verify_signature(genesis_hash)).count();
    let verify_rate = n as f64 / started.elapsed().as_secs_f64();
    assert_eq!(valid, n);

    let started = Instant::now();
    // Each validator receives its share as one burst (an RPC batch); its gossip leaves as one
    // burst too, which the others verify with one batch verification.
    let mut shares: Vec<Vec<_>> = vec![Vec::new(); 4];
    for (i, tx) in txs.into_iter().enumerate() {
        shares[i % 4].push(tx);
    }
    for (i, share) in shares.into_iter().enumerate() {
        for result in net.submit_batch(i, share) {
            result?;
        }
    }
    let finished = net.run_until(u64::MAX, |net| {
        net.nodes.iter().all(|node| node.confirmed_vertices() >= n as u64)
    });
    let elapsed = started.elapsed().as_secs_f64();
    if !finished || !net.errors.is_empty() {
        return Err(format!("run did not finish: errors {:?}", net.errors).into());
    }
    let tps = n as f64 / elapsed;
    let node = &net.nodes[0];
    println!("finality_inprocess: {n} transfers from {accounts} accounts, 4 validators on 1 core");
    println!(
        "  milestones: {}, virtual time: {} ms, wall time: {:.3} s",
        node.finalized_number(),
        net.now_ms(),
        elapsed
    );
    println!("  finalised tx/s (4 validators, one core):       {tps:>10.0}");
    println!("  baseline: sr25519 verifications/s (one core):  {verify_rate:>10.0}");
    println!("  ratio finalised tx/s / verifications/s:        {:>10.3}", tps / verify_rate);
    Ok(())
}
