//! The gateway as a browser and as grpcurl see it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pp_proto::auth::auth_service_client::AuthServiceClient;
use pp_proto::auth::{GetJwksResponse, LoginRequest};
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::brands::{ListBrandsRequest, ListBrandsResponse};
use prost::Message;
use pulsepoint_e2e::ALLOWED_ORIGIN;
use tonic::Code;

use crate::support::*;

fn http1() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn grpc_web_frame(message: &impl Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Bytes::from(frame)
}

/// Splits a grpc-web response body into (messages, trailers text).
fn grpc_web_frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let mut messages = Vec::new();
    let mut trailers = String::new();
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = &body[5..5 + len];
        if flag & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(payload));
        } else {
            messages.push(payload.to_vec());
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

#[tokio::test]
async fn grpc_web_over_http1_reaches_the_backends() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    create_brand(&stack, &tenant.admin_token, "Via Gateway").await;
    let client = http1();
    let base = format!("http://{}", stack.gateway_addr);

    let request = http::Request::post(format!("{base}/pulsepoint.auth.v1.AuthService/GetJwks"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", ALLOWED_ORIGIN)
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .expect("request");
    let response = client.request(request).await.expect("http/1.1 call");
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        ALLOWED_ORIGIN
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let (messages, trailers) = grpc_web_frames(&body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let jwks = GetJwksResponse::decode(messages[0].as_slice()).expect("message");
    assert!(jwks.jwks_json.contains("Ed25519"));

    // An authenticated call, grpc-web all the way to brands.
    let request = http::Request::post(format!(
        "{base}/pulsepoint.brands.v1.BrandService/ListBrands"
    ))
    .header("content-type", "application/grpc-web+proto")
    .header("x-grpc-web", "1")
    .header("authorization", format!("Bearer {}", tenant.admin_token))
    .body(Full::new(grpc_web_frame(&ListBrandsRequest::default())))
    .expect("request");
    let body = client
        .request(request)
        .await
        .expect("call")
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let (messages, trailers) = grpc_web_frames(&body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let listed = ListBrandsResponse::decode(messages[0].as_slice()).expect("message");
    assert_eq!(listed.brands[0].name, "Via Gateway");

    // Without a token the backend's answer comes back through the gateway.
    let request = http::Request::post(format!(
        "{base}/pulsepoint.brands.v1.BrandService/ListBrands"
    ))
    .header("content-type", "application/grpc-web+proto")
    .body(Full::new(grpc_web_frame(&ListBrandsRequest::default())))
    .expect("request");
    let response = client.request(request).await.expect("call");
    let in_headers = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let (_, trailers) = grpc_web_frames(&body);
    assert!(
        in_headers.as_deref() == Some("16") || trailers.contains("grpc-status:16"),
        "{in_headers:?} {trailers}"
    );
}

#[tokio::test]
async fn cors_approves_only_listed_origins() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let client = http1();
    let preflight = |origin: &str| {
        http::Request::builder()
            .method("OPTIONS")
            .uri(format!(
                "http://{}/pulsepoint.auth.v1.AuthService/Login",
                stack.gateway_addr
            ))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-grpc-web,authorization",
            )
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    let allowed = client
        .request(preflight(ALLOWED_ORIGIN))
        .await
        .expect("preflight");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ALLOWED_ORIGIN
    );
    let refused = client
        .request(preflight("https://evil.example"))
        .await
        .expect("preflight");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        refused.headers()
    );
}

#[tokio::test]
async fn native_grpc_static_files_and_internal_rpcs() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let channel = pulsepoint_e2e::channel(stack.gateway_addr)
        .await
        .expect("channel");
    let login = AuthServiceClient::new(channel.clone())
        .login(LoginRequest {
            email: tenant.admin_email.clone(),
            password: PASSWORD.into(),
            tenant_id: String::new(),
        })
        .await
        .expect("login via gateway")
        .into_inner();
    let token = login.tokens.expect("tokens").access_token;
    BrandServiceClient::new(channel.clone())
        .list_brands(authed(&token, ListBrandsRequest::default()))
        .await
        .expect("list via gateway");

    let mut observability =
        pp_proto::observability::observability_service_client::ObservabilityServiceClient::new(
            channel.clone(),
        );
    observability
        .list_events(authed(&token, Default::default()))
        .await
        .expect("observability via gateway");
    let internal = observability
        .check_budget(authed(&token, Default::default()))
        .await;
    assert_code(internal, Code::Unimplemented);

    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let client = http1();
    for path in ["/", "/dashboard/brands"] {
        let response = client
            .request(
                http::Request::get(format!("http://{}{path}", stack.gateway_addr))
                    .body(Full::new(Bytes::new()))
                    .expect("request"),
            )
            .await
            .expect("static");
        assert_eq!(response.status(), 200, "{path}");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(
            String::from_utf8_lossy(&body).contains("<title>Pulsepoint</title>"),
            "{path}"
        );
    }
}
