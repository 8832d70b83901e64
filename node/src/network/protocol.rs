//! The request-response protocol: SCALE-encoded [`Request`] and [`Response`] enums, and the
//! length-limited codec that carries them.
//!
//! One request per stream: the requester writes `SCALE(Request)` and closes its write half; the
//! responder writes `SCALE(Response)` and closes. No length prefix is needed, and reading stops
//! at the configured limit, so an oversized or endless message costs at most `limit + 1` bytes
//! before the stream is dropped. Decoding goes through `decode_untrusted` (no trailing bytes,
//! depth-limited).
//!
//! Test vectors: `Request::Chunk(0xab…ab)` is `02` followed by the 32 hash bytes;
//! `Request::Milestones { from: 5, count: 2 }` is `01 14 08`; `Response::Chunk(None)` is `02 00`;
//! `Request::Tips` is `03`; `Response::Tips([0xcd…cd])` is `04 04` followed by the 32 hash bytes.
use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use itc_primitives::{
    decode_untrusted, BoundedVec, FinalityCertificate, Hash, MilestoneHeader, MilestoneNumber,
    Vertex,
};
use libp2p::StreamProtocol;
use parity_scale_codec::{Decode, Encode};

/// Most vertices one request may ask for (and one response may carry).
pub const MAX_VERTICES_PER_REQUEST: usize = 256;
/// Most milestones one response may carry.
pub const MAX_MILESTONES_PER_REQUEST: usize = 64;

/// What a peer can ask for.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Request {
    /// Vertices by hash (missing parents, orphan resolution).
    #[codec(index = 0)]
    Vertices(BoundedVec<Hash, MAX_VERTICES_PER_REQUEST>),
    /// Finalised milestones with certificates, `from` onwards (state transfer, catch-up).
    #[codec(index = 1)]
    Milestones {
        /// The first milestone number wanted.
        #[codec(compact)]
        from: MilestoneNumber,
        /// How many (the responder sends at most [`MAX_MILESTONES_PER_REQUEST`]).
        #[codec(compact)]
        count: u32,
    },
    /// A data chunk by its hash (the data plane's content address).
    #[codec(index = 2)]
    Chunk(Hash),
    /// The responder's unconfirmed DAG tips: anti-entropy for a node that missed gossip (a
    /// partition, a restart), which then fetches what it does not know.
    #[codec(index = 3)]
    Tips,
}

/// What a peer answers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Response {
    /// The requested vertices the responder has, in request order, missing ones skipped.
    #[codec(index = 0)]
    Vertices(BoundedVec<Vertex, MAX_VERTICES_PER_REQUEST>),
    /// Consecutive finalised milestones from the requested number; empty if it has none.
    #[codec(index = 1)]
    Milestones(BoundedVec<(MilestoneHeader, FinalityCertificate), MAX_MILESTONES_PER_REQUEST>),
    /// The chunk's bytes, or `None` if the responder does not hold it.
    #[codec(index = 2)]
    Chunk(Option<Vec<u8>>),
    /// The responder will not answer (overloaded, request out of range); the text says why.
    #[codec(index = 3)]
    Refused(String),
    /// Unconfirmed tips, in hash order (the first [`MAX_VERTICES_PER_REQUEST`]).
    #[codec(index = 4)]
    Tips(BoundedVec<Hash, MAX_VERTICES_PER_REQUEST>),
}

/// The request-response codec: SCALE with size limits.
#[derive(Clone, Debug)]
pub struct ScaleCodec {
    /// Largest request accepted or sent, in bytes.
    pub max_request_bytes: usize,
    /// Largest response accepted or sent, in bytes.
    pub max_response_bytes: usize,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

async fn read_limited<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
    what: &str,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    (&mut *io).take(limit as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > limit {
        return Err(invalid(format!("{what} exceeds the {limit}-byte limit")));
    }
    Ok(buf)
}

fn decode<T: Decode>(bytes: &[u8], what: &str) -> io::Result<T> {
    decode_untrusted(bytes).map_err(|e| invalid(format!("malformed {what}: {e}")))
}

async fn write_limited<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
    limit: usize,
    what: &str,
) -> io::Result<()> {
    if bytes.len() > limit {
        return Err(invalid(format!(
            "{what} of {} bytes exceeds the {limit}-byte limit; ask for fewer items",
            bytes.len()
        )));
    }
    io.write_all(&bytes).await?;
    io.close().await
}

// libp2p-request-response 0.29 (libp2p 0.56) declares `Codec` with `async_trait`.
#[async_trait::async_trait]
impl libp2p::request_response::Codec for ScaleCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, self.max_request_bytes, "request").await?;
        decode(&bytes, "request")
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, self.max_response_bytes, "response").await?;
        decode(&bytes, "response")
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_limited(io, req.encode(), self.max_request_bytes, "request").await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_limited(io, res.encode(), self.max_response_bytes, "response").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;

    fn codec() -> ScaleCodec {
        ScaleCodec { max_request_bytes: 64, max_response_bytes: 64 }
    }

    fn proto() -> StreamProtocol {
        StreamProtocol::new("/test/1")
    }

    #[test]
    fn wire_test_vectors() {
        let mut chunk = vec![0x02];
        chunk.extend([0xab; 32]);
        assert_eq!(Request::Chunk(Hash([0xab; 32])).encode(), chunk);
        assert_eq!(Request::Milestones { from: 5, count: 2 }.encode(), vec![0x01, 0x14, 0x08]);
        assert_eq!(Request::Tips.encode(), vec![0x03]);
        let tips = Response::Tips(BoundedVec::new(vec![Hash([0xcd; 32])]).unwrap());
        assert_eq!(tips.encode(), [&[0x04, 0x04][..], &[0xcd; 32]].concat());
        assert_eq!(Response::Chunk(None).encode(), vec![0x02, 0x00]);
    }

    #[tokio::test]
    async fn codec_round_trips_and_enforces_limits() {
        let req = Request::Milestones { from: 9, count: 3 };
        let mut wire = futures::io::Cursor::new(Vec::new());
        codec().write_request(&proto(), &mut wire, req.clone()).await.unwrap();
        let mut read = futures::io::Cursor::new(wire.into_inner());
        assert_eq!(codec().read_request(&proto(), &mut read).await.unwrap(), req);

        // Too long to write, and too long to read.
        let big = Response::Chunk(Some(vec![0; 100]));
        let mut sink = futures::io::Cursor::new(Vec::new());
        let err = codec().write_response(&proto(), &mut sink, big.clone()).await.unwrap_err();
        assert!(err.to_string().contains("64-byte limit"), "{err}");
        let mut src = futures::io::Cursor::new(big.encode());
        let err = codec().read_response(&proto(), &mut src).await.unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");

        // Garbage and trailing bytes are errors, not panics.
        for bytes in [vec![0x09], vec![0x02, 0x00, 0x00], vec![0x00, 0xff, 0xff, 0xff, 0xff]] {
            let mut src = futures::io::Cursor::new(bytes);
            assert!(codec().read_response(&proto(), &mut src).await.is_err());
        }
        // More vertex hashes than the bound: rejected before reading them.
        let mut too_many = vec![0x00];
        too_many.extend(parity_scale_codec::Compact(MAX_VERTICES_PER_REQUEST as u32 + 1).encode());
        let mut src = futures::io::Cursor::new(too_many);
        assert!(codec().read_request(&proto(), &mut src).await.is_err());
    }
}
