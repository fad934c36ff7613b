//! `pulsepoint-observability` serves and stores events; `… migrate` migrates its schema.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    pp_server::service::run::<pulsepoint_observability::Observability>().await
}
