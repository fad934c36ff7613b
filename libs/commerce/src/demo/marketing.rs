//! The demo brand's ad campaigns and every way a shopper can arrive: paid ads on the
//! configured platforms, email, organic search, referrals and direct visits. Each
//! "touch source" is built once with its UTM and landing URL, so touches on millions
//! of orders are clones, not string formatting.

use rand::Rng;

use super::catalog::Catalog;
use super::rng;
use crate::{Campaign, Channel, Platform, Utm};

/// The ad platforms in slot order; per-platform arrays are indexed by this position.
pub(super) const AD_PLATFORMS: [Platform; 3] = Platform::ADS;

/// How far back each platform credits a click (Meta and TikTok default to 7-day click,
/// Google Ads to 30 days).
pub(super) const CLICK_WINDOW_SECONDS: [i64; 3] = [7 * 86_400, 7 * 86_400, 30 * 86_400];

/// Share of orders a social platform also claims through a view (1-day view-through)
/// without a click in the journey: the main source of over-attribution.
pub(super) const VIEW_THROUGH_RATE: [f64; 3] = [0.22, 0.12, 0.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CampaignKind {
    Prospecting,
    Retargeting,
    Brand,
}

struct Template {
    name: &'static str,
    kind: CampaignKind,
    target_roas: f64,
    weight: u64,
    cpc_cents: (i64, i64),
    ctr_basis_points: (u32, u32),
}

const fn template(
    name: &'static str,
    kind: CampaignKind,
    target_roas: f64,
    weight: u64,
    cpc_cents: (i64, i64),
    ctr_basis_points: (u32, u32),
) -> Template {
    Template {
        name,
        kind,
        target_roas,
        weight,
        cpc_cents,
        ctr_basis_points,
    }
}

use CampaignKind::{Brand, Prospecting, Retargeting};

// name, kind, target ROAS, relative size, cost per click (cents), click-through rate
// (basis points). Retargeting and brand search return more than prospecting.
#[rustfmt::skip]
const META: [Template; 6] = [
    template("Prospecting | Broad | Advantage+ audience", Prospecting, 2.3, 5, (70, 140), (90, 180)),
    template("Retargeting | Site visitors 30d", Retargeting, 4.8, 2, (80, 160), (120, 250)),
    template("Prospecting | Lookalike 1% purchasers", Prospecting, 2.6, 3, (70, 130), (90, 170)),
    template("Advantage+ Shopping", Prospecting, 3.0, 4, (60, 120), (100, 190)),
    template("Retargeting | Cart abandoners 7d", Retargeting, 5.5, 1, (90, 180), (150, 280)),
    template("Prospecting | Interests | Outdoors", Prospecting, 1.9, 2, (60, 120), (80, 150)),
];

#[rustfmt::skip]
const TIKTOK: [Template; 5] = [
    template("Spark Ads | Creator UGC", Prospecting, 2.0, 4, (35, 90), (70, 130)),
    template("Retargeting | Video viewers 50%", Retargeting, 3.6, 2, (40, 90), (90, 160)),
    template("Prospecting | Interests | Lifestyle", Prospecting, 1.7, 3, (30, 80), (60, 120)),
    template("Smart+ Catalog", Prospecting, 2.3, 3, (35, 85), (70, 140)),
    template("Retargeting | Site visitors 14d", Retargeting, 3.9, 1, (45, 95), (100, 170)),
];

#[rustfmt::skip]
const GOOGLE: [Template; 6] = [
    template("Brand Search | Exact", Brand, 5.8, 3, (40, 90), (200, 290)),
    template("Shopping | All products", Prospecting, 3.6, 4, (50, 110), (80, 160)),
    template("Performance Max | Bestsellers", Prospecting, 3.0, 4, (60, 120), (70, 140)),
    template("Search | Non-brand | Category", Prospecting, 2.2, 2, (100, 220), (150, 280)),
    template("Demand Gen | Retargeting", Retargeting, 3.8, 1, (30, 70), (60, 120)),
    template("YouTube | Prospecting", Prospecting, 1.6, 1, (20, 60), (50, 90)),
];

fn templates(slot: usize) -> &'static [Template] {
    match slot {
        0 => &META,
        1 => &TIKTOK,
        _ => &GOOGLE,
    }
}

/// A generated campaign with the parameters its delivery is simulated from.
pub(super) struct CampaignPlan {
    pub(super) campaign: Campaign,
    pub(super) slot: usize,
    pub(super) kind: CampaignKind,
    pub(super) target_roas: f64,
    pub(super) weight: u64,
    pub(super) cpc_micros: i64,
    pub(super) click_through_rate: f64,
}

