//! A TCP proxy between the processor and the broker that a test can cut and restore: the
//! broker is lost from the processor's point of view (connections reset, new ones refused)
//! while its data stays intact.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A tansu broker reachable only through a proxy: it advertises the proxy's address, so every
/// client connection goes through it.
pub struct ProxiedBroker {
    pub proxy_port: u16,
    cut: Arc<AtomicBool>,
    broker: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pipe(mut from: TcpStream, mut to: TcpStream, cut: Arc<AtomicBool>) {
    from.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if cut.load(Ordering::SeqCst) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl ProxiedBroker {
    pub fn start() -> ProxiedBroker {
        let (broker_port, proxy_port) = (free_port(), free_port());
        let log = std::fs::File::create(std::env::temp_dir().join("tansu-proxied.log")).unwrap();
        let broker = Command::new("tansu")
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{broker_port}"),
            ])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{proxy_port}"),
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tansu on PATH (scripts/tansu.sh install)");
        for _ in 0..150 {
            if TcpStream::connect(("127.0.0.1", broker_port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let cut = Arc::new(AtomicBool::new(false));
        let listener = TcpListener::bind(("127.0.0.1", proxy_port)).unwrap();
        let accept_cut = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if accept_cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", broker_port)) else {
                    continue;
                };
                let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (cut_a, cut_b) = (accept_cut.clone(), accept_cut.clone());
                std::thread::spawn(move || pipe(client, upstream, cut_a));
                std::thread::spawn(move || pipe(u2, c2, cut_b));
            }
        });
        ProxiedBroker {
            proxy_port,
            cut,
            broker,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.proxy_port)
    }

    /// Resets every connection and refuses new ones until [`ProxiedBroker::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for ProxiedBroker {
    fn drop(&mut self) {
        let _ = self.broker.kill();
        let _ = self.broker.wait();
    }
}
