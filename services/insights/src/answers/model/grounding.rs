//! Grounding: every number the model states must come from a tool result.
//!
//! The text is scanned for numbers; each one must be, at the precision it is written:
//!
//! - a figure's value as it would be displayed: money in the currency's units (to the
//!   cent or rounded coarser), counts, ratios (`2.35×`, `2.35x`), percent metrics as a
//!   percentage (`38.2%`) or a fraction, days; `k`/`M` suffixes scale by a thousand and
//!   a million and round like the digits written (`$12.3k`); thousands separators,
//!   currency symbols and a sign are ignored (a loss may be said as a positive amount);
//! - the change between two figures of the same metric and filters over different
//!   periods: the absolute difference, the percentage change, the difference in
//!   percentage points (percent metrics) and the ratio of the two;
//! - part of a date a tool returned or a figure's period starts or ends on: a year, a
//!   day next to its month's name (`Oct 1`, `1st of October`), an ISO or US date, a
//!   quarter (`Q3`); or a period's length (`last 30 days`, `4 weeks`);
//! - another number a tool returned (units on hand, a reorder quantity, a horizon), a
//!   number of the question itself, or part of a name a tool returned (a campaign,
//!   product or SKU whose name holds digits);
//! - list numbering (`1.` at the start of a line) or a `top N` / `#N` not above the
//!   number of figures (or names) returned.
//!
//! Digits glued to letters (`TS-001`, `v2`, `4th` outside a date) are parts of names,
//! not stated numbers.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use pp_metrics::Unit;

use crate::engine::{Figure, Value};

/// What a text may state besides the figures' values.
#[derive(Debug, Clone, Default)]
pub struct Grounds<'a> {
    pub figures: &'a [Figure],
    /// Plain numbers tools returned (units on hand, reorder quantities, horizons) and
    /// numbers of the question.
    pub numbers: &'a [f64],
    /// Dates tools returned (stock-out and reorder dates), today.
    pub dates: &'a [NaiveDate],
    /// Names tools returned (campaigns, products, SKUs, the brand).
    pub names: &'a [String],
}

/// The numbers `text` states that no figure grounds, as written.
pub fn ungrounded(text: &str, figures: &[Figure]) -> Vec<String> {
    ungrounded_in(
        text,
        &Grounds {
            figures,
            ..Default::default()
        },
    )
}

/// The numbers `text` states that `grounds` do not account for, as written.
pub fn ungrounded_in(text: &str, grounds: &Grounds<'_>) -> Vec<String> {
    let masked = mask_names(text, grounds);
    let values = candidate_values(grounds);
    let dates = allowed_dates(grounds);
    let lengths = period_lengths(grounds);
    let count_limit = grounds.figures.len().max(grounds.names.len()).max(1) as f64;
    let chars: Vec<char> = masked.chars().collect();
    let mut out = Vec::new();
    // The month of the last day read next to a month's name, and where it ended, for
    // ranges such as `Oct 1–15`.
    let mut last_day: Option<(u32, usize)> = None;
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let token = scan(&chars, i);
        i = token.end;
        if token.identifier {
            continue;
        }
        let context = Context::of(&chars, &token);
        let in_range = last_day.and_then(|(month, end)| {
            let gap: String = chars[end..token.start].iter().collect();
            matches!(
                gap.trim(),
                "-" | "–" | "—" | "to" | "through" | "until" | "and"
            )
            .then_some(month)
        });
        let month = day_month(&token, &context).or(in_range);
        last_day = month.map(|month| (month, token.end));
        if grounded(
            &token,
            &context,
            month,
            &values,
            &dates,
            &lengths,
            count_limit,
        ) {
            continue;
        }
        out.push(token.written.clone());
    }
    out
}

/// The month a number is a day of, when it stands next to the month's name.
fn day_month(token: &Token, context: &Context) -> Option<u32> {
    let plain = token.decimals == 0
        && token.scale == 1.0
        && !token.percent
        && !token.times
        && !context.money
        && token.date.is_none();
    if !plain || !(1.0..=31.0).contains(&token.value) {
        return None;
    }
    month_number(&context.word_before).or_else(|| month_number(&context.word_after))
}

