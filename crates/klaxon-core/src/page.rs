//! Classic PagerDuty offset pagination: `limit` (default 25, at most 100), `offset`, and `total`
//! (computed only when asked for). `offset + limit` may not exceed 10,000.

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u32,
    pub want_total: bool,
}

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;
pub const MAX_WINDOW: u64 = 10_000;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    Limit,
    #[error("offset must be a whole number of zero or more")]
    Offset,
    #[error("offset + limit may not exceed {MAX_WINDOW}")]
    Window,
}

impl PageRequest {
    /// Parses raw query values. A limit above the maximum is clamped, as PagerDuty does; garbage is an error.
    pub fn parse(limit: Option<&str>, offset: Option<&str>, total: bool) -> Result<Self, PageError> {
        let limit = match limit {
            None | Some("") => DEFAULT_LIMIT,
            Some(raw) => {
                let value: u64 = raw.trim().parse().map_err(|_| PageError::Limit)?;
                if value == 0 {
                    return Err(PageError::Limit);
                }
                value.min(u64::from(MAX_LIMIT)) as u32
            }
        };
        let offset = match offset {
            None | Some("") => 0,
            Some(raw) => raw.trim().parse::<u32>().map_err(|_| PageError::Offset)?,
        };
        if u64::from(offset) + u64::from(limit) > MAX_WINDOW {
            return Err(PageError::Window);
        }
        Ok(Self { limit, offset, want_total: total })
    }

    /// How many rows to fetch: one more than the page, to learn whether there is a next page.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, offset: 0, want_total: false }
    }
}

/// Trims the over-fetched row and reports whether more rows follow.
pub fn split_page<T>(mut rows: Vec<T>, page: &PageRequest) -> (Vec<T>, bool) {
    let more = rows.len() > page.limit as usize;
    rows.truncate(page.limit as usize);
    (rows, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_25_from_zero() {
        assert_eq!(PageRequest::parse(None, None, false).unwrap(), PageRequest::default());
    }

    #[test]
    fn clamps_limit_to_100() {
        assert_eq!(PageRequest::parse(Some("500"), None, false).unwrap().limit, 100);
    }

    #[test]
    fn rejects_zero_or_garbage_limit() {
        assert_eq!(PageRequest::parse(Some("0"), None, false), Err(PageError::Limit));
        assert_eq!(PageRequest::parse(Some("ten"), None, false), Err(PageError::Limit));
        assert_eq!(PageRequest::parse(None, Some("-1"), false), Err(PageError::Offset));
    }

    #[test]
    fn rejects_windows_past_ten_thousand() {
        assert_eq!(PageRequest::parse(Some("100"), Some("9901"), false), Err(PageError::Window));
        assert!(PageRequest::parse(Some("100"), Some("9900"), false).is_ok());
    }

    #[test]
    fn split_page_reports_more_only_when_a_row_was_over_fetched() {
        let page = PageRequest::parse(Some("2"), None, false).unwrap();
        assert_eq!(split_page(vec![1, 2, 3], &page), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], &page), (vec![1, 2], false));
    }
}
