//! # itc-consensus: PBFT over milestones as a pure state machine
//!
//! [`Pbft`] is one replica of Practical Byzantine Fault Tolerance (Castro & Liskov, OSDI'99 and
//! TOCS'02) that orders ITC milestone headers ([`itc_primitives::MilestoneHeader`]). It does no
//! I/O, reads no clock and draws no randomness: [`Pbft::step`] takes an [`Input`] and returns the
//! [`Action`]s the caller carries out, in order (the shape of raft-rs's `RawNode` and malachite's
//! core state machine). Signatures are sr25519 and deterministic
//! ([`itc_primitives::Pair::sign_deterministic`]), so a seeded run replays byte for byte.
//!
//! ```text
//! inputs:  Message(peer, SignedMessage) | TimeoutElapsed(TimerId) | Propose(header)
//!          | Validated { seq, digest, ok } | Persisted(PersistId) | Certified(milestones)
//!          | Pending(bool)
//! actions: Send(peer, msg) | Broadcast(msg) | Persist(id, record) | ScheduleTimeout { id, after_ms }
//!          | RequestProposal { view, seq, parent, epoch } | Validate(header)
//!          | Committed(header, FinalityCertificate) | Evidence(..) | EpochChanged { .. }
//! ```
//!
//! ## Driving a replica
//! 1. `Pbft::new(config, key, genesis)` (or [`Pbft::restore`] from persisted records), then
//!    [`Pbft::start`].
//! 2. Feed every peer message (decoded with [`SignedMessage::from_bytes`], which uses
//!    `decode_untrusted`), every elapsed timeout, whether work is pending (`Pending`, when it
//!    changes), and the answers to `RequestProposal` (the
//!    primary's next header) and `Validate` (the node checks the DAG past cone and re-executes to
//!    compare the state and receipts roots; the answer may come later).
//! 3. Carry out the actions in order. `Persist` records must become durable in order; the replica
//!    holds every message that depends on a record until its `Persisted` arrives, and emits
//!    `Committed` only once the commit record is durable. `Committed` milestones come in order,
//!    without gaps, each with a [`itc_primitives::FinalityCertificate`] that
//!    `FinalityCertificate::verify(&header, &committee)` accepts.
//!
//! ## The protocol, mapped to the paper
//! | paper | here |
//! |---|---|
//! | §4.1 replicas, views, primary `p = v mod n` | the committee of the epoch; primary of view `v` is member `(v + epoch) mod n` ([`Pbft::primary_of`]) |
//! | §4.2 pre-prepare | the primary asks for a proposal ([`Action::RequestProposal`]) for the next number and multicasts `PrePrepare { view, seq, header }` |
//! | §4.2 accept pre-prepare | signed by the view's primary, current view, `h < seq ≤ H`, no other pre-prepare for `(view, seq)`; the header must extend the last committed milestone and pass the caller's validation |
//! | §4.2 prepare, `prepared` | backups multicast `Prepare`; prepared = pre-prepare + 2f matching prepares of distinct backups (the primary's prepare does not count) |
//! | §4.2 commit, `committed-local` | prepared replicas multicast `Commit`, signed over `commit_payload(seq, view, digest)`; 2f+1 matching commits are the finality certificate |
//! | §4.2 execution order | committed milestones are delivered in number order |
//! | §4.3 checkpoints | after committing a multiple of K, multicast `Checkpoint { seq, digest = header hash }`; 2f+1 matching ones make it stable |
//! | §4.3 watermarks, GC | `h` = stable checkpoint, `H = h + L`; log, votes and certificates at or below `h` are discarded |
//! | §4.4 view change | on timeout (or an invalid proposal) multicast `ViewChange { new_view, stable checkpoint proof, P }` where P holds, per number above `h`, the prepared certificate of the highest view |
//! | §4.4 new view | the new primary, with 2f+1 view changes, multicasts `NewView { view, V, signatures of O }`; min-s is the highest stable checkpoint in V and O re-proposes, per number above it, the header of the highest-view prepared certificate; backups recompute O and check it |
//! | §4.4 timer only while a request waits | the view-change timer suspects the primary only while the caller has work to propose ([`Input::Pending`]`(true)`, the default) or a pre-prepare of the view is uncommitted; otherwise an expired timer only asks peers for missed milestones and re-arms, so an idle chain keeps its view without empty milestones. Work arriving while the timer idles restarts it, giving the primary a whole period |
//! | §4.4 timeout doubling | the timeout doubles with every view change without progress (capped), and resets on a commit |
//! | §4.5.2 liveness | f+1 view changes for higher views make a replica join the smallest; the timer of a new view only moves on once 2f+1 view changes for it arrived (a replica alone waits and retransmits); a view change for a view below ours is answered with our view changes from that view up, each at most once per peer per timer period, so answers to answers die out instead of multiplying |
//! | §4.4 / §5 faulty primary | silent (timeout), invalid proposal (`Validated { ok: false }` or broken links: immediate view change), equivocating (no quorum, timeout; plus evidence), censoring while it proposes (the caller's evidence, [`Input::Suspect`]: immediate view change) |
//! | §5.3 state transfer | a replica that sees others ahead asks for `StateRequest { from }` and applies certified milestones (header + certificate) it verifies itself; members are always answered, requests from outside the committee (anyone can sign one, and the answer is large) at most [`OUTSIDER_STATE_ANSWERS`] times per timer period in all |
//! | §4 stable storage | [`PersistRecord`]s: every sent message, prepared certificates, commits, stable checkpoints; [`Pbft::restore`] rebuilds from them |
//!
//! **Pipelining and the sequential validation rule.** Pre-prepares, prepares and commits for every
//! number in the window `(h, H]` are accepted and kept, and at any time several numbers can have
//! messages in flight. A replica validates (and so prepares) number `n` only once it has
//! delivered `n − 1`, or (pipelining, depth 2) once it delivered `n − 2` and sent its commit for
//! the `n − 1` that `n` names as parent: a header's state root is the result of executing on top
//! of its parent (replicas execute before they vote), and the caller executes `n` on `n − 1`'s
//! speculative state. The primary likewise proposes `n` once it sent its commit for `n − 1`
//! ([`Action::RequestProposal`] names the parent). This keeps view changes safe for the chain:
//! if `n` is prepared, f+1 correct replicas sent their commit for its parent, so every quorum of
//! view changes carries a prepared certificate for `n − 1` with that digest, and the new view's
//! O, which stops at the first certificate not extending the previous one, has no gap or
//! broken link before `n`. No milestone is pipelined on one that names the next committee.
//!
//! **Epochs.** A committed header with `next_committee: Some(c)` ends its epoch. Every replica
//! that commits it switches to `c` (view 0, empty log) with that header as the new epoch's base:
//! the implicit stable checkpoint that needs no signatures. Replicas not in the old committee
//! follow it as observers (they accept the committee's messages but do not vote) or catch up by
//! state transfer; messages from an older epoch are ignored and messages from a newer one trigger
//! a state request.
//!
//! **Evidence.** The first signed pre-prepare, prepare, commit (per view and number) and
//! checkpoint (per number) of every member is kept until garbage collection; a second one with a
//! different digest yields one [`Action::Evidence`] with both signed messages
//! ([`Evidence::is_valid`] lets the runtime re-check them before punishing).
//!
//! ## Wire format (SCALE)
//! A message is a [`SignedMessage`] `{ epoch: Compact<u64>, sender: [u8; 32], body: Body,
//! signature: [u8; 64] }`. [`Body`] variants, with their fixed indices:
//!
//! | index | variant | fields |
//! |---|---|---|
//! | 0 | `PrePrepare` | `view: Compact<u64>, seq: Compact<u64>, header: MilestoneHeader` |
//! | 1 | `Prepare` | `view: Compact<u64>, seq: Compact<u64>, digest: [u8; 32]` |
//! | 2 | `Commit` | same as `Prepare` |
//! | 3 | `Checkpoint` | `seq: Compact<u64>, digest: [u8; 32]` |
//! | 4 | `ViewChange` | `new_view: Compact<u64>, stable: CheckpointProof, prepared: Vec<PreparedCert>` (≤ 256) |
//! | 5 | `NewView` | `view: Compact<u64>, view_changes: Vec<SignedViewChange>, pre_prepare_sigs: Vec<[u8; 64]>` |
//! | 6 | `StateRequest` | `from: Compact<u64>` |
//! | 7 | `StateResponse` | `milestones: Vec<(MilestoneHeader, FinalityCertificate)>` (≤ 32), `checkpoint: Option<CheckpointProof>` |
//!
//! `CheckpointProof = { checkpoint: Checkpoint, signatures: Vec<([u8; 32], [u8; 64])> }`,
//! `PreparedCert = { view: Compact, seq: Compact, header, pre_prepare_sig: [u8; 64], prepares:
//! Vec<([u8; 32], [u8; 64])> }`, `SignedViewChange = { sender: [u8; 32], view_change: ViewChange,
//! signature: [u8; 64] }`.
//!
//! **What is signed.** A `Commit` signs `itc_primitives::milestone::commit_payload(seq, view,
//! digest)` = `"ITC/pbft/commit1" ++ u64 LE seq ++ u64 LE view ++ digest`. Every other body signs
//! `"ITC/pbft/msg/v1\0" ++ u64 LE epoch ++ sender ++ SCALE(body)` ([`message::signing_payload`]).
//! The certificates inside view changes and new views are checked against these same payloads.
//!
//! **Test vectors** (asserted in `message::tests::scale_test_vectors`):
//! ```text
//! Prepare { view: 1, seq: 2, digest: 0xaa×32 }  body = 01 04 08 aa…aa (35 bytes)
//! Commit  { view: 1, seq: 2, digest: 0xaa×32 }  body = 02 04 08 aa…aa
//! Checkpoint { seq: 8, digest: 0xbb×32 }        body = 03 20 bb…bb
//! StateRequest { from: 5 }                      body = 06 14
//! signing payload of that prepare, epoch 3, sender = key of seed [1; 32]:
//!   4954432f706266742f6d73672f763100 0300000000000000 <32-byte sender> 010408aa…aa
//! key of seed [1; 32] = 189dac29296d31814dc8c56cf3d36a0543372bba7538fa322a4aebfebc39e056
//! SignedMessage { epoch: 0, sender: that key, body: StateRequest { from: 5 } } =
//!   00 189dac29296d31814dc8c56cf3d36a0543372bba7538fa322a4aebfebc39e056 06 14
//!   76357d3ead25c7331b957401ea32776e9b617114401a4b7b46b331b6e49ec317
//!   1126f403226a7d5eb02b2c82c50c7d273c3f237e484bd8a105571cf76a828d87
//! ```
//!
//! ## Persisted records (SCALE)
//! [`PersistRecord`]: `0 Sent(SignedMessage)`, `1 Prepared(PreparedCert)`, `2 Committed { header,
//! certificate }`, `3 Stable { epoch: Compact<u64>, proof: CheckpointProof }`, `4
//! EnteredView(SignedMessage)` (an accepted new-view message). Records below the latest `Stable`
//! may be compacted away except the `Committed` ones the node keeps anyway.
//!
//! ```text
//! Sent(SignedMessage { epoch: 2, sender: 0x11×32, body: Prepare { view: 1, seq: 2, digest: 0xaa×32 },
//!      signature: 0x22×64 })            = 00 08 11…11 01 04 08 aa…aa 22…22
//! EnteredView(same envelope, body StateRequest { from: 5 }) = 04 08 11…11 06 14 22…22
//! ```
//! (asserted in `io::tests::persist_record_test_vectors`).
//!
//! **Durability** ([`PersistRecord::durability`]): every record must be on stable storage before
//! the caller answers [`Input::Persisted`], except a backup's own prepare, which may be buffered
//! behind the synced records. A crash can lose it; the restored replica then sends no prepare
//! in its restored view up to three milestones above its last delivered one unless its log holds
//! its own (the *restart fence*), and entering a view through another replica's new-view
//! message is recorded ([`PersistRecord::EnteredView`]) so the restored view is never below a
//! view it voted in. One fsync fewer per milestone on each backup.
//!
//! ## Simulator
//! [`sim`] holds a lock-step [`sim::Cluster`] (unit tests, benchmark) and a seeded discrete-event
//! simulator ([`sim::run`]) with latency, jitter, drops, duplicates, healing partitions,
//! crash/restart from persisted records (buffered ones lost), catch-up from peers' stores and up
//! to f byzantine replicas; it checks agreement,
//! validity and every certificate after every event, and liveness after the faults end; a run
//! that exceeds its caps on events or queued messages stops as a liveness failure. Long run:
//! `cargo run -p itc-consensus --release --example sim -- --seeds 10000`.
//!
//! ## Limits
//! - State transfer is served from the last [`Config::retain_certified`] milestones kept in
//!   memory; a replica further behind is fed older milestones from a peer's store by its caller
//!   ([`Input::Certified`]).
//! - The persist log is the caller's to keep; [`compact::compact`] drops what a stable
//!   checkpoint made obsolete.
//! - At most two numbers are open at a time (the rule above); throughput comes from short,
//!   overlapping rounds, not from parallel validation.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod compact;
mod config;
mod error;
pub mod io;
mod machine;
pub mod message;
pub mod sim;

pub use config::{Config, Genesis};
pub use error::{Error, Result};
pub use io::{Action, Durability, Evidence, Input, PersistId, PersistRecord, Stats, TimerId};
pub use machine::{Pbft, Status, OUTSIDER_STATE_ANSWERS};
pub use message::{Body, SignedMessage, VerifiedMessage};

/// A PBFT view number.
pub type View = u64;
/// A sequence number: the milestone number.
pub type SeqNo = itc_primitives::MilestoneNumber;
