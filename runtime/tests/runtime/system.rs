use itc_primitives::{blake2_256, BoundedVec};
use itc_runtime::{
    modules::system::{self, Call, Error, Event},
    RuntimeEvent,
};

use crate::common::*;

#[test]
fn remark_emits_its_hash() {
    let mut chain = ExtBuilder::default().build();
    let data = BoundedVec::new(b"hello".to_vec()).unwrap();
    let events = chain.ok(bob(), Call::Remark { data });
    assert_eq!(
        events,
        vec![RuntimeEvent::System(Event::Remarked { who: bob(), hash: blake2_256(b"hello") })]
    );
}

#[test]
fn set_security_level_changes_pow_difficulty() {
    let mut chain = ExtBuilder::default().build();
    assert_eq!(system::pow_difficulty(&chain.view(), &bob()).unwrap(), 4);
    let events = chain.ok(bob(), Call::SetSecurityLevel { level: 2 });
    assert_eq!(
        events,
        vec![RuntimeEvent::System(Event::SecurityLevelSet {
            who: bob(),
            level: 2,
            difficulty: 12
        })]
    );
    assert_eq!(system::pow_difficulty(&chain.view(), &bob()).unwrap(), 12);
    assert_eq!(system::pow_difficulty(&chain.view(), &alice()).unwrap(), 4);
}

#[test]
fn set_security_level_rejects_unknown_level() {
    let mut chain = ExtBuilder::default().build();
    chain.fails(
        bob(),
        Call::SetSecurityLevel { level: 3 },
        Error::UnknownSecurityLevel { level: 3, levels: 3 },
    );
    assert_eq!(system::pow_difficulty(&chain.view(), &bob()).unwrap(), 4);
}
