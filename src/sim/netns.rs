//! A private camera LAN for multicast tests and benchmarks: two fresh network namespaces, one for the
//! NVR and one for the cameras, joined by a veth pair, so WS-Discovery can multicast for real without a
//! datagram reaching the machine's own network. Both namespaces vanish with their threads. Also a wire
//! counter that sees, on the cameras' side of the link, every HTTP request that carries credentials, so
//! a test can prove the NVR stopped sending a refused password without trusting the NVR or the camera.
//!
//! Needs root (`unshare(CLONE_NEWNET)`); [`can_isolate`] says whether this process may.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The NVR's end of the link.
pub const NVR_LINK: &str = "v0";
/// The cameras' end of the link.
pub const CAMERA_LINK: &str = "v1";
/// How long [`CredentialCounter`] waits at most for a frame before checking whether to stop.
const COUNTER_POLL: Duration = Duration::from_millis(200);

/// Whether this process may make network namespaces.
pub fn can_isolate() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `ip` with `args`.
pub fn ip(args: &str) -> Result<(), String> {
    let status = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {args} failed: {status}"))
    }
}

/// Moves the calling thread into a new, empty network namespace with loopback up. Threads and
/// processes it starts afterwards are in it too.
pub fn enter_new_network_namespace() -> Result<(), String> {
    // SAFETY: unshare affects only the calling thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    ip("link set lo up")
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// How the private LAN is addressed.
#[derive(Debug, Clone)]
pub struct LanPlan {
    /// The NVR's address on [`NVR_LINK`].
    pub nvr: Ipv4Addr,
    /// The cameras' addresses on [`CAMERA_LINK`].
    pub cameras: Vec<Ipv4Addr>,
    /// The prefix length of the subnet they share.
    pub prefix: u8,
}

/// Tells the camera side when the NVR side is done: `recv` returns (with an error) once it is, even
/// when the NVR side panicked.
pub type NvrDone = mpsc::Receiver<()>;

/// Runs `cameras` in one new namespace and `nvr` in another, joined by a veth pair addressed as
/// `plan` says, and returns what `nvr` returns. `cameras` gets an [`NvrDone`] to wait on; it must
/// return once the NVR side is done.
pub fn isolated_lan<C, N, R>(plan: LanPlan, cameras: C, nvr: N) -> Result<R, String>
where
    C: FnOnce(NvrDone) + Send + 'static,
    N: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (tid_tx, tid_rx) = mpsc::channel::<Result<i64, String>>();
    let (link_tx, link_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let camera_addresses = plan.cameras.clone();
    let prefix = plan.prefix;
    let camera_thread = std::thread::spawn(move || {
        if let Err(e) = enter_new_network_namespace() {
            let _ = tid_tx.send(Err(e));
            return;
        }
        let _ = tid_tx.send(Ok(gettid()));
        if link_rx.recv().is_err() {
            return;
        }
        let configure = || -> Result<(), String> {
            for address in &camera_addresses {
                ip(&format!("addr add {address}/{prefix} dev {CAMERA_LINK}"))?;
            }
            ip(&format!("link set {CAMERA_LINK} multicast on up"))
        };
        let configured = configure();
        let ok = configured.is_ok();
        let _ = ready_tx.send(configured);
        if ok {
            cameras(done_rx);
        }
    });
    let nvr_thread = std::thread::spawn(move || -> Result<R, String> {
        // Dropped when this thread ends, however it ends: the camera side then stops.
        let _done = done_tx;
        enter_new_network_namespace()?;
        let camera_tid = tid_rx.recv().map_err(|e| e.to_string())??;
        ip(&format!(
            "link add {NVR_LINK} type veth peer name {CAMERA_LINK}"
        ))?;
        ip(&format!(
            "link set {CAMERA_LINK} netns /proc/{camera_tid}/ns/net"
        ))?;
        ip(&format!(
            "addr add {}/{} dev {NVR_LINK}",
            plan.nvr, plan.prefix
        ))?;
        ip(&format!("link set {NVR_LINK} multicast on up"))?;
        link_tx.send(()).map_err(|e| e.to_string())?;
        ready_rx.recv().map_err(|e| e.to_string())??;
        Ok(nvr())
    });
    let outcome = nvr_thread
        .join()
        .unwrap_or_else(|_| Err("the NVR side panicked".to_owned()));
    let cameras_ended = camera_thread.join();
    let result = outcome?;
    cameras_ended.map_err(|_| "the camera side panicked".to_owned())?;
    Ok(result)
}

/// Counts, per destination TCP port, the HTTP requests on one link that carry credentials: a
/// WS-Security UsernameToken or an `Authorization` header. It reads raw frames off the link
/// (`AF_PACKET`), so neither the NVR nor the camera can hide a request from it.
pub struct CredentialCounter {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<u16, u64>>>,
    frames: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CredentialCounter {
    /// Starts counting on `interface`, which must be in the calling thread's namespace.
    pub fn start(interface: &str) -> Result<Self, String> {
        let name = std::ffi::CString::new(interface).map_err(|e| e.to_string())?;
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(format!("no interface {interface}"));
        }
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // Opened with no protocol, so nothing is queued before it is bound to the one interface.
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(format!(
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: the fd was just opened and is owned from here on.
        let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: libc::suseconds_t::try_from(COUNTER_POLL.as_micros()).unwrap_or(200_000),
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of this size.
        let timed = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast::<libc::c_void>(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if timed != 0 {
            // Without it a quiet link would block the reader, and dropping the counter, forever.
            return Err(format!("SO_RCVTIMEO: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = protocol;
        address.sll_ifindex = i32::try_from(index).map_err(|e| e.to_string())?;
        // SAFETY: the address is a valid sockaddr_ll of the size given.
        let bound = unsafe {
            libc::bind(
                raw,
                (&raw const address).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(format!(
                "bind AF_PACKET: {}",
                std::io::Error::last_os_error()
            ));
        }
        let counts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let frames = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, frames, stop) = (counts.clone(), frames.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    let raw = std::os::fd::AsRawFd::as_raw_fd(&socket);
                    // SAFETY: the buffer is valid for its length.
                    let n = unsafe {
                        libc::recv(raw, buf.as_mut_ptr().cast::<libc::c_void>(), buf.len(), 0)
                    };
                    let Ok(n) = usize::try_from(n) else {
                        let error = std::io::Error::last_os_error();
                        match error.kind() {
                            std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted => continue,
                            _ => break,
                        }
                    };
                    frames.fetch_add(1, Ordering::Relaxed);
                    if let Some(port) = credential_request_port(&buf[..n]) {
                        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                        *counts.entry(port).or_insert(0) += 1;
                    }
                }
            })
        };
        Ok(Self {
            counts,
            frames,
            stop,
            thread: Some(thread),
        })
    }

    /// Requests with credentials seen so far to `port`.
    pub fn count(&self, port: u16) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&port)
            .copied()
            .unwrap_or(0)
    }

    /// Requests with credentials seen so far, to every port.
    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// Frames seen on the link, of any kind: proof the counter is reading.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

impl Drop for CredentialCounter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The destination port of an Ethernet frame carrying credentials to a server: a TCP segment whose
/// payload holds a WS-Security UsernameToken or an HTTP `Authorization` header. Replies go to the
/// client's port, so counting by destination port counts requests only.
fn credential_request_port(frame: &[u8]) -> Option<u16> {
    const ETHERNET: usize = 14;
    if frame.len() < ETHERNET + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[ETHERNET..];
    let ip_header = usize::from(ip[0] & 0x0f) * 4;
    if ip[9] != 6 || ip.len() < ip_header + 20 {
        return None;
    }
    let tcp = &ip[ip_header..];
    let port = u16::from_be_bytes([tcp[2], tcp[3]]);
    let tcp_header = usize::from(tcp[12] >> 4) * 4;
    let payload = tcp.get(tcp_header..)?;
    let contains = |needle: &[u8]| payload.windows(needle.len()).any(|w| w == needle);
    let carries = contains(b"UsernameToken")
        || contains(b"\r\nauthorization:")
        || contains(b"\r\nAuthorization:");
    // An HTTP reply never starts a request to a server port; it would only echo the words back.
    (carries && !payload.starts_with(b"HTTP/")).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6];
        ip.resize(20, 0);
        f.extend_from_slice(&ip);
        let mut tcp = vec![0u8; 20];
        tcp[2..4].copy_from_slice(&port.to_be_bytes());
        tcp[12] = 5 << 4;
        f.extend_from_slice(&tcp);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn only_requests_carrying_credentials_are_counted() {
        let token = b"POST /onvif/device HTTP/1.1\r\nHost: x\r\n\r\n<wsse:UsernameToken>";
        assert_eq!(credential_request_port(&frame(8080, token)), Some(8080));
        let digest = b"POST /onvif HTTP/1.1\r\nauthorization: Digest x\r\n\r\n";
        assert_eq!(credential_request_port(&frame(80, digest)), Some(80));
        let anonymous = b"POST /onvif/device HTTP/1.1\r\n\r\n<GetSystemDateAndTime/>";
        assert_eq!(credential_request_port(&frame(80, anonymous)), None);
        // A reply that echoes the word is not a request.
        let reply = b"HTTP/1.1 200 OK\r\n\r\nUsernameToken";
        assert_eq!(credential_request_port(&frame(80, reply)), None);
        // A request whose body came in a segment of its own still counts.
        let body_only = b"<s:Header><wsse:Security><wsse:UsernameToken>";
        assert_eq!(credential_request_port(&frame(8080, body_only)), Some(8080));
        assert_eq!(credential_request_port(&[0u8; 10]), None);
    }
}
