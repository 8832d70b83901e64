//! Committee (CPChain's DPoR): candidates admitted by stake, elected by reputation.
//!
//! Any account may become a candidate by reserving at least `min_candidate_stake`. Every account
//! has a [`Reputation`]: uptime (milestones proposed), proxy reliability (deliveries confirmed
//! versus disputes lost), dispute outcomes (committee votes cast with the final majority) and
//! data contribution (records paid for by analytics jobs). On the last milestone of each epoch
//! the candidates are ranked by [`Reputation::score`] (ties: larger stake, then smaller account
//! id) and the best `committee_size` form the next epoch's committee, which the milestone header
//! carries; the first milestone of the next epoch installs it. If there are no candidates the
//! current committee stays.
//!
//! Equivocation (two commit signatures by one member for different headers at the same
//! milestone number and view) is punished: `slash_permille` of the stake is burned, the
//! reputation is reset, and a candidate left below the minimum stake is removed.
mod reputation;

pub use reputation::*;

use itc_primitives::{
    milestone::commit_payload, AccountId, Balance, BoundedVec, Committee, Hash, MilestoneNumber,
    Signature,
};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::{CallError, DispatchResult, Weight},
    ext::Ext,
    modules::balances::{self, ReserveId},
    storage::{StorageMap, StorageValue},
    Result,
};

/// Module index of committee in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 6;

/// A committee candidate.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Candidate {
    /// Reserved stake.
    #[codec(compact)]
    pub stake: Balance,
    /// When it registered.
    #[codec(compact)]
    pub since: MilestoneNumber,
}

/// `[6, 0] ++ account`: candidates.
pub const CANDIDATES: StorageMap<AccountId, Candidate> = StorageMap::new(MODULE_INDEX, 0);
/// `[6, 1] ++ account`: reputations.
pub const REPUTATION: StorageMap<AccountId, Reputation> = StorageMap::new(MODULE_INDEX, 1);
/// `[6, 2]`: the committee of the current epoch.
pub const CURRENT: StorageValue<Committee> = StorageValue::new(MODULE_INDEX, 2);
/// `[6, 3]`: the elected committee of the next epoch (between election and rotation).
pub const NEXT: StorageValue<Committee> = StorageValue::new(MODULE_INDEX, 3);
/// `[6, 4] ++ offender ++ number ++ view`: equivocations already punished.
pub const PUNISHED: StorageMap<(AccountId, u64, u64), ()> = StorageMap::new(MODULE_INDEX, 4);

/// One signed commit: the header hash and the signature over
/// [`itc_primitives::milestone::commit_payload`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedCommit {
    /// The committed header hash.
    pub header_hash: Hash,
    /// The signature.
    pub signature: Signature,
}

/// Evidence that `offender` committed two different headers at the same milestone and view.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EquivocationProof {
    /// The offender.
    pub offender: AccountId,
    /// The milestone number.
    #[codec(compact)]
    pub number: MilestoneNumber,
    /// The PBFT view.
    #[codec(compact)]
    pub view: u64,
    /// The first commit.
    pub first: SignedCommit,
    /// The second commit, for a different header.
    pub second: SignedCommit,
}

/// Committee calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Registers the signer as a candidate, reserving `stake`.
    #[codec(index = 0)]
    RegisterCandidate {
        /// The stake, at least `min_candidate_stake`.
        #[codec(compact)]
        stake: Balance,
    },
    /// Withdraws the signer's candidacy and returns its stake.
    #[codec(index = 1)]
    Unregister,
    /// Proves that an offender signed two different headers at the same milestone and view.
    #[codec(index = 2)]
    ReportEquivocation {
        /// The evidence (boxed: it is much larger than the other calls).
        proof: Box<EquivocationProof>,
    },
}

/// Committee events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A candidate registered.
    #[codec(index = 0)]
    CandidateRegistered {
        /// The candidate.
        who: AccountId,
        /// Its stake.
        stake: Balance,
    },
    /// A candidate left and got its stake back.
    #[codec(index = 1)]
    CandidateLeft {
        /// The candidate.
        who: AccountId,
        /// The stake returned.
        stake: Balance,
    },
    /// The committee of the next epoch was elected.
    #[codec(index = 2)]
    Elected {
        /// The epoch it will serve.
        epoch: u64,
        /// Its members, in replica order.
        members: Vec<AccountId>,
    },
    /// A committee installed for its epoch.
    #[codec(index = 3)]
    Rotated {
        /// The epoch.
        epoch: u64,
    },
    /// An equivocation was punished.
    #[codec(index = 4)]
    Punished {
        /// The offender.
        offender: AccountId,
        /// The stake burned.
        slashed: Balance,
        /// Who reported it.
        reporter: AccountId,
    },
}

