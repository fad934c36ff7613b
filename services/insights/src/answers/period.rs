//! The periods owners name ("last week", "in October", "Black Friday 2025", "Oct 1–15"),
//! found in a question and resolved against "today" (`docs/answers.md`, "Periods").
//!
//! [`find`] returns every period expression of a (normalised, lower-case) text with its
//! byte span, so the planner can tell the period asked about from the one compared with.

use std::sync::LazyLock;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

/// What kind of span a period is: "the month before" moves a month back a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    /// Any other span (last 7 days, since March 1, Oct 1–15).
    Span,
}

/// An inclusive range of brand-local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub grain: Grain,
}

impl Period {
    pub fn new(start: NaiveDate, end: NaiveDate, grain: Grain) -> Self {
        Period { start, end, grain }
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The period before this one: the calendar unit before for a whole day, week,
    /// month, quarter or year (a month to date gives the whole month before), else the
    /// span of equal length just before.
    pub fn previous(&self) -> Period {
        let back = |months: u32| {
            let start = self.start - Months::new(months);
            Period::new(start, self.start - Days::new(1), self.grain)
        };
        match self.grain {
            Grain::Day => {
                let day = self.start - Days::new(1);
                Period::new(day, day, Grain::Day)
            }
            Grain::Week => {
                let start = self.start - Days::new(7);
                Period::new(start, start + Days::new(6), Grain::Week)
            }
            Grain::Month => back(1),
            Grain::Quarter => back(3),
            Grain::Year => back(12),
            Grain::Span => self.preceding(),
        }
    }

    /// The span of equal length that ends the day before this one starts.
    pub fn preceding(&self) -> Period {
        let days = u64::try_from(self.days()).unwrap_or(1);
        Period::new(
            self.start - Days::new(days),
            self.start - Days::new(1),
            Grain::Span,
        )
    }

    /// The same dates one year earlier (29 February becomes 28 February).
    pub fn year_earlier(&self) -> Period {
        Period::new(
            self.start - Months::new(12),
            self.end - Months::new(12),
            self.grain,
        )
    }

    /// "Oct 1 – Oct 31, 2026", "Nov 3, 2026", "Dec 28, 2025 – Jan 3, 2026".
    pub fn label(&self) -> String {
        if self.start == self.end {
            return self.start.format("%b %-d, %Y").to_string();
        }
        if self.start.year() == self.end.year() {
            format!(
                "{} – {}",
                self.start.format("%b %-d"),
                self.end.format("%b %-d, %Y")
            )
        } else {
            format!(
                "{} – {}",
                self.start.format("%b %-d, %Y"),
                self.end.format("%b %-d, %Y")
            )
        }
    }
}

/// A period expression found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range in the searched text.
    pub span: std::ops::Range<usize>,
    pub period: Period,
    /// The expression names days after today ("next week", "tomorrow", a later date).
    pub future: bool,
}

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const DAY: &str = r"(?:[0-3]?\d)(?:st|nd|rd|th)?";

/// A date: `2026-10-01`, `oct 1`, `october 1, 2025`, `1 october`, `10/01/2026`.
fn date_re() -> String {
    format!(
        r"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|{MONTH}\.? {DAY}(?:,? \d{{4}})?|{DAY} (?:of )?{MONTH}(?:,? \d{{4}})?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?)"
    )
}

static NUMBER_WORDS: &[(&str, u32)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("fourteen", 14),
    ("thirty", 30),
    ("a", 1),
];

/// A count written as digits or a word ("7", "two", "a").
pub fn count(word: &str) -> Option<u32> {
    word.parse().ok().or_else(|| {
        NUMBER_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, n)| *n)
    })
}

const COUNT: &str =
    r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|thirty|a)";

