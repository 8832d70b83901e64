//! Market (PDash): listings, orders paid into escrow, proxy delivery attestations (witnesses),
//! confirmation, disputes resolved by a committee vote, and timeouts.
//!
//! Order life cycle: `Open` (price reserved on the buyer as `ReserveId::Order(id)`) → a proxy
//! attests delivery with the hashes of the cfrags it produced → `Delivered` → the buyer
//! confirms (`Completed`, escrow paid to the seller) or disputes with evidence (`Disputed`) →
//! the committee votes; a quorum (`n − f`) for either side resolves it. Each stage has a
//! deadline; at the end of milestone `deadline` ([`on_milestone`]) a still-open order is
//! settled automatically:
//! - `Open` past `delivery_timeout`: refunded (nobody pays without delivery);
//! - `Delivered` past `confirm_timeout`: released to the seller (silence is acceptance);
//! - `Disputed` past `dispute_timeout` without a quorum: refunded (the seller could not
//!   convince a quorum that it delivered).
mod calls;

pub use calls::on_milestone;

use itc_primitives::{AccountId, Balance, BoundedVec, Hash, MilestoneNumber};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::Weight,
    ext::Ext,
    modules::{
        balances::{self, ReserveId},
        datasets::DatasetId,
    },
    storage::{StorageMap, StorageValue},
};

/// Module index of market in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 4;
/// At most this many bytes in a title.
pub const MAX_TITLE: usize = 128;
/// At most this many tags.
pub const MAX_TAGS: usize = 8;
/// At most this many bytes per tag.
pub const MAX_TAG: usize = 32;
/// At most this many bytes in a description.
pub const MAX_DESCRIPTION: usize = 2048;
/// At most this many cfrag hashes per attestation.
pub const MAX_CFRAGS: usize = 64;
/// At most this many witnesses per order.
pub const MAX_WITNESSES: usize = 16;
/// At most this many bytes of dispute evidence (typically a hash and a URI).
pub const MAX_EVIDENCE: usize = 1024;
/// At most this many votes per dispute.
pub const MAX_VOTES: usize = 256;

/// A listing identifier (sequential).
pub type ListingId = u64;
/// An order identifier (sequential).
pub type OrderId = u64;

/// A dataset offered for sale.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Listing {
    /// The seller (the dataset's owner).
    pub seller: AccountId,
    /// The dataset.
    #[codec(compact)]
    pub dataset: DatasetId,
    /// Title (UTF-8).
    pub title: BoundedVec<u8, MAX_TITLE>,
    /// Search tags (UTF-8).
    pub tags: BoundedVec<BoundedVec<u8, MAX_TAG>, MAX_TAGS>,
    /// Description (UTF-8).
    pub description: BoundedVec<u8, MAX_DESCRIPTION>,
    /// Price of one order.
    #[codec(compact)]
    pub price: Balance,
    /// Whether it can still be ordered.
    pub active: bool,
}

/// Where an order is in its life cycle.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OrderState {
    /// Paid into escrow, waiting for delivery.
    #[codec(index = 0)]
    Open,
    /// At least one proxy attested delivery.
    #[codec(index = 1)]
    Delivered,
    /// The buyer disputes the delivery.
    #[codec(index = 2)]
    Disputed {
        /// The buyer's evidence.
        evidence: BoundedVec<u8, MAX_EVIDENCE>,
    },
    /// The seller was paid.
    #[codec(index = 3)]
    Completed,
    /// The buyer was refunded.
    #[codec(index = 4)]
    Refunded,
}

impl OrderState {
    /// Whether the price is still in escrow.
    pub fn is_open(&self) -> bool {
        matches!(self, OrderState::Open | OrderState::Delivered | OrderState::Disputed { .. })
    }
}

/// A proxy's attestation that it delivered cfrags for an order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Witness {
    /// The proxy.
    pub proxy: AccountId,
    /// Hashes of the cfrags it produced for the buyer.
    pub cfrag_hashes: BoundedVec<Hash, MAX_CFRAGS>,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Order {
    /// The listing.
    #[codec(compact)]
    pub listing: ListingId,
    /// The buyer.
    pub buyer: AccountId,
    /// The seller.
    pub seller: AccountId,
    /// The escrowed price.
    #[codec(compact)]
    pub price: Balance,
    /// Its state.
    pub state: OrderState,
    /// The milestone at whose end the current stage times out.
    #[codec(compact)]
    pub deadline: MilestoneNumber,
    /// Delivery attestations.
    pub witnesses: BoundedVec<Witness, MAX_WITNESSES>,
    /// Committee votes in a dispute: (member, for the buyer).
    pub votes: BoundedVec<(AccountId, bool), MAX_VOTES>,
}

