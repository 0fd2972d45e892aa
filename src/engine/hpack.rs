//! HPACK (RFC 7541) for stampede's own HTTP/2 client (issue 22).
//!
//! The decoder reads response header blocks without allocating in the common case: the dynamic
//! table keeps its entries' bytes in one buffer allocated once (twice the table size, compacted
//! when its tail is reached), fields are handed to a callback as slices, and the values of
//! literals that are not indexed stay Huffman-coded until the caller asks for them
//! ([`Value::decode_into`]): most response headers are never looked at. Hostile input gives an
//! [`HpackError`] (an HTTP/2 COMPRESSION_ERROR), never a panic or an allocation larger than a
//! small multiple of the block.
//!
//! The encoder writes request headers with no dynamic table and no Huffman coding: an indexed
//! field when the static table has the exact field, else a literal without indexing.

use super::hpack_huffman as huffman;
use std::collections::VecDeque;

/// Why a header block could not be decoded. Any of them is a connection error of type
/// COMPRESSION_ERROR (RFC 7540 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HpackError {
    #[error("HPACK: header block ends inside a field")]
    Truncated,
    #[error("HPACK: integer larger than 2^32")]
    IntegerOverflow,
    #[error("HPACK: index {0} is in neither the static nor the dynamic table")]
    InvalidIndex(usize),
    #[error("HPACK: Huffman-coded string contains EOS")]
    HuffmanEos,
    #[error("HPACK: Huffman-coded string has padding longer than 7 bits or not all ones")]
    HuffmanPadding,
    #[error("HPACK: dynamic table size update to {size} exceeds the advertised {max}")]
    TableSizeTooLarge { size: usize, max: usize },
    #[error("HPACK: dynamic table size update after the first field of a header block")]
    TableSizeUpdateNotAtStart,
}

/// Why [`Decoder::decode`] stopped: the block is invalid, or the callback said stop.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError<E> {
    #[error(transparent)]
    Hpack(#[from] HpackError),
    #[error("{0}")]
    Field(E),
}

/// One decoded header field, borrowed from the block or from the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, decoded (Huffman literals are decoded into a buffer the decoder reuses).
    pub name: &'a [u8],
    pub value: Value<'a>,
}

/// A field's value, decoded only when asked: literals that are not indexed are handed out as
/// they came, possibly still Huffman-coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// The value's bytes.
    Plain(&'a [u8]),
    /// The value's Huffman code (RFC 7541 Appendix B), not yet checked.
    Huffman(&'a [u8]),
}

impl Value<'_> {
    /// Appends the value's bytes to `out`, decoding Huffman if needed.
    pub fn decode_into(&self, out: &mut Vec<u8>) -> Result<(), HpackError> {
        match *self {
            Value::Plain(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
            Value::Huffman(code) => huffman::decode(code, out),
        }
    }

    /// Whether the value is still Huffman-coded.
    #[cfg(test)]
    pub fn is_huffman(&self) -> bool {
        matches!(self, Value::Huffman(_))
    }

    /// The bytes when they need no decoding.
    #[cfg(test)]
    pub fn as_plain(&self) -> Option<&[u8]> {
        match *self {
            Value::Plain(bytes) => Some(bytes),
            Value::Huffman(_) => None,
        }
    }
}

/// The static table (RFC 7541 Appendix A); index `i` is `STATIC_TABLE[i - 1]`.
pub(crate) const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Per-entry overhead in the table size (§4.1).
const ENTRY_OVERHEAD: usize = 32;

/// Where a dynamic table entry's name and value are in [`DynamicTable::data`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    off: usize,
    name_len: usize,
    value_len: usize,
}

/// The dynamic table (§2.3.2, §4): entries newest first, their bytes in one buffer.
#[derive(Debug)]
struct DynamicTable {
    /// SETTINGS_HEADER_TABLE_SIZE we advertised: the largest size an update may set.
    max_size: usize,
    /// The table's current maximum size (§4.2), set by size updates.
    capacity: usize,
    /// Sum of the entries' sizes (§4.1).
    size: usize,
    /// Newest first: dynamic index 62 is `entries[0]`.
    entries: VecDeque<Entry>,
    /// The entries' bytes (name then value), oldest lowest; allocated once with room for twice
    /// `max_size`, compacted when an entry would not fit at the end.
    data: Vec<u8>,
}

