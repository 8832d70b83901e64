//! The HTTP backend against a tiny in-process HTTP/1.1 server on 127.0.0.1.
mod common;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

use common::*;
use itc_vault::{open_interval, ChunkUri, Error, HttpStorage, Locator, Storage};

type Store = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Serves PUT/GET/DELETE of bodies by path, one request per connection, for as long as the
/// test process lives. Returns the base URL and the store.
fn serve() -> (String, Store) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/otp", listener.local_addr().unwrap());
    let store: Store = Arc::default();
    let s = store.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let s = s.clone();
            thread::spawn(move || handle(conn, &s));
        }
    });
    (base, store)
}

fn handle(conn: TcpStream, store: &Store) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) =
            (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = {
            let mut map = store.lock().unwrap();
            match method.as_str() {
                "PUT" => {
                    map.insert(path, body);
                    ("201 Created", Vec::new())
                }
                "GET" => match map.get(&path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", Vec::new()),
                },
                "DELETE" => match map.remove(&path) {
                    Some(_) => ("204 No Content", Vec::new()),
                    None => ("404 Not Found", Vec::new()),
                },
                _ => ("405 Method Not Allowed", Vec::new()),
            }
        };
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n", reply.len());
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(&reply)).is_err() {
            return;
        }
    }
}

#[test]
fn http_backend_puts_gets_and_deletes_chunks() {
    let (base, store) = serve();
    let http = HttpStorage::new(&base).unwrap();
    let uri = ChunkUri { dataset: DATASET, interval: 4, chunk: 2 };
    assert_eq!(http.url_of(&uri), format!("{base}/{}/4/2", "5a".repeat(32)));
    assert!(matches!(http.get(&uri), Err(Error::ChunkMissing { .. })));
    http.put(&uri, b"chunk bytes").unwrap();
    assert_eq!(store.lock().unwrap().get(&format!("/otp/{}", uri.path())).unwrap(), b"chunk bytes");
    assert_eq!(http.get(&uri).unwrap(), b"chunk bytes");
    assert!(http.delete(&uri).unwrap());
    assert!(!http.delete(&uri).unwrap());
    assert!(matches!(http.get(&uri), Err(Error::ChunkMissing { .. })));
}

#[test]
fn interval_round_trips_through_http_via_the_locator() {
    let (base, store) = serve();
    let world = World::new(30, 0, 0);
    let locator = Locator::new().with_default(Arc::new(HttpStorage::new(&base).unwrap()));
    let sealed = seal(&world.owner, 0, 80, 31);
    sealed.upload(&locator).unwrap();
    assert_eq!(store.lock().unwrap().len(), sealed.manifest.chunk_count as usize);
    let key = world
        .grantee
        .open_data_key(&world.terms, &sealed.manifest, &world.cfrags(&sealed.manifest, &[2, 0]))
        .unwrap();
    assert_eq!(open_interval(&sealed.manifest, &key, &locator, &schema()).unwrap(), records(0, 80));
    // The server alters a chunk: the download fails its integrity check.
    let path = format!("/otp/{}", sealed.manifest.chunk_uri(0).path());
    store.lock().unwrap().get_mut(&path).unwrap()[50] ^= 4;
    let err = open_interval(&sealed.manifest, &key, &locator, &schema()).unwrap_err();
    assert!(matches!(err, Error::ChunkIntegrity { chunk: 0, .. }), "{err}");
}

#[test]
fn unreachable_server_and_bad_base_are_clear_errors() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let http = HttpStorage::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let uri = ChunkUri { dataset: DATASET, interval: 0, chunk: 0 };
    assert!(matches!(http.get(&uri), Err(Error::Storage { .. })));
    assert!(HttpStorage::new("ftp://example.invalid").is_err());
}
