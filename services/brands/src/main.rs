//! `pulsepoint-brands` serves; `pulsepoint-brands migrate` migrates its schemas.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    pp_server::service::run::<pulsepoint_brands::Brands>().await
}
