//! [`Dag`]: admission of vertices (checks, orphans, attachment), milestone confirmation with the
//! deterministic order, pruning, weights and tip selection over the in-memory index.
use std::collections::VecDeque;

use itc_primitives::{Hash, MilestoneNumber, Vertex, MAX_PARENTS};

mod restore;

use crate::{
    graph::Graph,
    order::past_cone_order,
    orphans::OrphanPool,
    store::{Confirmation, DagStore, VertexMeta},
    tipsel::TipSelection,
    validate::{
        check_pow, check_signature, check_signatures_batch, check_structure, PreparedVertex,
    },
    DagConfig, Difficulty, Error, Result,
};

/// What happened to an admitted vertex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// Attached to the DAG (and written to the store).
    Attached,
    /// Parked in the orphan pool until its parents arrive.
    Orphaned {
        /// Parents that are neither attached nor orphans themselves: fetch these.
        missing: Vec<Hash>,
    },
}

/// The result of admitting one vertex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsertOutcome {
    /// The vertex hash.
    pub hash: Hash,
    /// Whether it was attached or orphaned.
    pub attachment: Attachment,
    /// Orphans attached as a consequence (their parents were completed), in attachment order.
    pub released: Vec<Hash>,
    /// Orphans evicted from the full pool, oldest first; they must be fetched again if needed.
    pub evicted: Vec<Hash>,
}

/// How confident the DAG is that a vertex will be final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// Confirmed by a milestone: final.
    Confirmed(Confirmation),
    /// Attached but not confirmed; `weight` is 1 + the number of vertices approving it, and
    /// `saturated` says the true weight may be larger (see [`DagConfig::weight_cap`]).
    Pending {
        /// Cumulative weight.
        weight: u32,
        /// Whether the weight reached the cap.
        saturated: bool,
    },
    /// Waiting in the orphan pool for missing ancestors.
    Orphan,
    /// Not known here.
    Unknown,
}

/// The transaction DAG over a [`DagStore`].
///
/// Every attached vertex is written to the store. The in-memory index holds entry points, all
/// unconfirmed vertices, and the vertices confirmed by the last [`DagConfig::prune_after`]
/// milestones.
pub struct Dag<S: DagStore> {
    config: DagConfig,
    store: S,
    graph: Graph,
    orphans: OrphanPool,
    latest: MilestoneNumber,
    milestone_tips: Vec<Hash>,
    entry_points: Vec<Hash>,
    confirmed_by: VecDeque<(MilestoneNumber, Vec<Hash>)>,
}

/// A vertex's parents, resolved against memory and the store.
struct ResolvedParents {
    in_memory: [u32; MAX_PARENTS],
    n: usize,
    /// The newest milestone the parents reach.
    root: MilestoneNumber,
    missing: Vec<Hash>,
}

/// How a parent hash resolves.
enum Parent {
    InMemory(u32),
    Pruned(MilestoneNumber),
    Missing,
}

impl<S: DagStore> Dag<S> {
    /// A DAG whose only entry point is `config.genesis_hash`, confirmed by milestone 0.
    pub fn new(config: DagConfig, store: S) -> Result<Self> {
        config.validate()?;
        let mut graph = Graph::default();
        graph.add_entry(config.genesis_hash, 0);
        Ok(Dag {
            orphans: OrphanPool::new(config.max_orphans, config.max_orphan_bytes),
            milestone_tips: vec![config.genesis_hash],
            entry_points: vec![config.genesis_hash],
            config,
            store,
            graph,
            latest: 0,
            confirmed_by: VecDeque::new(),
        })
    }

