//! `mcp-fuzz-server --port P --log FILE`: the rmcp server of the differential fuzzer (see launch.ts).
//! Stateless Streamable HTTP on 127.0.0.1:P/mcp; prints `{"url":..}` once listening; exits when stdin
//! closes (the harness holds it open) or on SIGTERM (default action: nothing to clean up, the log is
//! written synchronously).

mod execution_log;
mod tools;

use std::io::{Read, Write};

use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use execution_log::ExecutionLog;
use tools::FuzzTools;

struct Flags {
    port: u16,
    log: String,
}

fn parse_flags() -> Result<Flags, String> {
    let mut port = None;
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = Some(value.parse::<u16>().map_err(|e| format!("--port: {e}"))?),
            "--log" => log = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Flags {
        port: port.ok_or("--port is required")?,
        log: log.ok_or("--log is required")?,
    })
}

/// The harness ends us by closing our stdin; a blocking thread is the simplest way to notice EOF.
fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let flags = parse_flags().unwrap_or_else(|error| {
        eprintln!("mcp-fuzz-server: {error}");
        std::process::exit(2);
    });
    let log = ExecutionLog::open(&flags.log).expect("open --log file");
    exit_when_stdin_closes();

    // Stateless: no session handshake, every POST is served on its own (a bare tools/call works).
    // The default Host allow-list already admits 127.0.0.1 on any port.
    let config = StreamableHttpServerConfig::default().with_legacy_session_mode(false);
    let service: StreamableHttpService<FuzzTools, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(FuzzTools::new(log.clone())),
        Default::default(),
        config,
    );
    let router = axum::Router::new().route_service("/mcp", service);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", flags.port))
        .await
        .expect("bind 127.0.0.1:--port");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{{\"url\":\"http://127.0.0.1:{}/mcp\"}}", flags.port).expect("stdout");
    stdout.flush().expect("stdout");
    drop(stdout);

    // Without TCP_NODELAY, a response written in pieces on a kept-alive connection waits for the
    // client's delayed ACK (~40 ms a call through the sidecar's connection pool).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await.expect("serve");
}
