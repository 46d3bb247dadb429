//! How decision and audit-event documents are kept in the database: JSON compressed with LZ4
//! against a built-in dictionary.
//!
//! Every allowed AssumeRoleWithWebIdentity stores a decision (≈ 2.8 KB of JSON) and an audit
//! event (≈ 1.5 KB) in the commit its caller waits for; written as text they were most of the
//! bytes the writer thread put through the WAL and its checkpoints. The documents of one STS
//! differ mostly in ids, so LZ4 with a dictionary of typical documents (CircleCI claims, the
//! announcement's trust policy, CloudTrail-shaped events, ids zeroed) keeps about a fifth of
//! their bytes at a few microseconds per document (docs/benchmarks.md).
//!
//! A stored document is a BLOB: one format byte ([`FORMAT_LZ4_DICTIONARY_V1`]), the JSON's
//! length as a little-endian `u32`, then the LZ4 block (the raw block format, no frame)
//! compressed against [`DICTIONARY_V1`]. Documents stored as TEXT (databases written before
//! compression) are read as they are. The dictionary of a format byte never changes: a new
//! dictionary takes a new format byte, so every stored row stays readable.

use rusqlite::types::ValueRef;

use super::StoreError;

/// The format byte of a document compressed against [`DICTIONARY_V1`].
pub const FORMAT_LZ4_DICTIONARY_V1: u8 = 1;

/// Typical documents with their ids zeroed: a denied and an allowed AssumeRoleWithWebIdentity
/// event and decision and a GetCallerIdentity event. Never edit: stored rows depend on it.
pub const DICTIONARY_V1: &[u8] = include_bytes!("document_dictionary_v1.jsonl");

/// The largest document length a stored row may claim; anything longer is corrupt (a decision
/// holds at most a size-limited token and a size-limited policy).
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;

/// Bytes before the LZ4 block: the format byte and the length.
const HEADER_BYTES: usize = 5;

/// Compresses a JSON document for storage.
pub fn encode(document: &str) -> Vec<u8> {
    let input = document.as_bytes();
    let mut stored = vec![0; HEADER_BYTES + lz4_flex::block::get_maximum_output_size(input.len())];
    stored[0] = FORMAT_LZ4_DICTIONARY_V1;
    // Documents are far below 4 GiB (the request body and token limits bound them).
    let length = u32::try_from(input.len()).unwrap_or(u32::MAX);
    stored[1..HEADER_BYTES].copy_from_slice(&length.to_le_bytes());
    // The buffer has the maximum output size, so compression cannot run out of room.
    let written =
        lz4_flex::block::compress_into_with_dict(input, &mut stored[HEADER_BYTES..], DICTIONARY_V1)
            .unwrap_or(0);
    stored.truncate(HEADER_BYTES + written);
    stored
}

/// Reads a stored document back as JSON text: a compressed BLOB or (older rows) TEXT.
pub fn decode(value: ValueRef<'_>) -> Result<String, StoreError> {
    let bytes = match value {
        ValueRef::Text(text) => text.to_vec(),
        ValueRef::Blob(blob) => decompress(blob)?,
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => {
            return Err(corrupt("a stored document is neither text nor a blob"));
        }
    };
    String::from_utf8(bytes).map_err(|_| corrupt("a stored document is not UTF-8"))
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, StoreError> {
    let Some((&FORMAT_LZ4_DICTIONARY_V1, rest)) = blob.split_first() else {
        return Err(corrupt("a stored document has an unknown format"));
    };
    let (length, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("a stored document is truncated"))?;
    let length = usize::try_from(u32::from_le_bytes(*length)).unwrap_or(usize::MAX);
    if length > MAX_DOCUMENT_BYTES {
        return Err(corrupt("a stored document claims an impossible length"));
    }
    let mut output = vec![0; length];
    let written = lz4_flex::block::decompress_into_with_dict(block, &mut output, DICTIONARY_V1)
        .map_err(|error| corrupt(&format!("a stored document does not decompress: {error}")))?;
    if written != length {
        return Err(corrupt("a stored document is shorter than its length"));
    }
    Ok(output)
}

fn corrupt(message: &str) -> StoreError {
    StoreError::Corrupt(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(document: &str) -> String {
        decode(ValueRef::Blob(&encode(document))).unwrap()
    }

    #[test]
    fn documents_round_trip_and_shrink() {
        for line in std::str::from_utf8(DICTIONARY_V1).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
            assert_eq!(round_trip(line), line);
        }
        // A document like the dictionary's but with other ids and values.
        let document = std::str::from_utf8(DICTIONARY_V1)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .replace(
                "00000000-0000-0000-0000-000000000000",
                "6f1c2a9e-4b7d-4e0a-9c3f-2d8e5b1a7c40",
            )
            .replace("oidc.circleci.com", "127.0.0.1:43817");
        let stored = encode(&document);
        assert!(
            stored.len() * 3 < document.len(),
            "{} of {} bytes",
            stored.len(),
            document.len()
        );
        assert_eq!(round_trip(&document), document);
        for text in ["", "{}", "ünïcode ✓", &"x".repeat(100_000)] {
            assert_eq!(round_trip(text), text);
        }
    }

    #[test]
    fn text_rows_are_read_as_they_are() {
        assert_eq!(decode(ValueRef::Text(b"{\"a\":1}")).unwrap(), "{\"a\":1}");
        assert!(decode(ValueRef::Text(b"\xff")).is_err());
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let good = encode("{\"request_id\":\"r1\",\"allowed\":true}");
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![FORMAT_LZ4_DICTIONARY_V1],
            vec![FORMAT_LZ4_DICTIONARY_V1, 1, 0],
            vec![9, 0, 0, 0, 0],
            // Claims 4 GiB.
            vec![FORMAT_LZ4_DICTIONARY_V1, 0xff, 0xff, 0xff, 0xff, 0],
        ];
        // Claims one byte more or less than it holds.
        for delta in [1_i64, -1] {
            let mut wrong = good.clone();
            let length = u32::from_le_bytes(wrong[1..5].try_into().unwrap());
            let length = u32::try_from(i64::from(length) + delta).unwrap();
            wrong[1..5].copy_from_slice(&length.to_le_bytes());
            cases.push(wrong);
        }
        // Every truncation.
        cases.extend((0..good.len()).map(|end| good[..end].to_vec()));
        for case in &cases {
            assert!(decode(ValueRef::Blob(case)).is_err(), "{case:?}");
        }
        // Every single-byte change of the block.
        for index in HEADER_BYTES..good.len() {
            for value in [0, 0x0f, 0xf0, 0xff] {
                let mut changed = good.clone();
                changed[index] = value;
                cases.push(changed);
            }
        }
        for case in &cases {
            // Either an error or some text; never a panic or an oversized allocation.
            let _ = decode(ValueRef::Blob(case));
        }
        assert!(decode(ValueRef::Null).is_err());
        assert!(decode(ValueRef::Integer(1)).is_err());
    }
}
