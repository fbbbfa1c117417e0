//! The benchmark ceiling: the same stack as jmb (axum 0.8 on tokio's multi-threaded runtime) answering
//! every request with a fixed body of N bytes held in memory (`Bytes`, cloned per request: a reference
//! count, no copy). `bench/calendar.sh` compares jmb with it: jmb cannot be faster than sending the same
//! number of bytes straight from memory.
//!
//! Run: `cargo run --release --example bench_ceiling -- <body-bytes> [port]`
//! It binds 127.0.0.1 (port 0 = any free port) and prints `listening on 127.0.0.1:<port>` once bound.
//! Any method and path gets the body (GET for the feed; REPORT and PROPFIND scripts can be reused as is).

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use std::io::Write as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size: usize =
        args.next().ok_or_else(|| anyhow::anyhow!("usage: bench_ceiling <body-bytes> [port]"))?.parse()?;
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    // Calendar-like printable content; the bytes themselves do not matter to the transport.
    let pattern = b"BEGIN:VEVENT\r\nSUMMARY:benchmark ceiling body\r\nEND:VEVENT\r\n";
    let body = Bytes::from(pattern.iter().copied().cycle().take(size).collect::<Vec<u8>>());
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response() }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}
