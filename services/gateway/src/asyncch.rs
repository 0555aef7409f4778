//! The async channel: verify, log, publish into the recipient's JetStream inbox (or pass
//! to the next gateway), answer ACCEPTED; polling, delivery status and notifications.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use egov_proto::shep::v1::async_channel_client::AsyncChannelClient;
use egov_proto::shep::v1::async_channel_server::AsyncChannel;
use egov_proto::shep::v1::{
    AsyncSendMessageRequest, AsyncSendMessageResponse, DeliveryStatus, Envelope,
    GetMessageStatusRequest, GetMessageStatusResponse, GetMessagesRequest, GetMessagesResponse,
    InboxMessage, SendDeliveryNotificationRequest, SendDeliveryNotificationResponse,
};
use egov_shep_client::envelope::{codes, timestamp};
use egov_shep_client::inbox::{InboxNames, ROUTE_HEADER, SENDER_HEADER};
use futures::StreamExt;
use sqlx::PgPool;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::core::{Core, Trail};
use crate::journal::{Channel, Event};
use crate::registry::Hop;
use crate::status::{self, ToStatus};
use crate::sync::{ROUTE_METADATA, incoming_route, observe, refuse};

/// The AsyncChannel service of one gateway.
pub struct Async {
    pub(crate) core: Arc<Core>,
    pub(crate) js: jetstream::Context,
    pub(crate) names: InboxNames,
    pub(crate) pool: PgPool,
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliver: i64,
}

/// The stream and the consumer a JetStream delivery id (`$JS.ACK...`) belongs to: tokens
/// 2 and 3 of the nine-token form, 4 and 5 of the form with a domain and an account hash.
pub fn delivery_owner(delivery_id: &str) -> Option<(&str, &str)> {
    let t: Vec<&str> = delivery_id.split('.').collect();
    if t.len() < 2 || t[0] != "$JS" || t[1] != "ACK" || t.iter().any(|x| x.is_empty()) {
        return None;
    }
    match t.len() {
        9 => Some((t[2], t[3])),
        n if n >= 11 => Some((t[4], t[5])),
        _ => None,
    }
}

/// Where the delivery of an async message stands: the `status` of its row in
/// `deliveries`, which the message log also records as the status of a delivered or
/// not-delivered row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted and waiting in the recipient's inbox.
    OnDelivery,
    /// The recipient committed it and notified the gateway.
    Delivered,
    /// The recipient refused it, or redelivery gave up.
    NotDelivered,
    /// It expired in the inbox.
    DeliveryStopped,
}

impl Delivery {
    /// Every state, in declaration order.
    pub const ALL: [Delivery; 4] = [
        Delivery::OnDelivery,
        Delivery::Delivered,
        Delivery::NotDelivered,
        Delivery::DeliveryStopped,
    ];

    /// The name stored in `deliveries.status`: `ON_DELIVERY`, `DELIVERED`,
    /// `NOT_DELIVERED` or `DELIVERY_STOPPED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::OnDelivery => "ON_DELIVERY",
            Delivery::Delivered => "DELIVERED",
            Delivery::NotDelivered => "NOT_DELIVERED",
            Delivery::DeliveryStopped => "DELIVERY_STOPPED",
        }
    }

    /// The state named `name` (see [`Delivery::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Delivery::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

impl From<Delivery> for DeliveryStatus {
    fn from(d: Delivery) -> Self {
        match d {
            Delivery::OnDelivery => DeliveryStatus::OnDelivery,
            Delivery::Delivered => DeliveryStatus::Delivered,
            Delivery::NotDelivered => DeliveryStatus::NotDelivered,
            Delivery::DeliveryStopped => DeliveryStatus::DeliveryStopped,
        }
    }
}

/// The status a stored delivery state is answered with; unspecified for a name that is
/// none of [`Delivery`]'s.
fn delivery_status(name: &str) -> DeliveryStatus {
    Delivery::from_name(name).map_or(DeliveryStatus::Unspecified, DeliveryStatus::from)
}

