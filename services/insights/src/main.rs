//! `pulsepoint-insights` serves; `pulsepoint-insights migrate` migrates its schema.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    pp_server::service::run::<pulsepoint_insights::Insights>().await
}