/// Committee errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The signer is already a candidate.
    #[codec(index = 0)]
    #[error("already a candidate; unregister first to change the stake")]
    AlreadyCandidate,
    /// The signer is not a candidate.
    #[codec(index = 1)]
    #[error("not a candidate")]
    NotCandidate,
    /// The stake is below the minimum.
    #[codec(index = 2)]
    #[error("stake {stake} is below the minimum {minimum}")]
    StakeTooLow {
        /// The offered stake.
        stake: Balance,
        /// The minimum.
        minimum: Balance,
    },
    /// A member of the current or next committee cannot leave until its term ends.
    #[codec(index = 3)]
    #[error("a member of the current or next committee cannot unregister before its term ends")]
    InCommittee,
    /// The evidence does not prove an equivocation (same header, or a bad signature).
    #[codec(index = 4)]
    #[error("the evidence is not two valid commit signatures for different headers")]
    InvalidEvidence,
    /// This equivocation was already punished.
    #[codec(index = 5)]
    #[error("this equivocation was already punished")]
    AlreadyPunished,
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::RegisterCandidate { .. } | Call::Unregister => 20_000,
            Call::ReportEquivocation { .. } => 200_000,
        }
    }

    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::RegisterCandidate { stake } => register(ext, who, stake),
            Call::Unregister => unregister(ext, who),
            Call::ReportEquivocation { proof } => report_equivocation(ext, who, &proof),
        }
    }
}

fn register(ext: &mut Ext<'_>, who: AccountId, stake: Balance) -> DispatchResult {
    if CANDIDATES.contains(ext, &who)? {
        return Err(Error::AlreadyCandidate.into());
    }
    let minimum = ext.params().min_candidate_stake;
    if stake < minimum {
        return Err(Error::StakeTooLow { stake, minimum }.into());
    }
    balances::reserve(ext, &who, ReserveId::CandidateStake, stake)?;
    CANDIDATES.insert(ext, &who, &Candidate { stake, since: ext.now() });
    ext.deposit_event(Event::CandidateRegistered { who, stake });
    Ok(())
}

fn unregister(ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
    let candidate = CANDIDATES.get(ext, &who)?.ok_or(Error::NotCandidate)?;
    let in_current = CURRENT.get(ext)?.is_some_and(|c| c.index_of(&who).is_some());
    let in_next = NEXT.get(ext)?.is_some_and(|c| c.index_of(&who).is_some());
    if in_current || in_next {
        return Err(Error::InCommittee.into());
    }
    balances::unreserve(ext, &who, ReserveId::CandidateStake, candidate.stake)?;
    CANDIDATES.remove(ext, &who);
    ext.deposit_event(Event::CandidateLeft { who, stake: candidate.stake });
    Ok(())
}

fn report_equivocation(
    ext: &mut Ext<'_>,
    reporter: AccountId,
    proof: &EquivocationProof,
) -> DispatchResult {
    let EquivocationProof { offender, number, view, first, second } = proof;
    let (offender, number, view) = (*offender, *number, *view);
    // The runtime trusts the DAG for transaction signatures, but evidence signatures are the
    // content of the call and must be checked here.
    let signed = |c: &SignedCommit| {
        offender.verify(&commit_payload(number, view, &c.header_hash), &c.signature)
    };
    if first.header_hash == second.header_hash || !signed(first) || !signed(second) {
        return Err(Error::InvalidEvidence.into());
    }
    let key = (offender, number, view);
    if PUNISHED.contains(ext, &key)? {
        return Err(Error::AlreadyPunished.into());
    }
    let candidate = CANDIDATES.get(ext, &offender)?.ok_or(Error::NotCandidate)?;
    let slash = candidate.stake.saturating_mul(Balance::from(ext.params().slash_permille)) / 1000;
    let slashed = balances::slash_reserved(ext, &offender, ReserveId::CandidateStake, slash)?;
    let remaining = candidate.stake - slashed;
    if remaining < ext.params().min_candidate_stake {
        balances::unreserve(ext, &offender, ReserveId::CandidateStake, remaining)?;
        CANDIDATES.remove(ext, &offender);
    } else {
        CANDIDATES.insert(ext, &offender, &Candidate { stake: remaining, ..candidate });
    }
    REPUTATION.insert(ext, &offender, &Reputation::default());
    PUNISHED.insert(ext, &key, &());
    ext.deposit_event(Event::Punished { offender, slashed, reporter });
    Ok(())
}