impl Async {
    async fn publish(
        &self,
        accepted: &crate::core::Accepted,
        env: &Envelope,
        route: &[String],
    ) -> Result<bool, String> {
        let subject = self.names.subject(&accepted.recipient);
        let mut headers = async_nats::HeaderMap::new();
        // JetStream's deduplication keys on the sender and the messageId together
        headers.insert("Nats-Msg-Id", accepted.key.as_str());
        headers.insert(ROUTE_HEADER, route.join(",").as_str());
        headers.insert(
            SENDER_HEADER,
            accepted
                .info
                .sender
                .as_ref()
                .map(|s| s.sender_id.as_str())
                .unwrap_or(""),
        );
        egov_telemetry::inject_nats(&mut headers);
        let ack = self
            .js
            .publish_with_headers(
                subject,
                headers,
                egov_shep_client::inbox::encode(env).into(),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(ack.duplicate)
    }

    /// Records that the message is on its way to `recipient` (ON_DELIVERY), unless a
    /// state of it is there already; whether this call made the row.
    async fn record_delivery(
        &self,
        accepted: &crate::core::Accepted,
        sender: &str,
        recipient: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "insert into deliveries (message_id, sender_id, recipient_id, service_id, gateway_id, status)
             values ($1, $2, $3, $4, $5, 'ON_DELIVERY') on conflict (sender_id, message_id) do nothing",
        )
        .bind(&accepted.info.message_id)
        .bind(sender)
        .bind(recipient)
        .bind(&accepted.info.service_id)
        .bind(&self.core.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Drops the ON_DELIVERY state of a message that went nowhere (its row could not be
    /// logged, or the inbox refused it): the sender's retry records it again.
    async fn forget_delivery(&self, sender: &str, message_id: &str) {
        let gone = sqlx::query(
            "delete from deliveries where sender_id = $1 and message_id = $2 and status = 'ON_DELIVERY'",
        )
        .bind(sender)
        .bind(message_id)
        .execute(&self.pool)
        .await;
        if let Err(e) = gone {
            tracing::error!(error = %e, "the delivery state of an undelivered message stays");
        }
    }

    async fn pipeline(&self, env: Option<Envelope>, trail: &Trail) -> Envelope {
        let core = &self.core;
        let accepted = match core.check(env.as_ref(), trail).await {
            Ok(a) => a,
            Err((info, refusal)) => {
                return refuse(
                    core,
                    Channel::Async,
                    info.as_ref(),
                    env.as_ref(),
                    trail,
                    refusal,
                )
                .await;
            }
        };
        let env = env.expect("checked");
        let span = tracing::Span::current();
        span.record("service", accepted.info.service_id.as_str());
        span.record("message_id", accepted.info.message_id.as_str());
        span.record("egov.correlation", accepted.info.correlation_id.as_str());
        if let Some(previous) = &accepted.previous {
            return self.answer_retry(&accepted, previous, &env, trail).await;
        }
        let sender = accepted
            .info
            .sender
            .as_ref()
            .map(|s| s.sender_id.clone())
            .unwrap_or_default();
        // The request's row, and for a recipient of this gateway the delivery state, are
        // both written before anything goes onward: at once, so that the message waits
        // for one commit rather than two in a row.
        let logged = core.log_accepted(Channel::Async, &accepted, &env, trail);
        let (logged, delivery) = match &accepted.hop {
            Hop::System { id } => {
                let (logged, delivery) =
                    tokio::join!(logged, self.record_delivery(&accepted, &sender, id));
                (logged, Some(delivery))
            }
            Hop::Gateway { .. } => (logged.await, None),
        };
        let mut rec = match logged {
            Ok(r) => r,
            Err(refusal) => {
                // not logged, so not delivered: no delivery state is left to say otherwise
                if let Some(Ok(true)) = delivery {
                    self.forget_delivery(&sender, &accepted.info.message_id)
                        .await;
                }
                core.settle(&accepted, None);
                return refusal;
            }
        };
        let (code, message, relayed) = match &accepted.hop {
            Hop::System { id } => match delivery.expect("a recipient of this gateway") {
                Err(e) => {
                    tracing::error!(error = %e, "delivery state not recorded");
                    (
                        codes::INTERNAL,
                        "the delivery state could not be recorded".to_string(),
                        None,
                    )
                }
                Ok(_) => match self.publish(&accepted, &env, &trail.route).await {
                    Ok(duplicate) => {
                        rec.event = Event::Published;
                        let note = if duplicate {
                            " (already in the inbox)"
                        } else {
                            ""
                        };
                        (
                            codes::ACCEPTED,
                            format!("accepted for delivery to {id}{note}"),
                            None,
                        )
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "publish into the inbox failed");
                        self.forget_delivery(&sender, &accepted.info.message_id)
                            .await;
                        (
                            codes::UNAVAILABLE,
                            format!("the inbox of {id} is unavailable"),
                            None,
                        )
                    }
                },
            },
            hop @ Hop::Gateway { id } => match core.channel(hop, Duration::from_secs(60)) {
                Err(r) => (r.code, r.message, None),
                Ok(ch) => {
                    let mut req = Request::new(AsyncSendMessageRequest {
                        envelope: Some(env),
                    });
                    req.set_timeout(Duration::from_millis(accepted.service.deadline_ms));
                    egov_telemetry::inject_grpc(req.metadata_mut());
                    if let Ok(v) = trail.route.join(",").parse() {
                        req.metadata_mut().insert(ROUTE_METADATA, v);
                    }
                    rec.request_out_at = Some(OffsetDateTime::now_utc());
                    match AsyncChannelClient::new(ch).send_message(req).await {
                        Err(s) => (
                            codes::UNAVAILABLE,
                            format!("gateway {id} is unavailable: {}", s.message()),
                            None,
                        ),
                        Ok(resp) => match resp.into_inner().envelope {
                            None => (
                                codes::BAD_RESPONSE,
                                format!("gateway {id} answered without an envelope"),
                                None,
                            ),
                            Some(answer) => match core.open_answer(&accepted, &answer, id).await {
                                Ok(o) => {
                                    let st = o.header.status.clone().unwrap_or_default();
                                    ("", st.message, Some((answer, st.code)))
                                }
                                Err((code, why)) => (code, why, None),
                            },
                        },
                    }
                }
            },
        };
        let (out, status_code) = match relayed {
            Some((env, c)) => (env, c),
            None => (
                core.own_response(Some(&accepted.info), code, &message, &trail.route),
                code.to_string(),
            ),
        };
        // the mark stays only for what was logged and delivered onward
        core.settle(
            &accepted,
            codes::is_success(&status_code).then(|| crate::replay::Outcome {
                code: status_code.clone(),
                message: message.clone(),
            }),
        );
        let now = OffsetDateTime::now_utc();
        if rec.event != Event::Published {
            rec.event = Event::ResponseOut;
        }
        rec.at = now;
        rec.response_out_at = Some(now);
        rec.status_code = status_code.clone();
        rec.status_message = message;
        rec.duration_ms = Some(trail.started.elapsed().as_millis() as i64);
        // every answer is in the log before it goes back: one that cannot be logged is
        // not relayed; the sender retries (SE014 is transient) and a retry of a message
        // delivered onward is answered, and logged, by `answer_retry`
        if let Err(e) = core.journal.append(rec).await {
            return core.unlogged_answer(&accepted, Channel::Async, trail, &e);
        }
        observe(
            core,
            Channel::Async,
            &accepted.info.service_id,
            &status_code,
            trail,
        );
        out
    }

    /// A retry of a message already delivered: the first attempt's outcome again, with
    /// the delivery's current status where this gateway keeps it; logged, not delivered.
    async fn answer_retry(
        &self,
        accepted: &crate::core::Accepted,
        previous: &crate::replay::Outcome,
        env: &Envelope,
        trail: &Trail,
    ) -> Envelope {
        let core = &self.core;
        let sender = accepted
            .info
            .sender
            .as_ref()
            .map(|s| s.sender_id.as_str())
            .unwrap_or_default();
        let status: Option<(String,)> = sqlx::query_as(
            "select status from deliveries where sender_id = $1 and message_id = $2",
        )
        .bind(sender)
        .bind(&accepted.info.message_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "delivery status look-up failed");
            None
        });
        let mut message = format!("{} (a retry: delivered once", previous.message);
        if let Some((s,)) = status {
            message.push_str(&format!("; delivery status {s}"));
        }
        message.push(')');
        let mut rec =
            core.accepted_record(Event::ResponseOut, Channel::Async, accepted, env, trail);
        rec.status_code = previous.code.clone();
        rec.status_message = message.clone();
        rec.response_out_at = Some(OffsetDateTime::now_utc());
        rec.duration_ms = Some(trail.started.elapsed().as_millis() as i64);
        if let Err(e) = core.journal.append(rec).await {
            return core.unlogged_answer(accepted, Channel::Async, trail, &e);
        }
        observe(
            core,
            Channel::Async,
            &accepted.info.service_id,
            &previous.code,
            trail,
        );
        core.own_response(Some(&accepted.info), &previous.code, &message, &trail.route)
    }

