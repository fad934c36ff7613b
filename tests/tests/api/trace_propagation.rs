//! One trace follows a request from the gateway to the service behind it, and on
//! through the outbox and Pub/Sub to the observability store.
//!
//! An in-test OTLP receiver (the real opentelemetry-proto TraceService over gRPC)
//! gets the spans the servers export. nextest runs each test in its own process, so
//! this test may install the process-wide telemetry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use pp_proto::brands::brand_service_client::BrandServiceClient;
use pp_proto::brands::{Brand, CreateBrandRequest, ListBrandsRequest};

use crate::support::*;

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self
            .spans
            .lock()
            .map_err(|_| tonic::Status::internal("poisoned"))?;
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP receiver on a free port, and this process's telemetry exporting to it.
async fn start_receiver() -> (Receiver, pp_telemetry::TelemetryGuard) {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = receiver.clone();
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(server))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    let telemetry = pp_telemetry::init(&pp_telemetry::TelemetryConfig {
        service_name: "pulsepoint-test".into(),
        log_format: "json".into(),
        otlp_endpoint: Some(format!("http://{addr}")),
    })
    .expect("telemetry (this test needs its own process: run it with nextest)");
    (receiver, telemetry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_the_gateway_is_one_trace() {
    let (receiver, telemetry) = start_receiver().await;

    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Traced").await;
    let channel = pulsepoint_e2e::channel(stack.gateway_addr)
        .await
        .expect("gateway");
    BrandServiceClient::new(channel)
        .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
        .await
        .expect("list via gateway");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(telemetry); // flushes the batch exporter

    let spans = receiver.spans.lock().expect("spans").clone();
    let list: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "/pulsepoint.brands.v1.BrandService/ListBrands")
        .collect();
    assert!(
        list.len() >= 2,
        "gateway and brands spans expected, got {}: {:?}",
        list.len(),
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let trace_id = &list[0].trace_id;
    assert!(
        list.iter().all(|s| &s.trace_id == trace_id),
        "all spans of the request share one trace id"
    );
    let gateway = list
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("the gateway span is the root");
    let brands = list
        .iter()
        .find(|s| s.parent_span_id == gateway.span_id)
        .expect("the brands span is the gateway span's child");
    assert_ne!(brands.span_id, gateway.span_id);
}

/// CreateBrand through the gateway: the gateway span, the brands span, and — after
/// the outbox, the relay and the Pub/Sub emulator — the observability span storing
/// `brand.created`, all in one trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_the_gateway_is_one_trace_into_the_event_store() {
    let (receiver, telemetry) = start_receiver().await;
    let emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let stack = spawn_stack(StackOptions {
        pubsub_emulator: Some(emulator.host()),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Traced").await;
    let channel = pulsepoint_e2e::channel(stack.gateway_addr)
        .await
        .expect("gateway");
    let brand = BrandServiceClient::new(channel)
        .create_brand(authed(
            &tenant.admin_token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: "Traced brand".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create via gateway")
        .into_inner()
        .brand
        .expect("brand");

    // Wait for the event to be stored (relay → emulator → subscriber).
    let events = wait_for_events(&stack, &tenant.admin_token, &["brand.created"], |events| {
        events.iter().any(|e| e.brand_id == brand.brand_id)
    })
    .await;
    let stored = events.iter().any(|e| e.brand_id == brand.brand_id);
    assert!(stored, "brand.created reached the store");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(telemetry); // flushes the batch exporter

    let spans = receiver.spans.lock().expect("spans").clone();
    let create: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "/pulsepoint.brands.v1.BrandService/CreateBrand")
        .collect();
    let gateway = create
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("the gateway span is the root");
    let brands = create
        .iter()
        .find(|s| s.parent_span_id == gateway.span_id)
        .expect("the brands span is the gateway span's child");
    let store = spans
        .iter()
        .find(|s| {
            s.name == "observability.store_event"
                && s.attributes.iter().any(|a| {
                    a.key == "event.type" && format!("{:?}", a.value).contains("brand.created")
                })
        })
        .unwrap_or_else(|| {
            panic!(
                "no store span for brand.created; spans: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        store.trace_id, gateway.trace_id,
        "the store span is in the request's trace"
    );
    assert_eq!(
        store.parent_span_id, brands.span_id,
        "its parent is the brands span that recorded the event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_call_spans_carry_gen_ai_attributes_and_cost() {
    let (receiver, telemetry) = start_receiver().await;
    {
        let span = pp_telemetry::gen_ai_span("anthropic", "claude-sonnet-4-5", "chat");
        let _entered = span.enter();
        pp_telemetry::record_gen_ai_usage(&span, "claude-sonnet-4-5-20250929", 1200, 340, 8_700);
    }
    drop(telemetry);
    let spans = receiver.spans.lock().expect("spans").clone();
    let span = spans
        .iter()
        .find(|s| s.name == "chat claude-sonnet-4-5")
        .expect("the model-call span");
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone())
            .unwrap_or_else(|| panic!("attribute {key} missing: {:?}", span.attributes))
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    assert_eq!(
        attribute("gen_ai.provider.name"),
        Value::StringValue("anthropic".into())
    );
    assert_eq!(
        attribute("gen_ai.request.model"),
        Value::StringValue("claude-sonnet-4-5".into())
    );
    assert_eq!(
        attribute("gen_ai.operation.name"),
        Value::StringValue("chat".into())
    );
    assert_eq!(
        attribute("gen_ai.usage.input_tokens"),
        Value::IntValue(1200)
    );
    assert_eq!(
        attribute("gen_ai.usage.output_tokens"),
        Value::IntValue(340)
    );
    assert_eq!(attribute("pulsepoint.cost_micros"), Value::IntValue(8_700));
}
