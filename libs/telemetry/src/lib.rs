//! Logs and traces: `tracing` everywhere, JSON logs in production, and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP/gRPC with W3C trace
//! context propagated through gRPC metadata.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes exported spans when dropped (keep it alive in `main`).
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    /// Flushes buffered log lines on drop.
    _logs: tracing_appender::non_blocking::WorkerGuard,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("otel shutdown: {err}");
        }
    }
}

/// Settings read by [`init`].
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    pub service_name: String,
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`. Off when `None`.
    pub otlp_endpoint: Option<String>,
}

/// Installs the global subscriber. Call once, at the start of `main`.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, Box<dyn std::error::Error>> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Log lines are written by a background thread: a request never waits on stdout.
    // When the buffer is full, lines are dropped rather than slowing requests down.
    let (writer, logs_guard) = tracing_appender::non_blocking(std::io::stdout());
    let fmt = if config.log_format == "pretty" {
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed()
    };

    let mut provider = None;
    let otel_layer = match &config.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(config.service_name.clone())
                .build();
            let sdk = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build();
            let tracer = sdk.tracer(config.service_name.clone());
            opentelemetry::global::set_tracer_provider(sdk.clone());
            provider = Some(sdk);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard {
        provider,
        _logs: logs_guard,
    })
}

/// Reads W3C trace context from request headers (gRPC metadata).
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes W3C trace context into request headers.
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the trace context found in `headers` (if any).
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}

/// Writes the context of `span` into `headers` as `traceparent`.
pub fn inject_span_context(span: &tracing::Span, headers: &mut http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// The W3C `traceparent` of the current span, when it belongs to an exported trace
/// (`None` without OpenTelemetry or outside any span): carried with an event through
/// the outbox and Pub/Sub, so its consumers join the request's trace.
pub fn current_traceparent() -> Option<String> {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::<String, String>::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier)
    });
    carrier.remove("traceparent")
}

/// Makes `span` a child of a W3C `traceparent` value (as carried by an event).
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let _ = span.set_parent(parent);
}

/// A span for one model call, named and attributed per the OpenTelemetry GenAI
/// semantic conventions (`gen_ai.*`), plus Pulsepoint's cost. Record the usage with
/// [`record_gen_ai_usage`] when the response arrives.
pub fn gen_ai_span(provider: &str, model: &str, operation: &str) -> tracing::Span {
    tracing::info_span!(
        "gen_ai",
        otel.name = %format!("{operation} {model}"),
        otel.kind = "client",
        gen_ai.provider.name = %provider,
        // The older name of the provider attribute, for backends that still read it.
        gen_ai.system = %provider,
        gen_ai.operation.name = %operation,
        gen_ai.request.model = %model,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        pulsepoint.cost_micros = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records how a model call on a [`gen_ai_span`] ended: the model's stop reason when
/// it gave one (`end_turn`, `tool_use`, …), and the failure (`timeout`, `overloaded`, …)
/// when the call failed.
pub fn record_gen_ai_outcome(
    span: &tracing::Span,
    finish_reason: Option<&str>,
    error_type: Option<&str>,
) {
    if let Some(reason) = finish_reason {
        span.record("gen_ai.response.finish_reasons", reason);
    }
    if let Some(error) = error_type {
        span.record("error.type", error);
    }
}

/// Records what a model call used on its [`gen_ai_span`].
pub fn record_gen_ai_usage(
    span: &tracing::Span,
    response_model: &str,
    input_tokens: i64,
    output_tokens: i64,
    cost_micros: i64,
) {
    span.record("gen_ai.response.model", response_model);
    span.record("gen_ai.usage.input_tokens", input_tokens);
    span.record("gen_ai.usage.output_tokens", output_tokens);
    span.record("pulsepoint.cost_micros", cost_micros);
}
