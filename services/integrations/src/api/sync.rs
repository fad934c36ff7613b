//! TriggerSync, GetSyncRun, ListSyncRuns, WatchSync.

use std::time::Duration;

use pp_auth::Principal;
use pp_db::{PageRequest, TenantTx, idempotency};
use pp_error::ApiError;
use pp_proto::integrations as pb;
use pp_types::{Violations, parse_uuid};
use uuid::Uuid;

use super::integrations::visible;
use super::{IntegrationApi, READERS, WRITERS, WatchStream, convert};
use crate::store::SCHEMA;
use crate::store::sync_runs::{self, ListFilter, SyncRunRow};
use crate::sync::plan;

/// How often WatchSync looks at the run (any replica may be running it).
const WATCH_POLL: Duration = Duration::from_millis(250);

impl IntegrationApi {
    pub(super) async fn trigger(
        &self,
        principal: Principal,
        request: pb::TriggerSyncRequest,
    ) -> Result<pb::TriggerSyncResponse, ApiError> {
        principal.require(WRITERS)?;
        let mut violations = Violations::new();
        let integration_id = violations.uuid("integration_id", &request.integration_id);
        let mode = match pb::SyncMode::try_from(request.mode) {
            Ok(pb::SyncMode::Unspecified | pb::SyncMode::Incremental) => "incremental",
            Ok(pb::SyncMode::Full) => "full",
            Err(_) => {
                violations.add("mode", "is not a known sync mode");
                "incremental"
            }
        };
        let backfill = match &request.backfill_range {
            None => None,
            Some(_) if mode != "full" => {
                violations.add("backfill_range", "is only allowed with mode FULL");
                None
            }
            Some(range) => {
                let start = violations.date("backfill_range.start_date", range.start_date.as_ref());
                let end = violations.date("backfill_range.end_date", range.end_date.as_ref());
                match (start, end) {
                    (Some(s), Some(e)) if s > e => {
                        violations.add("backfill_range", "must not end before it starts");
                        None
                    }
                    (Some(s), Some(e)) => Some((s, e)),
                    _ => None,
                }
            }
        };
        violations.request_id("request_id", &request.request_id);
        violations.finish()?;
        let integration_id = integration_id.unwrap_or_default();
        let tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let scope = idempotency::Scope {
            schema: SCHEMA,
            rpc: "TriggerSync",
        };
        idempotency::once(tx, scope, &request.request_id, |mut tx| async move {
            let integration = visible(&mut tx, &principal, integration_id, true).await?;
            if !matches!(integration.status.as_str(), "connected" | "error") {
                return Err(ApiError::FailedPrecondition("INTEGRATION_NOT_CONNECTED"));
            }
            let (run, already_running) = plan::queue(
                &mut tx,
                &integration,
                mode,
                "manual",
                Some(principal.user_id.0),
                backfill,
            )
            .await?;
            let response = pb::TriggerSyncResponse {
                sync_run: Some(convert::sync_run(&run)),
                already_running,
            };
            Ok::<_, ApiError>((tx, response))
        })
        .await
    }

    async fn visible_run(
        &self,
        principal: &Principal,
        run_id: Uuid,
    ) -> Result<SyncRunRow, ApiError> {
        let mut tx = TenantTx::begin(&self.state.pool, principal).await?;
        let row = sync_runs::get(&mut tx, run_id).await?;
        tx.commit().await?;
        row.filter(|r| principal.may_see_brand(r.brand_id))
            .ok_or(ApiError::NotFound("SYNC_RUN_NOT_FOUND"))
    }

    pub(super) async fn get_run(
        &self,
        principal: Principal,
        request: pb::GetSyncRunRequest,
    ) -> Result<pb::GetSyncRunResponse, ApiError> {
        principal.require(READERS)?;
        let run_id = parse_uuid("sync_run_id", &request.sync_run_id)?;
        let row = self.visible_run(&principal, run_id).await?;
        Ok(pb::GetSyncRunResponse {
            sync_run: Some(convert::sync_run(&row)),
        })
    }

    pub(super) async fn list_runs(
        &self,
        principal: Principal,
        request: pb::ListSyncRunsRequest,
    ) -> Result<pb::ListSyncRunsResponse, ApiError> {
        principal.require(READERS)?;
        let mut violations = Violations::new();
        let integration_id = violations.optional_uuid("integration_id", &request.integration_id);
        let brand_id = violations.optional_uuid("brand_id", &request.brand_id);
        let state = convert::optional_filter(
            &mut violations,
            "state",
            request.state,
            convert::run_state_from_wire,
            "sync run state",
        );
        let page = violations.take(PageRequest::parse(request.page_size, &request.page_token));
        violations.finish()?;
        let Some(page) = page else {
            return Err(ApiError::invalid("page_token", "is not valid"));
        };
        if let Some(brand) = brand_id
            && !principal.may_see_brand(brand)
        {
            return Ok(pb::ListSyncRunsResponse::default());
        }
        let filter = ListFilter {
            integration_id,
            brand_id,
            brand_scope: principal.brand_scope.clone(),
            state,
        };
        let mut tx = TenantTx::begin(&self.state.pool, &principal).await?;
        let (rows, next_page_token) = sync_runs::list(&mut tx, &filter, &page).await?;
        tx.commit().await?;
        Ok(pb::ListSyncRunsResponse {
            sync_runs: rows.iter().map(convert::sync_run).collect(),
            next_page_token,
        })
    }

    pub(super) async fn watch(
        &self,
        principal: Principal,
        request: pb::WatchSyncRequest,
    ) -> Result<WatchStream, ApiError> {
        principal.require(READERS)?;
        let run_id = parse_uuid("sync_run_id", &request.sync_run_id)?;
        let first = self.visible_run(&principal, run_id).await?;
        let state = self.state.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let mut last = first;
            if sender
                .send(Ok(pb::WatchSyncResponse {
                    sync_run: Some(convert::sync_run(&last)),
                }))
                .await
                .is_err()
            {
                return;
            }
            while !last.is_terminal() {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep(WATCH_POLL) => {}
                }
                let current = async {
                    let mut tx = TenantTx::begin(&state.pool, &principal).await?;
                    let row = sync_runs::get(&mut tx, run_id).await?;
                    tx.commit().await?;
                    Ok::<_, pp_db::DbError>(row)
                }
                .await;
                match current {
                    Ok(Some(row)) => {
                        if row.updated_at != last.updated_at || row.state != last.state {
                            let message = pb::WatchSyncResponse {
                                sync_run: Some(convert::sync_run(&row)),
                            };
                            if sender.send(Ok(message)).await.is_err() {
                                return;
                            }
                        }
                        last = row;
                    }
                    Ok(None) => return,
                    Err(err) => {
                        let _ = sender.send(Err(ApiError::from(err).into())).await;
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }
}
