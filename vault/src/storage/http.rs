//! A storage backend over HTTP(S): `PUT`, `GET` and `DELETE` on `<base>/<dataset hex>/<interval>/<chunk>`.
//!
//! Any server that stores request bodies by path works (an S3-style bucket behind a gateway,
//! nginx with WebDAV, a CDN origin). `https://` bases use rustls with the Mozilla root store.
//! A `404` on `GET` is [`Error::ChunkMissing`]; a `404` on `DELETE` reports "was not there".
use std::time::Duration;

use super::{ChunkUri, Storage};
use crate::{manifest::MAX_CHUNK_SIZE, Error, Result};

/// The largest response body read (a chunk envelope of the largest chunk size, plus slack).
const MAX_BODY: u64 = MAX_CHUNK_SIZE as u64 + 64 * 1024;

/// Chunks on an HTTP(S) server.
#[derive(Debug, Clone)]
pub struct HttpStorage {
    base: String,
    agent: ureq::Agent,
}

impl HttpStorage {
    /// A backend storing under `base` (e.g. `https://chunks.example.org/otp`), with a 60 s
    /// timeout per request.
    pub fn new(base: &str) -> Result<Self> {
        Self::with_timeout(base, Duration::from_secs(60))
    }

    /// As [`HttpStorage::new`], with a custom per-request timeout.
    pub fn with_timeout(base: &str, timeout: Duration) -> Result<Self> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Storage {
                uri: base.to_owned(),
                reason: "the base URL must start with http:// or https://".into(),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(HttpStorage { base: base.trim_end_matches('/').to_owned(), agent })
    }

    /// The URL of `uri`.
    pub fn url_of(&self, uri: &ChunkUri) -> String {
        format!("{}/{}", self.base, uri.path())
    }
}

fn net_err(uri: &ChunkUri, e: impl std::fmt::Display) -> Error {
    Error::Storage { uri: uri.to_string(), reason: e.to_string() }
}

fn status_err(uri: &ChunkUri, method: &str, status: u16) -> Error {
    Error::Storage { uri: uri.to_string(), reason: format!("{method} answered HTTP {status}") }
}

impl Storage for HttpStorage {
    fn put(&self, uri: &ChunkUri, bytes: &[u8]) -> Result<()> {
        let resp = self.agent.put(&self.url_of(uri)).send(bytes).map_err(|e| net_err(uri, e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            s => Err(status_err(uri, "PUT", s)),
        }
    }

    fn get(&self, uri: &ChunkUri) -> Result<Vec<u8>> {
        let mut resp = self.agent.get(&self.url_of(uri)).call().map_err(|e| net_err(uri, e))?;
        match resp.status().as_u16() {
            200 => resp
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(|e| net_err(uri, e)),
            404 | 410 => Err(Error::ChunkMissing { uri: uri.to_string() }),
            s => Err(status_err(uri, "GET", s)),
        }
    }

    fn delete(&self, uri: &ChunkUri) -> Result<bool> {
        let resp = self.agent.delete(&self.url_of(uri)).call().map_err(|e| net_err(uri, e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 | 410 => Ok(false),
            s => Err(status_err(uri, "DELETE", s)),
        }
    }
}