struct Rule {
    re: Regex,
    resolve: fn(&Captures, NaiveDate) -> Option<(Period, bool)>,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let date = date_re();
    let rule =
        |pattern: String, resolve: fn(&Captures, NaiveDate) -> Option<(Period, bool)>| Rule {
            re: Regex::new(&pattern).unwrap_or_else(|err| panic!("period rule {pattern}: {err}")),
            resolve,
        };
    vec![
        // from / between DATE to / and DATE
        rule(
            format!(
                r"\b(?:from |between )?(?P<a>{date}) ?(?:to|-|until|till|through|thru|and) ?(?P<b>{date})\b"
            ),
            |c, today| {
                let a = c.name("a")?.as_str();
                let b = c.name("b")?.as_str();
                let start = parse_date(a, today)?;
                let end = parse_date_after(b, start)?;
                span(start, end, today)
            },
        ),
        // oct 1-15 / october 1 to 15, 2026
        rule(
            format!(
                r"\b(?:from |between )?(?P<m>{MONTH})\.? (?P<d1>{DAY}) ?(?:to|-|until|through|and) ?(?P<d2>{DAY})(?:,? (?P<y>\d{{4}}))?\b"
            ),
            |c, today| {
                let month = month_number(c.name("m")?.as_str())?;
                let d1 = day_number(c.name("d1")?.as_str())?;
                let d2 = day_number(c.name("d2")?.as_str())?;
                let year = match c.name("y") {
                    Some(y) => y.as_str().parse().ok()?,
                    None => latest_year(today, |y| NaiveDate::from_ymd_opt(y, month, d1))?,
                };
                let start = NaiveDate::from_ymd_opt(year, month, d1)?;
                let end = NaiveDate::from_ymd_opt(year, month, d2)?;
                span(start, end, today)
            },
        ),
        rule(
            format!(r"\b(?:since|from|starting) (?P<a>{date})\b"),
            |c, today| {
                let start = parse_date(c.name("a")?.as_str(), today)?;
                Some((Period::new(start, today, Grain::Span), start > today))
            },
        ),
        rule(
            r"\b(?:black friday weekend|black friday to cyber monday|black friday/cyber monday|black friday cyber monday|bfcm|black friday|cyber monday)(?: (?:of )?(?P<y>\d{4}))?\b".into(),
            |c, today| {
                let text = c.get(0)?.as_str();
                let pick = |year: i32| {
                    let bf = black_friday(year)?;
                    let cm = bf + Days::new(3);
                    Some(if text.starts_with("cyber monday") {
                        Period::new(cm, cm, Grain::Day)
                    } else if text.starts_with("black friday") && !text.contains("weekend") && !text.contains("cyber") {
                        Period::new(bf, bf, Grain::Day)
                    } else {
                        Period::new(bf, cm, Grain::Span)
                    })
                };
                let period = match c.name("y") {
                    Some(y) => pick(y.as_str().parse().ok()?)?,
                    None => {
                        let this = pick(today.year())?;
                        if this.start <= today { this } else { pick(today.year() - 1)? }
                    }
                };
                Some((clip(period, today), period.start > today))
            },
        ),
        rule(
            format!(r"\b(?:on |for )?(?P<a>{date})\b"),
            |c, today| {
                let day = parse_date(c.name("a")?.as_str(), today)?;
                Some((Period::new(day, day, Grain::Day), day > today))
            },
        ),
        rule(r"\b(?:the )?day before yesterday\b".into(), |_, today| {
            let day = today - Days::new(2);
            Some((Period::new(day, day, Grain::Day), false))
        }),
        rule(r"\btoday\b|\bso far today\b".into(), |_, today| {
            Some((Period::new(today, today, Grain::Day), false))
        }),
        rule(r"\byesterday\b".into(), |_, today| {
            let day = today - Days::new(1);
            Some((Period::new(day, day, Grain::Day), false))
        }),
        rule(r"\btomorrow\b".into(), |_, today| {
            let day = today + Days::new(1);
            Some((Period::new(day, day, Grain::Day), true))
        }),
        rule(
            format!(r"\b(?:the )?(?:last|past|previous|prior|trailing) {COUNT} (?P<u>days?|weeks?|months?|years?)\b"),
            |c, today| {
                let n = count(c.get(1)?.as_str())?;
                let end = today - Days::new(1);
                let unit = c.name("u")?.as_str();
                let start = if unit.starts_with("day") {
                    today - Days::new(u64::from(n))
                } else if unit.starts_with("week") {
                    today - Days::new(7 * u64::from(n))
                } else if unit.starts_with("month") {
                    today - Months::new(n)
                } else {
                    today - Months::new(12 * n)
                };
                Some((Period::new(start, end, Grain::Span), false))
            },
        ),
        rule(
            format!(r"\b(?:the )?next {COUNT} (?:days?|weeks?|months?)\b|\bnext (?:week|month|quarter|year)\b"),
            |_, today| {
                let day = today + Days::new(1);
                Some((Period::new(day, day, Grain::Span), true))
            },
        ),
        rule(
            r"\b(?P<w>this|last|previous|past|prior) (?P<u>week|month|quarter|year)\b|\b(?P<td>week|month|quarter|year)[ -]to[ -]date\b|\b(?P<abbr>ytd|mtd|wtd|qtd)\b".into(),
            |c, today| {
                let (this, unit) = if let Some(u) = c.name("td") {
                    (true, u.as_str().to_owned())
                } else if let Some(a) = c.name("abbr") {
                    let unit = match a.as_str() {
                        "ytd" => "year",
                        "mtd" => "month",
                        "wtd" => "week",
                        _ => "quarter",
                    };
                    (true, unit.to_owned())
                } else {
                    (c.name("w")?.as_str() == "this", c.name("u")?.as_str().to_owned())
                };
                let current = calendar(&unit, today)?;
                let period = if this {
                    Period::new(current.start, today, current.grain)
                } else {
                    calendar(&unit, current.start - Days::new(1))?
                };
                Some((period, false))
            },
        ),
        rule(
            r"\bq(?P<q>[1-4])(?:[ '](?P<y>\d{4}|\d{2}))?\b|\b(?P<w>first|second|third|fourth) quarter(?: (?:of )?(?P<y2>\d{4}))?\b".into(),
            |c, today| {
                let q: u32 = match (c.name("q"), c.name("w")) {
                    (Some(q), _) => q.as_str().parse().ok()?,
                    (None, Some(w)) => ["first", "second", "third", "fourth"]
                        .iter()
                        .position(|x| *x == w.as_str())? as u32 + 1,
                    _ => return None,
                };
                let month = 3 * (q - 1) + 1;
                let year = match c.name("y").or(c.name("y2")) {
                    Some(y) if y.as_str().len() == 2 => 2000 + y.as_str().parse::<i32>().ok()?,
                    Some(y) => y.as_str().parse().ok()?,
                    None => latest_year(today, |y| NaiveDate::from_ymd_opt(y, month, 1))?,
                };
                let start = NaiveDate::from_ymd_opt(year, month, 1)?;
                let period = Period::new(start, start + Months::new(3) - Days::new(1), Grain::Quarter);
                Some((clip(period, today), start > today))
            },
        ),
        rule(
            format!(r"\b(?P<p>in |for |during |of )?(?P<m>{MONTH})\.?(?: (?:of )?(?P<y>\d{{4}}))?\b"),
            |c, today| {
                let word = c.name("m")?.as_str();
                // "may" and "march" are also verbs: months only with a preposition or year.
                if matches!(word, "may" | "march" | "mar") && c.name("p").is_none() && c.name("y").is_none() {
                    return None;
                }
                let month = month_number(word)?;
                let year = match c.name("y") {
                    Some(y) => y.as_str().parse().ok()?,
                    None => latest_year(today, |y| NaiveDate::from_ymd_opt(y, month, 1))?,
                };
                let start = NaiveDate::from_ymd_opt(year, month, 1)?;
                let period = Period::new(start, start + Months::new(1) - Days::new(1), Grain::Month);
                Some((clip(period, today), start > today))
            },
        ),
        rule(
            r"\b(?:in |for |during )?(?P<y>20\d{2})\b".into(),
            |c, today| {
                let year: i32 = c.name("y")?.as_str().parse().ok()?;
                let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
                let period = Period::new(start, NaiveDate::from_ymd_opt(year, 12, 31)?, Grain::Year);
                Some((clip(period, today), start > today))
            },
        ),
    ]
});

