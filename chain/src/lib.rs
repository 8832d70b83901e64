//! # itc-chain: one validator's chain service, with no I/O
//!
//! [`Validator`] ties the transaction DAG ([`itc_dag`]), the runtime ([`itc_runtime`]) and the
//! PBFT replica ([`itc_consensus`]) together. Time comes in as `now_ms` arguments, randomness
//! as seeds ([`ChainConfig::attach_seed`]), storage through the DAG's [`itc_dag::DagStore`] and
//! the runtime's [`itc_runtime::StateBackend`] (in memory in tests; RocksDB in the node).
//!
//! ## What it does
//! - **Genesis** ([`genesis`]): builds the runtime's genesis state (version 0) and milestone 0;
//!   its hash is the chain's genesis hash (transactions sign over it; the DAG's entry point).
//! - **Mempool and attaching**: [`Validator::submit_transaction`] checks a client's transaction
//!   (signature over the genesis hash; nonce ≥ the account's nonce, not pending, and below
//!   nonce + [`ChainConfig::nonce_window`]; mortality; free balance ≥ its fee plus the fees of
//!   the signer's pending transactions), then attaches it (seeded tip selection, PoW at the
//!   signer's security level read from state, the signer's previous pending vertex as a
//!   parent) and inserts the vertex. One whose previous nonce is neither final nor pending here
//!   is parked until that nonce's vertex arrives ([`TxStatus::Parked`], dropped after
//!   [`ChainConfig::parked_timeout_ms`]), so consecutive nonces execute in order.
//!   [`Validator::submit_vertex`] takes a client's ready vertex (same checks, PoW and signature
//!   by the DAG); [`Validator::receive_vertex`] takes peers' vertices (DAG checks only: a vertex
//!   whose transaction will fail is still a valid vertex, white-flag). Orphans yield
//!   [`Output::FetchVertices`]. Errors say what to do: `nonce 7 already used; next nonce is 8`.
//! - **Proposing** (primary): as soon as the replica asks for a proposal and the DAG holds
//!   unconfirmed vertices, the proposal references the current tips (at most
//!   [`ChainConfig::max_tips`]), capped at [`ChainConfig::max_batch`] vertices (a prefix of the
//!   deterministic order, whose tips then replace the DAG's), executes them on a copy of the state
//!   and fills the header (ordered root, receipts root, state root, next committee at an epoch's
//!   end). The replica asks for `n + 1` once `n` committed, or once it sent its commit for `n`
//!   (pipelining): then the proposal is built on `n`'s speculative execution, with the DAG
//!   ordered as if `n` were confirmed, and only with at least
//!   [`ChainConfig::pipeline_min_batch`] new vertices (else the request waits for `n`).
//!   On an idle DAG an empty milestone follows after [`ChainConfig::idle_propose_ms`] (5 s by
//!   default), a heartbeat for the runtime's milestone hooks. The replica is told whether the
//!   primary owes a milestone ([`itc_consensus::Input::Pending`]: the DAG holds unconfirmed
//!   vertices, or the heartbeat is overdue) whenever that changes, and suspects the primary
//!   only then or while a proposal is in flight: an idle chain needs no milestone more often
//!   than the heartbeat to keep its view, and a silent primary is still replaced.
//! - **Censorship** (backups): a primary that keeps proposing restarts the replicas' timers with
//!   every milestone, so one that leaves out a vertex would never be suspected by them. A
//!   vertex this validator has held for [`ChainConfig::censorship_timeout_ms`] (10 s), skipped
//!   by a milestone with room for it that committed at least half that time after it arrived
//!   (one that confirmed a vertex which reached this validator later, or nothing), makes the
//!   validator tell its replica [`itc_consensus::Input::Suspect`] (a view change, once per
//!   view) and the node [`Output::SuspectedCensorship`]: PBFT's per-request timer, for the DAG.
//!   A primary lagging behind its gossip confirms vertices in about the order they spread, so
//!   it is not suspected.
//! - **Validating** (backups): proposer in the committee, timestamp not before the parent's nor
//!   beyond the clock drift, bounds, every tip known (else fetch and validate later), ordered
//!   root, then re-execution and comparison of the state and receipts roots, epoch and next
//!   committee. The execution is cached and reused when the header commits.
//! - **Applying**: a committed milestone's certificate is verified against its epoch's committee;
//!   the cached execution is adopted (or, for milestones learnt by state transfer, the vertices
//!   are fetched, executed and the roots compared: a mismatch is [`Error::Divergence`]); the DAG
//!   confirms it; receipts go into the tx index; [`Output::Finalized`] goes to the node.
//! - **State transfer**: the replica asks peers for certified milestones when it sees it is
//!   behind and serves the last `retain_certified` itself; [`Validator::certified_range`] serves
//!   older ones from this node's memory, and [`Validator::receive_certified`] adopts such
//!   milestones fetched out of band (the node asks a peer's store when it stops progressing).
//!   Received ones arrive as commits and are applied as above.
//! - **Queries** for the RPC: [`Validator::next_nonce`] (pending included),
//!   [`Validator::account`], [`Validator::tx_status`] ([`TxStatus`]: pending with DAG confidence,
//!   finalised with receipt, failed with reason), [`Validator::latest_finalized`],
//!   [`Validator::milestone`], [`Validator::milestone_by_hash`], [`Validator::tips`],
//!   [`Validator::vertex`], [`Validator::state`] (for proofs).
//!
//! ## Driving it from the node
//! The node's async event loop owns the validator (plain data without locks: keep it in one
//! task) and maps its outputs to network, disk and timers:
//!
//! ```text
//! let mut v = Validator::new(cfg, key, &genesis_config, genesis_ms, dag_store, state)?;
//! run(v.start(now_ms())?);
//! loop {
//!     let outputs = select! {
//!         (peer, bytes) = consensus_topic.next()   => v.handle_message_bytes(peer, &bytes, now_ms()),
//!         bytes = vertex_topic.next()              => v.receive_vertex(&bytes, now_ms()).map(|s| s.outputs),
//!         (bytes, reply) = fetch_answers.next()    => v.receive_vertex(&bytes, now_ms()).map(|s| s.outputs),
//!         id = timers.next()                       => v.handle(Event::Timeout(id), now_ms()),
//!         id = disk_acks.next()                    => v.handle(Event::Persisted(id), now_ms()),
//!         _ = tick_every_20ms.tick()               => v.handle(Event::Tick, now_ms()),
//!         (tx, reply) = rpc_submit.next()          => { let s = v.submit_transaction(tx, now_ms()); .. }
//!         (query, reply) = rpc_queries.next()      => { reply(v.tx_status(..) / v.next_nonce(..) ..); continue }
//!         (hash, peer) = fetch_requests.next()     => { answer(peer, v.vertex(&hash)); continue }
//!     }?;                       // an Err is fatal for this node: stop and resync
//!     run(outputs);
//! }
//!
//! fn run(outputs) { for o in outputs { match o {
//!     Output::Send(peer, msg)      => network.send(peer, msg.to_bytes()),
//!     Output::Broadcast(msg)       => network.publish(CONSENSUS_TOPIC, msg.to_bytes()),
//!     Output::Gossip(vertex)       => network.publish(VERTEX_TOPIC, vertex.encode()),
//!     Output::FetchVertices(hs)    => network.request_vertices(hs),        // request-response
//!     Output::Persist(id, record)  => disk.append_synced(record.encode()), then ack Persisted(id),
//!     Output::ScheduleTimeout{id, after_ms} => timers.push(sleep(after_ms), id),
//!     Output::Finalized(f)         => { disk.write_synced(header, cert, receipts, tx index);
//!                                       then notify subscribers (chain_subscribeFinalized) }
//!     Output::Evidence(e)          => submit it as a committee report transaction,
//!     Output::EpochChanged{..}     => metrics / logs,
//! }}}
//! ```
//! Persist acknowledgements must arrive in order; the replica holds every message that depends
//! on a record until its `Persisted` arrives. Milestone state and DAG vertices are written through
//! the [`itc_runtime::StateBackend`] and [`itc_dag::DagStore`] the node passed in.
//!
//! ## Testing
//! [`sim::Network`] runs several validators over a seeded in-memory message queue in virtual
//! time (latency, cut-off nodes, timers, fetches); `tests/` uses it for finality with equal state
//! roots, failed transactions, catch-up by state transfer, view change after a silent primary and
//! replay from a seed. `examples/finality_inprocess.rs` measures finalised tx/s against the
//! single-core signature-verification rate.
//!
//! ## Limits
//! - Speculative execution clones the state backend (`B: Clone`); cheap for
//!   [`itc_runtime::MemoryBackend`] with bounded history; the node's database backend clones a
//!   handle plus an overlay of the writes not yet flushed ([`Validator::state_mut`]).
//! - Only the last [`ChainConfig::retain_milestones`] finalised milestones, their receipts and
//!   their tx index entries are kept in memory; the node persists every milestone from
//!   [`Output::Finalized`] and answers older queries from its store. After a restart it hands
//!   [`Validator::restore`] that window alone (with the DAG store, the state, the committees and
//!   the replica's persist log, [`Persisted`]); the replica resumes after the window's base in
//!   its epoch (`Pbft::restore_after`), so a restart costs the window, not the chain.
//! - A vertex replaying a transaction finalised before the window enters the pending pool; it
//!   leaves it when a milestone confirms it (executed as invalid: its nonce is spent).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod censorship;
mod config;
mod error;
mod execute;
pub mod genesis;
mod mempool;
mod query;
mod restore;
pub mod sim;
mod validator;

pub use config::{
    ChainConfig, DEFAULT_CENSORSHIP_TIMEOUT_MS, DEFAULT_IDLE_PROPOSE_MS, DEFAULT_PARKED_TIMEOUT_MS,
    DEFAULT_PIPELINE_MIN_BATCH,
};
pub use error::{Error, Result};
pub use genesis::Genesis;
pub use mempool::MAX_PARKED;
pub use query::TxStatus;
pub use restore::Persisted;
pub use validator::{
    Event, Finalized, Output, Submitted, Validator, FETCH_RETRY_MAX_MS, FETCH_RETRY_MS,
};
