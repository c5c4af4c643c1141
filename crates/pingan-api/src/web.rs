//! Serves the embedded web front end: its files by path, and `index.html`
//! for every other path outside the API, since the app routes in the browser.
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The built front end: (path under `web/dist`, contents).
pub type Assets = &'static [(&'static str, &'static [u8])];

/// Shown when the binary was built without the front end.
const NOT_BUILT: &str = "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>平安 Pingan</title>\
<p>前端尚未构建：请在 web/ 目录运行 <code>npm ci &amp;&amp; npm run build</code> 后重新编译。</p>\
<p>The web front end is not built: run <code>npm ci &amp;&amp; npm run build</code> in web/ and build again. \
The API is at <a href=\"/api/docs\">/api/docs</a>.</p></html>";

/// The policy for the app's pages: everything from this server only (the
/// deployments are air-gapped); Element Plus sets inline styles.
const CSP: &str =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

pub fn serve(assets: Assets, uri: &Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let found = assets.iter().find(|(name, _)| *name == path);
    let (name, bytes) = match found {
        Some((name, bytes)) if !path.is_empty() => (*name, *bytes),
        // An app route (or the root): the app itself.
        _ => match assets.iter().find(|(name, _)| *name == "index.html") {
            Some((name, bytes)) => (*name, *bytes),
            None => {
                return page(
                    StatusCode::OK,
                    NOT_BUILT.as_bytes(),
                    "text/html; charset=utf-8",
                    false,
                )
            }
        },
    };
    // A missing file of a kind we serve is a missing file, not an app route;
    // other dots belong to routes (a rental's public token is `id.signature`).
    if found.is_none()
        && path.rsplit('/').next().is_some_and(|last| {
            last.contains('.') && content_type(last) != "application/octet-stream"
        })
    {
        return page(
            StatusCode::NOT_FOUND,
            b"not found",
            "text/plain; charset=utf-8",
            false,
        );
    }
    // Vite names built assets by their content hash: they never change.
    let immutable = name.starts_with("assets/");
    page(StatusCode::OK, bytes, content_type(name), immutable)
}

fn page(status: StatusCode, bytes: &'static [u8], kind: &'static str, immutable: bool) -> Response {
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if kind.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ASSETS: Assets = &[
        ("index.html", b"<!doctype html><title>app</title>"),
        ("assets/index-3f2a.js", b"console.log(1)"),
    ];

    fn get(assets: Assets, path: &str) -> Response {
        serve(assets, &path.parse::<Uri>().unwrap())
    }

    #[test]
    fn files_by_path_and_the_app_for_its_routes() {
        let js = get(ASSETS, "/assets/index-3f2a.js");
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(js.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        for route in ["/", "/matters/42", "/login", "/rental/1.X68vbWrtUvCWoSDE"] {
            let page = get(ASSETS, route);
            assert_eq!(page.status(), StatusCode::OK, "{route}");
            assert_eq!(
                page.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
            assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
        assert_eq!(
            get(ASSETS, "/assets/gone-1234.js").status(),
            StatusCode::NOT_FOUND
        );
        // Built without the front end: a page that says how to build it.
        let bare = get(&[], "/");
        assert_eq!(bare.status(), StatusCode::OK);
    }
}
