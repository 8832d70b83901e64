//! Censorship detection: PBFT's per-request timer, for the DAG.
//!
//! The replica's view-change timer restarts with every committed milestone, so a primary that
//! keeps proposing but leaves out one vertex is never suspected by it. An honest primary
//! proposes every tip it holds (up to `max_tips`, the past cone up to `max_batch`), so it never
//! confirms a vertex while leaving out one it has held for longer. A validator therefore
//! suspects the primary (tells its replica [`itc_consensus::Input::Suspect`], once per view)
//! when a vertex V it holds has waited `censorship_timeout_ms` and a milestone committed at
//! least half that time after V arrived (time enough for gossip or the tips exchange to bring V
//! to the primary) had room to spare and yet skipped V: it confirmed a vertex that reached this
//! validator after V, or nothing at all.
//!
//! What does not count, so that an honest primary is not suspected:
//! - full milestones (at `max_batch` or `max_tips`): an overloaded primary drains a backlog;
//! - milestones that confirmed only vertices older than V here: a primary that lags behind its
//!   gossip (overload, a slow link) confirms vertices in about the order they spread;
//! - milestones this validator learnt by state transfer rather than saw proposed: it may have
//!   been the one lagging.
//!
//! Time is counted from the later of V's arrival and the start of the current view, so a new
//! primary gets the whole timeout.
use std::collections::{HashMap, VecDeque};

use itc_consensus::View;
use itc_primitives::Hash;

/// Below this many entries the arrival queue is never compacted.
const COMPACT_ABOVE: usize = 4_096;
/// Recent milestones remembered as evidence (a check runs at every idle moment of the node, so
/// a few suffice).
const RECENT_MILESTONES: usize = 64;

/// A committed milestone, as evidence: when it committed here and the latest arrival here of a
/// vertex it confirmed (`u64::MAX` if it confirmed none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Skip {
    committed_ms: u64,
    newest_arrival_ms: u64,
}

/// The watch over this validator's unconfirmed vertices (see the module docs).
#[derive(Debug)]
pub(crate) struct Watch {
    timeout_ms: u64,
    /// Vertices in arrival order; confirmed ones leave from the front.
    arrivals: VecDeque<(u64, Hash)>,
    /// Arrival time of every vertex not yet confirmed.
    arrival_of: HashMap<Hash, u64>,
    /// Recent roomy milestones seen live, oldest first.
    recent: VecDeque<Skip>,
    /// The current view and when this validator first saw it.
    view: (View, u64),
    /// The last view whose primary was suspected.
    suspected: Option<View>,
}

impl Watch {
    pub(crate) fn new(timeout_ms: u64, view: View, now_ms: u64) -> Self {
        Watch {
            timeout_ms,
            arrivals: VecDeque::new(),
            arrival_of: HashMap::new(),
            recent: VecDeque::new(),
            view: (view, now_ms),
            suspected: None,
        }
    }

    /// A vertex entered the DAG (attached, not orphaned) and waits for a milestone.
    pub(crate) fn arrived(&mut self, hash: Hash, now_ms: u64) {
        if self.arrival_of.insert(hash, now_ms).is_none() {
            self.arrivals.push_back((now_ms, hash));
        }
    }

    /// A milestone confirming `order` committed. It is evidence only if it was `live` (seen
    /// proposed, not learnt by state transfer) and `roomy` (below both batch bounds).
    pub(crate) fn committed(&mut self, order: &[Hash], live: bool, roomy: bool, now_ms: u64) {
        let mut newest = None;
        for hash in order {
            if let Some(at) = self.arrival_of.remove(hash) {
                newest = newest.max(Some(at));
            }
        }
        if live && roomy {
            // A milestone that confirmed nothing this node knew skipped all it holds.
            let newest_arrival_ms = if order.is_empty() { u64::MAX } else { newest.unwrap_or(0) };
            self.recent.push_back(Skip { committed_ms: now_ms, newest_arrival_ms });
            if self.recent.len() > RECENT_MILESTONES {
                self.recent.pop_front();
            }
        }
    }

