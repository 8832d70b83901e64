//! Censorship detection: PBFT's per-request timer, for the DAG.
//!
//! The replica's view-change timer restarts with every committed milestone, so a primary that
//! keeps proposing but leaves out one vertex is never suspected by it. An honest primary
//! proposes every tip it holds (up to `max_tips`, the past cone up to `max_batch`), so a vertex
//! that this validator has held for `censorship_timeout_ms` and that is still unconfirmed,
//! although a milestone with room to spare was committed at least half that time after the
//! vertex arrived (time enough for gossip or the tips exchange to bring it to the primary), is
//! evidence against the primary: the validator tells its replica [`itc_consensus::Input::Suspect`],
//! once per view. Time is counted from the later of the vertex's arrival and the start of the
//! current view, so a new primary gets the whole timeout. Full milestones (at `max_batch` or
//! `max_tips`) do not count, so an overloaded honest primary draining a backlog in order is not
//! suspected; nor do milestones this validator learnt by state transfer rather than saw
//! proposed, so a lagging validator does not blame the primary for its own delay.
use std::collections::VecDeque;

use itc_consensus::View;
use itc_primitives::Hash;

/// Below this many entries the arrival queue is never compacted.
const COMPACT_ABOVE: usize = 4_096;

/// The watch over this validator's unconfirmed vertices (see the module docs).
#[derive(Debug)]
pub(crate) struct Watch {
    timeout_ms: u64,
    /// Vertices in arrival order, with their arrival time; confirmed ones leave from the front.
    arrivals: VecDeque<(u64, Hash)>,
    /// The current view and when this validator first saw it.
    view: (View, u64),
    /// When the last milestone with room to spare was committed here.
    roomy_commit_ms: Option<u64>,
    /// The last view whose primary was suspected.
    suspected: Option<View>,
}

impl Watch {
    pub(crate) fn new(timeout_ms: u64, view: View, now_ms: u64) -> Self {
        Watch {
            timeout_ms,
            arrivals: VecDeque::new(),
            view: (view, now_ms),
            roomy_commit_ms: None,
            suspected: None,
        }
    }

    /// A vertex entered the DAG (attached, not orphaned) and waits for a milestone.
    pub(crate) fn arrived(&mut self, hash: Hash, now_ms: u64) {
        self.arrivals.push_back((now_ms, hash));
    }

    /// A milestone was committed; `roomy` if it was below both batch bounds.
    pub(crate) fn committed(&mut self, roomy: bool, now_ms: u64) {
        if roomy {
            self.roomy_commit_ms = Some(now_ms);
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
        while self.arrivals.front().is_some_and(|(_, hash)| !waiting(hash)) {
            self.arrivals.pop_front();
        }
        if self.arrivals.len() > COMPACT_ABOVE && self.arrivals.len() > 2 * waiting_count {
            // Confirmed vertices pile up behind one that waits: drop them.
            self.arrivals.retain(|(_, hash)| waiting(hash));
        }
        let &(arrived, vertex) = self.arrivals.front()?;
        let since = arrived.max(self.view.1);
        let overdue = now_ms >= since.saturating_add(self.timeout_ms);
        let left_out =
            self.roomy_commit_ms.is_some_and(|at| at >= since.saturating_add(self.timeout_ms / 2));
        if overdue && left_out && self.suspected != Some(view) {
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
    fn a_vertex_left_out_of_roomy_milestones_is_reported_once_per_view() {
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(1), 100);
        let waits = |x: &Hash| *x == h(1);
        // Overdue, but no roomy milestone since the grace: an idle or overloaded primary.
        assert!(w.check(0, 1_100, waits, 1).is_none());
        w.committed(false, 900);
        assert!(w.check(0, 1_200, waits, 1).is_none());
        // A roomy milestone within the grace does not count; one after it does.
        w.committed(true, 500);
        assert!(w.check(0, 1_200, waits, 1).is_none());
        w.committed(true, 700);
        assert_eq!(w.check(0, 1_200, waits, 1), Some(h(1)));
        assert!(w.check(0, 1_300, waits, 1).is_none(), "once per view");
        // A new view gives its primary the whole timeout from its start.
        w.committed(true, 1_400);
        assert!(w.check(1, 1_300, waits, 1).is_none());
        assert!(w.check(1, 2_200, waits, 1).is_none());
        w.committed(true, 1_900);
        assert!(w.check(1, 2_300, waits, 1).is_some());
    }

    #[test]
    fn confirmed_vertices_leave_and_the_queue_stays_bounded() {
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(1), 0);
        w.arrived(h(2), 500);
        w.committed(true, 1_600);
        // h(1) confirmed: h(2) is the oldest, not yet overdue.
        assert!(w.check(0, 1_400, |x| *x == h(2), 1).is_none());
        assert!(w.check(0, 1_600, |x| *x == h(2), 1).is_some());
        let mut w = Watch::new(1_000, 0, 0);
        w.arrived(h(0), 0);
        for n in 0..(2 * COMPACT_ABOVE as u64) {
            w.arrived(h(1), n);
        }
        assert_eq!(w.check(0, 10, |x| *x == h(0), 1), None);
        assert_eq!(w.arrivals.len(), 1);
    }
}