/// Every period expression of `text` (lower case), in the order they appear; earlier
/// rules win over later ones on overlapping text.
pub fn find(text: &str, today: NaiveDate) -> Vec<Found> {
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    let mut found = Vec::new();
    for rule in RULES.iter() {
        for captures in rule.re.captures_iter(text) {
            let Some(whole) = captures.get(0) else {
                continue;
            };
            let range = whole.range();
            if taken
                .iter()
                .any(|t| t.start < range.end && range.start < t.end)
            {
                continue;
            }
            if let Some((period, future)) = (rule.resolve)(&captures, today) {
                taken.push(range.clone());
                found.push(Found {
                    span: range,
                    period,
                    future,
                });
            }
        }
    }
    found.sort_by_key(|f| f.span.start);
    found
}

/// The calendar `unit` ("week", "month", "quarter", "year") that contains `day`.
fn calendar(unit: &str, day: NaiveDate) -> Option<Period> {
    Some(match unit {
        "week" => {
            let start = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
            Period::new(start, start + Days::new(6), Grain::Week)
        }
        "month" => {
            let start = day.with_day(1)?;
            Period::new(start, start + Months::new(1) - Days::new(1), Grain::Month)
        }
        "quarter" => {
            let start = NaiveDate::from_ymd_opt(day.year(), 3 * ((day.month() - 1) / 3) + 1, 1)?;
            Period::new(start, start + Months::new(3) - Days::new(1), Grain::Quarter)
        }
        "year" => Period::new(
            NaiveDate::from_ymd_opt(day.year(), 1, 1)?,
            NaiveDate::from_ymd_opt(day.year(), 12, 31)?,
            Grain::Year,
        ),
        _ => return None,
    })
}

