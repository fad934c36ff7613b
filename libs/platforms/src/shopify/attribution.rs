//! Where a visit came from: the channel and ad platform derived from its UTM
//! parameters or referrer. Shared by the GraphQL mapping (customer journey
//! moments) and the webhook mapping (landing site).

use pp_commerce::{Channel, Platform, Utm};

/// Mediums advertisers use for paid traffic (lower-cased, `-` read as `_`).
const PAID_MEDIUMS: &[&str] = &[
    "cpc",
    "ppc",
    "cpm",
    "cpa",
    "cpv",
    "paid",
    "paid_social",
    "paidsocial",
    "paid_search",
    "paidsearch",
    "paid_media",
    "ad",
    "ads",
    "display",
    "sem",
    "social_paid",
];
const EMAIL_MEDIUMS: &[&str] = &["email", "e_mail", "newsletter", "sms"];
const SOCIAL_SOURCES: &[&str] = &[
    "facebook",
    "fb",
    "instagram",
    "ig",
    "meta",
    "tiktok",
    "pinterest",
    "snapchat",
    "twitter",
    "x",
    "linkedin",
    "youtube",
    "reddit",
];
const SEARCH_HOSTS: &[&str] = &[
    "google.",
    "bing.",
    "duckduckgo.",
    "yahoo.",
    "ecosia.",
    "baidu.",
];
const SOCIAL_HOSTS: &[&str] = &[
    "facebook.",
    "instagram.",
    "tiktok.",
    "pinterest.",
    "t.co",
    "twitter.",
    "linkedin.",
    "youtube.",
    "reddit.",
];

/// The ad platform a paid source belongs to, among those Pulsepoint connects.
fn ad_platform(source: &str) -> Option<Platform> {
    match source {
        "facebook" | "fb" | "instagram" | "ig" | "meta" => Some(Platform::Meta),
        "tiktok" => Some(Platform::Tiktok),
        "google" | "adwords" | "googleads" | "google_ads" | "youtube" => Some(Platform::GoogleAds),
        _ => None,
    }
}

fn normalise(value: Option<&str>) -> String {
    value
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .replace('-', "_")
}

