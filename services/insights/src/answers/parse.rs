//! The built-in planner's parser: a question in plain language → a [`Plan`], or a
//! [`Refusal`] saying in one line why the data cannot answer it. No model, no network:
//! keyword and pattern rules over a normalised text, resolved against the brand's own
//! names (campaigns, products, SKUs) and connected sources. `docs/answers.md` states
//! what it understands.

use std::sync::LazyLock;

use chrono::{Days, NaiveDate};
use pp_metrics::Metric;
use regex::Regex;

use super::period::{self, Found, Grain, Period};
use super::plan::{Ask, Breakdown, Key, Plan, Rank, Refusal};
use crate::engine::{self, Dimension, MAX_PERIOD_DAYS};
use crate::store::catalog::{Campaign, Product};
use crate::store::commerce::VariantRow;

/// Days of velocity stock questions use (as GetInventoryForecast's default).
pub const VELOCITY_WINDOW_DAYS: u64 = 28;
/// "What will run out" without a horizon.
pub const DEFAULT_HORIZON_DAYS: u32 = 14;
/// "Top products" without a number.
pub const DEFAULT_TOP: u32 = 5;

/// What the planner knows about the brand besides the question.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub today: NaiveDate,
    /// The request's default period (else the last 30 days).
    pub default_period: Option<(NaiveDate, NaiveDate)>,
    /// The plan of the question this one follows up on.
    pub parent: Option<Plan>,
    pub brand_name: String,
    pub campaigns: Vec<Campaign>,
    pub products: Vec<Product>,
    pub variants: Vec<VariantRow>,
    /// Wire names of the connected sources (`SHOPIFY`, `META_ADS`, …); `None` when
    /// unknown (the check is then skipped).
    pub connected: Option<Vec<String>>,
    /// The brand's first day with data, if it has any.
    pub data_start: Option<NaiveDate>,
}

/// Lower case, one space between words, typographic quotes and dashes made plain, and
/// sentence punctuation dropped (but not the `.`, `/`, `-`, `+`, `%` inside tokens).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        let ch = match ch {
            '’' | '‘' | '`' => '\'',
            '–' | '—' | '−' => '-',
            '“' | '”' => '"',
            c => c,
        };
        if ch.is_alphanumeric()
            || matches!(ch, '\'' | '-' | '/' | '+' | '%' | '.' | ',' | '&' | '$')
        {
            out.extend(ch.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    let words: Vec<&str> = out
        .split_whitespace()
        .map(|w| {
            w.trim_end_matches(['.', ','])
                .trim_start_matches(['.', ','])
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ")
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|err| panic!("planner pattern {pattern}: {err}"))
}

/// Questions that are not about the store's data at all.
static OFF_TOPIC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(poem|joke|weather|recipe|song|story|haiku|translate|capital of|president|bitcoin|crypto|stock price|share price|news|horoscope|who (is|are|was)|what is the meaning|tell me about yourself|write (me )?(a|an)|essay|email to|meaning of life|football|movie)\b",
    )
});

/// Measures Pulsepoint does not have, with what owners call them.
static MISSING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(sessions?|traffic|visitors?|visits|page ?views|bounce rate|conversion rate|cvr|open rates?|click[- ]?through|ctr|cpc|cpm|cost per click|impressions|clicks|subscribers?|followers|likes|reviews?|ratings?|nps|lifetime value|ltv|clv|churn|abandon(ed|ment)? (cart|checkout)s?|cart abandonment|checkouts?|add to carts?|shipping (costs?|revenue|charged)|taxes|tax collected|return rate|refund rate|repeat rate|retention|email|sms|klaviyo|amazon|etsy|ebay|walmart|pinterest|snapchat|linkedin|twitter|x ads)\b",
    )
});

/// Another brand, store or shop than this one.
static OTHER_BRAND: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b((my |our |the )?(other|another|second|sister|2nd) (store|stores|brand|brands|shop|shops)|all (of )?(my|our) (stores|brands|shops)|every (store|brand|shop)|competitors?|industry average|benchmarks?|(with|to|vs\.?|versus|against|and) [a-z][a-z0-9&'.]*( [a-z][a-z0-9&'.]*)? (co|inc|ltd|llc|corp|company|store|shop|brand)\b)",
    )
});

/// Stock-out questions: what runs out (soon).
static STOCK_OUT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(run(ning|s)? out|sell(ing|s)? out|stock ?outs?|running low|low (on )?stock|low inventory|out of stock|need(s)? (to be )?(reorder(ed)?|restock(ed)?)|reorder|restock)\b",
    )
});

/// The horizon of a stock-out question: "next 2 weeks", "within 10 days", "this month".
static HORIZON: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:next|within|in|coming|over the next) (?:the )?(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a) (day|days|week|weeks|month|months)\b|\bnext (week|month)\b|\b(this|next) week\b",
    )
});

/// A metric named in a question: the pattern and the catalogue metric. Earlier rules
/// win over later ones on the same words.
static METRICS: LazyLock<Vec<(Regex, Metric)>> = LazyLock::new(|| {
    let rules: &[(&str, Metric)] = &[
        (
            r"\bnew customer (revenue|sales)|(revenue|sales|money)( that)?( came| come| did we get| we got| did we make)? from new (customers|buyers)|new customers'? (spend|spent|revenue|sales)\b",
            Metric::NewCustomerRevenue,
        ),
        (
            r"\b(returning|repeat) customer (revenue|sales)|(revenue|sales|money)( that)?( came| come| did we get| we got| did we make)? from (returning|repeat) (customers|buyers)|(returning|repeat) customers'? (spend|spent|revenue|sales)\b",
            Metric::ReturningCustomerRevenue,
        ),
        (
            r"\b(platform|reported|attributed|meta|facebook|tiktok|google)[- ]?(reported )?(revenue|conversion value|purchase value)|conversion value\b",
            Metric::PlatformRevenue,
        ),
        (
            r"\b(platform|reported|in-platform)[- ]roas\b",
            Metric::PlatformRoas,
        ),
        (
            r"\bblended roas|\bmer\b|marketing efficiency( ratio)?|blended return\b",
            Metric::BlendedRoas,
        ),
        (
            r"\broas\b|return on ad ?spend|return on (my |our )?ads?\b",
            Metric::BlendedRoas,
        ),
        (
            r"\bcac\b|cost per (acquisition|new customer|customer)|(customer )?acquisition cost|cost to acquire|\bcpa\b",
            Metric::Cac,
        ),
        (
            r"\bcontribution margin|\bprofit(s|ability)?\b|\bmake after (ads|ad spend)\b",
            Metric::ContributionMargin,
        ),
        (r"\bgross margin|\bmargins?\b", Metric::GrossMargin),
        (
            r"\bcogs\b|cost of (goods|sales)|product costs?\b",
            Metric::Cogs,
        ),
        (r"\bgross sales|gross revenue\b", Metric::GrossSales),
        (
            r"\b(aov|average order( value| size)?|avg\.? order( value)?|average basket|basket size)\b",
            Metric::AverageOrderValue,
        ),
        (
            r"\bnew customers?|first[- ]time (customers|buyers)|new buyers\b",
            Metric::NewCustomers,
        ),
        (
            r"\b(returning|repeat) (customers|buyers)\b",
            Metric::ReturningCustomers,
        ),
        (
            r"\b(ad ?spend|ads? spend|spen(d|ds|ding|t)|marketing (spend|budget|costs?)|advertising( costs?| spend)?|cost of ads|ad costs?|budget)\b",
            Metric::AdSpend,
        ),
        (r"\b(refunds?|refunded|returns|returned)\b", Metric::Refunds),
        (r"\bdiscounts?|promo codes?|coupons?\b", Metric::Discounts),
        (
            r"\b(units|items|pieces|products) (sold|did (i|we) sell|have (i|we) sold)|how many (units|items|pieces)|units\b|how many( [a-z0-9+&'-]+){0,4} (did|have|do) (we|i) (sell|sold)\b|(quantity|qty) sold\b",
            Metric::Units,
        ),
        (r"\b(orders?|purchases|transactions)\b", Metric::Orders),
        (
            r"\bnet sales|net revenue|\bsales\b|revenue|turnover|top line|takings|income|how much (did|have) (i|we) (make|made|sell|sold|earn|earned|bring in|brought in|do|done)|(make|made|earn|earned) (money)?|how('?d| did| are)( (i|we))? do(ing)?\b|how (was|is) (business|the store|my store|our store)|performance\b",
            Metric::NetRevenue,
        ),
        (
            r"\bsell(s|ing)? per day|daily velocity|velocity|sell-through rate|run rate\b",
            Metric::DailyVelocity,
        ),
    ];
    rules.iter().map(|(p, m)| (re(p), *m)).collect()
});

static STOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(days? of (cover|stock|inventory)|cover|how long (will|would|does|do)( .*)? last|last (us|me)|(in|of) stock|stock (level|levels|left)|inventory( level| levels)?|on hand|units left|left in stock|how many( .*)? (do|have) (i|we) (have|got)|stock)\b",
    )
});

static COMPARE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(vs\.?|versus|compared (to|with)|compare (it |that )?(to|with)|against|than|relative to)\b",
    )
});

static SAME_LAST_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b((vs\.?|versus|compared (to|with)|than|against) last year|same (period|time|days|month|week|quarter|day) (last|a|the previous|previous|prior) year|year[- ]over[- ]year|yoy|y/y|a year (ago|earlier|before)|last year'?s same period|same period a year (ago|earlier))\b",
    )
});

static CHANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(up or down|down or up|grow(ing|n|th)?|grew|change(d)?|increase(d)?|decrease(d)?|trend(ing)?|better or worse|improv(e|ed|ing)|drop(ped)?|declin(e|ed|ing)|previous period|prior period|period before|compare(d)?|comparison|wow|mom|week over week|month over month|go(ne|es)? (up|down)|went (up|down)|up or down|higher or lower|more or less)\b",
    )
});

static BACK_ONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(the )?(day|week|month|quarter|year|period) before( that)?\b|\bbefore that\b|\bthe previous one\b|\bthe prior (one|period)\b|\bprevious (day|week|month|quarter|year)\b",
    )
});

static TOP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<dir>top|best|highest|biggest|most|leading|worst|bottom|lowest|least|weakest|poorest)(?:[- ](?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten))?\b",
    )
});

static BEST_SELLERS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(best[- ]?sellers?|best[- ]selling|top[- ]selling|top sellers?|sold the most|sells? the most|most popular|sold best|sell best|worst[- ]selling|least[- ]selling|slowest[- ]selling|slow(est)? movers?|sold the least|sells? the least)\b",
    )
});

static BLENDED: LazyLock<Regex> = LazyLock::new(|| re(r"\b(blended|mer|marketing efficiency)\b"));

static ALL_TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(all[- ]time|ever|since (the )?(beginning|start|launch|we (started|opened)))\b")
});

fn count_word(word: &str) -> Option<u32> {
    period::count(word)
}

/// The plan for `question`, or why it cannot be answered.
pub fn plan(question: &str, ctx: &Context) -> Result<Plan, Refusal> {
    let text = normalise(question);
    if text.is_empty() {
        return Err(Refusal::new("The question is empty."));
    }
    if OFF_TOPIC.is_match(&text) {
        return Err(Refusal::new(
            "I can only answer questions about this store's sales, ads, customers and stock.",
        )
        .suggest("Try \"What was my net revenue last week?\""));
    }
    if OTHER_BRAND.is_match(&text) || names_other_brand(&text, ctx) {
        return Err(Refusal::new(format!(
            "I can only answer about {}, the brand this question was asked for.",
            brand_label(ctx)
        ))
        .suggest("Switch brand to ask about another store."));
    }
    if ALL_TIME.is_match(&text) {
        return Err(
            Refusal::new("Questions cover at most 731 days at a time; name a period.")
                .suggest("Try \"this year\" or \"last 12 months\"."),
        );
    }
    let mut work = text.clone();
    let names = find_names(&mut work, ctx)?;
    work = work.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(m) = MISSING.find(&work) {
        return Err(Refusal::new(format!(
            "Pulsepoint has no \"{}\" data: it knows orders, products, stock and ad spend.",
            m.as_str()
        ))
        .suggest("Ask about sales, orders, AOV, ad spend, ROAS, CAC, margin or stock."));
    }
    let found = period::find(&work, ctx.today);
    if let Some(thing) = unknown_thing(&work, &found) {
        return Err(Refusal::new(format!(
            "This brand has no product or campaign called \"{thing}\"."
        ))
        .suggest("Ask for the top products or ad spend by campaign to see their names."));
    }
    let stock_out = STOCK_OUT.is_match(&work);
    let mut plan = if stock_out && names.is_empty() {
        stock_out_plan(&work, ctx)
    } else if let Some(plan) = stock_plan(&work, &names, ctx, stock_out) {
        plan
    } else {
        metric_plan(&work, &found, &names, ctx)?
    };
    apply_names(&mut plan, &names);
    check_sources(&plan, ctx)?;
    check_period(&plan, ctx)?;
    Ok(plan)
}

fn brand_label(ctx: &Context) -> String {
    if ctx.brand_name.is_empty() {
        "this brand".to_owned()
    } else {
        ctx.brand_name.clone()
    }
}

