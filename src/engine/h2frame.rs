//! HTTP/2 frames (RFC 9113 §4, §6) for the engine's own per-VU connections (`h2vu`): the
//! 9-byte frame header, the client preface, and the few frames a client writes. Pure functions
//! over byte slices, so every rule is unit-tested without a socket.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// END_STREAM on DATA and HEADERS; ACK on SETTINGS and PING (the same bit).
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

/// Error codes (§7) this client looks at.
pub const REFUSED_STREAM: u32 = 0x7;

/// The largest frame payload we accept: SETTINGS_MAX_FRAME_SIZE's initial value, which we keep.
pub const MAX_FRAME: usize = 16_384;
/// The stream and connection windows we give the server: the largest allowed (§6.9.1), so a
/// response is never throttled; replenished once half of it is used.
pub const WINDOW: u32 = (1 << 31) - 1;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    /// The header at the start of `b` (at least 9 bytes); the reserved bit is ignored (§4.1).
    pub fn parse(b: &[u8]) -> Option<Head> {
        let h: &[u8; 9] = b.get(..9)?.try_into().ok()?;
        Some(Head {
            len: (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }
}

/// Append a frame header.
pub fn head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// The preface, our SETTINGS (no server push, the largest stream window) and a WINDOW_UPDATE
/// that opens the connection window as wide: written with the first request, in one write.
pub fn client_preface(out: &mut Vec<u8>) {
    out.extend_from_slice(PREFACE);
    head(out, 12, SETTINGS, 0, 0);
    setting(out, SETTINGS_ENABLE_PUSH, 0);
    setting(out, SETTINGS_INITIAL_WINDOW_SIZE, WINDOW);
    window_update(out, 0, WINDOW - 65_535);
}

fn setting(out: &mut Vec<u8>, id: u16, value: u32) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&value.to_be_bytes());
}

pub fn window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

pub fn settings_ack(out: &mut Vec<u8>) {
    head(out, 0, SETTINGS, ACK, 0);
}

pub fn ping_ack(out: &mut Vec<u8>, payload: &[u8]) {
    head(out, 8, PING, ACK, 0);
    out.extend_from_slice(payload);
}

/// A header block as HEADERS and, past `max_frame`, CONTINUATION frames.
pub fn headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: usize) {
    let mut chunks = block.chunks(max_frame.max(1));
    let first = chunks.next().unwrap_or(&[]);
    let more = block.len() > first.len();
    let mut flags = if end_stream { END_STREAM } else { 0 };
    if !more {
        flags |= END_HEADERS;
    }
    head(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    let mut rest = chunks.peekable();
    while let Some(chunk) = rest.next() {
        let flags = if rest.peek().is_none() {
            END_HEADERS
        } else {
            0
        };
        head(out, chunk.len(), CONTINUATION, flags, stream);
        out.extend_from_slice(chunk);
    }
}

pub fn data(out: &mut Vec<u8>, stream: u32, bytes: &[u8], end_stream: bool) {
    head(
        out,
        bytes.len(),
        DATA,
        if end_stream { END_STREAM } else { 0 },
        stream,
    );
    out.extend_from_slice(bytes);
}

/// A frame type RFC 9113 defines (others are ignored, §4.1).
pub fn is_known(kind: u8) -> bool {
    kind <= CONTINUATION
}

/// A frame breaks the protocol: the connection ends (§5.4.1). The text is the reason recorded.
pub type Violation = &'static str;

/// The payload without its padding (§6.1, §6.2): the pad length byte and the padding go.
pub fn unpad(flags: u8, payload: &[u8]) -> Result<&[u8], Violation> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload
        .split_first()
        .ok_or("padded frame without pad length")?;
    let pad = usize::from(pad);
    if pad > rest.len() {
        return Err("padding longer than the frame");
    }
    Ok(&rest[..rest.len() - pad])
}

/// A HEADERS payload's header block fragment: padding and priority fields removed.
pub fn header_fragment(flags: u8, payload: &[u8]) -> Result<&[u8], Violation> {
    let b = unpad(flags, payload)?;
    if flags & PRIORITY_FLAG == 0 {
        return Ok(b);
    }
    b.get(5..).ok_or("HEADERS priority fields cut short")
}

/// What a server's SETTINGS frame changes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub max_frame: Option<u32>,
    pub initial_window: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub header_table: Option<u32>,
}

