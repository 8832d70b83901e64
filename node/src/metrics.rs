//! Prometheus metrics and the `/metrics` endpoint.
//!
//! The driver updates a shared [`Metrics`]; [`serve`] exposes it in the OpenMetrics text format.
//! Series (all prefixed `itc_`):
//!
//! | series | type | meaning |
//! |---|---|---|
//! | `itc_finalized_height` | gauge | number of the latest finalised milestone |
//! | `itc_transactions_finalized_total` | counter | transactions finalised; `rate()` of it is tx/s |
//! | `itc_finality_latency_seconds` | histogram | from a transaction's arrival to its milestone's finality |
//! | `itc_peers` | gauge | connected peers |
//! | `itc_view_changes_total` | counter | PBFT view changes completed |
//! | `itc_censorship_suspicions_total` | counter | times this validator suspected a primary of leaving out a vertex (and moved to the next view) |
//! | `itc_vertex_fetches_total` | counter | requests for missing vertices sent to peers |
//! | `itc_vertices_requested_total` | counter | vertices those requests named |
//! | `itc_vertex_fetches_unanswered_total` | counter | vertex requests that failed or came back empty |
//! | `itc_catch_up_requests_total` | counter | requests for certified milestones (state transfer) |
//! | `itc_late_votes_dropped_total` | counter | consensus votes dropped unchecked: they agreed with a quorum this node already held, and every peer had them from their sender |
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// The node's metrics. Share it as `Arc<Metrics>`; every update is a lock-free atomic.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    finalized_height: Gauge,
    transactions_finalized: Counter,
    finality_latency: Histogram,
    peers: Gauge,
    view_changes: Counter,
    censorship_suspicions: Counter,
    late_votes_dropped: Counter,
    vertex_fetches: Counter,
    vertices_requested: Counter,
    vertex_fetches_unanswered: Counter,
    catch_up_requests: Counter,
}

/// The recovery counters of a [`Metrics`] at one moment: how often a node had to ask peers for
/// what gossip did not bring it, and how often its committee changed view. `itc bench` prints
/// their sums next to its latency figures, so that a slow run shows whether it was slow waiting
/// on one of these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// View changes completed.
    pub view_changes: u64,
    /// Requests for missing vertices sent.
    pub vertex_fetches: u64,
    /// Vertices those requests named.
    pub vertices_requested: u64,
    /// Vertex requests that failed or came back empty.
    pub vertex_fetches_unanswered: u64,
    /// Requests for certified milestones sent.
    pub catch_up_requests: u64,
}

impl Recovery {
    /// What was counted after `earlier` (a reading of the same counters).
    pub fn since(self, earlier: Recovery) -> Recovery {
        Recovery {
            view_changes: self.view_changes.saturating_sub(earlier.view_changes),
            vertex_fetches: self.vertex_fetches.saturating_sub(earlier.vertex_fetches),
            vertices_requested: self.vertices_requested.saturating_sub(earlier.vertices_requested),
            vertex_fetches_unanswered: self
                .vertex_fetches_unanswered
                .saturating_sub(earlier.vertex_fetches_unanswered),
            catch_up_requests: self.catch_up_requests.saturating_sub(earlier.catch_up_requests),
        }
    }
}

impl std::ops::Add for Recovery {
    type Output = Recovery;

