//! Which peer to ask for vertices or certified milestones, and how much each peer may ask of
//! this node.
//!
//! Requests rotate over the connected peers, so load spreads and no single peer is trusted to
//! answer. A peer whose answer was useless (the request failed or timed out, it was refused,
//! it was empty, or it held a vertex no honest node would send) is passed over for a back-off
//! that starts at [`BACKOFF_BASE_MS`] and doubles with each further useless answer, up to
//! [`BACKOFF_MAX_MS`]; a useful answer clears its record. When every peer is backing off, the
//! one whose back-off ends first is asked anyway: a node with only bad peers keeps trying
//! rather than stalling. Time comes in as milliseconds, so the rules are tested without a clock.
use std::collections::HashMap;
use std::hash::Hash;

/// First back-off after a useless answer.
pub(crate) const BACKOFF_BASE_MS: u64 = 250;
/// Longest back-off.
pub(crate) const BACKOFF_MAX_MS: u64 = 30_000;

/// What a peer's answer was worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// It brought something this node did not have.
    Useful,
    /// Failed, refused, empty, or invalid.
    Useless,
}

#[derive(Clone, Copy, Debug, Default)]
struct Standing {
    /// Useless answers since the last useful one.
    failures: u32,
    /// Not asked again before this time, unless every peer is backing off.
    retry_at_ms: u64,
}

/// The standing of the peers this node asks for data.
#[derive(Debug)]
pub(crate) struct PeerBook<P> {
    standing: HashMap<P, Standing>,
    rotation: usize,
}

impl<P> Default for PeerBook<P> {
    fn default() -> Self {
        PeerBook { standing: HashMap::new(), rotation: 0 }
    }
}

impl<P: Copy + Eq + Hash> PeerBook<P> {
    /// The next peer of `connected` to ask at `now_ms`: the next in rotation that is not backing
    /// off, else the one whose back-off ends first. `None` only when `connected` is empty.
    pub(crate) fn pick(&mut self, connected: &[P], now_ms: u64) -> Option<P> {
        if connected.is_empty() {
            return None;
        }
        self.rotation = self.rotation.wrapping_add(1);
        let n = connected.len();
        let ready =
            (0..n).map(|i| connected[(self.rotation + i) % n]).find(|p| self.retry_at(p) <= now_ms);
        ready.or_else(|| connected.iter().copied().min_by_key(|p| self.retry_at(p)))
    }

    /// Records what `peer`'s answer at `now_ms` was worth.
    pub(crate) fn record(&mut self, peer: P, answer: Answer, now_ms: u64) {
        match answer {
            Answer::Useful => {
                self.standing.remove(&peer);
            }
            Answer::Useless => {
                let s = self.standing.entry(peer).or_default();
                s.failures = s.failures.saturating_add(1);
                let backoff = BACKOFF_BASE_MS
                    .saturating_mul(1u64 << (s.failures - 1).min(16))
                    .min(BACKOFF_MAX_MS);
                s.retry_at_ms = now_ms.saturating_add(backoff);
            }
        }
    }

    /// Drops a disconnected peer's record (a reconnecting peer starts afresh).
    pub(crate) fn forget(&mut self, peer: &P) {
        self.standing.remove(peer);
    }

    /// Until when `peer` is passed over (0: not at all).
    pub(crate) fn retry_at(&self, peer: &P) -> u64 {
        self.standing.get(peer).map_or(0, |s| s.retry_at_ms)
    }
}

/// How many requests each peer may make of this node: a token bucket per peer, `burst`
/// requests deep, refilled at `per_sec`. Answers read the store on the node's event loop, so a
/// request beyond the budget is refused unread: a peer flooding requests cannot stall
/// consensus. Honest peers stay far below it (a tips request every 2 s, fetches in batches).
#[derive(Debug)]
pub(crate) struct RequestBudget<P> {
    per_sec: u64,
    burst: u64,
    /// Per peer: thousandths of a request left, and when they were counted.
    buckets: HashMap<P, (u64, u64)>,
}

impl<P: Copy + Eq + Hash> RequestBudget<P> {
    pub(crate) fn new(per_sec: u32, burst: u32) -> Self {
        RequestBudget {
            per_sec: u64::from(per_sec),
            burst: u64::from(burst),
            buckets: HashMap::new(),
        }
    }