    fn caller(&self, peer: Option<String>, claimed: &str) -> Result<(), Status> {
        match peer {
            Some(p) if p == claimed => Ok(()),
            Some(p) => Err(Status::permission_denied(format!(
                "access-denied: the client certificate is {p:?}, not {claimed:?}"
            ))),
            None => Err(Status::unauthenticated("no client certificate")),
        }
    }

    /// Moves the delivery of `message_id` (of `sender`, or of whichever sender when the
    /// recipient names none) to `recipient` out of ON_DELIVERY.
    async fn set_status(
        &self,
        sender: &str,
        message_id: &str,
        recipient: &str,
        status: Delivery,
        detail: &str,
    ) -> Result<Option<String>, Status> {
        let row: Option<(String,)> = sqlx::query_as(
            "update deliveries set status = $3, detail = $4, updated_at = now()
             where message_id = $1 and recipient_id = $2 and ($5 = '' or sender_id = $5)
               and status = 'ON_DELIVERY' returning status",
        )
        .bind(message_id)
        .bind(recipient)
        .bind(status.as_str())
        .bind(detail)
        .bind(sender)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| e.to_status("delivery status update failed"))?;
        Ok(row.map(|r| r.0))
    }
}

#[tonic::async_trait]
impl AsyncChannel for Async {
    async fn send_message(
        &self,
        request: Request<AsyncSendMessageRequest>,
    ) -> Result<Response<AsyncSendMessageResponse>, Status> {
        let route = incoming_route(&request, &self.core.id);
        let peer = egov_grpc::peer_certificate(&request);
        let span = tracing::info_span!("shep.async", egov.sfe = %self.core.lane, gateway = %self.core.id, service = tracing::field::Empty, message_id = tracing::field::Empty, egov.correlation = tracing::field::Empty);
        egov_telemetry::set_parent(&span, egov_telemetry::extract_grpc(request.metadata()));
        let env = request.into_inner().envelope;
        let trail = Trail {
            started: Instant::now(),
            request_in_at: OffsetDateTime::now_utc(),
            route,
            peer,
        };
        let out = self.pipeline(env, &trail).instrument(span).await;
        Ok(Response::new(AsyncSendMessageResponse {
            envelope: Some(out),
        }))
    }

