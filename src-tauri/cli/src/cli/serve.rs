use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use fin_r1_core::server::{self, ServerConfig};
use fin_r1_engine::Engine;

use super::EngineArgs;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Address to listen on. The default keeps the server to this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Require `Authorization: Bearer KEY` on every request.
    #[arg(long, env = "FIN_R1_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The model id clients use (default: the file name without .gguf).
    #[arg(long)]
    served_model_name: Option<String>,
    /// Allow browser pages from this origin (repeatable); without it CORS stays off.
    #[arg(long)]
    cors_origin: Vec<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body_bytes: usize,
    /// Largest max_tokens a request may ask for (default: 32768, at most the context).
    #[arg(long, default_value_t = 32_768)]
    max_tokens_limit: usize,
    /// Requests admitted at once (generating or waiting); more are answered 429 with Retry-After.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    max_queued: u16,
}

pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    let path = a.engine.path()?.to_owned();
    eprintln!("Loading {} …", path.display());
    let engine = match Engine::load(&path, a.engine.load_options()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("fin-r1: {}: {e}", path.display());
            return Ok(1);
        }
    };
    let name = a
        .served_model_name
        .clone()
        .unwrap_or_else(|| path.file_name().map(|n| n.to_string_lossy().trim_end_matches(".gguf").to_owned()).unwrap_or_else(|| "model".into()));
    let mut config = ServerConfig::new(name.clone());
    config.api_key = a.api_key.clone().filter(|k| !k.is_empty());
    config.cors_origins = a.cors_origin.clone();
    config.max_body_bytes = a.max_body_bytes;
    config.max_tokens_limit = a.max_tokens_limit;
    config.max_queued = a.max_queued.into();
    if !a.host.is_loopback() {
        eprintln!(
            "fin-r1: warning: listening on {}, reachable from other machines{}",
            a.host,
            if config.api_key.is_some() { "" } else { " without an API key (--api-key)" }
        );
    }
    let runtime = fin_r1_core::rt::io("fin-r1-serve").context("starting the server runtime")?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(a.host, a.port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fin-r1: cannot listen on {addr}: {e}");
                return Ok(1);
            }
        };
        let bound = listener.local_addr()?;
        eprintln!("Serving {name} at http://{bound}/v1 (Ctrl-C stops)");
        let app = server::router(engine, config);
        server::serve(listener, app, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(0)
    })
}