/// `period` ending at `today` at the latest (a month still running is "to date").
fn clip(period: Period, today: NaiveDate) -> Period {
    if period.start <= today && period.end > today {
        Period::new(period.start, today, period.grain)
    } else {
        period
    }
}

fn span(start: NaiveDate, end: NaiveDate, today: NaiveDate) -> Option<(Period, bool)> {
    if end < start {
        return None;
    }
    let grain = if start == end {
        Grain::Day
    } else {
        Grain::Span
    };
    Some((Period::new(start, end, grain), start > today))
}

/// The latest year whose `make(year)` is on or before `today`.
fn latest_year(today: NaiveDate, make: impl Fn(i32) -> Option<NaiveDate>) -> Option<i32> {
    match make(today.year()) {
        Some(day) if day <= today => Some(today.year()),
        _ => Some(today.year() - 1),
    }
}

/// The day after the fourth Thursday of November.
pub fn black_friday(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4).map(|d| d + Days::new(1))
}

fn month_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = name.get(..3)?;
    NAMES
        .iter()
        .position(|m| *m == prefix)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn day_number(text: &str) -> Option<u32> {
    text.trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})$").unwrap_or_else(|e| panic!("{e}"))
});
static SLASHED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?$").unwrap_or_else(|e| panic!("{e}"))
});
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<m>{MONTH})\.? (?P<d>{DAY})(?:,? (?P<y>\d{{4}}))?$"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
});
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<d>{DAY}) (?:of )?(?P<m>{MONTH})(?:,? (?P<y>\d{{4}}))?$"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
});