/// The numbers `text` states (the question's own may be repeated): each as written
/// and scaled by its `k`/`M` suffix.
pub fn numbers_in(text: &str) -> Vec<f64> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let token = scan(&chars, i);
        i = token.end;
        if token.identifier || token.date.is_some() {
            continue;
        }
        out.push(token.value);
        if token.scale != 1.0 {
            out.push(token.value * token.scale);
        }
    }
    out
}

/// Replaces every occurrence of a tool-returned name (and figure filter value) with
/// spaces, so the digits inside names are not read as stated numbers.
fn mask_names(text: &str, grounds: &Grounds<'_>) -> String {
    let mut names: Vec<&str> = grounds
        .names
        .iter()
        .map(String::as_str)
        .chain(
            grounds
                .figures
                .iter()
                .flat_map(|f| f.filters.iter().map(|filter| filter.value.as_str())),
        )
        .filter(|name| name.chars().any(|c| c.is_ascii_digit()) && name.len() >= 2)
        .collect();
    // Longest first, so a name is masked whole before any name inside it.
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    names.dedup();
    let mut masked = text.to_owned();
    for name in names {
        if masked.contains(name) {
            masked = masked.replace(name, &" ".repeat(name.chars().count()));
        }
    }
    masked
}

/// A number as written in the text.
#[derive(Debug, Clone)]
struct Token {
    start: usize,
    end: usize,
    written: String,
    value: f64,
    /// Digits after the decimal point.
    decimals: i32,
    /// A thousands separator was used.
    grouped: bool,
    /// `k` or `M` suffix: 1e3 or 1e6; else 1.
    scale: f64,
    percent: bool,
    times: bool,
    /// `st`, `nd`, `rd`, `th` follows.
    ordinal: bool,
    /// A whole date (`2026-10-01`, `10/01/2026`).
    date: Option<NaiveDate>,
    /// Digits glued to letters: part of a name.
    identifier: bool,
}

