//! `pulsepoint-integrations` serves; `… migrate` migrates its schemas; `… reencrypt`
//! re-seals every stored token under the active key; `… demo --orders N --seed S`
//! generates a demo store at scale through the real upsert path; `… keygen PATH`
//! writes a new local token key file (development).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("reencrypt") => pulsepoint_integrations::cli::reencrypt().await,
        Some("demo") => pulsepoint_integrations::cli::demo().await,
        Some("keygen") => pulsepoint_integrations::cli::keygen(),
        _ => pp_server::service::run::<pulsepoint_integrations::Integrations>().await,
    }
}
