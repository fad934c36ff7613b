//! AIP-158 pagination: `page_size` + opaque `page_token`, keyset cursors underneath.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use pp_error::ApiError;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 100;

/// Where a page starts: after the row with this (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "v1|{}|{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    fn decode(token: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('|');
        if parts.next()? != "v1" {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id = Uuid::parse_str(parts.next()?).ok()?;
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Rows to return; one more is fetched to know whether a next page exists.
    pub size: i64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, ApiError> {
        let size = match i64::from(page_size) {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(ApiError::invalid("page_size", "must not be negative")),
            n if n > MAX_PAGE_SIZE => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n,
        };
        let after =
            if page_token.is_empty() {
                None
            } else {
                Some(Cursor::decode(page_token).ok_or_else(|| {
                    ApiError::invalid("page_token", "is not a token this API issued")
                })?)
            };
        Ok(PageRequest { size, after })
    }

    /// The `limit` to query with (one extra row).
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }

    /// Trims the extra row and returns the next page token ("" when done).
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, String) {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            let token = rows
                .last()
                .map(|row| cursor_of(row).encode())
                .unwrap_or_default();
            (rows, token)
        } else {
            (rows, String::new())
        }
    }

    /// The cursor's fields for a `(created_at, id) > ($1, $2)` query; the epoch and the
    /// nil UUID when on the first page.
    pub fn after_parts(&self) -> (DateTime<Utc>, Uuid) {
        self.after
            .map_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()), |c| {
                (c.created_at, c.id)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tokens() {
        assert_eq!(
            PageRequest::parse(0, "").expect("ok").size,
            DEFAULT_PAGE_SIZE
        );
        let status = tonic::Status::from(PageRequest::parse(1000, "").expect_err("too big"));
        assert_eq!(pp_error::field_violations(&status), vec!["page_size"]);
        let status = tonic::Status::from(PageRequest::parse(10, "garbage!").expect_err("bad"));
        assert_eq!(pp_error::field_violations(&status), vec!["page_token"]);
        let cursor = Cursor {
            created_at: Utc::now(),
            id: Uuid::new_v4(),
        };
        let page = PageRequest::parse(10, &cursor.encode()).expect("ok");
        assert_eq!(page.after.map(|c| c.id), Some(cursor.id));
    }
}
