//! The SLA monitor: every step's start, end and deadline are in `step_runs`; a step
//! still open past its due time is flagged (the flag shows on the worklist), counted in
//! a metric and logged, once. Applications past the regulation's overall deadline are
//! flagged the same way. Time comes from the engine's clock.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::Engine;

/// A step found past its deadline by one scan.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Overdue {
    /// The task.
    pub id: i64,
    /// The application number.
    pub number: String,
    /// The regulation.
    pub regulation_id: String,
    /// The step.
    pub step_id: String,
    /// Its due time.
    pub due_at: time::OffsetDateTime,
}

impl Engine {
    /// Flags what is past its deadline now; returns the steps newly flagged.
    pub async fn sla_scan(&self) -> sqlx::Result<Vec<Overdue>> {
        let now = self.clock.now();
        let flagged: Vec<Overdue> = sqlx::query_as(
            "with f as (
                update step_runs set overdue = true, overdue_at = $1
                where status = 'open' and not overdue and due_at < $1
                returning id, application_id, step_id, due_at)
             select f.id, a.number, a.regulation_id, f.step_id, f.due_at
             from f join applications a on a.id = f.application_id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        for o in &flagged {
            metrics::counter!(
                "egov_mio_steps_overdue_total",
                "system" => self.system_id.clone(),
                "regulation" => o.regulation_id.clone(),
                "step" => o.step_id.clone(),
            )
            .increment(1);
            tracing::warn!(
                task = o.id,
                application = %o.number,
                regulation = %o.regulation_id,
                step = %o.step_id,
                due = %o.due_at,
                "step past its deadline"
            );
        }
        let apps = sqlx::query(
            "update applications set overdue = true
             where not overdue and completed_at is null and due_at < $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        if apps.rows_affected() > 0 {
            metrics::counter!("egov_mio_applications_overdue_total", "system" => self.system_id.clone())
                .increment(apps.rows_affected());
        }
        let open: i64 =
            sqlx::query_scalar("select count(*) from step_runs where status = 'open' and overdue")
                .fetch_one(&self.pool)
                .await?;
        metrics::gauge!("egov_mio_open_overdue_steps", "system" => self.system_id.clone())
            .set(open as f64);
        self.refresh_gauges().await?;
        Ok(flagged)
    }

    /// Sets the gauges the dashboards read: applications by provider and status
    /// (`egov_mio_applications`), and the waiting lists' lengths by provider and category
    /// (`egov_mio_queue_length`). Every provider and status (and category) of the catalog
    /// is set, to zero when none, so that a count that falls to zero shows as zero.
    pub async fn refresh_gauges(&self) -> sqlx::Result<()> {
        let by_status: Vec<(String, String, i64)> = sqlx::query_as(
            "select provider_id, status, count(*) from applications group by provider_id, status",
        )
        .fetch_all(&self.pool)
        .await?;
        let waiting: Vec<(String, String, i64)> = sqlx::query_as(
            "select provider_id, category, count(*) from queue_entries
             where status = 'waiting' group by provider_id, category",
        )
        .fetch_all(&self.pool)
        .await?;
        for (provider, regs) in self.catalog.providers() {
            for status in egov_regulation::Status::ALL {
                let n = by_status
                    .iter()
                    .find(|(p, s, _)| *p == provider.id && s == status.as_str())
                    .map_or(0, |r| r.2);
                metrics::gauge!(
                    "egov_mio_applications",
                    "system" => self.system_id.clone(),
                    "provider" => provider.id.clone(),
                    "status" => status.as_str(),
                )
                .set(n as f64);
            }
            let mut categories: Vec<&str> = regs
                .iter()
                .flat_map(|r| r.categories.iter().map(|c| c.id.as_str()))
                .collect();
            categories.sort_unstable();
            categories.dedup();
            for category in categories {
                let n = waiting
                    .iter()
                    .find(|(p, c, _)| *p == provider.id && c == category)
                    .map_or(0, |r| r.2);
                metrics::gauge!(
                    "egov_mio_queue_length",
                    "system" => self.system_id.clone(),
                    "provider" => provider.id.clone(),
                    "category" => category.to_string(),
                )
                .set(n as f64);
            }
        }
        Ok(())
    }

    /// Scans every `every` until `shutdown`.
    pub async fn sla_monitor(self, every: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.sla_scan().await {
                tracing::warn!(error = %crate::mask::text(&e.to_string()), "SLA scan failed");
            }
        }
    }
}