impl DynamicTable {
    fn new(max_size: usize) -> Self {
        DynamicTable {
            max_size,
            capacity: max_size,
            size: 0,
            entries: VecDeque::with_capacity(max_size / ENTRY_OVERHEAD),
            data: Vec::with_capacity(max_size.saturating_mul(2)),
        }
    }

    /// The entry at 0-based position `i` (newest first).
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let e = self.entries.get(i)?;
        let name = self.data.get(e.off..e.off + e.name_len)?;
        let value_off = e.off + e.name_len;
        let value = self.data.get(value_off..value_off + e.value_len)?;
        Some((name, value))
    }

    /// Evicts the oldest entries until the size is at most `limit` (§4.4).
    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some(e) = self.entries.pop_back() else {
                break;
            };
            self.size -= e.name_len + e.value_len + ENTRY_OVERHEAD;
        }
        if self.entries.is_empty() {
            self.size = 0;
            self.data.clear();
        }
    }

    /// A dynamic table size update (§6.3).
    fn set_capacity(&mut self, size: usize) -> Result<(), HpackError> {
        if size > self.max_size {
            return Err(HpackError::TableSizeTooLarge {
                size,
                max: self.max_size,
            });
        }
        self.capacity = size;
        self.evict_to(size);
        Ok(())
    }

    /// Adds an entry (§4.4): evicts what it must first; an entry larger than the table empties
    /// the table and is not added.
    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.capacity - size);
        let len = name.len() + value.len();
        if self.data.len() + len > self.data.capacity() {
            // Live bytes are at most `capacity - size` now: move them to the front.
            let head = self.entries.back().map_or(self.data.len(), |e| e.off);
            self.data.drain(..head);
            for e in &mut self.entries {
                e.off -= head;
            }
        }
        let off = self.data.len();
        self.data.extend_from_slice(name);
        self.data.extend_from_slice(value);
        self.entries.push_front(Entry {
            off,
            name_len: name.len(),
            value_len: value.len(),
        });
        self.size += size;
    }
}

/// Reads a header block front to back.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, HpackError> {
        let b = *self.buf.get(self.pos).ok_or(HpackError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// An integer with an `n`-bit prefix (§5.1), 1 <= n <= 8; larger than 2^32 is an error.
    fn int(&mut self, n: u8) -> Result<usize, HpackError> {
        let max_prefix = (1u64 << n) - 1;
        let mut value = u64::from(self.byte()?) & max_prefix;
        if value < max_prefix {
            return Ok(value as usize);
        }
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            value += u64::from(b & 0x7f) << shift;
            if value > u64::from(u32::MAX) {
                return Err(HpackError::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                return Ok(value as usize);
            }
            shift += 7;
            if shift > 28 {
                return Err(HpackError::IntegerOverflow);
            }
        }
    }

    /// A string literal (§5.2): whether it is Huffman-coded, and its bytes as they are.
    fn string(&mut self) -> Result<(bool, &'a [u8]), HpackError> {
        let huffman = self.buf.get(self.pos).is_some_and(|b| b & 0x80 != 0);
        let len = self.int(7)?;
        let end = self.pos.checked_add(len).ok_or(HpackError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(HpackError::Truncated)?;
        self.pos = end;
        Ok((huffman, bytes))
    }
}

/// Decodes `code` (Huffman) into `buf`, replacing what was there, and returns it.
fn huffman_into<'b>(code: &[u8], buf: &'b mut Vec<u8>) -> Result<&'b [u8], HpackError> {
    buf.clear();
    huffman::decode(code, buf)?;
    Ok(buf)
}

/// The HPACK decoder of one HTTP/2 connection (its dynamic table lives as long as the connection).
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Huffman-decoded (or copied) literal names.
    name_buf: Vec<u8>,
    /// Huffman-decoded values of fields with incremental indexing.
    value_buf: Vec<u8>,
}