    /// The vertex left out, if the primary of `view` is to be suspected now. `waiting` tells
    /// whether a vertex still waits for a milestone, `waiting_count` how many do (it bounds the
    /// queue).
    pub(crate) fn check(
        &mut self,
        view: View,
        now_ms: u64,
        waiting: impl Fn(&Hash) -> bool,
        waiting_count: usize,
    ) -> Option<Hash> {
        if self.view.0 != view {
            self.view = (view, now_ms);
        }
        while let Some(&(_, hash)) = self.arrivals.front() {
            if waiting(&hash) && self.arrival_of.contains_key(&hash) {
                break;
            }
            self.arrivals.pop_front();
            self.arrival_of.remove(&hash);
        }
        if self.arrivals.len() > COMPACT_ABOVE && self.arrivals.len() > 2 * waiting_count {
            // Confirmed vertices pile up behind one that waits: drop them.
            let arrival_of = &mut self.arrival_of;
            self.arrivals.retain(|(_, hash)| {
                let keep = waiting(hash);
                if !keep {
                    arrival_of.remove(hash);
                }
                keep
            });
        }
        let &(arrived, vertex) = self.arrivals.front()?;
        let since = arrived.max(self.view.1);
        if now_ms < since.saturating_add(self.timeout_ms) || self.suspected == Some(view) {
            return None;
        }
        let grace_end = since.saturating_add(self.timeout_ms / 2);
        let skipped = self
            .recent
            .iter()
            .any(|m| m.committed_ms >= grace_end && m.newest_arrival_ms > arrived);
        if skipped {
            self.suspected = Some(view);
            return Some(vertex);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        Hash([n; 32])
    }

    #[test]
    fn a_vertex_skipped_by_roomy_milestones_is_reported_once_per_view() {
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(1), 100);
        w.arrived(h(2), 300);
        let waits = |x: &Hash| *x == h(1);
        // Overdue, but no milestone since the grace (ends at 600): an idle or stalled primary.
        assert!(w.check(0, 1_100, waits, 1).is_none());
        // Within the grace, confirming a younger vertex is no evidence yet.
        w.committed(&[h(2)], true, true, 500);
        assert!(w.check(0, 1_200, waits, 1).is_none());
        // After it: a full milestone, or one learnt by state transfer, is no evidence either.
        w.arrived(h(3), 400);
        w.committed(&[h(3)], true, false, 700);
        w.arrived(h(4), 450);
        w.committed(&[h(4)], false, true, 750);
        assert!(w.check(0, 1_200, waits, 1).is_none());
        // A roomy live milestone confirming only older vertices is a lagging primary.
        w.arrived(h(5), 50);
        w.committed(&[h(5)], true, true, 800);
        assert!(w.check(0, 1_200, waits, 1).is_none());
        // One confirming a younger vertex skipped h(1).
        w.arrived(h(6), 650);
        w.committed(&[h(6)], true, true, 900);
        assert_eq!(w.check(0, 1_200, waits, 1), Some(h(1)));
        assert!(w.check(0, 1_300, waits, 1).is_none(), "once per view");
        // A new view gives its primary the whole timeout from its start (1,300): an empty
        // milestone after 1,800 skipped everything.
        w.committed(&[], true, true, 1_700);
        assert!(w.check(1, 1_300, waits, 1).is_none());
        assert!(w.check(1, 2_400, waits, 1).is_none());
        w.committed(&[], true, true, 1_900);
        assert_eq!(w.check(1, 2_400, waits, 1), Some(h(1)));
    }

    #[test]
    fn confirmed_vertices_leave_and_the_queue_stays_bounded() {
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(1), 0);
        w.arrived(h(2), 500);
        w.arrived(h(3), 600);
        w.committed(&[h(1), h(3)], true, true, 1_600);
        // h(1) confirmed: h(2) is the oldest, overdue at 1,500 and skipped at 1,600.
        assert!(w.check(0, 1_400, |x| *x == h(2), 1).is_none());
        assert_eq!(w.check(0, 1_600, |x| *x == h(2), 1), Some(h(2)));
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(0), 0);
        for n in 1..=(2 * COMPACT_ABOVE as u32) {
            let mut hash = [0; 32];
            hash[..4].copy_from_slice(&n.to_le_bytes());
            w.arrived(Hash(hash), u64::from(n));
        }
        assert_eq!(w.check(0, 10, |x| *x == h(0), 1), None);
        assert_eq!((w.arrivals.len(), w.arrival_of.len()), (1, 1));
    }
}