/// "For Acme's store": a possessive store name that is not this brand's.
fn names_other_brand(text: &str, ctx: &Context) -> bool {
    static POSSESSIVE: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b([a-z0-9&]+)'s (store|shop|brand|sales|revenue)\b"));
    let own = normalise(&ctx.brand_name);
    POSSESSIVE.captures_iter(text).any(|c| {
        let name = c.get(1).map_or("", |m| m.as_str());
        !matches!(
            name,
            "today"
                | "yesterday"
                | "week"
                | "month"
                | "year"
                | "quarter"
                | "meta"
                | "tiktok"
                | "google"
                | "facebook"
                | "instagram"
                | "it"
                | "that"
                | "this"
                | "what"
                | "how"
                | "who"
                | "where"
                | "there"
                | "here"
                | "let"
                | "today's"
                | "everyone"
                | "customer"
                | "customers"
        ) && !own.contains(name)
    })
}

/// The brand's own names a question mentions.
#[derive(Debug, Clone, Default)]
struct Names {
    platform: Option<&'static str>,
    campaign: Option<(String, &'static str)>,
    product: Option<String>,
    variant: Option<String>,
    sales_channel: Option<String>,
}

impl Names {
    fn is_empty(&self) -> bool {
        self.campaign.is_none() && self.product.is_none() && self.variant.is_none()
    }
}

static PLATFORM: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (
            re(r"\b(meta|facebook|fb|instagram|insta|ig)( ads)?\b"),
            "META_ADS",
        ),
        (re(r"\b(tiktok|tik tok|tik-tok)( ads)?\b"), "TIKTOK_ADS"),
        (re(r"\b(google|adwords|youtube)( ads)?\b"), "GOOGLE_ADS"),
    ]
});

static CHANNEL: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (re(r"\b(online store|online|web ?site|web)\b"), "web"),
        (
            re(r"\b(pos|point of sale|in[- ]store|retail store|shop floor)\b"),
            "pos",
        ),
    ]
});

/// Finds (and blanks out of `text`) the SKUs, products, campaigns, platforms and
/// sales channels the question names; refuses a named one the brand does not have.
fn find_names(text: &mut String, ctx: &Context) -> Result<Names, Refusal> {
    let mut names = Names::default();
    // SKUs: exact codes.
    let mut best: Option<(usize, &VariantRow)> = None;
    for variant in &ctx.variants {
        if variant.sku.is_empty() {
            continue;
        }
        let sku = variant.sku.to_lowercase();
        if contains_phrase(text, &sku) && best.is_none_or(|(len, _)| sku.len() > len) {
            best = Some((sku.len(), variant));
        }
    }
    if let Some((_, variant)) = best {
        blank(text, &variant.sku.to_lowercase());
        names.variant = Some(variant.variant_id.clone());
    } else if let Some(c) = SKU_WORD.captures(text)
        && let Some(code) = c.get(1)
    {
        return Err(Refusal::new(format!(
            "This brand has no SKU \"{}\".",
            code.as_str().to_uppercase()
        ))
        .suggest("Check the SKU on the Inventory page."));
    }
    // Campaigns: the whole name, or at least two of its words (one when the question
    // says "campaign" and no other campaign has that word); a tie names none.
    let text_words: Vec<String> = text.split(' ').map(singular).collect();
    let words_of = |name: &str| -> Vec<String> {
        normalise(name)
            .split(' ')
            .filter(|w| w.len() >= 3 && !w.chars().any(|c| c.is_ascii_digit()))
            .filter(|w| !CAMPAIGN_STOP.contains(w))
            .map(singular)
            .collect()
    };
    let says_campaign = text.contains("campaign");
    let mut best: Option<(usize, &Campaign)> = None;
    let mut tie = false;
    for campaign in &ctx.campaigns {
        let full = normalise(&campaign.name);
        let words = words_of(&campaign.name);
        let matched: Vec<&String> = words.iter().filter(|w| text_words.contains(w)).collect();
        // A part of the name between `|` that no other campaign has, said whole.
        let parts = campaign
            .name
            .split('|')
            .map(normalise)
            .filter(|part| part.len() >= 4 && contains_phrase(text, part))
            .filter(|part| {
                ctx.campaigns
                    .iter()
                    .filter(|c| c.name.split('|').map(normalise).any(|p| &p == part))
                    .count()
                    == 1
            })
            .count();
        let score = if contains_phrase(text, &full) {
            100 + words.len()
        } else if parts > 0 {
            2 * parts + matched.len()
        } else if matched.len() >= 2 {
            matched.len()
        } else if matched.len() == 1
            && says_campaign
            && ctx
                .campaigns
                .iter()
                .filter(|c| words_of(&c.name).contains(matched[0]))
                .count()
                == 1
        {
            1
        } else {
            0
        };
        if score > 0 {
            match best {
                Some((s, _)) if s == score => tie = true,
                Some((s, _)) if s > score => {}
                _ => {
                    best = Some((score, campaign));
                    tie = false;
                }
            }
        }
    }
    if let Some((_, campaign)) = best
        && !tie
    {
        for part in campaign.name.split('|').map(normalise) {
            blank(text, &part);
        }
        let words = words_of(&campaign.name);
        let kept: Vec<&str> = text
            .split(' ')
            .filter(|w| !words.contains(&singular(w)))
            .collect();
        *text = kept.join(" ");
        names.campaign = Some((campaign.campaign_id.clone(), campaign.platform));
    } else if let Some(c) = CAMPAIGN_WORD.captures(text)
        && let Some(name) = c.get(1).or(c.get(2))
        && !is_generic(name.as_str())
    {
        return Err(Refusal::new(format!(
            "This brand has no campaign called \"{}\".",
            name.as_str().trim()
        ))
        .suggest("Ask for ad spend by campaign to see the campaigns' names."));
    }
    // Products: the longest title the text contains (plural allowed).
    if names.variant.is_none() {
        let mut best: Option<(usize, &Product)> = None;
        for product in &ctx.products {
            let title = normalise(&product.title);
            let hit = contains_phrase(text, &title) || contains_phrase(text, &format!("{title}s"));
            if hit && best.is_none_or(|(len, _)| title.len() > len) {
                best = Some((title.len(), product));
            }
        }
        if let Some((_, product)) = best {
            let title = normalise(&product.title);
            blank(text, &format!("{title}s"));
            blank(text, &title);
            names.product = Some(product.product_id.clone());
        } else if let Some(c) = PRODUCT_WORD.captures(text)
            && let Some(name) = c.get(1)
        {
            return Err(Refusal::new(format!(
                "This brand has no product called \"{}\".",
                name.as_str()
            ))
            .suggest("Ask for the top products by revenue to see their names."));
        }
    }
    for (pattern, wire) in PLATFORM.iter() {
        if pattern.is_match(text) {
            names.platform = Some(wire);
            *text = pattern.replace_all(text, " ").into_owned();
            break;
        }
    }
    for (pattern, channel) in CHANNEL.iter() {
        if pattern.is_match(text) && !text.contains("by channel") {
            names.sales_channel = Some((*channel).to_owned());
            *text = pattern.replace_all(text, " ").into_owned();
            break;
        }
    }
    Ok(names)
}

