//! Owner → proxies → grantee round trips, revocation and crypto-shredding, over local storage.
mod common;

use common::*;
use itc_vault::{
    open_interval, shred_interval, stream_interval, Error, LocalStorage, Locator, Storage,
};
use std::sync::Arc;

#[test]
fn round_trip_many_intervals_with_two_of_three_proxies() {
    let world = World::new(1, 0, 9);
    let dir = temp_dir("round-trip");
    let storage = LocalStorage::new(dir.path()).unwrap();
    let schema = schema();
    // Every pair of proxies opens every interval; intervals have different sizes.
    let pairs = [[0, 1], [1, 2], [0, 2]];
    for interval in 0..10u64 {
        let n = 20 + 15 * interval as usize;
        let sealed = seal(&world.owner, interval, n, 100 + interval);
        assert!(sealed.manifest.chunk_count > 1, "interval {interval} should span chunks");
        upload(&sealed, &storage);
        // The chain carries the manifest as SCALE bytes; the grantee decodes them.
        let manifest =
            itc_vault::IntervalManifest::from_bytes(&sealed.manifest.to_bytes()).unwrap();
        let pair = pairs[interval as usize % 3];
        let cfrags = world.cfrags(&manifest, &pair);
        let key = world.grantee.open_data_key(&world.terms, &manifest, &cfrags).unwrap();
        assert_eq!(key, world.owner.open_data_key(&manifest).unwrap());
        let got = open_interval(&manifest, &key, &storage, &schema).unwrap();
        assert_eq!(got, records(interval, n), "interval {interval}");
        assert_eq!(manifest.record_count, n as u64);
    }
}

#[test]
fn streaming_reader_yields_the_same_records_as_the_batch_reader() {
    let world = World::new(2, 0, 0);
    let dir = temp_dir("stream");
    let storage = Locator::new().with_default(Arc::new(LocalStorage::new(dir.path()).unwrap()));
    let sealed = seal(&world.owner, 0, 300, 7);
    upload(&sealed, &storage);
    let key = world.owner.open_data_key(&sealed.manifest).unwrap();
    let schema = schema();
    let streamed: Vec<_> = stream_interval(&sealed.manifest, &key, &storage, &schema)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(streamed, records(0, 300));
}

#[test]
fn revoked_grant_yields_no_cfrag_and_no_key() {
    let world = World::new(3, 0, 5);
    let sealed = seal(&world.owner, 2, 50, 8);
    let grant = world.terms.id();
    // Live: the grantee can open the key.
    let cfrags = world.cfrags(&sealed.manifest, &[0, 1]);
    assert!(world.grantee.open_data_key(&world.terms, &sealed.manifest, &cfrags).is_ok());
    // Revoked: every proxy deletes its kfrag; none re-encrypts any more.
    for p in &world.proxies {
        assert!(p.revoke(&grant));
        assert!(!p.holds(&grant));
        let err = p.reencrypt(&grant, &sealed.manifest, |_, _| true).unwrap_err();
        assert!(matches!(err, Error::UnknownGrant { .. }), "{err}");
    }
    let err = world.grantee.open_data_key(&world.terms, &sealed.manifest, &[]).unwrap_err();
    assert!(matches!(err, Error::NotEnoughCfrags { have: 0, need: 2 }), "{err}");
}

#[test]
fn proxies_refuse_when_the_grant_check_says_no_or_the_interval_is_outside_the_grant() {
    let world = World::new(4, 3, 4);
    let grant = world.terms.id();
    let inside = seal(&world.owner, 3, 10, 9);
    let outside = seal(&world.owner, 5, 10, 10);
    let err = world.proxies[0].reencrypt(&grant, &inside.manifest, |_, _| false).unwrap_err();
    assert!(matches!(err, Error::GrantNotLive { interval: 3, .. }), "{err}");
    // Outside the terms: refused even if the callback would say yes, and the callback is not
    // even asked.
    let mut asked = false;
    let err = world.proxies[0]
        .reencrypt(&grant, &outside.manifest, |_, _| {
            asked = true;
            true
        })
        .unwrap_err();
    assert!(matches!(err, Error::GrantNotLive { interval: 5, .. }), "{err}");
    assert!(!asked);
    // The callback sees the grant's terms and the manifest asked about.
    let mut seen = None;
    world.proxies[1]
        .reencrypt(&grant, &inside.manifest, |t, m| {
            seen = Some((t.id(), m.interval));
            true
        })
        .unwrap();
    assert_eq!(seen, Some((grant, 3)));
}

