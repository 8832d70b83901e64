//! Tip selection: IOTA's Markov-chain Monte Carlo walk, seeded, with a uniform fallback.
//!
//! A walk starts at one of the latest milestone's tips (or an entry point) and steps to an
//! approver `y` of the current vertex `x` with probability proportional to
//! `exp(alpha · (w(y) − max w))` (Popov, "The Tangle", §4.1; subtracting the maximum only keeps
//! the exponentials finite). It ends at a tip. Lazy tips, whose parents reach no milestone among
//! the last `lazy_after`, are never selected: the walk does not step onto them, and a walk that
//! ends anywhere else, or runs too long, falls back to a uniform choice among non-lazy tips.
//! Randomness comes only from the caller's seed (ChaCha20) and candidates are visited in hash
//! order, so a selection is a function of the DAG and the seed: it replays exactly.
use itc_primitives::{Hash, MilestoneNumber};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::graph::Graph;

/// Inputs of one tip selection.
pub(crate) struct TipSelection<'a> {
    pub graph: &'a Graph,
    pub latest: MilestoneNumber,
    pub lazy_after: MilestoneNumber,
    pub alpha: f64,
    pub max_steps: usize,
}

impl TipSelection<'_> {
    /// Whether the tip at `idx` is lazy: the newest milestone its parents reach now (they may have
    /// been confirmed since it was attached) is more than `lazy_after` behind the latest.
    pub fn is_lazy(&self, idx: u32) -> bool {
        let node = self.graph.node(idx);
        let mut fresh = node.confirmed.unwrap_or(node.root);
        for &p in self.graph.parents(idx) {
            fresh = fresh.max(self.graph.node(p).freshness());
        }
        self.latest.saturating_sub(fresh) > self.lazy_after
    }

    fn is_selectable_tip(&self, idx: u32) -> bool {
        !self.graph.node(idx).approved && !self.is_lazy(idx)
    }

    /// Up to `count` distinct tips, from `starts` (indices of the walk's start vertices).
    pub fn select(&self, starts: &[u32], count: usize, seed: [u8; 32]) -> Vec<Hash> {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut chosen: Vec<Hash> = Vec::with_capacity(count);
        let mut fallback: Option<Vec<u32>> = None;
        for _ in 0..count {
            let walked = if starts.is_empty() {
                None
            } else {
                let start = starts[rng.gen_range(0..starts.len())];
                self.walk(start, &mut rng)
            };
            let pick = match walked {
                Some(tip) => Some(tip),
                None => {
                    let candidates = fallback.get_or_insert_with(|| self.uniform_candidates());
                    if candidates.is_empty() {
                        // Nothing fresh to approve: approve the latest milestone's tips.
                        starts.get(rng.gen_range(0..starts.len().max(1))).copied()
                    } else {
                        Some(candidates[rng.gen_range(0..candidates.len())])
                    }
                }
            };
            if let Some(idx) = pick {
                let hash = self.graph.node(idx).hash;
                if !chosen.contains(&hash) {
                    chosen.push(hash);
                }
            }
        }
        chosen
    }

    /// Non-lazy tips in hash order.
    fn uniform_candidates(&self) -> Vec<u32> {
        self.graph
            .tips
            .iter()
            .filter_map(|h| self.graph.get(h))
            .filter(|&idx| !self.is_lazy(idx))
            .collect()
    }

    /// One weighted random walk; `None` if it ends on a vertex that is not a selectable tip.
    fn walk(&self, start: u32, rng: &mut ChaCha20Rng) -> Option<u32> {
        let mut current = start;
        let mut steps = 0usize;
        let mut candidates: Vec<u32> = Vec::new();
        let mut weights: Vec<f64> = Vec::new();
        loop {
            candidates.clear();
            candidates.extend(
                self.graph
                    .node(current)
                    .children
                    .iter()
                    .copied()
                    .filter(|&c| self.graph.node(c).approved || !self.is_lazy(c)),
            );
            if candidates.is_empty() {
                return self.is_selectable_tip(current).then_some(current);
            }
            // Children are stored in arrival order; hash order makes the walk a function of the
            // DAG and the seed alone.
            candidates.sort_unstable_by_key(|&c| self.graph.node(c).hash);
            steps += 1;
            if steps > self.max_steps {
                return None;
            }
            current = if candidates.len() == 1 || self.alpha == 0.0 {
                candidates[rng.gen_range(0..candidates.len())]
            } else {
                let max = candidates.iter().map(|&c| self.graph.weight(c)).max().unwrap_or(0);
                weights.clear();
                weights.extend(candidates.iter().map(|&c| {
                    let w = f64::from(self.graph.weight(c)) - f64::from(max);
                    (self.alpha * w).exp()
                }));
                let total: f64 = weights.iter().sum();
                let mut target = rng.gen::<f64>() * total;
                let mut next = candidates[candidates.len() - 1];
                for (&c, &w) in candidates.iter().zip(&weights) {
                    if target < w {
                        next = c;
                        break;
                    }
                    target -= w;
                }
                next
            };
        }
    }
}