/// `[4, 0]`: the next listing id.
pub const NEXT_LISTING: StorageValue<ListingId> = StorageValue::new(MODULE_INDEX, 0);
/// `[4, 1] ++ id`: listings.
pub const LISTINGS: StorageMap<ListingId, Listing> = StorageMap::new(MODULE_INDEX, 1);
/// `[4, 2]`: the next order id.
pub const NEXT_ORDER: StorageValue<OrderId> = StorageValue::new(MODULE_INDEX, 2);
/// `[4, 3] ++ id`: orders.
pub const ORDERS: StorageMap<OrderId, Order> = StorageMap::new(MODULE_INDEX, 3);
/// `[4, 4] ++ deadline (u64 LE) ++ order`: the timeout schedule of open orders.
pub const DEADLINES: StorageMap<(MilestoneNumber, OrderId), ()> = StorageMap::new(MODULE_INDEX, 4);

/// Market calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Lists a dataset the signer owns.
    #[codec(index = 0)]
    List {
        /// The dataset (active).
        #[codec(compact)]
        dataset: DatasetId,
        /// Title (non-empty).
        title: BoundedVec<u8, MAX_TITLE>,
        /// Tags.
        tags: BoundedVec<BoundedVec<u8, MAX_TAG>, MAX_TAGS>,
        /// Description.
        description: BoundedVec<u8, MAX_DESCRIPTION>,
        /// Price (positive).
        #[codec(compact)]
        price: Balance,
    },
    /// Replaces a listing's text and price (open orders keep their price).
    #[codec(index = 1)]
    Update {
        /// The listing.
        #[codec(compact)]
        listing: ListingId,
        /// Title (non-empty).
        title: BoundedVec<u8, MAX_TITLE>,
        /// Tags.
        tags: BoundedVec<BoundedVec<u8, MAX_TAG>, MAX_TAGS>,
        /// Description.
        description: BoundedVec<u8, MAX_DESCRIPTION>,
        /// Price (positive).
        #[codec(compact)]
        price: Balance,
    },
    /// Withdraws a listing (open orders continue).
    #[codec(index = 2)]
    Delist {
        /// The listing.
        #[codec(compact)]
        listing: ListingId,
    },
    /// Buys: the price goes into escrow.
    #[codec(index = 3)]
    Order {
        /// The listing.
        #[codec(compact)]
        listing: ListingId,
    },
    /// A proxy attests it delivered cfrags for an order.
    #[codec(index = 4)]
    AttestDelivery {
        /// The order.
        #[codec(compact)]
        order: OrderId,
        /// Hashes of the cfrags (at least one).
        cfrag_hashes: BoundedVec<Hash, MAX_CFRAGS>,
    },
    /// The buyer confirms delivery: the seller is paid.
    #[codec(index = 5)]
    Confirm {
        /// The order.
        #[codec(compact)]
        order: OrderId,
    },
    /// The buyer disputes a delivery.
    #[codec(index = 6)]
    Dispute {
        /// The order.
        #[codec(compact)]
        order: OrderId,
        /// Evidence (e.g. the hash and URI of a chunk that fails its Merkle proof).
        evidence: BoundedVec<u8, MAX_EVIDENCE>,
    },
    /// A committee member votes on a dispute.
    #[codec(index = 7)]
    Vote {
        /// The order.
        #[codec(compact)]
        order: OrderId,
        /// `true` to refund the buyer, `false` to pay the seller.
        for_buyer: bool,
    },
}

/// Market events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A listing was created.
    #[codec(index = 0)]
    Listed {
        /// Its id.
        listing: ListingId,
        /// The dataset.
        dataset: DatasetId,
        /// The price.
        price: Balance,
    },
    /// A listing changed.
    #[codec(index = 1)]
    Updated {
        /// The listing.
        listing: ListingId,
    },
    /// A listing was withdrawn.
    #[codec(index = 2)]
    Delisted {
        /// The listing.
        listing: ListingId,
    },
    /// An order was placed.
    #[codec(index = 3)]
    Ordered {
        /// Its id.
        order: OrderId,
        /// The listing.
        listing: ListingId,
        /// The buyer.
        buyer: AccountId,
        /// The escrowed price.
        price: Balance,
    },
    /// A proxy attested delivery.
    #[codec(index = 4)]
    DeliveryAttested {
        /// The order.
        order: OrderId,
        /// The proxy.
        proxy: AccountId,
    },
    /// The seller was paid.
    #[codec(index = 5)]
    Completed {
        /// The order.
        order: OrderId,
    },
    /// The buyer was refunded.
    #[codec(index = 6)]
    Refunded {
        /// The order.
        order: OrderId,
    },
    /// The buyer opened a dispute.
    #[codec(index = 7)]
    Disputed {
        /// The order.
        order: OrderId,
    },
    /// A committee member voted.
    #[codec(index = 8)]
    Voted {
        /// The order.
        order: OrderId,
        /// The member.
        voter: AccountId,
        /// Its vote.
        for_buyer: bool,
    },
    /// A stage timed out; the order was settled automatically.
    #[codec(index = 9)]
    TimedOut {
        /// The order.
        order: OrderId,
        /// Whether the buyer was refunded (else the seller was paid).
        refunded: bool,
    },
}

