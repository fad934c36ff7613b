//! Closed-loop load: `concurrency` workers, each issuing one unary call after another,
//! spread round-robin over `connections` connections. Latencies go into HDR
//! histograms (1 µs – 60 s, 3 significant digits). Only calls that complete inside the
//! measured window (after the warm-up) count; server and database CPU are read from
//! `/proc` at the window's edges.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use hdrhistogram::Histogram;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pp_proto::brands::GetBrandRequest;
use pp_proto::brands::brand_service_client::BrandServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic_web::{GrpcWebCall, GrpcWebClientLayer, GrpcWebClientService};

use anyhow::Context;
use pp_proto::common::DateRange;
use pp_proto::insights::insights_service_client::InsightsServiceClient;
use pp_proto::insights::{AskQuestionRequest, GetDashboardRequest};

use super::ask::AskTarget;
use super::cpu;
use super::dashboard::SqlTarget;
use super::echo_pb::EchoRequest;
use super::echo_pb::echo_service_client::EchoServiceClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rpc {
    /// bench EchoService/Echo over native gRPC (HTTP/2).
    Echo,
    /// BrandService/GetBrand over native gRPC (HTTP/2).
    GetBrand,
    /// BrandService/GetBrand as grpc-web over HTTP/1.1 (for the gateway).
    GetBrandWeb,
    /// InsightsService/GetDashboard over native gRPC, `--start`..=`--end`.
    GetDashboard,
    /// GetDashboard's own SQL in-process (`--database-url`, `--tenant-id`).
    DashboardSql,
    /// GetDashboard's figures by a raw scan of `commerce.*`, in-process.
    DashboardRaw,
    /// InsightsService/AskQuestion over native gRPC, the bench questions in turn.
    AskQuestion,
    /// AskQuestion's planner and metric-engine SQL in-process.
    AskSql,
    /// The planner's own work in-process (parse and write; no SQL).
    AskPlanner,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// e.g. http://127.0.0.1:50052
    #[arg(long)]
    pub target: String,
    #[arg(long, value_enum)]
    pub rpc: Rpc,
    /// HTTP/2 connections the workers share (grpc-web over HTTP/1.1 has one call per
    /// connection at a time, so there it is one pool per `connections`, growing to
    /// `concurrency` connections in all).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Calls in flight at any time (closed loop).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Unmeasured seconds first (connections, caches, pools warm up).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Bearer token sent on every call (optional for echo).
    #[arg(long, default_value = "")]
    pub token: String,
    #[arg(long, default_value = "")]
    pub brand_id: String,
    /// Echo payload size.
    #[arg(long, default_value_t = 64)]
    pub payload_bytes: usize,
    /// Server processes whose CPU is charged to the requests (repeatable).
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Also report the CPU of every process with this name (e.g. postgres).
    #[arg(long)]
    pub db_comm: Option<String>,
    /// First day of the dashboard rows' period (YYYY-MM-DD).
    #[arg(long)]
    pub start: Option<chrono::NaiveDate>,
    /// Last day of the dashboard rows' period.
    #[arg(long)]
    pub end: Option<chrono::NaiveDate>,
    /// The in-process dashboard rows' connection (the insights role).
    #[arg(long, default_value = "")]
    pub database_url: String,
    /// The tenant of `--brand-id`, for the in-process dashboard rows.
    #[arg(long)]
    pub tenant_id: Option<uuid::Uuid>,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    pub label: String,
}

type WebClient =
    BrandServiceClient<GrpcWebClientService<Client<HttpConnector, GrpcWebCall<tonic::body::Body>>>>;

#[derive(Clone)]
enum Caller {
    Echo(EchoServiceClient<Channel>, bytes::Bytes),
    GetBrand(BrandServiceClient<Channel>),
    Web(Box<WebClient>),
    Dashboard(InsightsServiceClient<Channel>, DateRange),
    DashboardSql(Arc<SqlTarget>),
    DashboardRaw(Arc<SqlTarget>),
    Ask(InsightsServiceClient<Channel>, Arc<AtomicUsize>),
    AskSql(Arc<AskTarget>),
    AskPlanner(Arc<AskTarget>),
}

pub async fn connect_channel(url: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_str(url)?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(anyhow::anyhow!("connect {url}: {err}")),
        }
    }
}

