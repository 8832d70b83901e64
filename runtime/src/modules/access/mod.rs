//! Access: the re-encryption proxy registry and the grants that tell proxies whom to
//! re-encrypt interval keys for.
//!
//! A grant lets its grantees read intervals `first_interval..=last_interval` of a dataset until
//! milestone `expires` (inclusive) or revocation. The owner split a re-encryption key for each
//! grantee into N kfrags with threshold M (Umbral) and gave one to each listed proxy; the grant
//! records a commitment (hash) of each proxy's kfrag so a proxy can check it holds the right
//! one. A proxy re-encrypts a capsule only if [`may_reencrypt`] says so for the current
//! milestone, and deletes its kfrag once the grant is revoked or expired.
use itc_primitives::{AccountId, Balance, BoundedVec, Hash, MilestoneNumber};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::{DispatchResult, Weight},
    ext::Ext,
    modules::{
        balances::{self, ReserveId},
        datasets::{self, DatasetId, Status},
    },
    storage::{StorageMap, StorageValue},
    Result,
};

/// Module index of access in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 3;
/// At most this many grantees per grant.
pub const MAX_GRANTEES: usize = 16;
/// At most this many proxies per grant (N).
pub const MAX_GRANT_PROXIES: usize = 16;

/// A grant identifier (sequential).
pub type GrantId = u64;

/// A registered proxy.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ProxyInfo {
    /// Reserved stake.
    #[codec(compact)]
    pub stake: Balance,
    /// When it registered.
    #[codec(compact)]
    pub since: MilestoneNumber,
}

/// One proxy of a grant and the commitment to the kfrag it holds.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GrantProxy {
    /// The proxy.
    pub proxy: AccountId,
    /// blake2b-256 of the kfrag the owner gave it.
    pub kfrag_commitment: Hash,
}

/// An access grant.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Grant {
    /// The dataset.
    #[codec(compact)]
    pub dataset: DatasetId,
    /// The dataset's owner, who granted it.
    pub owner: AccountId,
    /// Who may read.
    pub grantees: BoundedVec<AccountId, MAX_GRANTEES>,
    /// First readable interval.
    #[codec(compact)]
    pub first_interval: u64,
    /// Last readable interval (inclusive).
    #[codec(compact)]
    pub last_interval: u64,
    /// Last milestone at which the grant is live.
    #[codec(compact)]
    pub expires: MilestoneNumber,
    /// M: cfrags a grantee needs.
    pub threshold: u8,
    /// The N proxies and their kfrag commitments.
    pub proxies: BoundedVec<GrantProxy, MAX_GRANT_PROXIES>,
    /// When it was revoked, if it was.
    pub revoked: Option<MilestoneNumber>,
}

/// `[3, 0] ++ account`: registered proxies.
pub const PROXIES: StorageMap<AccountId, ProxyInfo> = StorageMap::new(MODULE_INDEX, 0);
/// `[3, 1]`: the next grant id.
pub const NEXT_GRANT: StorageValue<GrantId> = StorageValue::new(MODULE_INDEX, 1);
/// `[3, 2] ++ id`: grants.
pub const GRANTS: StorageMap<GrantId, Grant> = StorageMap::new(MODULE_INDEX, 2);

/// Access calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Registers the signer as a re-encryption proxy, reserving `stake`.
    #[codec(index = 0)]
    RegisterProxy {
        /// At least `min_proxy_stake`.
        #[codec(compact)]
        stake: Balance,
    },
    /// Deregisters the signer and returns its stake.
    #[codec(index = 1)]
    DeregisterProxy,
    /// Grants access to a dataset the signer owns.
    #[codec(index = 2)]
    Grant {
        /// The dataset.
        #[codec(compact)]
        dataset: DatasetId,
        /// Who may read (at least one).
        grantees: BoundedVec<AccountId, MAX_GRANTEES>,
        /// First readable interval.
        #[codec(compact)]
        first_interval: u64,
        /// Last readable interval (inclusive, ≥ first).
        #[codec(compact)]
        last_interval: u64,
        /// Last milestone at which the grant is live (not in the past).
        #[codec(compact)]
        expires: MilestoneNumber,
        /// M, with 1 ≤ M ≤ N.
        threshold: u8,
        /// The N distinct registered proxies and their kfrag commitments.
        proxies: BoundedVec<GrantProxy, MAX_GRANT_PROXIES>,
    },
    /// Revokes a grant the signer made.
    #[codec(index = 3)]
    Revoke {
        /// The grant.
        #[codec(compact)]
        grant: GrantId,
    },
}

