//! The gossip payloads (on the wire each follows the network's relay header, see
//! `network::relay`).
//!
//! **Vertices** travel on the vertex topic as `SCALE(VertexBatch)`: a compact-length list of
//! byte strings, each one vertex's SCALE encoding. A node publishes, in one message, every vertex
//! it attached or accepted while handling one burst of client submissions (at most
//! [`MAX_VERTICES_PER_GOSSIP`]), so under load the per-message costs of gossip (framing,
//! encryption, message ids, validation round trips) are paid once per batch, not per vertex.
//! Receivers check each vertex on its own (size, PoW, signature, parents); the batch is accepted
//! for forwarding if any of its vertices was new and valid.
//!
//! Test vector: a batch of the two "vertices" `[0xaa]` and `[0xbb, 0xcc]` encodes as
//! `08 04aa 08bbcc`.
//!
//! **Consensus.** PBFT messages travel on the consensus gossip topic as `SCALE(ConsensusEnvelope)`:
//! `to` names the one recipient of a point-to-point message (`None` = every replica), `nonce`
//! makes a deliberate resend a new gossip message (gossipsub drops repeated payloads), and
//! `message` is the consensus crate's `SignedMessage` wire bytes, whose signature authenticates
//! the sender. Peers forward envelopes addressed to others unchanged.
//!
//! Test vector: `{ to: None, nonce: 1, message: [0xaa, 0xbb] }` encodes as
//! `00 0100000000000000 08 aabb`.
use itc_primitives::AccountId;
use parity_scale_codec::{Decode, Encode};

/// Most vertices in one gossip message.
pub const MAX_VERTICES_PER_GOSSIP: usize = 256;

/// Bytes of vertices a node puts in one gossip message (below the vertex topic's limit,
/// `network::Config::max_vertex_message_bytes`, whatever the vertices' sizes).
pub const MAX_VERTEX_GOSSIP_BYTES: usize = 512 * 1024;

/// Vertices on the gossip topic (see the module docs): each element is one vertex's SCALE bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct VertexBatch(pub Vec<Vec<u8>>);

/// A consensus message on the gossip topic (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ConsensusEnvelope {
    /// The recipient, or `None` for all.
    pub to: Option<AccountId>,
    /// Distinguishes resends.
    pub nonce: u64,
    /// `SignedMessage` bytes.
    pub message: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_test_vector() {
        let e = ConsensusEnvelope { to: None, nonce: 1, message: vec![0xaa, 0xbb] };
        assert_eq!(hex::encode(e.encode()), "00010000000000000008aabb");
        assert_eq!(itc_primitives::decode_untrusted::<ConsensusEnvelope>(&e.encode()).unwrap(), e);
        assert!(itc_primitives::decode_untrusted::<ConsensusEnvelope>(&[1, 2]).is_err());
    }

    #[test]
    fn a_full_vertex_batch_fits_the_topic_limit() {
        let limit = crate::network::Config::new(
            libp2p::identity::Keypair::ed25519_from_bytes([1; 32]).unwrap(),
            "test",
        )
        .max_vertex_message_bytes;
        // The batch's own length prefix on top of the vertices and their prefixes.
        assert!(MAX_VERTEX_GOSSIP_BYTES + 5 <= limit);
    }

    #[test]
    fn vertex_batch_test_vector() {
        let b = VertexBatch(vec![vec![0xaa], vec![0xbb, 0xcc]]);
        assert_eq!(hex::encode(b.encode()), "0804aa08bbcc");
        assert_eq!(itc_primitives::decode_untrusted::<VertexBatch>(&b.encode()).unwrap(), b);
        // A length that promises more than the message holds is refused, not trusted.
        assert!(itc_primitives::decode_untrusted::<VertexBatch>(&[0x08, 0x04, 0xaa]).is_err());
    }
}
