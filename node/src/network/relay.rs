//! Relay suppression: a gossip message is not relayed by a node all of whose peers had it
//! straight from its publisher.
//!
//! Gossipsub publishes to every subscribed peer (flood publishing) and then has each receiver
//! forward the message to its mesh. In a committee whose validators are all connected to each
//! other, every forward is a duplicate: with four validators each message travelled nine times
//! (three deliveries and six relays) where three do, and a relay costs as much as a delivery
//! (framing, encryption, a wake-up, a message id, a duplicate check). Measured on one machine
//! running four validators (`itc bench finality`), not relaying cut the finality latency at
//! 1,000 tx/s by about a sixth.
//!
//! So every gossip message starts with a [`RelayHeader`] written by its publisher: a short id of
//! the publisher and of every peer it handed the message to. A receiver that got the message
//! from the publisher itself, and each of whose other subscribed peers is in that list, has
//! nobody to relay to: the event loop turns its application's `Accept` into `Ignore` (no forward,
//! no penalty). In any other case (a peer the publisher does not reach, a copy that came through
//! a relay, a list cut at [`MAX_REACHED`], a connection opened since) the message is relayed as
//! gossipsub would. The application still sees and checks every message. A message that is not
//! relayed earns its sender no first-delivery credit in gossip scoring (gossipsub grants it on
//! `Accept`); penalties for invalid messages are unchanged.
//!
//! What a lie costs: the header is not signed. A publisher that names peers it did not reach only
//! hides its own message from them. A peer that republishes somebody else's message under its own
//! header, and gets it to a node before the publisher's copy, can keep that node from relaying it
//! to peers the true publisher does not reach; it could as well have withheld the message, and
//! those peers still get the copies other nodes relay.
//!
//! Wire format: `SCALE(RelayHeader) ++ payload`, where the payload is the topic's own encoding
//! (see `service::wire`). Message ids hash the topic and the payload only, so one payload is one
//! message whoever publishes it. Test vector: origin `01..08`, reached `[11 × 8]`, payload
//! `aabb` encodes as `0102030405060708 04 1111111111111111 aabb`.
use itc_primitives::hash::blake2_256;
use itc_primitives::{BoundedVec, MAX_DECODE_DEPTH};
use libp2p::PeerId;
use parity_scale_codec::{DecodeLimit, Encode};

/// Most peers a header names; a publisher with more names the first ones (the others get relays).
pub const MAX_REACHED: usize = 32;

/// The first 8 bytes of `blake2b-256` of a peer id's bytes.
pub type ShortId = [u8; 8];

/// The short id of `peer`.
pub fn short_id(peer: &PeerId) -> ShortId {
    let hash = blake2_256(&peer.to_bytes());
    let mut id = [0; 8];
    id.copy_from_slice(&hash.0[..8]);
    id
}

/// Who published a gossip message and whom it handed it to.
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub struct RelayHeader {
    /// The publisher's short id.
    pub origin: ShortId,
    /// The short ids of the peers the publisher sent it to.
    pub reached: BoundedVec<ShortId, MAX_REACHED>,
}

/// Most bytes a header takes: the origin, a compact length (one byte up to 63) and the list.
pub const MAX_HEADER_BYTES: usize = 8 + 1 + 8 * MAX_REACHED;

/// `SCALE(header) ++ payload`, naming at most [`MAX_REACHED`] of `reached`.
pub fn frame(
    origin: &PeerId,
    reached: impl IntoIterator<Item = PeerId>,
    payload: &[u8],
) -> Vec<u8> {
    let reached: Vec<ShortId> =
        reached.into_iter().take(MAX_REACHED).map(|p| short_id(&p)).collect();
    let header = RelayHeader {
        origin: short_id(origin),
        // At most MAX_REACHED by the `take` above.
        reached: BoundedVec::new(reached).unwrap_or_default(),
    };
    let mut data = Vec::with_capacity(MAX_HEADER_BYTES + payload.len());
    header.encode_to(&mut data);
    data.extend_from_slice(payload);
    data
}

/// Splits gossip data into its header and payload.
pub fn unframe(data: &[u8]) -> Result<(RelayHeader, &[u8]), String> {
    let mut input = data;
    let header = RelayHeader::decode_with_depth_limit(MAX_DECODE_DEPTH, &mut input)
        .map_err(|e| format!("gossip without a valid relay header: {e}"))?;
    Ok((header, input))
}

/// Whether every peer in `peers` (this node's other subscribed peers) already has the message
/// from its publisher: it came from the publisher (`source`) and the header names each of them.
pub fn covered(
    header: &RelayHeader,
    source: &PeerId,
    peers: impl IntoIterator<Item = PeerId>,
) -> bool {
    short_id(source) == header.origin
        && peers.into_iter().filter(|p| p != source).all(|p| header.reached.contains(&short_id(&p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(seed: u8) -> PeerId {
        libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).unwrap().public().to_peer_id()
    }

    #[test]
    fn header_test_vector() {
        let header = RelayHeader {
            origin: [1, 2, 3, 4, 5, 6, 7, 8],
            reached: BoundedVec::new(vec![[0x11; 8]]).unwrap(),
        };
        let mut data = header.encode();
        data.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(hex::encode(&data), "0102030405060708041111111111111111aabb");
        assert_eq!(unframe(&data).unwrap(), (header, &[0xaa, 0xbb][..]));
    }

    #[test]
    fn a_framed_payload_comes_back_and_bad_headers_are_refused() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let data = frame(&a, [b, c], b"payload");
        let (header, payload) = unframe(&data).unwrap();
        assert_eq!(payload, b"payload");
        assert_eq!(header.origin, short_id(&a));
        assert_eq!(&header.reached[..], &[short_id(&b), short_id(&c)]);
        // Short, and a list longer than the bound (its length is read before its items).
        assert!(unframe(&[1, 2, 3]).is_err());
        let mut long = vec![0; 8];
        long.extend(parity_scale_codec::Compact(MAX_REACHED as u32 + 1).encode());
        long.extend(vec![0; 8 * (MAX_REACHED + 1)]);
        assert!(unframe(&long).unwrap_err().contains("relay header"));
        // A publisher with more peers than the bound names the first ones.
        let many: Vec<PeerId> = (0..40).map(peer).collect();
        let (header, _) = unframe(&frame(&a, many, b"")).unwrap();
        assert_eq!(header.reached.len(), MAX_REACHED);
        assert!(frame(&a, [], b"").len() <= MAX_HEADER_BYTES);
    }

    #[test]
    fn only_a_copy_from_the_publisher_that_reached_every_peer_is_covered() {
        let (a, b, c, d) = (peer(1), peer(2), peer(3), peer(4));
        let (header, _) = unframe(&frame(&a, [b, c], b"")).unwrap();
        // B's peers are A (the source) and C: both have it.
        assert!(covered(&header, &a, [a, c]));
        // D is not reached by A: B relays.
        assert!(!covered(&header, &a, [a, c, d]));
        // The same header arriving through C (a relay): not from the publisher, relay.
        assert!(!covered(&header, &c, [a, c]));
        // No other peer at all: nothing to relay.
        assert!(covered(&header, &a, [a]));
    }
}
