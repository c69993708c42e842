//! The simulated camera's HTTP face: one listener per camera that serves the SOAP device service, and
//! closes (connections included) while the camera is offline, so the NVR sees a real outage.
//!
//! Like a camera's embedded server it holds a bounded number of connections (more are closed at once)
//! and drops a client that is slow to send its headers or body, so one client cannot tie it up.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::sim::camera::SimCamera;
use crate::sim::hikvision;
use crate::sim::persona::Persona;
use crate::sim::soap::{self, SoapRequest};

/// The largest request body a camera reads.
const MAX_REQUEST_BODY: usize = 256 * 1024;
/// The device service path.
pub const DEVICE_SERVICE_PATH: &str = "/onvif/device_service";

/// What one camera's HTTP face puts up with.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections open at once; a connection beyond is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (and, between requests, to start the
    /// next one) before the connection is closed.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Binds a camera's HTTP listener.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Where the camera listens now, marked as seen (the guard is gone before any await).
fn current_address(address: &mut tokio::sync::watch::Receiver<SocketAddr>) -> SocketAddr {
    *address.borrow_and_update()
}

/// Serves one camera until `shutdown`, following its online flag and its address.
pub async fn serve(
    camera: Arc<SimCamera>,
    first_listener: TcpListener,
    shutdown: CancellationToken,
) {
    serve_with(camera, first_listener, shutdown, HttpLimits::default()).await;
}

/// As [`serve`], within `limits`.
pub async fn serve_with(
    camera: Arc<SimCamera>,
    first_listener: TcpListener,
    shutdown: CancellationToken,
    limits: HttpLimits,
) {
    let mut online = camera.watch_online();
    let mut address = camera.watch_address();
    let mut listener = Some(first_listener);
    loop {
        if !*online.borrow_and_update() {
            listener = None;
            camera.mark_serving(false);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = online.changed() => if changed.is_err() { return },
            }
            continue;
        }
        let current = match listener.take() {
            Some(l) => l,
            None => match bind(current_address(&mut address)) {
                Ok(l) => l,
                Err(error) => {
                    tracing::warn!(camera = camera.identity().index, %error, "simulated camera could not reopen its port");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => continue,
                    }
                }
            },
        };
        let mut connections = JoinSet::new();
        camera.mark_serving(true);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    connections.abort_all();
                    return;
                }
                changed = online.changed() => {
                    if changed.is_err() { return; }
                    if !*online.borrow() {
                        // Offline: drop the listener and every open connection.
                        connections.abort_all();
                        break;
                    }
                }
                changed = address.changed() => {
                    if changed.is_err() { return; }
                    // Moved: close here (and every open connection), open at the new address.
                    connections.abort_all();
                    break;
                }
                accepted = current.accept() => {
                    let Ok((stream, _peer)) = accepted else { continue };
                    if connections.len() >= limits.max_connections {
                        // Full: closed unanswered, as a busy embedded server does.
                        drop(stream);
                        continue;
                    }
                    let camera = camera.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let camera = camera.clone();
                            async move {
                                Ok::<_, Infallible>(answer(&camera, req, limits.body_timeout).await)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(limits.header_timeout)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }
}

/// Which of the camera's HTTP services a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// The ONVIF device service (SOAP).
    Onvif,
    /// The Hikvision persona's ISAPI.
    Isapi,
    /// The Dahua persona's JSON RPC.
    DahuaRpc,
}

/// A request as the services read it.
struct Received {
    method: String,
    path: String,
    uri: String,
    authorization: Option<String>,
    body: Bytes,
}

async fn answer(
    camera: &SimCamera,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let persona = camera.identity().persona;
    let service = if persona == Persona::Hikvision
        && (path.starts_with("/ISAPI/") || path.starts_with("/SDK/"))
    {
        Service::Isapi
    } else if persona == Persona::Dahua && matches!(path, "/OutsideCmd" | "/RPC2_Login" | "/RPC2") {
        Service::DahuaRpc
    } else if path == DEVICE_SERVICE_PATH && camera.onvif_enabled() {
        Service::Onvif
    } else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    // ISAPI reads with GET and writes with PUT; SOAP and the JSON RPC are POST only.
    if service != Service::Isapi && req.method() != hyper::Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let request = match receive(req, body_timeout).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    match service {
        Service::Onvif => {
            let response = soap::handle(
                camera,
                &SoapRequest {
                    body: &request.body,
                    authorization: request.authorization.as_deref(),
                    method: &request.method,
                    uri: &request.uri,
                },
            )
            .await;
            respond(
                response.status,
                response.content_type,
                response.www_authenticate,
                response.body,
            )
        }
        Service::Isapi => {
            let response = hikvision::handle(
                camera,
                &hikvision::IsapiRequest {
                    method: &request.method,
                    uri: &request.uri,
                    authorization: request.authorization.as_deref(),
                    body: &request.body,
                },
            );
            respond(
                response.status,
                response.content_type,
                response.www_authenticate,
                response.body,
            )
        }
        Service::DahuaRpc => {
            let json = || serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null);
            let reply = match request.path.as_str() {
                "/RPC2_Login" => crate::sim::dahua::rpc::login(camera, &json()),
                "/RPC2" => crate::sim::dahua::rpc::call(camera, &json()).await,
                _ => crate::sim::dahua::outside_command(camera, &request.body).await,
            };
            respond(200, "application/json", None, reply.to_string())
        }
    }
}