fn scan(chars: &[char], start: usize) -> Token {
    let at = |i: usize| chars.get(i).copied();
    let digits_from = |i: usize| -> usize {
        let mut j = i;
        while at(j).is_some_and(|c| c.is_ascii_digit()) {
            j += 1;
        }
        j - i
    };
    let text = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    let mut token = Token {
        start,
        end: start,
        written: String::new(),
        value: 0.0,
        decimals: 0,
        grouped: false,
        scale: 1.0,
        percent: false,
        times: false,
        ordinal: false,
        date: None,
        identifier: false,
    };
    // Whole dates first: 2026-10-01 and 10/01/2026.
    let first = digits_from(start);
    if first == 4
        && at(start + 4) == Some('-')
        && digits_from(start + 5) == 2
        && at(start + 7) == Some('-')
        && digits_from(start + 8) == 2
        && digits_from(start + 10) == 0
    {
        let written = text(start, start + 10);
        token.date = NaiveDate::parse_from_str(&written, "%Y-%m-%d").ok();
        token.end = start + 10;
        token.written = written;
        return token;
    }
    if (1..=2).contains(&first) && at(start + first) == Some('/') {
        let second = digits_from(start + first + 1);
        let year_at = start + first + 1 + second + 1;
        if (1..=2).contains(&second)
            && at(year_at - 1) == Some('/')
            && digits_from(year_at) == 4
            && digits_from(year_at + 4) == 0
        {
            let written = text(start, year_at + 4);
            token.date = NaiveDate::parse_from_str(&written, "%m/%d/%Y").ok();
            token.end = year_at + 4;
            token.written = written;
            return token;
        }
    }
    // A number: digits, `,` before groups of three, one decimal point.
    let mut i = start;
    let mut number = String::new();
    loop {
        match at(i) {
            Some(c) if c.is_ascii_digit() => {
                number.push(c);
                i += 1;
            }
            Some(',') if digits_from(i + 1) == 3 && !number.contains('.') => {
                token.grouped = true;
                i += 1;
            }
            Some('.') if !number.contains('.') && at(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                number.push('.');
                i += 1;
            }
            _ => break,
        }
    }
    token.decimals = number
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len() as i32);
    token.value = number.parse().unwrap_or(0.0);
    // Suffixes.
    let is_word_end = |j: usize| !at(j).is_some_and(|c| c.is_alphanumeric());
    match at(i) {
        Some('%') => {
            token.percent = true;
            i += 1;
        }
        Some('×') => {
            token.times = true;
            i += 1;
        }
        Some('x' | 'X') if is_word_end(i + 1) => {
            token.times = true;
            i += 1;
        }
        Some('k' | 'K') if is_word_end(i + 1) => {
            token.scale = 1e3;
            i += 1;
        }
        Some('M') if is_word_end(i + 1) => {
            token.scale = 1e6;
            i += 1;
        }
        Some('m') if at(i + 1) == Some('n') && is_word_end(i + 2) => {
            token.scale = 1e6;
            i += 2;
        }
        Some('b' | 'B') if at(i + 1) == Some('n') && is_word_end(i + 2) => {
            token.scale = 1e9;
            i += 2;
        }
        _ => {
            let rest: String = chars[i..chars.len().min(i + 2)]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            if ["st", "nd", "rd", "th"].contains(&rest.as_str()) && is_word_end(i + 2) {
                token.ordinal = true;
                i += 2;
            } else if at(i).is_some_and(char::is_alphabetic) {
                token.identifier = true;
            }
        }
    }
    // Glued to a word on the left (`v2`, `TS-001`, `H1`…) — a quarter `Q3` is read
    // by the context.
    let before = start.checked_sub(1).and_then(at);
    let before2 = start.checked_sub(2).and_then(at);
    if before.is_some_and(|c| c.is_alphabetic() && c != 'Q' && c != 'q')
        || (before == Some('-') && before2.is_some_and(char::is_alphanumeric))
        || (before.is_some_and(|c| c == 'Q' || c == 'q')
            && before2.is_some_and(char::is_alphanumeric))
    {
        token.identifier = true;
    }
    // Glued to a word on the right through a hyphen (`2-Pack`), except a period
    // length (`30-day`).
    if at(i) == Some('-') && at(i + 1).is_some_and(char::is_alphabetic) {
        let word: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_alphabetic())
            .collect::<String>()
            .to_ascii_lowercase();
        if !matches!(word.as_str(), "day" | "week" | "month" | "year") {
            token.identifier = true;
        }
    }
    token.end = i;
    token.written = text(start, i);
    token
}

/// The words around a number.
#[derive(Debug, Default)]
struct Context {
    /// A currency sign stands right before it.
    money: bool,
    /// `Q` right before it.
    quarter: bool,
    /// `#` right before it.
    hash: bool,
    /// The first thing on its line, followed by `.` or `)`.
    list_number: bool,
    /// The word before and after it, lowercase.
    word_before: String,
    word_after: String,
}

impl Context {
    fn of(chars: &[char], token: &Token) -> Context {
        let before = token.start.checked_sub(1).map(|i| chars[i]);
        let mut context = Context {
            money: before.is_some_and(|c| matches!(c, '$' | '€' | '£' | '¥')),
            quarter: before.is_some_and(|c| c == 'Q' || c == 'q'),
            hash: before == Some('#'),
            ..Default::default()
        };
        let line_start = chars[..token.start]
            .iter()
            .rev()
            .take_while(|c| **c != '\n')
            .all(|c| c.is_whitespace() || matches!(c, '*' | '-' | '•'));
        let after = chars.get(token.end).copied();
        context.list_number = line_start
            && token.decimals == 0
            && matches!(after, Some('.' | ')'))
            && chars.get(token.end + 1).is_none_or(|c| c.is_whitespace());
        // The word before: skip spaces and the currency sign.
        let mut i = token.start;
        while i > 0 && !chars[i - 1].is_alphabetic() && chars[i - 1] != '\n' {
            if !matches!(chars[i - 1], ' ' | '$' | '€' | '£' | '¥' | '(' | '#' | '-') {
                break;
            }
            i -= 1;
        }
        let mut j = i;
        while j > 0 && chars[j - 1].is_alphabetic() {
            j -= 1;
        }
        context.word_before = chars[j..i].iter().collect::<String>().to_lowercase();
        // The word after: skip spaces, a hyphen and a comma.
        let mut i = token.end;
        while i < chars.len() && matches!(chars[i], ' ' | '-' | ',') {
            i += 1;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_alphabetic() {
            j += 1;
        }
        context.word_after = chars[i..j].iter().collect::<String>().to_lowercase();
        // `1st of October`: the word after `of`.
        if context.word_after == "of" {
            let mut k = j;
            while k < chars.len() && chars[k] == ' ' {
                k += 1;
            }
            let mut l = k;
            while l < chars.len() && chars[l].is_alphabetic() {
                l += 1;
            }
            let next = chars[k..l].iter().collect::<String>().to_lowercase();
            if month_number(&next).is_some() {
                context.word_after = next;
            }
        }
        // A trailing currency code also says money (`1,234.50 USD`).
        if context.word_after.len() == 3
            && chars[i..j].iter().all(char::is_ascii_uppercase)
            && !context.money
        {
            context.money = true;
        }
        context
    }
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word.len() < 3 {
        return None;
    }
    let word = if word == "sept" { "sep" } else { word };
    MONTHS
        .iter()
        .position(|m| *m == word || (word.len() == 3 && m.starts_with(word)))
        .map(|i| i as u32 + 1)
}

/// A value a number may round to, with what kind of value it is.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    value: f64,
    /// Only counts and whole numbers may be written with no decimals for ratios.
    percent: bool,
}

