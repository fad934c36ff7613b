//! Questions and answers over the real stack: AskQuestion answered by the built-in
//! planner from the metric engine (figures equal GetDashboard's), stored and idempotent
//! by request id, follow-ups, refusals, StreamAnswer's event order, SubmitFeedback and
//! ListQuestions with their checks.

use pp_proto::common::Role as ProtoRole;
use pp_proto::insights::stream_answer_response::Event;
use pp_proto::insights::{
    AnswerEngine, AskQuestionRequest, GetDashboardRequest, ListQuestionsRequest, Question,
    StreamAnswerRequest, SubmitFeedbackRequest,
};
use pp_proto::integrations::SyncRunState;
use pp_types::convert::micros;
use tonic::Code;
use uuid::Uuid;

use crate::support::*;

/// Asks `text` about `brand_id` and returns the answered question.
pub(crate) async fn ask(stack: &Stack, token: &str, brand_id: &str, text: &str) -> Question {
    ask_with(
        stack,
        token,
        AskQuestionRequest {
            brand_id: brand_id.into(),
            text: text.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|status| panic!("ask {text:?}: {status:?}"))
}

pub(crate) async fn ask_with(
    stack: &Stack,
    token: &str,
    request: AskQuestionRequest,
) -> Result<Question, tonic::Status> {
    let mut insights = stack.insights().await.expect("insights client");
    Ok(insights
        .ask_question(authed(token, request))
        .await?
        .into_inner()
        .question
        .expect("question"))
}

/// A brand with the demo store (Shopify + Meta, 30 days) synced and rolled up.
async fn demo_brand(stack: &Stack, tenant: &Tenant, name: &str) -> String {
    let brand = create_brand(stack, &tenant.admin_token, name).await;
    let (_, run) = connect_demo(stack, &tenant.admin_token, &brand.brand_id, 30).await;
    let finished = wait_for_run(stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(finished.state, SyncRunState::Succeeded as i32);
    crate::insights::refresh(stack, &tenant.tenant_id, &brand.brand_id).await;
    brand.brand_id
}

async fn outbox_count(stack: &Stack, event_type: &str, question_id: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from insights.outbox
         where event_type = $1 and envelope->'payload'->>'question_id' = $2",
    )
    .bind(event_type)
    .bind(question_id)
    .fetch_one(&stack.db.superuser_pool().await.expect("superuser"))
    .await
    .expect("outbox")
}

#[tokio::test]
async fn questions_are_answered_from_the_engine_stored_once_and_followed_up() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand_id = demo_brand(&stack, &tenant, "Demo").await;

    let question = ask(
        &stack,
        &tenant.admin_token,
        &brand_id,
        "What was my net revenue in the last 7 days?",
    )
    .await;
    let answer = question.answer.clone().expect("answer");
    assert!(answer.answerable, "{}", answer.text);
    assert_eq!(answer.engine, AnswerEngine::Planner as i32);
    assert_eq!(question.category, "revenue");
    assert_eq!(answer.figures.len(), 1, "{:?}", answer.figures);
    let figure = &answer.figures[0];
    assert_eq!(figure.metric, "net_revenue");
    assert!(
        answer.text.contains(&figure.display_value),
        "{}",
        answer.text
    );
    assert!(answer.definitions.iter().any(|d| d.metric == "net_revenue"));
    assert!(
        !answer.data_freshness.is_empty(),
        "the demo store's sources"
    );
    // The same number GetDashboard shows for the same days.
    let period = figure.period.expect("period");
    let mut insights = stack.insights().await.expect("client");
    let dashboard = insights
        .get_dashboard(authed(
            &tenant.admin_token,
            GetDashboardRequest {
                brand_id: brand_id.clone(),
                date_range: Some(period),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner();
    let kpi = dashboard
        .kpis
        .iter()
        .find(|k| {
            k.current
                .as_ref()
                .is_some_and(|c| c.metric == "net_revenue")
        })
        .and_then(|k| k.current.clone())
        .expect("net revenue kpi");
    assert_eq!(
        micros(figure.money.as_ref().expect("money")),
        micros(kpi.money.as_ref().expect("money"))
    );
    let start = period.start_date.expect("start");
    let end = period.end_date.expect("end");
    let (start, end) = (
        chrono::NaiveDate::from_ymd_opt(start.year, start.month as u32, start.day as u32),
        chrono::NaiveDate::from_ymd_opt(end.year, end.month as u32, end.day as u32),
    );
    assert_eq!(
        (end.expect("end") - start.expect("start")).num_days(),
        6,
        "seven days"
    );

    // Retried with its request id: the stored answer, no second event.
    let request = AskQuestionRequest {
        brand_id: brand_id.clone(),
        text: "How many orders did we get yesterday?".into(),
        request_id: Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let first = ask_with(&stack, &tenant.admin_token, request.clone())
        .await
        .expect("ask");
    let again = ask_with(&stack, &tenant.admin_token, request)
        .await
        .expect("retry");
    assert_eq!(again.question_id, first.question_id);
    assert_eq!(again.answer, first.answer);
    assert_eq!(
        outbox_count(&stack, "ai.question_asked", &first.question_id).await,
        1
    );
    assert_eq!(
        outbox_count(&stack, "ai.answer_generated", &first.question_id).await,
        1
    );

    // A follow-up starts from its parent: "the week before" moves the period back.
    let parent = ask(&stack, &tenant.admin_token, &brand_id, "ad spend last week").await;
    let follow = ask_with(
        &stack,
        &tenant.admin_token,
        AskQuestionRequest {
            brand_id: brand_id.clone(),
            text: "and the week before?".into(),
            parent_question_id: parent.question_id.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("follow-up");
    let days = |q: &Question| {
        let f = &q.answer.as_ref().expect("answer").figures[0];
        assert_eq!(f.metric, "ad_spend");
        let p = f.period.expect("period");
        let s = p.start_date.expect("start");
        chrono::NaiveDate::from_ymd_opt(s.year, s.month as u32, s.day as u32).expect("date")
    };
    assert_eq!((days(&parent) - days(&follow)).num_days(), 7);
    assert_eq!(follow.parent_question_id, parent.question_id);

    // What the data can't answer: refused in one line, no figures, category "other".
    for text in [
        "write me a poem about socks",
        "what's my conversion rate this month?",
        "TikTok spend last week",
        "revenue next month",
        "how is my other store doing?",
    ] {
        let refused = ask(&stack, &tenant.admin_token, &brand_id, text).await;
        let answer = refused.answer.expect("answer");
        assert!(!answer.answerable, "{text}: {}", answer.text);
        assert!(answer.figures.is_empty(), "{text}");
        assert_eq!(refused.category, "other");
    }

    // Another tenant's brand and another brand's parent are NOT_FOUND.
    let other = sign_up(&stack, "Other").await;
    let theirs = create_brand(&stack, &other.admin_token, "Theirs").await;
    assert_code(
        ask_with(
            &stack,
            &tenant.admin_token,
            AskQuestionRequest {
                brand_id: theirs.brand_id.clone(),
                text: "revenue".into(),
                ..Default::default()
            },
        )
        .await,
        Code::NotFound,
    );
    let second = create_brand(&stack, &tenant.admin_token, "Second").await;
    assert_code(
        ask_with(
            &stack,
            &tenant.admin_token,
            AskQuestionRequest {
                brand_id: second.brand_id.clone(),
                text: "and the week before?".into(),
                parent_question_id: parent.question_id.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::NotFound,
    );
    // Bad input names its field.
    for (request, field) in [
        (
            AskQuestionRequest {
                brand_id: brand_id.clone(),
                text: "x".repeat(1001),
                ..Default::default()
            },
            "text",
        ),
        (
            AskQuestionRequest {
                brand_id: brand_id.clone(),
                text: "revenue".into(),
                parent_question_id: "nope".into(),
                ..Default::default()
            },
            "parent_question_id",
        ),
        (
            AskQuestionRequest {
                brand_id: brand_id.clone(),
                text: "revenue".into(),
                date_range: Some(pp_proto::common::DateRange {
                    start_date: Some(pp_proto::common::Date {
                        year: 2026,
                        month: 2,
                        day: 30,
                    }),
                    end_date: None,
                }),
                ..Default::default()
            },
            "date_range.start_date",
        ),
    ] {
        assert_invalid(ask_with(&stack, &tenant.admin_token, request).await, field);
    }
}

#[tokio::test]
async fn stream_answer_sends_the_question_progress_figures_text_then_the_answer() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand_id = demo_brand(&stack, &tenant, "Demo").await;
    let insights = stack.insights().await.expect("client");
    let request = StreamAnswerRequest {
        brand_id: brand_id.clone(),
        text: "ad spend by platform in the last 7 days compared to the previous period".into(),
        request_id: Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let collect = |request: StreamAnswerRequest| {
        let mut insights = insights.clone();
        let token = tenant.admin_token.clone();
        async move {
            let mut stream = insights
                .stream_answer(authed(&token, request))
                .await
                .expect("stream")
                .into_inner();
            let mut events = Vec::new();
            while let Some(event) = stream.message().await.expect("event") {
                events.push(event.event.expect("event"));
            }
            events
        }
    };
    let events = collect(request.clone()).await;
    let Some(Event::Question(question)) = events.first() else {
        panic!("the question comes first: {events:?}");
    };
    assert_eq!(
        question.state,
        pp_proto::insights::QuestionState::Answering as i32
    );
    let Some(Event::Answer(answer)) = events.last() else {
        panic!("the answer comes last: {events:?}");
    };
    assert!(answer.answerable, "{}", answer.text);
    assert_eq!(answer.question_id, question.question_id);
    // The streaming task asks integrations with the caller's identity, as the RPC does.
    assert!(
        !answer.data_freshness.is_empty(),
        "data as of, streamed too"
    );
    let progress = events
        .iter()
        .filter(|e| matches!(e, Event::Progress(_)))
        .count();
    assert!(progress >= 2, "a step per period: {events:?}");
    let streamed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Figure(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, answer.figures, "each figure streamed once");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, answer.text);
    // Stored: ListQuestions has the same answer, and a replay streams it again.
    let listed = insights
        .clone()
        .list_questions(authed(
            &tenant.admin_token,
            ListQuestionsRequest {
                brand_id: brand_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.questions.len(), 1);
    assert_eq!(listed.questions[0].answer.as_ref(), Some(answer));
    let replay = collect(request).await;
    let Some(Event::Answer(again)) = replay.last() else {
        panic!("replayed answer: {replay:?}");
    };
    assert_eq!(again, answer);
    // Bad input and another tenant's brand fail the RPC, not the stream.
    let status = insights
        .clone()
        .stream_answer(authed(
            &tenant.admin_token,
            StreamAnswerRequest {
                brand_id: Uuid::new_v4().to_string(),
                text: "revenue".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("unknown brand");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn feedback_is_checked_stored_once_per_user_and_listed() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand_id = demo_brand(&stack, &tenant, "Demo").await;
    let (analyst_id, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let mine = ask(&stack, &tenant.admin_token, &brand_id, "AOV last month").await;
    let theirs = ask(&stack, &analyst, &brand_id, "orders yesterday").await;
    let third = ask(&stack, &tenant.admin_token, &brand_id, "refunds this week").await;
    let answer_id = mine.answer.as_ref().expect("answer").answer_id.clone();
    let mut insights = stack.insights().await.expect("client");
    let feedback = |rating: i32, answer_id: &str, comment: &str| SubmitFeedbackRequest {
        question_id: mine.question_id.clone(),
        answer_id: answer_id.to_owned(),
        rating,
        actionable: true,
        comment: comment.into(),
        request_id: String::new(),
    };
    for (request, field) in [
        (feedback(0, &answer_id, ""), "rating"),
        (feedback(6, &answer_id, ""), "rating"),
        (feedback(3, "x", ""), "answer_id"),
        (feedback(3, &answer_id, &"y".repeat(1001)), "comment"),
    ] {
        assert_invalid(
            insights
                .submit_feedback(authed(&tenant.admin_token, request))
                .await,
            field,
        );
    }
    assert_code(
        insights
            .submit_feedback(authed(
                &tenant.admin_token,
                feedback(4, &Uuid::new_v4().to_string(), ""),
            ))
            .await,
        Code::NotFound,
    );
    let stored = insights
        .submit_feedback(authed(
            &tenant.admin_token,
            feedback(2, &answer_id, "wrong period"),
        ))
        .await
        .expect("feedback")
        .into_inner()
        .feedback
        .expect("feedback");
    let rerated = insights
        .submit_feedback(authed(&tenant.admin_token, feedback(5, &answer_id, "")))
        .await
        .expect("again")
        .into_inner()
        .feedback
        .expect("feedback");
    assert_eq!(rerated.feedback_id, stored.feedback_id, "one per user");
    assert_eq!(rerated.rating, 5);
    assert_eq!(
        outbox_count(&stack, "ai.feedback_provided", &mine.question_id).await,
        2
    );
    // Observability's accuracy summary reads these events (delivered here as its
    // subscriber would): every answer counted, the rating under the question's category.
    let envelopes: Vec<serde_json::Value> = sqlx::query_scalar(
        "select envelope from insights.outbox
         where tenant_id = $1 and event_type like 'ai.%' order by occurred_at",
    )
    .bind(tenant.tenant_id.parse::<Uuid>().expect("uuid"))
    .fetch_all(&stack.db.superuser_pool().await.expect("superuser"))
    .await
    .expect("outbox");
    for envelope in envelopes {
        let event: pp_events::EventEnvelope = serde_json::from_value(envelope).expect("envelope");
        pulsepoint_observability::ingest(&stack.observability, &event)
            .await
            .expect("ingest");
    }
    let accuracy = stack
        .observability()
        .await
        .expect("client")
        .get_accuracy_summary(authed(
            &tenant.admin_token,
            pp_proto::observability::GetAccuracySummaryRequest::default(),
        ))
        .await
        .expect("accuracy")
        .into_inner();
    let overall = accuracy.overall.expect("overall");
    assert_eq!(overall.answer_count, 3, "{overall:?}");
    assert!(overall.feedback_count >= 1, "{overall:?}");
    assert!(
        accuracy
            .by_category
            .iter()
            .any(|c| c.category == mine.category),
        "{:?}",
        accuracy.by_category
    );
    // Another tenant can't rate it.
    let other = sign_up(&stack, "Other").await;
    assert_code(
        insights
            .submit_feedback(authed(&other.admin_token, feedback(1, &answer_id, "")))
            .await,
        Code::NotFound,
    );

    // Listed newest first, with the caller's own feedback; pages; filters.
    let list = |token: &str, request: ListQuestionsRequest| {
        let mut insights = insights.clone();
        let token = token.to_owned();
        async move {
            insights
                .list_questions(authed(&token, request))
                .await
                .expect("list")
                .into_inner()
        }
    };
    let all = list(&tenant.admin_token, ListQuestionsRequest::default()).await;
    let ids: Vec<&str> = all
        .questions
        .iter()
        .map(|q| q.question_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            third.question_id.as_str(),
            theirs.question_id.as_str(),
            mine.question_id.as_str()
        ]
    );
    assert_eq!(
        all.questions[2].feedback.as_ref().map(|f| f.rating),
        Some(5)
    );
    assert!(all.questions[1].feedback.is_none());
    let first = list(
        &tenant.admin_token,
        ListQuestionsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.questions.len(), 2);
    let second = list(
        &tenant.admin_token,
        ListQuestionsRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(second.questions.len(), 1);
    assert!(second.next_page_token.is_empty());
    let by_analyst = list(
        &tenant.admin_token,
        ListQuestionsRequest {
            user_id: analyst_id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_analyst.questions.len(), 1);
    assert_eq!(by_analyst.questions[0].question_id, theirs.question_id);
    // The other tenant sees none of them.
    let none = list(&other.admin_token, ListQuestionsRequest::default()).await;
    assert!(none.questions.is_empty());
    assert_invalid(
        insights
            .list_questions(authed(
                &tenant.admin_token,
                ListQuestionsRequest {
                    page_size: 2,
                    page_token: "garbage".into(),
                    ..Default::default()
                },
            ))
            .await,
        "page_token",
    );
}