#[test]
fn crypto_shredding_makes_an_interval_unreadable() {
    let world = World::new(5, 0, 3);
    let dir = temp_dir("shred");
    let storage = LocalStorage::new(dir.path()).unwrap();
    let schema = schema();
    let keep = seal(&world.owner, 0, 40, 11);
    let shred = seal(&world.owner, 1, 40, 12);
    upload(&keep, &storage);
    upload(&shred, &storage);
    let key = world
        .grantee
        .open_data_key(&world.terms, &shred.manifest, &world.cfrags(&shred.manifest, &[0, 2]))
        .unwrap();
    assert!(open_interval(&shred.manifest, &key, &storage, &schema).is_ok());

    // Shred: delete every chunk and every kfrag.
    let chunks = shred_interval(&shred.manifest, &storage).unwrap();
    assert_eq!(chunks, shred.manifest.chunk_count);
    for p in &world.proxies {
        p.revoke(&world.terms.id());
    }
    for uri in shred.manifest.chunk_uris() {
        assert!(!storage.path_of(&uri).exists());
        assert!(matches!(storage.get(&uri), Err(Error::ChunkMissing { .. })));
    }
    // Even a grantee who kept the data key cannot read it any more; nobody can get a key.
    let err = open_interval(&shred.manifest, &key, &storage, &schema).unwrap_err();
    assert!(matches!(err, Error::ChunkMissing { .. }), "{err}");
    for p in &world.proxies {
        assert!(p.reencrypt(&world.terms.id(), &shred.manifest, |_, _| true).is_err());
    }
    // The other interval is untouched (for the owner).
    let owner_key = world.owner.open_data_key(&keep.manifest).unwrap();
    assert_eq!(
        open_interval(&keep.manifest, &owner_key, &storage, &schema).unwrap(),
        records(0, 40)
    );
    assert_eq!(shred_interval(&shred.manifest, &storage).unwrap(), 0);
}

#[test]
fn locator_routes_datasets_to_their_backends() {
    let (dir_a, dir_b) = (temp_dir("route-a"), temp_dir("route-b"));
    let a = Arc::new(LocalStorage::new(dir_a.path()).unwrap());
    let b = Arc::new(LocalStorage::new(dir_b.path()).unwrap());
    let mut locator = Locator::new().with_default(a.clone());
    let other = itc_primitives::Hash([1; 32]);
    locator.route(other, b.clone());
    let uri_default = itc_vault::ChunkUri { dataset: DATASET, interval: 0, chunk: 0 };
    let uri_other = itc_vault::ChunkUri { dataset: other, interval: 0, chunk: 0 };
    locator.put(&uri_default, b"to a").unwrap();
    locator.put(&uri_other, b"to b").unwrap();
    assert_eq!(a.get(&uri_default).unwrap(), b"to a");
    assert_eq!(b.get(&uri_other).unwrap(), b"to b");
    assert!(b.get(&uri_default).is_err());
    assert_eq!(locator.get_str(&uri_other.to_string()).unwrap(), b"to b");
    assert!(matches!(Locator::new().get(&uri_default), Err(Error::NoBackend { .. })));
}

#[test]
fn same_seed_seals_the_same_bytes() {
    let owner = itc_vault::OwnerKeys::from_seed([9; 32]);
    let a = seal(&owner, 0, 30, 42);
    let b = seal(&owner, 0, 30, 42);
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(a.chunks, b.chunks);
    let c = seal(&owner, 0, 30, 43);
    assert_ne!(a.manifest.chunks_root, c.manifest.chunks_root);
}