/// The committee of the current epoch.
pub fn current(ext: &Ext<'_>) -> Result<Option<Committee>> {
    CURRENT.get(ext)
}

/// The committee elected for the next epoch, once the current epoch's last milestone ran.
pub fn next_committee(ext: &Ext<'_>) -> Result<Option<Committee>> {
    NEXT.get(ext)
}

/// Ranks the candidates and stores the committee of epoch `epoch`; returns it.
pub fn elect(ext: &mut Ext<'_>, epoch: u64) -> Result<Committee> {
    let mut ranked: Vec<(u64, Balance, AccountId)> = Vec::new();
    for (who, candidate) in CANDIDATES.iter(ext)? {
        let score = REPUTATION.get_or_default(ext, &who)?.score();
        ranked.push((score, candidate.stake, who));
    }
    // Highest score first, then largest stake, then smallest account id: a total order.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let seats = ext.params().committee_size as usize;
    let mut members: Vec<AccountId> = ranked.into_iter().take(seats).map(|(_, _, w)| w).collect();
    if members.is_empty() {
        members = CURRENT.get(ext)?.map(|c| c.members.to_vec()).unwrap_or_default();
    }
    members.truncate(itc_primitives::milestone::MAX_COMMITTEE);
    let committee =
        Committee { epoch, members: BoundedVec::new(members.clone()).unwrap_or_default() };
    NEXT.put(ext, &committee);
    ext.deposit_event(Event::Elected { epoch, members });
    Ok(committee)
}

/// Installs the elected committee if one is waiting (first milestone of an epoch).
pub fn rotate(ext: &mut Ext<'_>) -> Result<()> {
    if let Some(next) = NEXT.get(ext)? {
        let epoch = next.epoch;
        CURRENT.put(ext, &next);
        ext.raw_delete(NEXT.key());
        ext.deposit_event(Event::Rotated { epoch });
    }
    Ok(())
}

/// Genesis: registers each member as a candidate with its stake and installs them as the
/// committee of epoch 0.
pub fn genesis(ext: &mut Ext<'_>, members: &[(AccountId, Balance)]) -> Result<(), CallError> {
    for (who, stake) in members {
        register(ext, *who, *stake)?;
    }
    let ids: Vec<AccountId> = members.iter().map(|(w, _)| *w).collect();
    let members = BoundedVec::new(ids).map_err(|_| {
        CallError::State(crate::Error::Genesis("the genesis committee is too large".into()))
    })?;
    CURRENT.put(ext, &Committee { epoch: 0, members });
    Ok(())
}

/// Invariants: every candidate's stake equals its reserve and is at least the minimum; the
/// current committee is non-empty with distinct members.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    for (who, c) in CANDIDATES.iter(ext).map_err(e)? {
        let reserved = balances::reserved_of(ext, &who, ReserveId::CandidateStake).map_err(e)?;
        if reserved != c.stake {
            return Err(format!("candidate {who} has stake {} but reserve {reserved}", c.stake));
        }
    }
    for ((who, id), _) in balances::RESERVES.iter(ext).map_err(e)? {
        if id == ReserveId::CandidateStake && !CANDIDATES.contains(ext, &who).map_err(e)? {
            return Err(format!("{who} holds a candidate stake but is no candidate"));
        }
    }
    let current = CURRENT.get(ext).map_err(e)?.ok_or("no current committee")?;
    if current.is_empty() {
        return Err("the current committee is empty".into());
    }
    let mut members = current.members.to_vec();
    members.sort();
    members.dedup();
    if members.len() != current.len() {
        return Err("the current committee has a duplicate member".into());
    }
    Ok(())
}