/// Every value a stated number may come from: figure values in display form, the
/// changes between figures of the same metric and filters, and tool numbers.
fn candidate_values(grounds: &Grounds<'_>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let display = |figure: &Figure| -> Vec<Candidate> {
        match (figure.value, figure.metric.unit()) {
            (Value::Unset, _) => Vec::new(),
            (Value::Number(v), Unit::Percent) => vec![
                Candidate {
                    value: v * 100.0,
                    percent: true,
                },
                Candidate {
                    value: v,
                    percent: false,
                },
            ],
            (value, _) => vec![Candidate {
                value: value.as_f64(),
                percent: false,
            }],
        }
    };
    for figure in grounds.figures {
        out.extend(display(figure));
    }
    for (i, a) in grounds.figures.iter().enumerate() {
        for b in &grounds.figures[i + 1..] {
            if a.metric != b.metric
                || a.filters != b.filters
                || (a.start, a.end) == (b.start, b.end)
                || matches!(a.value, Value::Unset)
                || matches!(b.value, Value::Unset)
            {
                continue;
            }
            let (x, y) = (a.value.as_f64(), b.value.as_f64());
            let scale = if a.metric.unit() == Unit::Percent {
                100.0
            } else {
                1.0
            };
            out.push(Candidate {
                value: (x - y) * scale,
                percent: a.metric.unit() == Unit::Percent,
            });
            for (new, old) in [(x, y), (y, x)] {
                if old != 0.0 {
                    out.push(Candidate {
                        value: (new - old) / old.abs() * 100.0,
                        percent: true,
                    });
                    out.push(Candidate {
                        value: new / old,
                        percent: false,
                    });
                }
            }
        }
    }
    out.extend(grounds.numbers.iter().map(|value| Candidate {
        value: *value,
        percent: false,
    }));
    out
}

fn allowed_dates(grounds: &Grounds<'_>) -> BTreeSet<NaiveDate> {
    grounds
        .figures
        .iter()
        .flat_map(|f| [f.start, f.end])
        .chain(grounds.dates.iter().copied())
        .collect()
}

/// Period lengths in days, weeks and months, and the years periods touch.
#[derive(Debug, Default)]
struct Lengths {
    days: BTreeSet<i64>,
    weeks: BTreeSet<i64>,
    months: BTreeSet<i64>,
}

fn period_lengths(grounds: &Grounds<'_>) -> Lengths {
    let mut lengths = Lengths::default();
    for figure in grounds.figures {
        let days = (figure.end - figure.start).num_days() + 1;
        lengths.days.insert(days);
        if days % 7 == 0 {
            lengths.weeks.insert(days / 7);
        }
        let next = figure.end.succ_opt().unwrap_or(figure.end);
        if next.day() == figure.start.day() {
            let months = i64::from(next.year() - figure.start.year()) * 12
                + i64::from(next.month())
                - i64::from(figure.start.month());
            lengths.months.insert(months);
        }
    }
    lengths
}