/// One way of arriving at the store, ready to be cloned into a touchpoint.
pub(super) struct TouchSource {
    pub(super) channel: Channel,
    /// Ad platform slot, for paid touches.
    pub(super) slot: Option<usize>,
    pub(super) campaign: Option<usize>,
    pub(super) utm: Utm,
    pub(super) landing_site: String,
    pub(super) referring_site: Option<String>,
}

struct TouchClass {
    sources: Vec<usize>,
    cumulative: Vec<u64>,
}

pub(super) struct Marketing {
    pub(super) campaigns: Vec<CampaignPlan>,
    pub(super) sources: Vec<TouchSource>,
    classes: Vec<TouchClass>,
    /// Cumulative class weights for a new customer's first touch, and for every other.
    first_touch: Vec<u64>,
    later_touch: Vec<u64>,
    /// Per ad-platform slot: prospecting campaigns and their cumulative weights.
    prospecting: [(Vec<usize>, Vec<u64>); 3],
    pub(super) configured: [bool; 3],
}

impl Marketing {
    pub(super) fn generate(seed: u64, platforms: &[Platform], catalog: &Catalog) -> Self {
        let mut rng = rng::stream(seed, rng::streams::MARKETING);
        let configured = AD_PLATFORMS.map(|p| platforms.contains(&p));
        let mut campaigns = Vec::new();
        for (slot, platform) in AD_PLATFORMS.into_iter().enumerate() {
            if !configured[slot] {
                continue;
            }
            let available = templates(slot);
            let count = rng.random_range(3..=available.len().min(6));
            let prefix = platform.as_str().replace('_', "-");
            for (n, t) in available[..count].iter().enumerate() {
                let ctr_basis_points =
                    rng.random_range(t.ctr_basis_points.0..=t.ctr_basis_points.1);
                campaigns.push(CampaignPlan {
                    campaign: Campaign {
                        platform,
                        platform_campaign_id: format!("demo-{prefix}-campaign-{}", n + 1),
                        name: t.name.to_owned(),
                        status: Some("active".to_owned()),
                    },
                    slot,
                    kind: t.kind,
                    target_roas: t.target_roas * rng.random_range(0.9..1.1),
                    weight: t.weight,
                    cpc_micros: rng.random_range(t.cpc_cents.0..=t.cpc_cents.1) * 10_000,
                    click_through_rate: f64::from(ctr_basis_points) / 10_000.0,
                });
            }
        }

        let mut sources = Vec::new();
        let mut classes = Vec::new();
        let mut first_weights = Vec::new();
        let mut later_weights = Vec::new();
        let mut add_class = |members: Vec<(TouchSource, u64)>,
                             first: u64,
                             later: u64,
                             sources: &mut Vec<TouchSource>| {
            if members.is_empty() {
                return;
            }
            let mut class = TouchClass {
                sources: Vec::new(),
                cumulative: Vec::new(),
            };
            let mut sum = 0;
            for (source, weight) in members {
                class.sources.push(sources.len());
                sum += weight;
                class.cumulative.push(sum);
                sources.push(source);
            }
            classes.push(class);
            first_weights.push(first);
            later_weights.push(later);
        };

        let product_path = |rng: &mut rand_chacha::ChaCha8Rng| {
            let handle = &catalog.handles[rng.random_range(0..catalog.handles.len())];
            format!("/products/{handle}")
        };
        let paid = |slot: usize, kinds: &[CampaignKind], rng: &mut rand_chacha::ChaCha8Rng| {
            let mut members = Vec::new();
            for (index, plan) in campaigns.iter().enumerate() {
                if plan.slot != slot || !kinds.contains(&plan.kind) {
                    continue;
                }
                let path = match plan.kind {
                    Prospecting => product_path(rng),
                    Retargeting => "/collections/all".to_owned(),
                    Brand => "/".to_owned(),
                };
                let id = &plan.campaign.platform_campaign_id;
                let variants: &[(&str, &str, &str, u64)] = match slot {
                    0 => &[
                        ("facebook", "paid_social", "https://l.facebook.com/", 7),
                        ("instagram", "paid_social", "https://l.instagram.com/", 3),
                    ],
                    1 => &[("tiktok", "paid_social", "https://www.tiktok.com/", 1)],
                    _ => &[("google", "cpc", "https://www.google.com/", 1)],
                };
                for &(source, medium, referrer, split) in variants {
                    let term = (plan.kind == Brand).then(|| "northwind".to_owned());
                    let mut landing =
                        format!("{path}?utm_source={source}&utm_medium={medium}&utm_campaign={id}");
                    if let Some(term) = &term {
                        landing.push_str("&utm_term=");
                        landing.push_str(term);
                    }
                    members.push((
                        TouchSource {
                            channel: if slot == 2 {
                                Channel::PaidSearch
                            } else {
                                Channel::PaidSocial
                            },
                            slot: Some(slot),
                            campaign: Some(index),
                            utm: Utm {
                                source: Some(source.to_owned()),
                                medium: Some(medium.to_owned()),
                                campaign: Some(id.clone()),
                                content: None,
                                term,
                            },
                            landing_site: landing,
                            referring_site: Some(referrer.to_owned()),
                        },
                        plan.weight * split,
                    ));
                }
            }
            members
        };

        // (members, weight as a new customer's first touch, weight as any other touch)
        let meta_prospecting = paid(0, &[Prospecting], &mut rng);
        let meta_retargeting = paid(0, &[Retargeting], &mut rng);
        let tiktok_prospecting = paid(1, &[Prospecting], &mut rng);
        let tiktok_retargeting = paid(1, &[Retargeting], &mut rng);
        let google_prospecting = paid(2, &[Prospecting], &mut rng);
        let google_returning = paid(2, &[Brand, Retargeting], &mut rng);
        let email = [
            "welcome-series",
            "weekly-newsletter",
            "abandoned-cart",
            "win-back",
        ]
        .into_iter()
        .zip([3, 4, 3, 1])
        .map(|(name, weight)| {
            (
                TouchSource {
                    channel: Channel::Email,
                    slot: None,
                    campaign: None,
                    utm: Utm {
                        source: Some("klaviyo".to_owned()),
                        medium: Some("email".to_owned()),
                        campaign: Some(name.to_owned()),
                        content: None,
                        term: None,
                    },
                    landing_site: format!(
                        "/?utm_source=klaviyo&utm_medium=email&utm_campaign={name}"
                    ),
                    referring_site: None,
                },
                weight,
            )
        })
        .collect();
        let unpaid = |channel: Channel, landing: String, referrer: Option<&str>, weight: u64| {
            (
                TouchSource {
                    channel,
                    slot: None,
                    campaign: None,
                    utm: Utm::default(),
                    landing_site: landing,
                    referring_site: referrer.map(str::to_owned),
                },
                weight,
            )
        };
        let organic = vec![
            unpaid(
                Channel::Organic,
                "/".to_owned(),
                Some("https://www.google.com/"),
                2,
            ),
            unpaid(
                Channel::Organic,
                product_path(&mut rng),
                Some("https://www.google.com/"),
                2,
            ),
            unpaid(
                Channel::Organic,
                product_path(&mut rng),
                Some("https://www.bing.com/"),
                1,
            ),
        ];
        let referral = vec![
            unpaid(
                Channel::Referral,
                product_path(&mut rng),
                Some("https://www.reddit.com/"),
                2,
            ),
            unpaid(
                Channel::Referral,
                product_path(&mut rng),
                Some("https://www.outdoorgearlab.com/"),
                1,
            ),
        ];
        let direct = vec![unpaid(Channel::Direct, "/".to_owned(), None, 1)];

        add_class(meta_prospecting, 30, 5, &mut sources);
        add_class(meta_retargeting, 0, 14, &mut sources);
        add_class(tiktok_prospecting, 16, 3, &mut sources);
        add_class(tiktok_retargeting, 0, 5, &mut sources);
        add_class(google_prospecting, 22, 6, &mut sources);
        add_class(google_returning, 0, 16, &mut sources);
        add_class(email, 0, 22, &mut sources);
        add_class(organic, 14, 10, &mut sources);
        add_class(referral, 6, 3, &mut sources);
        add_class(direct, 6, 22, &mut sources);

        let prospecting = [0, 1, 2].map(|slot| {
            let members: Vec<usize> = campaigns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.slot == slot && c.kind == Prospecting)
                .map(|(i, _)| i)
                .collect();
            let cumulative = rng::cumulative(members.iter().map(|&i| campaigns[i].weight));
            (members, cumulative)
        });

        Self {
            first_touch: rng::cumulative(first_weights),
            later_touch: rng::cumulative(later_weights),
            campaigns,
            sources,
            classes,
            prospecting,
            configured,
        }
    }

    /// A touch source: for a new customer's first touch mostly prospecting ads and
    /// search, otherwise retargeting, brand search, email and direct visits.
    pub(super) fn pick_source(&self, rng: &mut impl Rng, first_of_new_customer: bool) -> usize {
        let weights = if first_of_new_customer {
            &self.first_touch
        } else {
            &self.later_touch
        };
        let class = &self.classes[rng::pick_cumulative(rng, weights)];
        class.sources[rng::pick_cumulative(rng, &class.cumulative)]
    }

    /// A prospecting campaign of the platform in `slot` (for a view-through claim).
    pub(super) fn pick_prospecting(&self, rng: &mut impl Rng, slot: usize) -> Option<usize> {
        let (members, cumulative) = &self.prospecting[slot];
        if members.is_empty() {
            return None;
        }
        Some(members[rng::pick_cumulative(rng, cumulative)])
    }
}
