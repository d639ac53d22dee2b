//! `page`/`per_page` query parameters and GitHub's `Link` header, for every paged listing: the
//! organization's requests and grants, the user's own tokens, the audit log.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ApiError, ApiResult};

/// GitHub's default page size.
pub const DEFAULT_PER_PAGE: u32 = 30;
/// GitHub's largest page size.
pub const MAX_PER_PAGE: u32 = 100;

/// The query string as its pairs, in order (repeated keys such as `owner[]` kept).
pub fn pairs(raw: &Option<String>) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::bad_request("Invalid query string"))
}

/// `page` (from 1) and `per_page` (1 to 100, default 30); a bad value is a 422 naming the
/// field, for `resource`.
pub fn page_params(
    pairs: &[(String, String)],
    resource: &str,
    docs: Option<&'static str>,
) -> ApiResult<(u32, u32)> {
    let invalid = |field: &str, message: &str| {
        let mut e = ApiError::invalid(resource, field, message);
        if docs.is_some() {
            e.documentation_url = docs;
        }
        e
    };
    let mut page = 1;
    let mut per_page = DEFAULT_PER_PAGE;
    for (k, v) in pairs {
        match k.as_str() {
            "page" => {
                page = v
                    .parse::<u32>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| invalid("page", "page must be a positive integer"))?
            }
            "per_page" => {
                per_page = v
                    .parse::<u32>()
                    .ok()
                    .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                    .ok_or_else(|| invalid("per_page", "per_page must be between 1 and 100"))?
            }
            _ => {}
        }
    }
    Ok((page, per_page))
}

/// GitHub's `Link` header: prev/next/last/first, other parameters kept (`page` in its place, or
/// appended); omitted on one page. As on GitHub, the first page has no prev/first and the last
/// page no next/last.
pub fn link_header(
    base_url: &str,
    path: &str,
    pairs: &[(String, String)],
    page: u32,
    last: u32,
) -> Option<HeaderValue> {
    if last <= 1 {
        return None;
    }
    let url = |p: u32| {
        let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len() + 1);
        let mut placed = false;
        for (k, v) in pairs {
            if k != "page" {
                kept.push((k.clone(), v.clone()));
            } else if !placed {
                kept.push(("page".into(), p.to_string()));
                placed = true;
            }
        }
        if !placed {
            kept.push(("page".into(), p.to_string()));
        }
        let qs = serde_urlencoded::to_string(&kept).unwrap_or_default();
        format!("<{base_url}{path}?{qs}>")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    HeaderValue::from_str(&links.join(", ")).ok()
}

/// The last page of `total` items, `per_page` each (1 when there are none).
pub fn last_page(total: usize, per_page: u32) -> u32 {
    let per = per_page.max(1) as usize;
    u32::try_from(total.div_ceil(per).max(1)).unwrap_or(u32::MAX)
}

/// `body` as JSON with the `Link` header of page `page` of `last`.
pub fn paged(
    base_url: &str,
    path: &str,
    pairs: &[(String, String)],
    page: u32,
    last: u32,
    body: Vec<Value>,
) -> Response {
    let mut r = Json(body).into_response();
    if let Some(link) = link_header(base_url, path, pairs, page, last) {
        r.headers_mut().insert(header::LINK, link);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(page: u32, last: u32, query: &[(&str, &str)]) -> Option<String> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        link_header("http://h", "/p", &pairs, page, last)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn links_name_the_neighbouring_pages_as_github_does() {
        assert_eq!(link(1, 1, &[]), None);
        assert_eq!(
            link(1, 3, &[("per_page", "2")]).as_deref(),
            Some(
                "<http://h/p?per_page=2&page=2>; rel=\"next\", \
                 <http://h/p?per_page=2&page=3>; rel=\"last\""
            )
        );
        assert_eq!(
            link(3, 3, &[("page", "3"), ("per_page", "2")]).as_deref(),
            Some(
                "<http://h/p?page=2&per_page=2>; rel=\"prev\", \
                 <http://h/p?page=1&per_page=2>; rel=\"first\""
            )
        );
        assert_eq!(last_page(0, 30), 1);
        assert_eq!(last_page(61, 30), 3);
    }
}
