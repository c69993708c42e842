//! The simulated camera's HTTP face: one listener per camera that serves the SOAP device service, and
//! closes (connections included) while the camera is offline, so the NVR sees a real outage.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::sim::camera::SimCamera;
use crate::sim::soap::{self, SoapRequest};

/// The largest request body a camera reads.
const MAX_REQUEST_BODY: usize = 256 * 1024;
/// The device service path.
pub const DEVICE_SERVICE_PATH: &str = "/onvif/device_service";

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

/// Serves one camera until `shutdown`, following its online flag.
pub async fn serve(
    camera: Arc<SimCamera>,
    first_listener: TcpListener,
    shutdown: CancellationToken,
) {
    let mut online = camera.watch_online();
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
            None => match bind(camera.identity().http_addr) {
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
                accepted = current.accept() => {
                    let Ok((stream, _peer)) = accepted else { continue };
                    let camera = camera.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let camera = camera.clone();
                            async move { Ok::<_, Infallible>(answer(&camera, req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }
}

async fn answer(camera: &SimCamera, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != DEVICE_SERVICE_PATH {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    if req.method() != hyper::Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().as_str().to_owned();
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| DEVICE_SERVICE_PATH.to_owned());
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request too large"),
    };
    let response = soap::handle(
        camera,
        &SoapRequest {
            body: &body,
            authorization: authorization.as_deref(),
            method: &method,
            uri: &uri,
        },
    )
    .await;
    let mut builder = Response::builder().status(response.status).header(
        hyper::header::CONTENT_TYPE,
        "application/soap+xml; charset=utf-8",
    );
    if let Some(challenge) = response.www_authenticate {
        builder = builder.header(hyper::header::WWW_AUTHENTICATE, challenge);
    }
    builder
        .body(Full::new(Bytes::from(response.body)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response error"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}
