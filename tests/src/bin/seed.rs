//! Seeds the demo tenant through the public API (idempotent): the demo admin and two
//! brands, each connected to a generated demo store (Shopify, Meta, TikTok, Google
//! Ads) whose first sync it waits for. Prints `tenant_id=<uuid>`.

use clap::Parser;
use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::auth::{LoginRequest, SignUpRequest};
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::brands::{Brand, CreateBrandRequest};
use pulsepoint_e2e::authed;

#[derive(Parser)]
struct Args {
    /// The gateway (or auth and brands behind it).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    gateway: String,
    #[arg(long, default_value = "demo@pulsepoint.dev")]
    email: String,
    #[arg(long, default_value = "pulsepoint-demo-password")]
    password: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = tonic::transport::Channel::from_shared(args.gateway.clone())?
        .connect()
        .await?;
    let mut auth = AuthServiceClient::new(channel.clone());
    let login = auth
        .login(LoginRequest {
            email: args.email.clone(),
            password: args.password.clone(),
            tenant_id: String::new(),
        })
        .await;
    let (tenant_id, token) = match login {
        Ok(response) => {
            let response = response.into_inner();
            let user = response.user.unwrap_or_default();
            (
                user.tenant_id,
                response.tokens.unwrap_or_default().access_token,
            )
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => {
            let response = auth
                .sign_up(SignUpRequest {
                    tenant_name: "Demo Commerce Co".into(),
                    email: args.email.clone(),
                    password: args.password.clone(),
                    display_name: "Demo Admin".into(),
                })
                .await?
                .into_inner();
            (
                response.tenant.unwrap_or_default().tenant_id,
                response.tokens.unwrap_or_default().access_token,
            )
        }
        Err(status) => anyhow::bail!("login failed: {status}"),
    };
    let mut brands = BrandServiceClient::new(channel.clone());
    let mut integrations =
        pp_proto::integrations::integration_service_client::IntegrationServiceClient::new(channel);
    let mut runs = Vec::new();
    for (request_id, name, domain, currency, zone) in [
        (
            "seed-brand-1",
            "Northwind Apparel",
            "northwind-apparel.myshopify.com",
            "USD",
            "America/New_York",
        ),
        (
            "seed-brand-2",
            "Fjord Home",
            "fjord-home.myshopify.com",
            "EUR",
            "Europe/Berlin",
        ),
    ] {
        let brand = Brand {
            name: name.into(),
            domain: domain.into(),
            currency_code: currency.into(),
            time_zone: zone.into(),
            ..Default::default()
        };
        let created = brands
            .create_brand(authed(
                &token,
                CreateBrandRequest {
                    brand: Some(brand),
                    request_id: request_id.into(),
                },
            ))
            .await?
            .into_inner()
            .brand
            .unwrap_or_default();
        let connected = integrations
            .connect_demo_store(authed(
                &token,
                pp_proto::integrations::ConnectDemoStoreRequest {
                    brand_id: created.brand_id,
                    platforms: Vec::new(),
                    history_days: 90,
                    seed: if request_id.ends_with('1') { 11 } else { 22 },
                    request_id: format!("{request_id}-demo-store"),
                },
            ))
            .await?
            .into_inner();
        runs.extend(connected.sync_runs.into_iter().map(|r| r.sync_run_id));
    }
    // The demo data is there when the first syncs are done.
    for run_id in runs {
        for attempt in 0.. {
            let run = integrations
                .get_sync_run(authed(
                    &token,
                    pp_proto::integrations::GetSyncRunRequest {
                        sync_run_id: run_id.clone(),
                    },
                ))
                .await?
                .into_inner()
                .sync_run
                .unwrap_or_default();
            use pp_proto::integrations::SyncRunState;
            match SyncRunState::try_from(run.state) {
                Ok(SyncRunState::Queued | SyncRunState::Running) if attempt < 1200 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Ok(SyncRunState::Succeeded) => break,
                _ => anyhow::bail!(
                    "demo sync {run_id} ended {:?}: {}",
                    run.state,
                    run.error_message
                ),
            }
        }
    }
    println!("tenant_id={tenant_id}");
    Ok(())
}
