//! The web console's static files (`console/` at the repository root, embedded at build time),
//! served from the API's own origin so that the console calls the API with relative URLs and
//! no CORS. Every answer carries the security headers below, errors included.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::response::failure;

/// Scripts, styles, images and API calls from this origin only; no inline script or style,
/// no plugins, no `<base>`, no form navigation (every form is handled by the script, so a
/// form submitted before it loads goes nowhere instead of putting a password in a URL), and
/// never inside a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

struct Asset {
    content_type: &'static str,
    body: &'static str,
}

/// The file a request path names, by its last segment, so the same binary answers under
/// API Gateway's stage prefix (`/prod/console.js`) and at the root locally (`/console.js`).
fn asset(path: &str) -> Option<Asset> {
    let name = path.rsplit('/').next().unwrap_or_default();
    let (content_type, body) = match name {
        "" | "index.html" => (
            "text/html; charset=utf-8",
            include_str!("../../../console/index.html"),
        ),
        "console.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../console/console.js"),
        ),
        "console.css" => (
            "text/css; charset=utf-8",
            include_str!("../../../console/console.css"),
        ),
        "favicon.svg" => (
            "image/svg+xml",
            include_str!("../../../console/favicon.svg"),
        ),
        _ => return None,
    };
    Some(Asset { content_type, body })
}

pub fn handle(req: &Request) -> Response<Body> {
    let found = match *req.method() {
        Method::GET | Method::HEAD => asset(req.uri().path()),
        _ => None,
    };
    let mut response = match found {
        Some(asset) => {
            let body = if req.method() == Method::HEAD {
                Body::Empty
            } else {
                Body::Text(asset.body.to_owned())
            };
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::OK;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            );
            response
        }
        None => failure(&ApiError::NotFound),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // For browsers that predate frame-ancestors.
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        // Revalidate on every load: a deploy must never leave an old script under new HTML.
        ("cache-control", "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Response<Body> {
        handle(
            &lambda_http::http::Request::builder()
                .method("GET")
                .uri(path)
                .body(Body::Empty)
                .unwrap(),
        )
    }

    fn text(response: &Response<Body>) -> &str {
        std::str::from_utf8(response.body().as_ref()).unwrap()
    }

    #[test]
    fn the_root_serves_the_console_page_with_its_security_headers() {
        let response = get("/");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert!(text(&response).contains("<script type=\"module\" src=\"console.js\">"));
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("script-src 'self';"));
        assert!(!csp.contains("unsafe"));
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    }

    #[test]
    fn files_are_found_under_the_stage_prefix_too() {
        let response = get("/prod/console.js");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(get("/prod/").status(), 200);
        assert_eq!(get("/console.css").status(), 200);
    }

    #[test]
    fn an_unknown_file_is_the_json_404_with_the_same_headers() {
        for path in [
            "/secret.txt",
            "/Cargo.toml",
            "/console.js.map",
            "/node_modules",
        ] {
            let response = get(path);
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(response.headers()["content-type"], "application/json");
            assert!(text(&response).contains("\"not_found\""));
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        }
    }

    #[test]
    fn the_page_loads_nothing_inline_and_nothing_from_elsewhere() {
        let page = text(&get("/")).to_owned();
        assert!(!page.contains("<script>"), "inline script");
        assert!(!page.contains("style="), "inline style");
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
