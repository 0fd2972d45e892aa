//! A histogram as it travels: HdrHistogram V2 deflate, base64 (the encoding of summary.json's
//! `histograms`, a part's per-second blobs and the `--processes` live lines).

use hdrhistogram::Histogram;

/// V2 deflate, base64 (standard alphabet); `None` if the serializer refuses the histogram.
pub fn encode(h: &Histogram<u64>) -> Option<String> {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}