/// A SETTINGS payload (§6.5.2): unknown settings are ignored, invalid values end the connection.
pub fn parse_settings(payload: &[u8]) -> Result<Settings, Violation> {
    if !payload.len().is_multiple_of(6) {
        return Err("SETTINGS length not a multiple of 6");
    }
    let mut s = Settings::default();
    for p in payload.chunks_exact(6) {
        let id = u16::from_be_bytes([p[0], p[1]]);
        let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
        match id {
            SETTINGS_HEADER_TABLE_SIZE => s.header_table = Some(value),
            SETTINGS_ENABLE_PUSH if value > 1 => return Err("SETTINGS_ENABLE_PUSH not 0 or 1"),
            SETTINGS_MAX_CONCURRENT_STREAMS => s.max_concurrent = Some(value),
            SETTINGS_INITIAL_WINDOW_SIZE if value > WINDOW => {
                return Err("SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
            }
            SETTINGS_INITIAL_WINDOW_SIZE => s.initial_window = Some(value),
            SETTINGS_MAX_FRAME_SIZE if !(16_384..=16_777_215).contains(&value) => {
                return Err("SETTINGS_MAX_FRAME_SIZE out of range");
            }
            SETTINGS_MAX_FRAME_SIZE => s.max_frame = Some(value),
            _ => {}
        }
    }
    Ok(s)
}

/// A 4-byte big-endian number (a stream id, an error code, a window increment) at `at`.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips() {
        let mut b = Vec::new();
        head(
            &mut b,
            0x01_02_03,
            HEADERS,
            END_HEADERS | END_STREAM,
            0x7fff_ffff,
        );
        assert_eq!(b.len(), 9);
        let h = Head::parse(&b).unwrap();
        assert_eq!(
            (h.len, h.kind, h.flags, h.stream),
            (0x01_02_03, 1, 5, 0x7fff_ffff)
        );
        // The reserved bit is ignored.
        b[5] |= 0x80;
        assert_eq!(Head::parse(&b).unwrap().stream, 0x7fff_ffff);
        assert_eq!(Head::parse(&b[..8]), None);
    }

    #[test]
    fn the_preface_opens_both_windows_and_refuses_push() {
        let mut b = Vec::new();
        client_preface(&mut b);
        assert!(b.starts_with(PREFACE));
        let rest = &b[PREFACE.len()..];
        let s = Head::parse(rest).unwrap();
        assert_eq!((s.kind, s.len, s.stream), (SETTINGS, 12, 0));
        let settings = parse_settings(&rest[9..21]).unwrap();
        assert_eq!(settings.initial_window, Some(WINDOW));
        let w = Head::parse(&rest[21..]).unwrap();
        assert_eq!((w.kind, w.len), (WINDOW_UPDATE, 4));
        assert_eq!(u32_at(rest, 30), Some(WINDOW - 65_535));
        assert_eq!(rest.len(), 34);
    }

    #[test]
    fn a_long_header_block_continues() {
        let block: Vec<u8> = (0..40u8).collect();
        let mut b = Vec::new();
        headers(&mut b, 3, &block, true, 16);
        let h1 = Head::parse(&b).unwrap();
        assert_eq!((h1.kind, h1.len, h1.flags), (HEADERS, 16, END_STREAM));
        let h2 = Head::parse(&b[25..]).unwrap();
        assert_eq!((h2.kind, h2.len, h2.flags), (CONTINUATION, 16, 0));
        let h3 = Head::parse(&b[50..]).unwrap();
        assert_eq!((h3.kind, h3.len, h3.flags), (CONTINUATION, 8, END_HEADERS));
        assert_eq!(b.len(), 3 * 9 + 40);
        let mut short = Vec::new();
        headers(&mut short, 1, &block[..3], false, 16);
        assert_eq!(Head::parse(&short).unwrap().flags, END_HEADERS);
    }

    #[test]
    fn padding_and_priority_are_removed_and_checked() {
        assert_eq!(unpad(PADDED, &[2, b'a', b'b', 0, 0]), Ok(&b"ab"[..]));
        assert_eq!(unpad(0, b"ab"), Ok(&b"ab"[..]));
        assert!(unpad(PADDED, &[]).is_err());
        assert!(unpad(PADDED, &[3, 0, 0]).is_err());
        let p = [1, 0, 0, 0, 0, 9, 0x88, 0];
        assert_eq!(header_fragment(PADDED | PRIORITY_FLAG, &p), Ok(&[0x88][..]));
        assert!(header_fragment(PRIORITY_FLAG, &[0, 0]).is_err());
    }

    #[test]
    fn settings_are_read_and_bad_values_refused() {
        let mut p = Vec::new();
        setting(&mut p, SETTINGS_MAX_FRAME_SIZE, 16_777_215);
        setting(&mut p, SETTINGS_MAX_CONCURRENT_STREAMS, 128);
        setting(&mut p, 0x99, 7);
        let s = parse_settings(&p).unwrap();
        assert_eq!(s.max_frame, Some(16_777_215));
        assert_eq!(s.max_concurrent, Some(128));
        assert!(parse_settings(&p[..5]).is_err());
        for (id, v) in [
            (SETTINGS_MAX_FRAME_SIZE, 100),
            (SETTINGS_MAX_FRAME_SIZE, 1 << 24),
            (SETTINGS_INITIAL_WINDOW_SIZE, 1 << 31),
            (SETTINGS_ENABLE_PUSH, 2),
        ] {
            let mut p = Vec::new();
            setting(&mut p, id, v);
            assert!(parse_settings(&p).is_err(), "{id} = {v}");
        }
    }
}
