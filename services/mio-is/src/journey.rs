//! An application's journey: its steps from its ИС МИО, and every hop of its messages
//! (the application itself, then each status and result ИС МИО sent about it) from the
//! gateways' message log.

use egov_diagram::journey::{Hop, Journey, StepRun};
use egov_journal::{Event, Filter, Journal, StoredRecord};
use sqlx::PgPool;

/// Why a journey cannot be put together.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ИС МИО's database answered with an error.
    #[error("ИС МИО's database: {0}")]
    Mio(#[from] sqlx::Error),
    /// The message log answered with an error.
    #[error("the message log: {0}")]
    Journal(String),
}

/// The application of `number` (or id) in the ИС МИО whose schema `mio` opens, with its
/// regulation id, or `None` when that ИС МИО has no such application.
pub async fn load(
    mio: &PgPool,
    journal: &Journal,
    number: &str,
) -> Result<Option<(Journey, String)>, Error> {
    assemble(mio, Some(journal), number).await
}

/// As [`load`] without the message log: the steps alone, no hops.
pub async fn steps_only(mio: &PgPool, number: &str) -> Result<Option<(Journey, String)>, Error> {
    assemble(mio, None, number).await
}

async fn assemble(
    mio: &PgPool,
    journal: Option<&Journal>,
    number: &str,
) -> Result<Option<(Journey, String)>, Error> {
    let Some(app) = crate::store::application(mio, number).await? else {
        return Ok(None);
    };
    let runs = crate::store::runs(mio, app.id).await?;
    let sent = crate::outbox::sent_for(mio, &app.correlation_id).await?;
    let mut ids = vec![app.message_id.clone()];
    ids.extend(sent.into_iter().map(|s| s.message_id));
    let mut hops = Vec::new();
    for id in ids.iter().filter(|_| journal.is_some()) {
        let Some(journal) = journal else { break };
        let rows = journal
            .search(&Filter {
                message_id: Some(id.clone()),
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Journal(e.to_string()))?;
        hops.extend(hops_of(rows));
    }
    hops.sort_by_key(|h| h.first_at);
    let steps = runs
        .into_iter()
        .map(|r| StepRun {
            step: r.step_id,
            started: r.started_at,
            completed: r.completed_at,
            due: r.due_at,
            overdue: r.overdue,
            outcome: r.outcome,
        })
        .collect();
    Ok(Some((
        Journey {
            application: app.number,
            channel: app.channel.as_str().to_string(),
            sender: app.sender_system,
            hops,
            steps,
        },
        app.regulation_id,
    )))
}

/// One hop per gateway a message passed, from that gateway's rows for it.
fn hops_of(rows: Vec<StoredRecord>) -> Vec<Hop> {
    let mut hops: Vec<Hop> = Vec::new();
    let mut rows: Vec<_> = rows.into_iter().map(|r| r.record).collect();
    rows.sort_by_key(|r| r.at);
    for r in rows {
        let failed = matches!(r.event, Event::Rejected | Event::NotDelivered);
        match hops
            .iter_mut()
            .find(|h| h.gateway == r.gateway_id && h.message_id == r.message_id)
        {
            Some(h) => {
                h.last_at = h.last_at.max(r.at);
                h.status = r.status_code.clone();
                h.failed |= failed;
                if h.recipient.is_none() {
                    h.recipient = r.recipient_id.clone();
                }
            }
            None => hops.push(Hop {
                gateway: r.gateway_id.clone(),
                message_id: r.message_id.clone(),
                service: r.service_id.clone(),
                sender: r.sender_id.clone(),
                recipient: r.recipient_id.clone(),
                first_at: r.at,
                last_at: r.at,
                status: r.status_code.clone(),
                failed,
            }),
        }
    }
    hops
}