/// Whether `stated` written with `decimals` digits (times `scale`) rounds from `value`.
fn rounds_to(value: f64, stated: f64, decimals: i32, scale: f64) -> bool {
    let half_step = 0.5 * 10f64.powi(-decimals) * scale;
    (value.abs() - stated * scale).abs() <= half_step + 1e-9 * value.abs().max(1.0)
}

#[allow(clippy::too_many_arguments)]
fn grounded(
    token: &Token,
    context: &Context,
    month: Option<u32>,
    values: &[Candidate],
    dates: &BTreeSet<NaiveDate>,
    lengths: &Lengths,
    count_limit: f64,
) -> bool {
    if let Some(date) = token.date {
        return dates.contains(&date);
    }
    let whole = token.decimals == 0 && token.scale == 1.0;
    let plain = whole && !token.percent && !token.times && !context.money;
    // A day of a month, on either side of the month's name or in a range after one.
    if let Some(month) = month {
        let day = token.value as u32;
        if dates.iter().any(|d| d.month() == month && d.day() == day) {
            return true;
        }
    }
    if token.ordinal {
        // `1st`, `2nd` only as days of a month or a ranking.
        return plain && token.value <= count_limit;
    }
    // A year.
    if plain
        && !token.grouped
        && (1900.0..=2199.0).contains(&token.value)
        && dates.iter().any(|d| f64::from(d.year()) == token.value)
    {
        return true;
    }
    // A quarter.
    if context.quarter && plain && (1.0..=4.0).contains(&token.value) {
        let quarter = token.value as u32;
        return dates.iter().any(|d| d.month0() / 3 + 1 == quarter);
    }
    // A period length.
    if plain {
        let n = token.value as i64;
        let word = context.word_after.as_str();
        let set = match word {
            "day" | "days" => Some(&lengths.days),
            "week" | "weeks" => Some(&lengths.weeks),
            "month" | "months" => Some(&lengths.months),
            _ => None,
        };
        if set.is_some_and(|set| set.contains(&n)) {
            return true;
        }
    }
    // List numbering and rankings.
    if plain
        && token.value >= 1.0
        && token.value <= count_limit
        && (context.list_number
            || context.hash
            || matches!(
                context.word_before.as_str(),
                "top" | "bottom" | "best" | "worst" | "first" | "number" | "no"
            ))
    {
        return true;
    }
    // A percentage (`38%`, `38 percent`) must be one (of a percent metric, or a
    // change); a count of 38 does not ground `38%`, nor a 38 % change a count of 38.
    let says_percent = token.percent
        || matches!(
            context.word_after.as_str(),
            "percent" | "per" | "pct" | "percentage" | "points" | "pp"
        );
    values.iter().any(|candidate| {
        candidate.percent == says_percent
            && rounds_to(candidate.value, token.value, token.decimals, token.scale)
    })
}

#[cfg(test)]
mod tests {
    use pp_metrics::Metric;

    use super::*;
    use crate::engine::{Dimension, Filter};

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    fn figure(metric: Metric, value: Value, start: NaiveDate, end: NaiveDate) -> Figure {
        Figure {
            metric,
            value,
            start,
            end,
            filters: Vec::new(),
            currency_code: "USD".into(),
        }
    }

    fn october() -> Vec<Figure> {
        vec![
            figure(
                Metric::NetRevenue,
                Value::Money(48_213_456_000),
                day(10, 1),
                day(10, 31),
            ),
            figure(
                Metric::NetRevenue,
                Value::Money(41_000_000_000),
                day(9, 1),
                day(9, 30),
            ),
            figure(Metric::Orders, Value::Count(1_204), day(10, 1), day(10, 31)),
            figure(
                Metric::BlendedRoas,
                Value::Number(2.3456),
                day(10, 1),
                day(10, 31),
            ),
            figure(
                Metric::GrossMargin,
                Value::Number(0.38214),
                day(10, 1),
                day(10, 31),
            ),
            figure(
                Metric::DaysOfCover,
                Value::Number(12.46),
                day(10, 1),
                day(10, 28),
            ),
        ]
    }

