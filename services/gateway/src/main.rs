//! `pulsepoint-gateway`: grpc-web + CORS + routing + static frontend.

use std::process::ExitCode;

use pp_config::Source;
use pulsepoint_gateway::GatewayConfig;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "pulsepoint-gateway failed");
            eprintln!("pulsepoint-gateway: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let source = Source::from_env()?;
    let config = GatewayConfig::from_source(&source)?;
    let _telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: "pulsepoint-gateway".into(),
        log_format: source.string("PULSEPOINT_LOG_FORMAT", "json"),
        otlp_endpoint: source.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(str::to_owned),
    })
    .map_err(|err| err.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.server.listen_addr).await?;
    tracing::info!(addr = %config.server.listen_addr, origins = ?config.cors_origins, "pulsepoint-gateway listening");
    pulsepoint_gateway::serve(config, listener, pp_server::serve::shutdown_signal()).await
}