impl Decoder {
    /// `max_size`: our SETTINGS_HEADER_TABLE_SIZE (we advertise the default 4096).
    pub fn new(max_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_size),
            name_buf: Vec::with_capacity(64),
            value_buf: Vec::with_capacity(256),
        }
    }

    /// The dynamic table's size (§4.1) and current maximum size (§4.2).
    #[cfg(test)]
    pub fn table_size(&self) -> (usize, usize) {
        (self.table.size, self.table.capacity)
    }

    /// Name and value at `index` (§2.3.3): 1..=61 static, then dynamic, newest first.
    fn lookup(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match index {
            0 => Err(HpackError::InvalidIndex(0)),
            1..=61 => Ok(STATIC_TABLE[index - 1]),
            _ => self
                .table
                .get(index - 62)
                .ok_or(HpackError::InvalidIndex(index)),
        }
    }

    /// Decodes one complete header block (HEADERS + CONTINUATION payloads joined, padding and
    /// priority removed), calling `field` for each header field in order. Stops at the first
    /// error, the callback's included. After an [`HpackError`] the connection must be closed
    /// (the dynamic table may be out of step with the peer's).
    pub fn decode<E>(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(Field<'_>) -> Result<(), E>,
    ) -> Result<(), DecodeError<E>> {
        let mut r = Reader { buf: block, pos: 0 };
        let mut at_start = true;
        while let Some(&first) = block.get(r.pos) {
            if first & 0x80 != 0 {
                // §6.1 indexed header field.
                let (name, value) = self.lookup(r.int(7)?)?;
                let value = Value::Plain(value);
                field(Field { name, value }).map_err(DecodeError::Field)?;
            } else if first & 0x40 != 0 {
                self.literal_indexed(&mut r, &mut field)?;
            } else if first & 0x20 != 0 {
                // §6.3 dynamic table size update: only before the first field (§4.2).
                if !at_start {
                    return Err(HpackError::TableSizeUpdateNotAtStart.into());
                }
                let size = r.int(5)?;
                self.table.set_capacity(size)?;
                continue;
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001): the same to us.
                let index = r.int(4)?;
                let name = if index == 0 {
                    match r.string()? {
                        (true, code) => huffman_into(code, &mut self.name_buf)?,
                        (false, bytes) => bytes,
                    }
                } else {
                    self.lookup(index)?.0
                };
                let value = match r.string()? {
                    (true, code) => Value::Huffman(code),
                    (false, bytes) => Value::Plain(bytes),
                };
                field(Field { name, value }).map_err(DecodeError::Field)?;
            }
            at_start = false;
        }
        Ok(())
    }

    /// §6.2.1 literal header field with incremental indexing: decoded now, added to the table.
    fn literal_indexed<E>(
        &mut self,
        r: &mut Reader<'_>,
        field: &mut impl FnMut(Field<'_>) -> Result<(), E>,
    ) -> Result<(), DecodeError<E>> {
        let index = r.int(6)?;
        let name: &[u8] = match index {
            0 => match r.string()? {
                (true, code) => huffman_into(code, &mut self.name_buf)?,
                (false, bytes) => bytes,
            },
            1..=61 => STATIC_TABLE[index - 1].0,
            _ => {
                // Copied: the insertion may evict the entry it names (§4.4).
                let (name, _) = self
                    .table
                    .get(index - 62)
                    .ok_or(HpackError::InvalidIndex(index))?;
                self.name_buf.clear();
                self.name_buf.extend_from_slice(name);
                &self.name_buf
            }
        };
        let value: &[u8] = match r.string()? {
            (true, code) => huffman_into(code, &mut self.value_buf)?,
            (false, bytes) => bytes,
        };
        self.table.insert(name, value);
        let value = Value::Plain(value);
        field(Field { name, value }).map_err(DecodeError::Field)
    }
}

/// Appends `value` as an integer with an `n`-bit prefix (§5.1), the first byte's high bits
/// being `flags`.
fn encode_int(out: &mut Vec<u8>, flags: u8, n: u8, value: usize) {
    let max_prefix = (1usize << n) - 1;
    if value < max_prefix {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a raw (H=0) string literal (§5.2).
fn encode_raw_string(out: &mut Vec<u8>, s: &[u8]) {
    encode_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Appends one header field: an indexed field (§6.1) when the static table has this exact name
/// and value (":method GET", ":scheme https", ":path /" ...), else a literal without indexing
/// (§6.2.2) with the static table's name index when the name is there, the value as a raw
/// string (H=0). `name` must be lowercase (RFC 7540 §8.1.2).
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let mut name_index = 0;
    for (i, &(n, v)) in STATIC_TABLE.iter().enumerate() {
        if n == name {
            if v == value {
                encode_int(out, 0x80, 7, i + 1);
                return;
            }
            if name_index == 0 {
                name_index = i + 1;
            }
        }
    }
    if name_index == 0 {
        out.push(0);
        encode_raw_string(out, name);
    } else {
        encode_int(out, 0, 4, name_index);
    }
    encode_raw_string(out, value);
}

#[cfg(test)]
#[path = "hpack_tests.rs"]
mod tests;
