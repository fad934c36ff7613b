//! What every server offers operators: health, reflection, limits, shutdown.

use std::time::Duration;

use pp_proto::auth::WhoAmIRequest;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

async fn health(addr: std::net::SocketAddr, service: &str) -> i32 {
    let channel = pulsepoint_e2e::channel(addr).await.expect("channel");
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status
}

#[tokio::test]
async fn health_and_reflection_v1_and_v1alpha() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    assert_eq!(
        health(stack.auth_addr, "pulsepoint.auth.v1.AuthService").await,
        ServingStatus::Serving as i32
    );
    assert_eq!(
        health(stack.brands_addr, "pulsepoint.brands.v1.BrandService").await,
        ServingStatus::Serving as i32
    );

    for addr in [stack.auth_addr, stack.brands_addr, stack.gateway_addr] {
        let channel = pulsepoint_e2e::channel(addr).await.expect("channel");
        // v1
        {
            use tonic_reflection::pb::v1::ServerReflectionRequest;
            use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut stream = ServerReflectionClient::new(channel.clone())
                .server_reflection_info(tokio_stream::iter(vec![request]))
                .await
                .expect("v1")
                .into_inner();
            let response = stream.next().await.expect("answer").expect("ok");
            let Some(MessageResponse::ListServicesResponse(list)) = response.message_response
            else {
                panic!("unexpected")
            };
            let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            assert!(
                names.contains(&"grpc.health.v1.Health".to_owned()),
                "{names:?}"
            );
            assert!(
                names.iter().any(|n| n.starts_with("pulsepoint.")),
                "{names:?}"
            );
        }
        // v1alpha (what grpcurl 1.8.6 speaks)
        {
            use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
            use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "pulsepoint.brands.v1.BrandService".into(),
                )),
            };
            let mut stream = ServerReflectionClient::new(channel)
                .server_reflection_info(tokio_stream::iter(vec![request]))
                .await
                .expect("v1alpha")
                .into_inner();
            let response = stream.next().await.expect("answer").expect("ok");
            let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response
            else {
                panic!("unexpected")
            };
            assert!(!files.file_descriptor_proto.is_empty());
        }
    }
}

#[tokio::test]
async fn per_user_rate_limit_answers_resource_exhausted_with_retry_info() {
    let options = StackOptions {
        user_rate_per_sec: 3,
        ..StackOptions::default()
    };
    let stack = spawn_stack(options).await.expect("stack");
    let tenant = sign_up(&stack, "Busy").await;
    let mut auth = stack.auth().await.expect("client");
    let mut limited = None;
    for _ in 0..20 {
        if let Err(status) = auth
            .who_am_i(authed(&tenant.admin_token, WhoAmIRequest {}))
            .await
        {
            limited = Some(status);
            break;
        }
    }
    let status = limited.expect("the limit is reached within 20 calls");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        pp_error::error_reason(&status).as_deref(),
        Some("USER_RATE_LIMITED")
    );
    assert!(pp_error::retry_delay(&status).is_some_and(|d| d > Duration::ZERO));
    // Another user of the same tenant has their own budget.
    let other = sign_up(&stack, "Quiet").await;
    auth.who_am_i(authed(&other.admin_token, WhoAmIRequest {}))
        .await
        .expect("other user unaffected");
}

#[tokio::test]
async fn health_flips_to_not_serving_on_shutdown() {
    let options = StackOptions {
        shutdown_delay: Duration::from_secs(2),
        ..StackOptions::default()
    };
    let mut stack = spawn_stack(options).await.expect("stack");
    assert_eq!(
        health(stack.brands_addr, "").await,
        ServingStatus::Serving as i32
    );
    stack.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        health(stack.brands_addr, "").await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health(stack.brands_addr, "pulsepoint.brands.v1.BrandService").await,
        ServingStatus::NotServing as i32
    );
}

#[tokio::test]
async fn a_stopped_service_has_written_its_last_api_events() {
    let mut stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    stack
        .brands()
        .await
        .expect("client")
        .list_brands(authed(&tenant.admin_token, Default::default()))
        .await
        .expect("list");
    // The writer batches for 200 ms; a service that stops sooner must still flush.
    stack.stop().await;
    let recorded = brands_api_events(&stack, &tenant).await;
    assert_eq!(recorded, 1, "the ListBrands call's api.request event");
}

#[tokio::test]
async fn calls_refused_by_the_rate_limiter_write_no_events() {
    let mut stack = spawn_stack(StackOptions {
        user_rate_per_sec: 1,
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut brands = stack.brands().await.expect("client");
    let mut admitted = 0;
    for _ in 0..6 {
        match brands
            .list_brands(authed(&tenant.admin_token, Default::default()))
            .await
        {
            Ok(_) => admitted += 1,
            Err(status) => assert_eq!(status.code(), Code::ResourceExhausted),
        }
    }
    assert!(admitted < 6, "the limiter refused some of 6 calls at once");
    stack.stop().await;
    let recorded = brands_api_events(&stack, &tenant).await;
    assert_eq!(
        recorded, admitted,
        "one api.request event per admitted call, none for refused ones"
    );
}
