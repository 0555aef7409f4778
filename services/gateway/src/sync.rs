//! The sync channel: verify, log, forward to the next hop within the service's
//! deadline, verify the answer's signature, log and relay it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egov_proto::shep::v1::sync_channel_client::SyncChannelClient;
use egov_proto::shep::v1::sync_channel_server::SyncChannel;
use egov_proto::shep::v1::{Envelope, SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::envelope::codes;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::core::{Core, Refusal, Trail};
use crate::journal::{Channel, Event};
use crate::metrics_names as m;

/// Metadata key carrying the gateways a request crossed.
pub use egov_shep_client::route::ROUTE_METADATA;

/// The SyncChannel service of one gateway.
pub struct Sync {
    pub(crate) core: Arc<Core>,
}

pub(crate) fn incoming_route<T>(req: &Request<T>, me: &str) -> Vec<String> {
    let mut route = egov_shep_client::route::of_metadata(req.metadata());
    route.push(me.to_string());
    route
}

#[tonic::async_trait]
impl SyncChannel for Sync {
    async fn send_message(
        &self,
        request: Request<SyncSendMessageRequest>,
    ) -> Result<Response<SyncSendMessageResponse>, Status> {
        let core = self.core.clone();
        let route = incoming_route(&request, &core.id);
        let peer = egov_grpc::peer_certificate(&request);
        let span = tracing::info_span!("shep.sync", egov.sfe = %core.lane, gateway = %core.id, service = tracing::field::Empty, message_id = tracing::field::Empty, egov.correlation = tracing::field::Empty);
        egov_telemetry::set_parent(&span, egov_telemetry::extract_grpc(request.metadata()));
        let env = request.into_inner().envelope;
        let out = handle(core, env, route, peer).instrument(span).await;
        Ok(Response::new(SyncSendMessageResponse {
            envelope: Some(out),
        }))
    }
}

async fn handle(
    core: Arc<Core>,
    env: Option<Envelope>,
    route: Vec<String>,
    peer: Option<egov_pki::CertInfo>,
) -> Envelope {
    let trail = Trail {
        started: Instant::now(),
        request_in_at: OffsetDateTime::now_utc(),
        route,
        peer,
    };
    metrics::gauge!(m::IN_FLIGHT, "gateway" => core.id.clone()).increment(1.0);
    let out = pipeline(&core, env, &trail).await;
    metrics::gauge!(m::IN_FLIGHT, "gateway" => core.id.clone()).decrement(1.0);
    out
}

async fn pipeline(core: &Core, env: Option<Envelope>, trail: &Trail) -> Envelope {
    let accepted = match core.check(env.as_ref(), trail).await {
        Ok(a) => a,
        Err((info, refusal)) => {
            return refuse(
                core,
                Channel::Sync,
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
    if accepted.previous.is_some() {
        // a sync answer is given once; the sender holds it
        let refusal = Refusal::new(
            codes::DUPLICATE,
            format!(
                "messageId {} was already answered",
                accepted.info.message_id
            ),
        );
        return refuse(
            core,
            Channel::Sync,
            Some(&accepted.info),
            Some(&env),
            trail,
            refusal,
        )
        .await;
    }

    // the request is in the log before it is forwarded
    let mut rec = match core
        .log_accepted(Channel::Sync, &accepted, &env, trail)
        .await
    {
        Ok(r) => r,
        Err(refusal) => {
            core.settle(&accepted, None);
            return refusal;
        }
    };

    let deadline = Duration::from_millis(accepted.service.deadline_ms);
    let channel = match core.channel(&accepted.hop, Duration::from_secs(120)) {
        Ok(c) => c,
        Err(r) => return finish(core, &accepted, rec, trail, r.code, &r.message, None).await,
    };
    let mut req = Request::new(SyncSendMessageRequest {
        envelope: Some(env),
    });
    req.set_timeout(deadline);
    egov_telemetry::inject_grpc(req.metadata_mut());
    if let Ok(v) = trail.route.join(",").parse() {
        req.metadata_mut().insert(ROUTE_METADATA, v);
    }
    let request_out_at = OffsetDateTime::now_utc();
    rec.request_out_at = Some(request_out_at);
    let result = tokio::time::timeout(
        deadline,
        SyncChannelClient::new(channel)
            .max_decoding_message_size(core.registry.max_message_bytes())
            .send_message(req),
    )
    .await;
    let response_in_at = OffsetDateTime::now_utc();
    rec.response_in_at = Some(response_in_at);
    let answer = match result {
        Err(_) => {
            let msg = format!(
                "{} did not answer within {} ms",
                accepted.recipient,
                deadline.as_millis()
            );
            return finish(core, &accepted, rec, trail, codes::TIMEOUT, &msg, None).await;
        }
        Ok(Err(status)) => {
            let (code, msg) = match status.code() {
                tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => (
                    codes::TIMEOUT,
                    format!(
                        "{} did not answer within {} ms",
                        accepted.recipient,
                        deadline.as_millis()
                    ),
                ),
                _ => (
                    codes::UNAVAILABLE,
                    format!(
                        "{} is unavailable: {}",
                        accepted.recipient,
                        status.message()
                    ),
                ),
            };
            return finish(core, &accepted, rec, trail, code, &msg, None).await;
        }
        Ok(Ok(resp)) => resp.into_inner().envelope,
    };
    let Some(answer) = answer else {
        return finish(
            core,
            &accepted,
            rec,
            trail,
            codes::BAD_RESPONSE,
            "the recipient answered without an envelope",
            None,
        )
        .await;
    };
    match core
        .open_answer(&accepted, &answer, &accepted.recipient)
        .await
    {
        Ok(opened) => {
            let status = opened.header.status.clone().unwrap_or_default();
            // the response row describes the answer, not the request
            rec.payload_size = answer.payload.len() as i64;
            rec.signature_size = answer.signature.len() as i64;
            rec.payload_sha256 = crate::core::payload_digest(&answer.payload);
            finish(
                core,
                &accepted,
                rec,
                trail,
                "",
                &status.message,
                Some((answer, status.code)),
            )
            .await
        }
        Err((code, why)) => finish(core, &accepted, rec, trail, code, &why, None).await,
    }
}

/// Logs the outcome and returns what goes back: the recipient's answer, or the
/// gateway's own signed status. The message's mark is kept when the recipient answered,
/// dropped when the gateway could not get an answer (so that a retry goes through). An
/// outcome the log cannot take is not relayed: the caller gets `SE014` and its retry goes
/// through.
async fn finish(
    core: &Core,
    accepted: &crate::core::Accepted,
    mut rec: crate::journal::Record,
    trail: &Trail,
    code: &'static str,
    message: &str,
    relayed: Option<(Envelope, String)>,
) -> Envelope {
    let answered = relayed.is_some();
    let (out, status_code) = match relayed {
        Some((env, c)) => (env, c),
        None => (
            core.own_response(Some(&accepted.info), code, message, &trail.route),
            code.to_string(),
        ),
    };
    let now = OffsetDateTime::now_utc();
    rec.event = Event::ResponseOut;
    rec.at = now;
    rec.response_out_at = Some(now);
    rec.status_code = status_code.clone();
    rec.status_message = message.to_string();
    rec.duration_ms = Some(trail.started.elapsed().as_millis() as i64);
    rec.trace_id = egov_telemetry::current_trace_id();
    // every answer is in the log before it goes back: one that cannot be logged is not
    // relayed, and the message's mark is dropped so that the caller's retry goes through
    if let Err(e) = core.journal.append(rec).await {
        core.settle(accepted, None);
        return core.unlogged_answer(accepted, Channel::Sync, trail, &e);
    }
    core.settle(
        accepted,
        answered.then(|| crate::replay::Outcome {
            code: status_code.clone(),
            message: message.to_string(),
        }),
    );
    observe(
        core,
        Channel::Sync,
        &accepted.info.service_id,
        &status_code,
        trail,
    );
    out
}

pub(crate) fn observe(core: &Core, channel: Channel, service: &str, code: &str, trail: &Trail) {
    let labels = [
        ("gateway", core.id.clone()),
        ("channel", channel.as_str().to_string()),
        ("service", service.to_string()),
        ("code", code.to_string()),
    ];
    metrics::counter!(m::MESSAGES, &labels).increment(1);
    metrics::histogram!(m::DURATION, &labels[..3]).record(trail.started.elapsed().as_secs_f64());
    tracing::info!(
        code,
        service,
        elapsed_ms = trail.started.elapsed().as_millis() as u64,
        "message done"
    );
}

pub(crate) async fn refuse(
    core: &Core,
    channel: Channel,
    info: Option<&egov_proto::shep::v1::RequestInfo>,
    env: Option<&Envelope>,
    trail: &Trail,
    refusal: Refusal,
) -> Envelope {
    let mut rec = core.record(Event::Rejected, channel, info, env, trail);
    rec.verification = refusal
        .verification
        .map(|v| v.to_string())
        .unwrap_or_default();
    rec.status_code = refusal.code.to_string();
    rec.status_message = refusal.message.clone();
    rec.duration_ms = Some(trail.started.elapsed().as_millis() as i64);
    if let Err(e) = core.journal.append(rec).await {
        tracing::error!(error = %e, "message log write failed for a refusal");
    }
    tracing::warn!(code = refusal.code, message = %refusal.message, "request refused");
    observe(
        core,
        channel,
        info.map(|i| i.service_id.as_str()).unwrap_or(""),
        refusal.code,
        trail,
    );
    core.own_response(info, refusal.code, &refusal.message, &trail.route)
}
