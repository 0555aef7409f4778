//! The waiting list: numbers are assigned by the engine with the decision (see
//! [`crate::engine::Engine::enqueue`]); here the citizen's current position, which the
//! portal asks through the sync channel (`mio.queue.position`).

use std::fmt;

use egov_contracts::mio::{
    QueuePlace, QueuePosition, QueuePositionAnswer, QueuePositionRequest, services,
};
use egov_shep_client::server::{Answer, Incoming, SyncHandler};
use sqlx::PgPool;

/// Where an entry of the waiting list stands (`queue_entries.status`). The engine
/// enters every place as waiting; housed and removed are the schema's other states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    /// `waiting`: counts for the positions.
    Waiting,
    /// `housed`: the citizen received housing.
    Housed,
    /// `removed`: taken off the list.
    Removed,
}

impl QueueStatus {
    /// Every state.
    pub const ALL: [QueueStatus; 3] = [
        QueueStatus::Waiting,
        QueueStatus::Housed,
        QueueStatus::Removed,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Waiting => "waiting",
            QueueStatus::Housed => "housed",
            QueueStatus::Removed => "removed",
        }
    }
}

impl fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The places of a citizen with their current positions.
pub async fn positions(pool: &PgPool, iin: &str) -> sqlx::Result<Vec<QueuePosition>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        provider_id: String,
        category: String,
        number: i64,
        registered_on: time::Date,
        application_number: String,
        position: i64,
        waiting: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select q.provider_id, q.category, q.number, q.registered_on, a.number as application_number,
                (select count(*) from queue_entries o where o.provider_id = q.provider_id and o.category = q.category
                   and o.status = 'waiting' and o.number < q.number) + 1 as position,
                (select count(*) from queue_entries o where o.provider_id = q.provider_id and o.category = q.category
                   and o.status = 'waiting') as waiting
         from queue_entries q join applications a on a.id = q.application_id
         where q.applicant_iin = $1 and q.status = 'waiting'
         order by q.provider_id, q.category",
    )
    .bind(iin)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| QueuePosition {
            place: QueuePlace {
                provider: r.provider_id,
                category: r.category,
                number: r.number,
                registered: r.registered_on,
            },
            application_number: r.application_number,
            position: r.position,
            waiting: r.waiting,
        })
        .collect())
}

/// ИС МИО's sync-channel services.
pub struct Handler {
    /// The database.
    pub pool: PgPool,
}

fn refuse(code: &str, message: String) -> Answer {
    egov_system::refusal(code, message, serde_json::Value::Null)
}

impl SyncHandler for Handler {
    async fn handle(&self, req: Incoming) -> Answer {
        if req.service() != services::QUEUE_POSITION {
            return refuse(
                "UNKNOWN_SERVICE",
                format!("ИС МИО does not provide {:?}", req.service()),
            );
        }
        let r: QueuePositionRequest = match serde_json::from_slice(&req.opened.payload) {
            Ok(r) => r,
            Err(e) => return refuse("INVALID_REQUEST", format!("the request is not valid: {e}")),
        };
        if let Err(e) = egov_iin::Iin::parse(&r.iin) {
            return refuse(
                "INVALID_IIN",
                format!("{:?} is not a valid IIN: {e}", r.iin),
            );
        }
        match positions(&self.pool, &r.iin).await {
            Ok(places) => Answer::ok(
                serde_json::to_vec(&QueuePositionAnswer { iin: r.iin, places })
                    .expect("serializes"),
            ),
            Err(e) => {
                tracing::error!(error = %crate::mask::text(&e.to_string()), "queue position");
                Answer::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_states_keep_their_names() {
        let names: Vec<&str> = QueueStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["waiting", "housed", "removed"]);
        for s in QueueStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
    }
}