static SKU_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bsku ([a-z0-9-]*\d[a-z0-9-]*)\b|\b([a-z]{2,4}-\d{2,}(?:-[a-z0-9]+)?)\b")
});
static CAMPAIGN_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"\b(?:campaign (?:called |named )"?([a-z0-9][a-z0-9 +&'-]{2,30}?)"?(?: (?:last|this|in|on|for|during|since|yesterday|today)\b|$)|the "?([a-z0-9][a-z0-9+&'-]*(?: [a-z0-9+&'-]+){0,3}?)"? campaign\b)"#,
    )
});
static PRODUCT_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"\b(?:product (?:called |named )"?([a-z0-9][a-z0-9 +&'-]{2,30}?)"?(?: (?:last|this|in|on|for|during|since)\b|$)|(?:of|for|many) (?:the |my |our )?"([a-z0-9][a-z0-9 +&'-]{2,30})")"#,
    )
});

/// Words of campaign names that name no campaign in particular.
const CAMPAIGN_STOP: &[&str] = &[
    "campaign",
    "campaigns",
    "ads",
    "all",
    "the",
    "and",
    "products",
    "product",
    "audience",
];

/// "tees" → "tee", for matching names in either number.
fn singular(word: &str) -> String {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

fn is_generic(part: &str) -> bool {
    matches!(
        part.trim(),
        "prospecting"
            | "retargeting"
            | "brand"
            | "search"
            | "the"
            | "my"
            | "our"
            | "each"
            | "every"
            | "which"
            | "best"
            | "worst"
            | "top"
            | "a"
            | "this"
            | "that"
            | "meta"
            | "google"
            | "tiktok"
            | "per"
            | "by"
    ) || part.split_whitespace().all(|w| {
        matches!(
            w,
            "the"
                | "my"
                | "our"
                | "each"
                | "every"
                | "which"
                | "best"
                | "worst"
                | "top"
                | "per"
                | "by"
                | "a"
                | "what"
                | "ad"
                | "ads"
                | "roas"
                | "spend"
                | "meta"
                | "google"
                | "tiktok"
                | "facebook"
                | "biggest"
                | "highest"
                | "lowest"
                | "most"
                | "least"
                | "bottom"
                | "one"
                | "was"
                | "is"
                | "how"
                | "did"
                | "do"
                | "and"
                | "only"
        ) || w.parse::<u32>().is_ok()
    })
}

/// Whether `text` contains `phrase` between word boundaries.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if boundary(before) && boundary(after) {
            return true;
        }
        from = start + phrase.len().max(1);
        if from >= text.len() {
            break;
        }
    }
    false
}

fn blank(text: &mut String, phrase: &str) {
    if !phrase.is_empty() && contains_phrase(text, phrase) {
        *text = text.replace(phrase, " ");
    }
}

/// "Sales of the Platinum Surfboard": words after "of/for the" that are no name of the
/// brand's, no period and no word of a question: something the brand does not sell.
fn unknown_thing(text: &str, found: &[Found]) -> Option<String> {
    static THING: LazyLock<Regex> = LazyLock::new(|| {
        re(
            r"\b(?:sales|revenue|units|sold|sell|stock|inventory|orders|spend) (?:of|for|on) (?:the|my|our) ([a-z][a-z0-9'+-]*(?: [a-z][a-z0-9'+-]*){0,2})",
        )
    });
    const QUESTION_WORDS: &[&str] = &[
        "last",
        "this",
        "past",
        "previous",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "quarter",
        "day",
        "days",
        "today",
        "yesterday",
        "period",
        "time",
        "store",
        "shop",
        "brand",
        "business",
        "whole",
        "entire",
        "same",
        "so",
        "far",
        "in",
        "on",
        "and",
        "vs",
        "by",
        "per",
        "each",
        "every",
        "all",
        "total",
        "overall",
        "top",
        "best",
        "worst",
        "products",
        "product",
        "items",
        "campaigns",
        "campaign",
        "platforms",
        "ads",
        "ad",
        "meta",
        "google",
        "tiktok",
        "facebook",
        "instagram",
        "month's",
        "week's",
        "year's",
        "first",
        "second",
        "third",
        "fourth",
        "half",
        "holiday",
        "holidays",
        "season",
        "weekend",
        "black",
        "friday",
        "cyber",
        "monday",
        "bfcm",
        "online",
        "web",
        "pos",
        "skus",
        "sku",
        "variants",
        "channel",
        "channels",
        "new",
        "returning",
        "customers",
    ];
    let mut blanked = text.to_owned();
    for f in found {
        blanked.replace_range(f.span.clone(), &" ".repeat(f.span.len()));
    }
    let c = THING.captures(&blanked)?;
    let phrase = c.get(1)?.as_str();
    let content: Vec<&str> = phrase
        .split(' ')
        .take_while(|w| !QUESTION_WORDS.contains(w))
        .collect();
    (!content.is_empty()
        && content
            .iter()
            .all(|w| w.len() >= 3 && !w.chars().any(|c| c.is_ascii_digit())))
    .then(|| content.join(" "))
}

fn stock_out_plan(text: &str, ctx: &Context) -> Plan {
    let horizon_days = HORIZON
        .captures(text)
        .and_then(|c| {
            if let (Some(n), Some(unit)) = (c.get(1), c.get(2)) {
                let n = count_word(n.as_str())?;
                Some(if unit.as_str().starts_with("week") {
                    7 * n
                } else if unit.as_str().starts_with("month") {
                    30 * n
                } else {
                    n
                })
            } else if c.get(3).is_some_and(|m| m.as_str() == "month") {
                Some(30)
            } else {
                Some(7)
            }
        })
        .unwrap_or(DEFAULT_HORIZON_DAYS);
    Plan {
        ask: Ask::StockOut { horizon_days },
        metrics: vec![Metric::DaysOfCover.id().to_owned()],
        period: velocity_window(ctx.today),
        comparison: None,
        filters: Vec::new(),
        breakdown: Some(Breakdown::Key(Key::Variant)),
        rank: None,
        category: "inventory".into(),
    }
}

/// The velocity window of stock questions: the 28 complete days before today.
pub fn velocity_window(today: NaiveDate) -> Period {
    Period::new(
        today - Days::new(VELOCITY_WINDOW_DAYS),
        today - Days::new(1),
        Grain::Span,
    )
}

