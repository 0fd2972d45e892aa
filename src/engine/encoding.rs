//! Response bodies sent compressed (`http.compression`): the body a check or an extraction
//! reads is decoded by its `Content-Encoding` (gzip, deflate, br). Only kept bodies are
//! decoded; `data_received` counts the bytes as they came (compressed).

use std::borrow::Cow;
use std::io::Read;

/// Decoded bodies larger than this are cut (a check on a decompression bomb stays bounded).
const MAX_DECODED: u64 = 64 * 1024 * 1024;

/// `body` decoded by `content_encoding` (as is when there is none, it is unknown, or it does
/// not decode).
pub fn decode<'a>(content_encoding: Option<&[u8]>, body: &'a [u8]) -> Cow<'a, [u8]> {
    let Some(enc) = content_encoding.map(|e| e.trim_ascii().to_ascii_lowercase()) else {
        return Cow::Borrowed(body);
    };
    let mut out = Vec::new();
    let ok = match enc.as_slice() {
        b"gzip" | b"x-gzip" => flate2::read::MultiGzDecoder::new(body)
            .take(MAX_DECODED)
            .read_to_end(&mut out)
            .is_ok(),
        // HTTP's "deflate" is zlib-wrapped; some servers send raw deflate.
        b"deflate" => {
            flate2::read::ZlibDecoder::new(body)
                .take(MAX_DECODED)
                .read_to_end(&mut out)
                .is_ok()
                || {
                    out.clear();
                    flate2::read::DeflateDecoder::new(body)
                        .take(MAX_DECODED)
                        .read_to_end(&mut out)
                        .is_ok()
                }
        }
        b"br" => brotli_decompressor::Decompressor::new(body, 4096)
            .take(MAX_DECODED)
            .read_to_end(&mut out)
            .is_ok(),
        _ => false,
    };
    if ok {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_gzip_deflate_and_brotli() {
        let text = br#"{"id":42}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(&*decode(Some(b"gzip"), &gz), text);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text).unwrap();
        assert_eq!(&*decode(Some(b" Deflate "), &z.finish().unwrap()), text);
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(text).unwrap();
        assert_eq!(&*decode(Some(b"deflate"), &raw.finish().unwrap()), text);
        // "XXXXXXXXXXYYYYYYYYYY" in brotli (brotli's own test vector).
        let br = [
            0x1b, 0x13, 0x00, 0x00, 0xa4, 0xb0, 0xb2, 0xea, 0x81, 0x47, 0x02, 0x8a,
        ];
        assert_eq!(&*decode(Some(b"br"), &br), b"XXXXXXXXXXYYYYYYYYYY");
        assert_eq!(&*decode(None, text), text);
        assert_eq!(&*decode(Some(b"zstd"), text), text);
        assert_eq!(&*decode(Some(b"gzip"), b"not gzip"), b"not gzip");
    }
}
