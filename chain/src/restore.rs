//! Reopening a validator from what the node persisted: the state backend (at the latest
//! finalised version), the DAG store, the finalised milestones and the replica's persist log.
use std::collections::{BTreeMap, HashSet, VecDeque};

use itc_consensus::{Pbft, PersistRecord};
use itc_dag::{Dag, DagConfig, DagStore};
use itc_primitives::{Committee, Hash, MilestoneHeader, MilestoneNumber, Pair};
use itc_runtime::{GenesisConfig, MemoryBackend, StateBackend};

use crate::{
    execute::load, genesis, mempool::fee_of, ChainConfig, Error, Finalized, Result, Validator,
};

/// What the node persisted, handed to [`Validator::restore`].
#[derive(Clone)]
pub struct Persisted<S, B> {
    /// The DAG store, as the previous run left it.
    pub store: S,
    /// The state backend, committed up to the latest finalised milestone (version = its number).
    pub state: B,
    /// The milestone before the first of `milestones` (`None`: genesis). It must not precede
    /// the base of the latest epoch, nor the log's latest stable checkpoint of that epoch
    /// (`itc_consensus::compact::resume_point` gives the earliest such point that keeps
    /// [`crate::ChainConfig::retain_milestones`]).
    pub resumed: Option<MilestoneHeader>,
    /// The finalised milestones after `resumed`, in order, with their order and receipts.
    pub milestones: Vec<Finalized>,
    /// Every committee after the genesis one, with the milestone (number, hash) whose
    /// `next_committee` introduced it.
    pub committees: Vec<(MilestoneNumber, Hash, Committee)>,
    /// The replica's [`crate::Output::Persist`] records, in the order they were made durable.
    pub records: Vec<PersistRecord>,
}

impl<S: DagStore, B: StateBackend + Clone> Validator<S, B> {
    /// Reopens a validator after a restart (or a crash) from what the node persisted.
    ///
    /// Checks that the milestones chain up from `resumed` (their certificates against their
    /// epoch's committee) and that the state is at the last one's version with its state root.
    /// The replica resumes after `resumed` in its epoch, replays the finalised milestones (so it
    /// knows what is delivered even where its own log was not synced), then its log; a
    /// milestone the log shows committed but the store does not hold yet is applied on the next
    /// event. Unconfirmed DAG vertices return to the pending pool. Restarting costs the
    /// retained window, not the length of the chain. Call [`Validator::start`] next.
    pub fn restore(
        cfg: ChainConfig,
        pair: Pair,
        genesis_config: &GenesisConfig,
        genesis_timestamp_ms: u64,
        persisted: Persisted<S, B>,
    ) -> Result<Self> {
        cfg.validate()?;
        let Persisted { store, state, resumed, milestones, committees: later, records } = persisted;
        let genesis =
            genesis::build(&mut MemoryBackend::new(), genesis_config, genesis_timestamp_ms)?;
        let mut committees = BTreeMap::new();
        committees.insert(genesis.committee.epoch, genesis.committee.clone());
        // epoch -> the milestone (number, hash) its committee took over after.
        let mut bases = BTreeMap::new();
        bases.insert(genesis.committee.epoch, (genesis.header.number, genesis.hash()));
        for (number, hash, committee) in later {
            bases.insert(committee.epoch, (number, hash));
            committees.insert(committee.epoch, committee);
        }
        let resumed = resumed.unwrap_or_else(|| genesis.header.clone());
        let mut parent = resumed.clone();
        for m in &milestones {
            let number = m.header.number;
            if number != parent.number + 1 || m.header.parent != parent.hash() {
                return Err(Error::Restore(format!(
                    "stored milestone {number} does not follow milestone {} of this chain",
                    parent.number
                )));
            }
            let committee = committees.get(&m.header.epoch).ok_or_else(|| {
                Error::Restore(format!(
                    "stored milestone {number} is of epoch {}, whose committee is unknown",
                    m.header.epoch
                ))
            })?;
            m.certificate
                .verify(&m.header, committee)
                .map_err(|e| Error::Certificate { number, reason: e.to_string() })?;
            if let Some(next) = &m.header.next_committee {
                bases.insert(next.epoch, (number, m.header.hash()));
                committees.insert(next.epoch, next.clone());
            }
            parent = m.header.clone();
        }
        let last = parent;
        match state.version() {
            Some(v) if v == last.number && state.root(v)? == last.state_root => {}
            Some(v) => {
                return Err(Error::Restore(format!(
                    "the state is at version {v} but the store's latest milestone is {} (state \
                     root {}); the database is inconsistent, resync from a peer",
                    last.number, last.state_root
                )))
            }
            None => {
                return Err(Error::Restore(
                    "the state backend is empty; start a new chain with Validator::new".into(),
                ))
            }
        }

        // The replica's epoch: the one the last header hands over to, or its own.
        let epoch = last.next_committee.as_ref().map_or(last.epoch, |c| c.epoch);
        let (Some(committee), Some(&(base_number, base_hash))) =
            (committees.get(&epoch), bases.get(&epoch))
        else {
            return Err(Error::Restore(format!(
                "milestone {} leaves the chain in epoch {epoch}, whose committee is not stored",
                last.number
            )));
        };
        let epoch_start =
            itc_consensus::Genesis { committee: committee.clone(), base_number, base_hash };

        let dag = Dag::restore(DagConfig::new(genesis.hash()), store, &[], &last.tips)?;
        // Stored milestones first: they are certified and may be missing from an unsynced log.
        let mut replay: Vec<PersistRecord> = milestones
            .iter()
            .map(|m| PersistRecord::Committed {
                header: m.header.clone(),
                certificate: m.certificate.clone(),
            })
            .collect();
        let mut to_apply = VecDeque::new();
        for record in &records {
            if let PersistRecord::Committed { header, certificate } = record {
                if header.number > last.number + to_apply.len() as u64 {
                    to_apply.push_back((header.clone(), certificate.clone()));
                }
            }
        }
        replay.extend(records);
        let pbft = Pbft::restore_after(
            cfg.consensus.clone(),
            pair.clone(),
            epoch_start,
            (resumed.number, resumed.hash()),
            replay,
        )?;
        let mut validator =
            Validator::from_parts(cfg, &pair, genesis, dag, state, pbft, committees)?;
        let mut signers = HashSet::new();
        validator.window_base = resumed;
        for m in milestones {
            signers.extend(m.receipts.iter().map(|r| r.signer));
            validator.retain(m);
        }
        validator.to_apply = to_apply;
        let unconfirmed = validator.dag.past_cone_order(&validator.dag.tips())?;
        for hash in unconfirmed {
            let vertex = load(&validator.dag, &hash)?;
            let tx_hash = vertex.tx.hash();
            if !validator.tx_index.contains_key(&tx_hash) {
                let fee = fee_of(&validator.params, &vertex.tx);
                validator.pending.insert(hash, tx_hash, &vertex.tx, fee);
            }
        }
        for signer in signers {
            let nonce = validator.account(&signer)?.nonce;
            validator.pending.prune_below(&signer, nonce);
        }
        Ok(validator)
    }

    /// Lifts the consensus replica's restart fence ([`itc_consensus::Pbft::lift_restart_fence`]):
    /// call it right after [`Validator::restore`], and only when the node knows its consensus
    /// log is complete (it stopped cleanly after syncing the log).
    pub fn lift_restart_fence(&mut self) {
        self.pbft.lift_restart_fence();
    }
}
