//! GetAttribution: each order's net revenue in the range credited to its touches under
//! the chosen model (`crate::attribution`), summed per ad platform or campaign, beside
//! the spend of the `insights.daily_ad_spend` rollups; totals from the metric engine.

use std::collections::{BTreeMap, HashMap};

use pp_auth::Principal;
use pp_db::TenantTx;
use pp_error::ApiError;
use pp_metrics::{Metric, ratio};
use pp_proto::common::Platform;
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::money;

use super::dashboard::MAX_DASHBOARD_DAYS;
use super::inventory::bounded;
use super::{InsightsApi, READERS, convert, engine_error};
use crate::attribution::{
    AdPlatform, Credited, DEFAULT_HALF_LIFE_DAYS, DEFAULT_LOOKBACK_DAYS, Grouping,
    MAX_HALF_LIFE_DAYS, MAX_LOOKBACK_DAYS, Model, RowKey, Tally,
};
use crate::engine::{self, Query};
use crate::store::{self, attribution::CampaignSpend};

/// The totals of the response, from the metric engine (the dashboard's figures).
const TOTALS: [Metric; 4] = [
    Metric::NetRevenue,
    Metric::AdSpend,
    Metric::BlendedRoas,
    Metric::Cac,
];

/// The model asked for: one that credits journeys, or the platforms' own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Journeys(Model),
    PlatformReported,
}

/// The `model` field (unspecified means LAST_CLICK); a value the contract does not
/// define is a violation.
fn choice(violations: &mut Violations, model: i32, half_life_days: i32) -> Option<Choice> {
    use pb::AttributionModel as M;
    Some(match M::try_from(model) {
        Ok(M::Unspecified | M::LastClick) => Choice::Journeys(Model::LastClick),
        Ok(M::FirstClick) => Choice::Journeys(Model::FirstClick),
        Ok(M::Linear) => Choice::Journeys(Model::Linear),
        Ok(M::LastNonDirectClick) => Choice::Journeys(Model::LastNonDirectClick),
        Ok(M::TimeDecay) => Choice::Journeys(Model::TimeDecay { half_life_days }),
        Ok(M::PositionBased) => Choice::Journeys(Model::PositionBased),
        Ok(M::PlatformReported) => Choice::PlatformReported,
        Err(_) => {
            violations.add("model", "is not a known attribution model");
            return None;
        }
    })
}

/// The `group_by` field (unspecified means PLATFORM).
fn grouping(violations: &mut Violations, group_by: i32) -> Option<Grouping> {
    use pb::AttributionGrouping as G;
    match G::try_from(group_by) {
        Ok(G::Unspecified | G::Platform) => Some(Grouping::Platform),
        Ok(G::Campaign) => Some(Grouping::Campaign),
        Err(_) => {
            violations.add("group_by", "is not a known grouping");
            None
        }
    }
}

fn platform(platform: AdPlatform) -> Platform {
    match platform {
        AdPlatform::Meta => Platform::MetaAds,
        AdPlatform::Tiktok => Platform::TiktokAds,
        AdPlatform::GoogleAds => Platform::GoogleAds,
    }
}

/// The row a spend rollup belongs to; `None` for a platform that is not an ad platform.
fn spend_key(row: &CampaignSpend, grouping: Grouping) -> Option<RowKey> {
    Some(RowKey {
        platform: AdPlatform::from_column(&row.platform)?,
        campaign_id: match grouping {
            Grouping::Platform => String::new(),
            Grouping::Campaign => row.campaign_id.clone(),
        },
    })
}

/// What the platforms claim for themselves, per row: their conversion value and
/// conversions (new customers are not reported, so no CAC).
fn platform_claims(spend: &[CampaignSpend], grouping: Grouping) -> BTreeMap<RowKey, Credited> {
    let mut claims: BTreeMap<RowKey, Credited> = BTreeMap::new();
    for row in spend {
        if let Some(key) = spend_key(row, grouping) {
            let claim = claims.entry(key).or_default();
            claim.revenue_micros += row.conversion_value_micros;
            claim.orders += row.conversions;
        }
    }
    claims
}