fn stock_plan(text: &str, names: &Names, ctx: &Context, stock_out: bool) -> Option<Plan> {
    let said = match STOCK.find(text) {
        Some(m) => m.as_str(),
        None if stock_out => "cover",
        None => return None,
    };
    // "stock" in a sales question ("revenue of in-stock items") is rare; a sales metric
    // named besides it wins.
    let metrics: Vec<Metric> =
        if said.contains("cover") || said.contains("how long") || said.contains("last") {
            vec![Metric::DaysOfCover, Metric::DailyVelocity, Metric::OnHand]
        } else if METRICS
            .iter()
            .any(|(p, m)| p.is_match(text) && !matches!(m, Metric::DailyVelocity | Metric::Units))
        {
            return None;
        } else {
            vec![Metric::OnHand]
        };
    let mut plan = Plan {
        ask: Ask::Stock,
        metrics: metrics.iter().map(|m| m.id().to_owned()).collect(),
        period: velocity_window(ctx.today),
        comparison: None,
        filters: Vec::new(),
        breakdown: None,
        rank: None,
        category: "inventory".into(),
    };
    if names.variant.is_none() && names.product.is_none() {
        if BY_PRODUCT.is_match(text) {
            plan.breakdown = Some(Breakdown::Key(Key::Product));
        } else if BY_SKU.is_match(text) {
            plan.breakdown = Some(Breakdown::Key(Key::Variant));
        }
    }
    Some(plan)
}

static BY_PLATFORM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(by|per|each|every|across|split by|broken down by|for each|which) (ad )?(platform|platforms|network|networks|ad channel|ad channels)\b|\bplatform by platform|\bwhich platform\b",
    )
});
static BY_CAMPAIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(by|per|each|every|across|for each|which|what|top|best|worst|bottom|lowest|highest|\d+|five|three|ten) (ad )?(campaign|campaigns)\b|\bcampaign (breakdown|performance)\b|\bcampaigns\b",
    )
});
static BY_PRODUCT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(by|per|each|every|for each|which|what) (product|products|item|items)\b|\b(top|best|worst|bottom|lowest|highest|\d+|five|three|ten)( selling)? (products|product|items|item)\b|\bproducts\b|\bproduct breakdown\b",
    )
});
static BY_SKU: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(by|per|each|every|for each|which|what) (sku|skus|variant|variants)\b|\b(top|best|worst|bottom|\d+|five|three|ten) (skus|sku|variants|variant)\b|\bskus\b",
    )
});
static BY_CHANNEL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(by|per|each|every|for each|which|what) (sales )?(channel|channels)\b")
});
static BY_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(by|per|each|every) day\b|\bdaily\b|\bday by day\b|\bday-by-day\b|\bwhich day\b")
});
static BY_WEEK: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(by|per|each|every) week\b|\bweekly\b|\bweek by week\b|\bweek-by-week\b")
});
static BY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(by|per|each|every) month\b|\bmonthly\b|\bmonth by month\b|\bmonth-by-month\b|\bwhich month\b",
    )
});
static NEW_VS_RETURNING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bnew (vs\.?|versus|and|or|against) (returning|repeat)\b|\b(returning|repeat) (vs\.?|versus|and|or) new\b|\bnew (customers )?(vs\.?|versus|and) (returning|repeat)\b",
    )
});
static OVERALL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(overall|in total|total|altogether|combined|all together)\b"));
static ONLY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(only|just|what about|how about|and for|for)\b"));

fn breakdown_of(text: &str) -> Option<Breakdown> {
    if NEW_VS_RETURNING.is_match(text) {
        return Some(Breakdown::NewVsReturning);
    }
    if BY_PLATFORM.is_match(text) {
        return Some(Breakdown::Key(Key::Platform));
    }
    if BY_SKU.is_match(text) {
        return Some(Breakdown::Key(Key::Variant));
    }
    if BY_PRODUCT.is_match(text) || BEST_SELLERS.is_match(text) {
        return Some(Breakdown::Key(Key::Product));
    }
    if BY_CAMPAIGN.is_match(text) {
        return Some(Breakdown::Key(Key::Campaign));
    }
    if BY_CHANNEL.is_match(text) {
        return Some(Breakdown::Key(Key::SalesChannel));
    }
    if BY_MONTH.is_match(text) {
        return Some(Breakdown::Month);
    }
    if BY_WEEK.is_match(text) {
        return Some(Breakdown::Week);
    }
    if BY_DAY.is_match(text) {
        return Some(Breakdown::Day);
    }
    None
}

static SELLERS_PLURAL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(sellers|movers|products|items|skus|variants|top[- ]selling)\b"));
static SELLING_LEAST: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(worst|least|slowest|slow|bottom)\b"));

fn rank_of(text: &str, breakdown: Option<Breakdown>) -> Option<Rank> {
    if !matches!(breakdown, Some(Breakdown::Key(_))) {
        return None;
    }
    if BEST_SELLERS.is_match(text) {
        let n = TOP
            .captures(text)
            .and_then(|c| c.name("n"))
            .and_then(|n| count_word(n.as_str()))
            .or_else(|| {
                NUMBER
                    .captures(text)
                    .and_then(|c| count_word(c.get(1)?.as_str()))
            })
            .unwrap_or(if SELLERS_PLURAL.is_match(text) {
                DEFAULT_TOP
            } else {
                1
            });
        let highest = !SELLING_LEAST.is_match(text);
        return Some(Rank { n, highest });
    }
    let c = TOP.captures(text)?;
    let dir = c.name("dir")?.as_str();
    let highest = !matches!(
        dir,
        "worst" | "bottom" | "lowest" | "least" | "weakest" | "poorest"
    );
    let n = match c.name("n") {
        Some(n) => count_word(n.as_str())?,
        // "top products" → 5; "best campaign", "worst product" → 1; plural → 5.
        None if matches!(dir, "top" | "bottom") => DEFAULT_TOP,
        None if PLURAL_KEY.is_match(text) => DEFAULT_TOP,
        None => 1,
    };
    Some(Rank { n, highest })
}

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,2}|five|three|ten) (products|items|skus|best)"));
static PLURAL_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(best|worst|highest|lowest|most|least)( performing| selling)? (products|campaigns|skus|items|platforms|channels|variants)\b",
    )
});

/// The metrics the text names, in order, with the matched words blanked out.
fn metrics_of(text: &str) -> (Vec<Metric>, String) {
    let mut work = text.to_owned();
    let mut found: Vec<(usize, Metric)> = Vec::new();
    for (pattern, metric) in METRICS.iter() {
        let spans: Vec<(usize, usize)> = pattern
            .find_iter(&work)
            .map(|m| (m.start(), m.end()))
            .collect();
        for (start, end) in spans {
            if !found.iter().any(|(_, m)| m == metric) {
                found.push((start, *metric));
            }
            let blank = " ".repeat(end - start);
            work.replace_range(start..end, &blank);
        }
    }
    found.sort_by_key(|(at, _)| *at);
    (found.into_iter().map(|(_, m)| m).collect(), work)
}

