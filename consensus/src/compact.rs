//! Compaction of the persist log.
//!
//! A replica's [`PersistRecord`]s only grow; replaying them all at every restart would get
//! slower forever. Once a checkpoint is stable (PBFT §4.3) most of what came before it is
//! garbage: [`Pbft::restore`](crate::Pbft::restore) would replay it and then collect it again.
//! [`compact`] drops exactly those records, so that restoring from the compacted log gives the
//! same replica as restoring from the whole log, provided the committed milestones up to
//! `committed` are replayed first (the node regenerates them from its milestone store).
//!
//! With `s` the checkpoint of the last [`PersistRecord::Stable`] of the current epoch, a record
//! is dropped when it is:
//! - [`PersistRecord::Committed`] at or below `committed` (the store replays it);
//! - of an earlier epoch (restore ignores it: the store's milestones set the epoch);
//! - an earlier `Stable` record (the last one collects at least as much);
//! - a [`PersistRecord::Prepared`] certificate or a sent checkpoint at or below `s` (collected by
//!   the stable checkpoint);
//! - a sent pre-prepare, prepare or commit at or below `s`, except the last one of each view:
//!   replaying a vote also moves the replica to the vote's view, and the last vote of a view
//!   has the same effect on the view as all of that view's votes together;
//! - a state request or answer (restore ignores them).
//!
//! Sent view changes and new views, and accepted new views ([`PersistRecord::EnteredView`]) of
//! the current epoch, are always kept: they are rare, and restoring them rebuilds the view-change
//! state that no checkpoint collects.
use std::collections::HashMap;

use crate::{io::PersistRecord, message::Body, SeqNo, View};

/// The records of `records` (oldest first) still needed after the committed milestones
/// `1..=committed` of a replica now in `epoch`. See the module docs for the rules.
pub fn compact(records: Vec<PersistRecord>, committed: SeqNo, epoch: u64) -> Vec<PersistRecord> {
    let last_stable = records
        .iter()
        .rposition(|r| matches!(r, PersistRecord::Stable { epoch: e, .. } if *e == epoch));
    let stable_seq = stable_seq(&records, epoch).unwrap_or(0);
    let mut last_vote_of_view: HashMap<View, usize> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        if let PersistRecord::Sent(msg) = record {
            if let Some((view, seq)) = vote_slot(&msg.body) {
                if msg.epoch == epoch && seq <= stable_seq {
                    last_vote_of_view.insert(view, i);
                }
            }
        }
    }
    let keep = |i: usize, record: &PersistRecord| match record {
        PersistRecord::Committed { header, .. } => header.number > committed,
        PersistRecord::Prepared(cert) => cert.header.epoch == epoch && cert.seq > stable_seq,
        PersistRecord::Stable { .. } => Some(i) == last_stable,
        PersistRecord::EnteredView(msg) => msg.epoch == epoch,
        PersistRecord::Sent(msg) if msg.epoch != epoch => false,
        PersistRecord::Sent(msg) => match &msg.body {
            Body::Checkpoint(c) => c.seq > stable_seq,
            Body::ViewChange(_) | Body::NewView(_) => true,
            Body::StateRequest { .. } | Body::StateResponse { .. } => false,
            body => vote_slot(body).is_some_and(|(view, seq)| {
                seq > stable_seq || last_vote_of_view.get(&view) == Some(&i)
            }),
        },
    };
    records.into_iter().enumerate().filter(|(i, r)| keep(*i, r)).map(|(_, r)| r).collect()
}

/// The seq of the latest [`PersistRecord::Stable`] of `epoch` in `records`, if any.
pub fn stable_seq(records: &[PersistRecord], epoch: u64) -> Option<SeqNo> {
    records.iter().rev().find_map(|r| match r {
        PersistRecord::Stable { epoch: e, proof } if *e == epoch => Some(proof.checkpoint.seq),
        _ => None,
    })
}

/// Where [`Pbft::restore_after`](crate::Pbft::restore_after) may resume a replica that is in
/// `epoch` (based at milestone `epoch_base`), has the milestones `1..=committed` in its store
/// and `records` in its log, so that the last `keep` milestones (at least) are replayed: the
/// earliest of `committed - keep` and the log's latest stable checkpoint of the epoch, never
/// before the epoch base. Resuming there rebuilds the replica that replaying the whole chain
/// would.
pub fn resume_point(
    records: &[PersistRecord],
    committed: SeqNo,
    epoch: u64,
    epoch_base: SeqNo,
    keep: u64,
) -> SeqNo {
    let stable = stable_seq(records, epoch).unwrap_or(epoch_base);
    committed.saturating_sub(keep).min(stable).max(epoch_base)
}

/// The view and sequence number of a pre-prepare, prepare or commit.
fn vote_slot(body: &Body) -> Option<(View, SeqNo)> {
    match body {
        Body::PrePrepare(pp) => Some((pp.view, pp.seq)),
        Body::Prepare(v) | Body::Commit(v) => Some((v.view, v.seq)),
        _ => None,
    }
}
