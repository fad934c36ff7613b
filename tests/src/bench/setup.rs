//! A tenant, an access token and a brand, made through the real API.

use pp_proto::auth::SignUpRequest;
use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::brands::{Brand, CreateBrandRequest};

use crate::bench::load::connect_channel;

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub auth_url: String,
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    pub brands_url: String,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `{"tenant_id":…,"token":…,"brand_id":…}`
    Json,
    /// `<tenant_id> <token> <brand_id>` on one line, for `read` in a shell script.
    Words,
}

/// Prints the tenant id, the access token and the brand id (see [`Format`]).
pub async fn run(args: SetupArgs) -> anyhow::Result<()> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let mut auth = AuthServiceClient::new(connect_channel(&args.auth_url).await?);
    let signed_up = auth
        .sign_up(SignUpRequest {
            tenant_name: format!("Bench {}", &suffix[..8]),
            email: format!("bench-{suffix}@example.com"),
            password: format!("bench-password-{suffix}"),
            display_name: "Bench".into(),
        })
        .await?
        .into_inner();
    let tenant_id = signed_up.tenant.unwrap_or_default().tenant_id;
    let token = signed_up.tokens.unwrap_or_default().access_token;
    let mut brands = BrandServiceClient::new(connect_channel(&args.brands_url).await?);
    let created = brands
        .create_brand(pulsepoint_e2e::authed(
            &token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: "Bench Brand".into(),
                    domain: "bench.myshopify.com".into(),
                    currency_code: "USD".into(),
                    time_zone: "Europe/Paris".into(),
                    ..Default::default()
                }),
                request_id: format!("bench-{suffix}"),
            },
        ))
        .await?
        .into_inner();
    let brand_id = created.brand.unwrap_or_default().brand_id;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"tenant_id": tenant_id, "token": token, "brand_id": brand_id})
        ),
        Format::Words => println!("{tenant_id} {token} {brand_id}"),
    }
    Ok(())
}
