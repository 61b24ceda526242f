//! A stand-in for a network daemon in the SSH lab: listens on TCP (`-h ADDR`, default
//! 0.0.0.0; `-p PORT`, default 5432), accepts every connection and holds it open until the
//! peer closes it, never sending a byte. Other arguments (`-D DATADIR`...) are accepted and
//! ignored, so that a copy installed as `/usr/local/pgsql/bin/postgres` runs with a database
//! server's command line. Used by the benign lab scenario (`tests/src/lab/benign.rs`).

use std::io::Read;
use std::net::TcpListener;

fn main() {
    let mut addr = "0.0.0.0".to_string();
    let mut port: u16 = 5432;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" => addr = args.next().unwrap_or(addr),
            "-p" => {
                port = args.next().and_then(|p| p.parse().ok()).unwrap_or_else(|| {
                    eprintln!("lab-listener: -p needs a port number");
                    std::process::exit(2)
                })
            }
            _ => {}
        }
    }
    let listener = TcpListener::bind((addr.as_str(), port)).unwrap_or_else(|e| {
        eprintln!("lab-listener: cannot listen on {addr}:{port}: {e}");
        std::process::exit(1)
    });
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut conn = conn;
            let mut buf = [0u8; 512];
            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
}
