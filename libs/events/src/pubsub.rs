//! Pub/Sub clients and the idempotent bootstrap of topic and subscriptions.
//!
//! The crate does not read `PUBSUB_EMULATOR_HOST`; config does, and every client is
//! built with its endpoint and anonymous credentials. Without an emulator host the
//! clients use Google's endpoint and application-default credentials.

use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};

pub const DEFAULT_TOPIC: &str = "pulsepoint-events";

#[derive(Debug, Clone)]
pub struct PubSubConfig {
    pub project: String,
    pub topic: String,
    /// `host:port` of the emulator, from `PUBSUB_EMULATOR_HOST`.
    pub emulator_host: Option<String>,
    /// Subscriptions a relay creates with the topic on the emulator, so nothing it
    /// publishes before their consumers start is lost (`PULSEPOINT_PUBSUB_SUBSCRIPTIONS`;
    /// on real Pub/Sub, deploy/pubsub/setup.sh creates them). The consumers name them;
    /// this crate does not know who they are.
    pub subscriptions: Vec<String>,
}

impl PubSubConfig {
    /// From `PULSEPOINT_PUBSUB_PROJECT` (+ `PULSEPOINT_PUBSUB_TOPIC`,
    /// `PUBSUB_EMULATOR_HOST`). `None` when no project is configured: events then stay
    /// in the outbox until a relay with a broker runs.
    pub fn from_source(source: &pp_config::Source) -> Option<Self> {
        let project = source.raw("PULSEPOINT_PUBSUB_PROJECT")?.to_owned();
        Some(PubSubConfig {
            project,
            topic: source.string("PULSEPOINT_PUBSUB_TOPIC", DEFAULT_TOPIC),
            emulator_host: source.raw("PUBSUB_EMULATOR_HOST").map(str::to_owned),
            subscriptions: source.list("PULSEPOINT_PUBSUB_SUBSCRIPTIONS"),
        })
    }

    pub fn emulator(host: impl Into<String>, project: impl Into<String>) -> Self {
        PubSubConfig {
            project: project.into(),
            topic: DEFAULT_TOPIC.into(),
            emulator_host: Some(host.into()),
            subscriptions: Vec::new(),
        }
    }

    /// The same, with `subscriptions` bootstrapped with the topic.
    pub fn with_subscriptions<S: Into<String>>(
        self,
        subscriptions: impl IntoIterator<Item = S>,
    ) -> Self {
        PubSubConfig {
            subscriptions: subscriptions.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    pub fn topic_path(&self) -> String {
        format!("projects/{}/topics/{}", self.project, self.topic)
    }

    pub fn subscription_path(&self, name: &str) -> String {
        format!("projects/{}/subscriptions/{name}", self.project)
    }

    fn endpoint(&self) -> Option<String> {
        self.emulator_host
            .as_ref()
            .map(|host| format!("http://{host}"))
    }
}

pub type BuildResult<T> = Result<T, String>;

pub async fn publisher(config: &PubSubConfig) -> BuildResult<Publisher> {
    let mut builder = Publisher::builder(config.topic_path())
        // Client batching: up to 1,000 messages (Pub/Sub's maximum per publish) or
        // 10 ms, whichever first. With an ordering key the client keeps one batch per
        // key in flight, so one tenant's throughput is a batch per round trip: large
        // batches are what lets a busy tenant's backlog drain.
        .set_message_count_threshold(1_000)
        .set_delay_threshold(std::time::Duration::from_millis(10));
    if let Some(endpoint) = config.endpoint() {
        builder = builder
            .with_endpoint(endpoint)
            .with_credentials(Anonymous::new().build());
    }
    builder.build().await.map_err(|err| err.to_string())
}

pub async fn subscriber(config: &PubSubConfig) -> BuildResult<Subscriber> {
    let mut builder = Subscriber::builder();
    if let Some(endpoint) = config.endpoint() {
        builder = builder
            .with_endpoint(endpoint)
            .with_credentials(Anonymous::new().build());
    }
    builder.build().await.map_err(|err| err.to_string())
}

fn already_exists(error: &google_cloud_pubsub::Error) -> bool {
    error
        .status()
        .is_some_and(|status| status.code == google_cloud_gax::error::rpc::Code::AlreadyExists)
}

/// Creates the topic and the given subscriptions unless they exist. Subscriptions are
/// unordered: their consumers are idempotent and order-insensitive, and an ordered
/// subscription hands out one ordering key (one tenant) a batch at a time. Messages keep
/// their ordering key for a consumer that subscribes with ordering on.
/// The emulator forgets both when it restarts, so the relay runs this at start-up and
/// whenever a publish finds the topic gone. Only the relay creates the topic, and it
/// creates the subscriptions before it publishes again: a message published to a
/// topic with no subscription yet would reach nobody.
pub async fn bootstrap(config: &PubSubConfig, subscriptions: &[&str]) -> BuildResult<()> {
    if config.emulator_host.is_none() {
        // Real Pub/Sub: topic and subscriptions are infrastructure (deploy/pubsub/), and
        // a publisher-only service account may not create them (GCP answers
        // PERMISSION_DENIED before checking existence).
        return Ok(());
    }
    let mut topics = TopicAdmin::builder();
    if let Some(endpoint) = config.endpoint() {
        topics = topics
            .with_endpoint(endpoint)
            .with_credentials(Anonymous::new().build());
    }
    let topics = topics.build().await.map_err(|err| err.to_string())?;
    match topics
        .create_topic()
        .set_name(config.topic_path())
        .send()
        .await
    {
        Ok(_) => tracing::info!(topic = %config.topic_path(), "topic created"),
        Err(err) if already_exists(&err) => {}
        Err(err) => return Err(err.to_string()),
    }
    ensure_subscriptions(config, subscriptions).await
}

/// Creates the subscriptions unless they exist; fails while the topic is missing.
pub async fn ensure_subscriptions(
    config: &PubSubConfig,
    subscriptions: &[&str],
) -> BuildResult<()> {
    if config.emulator_host.is_none() {
        return Ok(()); // provisioned by deploy/pubsub/, see `bootstrap`
    }
    let mut subs = SubscriptionAdmin::builder();
    if let Some(endpoint) = config.endpoint() {
        subs = subs
            .with_endpoint(endpoint)
            .with_credentials(Anonymous::new().build());
    }
    let subs = subs.build().await.map_err(|err| err.to_string())?;
    for name in subscriptions {
        let result = subs
            .create_subscription()
            .set_name(config.subscription_path(name))
            .set_topic(config.topic_path())
            .set_ack_deadline_seconds(30)
            .send()
            .await;
        match result {
            Ok(_) => tracing::info!(subscription = name, "subscription created"),
            Err(err) if already_exists(&err) => {}
            Err(err) => return Err(err.to_string()),
        }
    }
    Ok(())
}