impl Caller {
    async fn call(
        &mut self,
        auth: Option<&MetadataValue<tonic::metadata::Ascii>>,
        brand_id: &str,
    ) -> Result<(), tonic::Status> {
        fn request<T>(
            message: T,
            auth: Option<&MetadataValue<tonic::metadata::Ascii>>,
        ) -> tonic::Request<T> {
            let mut request = tonic::Request::new(message);
            if let Some(value) = auth {
                request
                    .metadata_mut()
                    .insert("authorization", value.clone());
            }
            request
        }
        match self {
            Caller::Echo(client, payload) => {
                let response = client
                    .echo(request(
                        EchoRequest {
                            payload: payload.to_vec(),
                        },
                        auth,
                    ))
                    .await?;
                if response.get_ref().payload.len() != payload.len() {
                    return Err(tonic::Status::data_loss("echo payload differs"));
                }
            }
            Caller::GetBrand(client) => {
                let response = client
                    .get_brand(request(
                        GetBrandRequest {
                            brand_id: brand_id.to_owned(),
                        },
                        auth,
                    ))
                    .await?;
                if response.get_ref().brand.is_none() {
                    return Err(tonic::Status::data_loss("no brand in response"));
                }
            }
            Caller::Dashboard(client, range) => {
                let response = client
                    .get_dashboard(request(
                        GetDashboardRequest {
                            brand_id: brand_id.to_owned(),
                            date_range: Some(*range),
                            ..Default::default()
                        },
                        auth,
                    ))
                    .await?;
                if response.get_ref().kpis.is_empty() {
                    return Err(tonic::Status::data_loss("no KPIs in response"));
                }
            }
            Caller::Ask(client, turn) => {
                let text = super::ask::question(turn.fetch_add(1, Ordering::Relaxed));
                let response = client
                    .ask_question(request(
                        AskQuestionRequest {
                            brand_id: brand_id.to_owned(),
                            text: text.to_owned(),
                            ..Default::default()
                        },
                        auth,
                    ))
                    .await?;
                let answerable = response
                    .get_ref()
                    .question
                    .as_ref()
                    .and_then(|q| q.answer.as_ref())
                    .is_some_and(|a| a.answerable);
                if !answerable {
                    return Err(tonic::Status::data_loss(format!("{text:?} not answered")));
                }
            }
            Caller::AskSql(target) => {
                target
                    .sql()
                    .await
                    .map_err(|err| tonic::Status::internal(format!("{err:#}")))?;
            }
            Caller::AskPlanner(target) => {
                target
                    .planner()
                    .map_err(|err| tonic::Status::internal(format!("{err:#}")))?;
                // Synchronous work: yield, so the timer that ends the window can run.
                tokio::task::yield_now().await;
            }
            Caller::DashboardSql(target) => {
                target
                    .engine()
                    .await
                    .map_err(|err| tonic::Status::internal(format!("{err:#}")))?;
            }
            Caller::DashboardRaw(target) => {
                target
                    .raw_values()
                    .await
                    .map_err(|err| tonic::Status::internal(format!("{err:#}")))?;
            }
            Caller::Web(client) => {
                let response = client
                    .get_brand(request(
                        GetBrandRequest {
                            brand_id: brand_id.to_owned(),
                        },
                        auth,
                    ))
                    .await?;
                if response.get_ref().brand.is_none() {
                    return Err(tonic::Status::data_loss("no brand in response"));
                }
            }
        }
        Ok(())
    }
}

/// The dashboard rows' period.
fn period(args: &LoadArgs) -> anyhow::Result<(chrono::NaiveDate, chrono::NaiveDate)> {
    match (args.start, args.end) {
        (Some(start), Some(end)) => Ok((start, end)),
        _ => anyhow::bail!("--start and --end are required for {:?}", args.rpc),
    }
}

fn wire_date(day: chrono::NaiveDate) -> pp_proto::common::Date {
    use chrono::Datelike;
    pp_proto::common::Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

async fn callers(args: &LoadArgs) -> anyhow::Result<Vec<Caller>> {
    if matches!(args.rpc, Rpc::AskSql | Rpc::AskPlanner) {
        let tenant = args.tenant_id.context("--tenant-id is required")?;
        let brand = args.brand_id.parse().context("--brand-id")?;
        let size = u32::try_from(args.concurrency.max(1)).unwrap_or(u32::MAX);
        let target = AskTarget::connect(&args.database_url, size, tenant, brand).await?;
        return Ok(vec![if args.rpc == Rpc::AskSql {
            Caller::AskSql(target)
        } else {
            Caller::AskPlanner(target)
        }]);
    }
    if matches!(args.rpc, Rpc::DashboardSql | Rpc::DashboardRaw) {
        let tenant = args.tenant_id.context("--tenant-id is required")?;
        let brand = args.brand_id.parse().context("--brand-id")?;
        let size = u32::try_from(args.concurrency.max(1)).unwrap_or(u32::MAX);
        let target =
            SqlTarget::connect(&args.database_url, size, tenant, brand, period(args)?).await?;
        let caller = if args.rpc == Rpc::DashboardSql {
            Caller::DashboardSql(target)
        } else {
            Caller::DashboardRaw(target)
        };
        return Ok(vec![caller]);
    }
    let mut out = Vec::new();
    for _ in 0..args.connections.max(1) {
        let caller = match args.rpc {
            Rpc::Echo => Caller::Echo(
                EchoServiceClient::new(connect_channel(&args.target).await?)
                    .max_decoding_message_size(64 * 1024 * 1024),
                bytes::Bytes::from(vec![b'x'; args.payload_bytes]),
            ),
            Rpc::GetBrand => Caller::GetBrand(BrandServiceClient::new(
                connect_channel(&args.target).await?,
            )),
            Rpc::GetDashboard => {
                let (start, end) = period(args)?;
                Caller::Dashboard(
                    InsightsServiceClient::new(connect_channel(&args.target).await?)
                        .max_decoding_message_size(64 * 1024 * 1024),
                    DateRange {
                        start_date: Some(wire_date(start)),
                        end_date: Some(wire_date(end)),
                    },
                )
            }
            Rpc::AskQuestion => Caller::Ask(
                InsightsServiceClient::new(connect_channel(&args.target).await?)
                    .max_decoding_message_size(64 * 1024 * 1024),
                Arc::new(AtomicUsize::new(0)),
            ),
            Rpc::DashboardSql | Rpc::DashboardRaw | Rpc::AskSql | Rpc::AskPlanner => {
                anyhow::bail!("in-process callers are built above")
            }
            Rpc::GetBrandWeb => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                let client = Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(60))
                    .build(connector);
                let service = tower::ServiceBuilder::new()
                    .layer(GrpcWebClientLayer::new())
                    .service(client);
                Caller::Web(Box::new(BrandServiceClient::with_origin(
                    service,
                    http::Uri::from_str(&args.target)?,
                )))
            }
        };
        out.push(caller);
    }
    Ok(out)
}

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

