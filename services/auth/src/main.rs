//! `pulsepoint-auth` serves; `pulsepoint-auth migrate` migrates the auth schema;
//! `pulsepoint-auth keygen` prints a new Ed25519 signing key (PKCS#8 PEM).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("keygen") {
        return match pp_auth::SigningKey::generate() {
            Ok(key) => {
                print!("{}", key.to_pkcs8_pem());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("pulsepoint-auth keygen: {err}");
                ExitCode::FAILURE
            }
        };
    }
    pp_server::service::run::<pulsepoint_auth::Auth>().await
}
