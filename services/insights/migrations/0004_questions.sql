-- Questions asked about a brand, their answers, and users' feedback on them.

-- One row per question, written once its answer is complete (a question whose
-- stream the client left is not stored). `request_id` makes AskQuestion idempotent
-- per user: a retry returns the stored answer and is not charged again.
create table insights.questions (
    tenant_id           uuid not null,
    question_id         uuid not null,
    brand_id            uuid not null,
    user_id             uuid not null,
    text                text not null,
    category            text not null,
    state               text not null check (state in ('answering', 'answered', 'failed')),
    parent_question_id  uuid,
    request_id          text,
    -- What the planner understood (answers/plan.rs), the start of a follow-up.
    plan                jsonb,
    answer_id           uuid,
    answerable          boolean,
    engine              text,
    -- The complete pulsepoint.insights.v1.Answer, protobuf-encoded: figures,
    -- definitions, data freshness and usage exactly as answered.
    answer              bytea,
    ask_time            timestamptz not null default now(),
    primary key (tenant_id, question_id)
);
create unique index questions_request on insights.questions (tenant_id, user_id, request_id)
    where request_id is not null;
create index questions_newest on insights.questions (tenant_id, ask_time desc, question_id desc);

-- A user's rating of an answer: one per user and question, updated when re-rated.
create table insights.feedback (
    tenant_id    uuid not null,
    feedback_id  uuid not null,
    question_id  uuid not null,
    answer_id    uuid not null,
    brand_id     uuid not null,
    user_id      uuid not null,
    rating       integer not null check (rating between 1 and 5),
    actionable   boolean not null,
    comment      text not null default '',
    create_time  timestamptz not null default now(),
    primary key (tenant_id, feedback_id),
    unique (tenant_id, question_id, user_id),
    foreign key (tenant_id, question_id) references insights.questions (tenant_id, question_id)
        on delete cascade
);

do $$
declare
  t text;
begin
  foreach t in array array['questions', 'feedback'] loop
    execute format('alter table insights.%I enable row level security', t);
    execute format('alter table insights.%I force row level security', t);
    execute format('create policy tenant_isolation on insights.%I
                        using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
                        with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  end loop;
end
$$;

grant select, insert, update, delete on insights.questions, insights.feedback to pp_insights;