fn metric_plan(text: &str, found: &[Found], names: &Names, ctx: &Context) -> Result<Plan, Refusal> {
    let parent = ctx.parent.as_ref();
    let (mut metrics, rest) = metrics_of(text);
    // Breakdowns are read from what the metric names left ("daily velocity" is no
    // daily breakdown), "new vs returning" from the whole text.
    let mut breakdown = if NEW_VS_RETURNING.is_match(text) {
        Some(Breakdown::NewVsReturning)
    } else {
        breakdown_of(&rest)
    };
    if BEST_SELLERS.is_match(text) && metrics.is_empty() {
        metrics.push(Metric::Units);
    }
    // "Top products" / "which campaign was best" without a metric: revenue for
    // products, ROAS for campaigns, spend for platforms.
    if metrics.is_empty() && parent.is_none() {
        match breakdown {
            Some(Breakdown::Key(Key::Product | Key::Variant | Key::SalesChannel)) => {
                metrics.push(Metric::NetRevenue)
            }
            Some(Breakdown::Key(Key::Campaign)) if TOP.is_match(text) => {
                metrics.push(Metric::PlatformRoas)
            }
            Some(Breakdown::Key(Key::Campaign | Key::Platform)) => metrics.push(Metric::AdSpend),
            Some(Breakdown::NewVsReturning) => metrics.push(Metric::NetRevenue),
            _ => {}
        }
    }
    let inherited = metrics.is_empty();
    if inherited {
        match parent {
            Some(parent) => {
                if parent.ask != Ask::Metrics {
                    let mut plan = parent.clone();
                    if let Some(first) = found.first() {
                        plan.period = first.period;
                    }
                    return Ok(plan);
                }
                metrics = parent.metrics();
            }
            None if names.campaign.is_some() || names.platform.is_some() => metrics.extend([
                Metric::AdSpend,
                Metric::PlatformRevenue,
                Metric::PlatformRoas,
            ]),
            None if names.product.is_some() || names.variant.is_some() => {
                metrics.push(Metric::NetRevenue)
            }
            None => {
                return Err(Refusal::new(
                    "I couldn't tell which figure you are asking about.",
                )
                .suggest("Name a metric, e.g. net revenue, orders, AOV, ad spend, ROAS, CAC or margin."));
            }
        }
    }
    // Period and comparison.
    let same_last_year = SAME_LAST_YEAR.find(text).map(|m| m.range());
    let found: Vec<&Found> = found
        .iter()
        .filter(|f| {
            same_last_year
                .as_ref()
                .is_none_or(|r| f.span.end <= r.start || f.span.start >= r.end)
        })
        .collect();
    let compare_at = {
        // "new vs returning" splits customers; it compares no periods.
        let mut plain = text.to_owned();
        if let Some(m) = NEW_VS_RETURNING.find(text) {
            plain.replace_range(m.range(), &" ".repeat(m.len()));
        }
        COMPARE.find(&plain).map(|m| m.start())
    };
    let (mut current, mut comparison): (Option<Period>, Option<Period>) = (None, None);
    for f in &found {
        if f.future {
            return Err(Refusal::new(
                "That period is in the future: there is no data for it yet.",
            ));
        }
        match compare_at {
            Some(at) if f.span.start > at => {
                if comparison.is_none() {
                    comparison = Some(f.period);
                }
            }
            _ => {
                if current.is_none() {
                    current = Some(f.period);
                } else if comparison.is_none() && CHANGE.is_match(text) {
                    comparison = Some(f.period);
                }
            }
        }
    }
    let back = BACK_ONE.is_match(text);
    let period = match (current, parent) {
        (Some(period), _) => period,
        (None, Some(parent)) if back => parent.period.previous(),
        (None, Some(parent)) => parent.period,
        (None, None) => match (ctx.default_period, comparison) {
            // "vs last month" alone: this month so far against last month.
            (_, Some(cmp)) if compare_at.is_some() && cmp.grain != Grain::Span => {
                let next = cmp_next(cmp, ctx.today);
                comparison = Some(cmp);
                next
            }
            (Some((start, end)), _) => Period::new(start, end, Grain::Span),
            (None, _) => Period::new(
                ctx.today - Days::new(30),
                ctx.today - Days::new(1),
                Grain::Span,
            ),
        },
    };
    if same_last_year.is_some() {
        comparison = Some(period.year_earlier());
    } else if comparison.is_none() {
        if SAME_LAST_YEAR.is_match(text) {
            comparison = Some(period.year_earlier());
        } else if CHANGE.is_match(text) {
            comparison = Some(period.preceding());
        } else if current.is_none()
            && let Some(parent) = parent
            && !back
        {
            comparison = parent.comparison;
        }
    }
    if breakdown.is_none()
        && let Some(parent) = parent
        && !OVERALL.is_match(text)
    {
        breakdown = parent.breakdown;
    }
    let mut plan = Plan {
        ask: Ask::Metrics,
        metrics: Vec::new(),
        period,
        comparison,
        filters: Vec::new(),
        breakdown,
        rank: rank_of(text, breakdown),
        category: String::new(),
    };
    if let Some(parent) = parent {
        if plan.rank.is_none() && breakdown == parent.breakdown {
            plan.rank = parent.rank;
        }
        let replaces = ONLY.is_match(text);
        for (dimension, value) in &parent.filters {
            let Some(d) = Dimension::from_name(dimension) else {
                continue;
            };
            let renamed = match d {
                Dimension::Platform => names.platform.is_some() || names.campaign.is_some(),
                Dimension::CampaignId => {
                    names.campaign.is_some() || (replaces && names.platform.is_some())
                }
                Dimension::ProductId | Dimension::VariantId => {
                    names.product.is_some() || names.variant.is_some()
                }
                Dimension::SalesChannel => names.sales_channel.is_some(),
                Dimension::Day => true,
            };
            if !renamed {
                plan.set_filter(d, value.clone());
            }
        }
    }
    // Platform-level figures for metrics asked per platform or campaign.
    let ad_level = names.platform.is_some()
        || names.campaign.is_some()
        || plan.filter(Dimension::Platform).is_some()
        || plan.filter(Dimension::CampaignId).is_some()
        || matches!(
            breakdown,
            Some(Breakdown::Key(Key::Platform | Key::Campaign))
        );
    let mut resolved = Vec::new();
    for metric in metrics {
        let metric = match (metric, ad_level) {
            (Metric::BlendedRoas, true) if !BLENDED.is_match(text) => Metric::PlatformRoas,
            (Metric::NetRevenue | Metric::GrossSales, true) => Metric::PlatformRevenue,
            (m, _) => m,
        };
        if !resolved.contains(&metric) {
            resolved.push(metric);
        }
    }
    if breakdown == Some(Breakdown::NewVsReturning) {
        let counts = resolved.iter().any(|m| {
            matches!(
                m,
                Metric::NewCustomers | Metric::ReturningCustomers | Metric::Orders
            )
        }) || text.contains("how many");
        resolved = if counts {
            vec![Metric::NewCustomers, Metric::ReturningCustomers]
        } else {
            vec![Metric::NewCustomerRevenue, Metric::ReturningCustomerRevenue]
        };
    }
    plan.metrics = resolved.iter().map(|m| m.id().to_owned()).collect();
    plan.category = category(&resolved, breakdown, names).to_owned();
    Ok(plan)
}

