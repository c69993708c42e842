//! Cameras whose HTTP answers are poison, and turncoats: cameras that pass every request through to a
//! real (simulated) camera until they are turned, then answer with poison, until mended.
//!
//! A poison kind ([`Poison`]) has several concrete replies ([`PoisonReply`]); a poisoned camera serves
//! them in turn, one per connection. Each connection is bounded: the request read is capped in bytes
//! and time, a reply is at most [`MAX_POISON_BYTES`], a slow reply at most [`SLOW_HOLD`], and at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed at once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::{Bounds, HostileStats};

/// The longest a slow reply keeps a connection.
pub const SLOW_HOLD: Duration = Duration::from_secs(30);
/// The most bytes one poisoned reply sends.
pub const MAX_POISON_BYTES: usize = 8 * 1024 * 1024;
/// Connections one hostile camera serves at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request read.
const MAX_REQUEST: usize = 64 * 1024;
/// How long a request is waited for.
const REQUEST_WAIT: Duration = Duration::from_secs(5);
/// The longest one connection passed through a turncoat lives.
const PASS_THROUGH_LIFE: Duration = Duration::from_secs(120);

/// A kind of hostile camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Poison {
    /// Answers late or never.
    Slow,
    /// Answers with too much.
    Oversized,
    /// Answers with XML built to blow up a parser.
    XmlBomb,
    /// Answers with what is not HTTP, not XML, or not the answer.
    Malformed,
}

impl Poison {
    /// Every kind.
    pub const ALL: [Poison; 4] = [
        Poison::Slow,
        Poison::Oversized,
        Poison::XmlBomb,
        Poison::Malformed,
    ];

    /// Its name in figures and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Poison::Slow => "slow",
            Poison::Oversized => "oversized",
            Poison::XmlBomb => "xml_bomb",
            Poison::Malformed => "malformed",
        }
    }

    /// The concrete replies of this kind, served in turn.
    pub fn replies(self) -> &'static [PoisonReply] {
        use PoisonReply::*;
        match self {
            Poison::Slow => &[Silent, Trickle],
            Poison::Oversized => &[Huge, Endless, LyingLength, HugeHeader],
            Poison::XmlBomb => &[EntityBomb, ExternalEntity, DeepNesting],
            Poison::Malformed => &[Garbage, Noise, BadStatusLine, TruncatedSoap, WrongAnswer],
        }
    }
}

/// One concrete poisoned reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoisonReply {
    /// Reads the request and says nothing, for [`SLOW_HOLD`].
    Silent,
    /// Headers promising a body, then one byte every half second, for [`SLOW_HOLD`].
    Trickle,
    /// A 3 MiB body, declared.
    Huge,
    /// A body without a length that runs to [`MAX_POISON_BYTES`].
    Endless,
    /// A declared 4 GiB body, of which 64 KiB come.
    LyingLength,
    /// 256 KiB of header lines.
    HugeHeader,
    /// A SOAP reply carrying an exponential entity expansion ("billion laughs").
    EntityBomb,
    /// A SOAP reply whose text is an external entity naming a local file.
    ExternalEntity,
    /// Elements nested 60 000 deep.
    DeepNesting,
    /// A 200 whose body is plain words, not XML.
    Garbage,
    /// Bytes that are not HTTP at all.
    Noise,
    /// A status line from no HTTP version.
    BadStatusLine,
    /// A SOAP envelope cut off in the middle.
    TruncatedSoap,
    /// A well-formed SOAP envelope that answers nothing that was asked, with nonsense values.
    WrongAnswer,
}

const SOAP_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope \
    xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" \
    xmlns:tt=\"http://www.onvif.org/ver10/schema\"><env:Body>";

fn head(status: &str, length: Option<usize>) -> String {
    let length = length.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n{length}Connection: close\r\n\r\n"
    )
}

/// A whole reply: head and body.
fn whole(body: &[u8]) -> Vec<u8> {
    let mut out = head("200 OK", Some(body.len())).into_bytes();
    out.extend_from_slice(body);
    out
}

fn entity_bomb() -> Vec<u8> {
    let mut doctype = String::from("<!DOCTYPE env:Envelope [<!ENTITY l0 \"lol\">");
    for level in 1..=12 {
        let refs = format!("&l{};", level - 1).repeat(10);
        doctype.push_str(&format!("<!ENTITY l{level} \"{refs}\">"));
    }
    doctype.push(']');
    doctype.push('>');
    format!(
        "<?xml version=\"1.0\"?>{doctype}{}<tds:GetDeviceInformationResponse><tds:Manufacturer>&l12;\
         </tds:Manufacturer><tds:SerialNumber>&l12;</tds:SerialNumber></tds:GetDeviceInformationResponse>\
         </env:Body></env:Envelope>",
        SOAP_OPEN.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    )
    .into_bytes()
}