/// One date; without a year, the latest such date on or before `today`.
fn parse_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    let (year, month, day) = date_parts(text)?;
    match year {
        Some(year) => NaiveDate::from_ymd_opt(year, month, day),
        None => {
            let year = latest_year(today, |y| NaiveDate::from_ymd_opt(y, month, day))?;
            NaiveDate::from_ymd_opt(year, month, day)
        }
    }
}

/// The end of a range: without a year, the first such date on or after `start`.
fn parse_date_after(text: &str, start: NaiveDate) -> Option<NaiveDate> {
    let (year, month, day) = date_parts(text)?;
    match year {
        Some(year) => NaiveDate::from_ymd_opt(year, month, day),
        None => {
            let same = NaiveDate::from_ymd_opt(start.year(), month, day)?;
            if same >= start {
                Some(same)
            } else {
                NaiveDate::from_ymd_opt(start.year() + 1, month, day)
            }
        }
    }
}

fn date_parts(text: &str) -> Option<(Option<i32>, u32, u32)> {
    if let Some(c) = ISO.captures(text) {
        return Some((
            Some(c.get(1)?.as_str().parse().ok()?),
            c.get(2)?.as_str().parse().ok()?,
            c.get(3)?.as_str().parse().ok()?,
        ));
    }
    if let Some(c) = SLASHED.captures(text) {
        let year = match c.get(3) {
            Some(y) if y.as_str().len() == 2 => Some(2000 + y.as_str().parse::<i32>().ok()?),
            Some(y) => Some(y.as_str().parse().ok()?),
            None => None,
        };
        return Some((
            year,
            c.get(1)?.as_str().parse().ok()?,
            c.get(2)?.as_str().parse().ok()?,
        ));
    }
    let c = MONTH_DAY
        .captures(text)
        .or_else(|| DAY_MONTH.captures(text))?;
    let year = match c.name("y") {
        Some(y) => Some(y.as_str().parse().ok()?),
        None => None,
    };
    Some((
        year,
        month_number(c.name("m")?.as_str())?,
        day_number(c.name("d")?.as_str())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    /// A Wednesday.
    fn today() -> NaiveDate {
        d(2026, 11, 18)
    }

    fn one(text: &str) -> (NaiveDate, NaiveDate) {
        let found = find(text, today());
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        (found[0].period.start, found[0].period.end)
    }

    #[test]
    fn relative_periods() {
        let t = today();
        assert_eq!(one("sales today"), (t, t));
        assert_eq!(one("sales yesterday"), (d(2026, 11, 17), d(2026, 11, 17)));
        assert_eq!(one("last 7 days"), (d(2026, 11, 11), d(2026, 11, 17)));
        assert_eq!(one("past two weeks"), (d(2026, 11, 4), d(2026, 11, 17)));
        assert_eq!(one("last 3 months"), (d(2026, 8, 18), d(2026, 11, 17)));
        assert_eq!(one("this week"), (d(2026, 11, 16), t));
        assert_eq!(one("last week"), (d(2026, 11, 9), d(2026, 11, 15)));
        assert_eq!(one("this month"), (d(2026, 11, 1), t));
        assert_eq!(one("month to date"), (d(2026, 11, 1), t));
        assert_eq!(one("last month"), (d(2026, 10, 1), d(2026, 10, 31)));
        assert_eq!(one("this year"), (d(2026, 1, 1), t));
        assert_eq!(one("ytd"), (d(2026, 1, 1), t));
        assert_eq!(one("last year"), (d(2025, 1, 1), d(2025, 12, 31)));
        assert_eq!(one("last quarter"), (d(2026, 7, 1), d(2026, 9, 30)));
        assert_eq!(one("this quarter"), (d(2026, 10, 1), t));
    }

    #[test]
    fn named_periods() {
        let t = today();
        assert_eq!(one("in october"), (d(2026, 10, 1), d(2026, 10, 31)));
        assert_eq!(one("in december"), (d(2025, 12, 1), d(2025, 12, 31)));
        assert_eq!(one("november"), (d(2026, 11, 1), t));
        assert_eq!(one("march 2025"), (d(2025, 3, 1), d(2025, 3, 31)));
        assert_eq!(one("q3"), (d(2026, 7, 1), d(2026, 9, 30)));
        assert_eq!(one("q4 2025"), (d(2025, 10, 1), d(2025, 12, 31)));
        assert_eq!(one("q4"), (d(2026, 10, 1), t));
        assert_eq!(one("in 2025"), (d(2025, 1, 1), d(2025, 12, 31)));
        assert_eq!(one("since march 1"), (d(2026, 3, 1), t));
        assert_eq!(one("since 2026-11-01"), (d(2026, 11, 1), t));
        assert_eq!(one("black friday 2025"), (d(2025, 11, 28), d(2025, 11, 28)));
        assert_eq!(one("black friday"), (d(2025, 11, 28), d(2025, 11, 28)));
        assert_eq!(one("cyber monday 2025"), (d(2025, 12, 1), d(2025, 12, 1)));
        assert_eq!(one("bfcm 2025"), (d(2025, 11, 28), d(2025, 12, 1)));
        assert_eq!(black_friday(2026), Some(d(2026, 11, 27)));
    }

    #[test]
    fn explicit_dates_and_ranges() {
        assert_eq!(one("on nov 3"), (d(2026, 11, 3), d(2026, 11, 3)));
        assert_eq!(one("on 2026-10-05"), (d(2026, 10, 5), d(2026, 10, 5)));
        assert_eq!(one("on 3 november"), (d(2026, 11, 3), d(2026, 11, 3)));
        assert_eq!(one("on december 24"), (d(2025, 12, 24), d(2025, 12, 24)));
        assert_eq!(
            one("from oct 1 to oct 15"),
            (d(2026, 10, 1), d(2026, 10, 15))
        );
        assert_eq!(one("oct 1-15"), (d(2026, 10, 1), d(2026, 10, 15)));
        assert_eq!(
            one("between 2026-09-01 and 2026-09-30"),
            (d(2026, 9, 1), d(2026, 9, 30))
        );
        assert_eq!(one("on 10/05/2026"), (d(2026, 10, 5), d(2026, 10, 5)));
        assert_eq!(
            one("from dec 20, 2025 to jan 5, 2026"),
            (d(2025, 12, 20), d(2026, 1, 5))
        );
    }

    #[test]
    fn future_periods_are_marked() {
        for text in [
            "tomorrow",
            "next week",
            "next month",
            "next 2 weeks",
            "in 2027",
        ] {
            let found = find(text, today());
            assert!(found.iter().any(|f| f.future), "{text}: {found:?}");
        }
    }

    #[test]
    fn previous_periods() {
        let oct = Period::new(d(2026, 10, 1), d(2026, 10, 31), Grain::Month);
        assert_eq!(
            oct.previous(),
            Period::new(d(2026, 9, 1), d(2026, 9, 30), Grain::Month)
        );
        let mtd = Period::new(d(2026, 11, 1), d(2026, 11, 18), Grain::Month);
        assert_eq!(
            mtd.previous(),
            Period::new(d(2026, 10, 1), d(2026, 10, 31), Grain::Month)
        );
        let week = Period::new(d(2026, 11, 11), d(2026, 11, 17), Grain::Span);
        assert_eq!(
            week.previous(),
            Period::new(d(2026, 11, 4), d(2026, 11, 10), Grain::Span)
        );
        let leap = Period::new(d(2028, 2, 29), d(2028, 2, 29), Grain::Day);
        assert_eq!(leap.year_earlier().start, d(2027, 2, 28));
        assert_eq!(oct.label(), "Oct 1 – Oct 31, 2026");
    }
}