/// One response row per key with spend or credit, highest attributed revenue first
/// (then by platform and campaign id).
fn rows(
    credited: &BTreeMap<RowKey, Credited>,
    spend: &[CampaignSpend],
    grouping: Grouping,
    names: &HashMap<(String, String), String>,
    currency: &str,
) -> Vec<pb::AttributionRow> {
    let mut by_key: BTreeMap<RowKey, (i64, Credited)> = credited
        .iter()
        .map(|(key, credit)| (key.clone(), (0, *credit)))
        .collect();
    for row in spend {
        if let Some(key) = spend_key(row, grouping) {
            by_key.entry(key).or_default().0 += row.spend_micros;
        }
    }
    let attributed: i64 = by_key.values().map(|(_, c)| c.revenue_micros).sum();
    let mut keyed: Vec<(RowKey, i64, Credited)> = by_key
        .into_iter()
        .map(|(key, (spend, credit))| (key, spend, credit))
        .collect();
    keyed.sort_by(|(a, _, x), (b, _, y)| {
        y.revenue_micros
            .cmp(&x.revenue_micros)
            .then_with(|| a.cmp(b))
    });
    keyed
        .into_iter()
        .map(|(key, spend, credit)| {
            let campaign_name = match grouping {
                Grouping::Platform => String::new(),
                Grouping::Campaign => names
                    .get(&(column(key.platform).to_owned(), key.campaign_id.clone()))
                    .cloned()
                    .unwrap_or_default(),
            };
            pb::AttributionRow {
                platform: platform(key.platform) as i32,
                campaign_id: key.campaign_id,
                campaign_name,
                spend: Some(money(currency, spend)),
                attributed_revenue: Some(money(currency, credit.revenue_micros)),
                attributed_orders: credit.orders,
                roas: ratio(credit.revenue_micros, spend),
                // Truncated to the micro, as the catalogue's CAC.
                cac: (credit.new_customers > 0.0)
                    .then(|| money(currency, (spend as f64 / credit.new_customers) as i64)),
                revenue_share: ratio(credit.revenue_micros, attributed),
            }
        })
        .collect()
}

/// The `commerce` name of an ad platform (how campaign names are keyed).
fn column(platform: AdPlatform) -> &'static str {
    match platform {
        AdPlatform::Meta => "meta",
        AdPlatform::Tiktok => "tiktok",
        AdPlatform::GoogleAds => "google_ads",
    }
}

/// The definitions of the attribution figures, which are not catalogue metrics (they
/// depend on the model).
fn attribution_definitions(choice: Choice, lookback_days: i32) -> Vec<pb::MetricDefinition> {
    let (revenue, sources) = match choice {
        Choice::Journeys(model) => (
            format!(
                "Net revenue (catalogue definition) of the orders in the range, each order's \
                 amount split over its touchpoints of the {lookback_days} days before it: {} \
                 Credit on touches that are not paid ads (email, organic, referral, direct) is \
                 unattributed revenue.",
                model.description()
            ),
            vec![Platform::Shopify as i32],
        ),
        Choice::PlatformReported => (
            "The purchase value each ad platform reports for itself (conversion value); \
             platforms claim the same orders, so rows may add up to more than net revenue."
                .to_owned(),
            vec![
                Platform::MetaAds as i32,
                Platform::TiktokAds as i32,
                Platform::GoogleAds as i32,
            ],
        ),
    };
    let definition =
        |metric: &str, name: &str, description: String, formula: &str, unit: pb::MetricUnit| {
            pb::MetricDefinition {
                metric: metric.to_owned(),
                display_name: name.to_owned(),
                description,
                formula: formula.to_owned(),
                unit: unit as i32,
                sources: sources.clone(),
            }
        };
    vec![
        definition(
            "attributed_revenue",
            "Attributed revenue",
            revenue,
            "sum of credits",
            pb::MetricUnit::Currency,
        ),
        definition(
            "attributed_orders",
            "Attributed orders",
            "Orders placed in the range credited to the row, by each touch's share of its \
             order (platform-reported: the platform's own conversions)."
                .to_owned(),
            "sum of shares",
            pb::MetricUnit::Count,
        ),
        definition(
            "attributed_roas",
            "Attributed ROAS",
            "Attributed revenue divided by the row's ad spend; 0 without spend.".to_owned(),
            "attributed_revenue / ad_spend",
            pb::MetricUnit::Ratio,
        ),
        definition(
            "attributed_cac",
            "Attributed CAC",
            "The row's ad spend divided by the new customers credited to it (first orders, \
             by share), truncated to the micro; unset when none."
                .to_owned(),
            "ad_spend / attributed new customers",
            pb::MetricUnit::Currency,
        ),
    ]
}