struct WorkerResult {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let auth = if args.token.is_empty() {
        None
    } else {
        Some(MetadataValue::try_from(format!("Bearer {}", args.token))?)
    };
    if !matches!(args.rpc, Rpc::Echo) && args.brand_id.is_empty() {
        anyhow::bail!("--brand-id is required for {:?}", args.rpc);
    }
    let callers = callers(&args).await?;
    // One call per connection first, so a misconfiguration fails loudly, not as 100% errors.
    for caller in &callers {
        caller
            .clone()
            .call(auth.as_ref(), &args.brand_id)
            .await
            .map_err(|status| anyhow::anyhow!("first call failed: {status}"))?;
    }

    let phase = Arc::new(AtomicU8::new(WARMING));
    let mut workers = Vec::new();
    for i in 0..args.concurrency.max(1) {
        let mut caller = callers[i % callers.len()].clone();
        let phase = phase.clone();
        let auth = auth.clone();
        let brand_id = args.brand_id.clone();
        workers.push(tokio::spawn(async move {
            let mut result = WorkerResult {
                histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
                errors: 0,
                first_error: None,
            };
            loop {
                let started = Instant::now();
                let outcome = caller.call(auth.as_ref(), &brand_id).await;
                let micros = started.elapsed().as_micros() as u64;
                match phase.load(Ordering::Relaxed) {
                    MEASURING => match outcome {
                        Ok(()) => result.histogram.saturating_record(micros.max(1)),
                        Err(status) => {
                            result.errors += 1;
                            if result.first_error.is_none() {
                                result.first_error = Some(status.to_string());
                            }
                        }
                    },
                    DONE => break,
                    _ => {}
                }
            }
            result
        }));
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let db_comm = args.db_comm.as_deref();
    let before = cpu::sample(&args.server_pids, db_comm);
    let window_start = Instant::now();
    phase.store(MEASURING, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    phase.store(DONE, Ordering::Relaxed);
    let elapsed = window_start.elapsed().as_secs_f64();
    let after = cpu::sample(&args.server_pids, db_comm);

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    let mut first_error = None;
    for worker in workers {
        let result = worker.await?;
        histogram.add(&result.histogram)?;
        errors += result.errors;
        first_error = first_error.or(result.first_error);
    }
    let count = histogram.len();
    let rps = count as f64 / elapsed;
    let tick = 1.0 / cpu::clock_ticks_per_sec();
    let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 * tick;
    let server_cpu = secs(before.server, after.server);
    let db_cpu = secs(before.db, after.db);
    let client_cpu = secs(before.client, after.client);
    let per_req = |cpu: f64| {
        if count > 0 {
            cpu * 1e6 / count as f64
        } else {
            0.0
        }
    };
    let output = serde_json::json!({
        "label": args.label,
        "rpc": format!("{:?}", args.rpc),
        "target": args.target,
        "connections": args.connections,
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "count": count,
        "errors": errors,
        "first_error": first_error,
        "rps": rps,
        "p50_us": histogram.value_at_quantile(0.50),
        "p90_us": histogram.value_at_quantile(0.90),
        "p99_us": histogram.value_at_quantile(0.99),
        "max_us": histogram.max(),
        "server_cpu_s": server_cpu,
        "server_cpu_util": server_cpu / elapsed,
        "server_cpu_us_per_req": if args.server_pids.is_empty() { serde_json::Value::Null } else { per_req(server_cpu).into() },
        "db_cpu_us_per_req": if db_comm.is_some() { per_req(db_cpu).into() } else { serde_json::Value::Null },
        "db_cpu_util": if db_comm.is_some() { (db_cpu / elapsed).into() } else { serde_json::Value::Null },
        "client_cpu_util": client_cpu / elapsed,
    });
    println!("{output}");
    Ok(())
}
