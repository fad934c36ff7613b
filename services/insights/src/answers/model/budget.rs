//! The AI cost budget, asked of the observability service (`CheckBudget`) before each
//! model call, with the caller's identity forwarded (`pp_auth::context::ForwardLayer`,
//! as [`crate::freshness`] does for integrations): observability applies the caller's
//! own tenant and brand scope.
//!
//! A budget caps cost; it is not a security boundary. When observability cannot be
//! reached in time (UNAVAILABLE, DEADLINE_EXCEEDED) the answer proceeds
//! ([`Budget::Unknown`], logged); any other refusal of the check counts as over budget
//! ([`Budget::Refused`]), so the planner answers and nothing is spent.

use std::time::Duration;

use pp_auth::context::{Forward, ForwardLayer};
use pp_proto::common::Money;
use pp_proto::observability::CheckBudgetRequest;
use pp_proto::observability::observability_service_client::ObservabilityServiceClient;
use tonic::transport::Channel;

/// The observability client every budget check goes through.
pub type ObservabilityClient = ObservabilityServiceClient<Forward<Channel>>;

/// How long a budget check may take before the answer proceeds without it.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A lazily connected client for `url` (`http://host:port`); `None` when `url` is not
/// a valid URI.
pub fn client(url: &str) -> Option<ObservabilityClient> {
    let channel = Channel::from_shared(url.to_owned()).ok()?.connect_lazy();
    Some(ObservabilityServiceClient::new(
        tower::ServiceBuilder::new()
            .layer(ForwardLayer)
            .service(channel),
    ))
}

/// The answer of a budget check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Within budget (or no budget applies): call the model.
    Allowed,
    /// Over a blocking budget, or the check was refused: the planner answers.
    Refused,
    /// Observability did not answer in time: call the model (fail open).
    Unknown,
}

/// `amount` USD micros as `Money`.
pub fn usd(micros: i64) -> Money {
    Money {
        currency_code: "USD".into(),
        units: micros / 1_000_000,
        nanos: i32::try_from((micros % 1_000_000) * 1_000).unwrap_or(0),
    }
}

/// May `brand_id` spend about `estimated_cost_micros` on `model` for `operation`
/// (e.g. `ask_question`) now? Must run inside the caller's request (the identity is
/// forwarded from it).
pub async fn check(
    client: &ObservabilityClient,
    brand_id: &str,
    operation: &str,
    model: &str,
    estimated_cost_micros: i64,
) -> Budget {
    let mut client = client.clone();
    let mut request = tonic::Request::new(CheckBudgetRequest {
        brand_id: brand_id.to_owned(),
        operation: operation.to_owned(),
        model: model.to_owned(),
        estimated_cost: Some(usd(estimated_cost_micros.max(0))),
    });
    request.set_timeout(CHECK_TIMEOUT);
    let result = tokio::time::timeout(CHECK_TIMEOUT, client.check_budget(request)).await;
    match result {
        Ok(Ok(response)) => {
            let response = response.into_inner();
            if response.warning {
                tracing::info!(brand_id, "AI spend is past a budget's warning ratio");
            }
            if response.allowed {
                Budget::Allowed
            } else {
                Budget::Refused
            }
        }
        Ok(Err(status))
            if matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
            ) =>
        {
            tracing::warn!(code = ?status.code(), "budget check unavailable; calling the model");
            Budget::Unknown
        }
        Err(_elapsed) => {
            tracing::warn!("budget check timed out; calling the model");
            Budget::Unknown
        }
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), "budget check refused; the planner answers");
            Budget::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_money_is_usd_units_and_nanos() {
        assert_eq!(
            usd(10_500),
            Money {
                currency_code: "USD".into(),
                units: 0,
                nanos: 10_500_000
            }
        );
        assert_eq!(
            usd(3_250_000),
            Money {
                currency_code: "USD".into(),
                units: 3,
                nanos: 250_000_000
            }
        );
    }

    #[tokio::test]
    async fn budget_check_fails_open_when_observability_is_down() {
        // Nothing listens on port 9 of localhost: the channel is UNAVAILABLE.
        let client = client("http://127.0.0.1:9").expect("url");
        assert_eq!(
            check(&client, "", "ask_question", "m", 1).await,
            Budget::Unknown
        );
    }
}
