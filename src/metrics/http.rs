//! The HTTP listener: `/metrics` (Prometheus text format), `/livez` (alias `/healthz`) and
//! `/readyz` (`?verbose` lists each check). hyper on a current-thread tokio runtime of its own
//! thread, so serving a scrape never competes with the processing threads for a lock.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http listen address {addr:?}: {why}")]
    Address { addr: String, why: String },
    #[error("http listen address {addr}: {}", bind_failure(source))]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Why an address could not be bound, and what to do, in an operator's terms.
fn bind_failure(e: &std::io::Error) -> String {
    let other = "give another with --http HOST:PORT or http.listen (TAGSTREAM_HTTP__LISTEN), \
                 or \"\" for none";
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("the port is in use by another process (another tagstream?); {other}")
        }
        std::io::ErrorKind::AddrNotAvailable => {
            format!("no network interface of this machine has that address; {other}")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("not allowed to listen there (ports below 1024 need privileges); {other}")
        }
        _ => e.to_string(),
    }
}

/// Binds `addr` now (so a taken port is an error at start) and serves on a thread of its own
/// until the process exits. Returns the bound address (useful with port 0).
///
/// # Errors
/// An address that does not resolve, or cannot be bound.
pub fn start(addr: &str, metrics: &'static Metrics) -> Result<SocketAddr, HttpError> {
    let resolved: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| HttpError::Address {
            addr: addr.to_string(),
            // The resolver's own words ("Name or service not known") say nothing of the flag
            // or key that gave the name, nor of what to give instead.
            why: format!(
                "the host name does not resolve ({e}); give an address of this machine with \
                 --http HOST:PORT or http.listen (TAGSTREAM_HTTP__LISTEN), such as \
                 127.0.0.1:9898 or 0.0.0.0:9898, or \"\" for none"
            ),
        })?
        .next()
        .ok_or_else(|| HttpError::Address {
            addr: addr.to_string(),
            why: "resolves to no address".into(),
        })?;
    let bind_err = |source| HttpError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(resolved).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(bind_err)?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || rt.block_on(serve(listener, metrics)))
        .map_err(bind_err)?;
    tracing::info!(address = %local, "serving /metrics, /livez, /readyz");
    Ok(local)
}

async fn serve(listener: TcpListener, metrics: &'static Metrics) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "http listener failed");
            return;
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "http accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| async move {
                Ok::<_, Infallible>(respond(&req, metrics))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
        });
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The answer to one request.
pub fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    answer(req.method(), req.uri().path(), req.uri().query(), metrics)
}

fn answer(
    method: &Method,
    path: &str,
    query: Option<&str>,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/livez" | "/healthz" | "/readyz");
    if known && method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let verbose = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "verbose" || p.starts_with("verbose="))
    });
    match path {
        "/metrics" => {
            let mut r = text(StatusCode::OK, metrics.render());
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus::TEXT_FORMAT),
            );
            r
        }
        "/livez" | "/healthz" => {
            let (live, why) = metrics.health.liveness();
            if live {
                text(StatusCode::OK, format!("ok: {why}\n"))
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not live: {why}\n"),
                )
            }
        }
        "/readyz" => {
            let r = metrics.health.readiness();
            metrics.ready.set(i64::from(r.ready));
            let status = if r.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let mut body = String::new();
            if verbose {
                for c in &r.checks {
                    let mark = if c.ok { '+' } else { '-' };
                    body.push_str(&format!("[{mark}]{} {}\n", c.name, c.detail));
                }
            } else {
                for c in r.checks.iter().filter(|c| !c.ok) {
                    body.push_str(&format!("{}: {}\n", c.name, c.detail));
                }
            }
            body.push_str(if r.ready { "ready\n" } else { "not ready\n" });
            text(status, body)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            format!(
                "no such endpoint: {path}\nendpoints: /metrics /livez /healthz /readyz[?verbose]\n"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::health::Mode;
    use http_body_util::BodyExt;

    fn get(m: &Metrics, method: Method, path: &str, query: Option<&str>) -> (StatusCode, String) {
        let r = answer(&method, path, query, m);
        let status = r.status();
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(r.into_body().collect())
            .unwrap()
            .to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn endpoints_answer_as_documented() {
        let m = Metrics::new();
        m.health.set_mode(Mode::Embedded);
        let (status, body) = get(&m, Method::GET, "/readyz", None);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("rules: not loaded"), "{body}");
        m.health.rules_loaded();
        let (status, body) = get(&m, Method::GET, "/readyz", Some("verbose"));
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("[+]rules loaded\n[+]input reading\nready"),
            "{body}"
        );
        assert_eq!(get(&m, Method::GET, "/livez", None).0, StatusCode::OK);
        assert_eq!(get(&m, Method::GET, "/healthz", None).0, StatusCode::OK);
        let (status, body) = get(&m, Method::GET, "/metrics", None);
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("tagstream_ready 1\n"), "{body}");
        assert_eq!(
            get(&m, Method::POST, "/metrics", None).0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let (status, body) = get(&m, Method::GET, "/metric", None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("/metrics"), "{body}");
    }

    #[test]
    fn a_taken_port_is_an_error_at_start() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let m: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        let err = start(&addr, m).unwrap_err().to_string();
        assert!(err.contains(&addr), "{err}");
        assert!(start("127.0.0.1", m).is_err(), "no port");
    }
}
