//! Malformed requests get INVALID_ARGUMENT naming the field, never a panic or a 500.
//!
//! One table, one loop: each case is an RPC with a bad request, the code it must get,
//! and exactly the fields its `BadRequest` names. The message must say only which
//! fields were wrong (no internal text).

use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::auth::*;
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::brands::*;
use pp_proto::common::{Date, DateRange};
use prost_types::FieldMask;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::*;

/// An RPC and its request. The public ones (`SignUp`, `Login`) are sent without a token.
enum Rpc {
    GetBrand(GetBrandRequest),
    DeleteBrand(DeleteBrandRequest),
    CreateBrand(CreateBrandRequest),
    ListBrands(ListBrandsRequest),
    UpdateBrand(UpdateBrandRequest),
    GetPortfolio(GetPortfolioRequest),
    DeactivateUser(DeactivateUserRequest),
    RevokeApiKey(RevokeApiKeyRequest),
    CreateApiKey(CreateApiKeyRequest),
    ListApiKeys(ListApiKeysRequest),
    ListUsers(ListUsersRequest),
    CreateUser(CreateUserRequest),
    SignUp(SignUpRequest),
    Login(LoginRequest),
}

struct Clients {
    brands: BrandServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
}

impl Rpc {
    async fn send(self, clients: &mut Clients, token: &str) -> Result<(), tonic::Status> {
        let Clients { brands, auth } = clients;
        match self {
            Rpc::GetBrand(r) => brands.get_brand(authed(token, r)).await.map(drop),
            Rpc::DeleteBrand(r) => brands.delete_brand(authed(token, r)).await.map(drop),
            Rpc::CreateBrand(r) => brands.create_brand(authed(token, r)).await.map(drop),
            Rpc::ListBrands(r) => brands.list_brands(authed(token, r)).await.map(drop),
            Rpc::UpdateBrand(r) => brands.update_brand(authed(token, r)).await.map(drop),
            Rpc::GetPortfolio(r) => brands.get_portfolio(authed(token, r)).await.map(drop),
            Rpc::DeactivateUser(r) => auth.deactivate_user(authed(token, r)).await.map(drop),
            Rpc::RevokeApiKey(r) => auth.revoke_api_key(authed(token, r)).await.map(drop),
            Rpc::CreateApiKey(r) => auth.create_api_key(authed(token, r)).await.map(drop),
            Rpc::ListApiKeys(r) => auth.list_api_keys(authed(token, r)).await.map(drop),
            Rpc::ListUsers(r) => auth.list_users(authed(token, r)).await.map(drop),
            Rpc::CreateUser(r) => auth.create_user(authed(token, r)).await.map(drop),
            Rpc::SignUp(r) => auth.sign_up(r).await.map(drop),
            Rpc::Login(r) => auth.login(r).await.map(drop),
        }
    }
}

struct Case {
    label: &'static str,
    rpc: Rpc,
    code: Code,
    /// Exactly the fields the answer's `BadRequest` names, in order.
    fields: &'static [&'static str],
}

