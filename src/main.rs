//! The `mahavishnu-dr` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;
use mahavishnu_dr::{Cancel, Cli, run_cli};

fn main() {
    // Every volume worker is a thread; glibc would give each its own malloc arena and keep their
    // freed memory. Two arenas keep peak memory near what the data in flight needs.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called first thing, before any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(mahavishnu_dr::without_credential_logs(
            tracing_subscriber::EnvFilter::try_from_env("MAHAVISHNU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        ))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let code = runtime.block_on(async move {
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            // Ctrl-C or SIGTERM: cancel, and let the command finish cleanly (a drill tears its
            // sandbox down, a backup commits nothing partial).
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                () = term => {}
            }
            eprintln!("interrupted: stopping; nothing partial is committed");
            c2.cancel();
        });
        run_cli(cli, env, cancel).await
    });
    std::process::exit(code);
}