    fn check(text: &str) -> Vec<String> {
        ungrounded(text, &october())
    }

    #[test]
    fn grounding_passes_figures_as_displayed() {
        let text = "In October 2026 (Oct 1–31) net revenue was $48,213.46 from 1,204 orders, \
                    a blended ROAS of 2.35× and a gross margin of 38.2%. \
                    Days of cover: 12.5 days.";
        assert_eq!(check(text), Vec::<String>::new());
    }

    #[test]
    fn grounding_accepts_rounding_variants() {
        for text in [
            "Revenue was $48,213.",
            "Revenue was $48213.46.",
            "Revenue was about $48.2k.",
            "Revenue was $48k.",
            "Revenue was $0.05M.",
            "Revenue was 48,213.46 USD.",
            "ROAS was 2.35x.",
            "ROAS was 2.3×.",
            "ROAS was 2.35.",
            "Margin was 38%.",
            "Margin was 38.21%.",
            "Margin was 0.38.",
            "Cover is 12 days.",
            "Cover is 12.46 days.",
        ] {
            assert_eq!(check(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn grounding_catches_invented_numbers() {
        assert_eq!(check("Revenue was $48,500.00."), vec!["48,500.00"]);
        assert_eq!(check("Revenue was $52k."), vec!["52k"]);
        assert_eq!(check("You had 1,300 orders."), vec!["1,300"]);
        assert_eq!(check("ROAS was 2.5×."), vec!["2.5×"]);
        assert_eq!(check("Margin was 42%."), vec!["42%"]);
        // The right digits with the wrong precision.
        assert_eq!(check("Revenue was $48,213.50."), vec!["48,213.50"]);
        // A count is not a percentage.
        assert_eq!(check("Orders were up 1204%."), vec!["1204%"]);
        // Several at once, in order.
        assert_eq!(
            check("Revenue $48,213.46, AOV $40.04, 77 new customers."),
            vec!["40.04", "77"]
        );
    }

    #[test]
    fn grounding_accepts_changes_between_periods() {
        // 48,213.456 vs 41,000: +7,213.46, +17.59 %, 1.18×.
        for text in [
            "Revenue rose $7,213.46 (17.6%) from September.",
            "Up 17.59% on September.",
            "That is 1.18x September's $41,000.00.",
            "Revenue grew 18% month over month.",
        ] {
            assert_eq!(check(text), Vec::<String>::new(), "{text}");
        }
        assert_eq!(check("Revenue rose 25% from September."), vec!["25%"]);
        // Different metrics are not compared.
        let mixed = vec![
            figure(Metric::Orders, Value::Count(200), day(10, 1), day(10, 31)),
            figure(Metric::Units, Value::Count(100), day(9, 1), day(9, 30)),
        ];
        assert_eq!(ungrounded("Up 100%.", &mixed), vec!["100%"]);
        // Different filters are not compared either.
        let mut meta = figure(
            Metric::AdSpend,
            Value::Money(200_000_000),
            day(10, 1),
            day(10, 31),
        );
        meta.filters.push(Filter {
            dimension: Dimension::Platform,
            value: "META_ADS".into(),
        });
        let all = figure(
            Metric::AdSpend,
            Value::Money(100_000_000),
            day(9, 1),
            day(9, 30),
        );
        assert_eq!(ungrounded("Up 100%.", &[meta, all]), vec!["100%"]);
    }

    #[test]
    fn grounding_accepts_dates_and_periods_of_figures() {
        for text in [
            "From 2026-10-01 to 2026-10-31 revenue was $48,213.46.",
            "Between October 1 and October 31, 2026.",
            "From the 1st of October to the 31st of October.",
            "From 10/01/2026 to 10/31/2026.",
            "Over the 31 days of October.",
            "In Q4 2026.",
            "Over a 28-day window, cover is 12.5 days.",
            "Over the last 4 weeks.",
            "Compared with September 30.",
        ] {
            assert_eq!(check(text), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            check("On 2026-11-05 revenue was $48,213.46."),
            vec!["2026-11-05"]
        );
        assert_eq!(check("On October 15 revenue was $48,213.46."), vec!["15"]);
        assert_eq!(check("In 2024 revenue was $48,213.46."), vec!["2024"]);
        assert_eq!(check("In Q2."), vec!["2"]);
        assert_eq!(check("Over the last 90 days."), vec!["90"]);
    }

    #[test]
    fn grounding_accepts_list_numbers_and_rankings_up_to_the_figures() {
        let text = "Your top 3 by revenue:\n1. Oct: $48,213.46\n2. Sep: $41,000.00\n3. #3 is orders: 1,204";
        assert_eq!(check(text), Vec::<String>::new());
        assert_eq!(check("Your top 10 products."), vec!["10"]);
        assert_eq!(check("7. Something"), vec!["7"]);
    }

    #[test]
    fn grounding_ignores_digits_inside_names() {
        let names = vec!["BFCM 2025 Retargeting".to_owned(), "Tee 3-Pack".to_owned()];
        let figures = october();
        let grounds = Grounds {
            figures: &figures,
            names: &names,
            ..Default::default()
        };
        let text = "BFCM 2025 Retargeting and Tee 3-Pack (SKU TS-001-BLK, v2) drove 1,204 orders.";
        assert_eq!(ungrounded_in(text, &grounds), Vec::<String>::new());
        // Without the names, the year in a campaign name is not a figure's.
        assert_eq!(
            ungrounded("BFCM 2025 Retargeting drove 1,204 orders.", &figures),
            vec!["2025"]
        );
    }

    #[test]
    fn grounding_accepts_tool_numbers_and_dates() {
        let numbers = [40.0, 14.0];
        let dates = [day(12, 14)];
        let figures = october();
        let grounds = Grounds {
            figures: &figures,
            numbers: &numbers,
            dates: &dates,
            names: &[],
        };
        let text = "You have 40 on hand; over the next 14 days it runs out on December 14.";
        assert_eq!(ungrounded_in(text, &grounds), Vec::<String>::new());
        assert_eq!(ungrounded_in("Order 41 units.", &grounds), vec!["41"]);
    }

    #[test]
    fn grounding_reads_the_numbers_of_a_question() {
        assert_eq!(
            numbers_in(
                "Top 5 SKUs over $1,200 or 2.5k units in the last 30 days (v2, 2026-10-01)?"
            ),
            vec![5.0, 1200.0, 2.5, 2500.0, 30.0]
        );
    }

    #[test]
    fn grounding_of_a_text_without_numbers_passes() {
        assert!(ungrounded("I can't answer that from your data.", &[]).is_empty());
        assert_eq!(ungrounded("Revenue was $5.", &[]), vec!["5"]);
    }

    proptest::proptest! {
        /// Whatever the value, its display form (as the tools return it) is grounded,
        /// and the same text with the last digit changed is not.
        #[test]
        fn grounding_every_display_form_is_grounded(
            micros in -10_000_000_000_000i64..10_000_000_000_000,
            count in 0i64..100_000_000,
            roas in 0.0f64..100.0,
            margin in -2.0f64..2.0,
            cover in 0.0f64..1000.0,
        ) {
            let october = |metric, value| figure(metric, value, day(10, 1), day(10, 31));
            for figure in [
                october(Metric::NetRevenue, Value::Money(micros)),
                october(Metric::Orders, Value::Count(count)),
                october(Metric::BlendedRoas, Value::Number(roas)),
                october(Metric::GrossMargin, Value::Number(margin)),
                october(Metric::DaysOfCover, Value::Number(cover)),
            ] {
                let shown = super::super::tools::display(&figure);
                let text = format!("It was {shown}.");
                proptest::prop_assert!(
                    ungrounded(&text, std::slice::from_ref(&figure)).is_empty(),
                    "{}", text
                );
            }
        }
    }

    #[test]
    fn grounding_treats_a_negative_value_stated_as_a_loss() {
        let figures = vec![figure(
            Metric::ContributionMargin,
            Value::Money(-1_250_500_000),
            day(10, 1),
            day(10, 31),
        )];
        assert!(ungrounded("A loss of $1,250.50.", &figures).is_empty());
        assert!(ungrounded("Contribution margin was -$1,250.50.", &figures).is_empty());
    }
}
