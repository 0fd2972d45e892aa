//! Why a response could not be read (the `protocol (<reason>)` of an error count): found by the
//! engine's parsers, counted by the recorder, written to `summary.json`'s `protocol_errors`. It
//! lives here, below the engine, so the recorder need not import the engine.

/// Why a response could not be read as HTTP/1.1 (RFC 9112): shown as
/// `protocol (<reason>)` in the summary, the dashboard and `summary.json`'s `protocol_errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The status line or a header line is not valid HTTP/1.x (httparse's reason).
    #[error("malformed response head: {0}")]
    MalformedHead(&'static str),
    /// More header lines than `http.max_header_lines`.
    #[error("too many header lines: {lines} > {limit}")]
    TooManyHeaderLines { lines: u32, limit: u32 },
    /// A head (status line and headers) larger than the limit, in bytes.
    #[error("response head larger than {limit} bytes")]
    HeadTooLarge { limit: u32 },
    /// More interim (1xx) responses before the final one than the cap.
    #[error("more than {limit} interim (1xx) responses")]
    TooManyInterim { limit: u32 },
    /// A Content-Length that is not a plain decimal number (`+5`, `0x10`, `5 5`).
    #[error("invalid content-length")]
    BadContentLength,
    /// Several Content-Length values that differ.
    #[error("conflicting content-length")]
    ConflictingContentLength,
    /// A chunk-size line that is not `HEXDIG... [;ext] CRLF` (`1 0`, `-1`, empty).
    #[error("invalid chunk size line")]
    BadChunkSize,
    /// A chunk size beyond 2^64.
    #[error("chunk size overflows")]
    ChunkTooLarge,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    BadChunkEnd,
    /// A trailer line with a bare CR or LF.
    #[error("invalid trailer line")]
    BadTrailer,
    /// The connection closed after some bytes of the head, before its end.
    #[error("connection closed inside the response head")]
    ClosedInHead,
    /// Bytes after a complete response that no request asked for.
    #[error("bytes after the response")]
    UnsolicitedBytes,
    /// An HTTP/2 stream the server refused or broke.
    #[error("HTTP/2 stream error")]
    Http2,
    /// A frame or header block that breaks HTTP/2 (RFC 9113, RFC 7541): the reason.
    #[error("HTTP/2: {0}")]
    H2(&'static str),
    /// A protocol failure recorded without a reason (never expected).
    #[error("unknown")]
    Unknown,
}