    /// Whether `peer` may make one more request at `now_ms` (and counts it if so).
    pub(crate) fn take(&mut self, peer: P, now_ms: u64) -> bool {
        let full = self.burst.saturating_mul(1_000);
        let (left, at) = self.buckets.entry(peer).or_insert((full, now_ms));
        // `per_sec` requests a second are `per_sec` thousandths a millisecond.
        let refill = now_ms.saturating_sub(*at).saturating_mul(self.per_sec);
        *left = left.saturating_add(refill).min(full);
        *at = now_ms.max(*at);
        if *left >= 1_000 {
            *left -= 1_000;
            true
        } else {
            false
        }
    }

    /// Drops a disconnected peer's bucket (a new connection starts full).
    pub(crate) fn forget(&mut self, peer: &P) {
        self.buckets.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_peers_in_good_standing() {
        let mut book = PeerBook::default();
        let peers = [1u8, 2, 3];
        let picks: Vec<u8> = (0..6).filter_map(|_| book.pick(&peers, 0)).collect();
        assert_eq!(picks, vec![2, 3, 1, 2, 3, 1]);
        assert_eq!(book.pick(&[], 0), None);
    }

    #[test]
    fn a_useless_peer_is_passed_over_for_a_doubling_backoff() {
        let mut book = PeerBook::default();
        let peers = [1u8, 2];
        book.record(1, Answer::Useless, 1_000);
        assert_eq!(book.retry_at(&1), 1_000 + BACKOFF_BASE_MS);
        // Only 2 is asked until the back-off ends, then both again.
        assert!((0..4).all(|_| book.pick(&peers, 1_000 + BACKOFF_BASE_MS - 1) == Some(2)));
        let later: Vec<u8> =
            (0..4).filter_map(|_| book.pick(&peers, 1_000 + BACKOFF_BASE_MS)).collect();
        assert!(later.contains(&1) && later.contains(&2), "{later:?}");

        book.record(1, Answer::Useless, 2_000);
        assert_eq!(book.retry_at(&1), 2_000 + 2 * BACKOFF_BASE_MS);
        book.record(1, Answer::Useless, 3_000);
        assert_eq!(book.retry_at(&1), 3_000 + 4 * BACKOFF_BASE_MS);
        for _ in 0..20 {
            book.record(1, Answer::Useless, 4_000);
        }
        assert_eq!(book.retry_at(&1), 4_000 + BACKOFF_MAX_MS);

        // One useful answer clears the record.
        book.record(1, Answer::Useful, 5_000);
        assert_eq!(book.retry_at(&1), 0);
        book.record(1, Answer::Useless, 6_000);
        assert_eq!(book.retry_at(&1), 6_000 + BACKOFF_BASE_MS);
    }

    #[test]
    fn when_every_peer_backs_off_the_soonest_is_asked() {
        let mut book = PeerBook::default();
        let peers = [1u8, 2, 3];
        book.record(1, Answer::Useless, 0);
        book.record(1, Answer::Useless, 0);
        book.record(2, Answer::Useless, 0);
        book.record(3, Answer::Useless, 10);
        // 2 retries at 250, 3 at 260, 1 at 500.
        assert!((0..3).all(|_| book.pick(&peers, 100) == Some(2)));
        book.forget(&1);
        assert_eq!(book.retry_at(&1), 0);
        assert_eq!(book.pick(&peers, 100), Some(1));
    }

    #[test]
    fn a_peer_gets_its_burst_then_its_rate() {
        let mut b = RequestBudget::new(10, 3);
        assert!((0..3).all(|_| b.take(1u8, 1_000)));
        assert!(!b.take(1, 1_000), "the burst is spent");
        assert!(b.take(2, 1_000), "another peer has its own bucket");
        // 10 a second: one more after 100 ms, not before.
        assert!(!b.take(1, 1_099));
        assert!(b.take(1, 1_100));
        assert!(!b.take(1, 1_100));
        // A long pause refills up to the burst, no more.
        assert!((0..3).all(|_| b.take(1, 60_000)));
        assert!(!b.take(1, 60_000));
        b.forget(&1);
        assert!(b.take(1, 60_000), "a forgotten peer starts full");
    }
}
