//! The consensus gossip envelope.
//!
//! PBFT messages travel on the consensus gossip topic as `SCALE(ConsensusEnvelope)`:
//! `to` names the one recipient of a point-to-point message (`None` = every replica), `nonce`
//! makes a deliberate resend a new gossip message (gossipsub drops repeated payloads), and
//! `message` is the consensus crate's `SignedMessage` wire bytes, whose signature authenticates
//! the sender. Peers forward envelopes addressed to others unchanged.
//!
//! Test vector: `{ to: None, nonce: 1, message: [0xaa, 0xbb] }` encodes as
//! `00 0100000000000000 08 aabb`.
use itc_primitives::AccountId;
use parity_scale_codec::{Decode, Encode};

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
}