fn invalid(label: &'static str, rpc: Rpc, fields: &'static [&'static str]) -> Case {
    Case {
        label,
        rpc,
        code: Code::InvalidArgument,
        fields,
    }
}

fn brand(edit: impl FnOnce(&mut Brand)) -> Option<Brand> {
    let mut brand = Brand {
        name: "A".into(),
        ..Default::default()
    };
    edit(&mut brand);
    Some(brand)
}

fn create_user(edit: impl FnOnce(&mut CreateUserRequest)) -> Rpc {
    let mut request = CreateUserRequest {
        email: "a@b.co".into(),
        display_name: "x".into(),
        role: 2,
        password: PASSWORD.into(),
        request_id: String::new(),
    };
    edit(&mut request);
    Rpc::CreateUser(request)
}

fn cases(existing_brand_id: &str) -> Vec<Case> {
    let too_long_request_id = "r".repeat(129);
    let feb_30 = Some(DateRange {
        start_date: Some(Date {
            year: 2026,
            month: 2,
            day: 30,
        }),
        end_date: Some(Date {
            year: 2026,
            month: 3,
            day: 1,
        }),
    });
    let update = |brand_id: &str, name: &str, mask: Option<Vec<&str>>| {
        Rpc::UpdateBrand(UpdateBrandRequest {
            brand: Some(Brand {
                brand_id: brand_id.into(),
                name: name.into(),
                ..Default::default()
            }),
            update_mask: mask.map(|paths| FieldMask {
                paths: paths.into_iter().map(str::to_owned).collect(),
            }),
        })
    };
    let list_brands = |page_size, page_token: &str| {
        Rpc::ListBrands(ListBrandsRequest {
            page_size,
            page_token: page_token.into(),
        })
    };
    let list_users = |page_size, page_token: &str| {
        Rpc::ListUsers(ListUsersRequest {
            page_size,
            page_token: page_token.into(),
        })
    };
    vec![
        // Ids.
        invalid(
            "brand id not a uuid",
            Rpc::GetBrand(GetBrandRequest {
                brand_id: "not-a-uuid".into(),
            }),
            &["brand_id"],
        ),
        invalid(
            "brand id empty",
            Rpc::GetBrand(GetBrandRequest {
                brand_id: String::new(),
            }),
            &["brand_id"],
        ),
        invalid(
            "delete: brand id not a uuid",
            Rpc::DeleteBrand(DeleteBrandRequest {
                brand_id: "1234".into(),
            }),
            &["brand_id"],
        ),
        invalid(
            "deactivate: user id not a uuid",
            Rpc::DeactivateUser(DeactivateUserRequest {
                user_id: "x".into(),
            }),
            &["user_id"],
        ),
        invalid(
            "revoke: api key id not a uuid",
            Rpc::RevokeApiKey(RevokeApiKeyRequest {
                api_key_id: "x".into(),
            }),
            &["api_key_id"],
        ),
        // Create brand.
        invalid(
            "brand name blank",
            Rpc::CreateBrand(CreateBrandRequest {
                brand: brand(|b| b.name = "   ".into()),
                request_id: String::new(),
            }),
            &["brand.name"],
        ),
        invalid(
            "brand missing",
            Rpc::CreateBrand(CreateBrandRequest {
                brand: None,
                request_id: String::new(),
            }),
            &["brand"],
        ),
        invalid(
            "currency not ISO 4217",
            Rpc::CreateBrand(CreateBrandRequest {
                brand: brand(|b| b.currency_code = "dollars".into()),
                request_id: String::new(),
            }),
            &["brand.currency_code"],
        ),
        invalid(
            "unknown time zone",
            Rpc::CreateBrand(CreateBrandRequest {
                brand: brand(|b| b.time_zone = "Mars/Base".into()),
                request_id: String::new(),
            }),
            &["brand.time_zone"],
        ),
        invalid(
            "create brand: request id too long",
            Rpc::CreateBrand(CreateBrandRequest {
                brand: brand(|_| {}),
                request_id: too_long_request_id.clone(),
            }),
            &["request_id"],
        ),
        // Update brand.
        invalid(
            "update mask names a field that cannot change",
            update(existing_brand_id, "x", Some(vec!["owner_id"])),
            &["update_mask.paths"],
        ),
        invalid(
            "update mask missing",
            update(existing_brand_id, "", None),
            &["update_mask"],
        ),
        invalid(
            "update: brand id not a uuid",
            update("nope", "x", Some(vec!["name"])),
            &["brand.brand_id"],
        ),
        // Pages.
        invalid(
            "brands: page too big",
            list_brands(1000, ""),
            &["page_size"],
        ),
        invalid(
            "brands: negative page size",
            list_brands(-1, ""),
            &["page_size"],
        ),
        invalid(
            "brands: forged page token",
            list_brands(10, "forged-token"),
            &["page_token"],
        ),
        invalid("users: page too big", list_users(101, ""), &["page_size"]),
        invalid(
            "users: negative page size",
            list_users(-5, ""),
            &["page_size"],
        ),
        invalid(
            "users: malformed page token",
            list_users(10, "%%%not-base64%%%"),
            &["page_token"],
        ),
        invalid(
            "api keys: malformed page token",
            Rpc::ListApiKeys(ListApiKeysRequest {
                page_size: 10,
                page_token: "forged-token".into(),
            }),
            &["page_token"],
        ),
        // Dates.
        invalid(
            "February 30",
            Rpc::GetPortfolio(GetPortfolioRequest { date_range: feb_30 }),
            &["date_range.start_date"],
        ),
        invalid(
            "date range missing",
            Rpc::GetPortfolio(GetPortfolioRequest { date_range: None }),
            &["date_range"],
        ),
        // Users and keys.
        invalid(
            "email malformed",
            create_user(|r| r.email = "bad".into()),
            &["email"],
        ),
        invalid("role unspecified", create_user(|r| r.role = 0), &["role"]),
        invalid(
            "create user: request id too long",
            create_user(|r| r.request_id = too_long_request_id.clone()),
            &["request_id"],
        ),
        invalid(
            "create api key: request id too long",
            Rpc::CreateApiKey(CreateApiKeyRequest {
                name: "ci".into(),
                request_id: too_long_request_id.clone(),
            }),
            &["request_id"],
        ),
        // Public RPCs.
        invalid(
            "sign up: every bad field at once",
            Rpc::SignUp(SignUpRequest {
                tenant_name: String::new(),
                email: "x".into(),
                password: "short".into(),
                display_name: String::new(),
            }),
            &["tenant_name", "email", "password"],
        ),
        invalid(
            "login: every bad field at once",
            Rpc::Login(LoginRequest {
                email: String::new(),
                password: String::new(),
                tenant_id: "zzz".into(),
            }),
            &["email", "password", "tenant_id"],
        ),
    ]
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let token = &tenant.admin_token;
    let existing = create_brand(&stack, token, "Real").await;
    let mut clients = Clients {
        brands: stack.brands().await.expect("client"),
        auth: stack.auth().await.expect("client"),
    };

    for case in cases(&existing.brand_id) {
        let label = case.label;
        let status = case
            .rpc
            .send(&mut clients, token)
            .await
            .expect_err(&format!("{label}: accepted"));
        assert_eq!(status.code(), case.code, "{label}: {status:?}");
        assert_eq!(
            pp_error::field_violations(&status),
            case.fields,
            "{label}: the fields named"
        );
        assert_eq!(
            status.message(),
            format!("invalid argument: {}", case.fields.join(", ")),
            "{label}: the message names the fields and nothing else"
        );
    }
}

#[tokio::test]
async fn oversized_messages_are_refused_not_crashed() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut brands = stack.brands().await.expect("client");
    let huge = "x".repeat(2 * 1024 * 1024); // the test servers accept at most 1 MiB
    let result = brands
        .create_brand(authed(
            &tenant.admin_token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: huge,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    let status = result.expect_err("oversized message accepted");
    assert!(
        matches!(
            status.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{status:?}"
    );
    // The server is still fine.
    brands
        .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
        .await
        .expect("still serving");
}
