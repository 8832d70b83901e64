//! The simulator's adversary: what a byzantine replica does with the honest machine's output.
//!
//! A byzantine replica runs an ordinary [`crate::Pbft`] (so it knows what honest replicas know)
//! and holds its own key; the adversary rewrites what leaves it. Behaviours, chosen per replica
//! from the seed: silence, an equivocating primary (two valid headers for one slot, each to part
//! of the committee and sometimes both to one replica), conflicting votes (a second prepare or
//! commit for a random digest), invalid proposals, and garbage bytes (random, or a real message
//! with flipped bits).
use itc_primitives::{Hash, Pair};
use parity_scale_codec::Encode;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use crate::message::{Body, PrePrepare, SignedMessage, Vote};

/// What one byzantine replica does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Behaviour {
    /// Drops every outgoing message with this probability (1.0 = silent).
    pub silence: f64,
    /// As primary, sends a different valid header to part of the committee.
    pub equivocate: bool,
    /// Sends a conflicting prepare/commit for a random digest besides each real one.
    pub conflicting_votes: bool,
    /// As primary, proposes headers the validators reject.
    pub invalid_proposals: bool,
    /// Sends garbage bytes besides its real messages.
    pub garbage: bool,
}

impl Behaviour {
    /// A random mix of behaviours (at least one active).
    pub fn random(rng: &mut ChaCha8Rng) -> Self {
        let mut b = Behaviour {
            silence: if rng.gen_bool(0.25) { 1.0 } else { 0.0 },
            equivocate: rng.gen_bool(0.5),
            conflicting_votes: rng.gen_bool(0.5),
            invalid_proposals: rng.gen_bool(0.3),
            garbage: rng.gen_bool(0.5),
        };
        if b == Behaviour::default() {
            b.equivocate = true;
        }
        b
    }
}

/// The equivocating primary's second header for the slot of pre-prepare `msg`.
fn alternative(pair: &Pair, msg: &SignedMessage) -> Option<SignedMessage> {
    let Body::PrePrepare(pp) = &msg.body else { return None };
    let mut other = pp.header.clone();
    other.timestamp_ms += 1;
    let body = Body::PrePrepare(PrePrepare { view: pp.view, seq: pp.seq, header: other });
    Some(SignedMessage::sign(pair, msg.epoch, body))
}

/// What an equivocating primary offers replica `to` after it restarts: for its pre-prepare
/// `msg`, the header `to` was not sent first ([`corrupt`] sends odd recipients the other one).
/// A restarted replica that forgot its prepare for that slot and prepared again would sign a
/// second digest, which the honest replicas holding its first prepare report as evidence.
pub fn reoffer(behaviour: &Behaviour, pair: &Pair, msg: &SignedMessage, to: usize) -> Vec<u8> {
    if !behaviour.equivocate || to % 2 == 1 {
        return msg.encode();
    }
    alternative(pair, msg).unwrap_or_else(|| msg.clone()).encode()
}

/// Rewrites the outgoing message `msg` of a byzantine replica for recipient `to` (of `n`).
/// Returns the byte strings to send to `to`.
pub fn corrupt(
    behaviour: &Behaviour,
    pair: &Pair,
    msg: &SignedMessage,
    to: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if behaviour.silence > 0.0 && rng.gen_bool(behaviour.silence.min(1.0)) {
        return out;
    }
    match &msg.body {
        Body::PrePrepare(_) if behaviour.equivocate => {
            let alt = alternative(pair, msg).unwrap_or_else(|| msg.clone());
            // Odd recipients get the other header; some get both (and can prove equivocation).
            if to % 2 == 1 {
                out.push(alt.encode());
            } else {
                out.push(msg.encode());
                if rng.gen_bool(0.3) {
                    out.push(alt.encode());
                }
            }
        }
        Body::Prepare(v) | Body::Commit(v) if behaviour.conflicting_votes => {
            out.push(msg.encode());
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            let vote = Vote { view: v.view, seq: v.seq, digest: Hash(digest) };
            let body = match &msg.body {
                Body::Prepare(_) => Body::Prepare(vote),
                _ => Body::Commit(vote),
            };
            out.push(SignedMessage::sign(pair, msg.epoch, body).encode());
        }
        _ => out.push(msg.encode()),
    }
    if behaviour.garbage && rng.gen_bool(0.2) {
        if rng.gen_bool(0.5) {
            let len = rng.gen_range(0..200);
            let mut junk = vec![0u8; len];
            rng.fill_bytes(&mut junk);
            out.push(junk);
        } else {
            let mut flipped = msg.encode();
            let i = rng.gen_range(0..flipped.len());
            flipped[i] ^= 1 << rng.gen_range(0..8);
            out.push(flipped);
        }
    }
    out
}