    fn add(self, o: Recovery) -> Recovery {
        Recovery {
            view_changes: self.view_changes.saturating_add(o.view_changes),
            vertex_fetches: self.vertex_fetches.saturating_add(o.vertex_fetches),
            vertices_requested: self.vertices_requested.saturating_add(o.vertices_requested),
            vertex_fetches_unanswered: self
                .vertex_fetches_unanswered
                .saturating_add(o.vertex_fetches_unanswered),
            catch_up_requests: self.catch_up_requests.saturating_add(o.catch_up_requests),
        }
    }
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} view changes, {} vertex fetches ({} vertices, {} unanswered), {} catch-up requests",
            self.view_changes,
            self.vertex_fetches,
            self.vertices_requested,
            self.vertex_fetches_unanswered,
            self.catch_up_requests
        )
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every series at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("itc");
        let finalized_height = Gauge::default();
        let transactions_finalized = Counter::default();
        // 0.5 ms .. ~8 s in 15 doubling buckets: covers the 10 ms p50 and 50 ms p99 goals.
        let finality_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 15));
        let peers = Gauge::default();
        let view_changes = Counter::default();
        let censorship_suspicions = Counter::default();
        let late_votes_dropped = Counter::default();
        let (vertex_fetches, vertices_requested) = (Counter::default(), Counter::default());
        let (vertex_fetches_unanswered, catch_up_requests) =
            (Counter::default(), Counter::default());
        registry.register(
            "finalized_height",
            "Number of the latest finalised milestone",
            finalized_height.clone(),
        );
        registry.register(
            "transactions_finalized",
            "Transactions finalised (rate() gives tx/s)",
            transactions_finalized.clone(),
        );
        registry.register(
            "finality_latency_seconds",
            "Time from a transaction's arrival to the finality of its milestone",
            finality_latency.clone(),
        );
        registry.register("peers", "Connected peers", peers.clone());
        registry.register("view_changes", "PBFT view changes completed", view_changes.clone());
        registry.register(
            "censorship_suspicions",
            "Times this validator suspected the primary of leaving out a vertex",
            censorship_suspicions.clone(),
        );
        registry.register(
            "late_votes_dropped",
            "Consensus votes dropped unchecked because they agreed with a quorum already held",
            late_votes_dropped.clone(),
        );
        registry.register(
            "vertex_fetches",
            "Requests for missing vertices sent to peers",
            vertex_fetches.clone(),
        );
        registry.register(
            "vertices_requested",
            "Vertices named by requests for missing vertices",
            vertices_requested.clone(),
        );
        registry.register(
            "vertex_fetches_unanswered",
            "Requests for missing vertices that failed or came back empty",
            vertex_fetches_unanswered.clone(),
        );
        registry.register(
            "catch_up_requests",
            "Requests for certified milestones sent to peers (state transfer)",
            catch_up_requests.clone(),
        );
        Metrics {
            registry,
            finalized_height,
            transactions_finalized,
            finality_latency,
            peers,
            view_changes,
            censorship_suspicions,
            late_votes_dropped,
            vertex_fetches,
            vertices_requested,
            vertex_fetches_unanswered,
            catch_up_requests,
        }
    }

    /// Records a finalised milestone: its number and how many transactions it finalised.
    pub fn on_finalized(&self, number: u64, transactions: u64) {
        self.finalized_height.set(i64::try_from(number).unwrap_or(i64::MAX));
        self.transactions_finalized.inc_by(transactions);
    }

    /// Records one transaction's finality latency.
    pub fn observe_finality_latency(&self, latency: Duration) {
        self.finality_latency.observe(latency.as_secs_f64());
    }

    /// Sets the number of connected peers.
    pub fn set_peers(&self, peers: usize) {
        self.peers.set(i64::try_from(peers).unwrap_or(i64::MAX));
    }

    /// Records a completed view change.
    pub fn on_view_change(&self) {
        self.view_changes.inc();
    }

    /// Records a suspicion of censorship (see `itc_chain::Output::SuspectedCensorship`).
    pub fn on_censorship_suspected(&self) {
        self.censorship_suspicions.inc();
    }

    /// Records a late consensus vote dropped without checking its signature.
    pub fn on_late_vote_dropped(&self) {
        self.late_votes_dropped.inc();
    }

    /// Records a request for `vertices` missing vertices.
    pub fn on_vertex_fetch(&self, vertices: usize) {
        self.vertex_fetches.inc();
        self.vertices_requested.inc_by(u64::try_from(vertices).unwrap_or(u64::MAX));
    }

    /// Records a vertex request that failed or came back empty.
    pub fn on_vertex_fetch_unanswered(&self) {
        self.vertex_fetches_unanswered.inc();
    }

    /// Records a request for certified milestones.
    pub fn on_catch_up_request(&self) {
        self.catch_up_requests.inc();
    }

    /// The recovery counters now.
    pub fn recovery(&self) -> Recovery {
        Recovery {
            view_changes: self.view_changes.get(),
            vertex_fetches: self.vertex_fetches.get(),
            vertices_requested: self.vertices_requested.get(),
            vertex_fetches_unanswered: self.vertex_fetches_unanswered.get(),
            catch_up_requests: self.catch_up_requests.get(),
        }
    }

    /// The OpenMetrics text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error here would be a bug in the encoder.
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

