//! Page tokens of the list RPCs: an offset bound to the query it came from, so a token
//! from another query (another brand, filter or size) is refused, not misread; the
//! list RPCs' time-range filter.

use chrono::{DateTime, Utc};
use pp_db::PageRequest;
use pp_types::Violations;

/// The page token: an offset bound to the query it came from (FNV-1a of the query).
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

pub fn page_token(offset: usize, fingerprint: u64) -> String {
    format!("{offset}.{fingerprint:016x}")
}

pub fn parse_page_token(token: &str, fingerprint: u64) -> Option<usize> {
    if token.is_empty() {
        return Some(0);
    }
    let (offset, bound) = token.split_once('.')?;
    (u64::from_str_radix(bound, 16).ok()? == fingerprint).then_some(())?;
    offset.parse().ok()
}

/// A keyset page whose token is bound to the query it came from: the cursor, a dot,
/// and the query's fingerprint. A token of another query is a field violation.
pub fn bound_page(
    violations: &mut Violations,
    page_size: i32,
    token: &str,
    query: u64,
) -> Option<PageRequest> {
    let cursor = if token.is_empty() {
        ""
    } else {
        match token.rsplit_once('.') {
            Some((cursor, bound)) if u64::from_str_radix(bound, 16).ok() == Some(query) => cursor,
            _ => {
                violations.add("page_token", "is not a token of this query");
                return None;
            }
        }
    };
    violations.take(PageRequest::parse(page_size, cursor))
}

/// The next page token bound to `query` ("" on the last page).
pub fn bound_token(token: String, query: u64) -> String {
    if token.is_empty() {
        token
    } else {
        format!("{token}.{query:016x}")
    }
}

/// The optional `[start, end)` of a time range; an end before its start is a violation.
pub fn trigger_span(
    violations: &mut Violations,
    range: Option<&pp_proto::common::TimeRange>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(range) = range else {
        return (None, None);
    };
    let start = range
        .start_time
        .as_ref()
        .and_then(|t| violations.time("time_range.start_time", t));
    let end = range
        .end_time
        .as_ref()
        .and_then(|t| violations.time("time_range.end_time", t));
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        violations.add("time_range.end_time", "must not be before start_time");
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_belong_to_their_query() {
        let a = fingerprint(&["brand", "30", "28", "all", ""]);
        let b = fingerprint(&["brand", "31", "28", "all", ""]);
        assert_ne!(a, b);
        let token = page_token(100, a);
        assert_eq!(parse_page_token(&token, a), Some(100));
        assert_eq!(parse_page_token(&token, b), None);
        assert_eq!(parse_page_token("garbage", a), None);
        assert_eq!(parse_page_token("", a), Some(0));
    }
}