/// The period a bare "vs last month" asks about: the one after `cmp`, to today.
fn cmp_next(cmp: Period, today: NaiveDate) -> Period {
    let start = cmp.end + Days::new(1);
    let end = match cmp.grain {
        Grain::Day => start,
        Grain::Week => start + Days::new(6),
        Grain::Month => start + chrono::Months::new(1) - Days::new(1),
        Grain::Quarter => start + chrono::Months::new(3) - Days::new(1),
        Grain::Year => start + chrono::Months::new(12) - Days::new(1),
        Grain::Span => start + Days::new(u64::try_from(cmp.days() - 1).unwrap_or(0)),
    };
    Period::new(start, end.min(today), cmp.grain)
}

fn category(metrics: &[Metric], breakdown: Option<Breakdown>, names: &Names) -> &'static str {
    if names.product.is_some()
        || names.variant.is_some()
        || matches!(breakdown, Some(Breakdown::Key(Key::Product | Key::Variant)))
    {
        return "products";
    }
    let Some(first) = metrics.first() else {
        return "other";
    };
    match first {
        Metric::AdSpend
        | Metric::PlatformRevenue
        | Metric::PlatformRoas
        | Metric::BlendedRoas
        | Metric::Cac => "marketing",
        Metric::NewCustomers
        | Metric::ReturningCustomers
        | Metric::NewCustomerRevenue
        | Metric::ReturningCustomerRevenue => "customers",
        Metric::DailyVelocity | Metric::DaysOfCover | Metric::OnHand => "inventory",
        _ if names.campaign.is_some() || names.platform.is_some() => "marketing",
        _ => "revenue",
    }
}

/// Puts the names the question mentions on the plan as filters.
fn apply_names(plan: &mut Plan, names: &Names) {
    if let Some((campaign_id, _)) = &names.campaign {
        plan.filters
            .retain(|(d, _)| d != Dimension::Platform.name());
        plan.set_filter(Dimension::CampaignId, campaign_id.clone());
    } else if let Some(platform) = names.platform {
        plan.set_filter(Dimension::Platform, platform.to_owned());
    }
    if let Some(variant) = &names.variant {
        plan.filters
            .retain(|(d, _)| d != Dimension::ProductId.name());
        plan.set_filter(Dimension::VariantId, variant.clone());
    } else if let Some(product) = &names.product {
        plan.filters
            .retain(|(d, _)| d != Dimension::VariantId.name());
        plan.set_filter(Dimension::ProductId, product.clone());
    }
    if let Some(channel) = &names.sales_channel
        && plan.ask == Ask::Metrics
    {
        plan.set_filter(Dimension::SalesChannel, channel.clone());
    }
    if plan.ask == Ask::Stock && (names.product.is_some() || names.variant.is_some()) {
        plan.category = "inventory".into();
    }
    // A breakdown by the dimension a filter pins is no breakdown.
    if let Some(Breakdown::Key(key)) = plan.breakdown
        && plan.filter(key.dimension()).is_some()
    {
        plan.breakdown = None;
        plan.rank = None;
    }
}

/// Refuses metrics whose source is not connected and combinations the engine has no
/// figure for (sales by ad platform, CAC per campaign, …).
fn check_sources(plan: &Plan, ctx: &Context) -> Result<(), Refusal> {
    let metrics = plan.metrics();
    if let Some(connected) = &ctx.connected {
        let has = |wire: &str| connected.iter().any(|c| c == wire);
        if let Some(platform) = plan.filter(Dimension::Platform)
            && !has(platform)
        {
            return Err(Refusal::new(format!(
                "{} is not connected to this brand, so there is no data for it.",
                platform_name(platform)
            ))
            .suggest("Connect it on the Integrations page."));
        }
        let ads = ["META_ADS", "TIKTOK_ADS", "GOOGLE_ADS"];
        if metrics.iter().any(|m| is_ads(*m)) && !ads.iter().any(|a| has(a)) {
            return Err(Refusal::new(
                "No ad platform is connected to this brand, so there is no ad spend.",
            )
            .suggest("Connect Meta, TikTok or Google Ads on the Integrations page."));
        }
        if metrics.iter().any(|m| !is_ads(*m)) && !has("SHOPIFY") {
            return Err(Refusal::new(
                "No store is connected to this brand, so there are no orders or products.",
            )
            .suggest("Connect Shopify (or the demo store) on the Integrations page."));
        }
    }
    let query_filters = plan.engine_filters();
    for metric in &metrics {
        let query = engine::Query {
            metric: *metric,
            start: plan.period.start,
            end: plan.period.end,
            filters: query_filters.clone(),
            breakdown: match plan.breakdown {
                Some(Breakdown::Key(key)) => Some(key.dimension()),
                Some(Breakdown::Day) => Some(Dimension::Day),
                _ => None,
            },
        };
        if matches!(plan.ask, Ask::StockOut { .. }) {
            continue;
        }
        if let Err(engine::QueryError::Dimension { dimension, .. }) = engine::check(&query) {
            return Err(Refusal::new(format!(
                "{} can't be split by {}.",
                metric.definition().display_name,
                dimension_words(dimension)
            ))
            .suggest(suggestion_for(*metric, dimension)));
        }
    }
    Ok(())
}

fn is_ads(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::AdSpend
            | Metric::PlatformRevenue
            | Metric::PlatformRoas
            | Metric::BlendedRoas
            | Metric::Cac
    )
}

fn suggestion_for(metric: Metric, dimension: Dimension) -> String {
    match dimension {
        Dimension::Platform | Dimension::CampaignId => {
            "Ask for ad spend, platform-reported revenue or platform ROAS by platform or campaign, or see Attribution.".into()
        }
        Dimension::ProductId | Dimension::VariantId => format!(
            "Per product, ask for net revenue, units, refunds or COGS instead of {}.",
            metric.definition().display_name.to_lowercase()
        ),
        _ => "Ask for the store-wide figure.".into(),
    }
}

fn dimension_words(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Day => "day",
        Dimension::SalesChannel => "sales channel",
        Dimension::Platform => "ad platform",
        Dimension::CampaignId => "campaign",
        Dimension::VariantId => "SKU",
        Dimension::ProductId => "product",
    }
}

pub fn platform_name(wire: &str) -> &'static str {
    match wire {
        "META_ADS" => "Meta Ads",
        "TIKTOK_ADS" => "TikTok Ads",
        "GOOGLE_ADS" => "Google Ads",
        "SHOPIFY" => "Shopify",
        _ => "That platform",
    }
}

