//! PostgreSQL's binary `COPY … FROM STDIN (FORMAT binary)` encoding, for the types the
//! commerce tables use: the `sync_upsert` row's baseline writes with it.
//!
//! Format (PostgreSQL docs, "COPY", *Binary Format*): the 11-byte signature
//! `PGCOPY\n\xff\r\n\0`, an i32 flags field (0: no OIDs), an i32 header-extension
//! length (0); per tuple an i16 field count, then per field an i32 byte length and the
//! value in the type's binary send format (-1 for NULL, no bytes); a trailer of i16 -1.
//! All integers are big-endian.

use chrono::{DateTime, Utc};
use uuid::Uuid;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A value in its binary send format.
pub trait CopyField {
    fn write(&self, out: &mut Vec<u8>);
}

/// One COPY stream's bytes: header, tuples, and (on [`BinaryCopy::finish`]) the trailer.
#[derive(Debug)]
pub struct BinaryCopy {
    buf: Vec<u8>,
}

impl Default for BinaryCopy {
    fn default() -> Self {
        Self::new()
    }
}

// === impl BinaryCopy ===

impl BinaryCopy {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf }
    }

    /// Appends one tuple, its fields in the COPY statement's column order.
    pub fn row(&mut self, fields: &[&dyn CopyField]) {
        let count = i16::try_from(fields.len()).expect("a tuple has at most 1600 columns");
        self.buf.extend_from_slice(&count.to_be_bytes());
        for field in fields {
            field.write(&mut self.buf);
        }
    }

    /// Bytes encoded since the last [`BinaryCopy::take_chunk`].
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The bytes encoded so far, to send as one chunk; the stream continues after them.
    pub fn take_chunk(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The last chunk, with the trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

fn with_length(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = i32::try_from(bytes.len()).expect("a field is under 1 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

impl CopyField for Uuid {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(out, self.as_bytes());
    }
}

impl CopyField for str {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(out, self.as_bytes());
    }
}

impl CopyField for String {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_str().write(out);
    }
}

impl CopyField for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(out, &self.to_be_bytes());
    }
}

impl CopyField for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(out, &self.to_be_bytes());
    }
}

impl CopyField for bool {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(out, &[u8::from(*self)]);
    }
}

/// `timestamptz`: i64 microseconds since 2000-01-01 00:00:00 UTC.
impl CopyField for DateTime<Utc> {
    fn write(&self, out: &mut Vec<u8>) {
        with_length(
            out,
            &(self.timestamp_micros() - POSTGRES_EPOCH_MICROS).to_be_bytes(),
        );
    }
}

impl<T: CopyField> CopyField for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write(out),
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn header_tuple_and_trailer_are_laid_out_as_documented() {
        let mut copy = BinaryCopy::new();
        copy.row(&[&7i64, &None::<String>, &true]);
        let bytes = copy.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 3]); // three fields
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // NULL
        expected.extend_from_slice(&[0, 0, 0, 1, 1]);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn timestamps_count_from_the_postgres_epoch() {
        let mut out = Vec::new();
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 1)
            .single()
            .expect("a valid instant")
            .write(&mut out);
        assert_eq!(out, [0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]);
        let mut out = Vec::new();
        Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59)
            .single()
            .expect("a valid instant")
            .write(&mut out);
        assert_eq!(&out[4..], &(-1_000_000i64).to_be_bytes());
    }

    #[test]
    fn text_and_uuid_are_their_bytes_with_a_length() {
        let mut out = Vec::new();
        "é".write(&mut out);
        assert_eq!(out, [0, 0, 0, 2, 0xc3, 0xa9]);
        let mut out = Vec::new();
        Uuid::nil().write(&mut out);
        assert_eq!(out.len(), 4 + 16);
        assert_eq!(&out[..4], &[0, 0, 0, 16]);
        let mut out = Vec::new();
        7i32.write(&mut out);
        assert_eq!(out, [0, 0, 0, 4, 0, 0, 0, 7]);
    }

    #[test]
    fn chunks_taken_midway_concatenate_to_the_whole_stream() {
        let mut whole = BinaryCopy::new();
        let mut chunked = BinaryCopy::new();
        let mut sent = Vec::new();
        for i in 0..3i64 {
            whole.row(&[&i]);
            chunked.row(&[&i]);
            sent.extend(chunked.take_chunk());
        }
        sent.extend(chunked.finish());
        assert_eq!(sent, whole.finish());
    }
}