/// Access events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A proxy registered.
    #[codec(index = 0)]
    ProxyRegistered {
        /// The proxy.
        who: AccountId,
        /// Its stake.
        stake: Balance,
    },
    /// A proxy left.
    #[codec(index = 1)]
    ProxyDeregistered {
        /// The proxy.
        who: AccountId,
        /// The stake returned.
        stake: Balance,
    },
    /// A grant was made.
    #[codec(index = 2)]
    Granted {
        /// Its id.
        grant: GrantId,
        /// The dataset.
        dataset: DatasetId,
        /// Last milestone at which it is live.
        expires: MilestoneNumber,
    },
    /// A grant was revoked; its proxies must delete their kfrags.
    #[codec(index = 3)]
    Revoked {
        /// The grant.
        grant: GrantId,
    },
}

/// Access errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The signer is already a proxy.
    #[codec(index = 0)]
    #[error("already registered as a proxy")]
    AlreadyProxy,
    /// The signer is not a proxy.
    #[codec(index = 1)]
    #[error("not a registered proxy")]
    NotProxy,
    /// The stake is below the minimum.
    #[codec(index = 2)]
    #[error("stake {stake} is below the minimum {minimum}")]
    StakeTooLow {
        /// The offered stake.
        stake: Balance,
        /// The minimum.
        minimum: Balance,
    },
    /// No grant has this id.
    #[codec(index = 3)]
    #[error("grant {0} does not exist")]
    UnknownGrant(GrantId),
    /// Only the grant's owner may revoke it.
    #[codec(index = 4)]
    #[error("only the owner who made the grant may revoke it")]
    NotGrantOwner,
    /// A grant needs at least one grantee.
    #[codec(index = 5)]
    #[error("a grant needs at least one grantee")]
    NoGrantees,
    /// The interval range is empty.
    #[codec(index = 6)]
    #[error("interval range {first}..={last} is empty")]
    BadIntervalRange {
        /// First interval.
        first: u64,
        /// Last interval.
        last: u64,
    },
    /// The expiry is in the past.
    #[codec(index = 7)]
    #[error("expiry {expires} is before the current milestone {now}")]
    AlreadyExpired {
        /// The requested expiry.
        expires: MilestoneNumber,
        /// The current milestone.
        now: MilestoneNumber,
    },
    /// M must be between 1 and N.
    #[codec(index = 8)]
    #[error("threshold {threshold} is not in 1..={proxies}")]
    BadThreshold {
        /// M.
        threshold: u8,
        /// N.
        proxies: u8,
    },
    /// A listed proxy is not registered, or is listed twice.
    #[codec(index = 9)]
    #[error("proxy {0} is not registered or is listed twice")]
    BadProxy(AccountId),
    /// The grant was already revoked.
    #[codec(index = 10)]
    #[error("grant {0} was already revoked")]
    AlreadyRevoked(GrantId),
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::RegisterProxy { .. } | Call::DeregisterProxy => 20_000,
            Call::Grant { proxies, .. } => 40_000 + 5_000 * proxies.len() as Weight,
            Call::Revoke { .. } => 20_000,
        }
    }

    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::RegisterProxy { stake } => {
                if PROXIES.contains(ext, &who)? {
                    return Err(Error::AlreadyProxy.into());
                }
                let minimum = ext.params().min_proxy_stake;
                if stake < minimum {
                    return Err(Error::StakeTooLow { stake, minimum }.into());
                }
                balances::reserve(ext, &who, ReserveId::ProxyStake, stake)?;
                PROXIES.insert(ext, &who, &ProxyInfo { stake, since: ext.now() });
                ext.deposit_event(Event::ProxyRegistered { who, stake });
                Ok(())
            }
            Call::DeregisterProxy => {
                let info = PROXIES.get(ext, &who)?.ok_or(Error::NotProxy)?;
                balances::unreserve(ext, &who, ReserveId::ProxyStake, info.stake)?;
                PROXIES.remove(ext, &who);
                ext.deposit_event(Event::ProxyDeregistered { who, stake: info.stake });
                Ok(())
            }
            Call::Grant {
                dataset,
                grantees,
                first_interval,
                last_interval,
                expires,
                threshold,
                proxies,
            } => {
                let d = datasets::get(ext, dataset)?;
                if d.owner != who {
                    return Err(datasets::Error::NotOwner.into());
                }
                if d.status != Status::Active {
                    return Err(datasets::Error::NotActive(dataset).into());
                }
                if grantees.is_empty() {
                    return Err(Error::NoGrantees.into());
                }
                if first_interval > last_interval {
                    return Err(Error::BadIntervalRange {
                        first: first_interval,
                        last: last_interval,
                    }
                    .into());
                }
                let now = ext.now();
                if expires < now {
                    return Err(Error::AlreadyExpired { expires, now }.into());
                }
                let n = proxies.len() as u8;
                if threshold == 0 || threshold > n {
                    return Err(Error::BadThreshold { threshold, proxies: n }.into());
                }
                for (i, p) in proxies.iter().enumerate() {
                    let duplicate = proxies[..i].iter().any(|q| q.proxy == p.proxy);
                    if duplicate || !PROXIES.contains(ext, &p.proxy)? {
                        return Err(Error::BadProxy(p.proxy).into());
                    }
                }
                let grant = NEXT_GRANT.get_or_default(ext)?;
                let record = Grant {
                    dataset,
                    owner: who,
                    grantees,
                    first_interval,
                    last_interval,
                    expires,
                    threshold,
                    proxies,
                    revoked: None,
                };
                GRANTS.insert(ext, &grant, &record);
                NEXT_GRANT.put(ext, &(grant + 1));
                ext.deposit_event(Event::Granted { grant, dataset, expires });
                Ok(())
            }
            Call::Revoke { grant } => {
                let mut g = GRANTS.get(ext, &grant)?.ok_or(Error::UnknownGrant(grant))?;
                if g.owner != who {
                    return Err(Error::NotGrantOwner.into());
                }
                if g.revoked.is_some() {
                    return Err(Error::AlreadyRevoked(grant).into());
                }
                g.revoked = Some(ext.now());
                GRANTS.insert(ext, &grant, &g);
                ext.deposit_event(Event::Revoked { grant });
                Ok(())
            }
        }
    }
}

