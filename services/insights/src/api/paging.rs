//! Page tokens of the list RPCs: an offset bound to the query it came from, so a token
//! from another query (another brand, filter or size) is refused, not misread.

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