    async fn get_messages(
        &self,
        request: Request<GetMessagesRequest>,
    ) -> Result<Response<GetMessagesResponse>, Status> {
        let peer = egov_grpc::peer_system(&request);
        let r = request.into_inner();
        self.caller(peer, &r.recipient_id)?;
        match self.core.registry.system(&r.recipient_id) {
            Some(s) if s.gateway == self.core.id => {}
            _ => {
                return Err(Status::failed_precondition(format!(
                    "unknown-recipient: {} is not registered on {}",
                    r.recipient_id, self.core.id
                )));
            }
        }
        let max = r.max_messages.clamp(1, 100) as usize;
        let wait = Duration::from_millis(u64::from(r.wait_millis.min(30_000)).max(10));
        let consumer = self
            .names
            .consumer_for(&self.js, &r.recipient_id, self.ack_wait, self.max_deliver)
            .await
            .map_err(|e| status::inbox_unavailable(&e))?;
        let mut batch = consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| e.to_status("the inbox is unavailable"))?;
        let mut out = Vec::new();
        while let Some(m) = batch.next().await {
            let Ok(m) = m else { break };
            let Ok(env) = <Envelope as prost::Message>::decode(m.payload.as_ref()) else {
                let _ = m.ack_with(jetstream::AckKind::Term).await;
                continue;
            };
            let route = m
                .headers
                .as_ref()
                .and_then(|h| h.get(ROUTE_HEADER))
                .map(|v| v.as_str().split(',').map(String::from).collect())
                .unwrap_or_default();
            out.push(InboxMessage {
                envelope: Some(env),
                delivery_id: m.reply.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                delivery_attempt: m.info().map(|i| i.delivered as u32).unwrap_or(1),
                route,
            });
        }
        Ok(Response::new(GetMessagesResponse { messages: out }))
    }

    async fn get_message_status(
        &self,
        request: Request<GetMessageStatusRequest>,
    ) -> Result<Response<GetMessageStatusResponse>, Status> {
        let peer = egov_grpc::peer_system(&request);
        let r = request.into_inner();
        self.caller(peer, &r.sender_id)?;
        let row: Option<(String, OffsetDateTime, String)> = sqlx::query_as(
            "select status, updated_at, detail from deliveries where message_id = $1 and sender_id = $2",
        )
        .bind(&r.message_id)
        .bind(&r.sender_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| e.to_status("status look-up failed"))?;
        let (status, at, detail) = row.ok_or_else(|| {
            Status::not_found(format!(
                "unknown-message: no async message {} from {}",
                r.message_id, r.sender_id
            ))
        })?;
        Ok(Response::new(GetMessageStatusResponse {
            message_id: r.message_id,
            status: delivery_status(&status) as i32,
            updated_at: Some(timestamp(at)),
            detail,
        }))
    }

    async fn send_delivery_notification(
        &self,
        request: Request<SendDeliveryNotificationRequest>,
    ) -> Result<Response<SendDeliveryNotificationResponse>, Status> {
        let peer = egov_grpc::peer_system(&request);
        let r = request.into_inner();
        self.caller(peer, &r.recipient_id)?;
        if !r.delivery_id.is_empty() {
            // a polling recipient: acknowledge (or terminate) the JetStream delivery, and
            // only one of its own inbox
            match delivery_owner(&r.delivery_id) {
                None => {
                    return Err(Status::invalid_argument(
                        "invalid-delivery-id: not a delivery id from GetMessages",
                    ));
                }
                Some((stream, consumer))
                    if stream != self.names.stream()
                        || consumer != self.names.consumer(&r.recipient_id) =>
                {
                    return Err(Status::permission_denied(format!(
                        "access-denied: delivery {} is not one of {}'s inbox",
                        r.delivery_id, r.recipient_id
                    )));
                }
                Some(_) => {}
            }
            let body = if r.delivered { "+ACK" } else { "+TERM" };
            self.js
                .publish(r.delivery_id.clone(), body.into())
                .await
                .map_err(|e| e.to_status("ack failed"))?;
        }
        let target = if r.delivered {
            Delivery::Delivered
        } else {
            Delivery::NotDelivered
        };
        let updated = self
            .set_status(
                &r.sender_id,
                &r.message_id,
                &r.recipient_id,
                target,
                &r.detail,
            )
            .await?;
        // the row just moved says where it stands; otherwise look it up
        let current: Option<String> = match &updated {
            Some(status) => Some(status.clone()),
            None => sqlx::query_scalar(
                "select status from deliveries where message_id = $1 and recipient_id = $2
                   and ($3 = '' or sender_id = $3) order by updated_at desc limit 1",
            )
            .bind(&r.message_id)
            .bind(&r.recipient_id)
            .bind(&r.sender_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| e.to_status("delivery status look-up failed"))?,
        };
        let Some(status) = current else {
            return Err(Status::not_found(format!(
                "unknown-message: no async message {} for {}",
                r.message_id, r.recipient_id
            )));
        };
        if updated.is_some() {
            let trail = Trail {
                started: Instant::now(),
                request_in_at: OffsetDateTime::now_utc(),
                route: vec![self.core.id.clone()],
                peer: None,
            };
            let mut rec = self.core.record(
                if r.delivered {
                    Event::Delivered
                } else {
                    Event::NotDelivered
                },
                Channel::Async,
                None,
                None,
                &trail,
            );
            rec.message_id = r.message_id.clone();
            rec.sender_id = r.sender_id.clone();
            rec.recipient_id = Some(r.recipient_id.clone());
            rec.status_code = status.clone();
            rec.status_message = r.detail.clone();
            if let Err(e) = self.core.journal.append(rec).await {
                tracing::error!(error = %e, "message log write failed");
            }
        }
        Ok(Response::new(SendDeliveryNotificationResponse {
            status: delivery_status(&status) as i32,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{Delivery, DeliveryStatus, delivery_owner, delivery_status};

    #[test]
    fn delivery_states_keep_their_stored_names() {
        for (d, name, status) in [
            (
                Delivery::OnDelivery,
                "ON_DELIVERY",
                DeliveryStatus::OnDelivery,
            ),
            (Delivery::Delivered, "DELIVERED", DeliveryStatus::Delivered),
            (
                Delivery::NotDelivered,
                "NOT_DELIVERED",
                DeliveryStatus::NotDelivered,
            ),
            (
                Delivery::DeliveryStopped,
                "DELIVERY_STOPPED",
                DeliveryStatus::DeliveryStopped,
            ),
        ] {
            assert_eq!(d.as_str(), name);
            assert_eq!(Delivery::from_name(name), Some(d));
            assert_eq!(delivery_status(name), status);
        }
        assert_eq!(delivery_status("delivered"), DeliveryStatus::Unspecified);
        assert_eq!(delivery_status(""), DeliveryStatus::Unspecified);
    }

    #[test]
    fn delivery_ids_name_their_stream_and_consumer() {
        assert_eq!(
            delivery_owner("$JS.ACK.EGOV_INBOX.inbox_mio-almaty.1.2.3.1700000000.0"),
            Some(("EGOV_INBOX", "inbox_mio-almaty"))
        );
        assert_eq!(
            delivery_owner("$JS.ACK.dom.acc.EGOV_INBOX.inbox_portal.1.2.3.1700000000.0.tok"),
            Some(("EGOV_INBOX", "inbox_portal"))
        );
        for bad in [
            "",
            "$JS.ACK",
            "$JS.ACK.a.b",
            "$JS.NAK.a.b.1.2.3.4.5",
            "x.ACK.a.b.1.2.3.4.5",
            "$JS.ACK..b.1.2.3.4.5",
        ] {
            assert_eq!(delivery_owner(bad), None, "{bad}");
        }
    }
}