/// Whether `grant` is live at milestone `at` and covers `interval`: it exists, is not revoked,
/// has not expired, covers the interval, and its dataset has not been forgotten.
pub fn is_grant_live(
    ext: &Ext<'_>,
    grant: GrantId,
    interval: u64,
    at: MilestoneNumber,
) -> Result<bool> {
    let Some(g) = GRANTS.get(ext, &grant)? else {
        return Ok(false);
    };
    let forgotten =
        datasets::dataset(ext, g.dataset)?.is_none_or(|d| d.status == Status::Forgotten);
    Ok(g.revoked.is_none()
        && at <= g.expires
        && (g.first_interval..=g.last_interval).contains(&interval)
        && !forgotten)
}

/// What a proxy asks before re-encrypting the capsule of `interval` for `grantee` under
/// `grant` at milestone `at`: the grant is live and covers the interval, `proxy` is one of its
/// proxies and still registered, and `grantee` is one of its grantees. Returns the commitment
/// of the kfrag the proxy must use, or `None` if it must not re-encrypt.
pub fn may_reencrypt(
    ext: &Ext<'_>,
    grant: GrantId,
    proxy: &AccountId,
    grantee: &AccountId,
    interval: u64,
    at: MilestoneNumber,
) -> Result<Option<Hash>> {
    if !is_grant_live(ext, grant, interval, at)? || !PROXIES.contains(ext, proxy)? {
        return Ok(None);
    }
    let Some(g) = GRANTS.get(ext, &grant)? else {
        return Ok(None);
    };
    if !g.grantees.contains(grantee) {
        return Ok(None);
    }
    Ok(g.proxies.iter().find(|p| p.proxy == *proxy).map(|p| p.kfrag_commitment))
}

/// The grant `id` (query).
pub fn grant(ext: &Ext<'_>, id: GrantId) -> Result<Option<Grant>> {
    GRANTS.get(ext, &id)
}

/// Whether `who` is a registered proxy (query).
pub fn is_proxy(ext: &Ext<'_>, who: &AccountId) -> Result<bool> {
    PROXIES.contains(ext, who)
}

/// Invariants: each proxy's stake equals its reserve, and only proxies hold a proxy reserve;
/// grant ids are below the counter and every grant has 1 ≤ M ≤ N and a non-empty range.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    for (who, p) in PROXIES.iter(ext).map_err(e)? {
        let reserved = balances::reserved_of(ext, &who, ReserveId::ProxyStake).map_err(e)?;
        if reserved != p.stake {
            return Err(format!("proxy {who} has stake {} but reserve {reserved}", p.stake));
        }
    }
    for ((who, id), _) in balances::RESERVES.iter(ext).map_err(e)? {
        if id == ReserveId::ProxyStake && !PROXIES.contains(ext, &who).map_err(e)? {
            return Err(format!("{who} holds a proxy stake but is no proxy"));
        }
    }
    let next = NEXT_GRANT.get_or_default(ext).map_err(e)?;
    for (id, g) in GRANTS.iter(ext).map_err(e)? {
        if id >= next {
            return Err(format!("grant {id} is not below the id counter {next}"));
        }
        if g.threshold == 0 || usize::from(g.threshold) > g.proxies.len() {
            return Err(format!("grant {id} has threshold {} of {}", g.threshold, g.proxies.len()));
        }
        if g.first_interval > g.last_interval || g.grantees.is_empty() {
            return Err(format!("grant {id} has an empty range or no grantee"));
        }
    }
    Ok(())
}