impl InsightsApi {
    pub(super) async fn attribution(
        &self,
        principal: Principal,
        request: pb::GetAttributionRequest,
    ) -> Result<pb::GetAttributionResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let brand_id = violations.uuid("brand_id", &request.brand_id);
        let period = convert::range(
            &mut violations,
            "date_range",
            request.date_range.as_ref(),
            true,
            MAX_DASHBOARD_DAYS,
        );
        let lookback_days = bounded(
            &mut violations,
            "lookback_window_days",
            request.lookback_window_days,
            DEFAULT_LOOKBACK_DAYS,
            MAX_LOOKBACK_DAYS,
        );
        let half_life_days = bounded(
            &mut violations,
            "half_life_days",
            request.half_life_days,
            DEFAULT_HALF_LIFE_DAYS,
            MAX_HALF_LIFE_DAYS,
        );
        // Both are at most 90 (bounded clamps them).
        let lookback_days = i32::try_from(lookback_days).unwrap_or(MAX_LOOKBACK_DAYS);
        let half_life_days = i32::try_from(half_life_days).unwrap_or(MAX_HALF_LIFE_DAYS);
        let choice = choice(&mut violations, request.model, half_life_days);
        let grouping = grouping(&mut violations, request.group_by);
        violations.finish()?;
        let (Some(brand_id), Some((start, end)), Some(choice), Some(grouping)) =
            (brand_id, period, choice, grouping)
        else {
            return Err(ApiError::internal(
                "validated attribution request incomplete",
            ));
        };

        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let brand = self.visible_brand(&mut tx, &principal, brand_id).await?;
        let totals = engine::compute_many(
            &mut tx,
            &brand,
            &TOTALS,
            &Query {
                metric: Metric::NetRevenue,
                start,
                end,
                filters: Vec::new(),
                breakdown: None,
            },
        )
        .await
        .map_err(engine_error)?;
        let spend = store::attribution::spend(&mut tx, brand_id, start, end).await?;
        let names: HashMap<(String, String), String> =
            store::attribution::campaign_names(&mut tx, brand_id)
                .await?
                .into_iter()
                .map(|(platform, campaign_id, name)| ((platform, campaign_id), name))
                .collect();
        let (credited, unattributed) = match choice {
            Choice::Journeys(model) => {
                let mut tally = Tally::default();
                store::attribution::for_each_order(
                    &mut tx,
                    &brand,
                    start,
                    end,
                    lookback_days,
                    |order| tally.add(model, grouping, lookback_days, order),
                )
                .await?;
                (tally.rows, tally.unattributed_micros)
            }
            Choice::PlatformReported => {
                let claims = platform_claims(&spend, grouping);
                let claimed: i64 = claims.values().map(|c| c.revenue_micros).sum();
                let net = totals
                    .first()
                    .and_then(|figures| figures.first())
                    .and_then(|figure| figure.value.micros())
                    .unwrap_or(0);
                // What no platform claims; zero when they claim more than was sold.
                (claims, (net - claimed).max(0))
            }
        };
        tx.commit().await?;

        let mut definitions = convert::definitions(&TOTALS);
        definitions.extend(attribution_definitions(choice, lookback_days));
        Ok(pb::GetAttributionResponse {
            rows: rows(&credited, &spend, grouping, &names, &brand.currency_code),
            unattributed_revenue: Some(money(&brand.currency_code, unattributed)),
            totals: totals.iter().flatten().map(convert::figure).collect(),
            data_freshness: self.freshness(&principal, &request.brand_id).await,
            definitions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend_row(platform: &str, campaign: &str, spend: i64, value: i64) -> CampaignSpend {
        CampaignSpend {
            platform: platform.into(),
            campaign_id: campaign.into(),
            spend_micros: spend,
            conversions: 1.5,
            conversion_value_micros: value,
        }
    }

    #[test]
    fn unknown_enum_values_name_their_field() {
        let mut violations = Violations::new();
        assert_eq!(choice(&mut violations, 99, 7), None);
        assert_eq!(grouping(&mut violations, -1), None);
        assert_eq!(
            choice(&mut violations, 0, 7),
            Some(Choice::Journeys(Model::LastClick))
        );
        assert_eq!(
            choice(&mut violations, pb::AttributionModel::TimeDecay as i32, 3),
            Some(Choice::Journeys(Model::TimeDecay { half_life_days: 3 }))
        );
        let fields: Vec<String> = violations
            .into_inner()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["model", "group_by"]);
    }

    #[test]
    fn rows_join_spend_and_credit_and_sort_by_revenue() {
        let spend = [
            spend_row("meta", "m1", 40_000_000, 150_000_000),
            spend_row("meta", "m2", 10_000_000, 0),
            spend_row("google_ads", "g1", 30_000_000, 60_000_000),
        ];
        let mut credited = BTreeMap::new();
        credited.insert(
            RowKey {
                platform: AdPlatform::GoogleAds,
                campaign_id: String::new(),
            },
            Credited {
                revenue_micros: 90_000_000,
                orders: 1.5,
                new_customers: 0.5,
            },
        );
        credited.insert(
            RowKey {
                platform: AdPlatform::Meta,
                campaign_id: String::new(),
            },
            Credited {
                revenue_micros: 10_000_000,
                orders: 0.5,
                new_customers: 0.0,
            },
        );
        let by_platform = rows(
            &credited,
            &spend,
            Grouping::Platform,
            &HashMap::new(),
            "CAD",
        );
        assert_eq!(by_platform.len(), 2);
        assert_eq!(by_platform[0].platform, Platform::GoogleAds as i32);
        assert_eq!(by_platform[0].roas, 3.0);
        assert_eq!(by_platform[0].revenue_share, 0.9);
        assert_eq!(by_platform[0].cac, Some(money("CAD", 60_000_000)));
        assert_eq!(by_platform[1].spend, Some(money("CAD", 50_000_000)));
        assert_eq!(by_platform[1].cac, None);
        let claims = platform_claims(&spend, Grouping::Campaign);
        let names = HashMap::from([(("meta".to_owned(), "m1".to_owned()), "Spring".to_owned())]);
        let by_campaign = rows(&claims, &spend, Grouping::Campaign, &names, "CAD");
        let order: Vec<(&str, &str)> = by_campaign
            .iter()
            .map(|r| (r.campaign_id.as_str(), r.campaign_name.as_str()))
            .collect();
        assert_eq!(order, [("m1", "Spring"), ("g1", ""), ("m2", "")]);
        assert_eq!(by_campaign[0].attributed_orders, 1.5);
    }
}