/// Market errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// No listing has this id.
    #[codec(index = 0)]
    #[error("listing {0} does not exist")]
    UnknownListing(ListingId),
    /// Only the seller may change the listing.
    #[codec(index = 1)]
    #[error("only the seller may change a listing")]
    NotSeller,
    /// The listing was withdrawn.
    #[codec(index = 2)]
    #[error("listing {0} was delisted")]
    Delisted(ListingId),
    /// A listing needs a title.
    #[codec(index = 3)]
    #[error("a listing needs a non-empty title")]
    EmptyTitle,
    /// A listing needs a positive price.
    #[codec(index = 4)]
    #[error("a listing needs a positive price")]
    ZeroPrice,
    /// The seller cannot buy its own listing.
    #[codec(index = 5)]
    #[error("the seller cannot buy its own listing")]
    SelfPurchase,
    /// No order has this id.
    #[codec(index = 6)]
    #[error("order {0} does not exist")]
    UnknownOrder(OrderId),
    /// Only the buyer may do this.
    #[codec(index = 7)]
    #[error("only the buyer may do this")]
    NotBuyer,
    /// The order is not in a state that allows this.
    #[codec(index = 8)]
    #[error("order {order} is in the wrong state for this call")]
    WrongState {
        /// The order.
        order: OrderId,
    },
    /// The proxy already attested this order.
    #[codec(index = 9)]
    #[error("this proxy already attested the order")]
    AlreadyAttested,
    /// An attestation needs at least one cfrag hash.
    #[codec(index = 10)]
    #[error("an attestation needs at least one cfrag hash")]
    NoCfrags,
    /// Only a member of the current committee may vote.
    #[codec(index = 11)]
    #[error("only a member of the current committee may vote on disputes")]
    NotCommitteeMember,
    /// The member already voted on this dispute.
    #[codec(index = 12)]
    #[error("already voted on this dispute")]
    AlreadyVoted,
    /// The order already has the maximum number of witnesses.
    #[codec(index = 13)]
    #[error("the order already has {MAX_WITNESSES} witnesses")]
    TooManyWitnesses,
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::List { .. } | Call::Update { .. } => 40_000,
            Call::Delist { .. } => 15_000,
            Call::Order { .. } => 40_000,
            Call::AttestDelivery { cfrag_hashes, .. } => {
                20_000 + 500 * cfrag_hashes.len() as Weight
            }
            Call::Confirm { .. } | Call::Dispute { .. } => 40_000,
            Call::Vote { .. } => 50_000,
        }
    }
}

/// Invariants: escrow equals open orders (every open order's price is exactly its buyer's
/// `Order(id)` reserve, every `Order` reserve belongs to an open order) and each open order has
/// exactly one deadline entry, at its deadline.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    let orders = ORDERS.iter(ext).map_err(e)?;
    let next = NEXT_ORDER.get_or_default(ext).map_err(e)?;
    let mut open_total: Balance = 0;
    for (id, o) in &orders {
        if *id >= next {
            return Err(format!("order {id} is not below the id counter {next}"));
        }
        let held = balances::reserved_of(ext, &o.buyer, ReserveId::Order(*id)).map_err(e)?;
        let scheduled = DEADLINES.contains(ext, &(o.deadline, *id)).map_err(e)?;
        if o.state.is_open() {
            open_total += o.price;
            if held != o.price || !scheduled {
                return Err(format!(
                    "open order {id}: escrow {held} of {}, scheduled {scheduled}",
                    o.price
                ));
            }
        } else if held != 0 {
            return Err(format!("closed order {id} still holds {held} in escrow"));
        }
    }
    let mut escrow_total: Balance = 0;
    for ((_, id), amount) in balances::RESERVES.iter(ext).map_err(e)? {
        if let ReserveId::Order(order) = id {
            escrow_total += amount;
            if !orders.iter().any(|(o, rec)| *o == order && rec.state.is_open()) {
                return Err(format!("escrow for order {order}, which is not open"));
            }
        }
    }
    if escrow_total != open_total {
        return Err(format!("escrow {escrow_total} but open orders total {open_total}"));
    }
    let scheduled = DEADLINES.iter(ext).map_err(e)?;
    if scheduled.len() != orders.iter().filter(|(_, o)| o.state.is_open()).count() {
        return Err("deadline schedule does not match the open orders".into());
    }
    Ok(())
}