async fn metrics_handler(metrics: Arc<Metrics>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        metrics.render(),
    )
}

/// Serves `GET /metrics` on `addr` until the returned task is aborted. Returns the bound address
/// (useful with port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Server {
        service: "metrics",
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let local = listener.local_addr().map_err(|e| Error::Server {
        service: "metrics",
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let app = Router::new().route("/metrics", get(move || metrics_handler(metrics.clone())));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(target: "itc_node::metrics", "metrics server stopped: {e}");
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http_get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).await.unwrap();
        body
    }

    #[tokio::test]
    async fn scrape_shows_updated_series() {
        let metrics = Arc::new(Metrics::new());
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).await.unwrap();
        metrics.on_finalized(7, 120);
        metrics.on_finalized(8, 30);
        metrics.observe_finality_latency(Duration::from_millis(3));
        metrics.observe_finality_latency(Duration::from_millis(40));
        metrics.set_peers(3);
        metrics.on_view_change();
        metrics.on_censorship_suspected();
        metrics.on_late_vote_dropped();
        metrics.on_late_vote_dropped();
        metrics.on_vertex_fetch(3);
        metrics.on_vertex_fetch(2);
        metrics.on_vertex_fetch_unanswered();
        metrics.on_catch_up_request();
        let recovery = metrics.recovery();
        assert_eq!(
            recovery,
            Recovery {
                view_changes: 1,
                vertex_fetches: 2,
                vertices_requested: 5,
                vertex_fetches_unanswered: 1,
                catch_up_requests: 1
            }
        );
        assert_eq!((recovery + recovery).since(recovery), recovery);
        assert_eq!(
            (recovery + recovery).to_string(),
            "2 view changes, 4 vertex fetches (10 vertices, 2 unanswered), 2 catch-up requests"
        );
        let body = tokio::time::timeout(Duration::from_secs(10), http_get(addr, "/metrics"))
            .await
            .unwrap();
        assert!(body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("itc_finalized_height 8\n"), "{body}");
        assert!(body.contains("itc_transactions_finalized_total 150\n"), "{body}");
        assert!(body.contains("itc_peers 3\n"), "{body}");
        assert!(body.contains("itc_view_changes_total 1\n"), "{body}");
        assert!(body.contains("itc_censorship_suspicions_total 1\n"), "{body}");
        assert!(body.contains("itc_late_votes_dropped_total 2\n"), "{body}");
        assert!(body.contains("itc_vertex_fetches_total 2\n"), "{body}");
        assert!(body.contains("itc_vertices_requested_total 5\n"), "{body}");
        assert!(body.contains("itc_vertex_fetches_unanswered_total 1\n"), "{body}");
        assert!(body.contains("itc_catch_up_requests_total 1\n"), "{body}");
        assert!(body.contains("itc_finality_latency_seconds_count 2\n"), "{body}");
        // 3 ms falls in the 4 ms bucket, 40 ms does not.
        assert!(body.contains("itc_finality_latency_seconds_bucket{le=\"0.004\"} 1\n"), "{body}");
        let missing = http_get(addr, "/nope").await;
        assert!(missing.contains(" 404 "), "{missing}");
        task.abort();
    }
}
