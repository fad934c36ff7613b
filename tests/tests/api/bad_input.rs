//! Malformed requests get INVALID_ARGUMENT naming the field, never a panic or a 500.

use pp_proto::auth::*;
use pp_proto::brands::*;
use pp_proto::common::{Date, DateRange};
use prost_types::FieldMask;

use crate::support::*;

#[tokio::test]
async fn every_bad_field_is_named() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let token = &tenant.admin_token;
    let mut brands = stack.brands().await.expect("client");
    let mut auth = stack.auth().await.expect("client");

    assert_invalid(
        brands
            .get_brand(authed(
                token,
                GetBrandRequest {
                    brand_id: "not-a-uuid".into(),
                },
            ))
            .await,
        "brand_id",
    );
    assert_invalid(
        brands
            .get_brand(authed(
                token,
                GetBrandRequest {
                    brand_id: String::new(),
                },
            ))
            .await,
        "brand_id",
    );
    assert_invalid(
        brands
            .delete_brand(authed(
                token,
                DeleteBrandRequest {
                    brand_id: "1234".into(),
                },
            ))
            .await,
        "brand_id",
    );
    assert_invalid(
        brands
            .create_brand(authed(
                token,
                CreateBrandRequest {
                    brand: Some(Brand {
                        name: "   ".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await,
        "brand.name",
    );
    assert_invalid(
        brands
            .create_brand(authed(
                token,
                CreateBrandRequest {
                    brand: None,
                    request_id: String::new(),
                },
            ))
            .await,
        "brand",
    );
    assert_invalid(
        brands
            .create_brand(authed(
                token,
                CreateBrandRequest {
                    brand: Some(Brand {
                        name: "A".into(),
                        currency_code: "dollars".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await,
        "brand.currency_code",
    );
    assert_invalid(
        brands
            .create_brand(authed(
                token,
                CreateBrandRequest {
                    brand: Some(Brand {
                        name: "A".into(),
                        time_zone: "Mars/Base".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await,
        "brand.time_zone",
    );
    assert_invalid(
        brands
            .list_brands(authed(
                token,
                ListBrandsRequest {
                    page_size: 1000,
                    page_token: String::new(),
                },
            ))
            .await,
        "page_size",
    );
    assert_invalid(
        brands
            .list_brands(authed(
                token,
                ListBrandsRequest {
                    page_size: -1,
                    page_token: String::new(),
                },
            ))
            .await,
        "page_size",
    );
    assert_invalid(
        brands
            .list_brands(authed(
                token,
                ListBrandsRequest {
                    page_size: 10,
                    page_token: "forged-token".into(),
                },
            ))
            .await,
        "page_token",
    );
    let brand = create_brand(&stack, token, "Real").await;
    assert_invalid(
        brands
            .update_brand(authed(
                token,
                UpdateBrandRequest {
                    brand: Some(Brand {
                        brand_id: brand.brand_id.clone(),
                        name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["owner_id".into()],
                    }),
                },
            ))
            .await,
        "update_mask.paths",
    );
    assert_invalid(
        brands
            .update_brand(authed(
                token,
                UpdateBrandRequest {
                    brand: Some(Brand {
                        brand_id: brand.brand_id.clone(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
            ))
            .await,
        "update_mask",
    );
    assert_invalid(
        brands
            .update_brand(authed(
                token,
                UpdateBrandRequest {
                    brand: Some(Brand {
                        brand_id: "nope".into(),
                        name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["name".into()],
                    }),
                },
            ))
            .await,
        "brand.brand_id",
    );
    let bad_range = Some(DateRange {
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
    assert_invalid(
        brands
            .get_portfolio(authed(
                token,
                GetPortfolioRequest {
                    date_range: bad_range,
                },
            ))
            .await,
        "date_range.start_date",
    );
    assert_invalid(
        brands
            .get_portfolio(authed(token, GetPortfolioRequest { date_range: None }))
            .await,
        "date_range",
    );

    assert_invalid(
        auth.deactivate_user(authed(
            token,
            DeactivateUserRequest {
                user_id: "x".into(),
            },
        ))
        .await,
        "user_id",
    );
    assert_invalid(
        auth.revoke_api_key(authed(
            token,
            RevokeApiKeyRequest {
                api_key_id: "x".into(),
            },
        ))
        .await,
        "api_key_id",
    );
    assert_invalid(
        auth.list_users(authed(
            token,
            ListUsersRequest {
                page_size: 101,
                page_token: String::new(),
            },
        ))
        .await,
        "page_size",
    );
    assert_invalid(
        auth.create_user(authed(
            token,
            CreateUserRequest {
                email: "bad".into(),
                display_name: "x".into(),
                role: 2,
                password: PASSWORD.into(),
                request_id: String::new(),
            },
        ))
        .await,
        "email",
    );
    assert_invalid(
        auth.create_user(authed(
            token,
            CreateUserRequest {
                email: "a@b.co".into(),
                display_name: "x".into(),
                role: 0,
                password: PASSWORD.into(),
                request_id: String::new(),
            },
        ))
        .await,
        "role",
    );
    let signup = auth
        .sign_up(SignUpRequest {
            tenant_name: String::new(),
            email: "x".into(),
            password: "short".into(),
            display_name: String::new(),
        })
        .await;
    let status = assert_code(signup, tonic::Code::InvalidArgument);
    let fields = pp_error::field_violations(&status);
    assert_eq!(fields, vec!["tenant_name", "email", "password"]);
    assert_invalid(
        auth.login(LoginRequest {
            email: String::new(),
            password: String::new(),
            tenant_id: "zzz".into(),
        })
        .await,
        "tenant_id",
    );
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