/// Reads a request's method, target, `Authorization` and body (within [`MAX_REQUEST_BODY`] and
/// `body_timeout`), or the answer that refuses it.
async fn receive(
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Result<Received, Response<Full<Bytes>>> {
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let body = read_body(req, body_timeout).await?;
    Ok(Received {
        method,
        path,
        uri,
        authorization,
        body,
    })
}

/// A reply with its status, type, Digest challenge (with a 401) and body.
fn respond(
    status: u16,
    content_type: &'static str,
    www_authenticate: Option<String>,
    body: String,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type);
    if let Some(challenge) = www_authenticate {
        builder = builder.header(hyper::header::WWW_AUTHENTICATE, challenge);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response error"))
}

/// A request's body within [`MAX_REQUEST_BODY`] and `body_timeout`, or the answer that refuses it.
async fn read_body(
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Result<Bytes, Response<Full<Bytes>>> {
    match tokio::time::timeout(
        body_timeout,
        Limited::new(req.into_body(), MAX_REQUEST_BODY).collect(),
    )
    .await
    {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "request too large")),
        Err(_) => Err(plain(StatusCode::REQUEST_TIMEOUT, "request body too slow")),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::sim::camera::{CameraIdentity, CameraPolicy};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn camera_on_loopback(limits: HttpLimits) -> (SocketAddr, CancellationToken) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let identity = CameraIdentity {
            index: 0,
            endpoint_ref: "urn:uuid:00000000-0000-0000-0000-000000000009".into(),
            manufacturer: "Vigil".into(),
            model: "SIM-1".into(),
            firmware: "1.0".into(),
            serial: "S9".into(),
            hardware_id: "H9".into(),
            mac: "02:00:00:00:00:09".into(),
            http_addr: addr,
            wsd_addr: "127.0.0.1:9".parse().unwrap(),
            persona: Persona::Vigil,
        };
        let camera = Arc::new(SimCamera::new(
            identity,
            CameraPolicy::default(),
            Arc::new(SystemClock),
            Some(("admin", "Harbor-Lamp-62")),
            0,
        ));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve_with(camera, listener, shutdown.clone(), limits));
        (addr, shutdown)
    }

    /// Reads until the server closes the connection; what it sent, or `None` if it kept it open.
    async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        tokio::time::timeout(limit, stream.read_to_end(&mut got))
            .await
            .ok()
            .map(|_| got)
    }

    #[tokio::test]
    async fn a_client_slow_to_send_its_headers_is_dropped() {
        let limits = HttpLimits {
            header_timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        };
        let (addr, shutdown) = camera_on_loopback(limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        assert!(
            closed_within(&mut slow, Duration::from_secs(5))
                .await
                .is_some(),
            "the half-sent request is not waited for forever"
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_at_once() {
        let limits = HttpLimits {
            max_connections: 4,
            ..HttpLimits::default()
        };
        let (addr, shutdown) = camera_on_loopback(limits).await;
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        // Give the server time to accept the four it keeps.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            closed_within(&mut extra, Duration::from_secs(5)).await,
            Some(Vec::new()),
            "closed unanswered"
        );
        assert!(
            closed_within(&mut held[0], Duration::from_millis(200))
                .await
                .is_none(),
            "the ones it holds stay open"
        );
        // Once one goes, a new one is served again.
        drop(held.pop());
        let mut answer = Vec::new();
        for _ in 0..100 {
            let mut again = TcpStream::connect(addr).await.unwrap();
            let _ = again
                .write_all(
                    b"GET /onvif/device_service HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .await;
            answer = closed_within(&mut again, Duration::from_secs(5))
                .await
                .unwrap_or_default();
            if !answer.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 405"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        shutdown.cancel();
    }
}
