//! Events: a state change and its event commit together; a relay moves them to
//! Google Pub/Sub; a broker outage delays events and never loses them.
//!
//! - [`outbox::record`]: writes an event into the service's `outbox` table inside the
//!   caller's [`pp_db::TenantTx`] — the same transaction as the change it reports.
//! - [`relay::Relay`]: leases unsent rows with `FOR UPDATE SKIP LOCKED` (any number
//!   of replicas can run it), publishes them (ordering key = tenant id, attributes
//!   `event_type` and `tenant_id`, client batching on), marks them sent, and backs off
//!   while the broker is away. A crash between publish and mark re-publishes the rows
//!   after their lease ends: consumers are idempotent by event id.
//! - [`pubsub`]: clients built for an endpoint (the emulator locally) and the
//!   idempotent topic/subscription bootstrap.

pub mod consumer;
pub mod envelope;
pub mod outbox;
pub mod pubsub;
pub mod relay;

pub use envelope::EventEnvelope;
pub use outbox::{OUTBOX_BATCH_MIGRATION, OUTBOX_MIGRATION, OUTBOX_TRACEPARENT_MIGRATION};
pub use pubsub::PubSubConfig;
pub use relay::{Relay, RelayConfig};