fn external_entity() -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><!DOCTYPE env:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}\
         <tds:GetDeviceInformationResponse><tds:Manufacturer>&x;</tds:Manufacturer>\
         <tds:SerialNumber>&x;</tds:SerialNumber></tds:GetDeviceInformationResponse></env:Body></env:Envelope>",
        SOAP_OPEN.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    )
    .into_bytes()
}

fn wrong_answer() -> Vec<u8> {
    format!(
        "{SOAP_OPEN}<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time>\
         <tt:Hour>99</tt:Hour><tt:Minute>-7</tt:Minute><tt:Second>x</tt:Second></tt:Time><tt:Date>\
         <tt:Year>99999999999999999999</tt:Year><tt:Month>13</tt:Month><tt:Day>0</tt:Day></tt:Date>\
         </tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>\
         <tds:GetDeviceInformationResponse><tds:Manufacturer></tds:Manufacturer></tds:GetDeviceInformationResponse>\
         </env:Body></env:Envelope>"
    )
    .into_bytes()
}

impl PoisonReply {
    /// The bytes sent at once; the slow and streaming replies send the rest in [`serve_reply`].
    fn opening(self) -> Vec<u8> {
        match self {
            PoisonReply::Silent => Vec::new(),
            PoisonReply::Trickle => head("200 OK", Some(10_000)).into_bytes(),
            PoisonReply::Huge => whole(&vec![b'x'; 3 * 1024 * 1024]),
            PoisonReply::Endless => head("200 OK", None).into_bytes(),
            PoisonReply::LyingLength => head("200 OK", Some(4 * 1024 * 1024 * 1024)).into_bytes(),
            PoisonReply::HugeHeader => {
                let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
                for n in 0..4096 {
                    out.extend_from_slice(
                        format!("X-Filler-{n}: {}\r\n", "y".repeat(48)).as_bytes(),
                    );
                }
                out.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
                out
            }
            PoisonReply::EntityBomb => whole(&entity_bomb()),
            PoisonReply::ExternalEntity => whole(&external_entity()),
            PoisonReply::DeepNesting => {
                whole(format!("{}{}", "<a>".repeat(60_000), "</a>".repeat(60_000)).as_bytes())
            }
            PoisonReply::Garbage => whole(b"this is not xml at all"),
            PoisonReply::Noise => (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            PoisonReply::BadStatusLine => {
                b"HTTP/9.9 abc Whatever\r\nContent-Length: 5\r\n\r\nhello".to_vec()
            }
            PoisonReply::TruncatedSoap => {
                let mut body =
                    format!("{SOAP_OPEN}<tds:GetDeviceInformationResponse><tds:Manu").into_bytes();
                let mut out = head("200 OK", Some(body.len() + 400)).into_bytes();
                out.append(&mut body);
                out
            }
            PoisonReply::WrongAnswer => whole(&wrong_answer()),
        }
    }
}

/// Reads one request: to the end of its headers and its declared body, capped in bytes and time.
async fn read_request(stream: &mut TcpStream) {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut filled = 0;
    let read = async {
        while filled < buf.len() {
            match stream.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            let text = String::from_utf8_lossy(&buf[..filled]);
            if let Some(end) = text.find("\r\n\r\n") {
                let declared = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                if filled >= end + 4 + declared {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(REQUEST_WAIT, read).await;
}

/// Serves one poisoned reply on `stream`, within `bounds`.
pub async fn serve_reply(mut stream: TcpStream, reply: PoisonReply, bounds: &Bounds) {
    read_request(&mut stream).await;
    let serve = async {
        stream.write_all(&reply.opening()).await?;
        match reply {
            PoisonReply::Silent => tokio::time::sleep(SLOW_HOLD).await,
            PoisonReply::Trickle => {
                for _ in 0..(SLOW_HOLD.as_millis() / 500) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    stream.write_all(b"<").await?;
                }
            }
            PoisonReply::Endless | PoisonReply::LyingLength => {
                let total = if reply == PoisonReply::Endless {
                    MAX_POISON_BYTES
                } else {
                    64 * 1024
                };
                let chunk = vec![b'<'; 16 * 1024];
                for _ in 0..total / chunk.len() {
                    stream.write_all(&chunk).await?;
                }
            }
            _ => {}
        }
        stream.flush().await
    };
    tokio::select! {
        _ = bounds.ended() => {}
        _ = tokio::time::timeout(SLOW_HOLD + Duration::from_secs(5), serve) => {}
    }
}

/// Serves `replies` in turn, one per connection, on `listener` until `bounds` end.
pub async fn serve_poison(
    listener: TcpListener,
    replies: &'static [PoisonReply],
    bounds: Bounds,
    stats: Arc<HostileStats>,
) {
    let (_mended, poisoned) = watch::channel(true);
    serve(listener, None, replies, poisoned, bounds, stats).await;
}

/// A camera that passes requests through to a real one until turned.
#[derive(Debug)]
pub struct Turncoat {
    addr: SocketAddr,
    poison: Poison,
    turned: watch::Sender<bool>,
}

impl Turncoat {
    /// Listens at `bind`, passing every connection through to `upstream` until [`Turncoat::turn`],
    /// then answering with `poison`'s replies, until `bounds` end.
    pub async fn start(
        bind: SocketAddr,
        upstream: SocketAddr,
        poison: Poison,
        bounds: Bounds,
        stats: Arc<HostileStats>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let (turned, poisoned) = watch::channel(false);
        tokio::spawn(serve(
            listener,
            Some(upstream),
            poison.replies(),
            poisoned,
            bounds,
            stats,
        ));
        Ok(Self {
            addr,
            poison,
            turned,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its kind of poison.
    pub fn poison(&self) -> Poison {
        self.poison
    }

    /// From now on it answers with poison; connections passed through so far are cut.
    pub fn turn(&self) {
        self.turned.send_replace(true);
    }

    /// From now on it passes requests through again.
    pub fn mend(&self) {
        self.turned.send_replace(false);
    }
}

async fn serve(
    listener: TcpListener,
    upstream: Option<SocketAddr>,
    replies: &'static [PoisonReply],
    poisoned: watch::Receiver<bool>,
    bounds: Bounds,
    stats: Arc<HostileStats>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let turn = Arc::new(AtomicUsize::new(0));
    while !bounds.over() {
        let accepted = tokio::select! {
            _ = bounds.ended() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            // Out of descriptors, perhaps: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let _ = stream.shutdown().await;
            continue;
        };
        let poisoned = poisoned.clone();
        let bounds = bounds.clone();
        let stats = stats.clone();
        let turn = turn.clone();
        tokio::spawn(async move {
            match upstream.filter(|_| !*poisoned.borrow()) {
                Some(upstream) => {
                    HostileStats::count(&stats.passed);
                    pass_through(stream, upstream, poisoned, &bounds).await;
                }
                None => {
                    HostileStats::count(&stats.poisoned);
                    let n = turn.fetch_add(1, Ordering::Relaxed);
                    serve_reply(stream, replies[n % replies.len()], &bounds).await;
                }
            }
            drop(slot);
        });
    }
}

/// Copies one connection both ways to `upstream` until either side closes, the turncoat turns, or
/// its life or `bounds` end.
async fn pass_through(
    mut stream: TcpStream,
    upstream: SocketAddr,
    mut poisoned: watch::Receiver<bool>,
    bounds: &Bounds,
) {
    let Ok(Ok(mut camera)) = tokio::time::timeout(REQUEST_WAIT, TcpStream::connect(upstream)).await
    else {
        return;
    };
    tokio::select! {
        _ = bounds.ended() => {}
        _ = poisoned.wait_for(|turned| *turned) => {}
        _ = tokio::time::timeout(
            PASS_THROUGH_LIFE,
            tokio::io::copy_bidirectional(&mut stream, &mut camera),
        ) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    async fn ask(addr: SocketAddr) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
            .await
            .unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut reply)).await;
        reply
    }

    #[tokio::test]
    async fn a_turncoat_passes_through_until_turned_then_serves_poison_until_mended() {
        let bounds = Bounds::lasting(Duration::from_secs(30), CancellationToken::new());
        let camera = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = camera.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = camera.accept().await.unwrap();
                read_request(&mut s).await;
                s.write_all(&whole(b"<ok/>")).await.unwrap();
            }
        });
        let stats = Arc::new(HostileStats::default());
        let turncoat = Turncoat::start(
            "127.0.0.1:0".parse().unwrap(),
            upstream,
            Poison::Malformed,
            bounds.clone(),
            stats.clone(),
        )
        .await
        .unwrap();
        assert!(ask(turncoat.addr()).await.ends_with(b"<ok/>"));
        turncoat.turn();
        let poisoned = ask(turncoat.addr()).await;
        assert!(
            poisoned.ends_with(b"this is not xml at all"),
            "{poisoned:?}"
        );
        turncoat.mend();
        assert!(ask(turncoat.addr()).await.ends_with(b"<ok/>"));
        assert_eq!(HostileStats::read(&stats.passed), 2);
        assert_eq!(HostileStats::read(&stats.poisoned), 1);
        bounds.cancel.cancel();
    }

    #[test]
    fn every_poison_stays_within_its_bounds() {
        for poison in Poison::ALL {
            for reply in poison.replies() {
                assert!(reply.opening().len() <= MAX_POISON_BYTES, "{reply:?}");
            }
        }
        let bomb = String::from_utf8(entity_bomb()).unwrap();
        assert!(bomb.len() < 4096 && bomb.contains("<!ENTITY l12"));
    }
}