/// The channel of a visit, and the ad platform when it was a paid ad on one we
/// connect. The rule, in order:
/// 1. a paid medium (`cpc`, `paid`, `paid_social`, …): paid social when the source
///    is a social network or the medium says social, paid search otherwise; the
///    platform comes from the source (facebook/instagram/meta → Meta, tiktok →
///    TikTok, google → Google Ads);
/// 2. an email medium (or a source of `klaviyo`/`email`): email;
/// 3. any other UTM source: organic when it is a search engine or social
///    network, referral otherwise;
/// 4. no UTM: a referrer on a search engine or social network is organic, any
///    other referrer a referral, none at all direct.
pub fn channel_for(utm: &Utm, referrer: Option<&str>) -> (Channel, Option<Platform>) {
    let medium = normalise(utm.medium.as_deref());
    let source = normalise(utm.source.as_deref());
    if PAID_MEDIUMS.contains(&medium.as_str()) {
        let social = medium.contains("social") || SOCIAL_SOURCES.contains(&source.as_str());
        let channel = if social {
            Channel::PaidSocial
        } else {
            Channel::PaidSearch
        };
        return (channel, ad_platform(&source));
    }
    if EMAIL_MEDIUMS.contains(&medium.as_str()) || matches!(source.as_str(), "klaviyo" | "email") {
        return (Channel::Email, None);
    }
    if !source.is_empty() || !medium.is_empty() {
        let organic = medium.contains("organic")
            || medium == "social"
            || SOCIAL_SOURCES.contains(&source.as_str())
            || matches!(source.as_str(), "google" | "bing" | "duckduckgo" | "yahoo");
        return (
            if organic {
                Channel::Organic
            } else {
                Channel::Referral
            },
            None,
        );
    }
    match referrer.map(str::trim).filter(|r| !r.is_empty()) {
        None => (Channel::Direct, None),
        Some(referrer) => {
            let host = host_of(referrer);
            let organic = SEARCH_HOSTS
                .iter()
                .chain(SOCIAL_HOSTS)
                .any(|h| host.starts_with(h) || host.contains(&format!(".{h}")));
            (
                if organic {
                    Channel::Organic
                } else {
                    Channel::Referral
                },
                None,
            )
        }
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host.to_ascii_lowercase()
}

/// `utm_campaign` is kept as the platform's campaign id only when it looks like
/// one: all digits, 6 to 20 of them. Meta, TikTok and Google Ads campaign ids are
/// numeric (e.g. Meta's `{{campaign.id}}` URL parameter); a campaign *name* such
/// as `summer_sale` is left in `utm.campaign` only.
pub fn campaign_id_from_utm(utm: &Utm) -> Option<String> {
    let campaign = utm.campaign.as_deref()?.trim();
    let looks_like_id =
        (6..=20).contains(&campaign.len()) && campaign.bytes().all(|b| b.is_ascii_digit());
    looks_like_id.then(|| campaign.to_string())
}

/// The `utm_*` parameters of a URL (absolute, or a path like `/?utm_source=x` as
/// REST's `landing_site` carries it); empty values are absent.
pub fn utm_from_url(url: &str) -> Utm {
    let mut utm = Utm::default();
    let Some((_, query)) = url.split_once('?') else {
        return utm;
    };
    let query = query.split('#').next().unwrap_or_default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let slot = match key.as_ref() {
            "utm_source" => &mut utm.source,
            "utm_medium" => &mut utm.medium,
            "utm_campaign" => &mut utm.campaign,
            "utm_content" => &mut utm.content,
            "utm_term" => &mut utm.term,
            _ => continue,
        };
        if slot.is_none() {
            *slot = value;
        }
    }
    utm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utm(source: &str, medium: &str) -> Utm {
        Utm {
            source: Some(source.into()).filter(|s: &String| !s.is_empty()),
            medium: Some(medium.into()).filter(|s: &String| !s.is_empty()),
            ..Utm::default()
        }
    }

    /// source, medium, referrer → channel, platform.
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Channel,
        Option<Platform>,
    );

    #[test]
    fn channels_follow_the_documented_rule() {
        use Channel::*;
        let cases: &[Case] = &[
            (
                "facebook",
                "paid_social",
                None,
                PaidSocial,
                Some(Platform::Meta),
            ),
            ("Instagram", "CPC", None, PaidSocial, Some(Platform::Meta)),
            ("meta", "paid", None, PaidSocial, Some(Platform::Meta)),
            ("tiktok", "paid", None, PaidSocial, Some(Platform::Tiktok)),
            ("google", "cpc", None, PaidSearch, Some(Platform::GoogleAds)),
            ("bing", "cpc", None, PaidSearch, None),
            ("pinterest", "paid-social", None, PaidSocial, None),
            ("facebook", "social", None, Organic, None),
            ("google", "organic", None, Organic, None),
            ("klaviyo", "email", None, Email, None),
            ("newsletter_partner", "", None, Referral, None),
            (
                "",
                "",
                Some("https://www.google.com/search?q=tee"),
                Organic,
                None,
            ),
            ("", "", Some("https://l.instagram.com/"), Organic, None),
            (
                "",
                "",
                Some("https://blog.example.com/post"),
                Referral,
                None,
            ),
            ("", "", None, Direct, None),
            ("", "", Some("  "), Direct, None),
        ];
        for (source, medium, referrer, channel, platform) in cases {
            assert_eq!(
                channel_for(&utm(source, medium), *referrer),
                (*channel, *platform),
                "{source}/{medium}/{referrer:?}"
            );
        }
    }

    #[test]
    fn only_numeric_campaigns_are_ids() {
        let with = |campaign: &str| Utm {
            campaign: Some(campaign.into()),
            ..Utm::default()
        };
        assert_eq!(
            campaign_id_from_utm(&with("120211234567890")).as_deref(),
            Some("120211234567890")
        );
        assert_eq!(campaign_id_from_utm(&with("summer_sale")), None);
        assert_eq!(campaign_id_from_utm(&with("12345")), None);
        assert_eq!(campaign_id_from_utm(&Utm::default()), None);
    }

    #[test]
    fn utm_is_read_from_absolute_and_relative_urls() {
        let parsed = utm_from_url(
            "/products/tee?utm_source=facebook&utm_medium=paid%5Fsocial&utm_campaign=&x=1#top",
        );
        assert_eq!(parsed.source.as_deref(), Some("facebook"));
        assert_eq!(parsed.medium.as_deref(), Some("paid_social"));
        assert_eq!(parsed.campaign, None);
        let parsed = utm_from_url("https://shop.example/?utm_term=red+tee");
        assert_eq!(parsed.term.as_deref(), Some("red tee"));
        assert_eq!(utm_from_url("https://shop.example/"), Utm::default());
    }
}
