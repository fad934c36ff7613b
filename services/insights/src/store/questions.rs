//! Questions with their answers, and feedback (`migrations/0004_questions.sql`).

use chrono::{DateTime, NaiveDate, Utc};
use pp_db::{PageRequest, TenantTx};
use uuid::Uuid;

/// A question as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuestionRow {
    pub question_id: Uuid,
    pub brand_id: Uuid,
    pub user_id: Uuid,
    pub text: String,
    pub category: String,
    pub state: String,
    pub parent_question_id: Option<Uuid>,
    pub plan: Option<serde_json::Value>,
    pub answer_id: Option<Uuid>,
    pub answer: Option<Vec<u8>>,
    pub ask_time: DateTime<Utc>,
    /// The reading user's own feedback, when the query joined it.
    #[sqlx(default)]
    pub feedback: Option<sqlx::types::Json<FeedbackRow>>,
}

/// Feedback as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct FeedbackRow {
    pub feedback_id: Uuid,
    pub question_id: Uuid,
    pub answer_id: Uuid,
    pub brand_id: Uuid,
    pub user_id: Uuid,
    pub rating: i32,
    pub actionable: bool,
    pub comment: String,
    pub create_time: DateTime<Utc>,
}

const COLUMNS: &str = "q.question_id, q.brand_id, q.user_id, q.text, q.category, q.state, \
     q.parent_question_id, q.plan, q.answer_id, q.answer, q.ask_time";

/// The reader's own feedback on `q`, as JSON (null when none).
const OWN_FEEDBACK: &str = "(select to_jsonb(f) - 'tenant_id' from insights.feedback f
      where f.tenant_id = q.tenant_id and f.question_id = q.question_id and f.user_id = $1)
      as feedback";

/// A question with its answer, ready to store.
#[derive(Debug, Clone)]
pub struct NewQuestion<'a> {
    pub question_id: Uuid,
    pub brand_id: Uuid,
    pub user_id: Uuid,
    pub text: &'a str,
    pub category: &'a str,
    pub parent_question_id: Option<Uuid>,
    pub request_id: Option<&'a str>,
    pub plan: Option<serde_json::Value>,
    pub answer_id: Uuid,
    pub answerable: bool,
    pub engine: &'a str,
    pub answer: Vec<u8>,
    pub ask_time: DateTime<Utc>,
}

/// Stores an answered question; `false` when a question with the same user and
/// request id already exists (a concurrent retry won; nothing was written).
pub async fn insert(tx: &mut TenantTx, q: &NewQuestion<'_>) -> pp_db::Result<bool> {
    let inserted = sqlx::query(
        "insert into insights.questions
             (tenant_id, question_id, brand_id, user_id, text, category, state,
              parent_question_id, request_id, plan, answer_id, answerable, engine, answer, ask_time)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4, $5,
                 'answered', $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (tenant_id, user_id, request_id) where request_id is not null do nothing",
    )
    .bind(q.question_id)
    .bind(q.brand_id)
    .bind(q.user_id)
    .bind(q.text)
    .bind(q.category)
    .bind(q.parent_question_id)
    .bind(q.request_id)
    .bind(&q.plan)
    .bind(q.answer_id)
    .bind(q.answerable)
    .bind(q.engine)
    .bind(&q.answer)
    .bind(q.ask_time)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The question `user_id` asked with `request_id`, if any (with that user's feedback).
pub async fn by_request(
    tx: &mut TenantTx,
    user_id: Uuid,
    request_id: &str,
) -> pp_db::Result<Option<QuestionRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {OWN_FEEDBACK} from insights.questions q
         where q.user_id = $1 and q.request_id = $2"
    ))
    .bind(user_id)
    .bind(request_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// One question of the tenant, with `reader`'s feedback on it.
pub async fn get(
    tx: &mut TenantTx,
    question_id: Uuid,
    reader: Uuid,
) -> pp_db::Result<Option<QuestionRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {OWN_FEEDBACK} from insights.questions q where q.question_id = $2"
    ))
    .bind(reader)
    .bind(question_id)
    .fetch_optional(tx.conn())
    .await
    .map_err(Into::into)
}

/// What ListQuestions filters on.
#[derive(Debug, Clone, Copy)]
pub struct QuestionFilter<'a> {
    /// `None`: every brand of the tenant.
    pub brands: Option<&'a [Uuid]>,
    pub user_id: Option<Uuid>,
    pub asked_from: Option<DateTime<Utc>>,
    pub asked_until: Option<DateTime<Utc>>,
}

/// A page of questions, newest first, with `reader`'s feedback on each.
pub async fn list(
    tx: &mut TenantTx,
    reader: Uuid,
    filter: &QuestionFilter<'_>,
    page: &PageRequest,
) -> pp_db::Result<Vec<QuestionRow>> {
    let before = page.after;
    sqlx::query_as(&format!(
        "select {COLUMNS}, {OWN_FEEDBACK} from insights.questions q
         where ($2::uuid[] is null or q.brand_id = any($2))
           and ($3::uuid is null or q.user_id = $3)
           and ($4::timestamptz is null or q.ask_time >= $4)
           and ($5::timestamptz is null or q.ask_time < $5)
           and ($6::timestamptz is null or (q.ask_time, q.question_id) < ($6, $7))
         order by q.ask_time desc, q.question_id desc
         limit $8"
    ))
    .bind(reader)
    .bind(filter.brands)
    .bind(filter.user_id)
    .bind(filter.asked_from)
    .bind(filter.asked_until)
    .bind(before.map(|c| c.created_at))
    .bind(before.map(|c| c.id))
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Stores `user_id`'s rating of a question (replacing an earlier one); returns it.
#[allow(clippy::too_many_arguments)]
pub async fn upsert_feedback(
    tx: &mut TenantTx,
    question_id: Uuid,
    answer_id: Uuid,
    brand_id: Uuid,
    user_id: Uuid,
    rating: i32,
    actionable: bool,
    comment: &str,
) -> pp_db::Result<FeedbackRow> {
    sqlx::query_as(
        "insert into insights.feedback
             (tenant_id, feedback_id, question_id, answer_id, brand_id, user_id, rating,
              actionable, comment)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3, $4, $5,
                 $6, $7, $8)
         on conflict (tenant_id, question_id, user_id) do update
             set answer_id = excluded.answer_id, rating = excluded.rating,
                 actionable = excluded.actionable, comment = excluded.comment,
                 create_time = now()
         returning feedback_id, question_id, answer_id, brand_id, user_id, rating, actionable,
                   comment, create_time",
    )
    .bind(Uuid::new_v4())
    .bind(question_id)
    .bind(answer_id)
    .bind(brand_id)
    .bind(user_id)
    .bind(rating)
    .bind(actionable)
    .bind(comment)
    .fetch_one(tx.conn())
    .await
    .map_err(Into::into)
}

/// The brand's name and its first day with rolled-up data (none before the first sync).
pub async fn brand_facts(
    tx: &mut TenantTx,
    brand_id: Uuid,
) -> pp_db::Result<(String, Option<NaiveDate>)> {
    sqlx::query_as(
        "select (select name from brands.brands where brand_id = $1),
                least((select min(day) from insights.daily_sales where brand_id = $1),
                      (select min(day) from insights.daily_ad_spend where brand_id = $1))",
    )
    .bind(brand_id)
    .fetch_one(tx.conn())
    .await
    .map(|(name, first): (Option<String>, Option<NaiveDate>)| (name.unwrap_or_default(), first))
    .map_err(Into::into)
}