fn check_period(plan: &Plan, ctx: &Context) -> Result<(), Refusal> {
    for period in std::iter::once(&plan.period).chain(plan.comparison.as_ref()) {
        if period.start > ctx.today {
            return Err(Refusal::new(
                "That period is in the future: there is no data for it yet.",
            ));
        }
        if period.days() > MAX_PERIOD_DAYS {
            return Err(Refusal::new(format!(
                "A question can cover at most {MAX_PERIOD_DAYS} days; that period has {}.",
                period.days()
            ))
            .suggest("Ask about a shorter period, e.g. this year."));
        }
        if plan.ask == Ask::Metrics
            && let Some(first) = ctx.data_start
            && period.end < first
        {
            return Err(Refusal::new(format!(
                "This brand's data starts on {}; there is none for {}.",
                first.format("%b %-d, %Y"),
                period.label()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn ctx() -> Context {
        Context {
            today: d(2026, 11, 18),
            brand_name: "Northwind".into(),
            campaigns: vec![
                Campaign {
                    platform: "META_ADS",
                    campaign_id: "m1".into(),
                    name: "Retargeting | Cart abandoners 7d".into(),
                },
                Campaign {
                    platform: "META_ADS",
                    campaign_id: "m2".into(),
                    name: "Advantage+ Shopping".into(),
                },
                Campaign {
                    platform: "GOOGLE_ADS",
                    campaign_id: "g1".into(),
                    name: "YouTube | Prospecting".into(),
                },
            ],
            products: vec![
                Product {
                    product_id: "p1".into(),
                    title: "Merino Tee".into(),
                },
                Product {
                    product_id: "p2".into(),
                    title: "Trail Mix Tin".into(),
                },
            ],
            variants: vec![VariantRow {
                variant_id: "v1".into(),
                product_id: "p1".into(),
                sku: "NW-001-M".into(),
                title: "Merino Tee / M".into(),
                lead_time_days: None,
            }],
            connected: Some(vec![
                "SHOPIFY".into(),
                "META_ADS".into(),
                "GOOGLE_ADS".into(),
            ]),
            data_start: Some(d(2024, 12, 19)),
            ..Default::default()
        }
    }

    fn ok(text: &str) -> Plan {
        plan(text, &ctx()).unwrap_or_else(|r| panic!("{text}: refused: {r:?}"))
    }

    fn refused(text: &str) {
        assert!(
            plan(text, &ctx()).is_err(),
            "{text}: {:?}",
            plan(text, &ctx())
        );
    }

    fn span(plan: &Plan) -> (NaiveDate, NaiveDate) {
        (plan.period.start, plan.period.end)
    }

    #[test]
    fn metrics_periods_and_filters() {
        let p = ok("What was my ROAS on Meta last week?");
        assert_eq!(p.metrics, ["platform_roas"]);
        assert_eq!(span(&p), (d(2026, 11, 9), d(2026, 11, 15)));
        assert_eq!(p.filters, [("platform".to_owned(), "META_ADS".to_owned())]);
        let p = ok("how much did we sell yesterday");
        assert_eq!(p.metrics, ["net_revenue"]);
        assert_eq!(span(&p), (d(2026, 11, 17), d(2026, 11, 17)));
        let p = ok("MER this month");
        assert_eq!(p.metrics, ["blended_roas"]);
        assert_eq!(span(&p), (d(2026, 11, 1), d(2026, 11, 18)));
        let p = ok("AOV in October vs last year");
        assert_eq!(p.metrics, ["aov"]);
        assert_eq!(span(&p), (d(2026, 10, 1), d(2026, 10, 31)));
        let p = ok("ad spend");
        assert_eq!(span(&p), (d(2026, 10, 19), d(2026, 11, 17)));
        let p = ok("revenue last month compared to the same period last year");
        assert_eq!(
            p.comparison.map(|c| (c.start, c.end)),
            Some((d(2025, 10, 1), d(2025, 10, 31)))
        );
        let p = ok("net revenue this month vs last month");
        assert_eq!(
            p.comparison.map(|c| (c.start, c.end)),
            Some((d(2026, 10, 1), d(2026, 10, 31)))
        );
        let p = ok("is revenue up or down last week");
        assert_eq!(
            p.comparison.map(|c| (c.start, c.end)),
            Some((d(2026, 11, 2), d(2026, 11, 8)))
        );
    }

    #[test]
    fn breakdowns_rankings_and_names() {
        let p = ok("top 5 products by revenue last month");
        assert_eq!(p.breakdown, Some(Breakdown::Key(Key::Product)));
        assert_eq!(
            p.rank,
            Some(Rank {
                n: 5,
                highest: true
            })
        );
        assert_eq!(p.metrics, ["net_revenue"]);
        let p = ok("worst campaign by ROAS last 30 days");
        assert_eq!(p.breakdown, Some(Breakdown::Key(Key::Campaign)));
        assert_eq!(
            p.rank,
            Some(Rank {
                n: 1,
                highest: false
            })
        );
        assert_eq!(p.metrics, ["platform_roas"]);
        let p = ok("best sellers this month");
        assert_eq!(p.metrics, ["units"]);
        let p = ok("spend by platform last week");
        assert_eq!(p.breakdown, Some(Breakdown::Key(Key::Platform)));
        let p = ok("how much did the cart abandoners campaign spend yesterday");
        assert_eq!(p.filter(Dimension::CampaignId), Some("m1"));
        let p = ok("revenue for merino tees last month");
        assert_eq!(p.filter(Dimension::ProductId), Some("p1"));
        let p = ok("new vs returning customers last month");
        assert_eq!(p.metrics, ["new_customers", "returning_customers"]);
        let p = ok("revenue by week this month");
        assert_eq!(p.breakdown, Some(Breakdown::Week));
    }

    #[test]
    fn stock_questions() {
        let p = ok("what will run out in the next 2 weeks?");
        assert_eq!(p.ask, Ask::StockOut { horizon_days: 14 });
        let p = ok("days of cover for sku NW-001-M");
        assert_eq!(p.ask, Ask::Stock);
        assert_eq!(p.filter(Dimension::VariantId), Some("v1"));
        assert_eq!(span(&p), (d(2026, 10, 21), d(2026, 11, 17)));
    }

    #[test]
    fn follow_ups() {
        let parent = ok("revenue last month");
        let mut c = ctx();
        c.parent = Some(parent);
        let p = plan("and the month before?", &c).expect("follow-up");
        assert_eq!(span(&p), (d(2026, 9, 1), d(2026, 9, 30)));
        assert_eq!(p.metrics, ["net_revenue"]);
        let parent = ok("ad spend last week");
        c.parent = Some(parent);
        let p = plan("only Meta", &c).expect("follow-up");
        assert_eq!(p.filter(Dimension::Platform), Some("META_ADS"));
        assert_eq!(span(&p), (d(2026, 11, 9), d(2026, 11, 15)));
    }

    #[test]
    fn refusals() {
        refused("write me a poem about socks");
        refused("what's the weather tomorrow");
        refused("what's my conversion rate");
        refused("how many sessions did we get last week");
        refused("TikTok spend last week");
        refused("revenue next month");
        refused("revenue in 2019");
        refused("how is my other store doing");
        refused("sales since the beginning of time");
        refused("how did the Summer Blowout campaign do");
        refused("days of cover for sku ZZ-999-X");
    }
}