    /// Adds an entry point: a hash vertices may approve without the DAG holding its vertex (a
    /// snapshot root, confirmed by `milestone`). Entry points are never pruned.
    pub fn add_entry_point(&mut self, hash: Hash, milestone: MilestoneNumber) {
        self.graph.add_entry(hash, milestone);
        if !self.entry_points.contains(&hash) {
            self.entry_points.push(hash);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DagConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably: for a store that buffers its writes to flush them (what it holds
    /// must not change behind the DAG's back).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The latest confirmed milestone number (0 at genesis).
    pub fn latest_milestone(&self) -> MilestoneNumber {
        self.latest
    }

    /// Number of vertices and entry points held in memory.
    pub fn in_memory(&self) -> usize {
        self.graph.len()
    }

    /// Whether `hash` is held in memory (attached and not pruned, or an entry point).
    pub fn is_in_memory(&self, hash: &Hash) -> bool {
        self.graph.get(hash).is_some()
    }

    /// Number of orphans waiting.
    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    /// Encoded bytes of the orphans waiting.
    pub fn orphan_bytes(&self) -> usize {
        self.orphans.bytes()
    }

    /// Hashes orphans wait for that are not orphans themselves: what the node should fetch.
    pub fn wanted(&self) -> Vec<Hash> {
        self.orphans.wanted()
    }

    /// Current tips (vertices nobody approves yet), in hash order, lazy ones included. Entry
    /// points are not listed (before any vertex exists, [`Dag::select_tips`] returns them).
    pub fn tips(&self) -> Vec<Hash> {
        self.graph.tips.iter().copied().collect()
    }

    /// Whether an attached vertex awaits confirmation (orphans aside): what the next milestone
    /// would confirm. Every unconfirmed vertex has an unconfirmed tip among its descendants (a
    /// milestone confirms a past cone, closed under parents), so the tips tell.
    pub fn has_unconfirmed(&self) -> bool {
        self.graph.tips.iter().any(|h| self.is_unconfirmed(h))
    }

    /// The tips that await confirmation, in hash order: what a peer that missed some gossip
    /// asks for (their past cones hold every unconfirmed vertex).
    pub fn unconfirmed_tips(&self) -> Vec<Hash> {
        self.graph.tips.iter().filter(|h| self.is_unconfirmed(h)).copied().collect()
    }

    fn is_unconfirmed(&self, hash: &Hash) -> bool {
        self.graph.get(hash).is_some_and(|idx| self.graph.node(idx).confirmed.is_none())
    }

    /// Whether `hash` is known here: attached (in memory or stored) or waiting as an orphan.
    pub fn knows(&self, hash: &Hash) -> Result<bool> {
        Ok(self.graph.get(hash).is_some()
            || self.orphans.contains(hash)
            || self.store.contains(hash)?)
    }

    /// Whether the vertex is in memory and is a lazy tip (never selected).
    pub fn is_lazy_tip(&self, hash: &Hash) -> bool {
        self.graph
            .get(hash)
            .is_some_and(|idx| !self.graph.node(idx).approved && self.tip_selection().is_lazy(idx))
    }

    /// Cumulative weight of an in-memory vertex (frozen once confirmed).
    pub fn weight(&self, hash: &Hash) -> Option<u32> {
        self.graph.get(hash).map(|idx| self.graph.weight(idx))
    }

    /// Confirmation confidence of a vertex, for RPC.
    pub fn confidence(&self, hash: &Hash) -> Result<Confidence> {
        if let Some(idx) = self.graph.get(hash) {
            let node = self.graph.node(idx);
            if node.confirmed.is_none() {
                return Ok(Confidence::Pending {
                    weight: self.graph.weight(idx),
                    saturated: self.graph.weight(idx) >= self.config.weight_cap,
                });
            }
        }
        if self.orphans.contains(hash) {
            return Ok(Confidence::Orphan);
        }
        if let Some(c) = self.store.get_meta(hash)?.and_then(|m| m.confirmation) {
            return Ok(Confidence::Confirmed(c));
        }
        Ok(Confidence::Unknown)
    }

    /// Decodes untrusted bytes and admits the vertex (see [`Dag::insert`]).
    pub fn insert_bytes(
        &mut self,
        bytes: &[u8],
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Result<InsertOutcome> {
        let vertex = PreparedVertex::from_bytes(bytes, self.config.max_vertex_bytes)?;
        self.insert_prepared(vertex, difficulty)
    }

    /// Checks a vertex (size, parents, duplicate, PoW for the signer's difficulty, signature)
    /// and attaches it, or parks it as an orphan if some parents are unknown. Attaching may
    /// release orphans, which are attached too.
    pub fn insert(
        &mut self,
        vertex: Vertex,
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Result<InsertOutcome> {
        self.insert_prepared(PreparedVertex::new(vertex), difficulty)
    }

    /// [`Dag::insert`] for a vertex already hashed.
    pub fn insert_prepared(
        &mut self,
        vertex: PreparedVertex,
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Result<InsertOutcome> {
        self.precheck(&vertex, difficulty)?;
        check_signature(&vertex, self.config.genesis_hash)?;
        self.admit(vertex)
    }

    /// Admits many vertices, verifying their signatures with one batch verification (falling
    /// back to single verification to find the bad ones). Vertices are admitted in the given
    /// order; parents later in the batch are fine (the child waits as an orphan meanwhile).
    /// Returns one result per vertex, in order.
    pub fn insert_batch(
        &mut self,
        vertices: Vec<Vertex>,
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Vec<Result<InsertOutcome>> {
        let prepared: Vec<PreparedVertex> = vertices.into_iter().map(PreparedVertex::new).collect();
        self.insert_prepared_batch(prepared, difficulty)
    }

    /// [`Dag::insert_batch`] for vertices already hashed.
    pub fn insert_prepared_batch(
        &mut self,
        vertices: Vec<PreparedVertex>,
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Vec<Result<InsertOutcome>> {
        let prechecks: Vec<Result<()>> =
            vertices.iter().map(|v| self.precheck(v, difficulty)).collect();
        let to_verify: Vec<&PreparedVertex> =
            vertices.iter().zip(&prechecks).filter(|(_, r)| r.is_ok()).map(|(v, _)| v).collect();
        let mut signatures =
            check_signatures_batch(&to_verify, self.config.genesis_hash).into_iter();
        let mut results = Vec::with_capacity(vertices.len());
        for (vertex, precheck) in vertices.into_iter().zip(prechecks) {
            let result = match precheck {
                Err(e) => Err(e),
                Ok(()) => match signatures.next() {
                    Some(Ok(())) => self.admit(vertex),
                    Some(Err(e)) => Err(e),
                    None => Err(Error::BadSignature {
                        hash: vertex.hash,
                        signer: vertex.vertex.tx.signer,
                    }),
                },
            };
            results.push(result);
        }
        results
    }

    /// Admits a vertex this node validated before (for instance read back from its own store
    /// after a restart): size, parents and duplicates are checked, PoW and signature are not.
    /// Never call it with a vertex from the network.
    pub fn insert_verified(&mut self, vertex: PreparedVertex) -> Result<InsertOutcome> {
        check_structure(&vertex, self.config.max_vertex_bytes)?;
        self.check_duplicate(&vertex.hash)?;
        self.admit(vertex)
    }

    /// The cheap checks, in order of cost: structure, duplicate, PoW.
    fn precheck(
        &self,
        vertex: &PreparedVertex,
        difficulty: &(impl Difficulty + ?Sized),
    ) -> Result<()> {
        check_structure(vertex, self.config.max_vertex_bytes)?;
        self.check_duplicate(&vertex.hash)?;
        check_pow(vertex, difficulty)
    }

    fn check_duplicate(&self, hash: &Hash) -> Result<()> {
        if self.graph.get(hash).is_some()
            || self.orphans.contains(hash)
            || self.store.contains(hash)?
        {
            return Err(Error::Duplicate { hash: *hash });
        }
        Ok(())
    }

    fn resolve(&self, parent: &Hash) -> Result<Parent> {
        if let Some(idx) = self.graph.get(parent) {
            return Ok(Parent::InMemory(idx));
        }
        Ok(match self.store.get_meta(parent)? {
            Some(meta) => Parent::Pruned(meta.confirmation.map_or(0, |c| c.milestone)),
            None => Parent::Missing,
        })
    }

    /// Attaches a checked vertex or parks it; then attaches every orphan it completes.
    fn admit(&mut self, vertex: PreparedVertex) -> Result<InsertOutcome> {
        let hash = vertex.hash;
        if self.graph.get(&hash).is_some() || self.orphans.contains(&hash) {
            return Err(Error::Duplicate { hash });
        }
        let mut outcome = InsertOutcome {
            hash,
            attachment: Attachment::Attached,
            released: Vec::new(),
            evicted: Vec::new(),
        };
        match self.try_attach(vertex)? {
            Ok(()) => {}
            Err((vertex, missing)) => {
                let wanted =
                    missing.iter().filter(|h| !self.orphans.contains(h)).copied().collect();
                outcome.evicted = self.orphans.insert(vertex, missing);
                outcome.attachment = Attachment::Orphaned { missing: wanted };
                return Ok(outcome);
            }
        }
        let mut attached = vec![hash];
        while let Some(parent) = attached.pop() {
            for orphan in self.orphans.release(&parent) {
                let orphan_hash = orphan.hash;
                match self.try_attach(orphan)? {
                    Ok(()) => {
                        outcome.released.push(orphan_hash);
                        attached.push(orphan_hash);
                    }
                    Err((orphan, missing)) => {
                        let evicted = self.orphans.insert(orphan, missing);
                        outcome.evicted.extend(evicted);
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Attaches if every parent is known; otherwise hands the vertex back with its missing
    /// parents.
    #[allow(clippy::type_complexity)]
    fn try_attach(
        &mut self,
        vertex: PreparedVertex,
    ) -> Result<Result<(), (PreparedVertex, Vec<Hash>)>> {
        let parents = self.resolve_parents(&vertex.vertex.parents)?;
        if !parents.missing.is_empty() {
            return Ok(Err((vertex, parents.missing)));
        }
        let PreparedVertex { vertex, hash, tx_hash, .. } = vertex;
        self.store.put_vertex(hash, vertex, VertexMeta { tx_hash, confirmation: None })?;
        self.link(hash, tx_hash, &parents);
        Ok(Ok(()))
    }

    fn resolve_parents(&self, parents: &[Hash]) -> Result<ResolvedParents> {
        let mut resolved =
            ResolvedParents { in_memory: [0; MAX_PARENTS], n: 0, root: 0, missing: Vec::new() };
        for parent in parents {
            match self.resolve(parent)? {
                Parent::InMemory(idx) if resolved.n < MAX_PARENTS => {
                    resolved.root = resolved.root.max(self.graph.node(idx).freshness());
                    resolved.in_memory[resolved.n] = idx;
                    resolved.n += 1;
                }
                Parent::InMemory(_) => {}
                Parent::Pruned(milestone) => resolved.root = resolved.root.max(milestone),
                Parent::Missing => resolved.missing.push(*parent),
            }
        }
        Ok(resolved)
    }

    fn link(&mut self, hash: Hash, tx_hash: Hash, parents: &ResolvedParents) {
        let in_memory = &parents.in_memory[..parents.n];
        self.graph.attach(hash, tx_hash, in_memory, parents.root, self.config.weight_cap);
    }

    /// The unconfirmed past cone of `tips`, in the deterministic order (parents first, ties by
    /// smallest hash). Does not change anything.
    pub fn past_cone_order(&self, tips: &[Hash]) -> Result<Vec<Hash>> {
        let roots = self.resolve_tips(tips)?;
        Ok(past_cone_order(&self.graph, &roots)
            .into_iter()
            .map(|idx| self.graph.node(idx).hash)
            .collect())
    }

    /// [`Dag::past_cone_order`] as if the vertices of `confirmed` (unconfirmed ones, the order
    /// of a milestone not applied yet) were confirmed: the order `tips` will confirm after that
    /// milestone. Vertices of `confirmed` this DAG does not hold in memory are ignored.
    pub fn past_cone_order_after(&self, tips: &[Hash], confirmed: &[Hash]) -> Result<Vec<Hash>> {
        let roots = self.resolve_tips(tips)?;
        let excluded: Vec<u32> = confirmed.iter().filter_map(|h| self.graph.get(h)).collect();
        Ok(crate::order::past_cone_order_excluding(&self.graph, &roots, &excluded)
            .into_iter()
            .map(|idx| self.graph.node(idx).hash)
            .collect())
    }

    fn resolve_tips(&self, tips: &[Hash]) -> Result<Vec<u32>> {
        let mut roots = Vec::with_capacity(tips.len());
        for tip in tips {
            match self.graph.get(tip) {
                Some(idx) => roots.push(idx),
                None => {
                    let confirmed =
                        self.store.get_meta(tip)?.is_some_and(|meta| meta.confirmation.is_some());
                    if !confirmed {
                        return Err(Error::UnknownTip { hash: *tip });
                    }
                }
            }
        }
        Ok(roots)
    }

    /// Confirms milestone `number` referencing `tips`: orders its past cone less what earlier
    /// milestones confirmed, marks those vertices confirmed (in memory and in the store), prunes
    /// vertices confirmed more than [`DagConfig::prune_after`] milestones ago, and returns the
    /// order, which is the execution order.
    pub fn confirm(&mut self, number: MilestoneNumber, tips: &[Hash]) -> Result<Vec<Hash>> {
        if number <= self.latest {
            return Err(Error::MilestoneOutOfOrder { number, latest: self.latest });
        }
        let roots = self.resolve_tips(tips)?;
        let order = past_cone_order(&self.graph, &roots);
        for (position, &idx) in order.iter().enumerate() {
            let node = self.graph.node(idx);
            let confirmation = Confirmation { milestone: number, position: position as u32 };
            let meta = VertexMeta { tx_hash: node.tx_hash, confirmation: Some(confirmation) };
            self.store.put_meta(node.hash, meta)?;
        }
        let hashes: Vec<Hash> = order.iter().map(|&idx| self.graph.node(idx).hash).collect();
        for &idx in &order {
            self.graph.set_confirmed(idx, number);
        }
        self.latest = number;
        self.milestone_tips = tips.to_vec();
        self.confirmed_by.push_back((number, hashes.clone()));
        self.prune();
        Ok(hashes)
    }

    fn prune(&mut self) {
        while let Some((milestone, _)) = self.confirmed_by.front() {
            if self.latest - milestone <= self.config.prune_after {
                break;
            }
            if let Some((_, hashes)) = self.confirmed_by.pop_front() {
                for hash in &hashes {
                    self.graph.remove(hash);
                }
            }
        }
    }

    fn tip_selection(&self) -> TipSelection<'_> {
        TipSelection {
            graph: &self.graph,
            latest: self.latest,
            lazy_after: self.config.lazy_after,
            alpha: self.config.alpha,
            max_steps: self.config.max_walk_steps,
        }
    }

    /// Selects up to `count` distinct tips to approve, by `count` weighted random walks from the
    /// latest milestone's tips, seeded by `seed` (same DAG and seed, same answer).
    pub fn select_tips(&self, count: usize, seed: [u8; 32]) -> Result<Vec<Hash>> {
        let mut starts: Vec<u32> =
            self.milestone_tips.iter().filter_map(|h| self.graph.get(h)).collect();
        if starts.is_empty() {
            starts = self.entry_points.iter().filter_map(|h| self.graph.get(h)).collect();
        }
        let selected = self.tip_selection().select(&starts, count, seed);
        if selected.is_empty() && count > 0 {
            return Err(Error::NoTips);
        }
        Ok(selected)
    }
}
