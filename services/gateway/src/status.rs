//! Failures as answers to gRPC calls: each error type the gateway's gRPC services meet
//! has one mapping to a [`Status`] ([`ToStatus`]), so that a failure is answered alike
//! wherever it happens.
//!
//! What fails on the gateway's own side (its database, the message log) is kept from
//! the caller: the cause is logged, and the answer is a bare `Internal`. An inbox out of
//! reach is `Unavailable`.

use std::fmt;

use tonic::Status;

use crate::journal;

/// An error as the answer to the gRPC call that met it.
pub(crate) trait ToStatus {
    /// The answer. `what` says what failed: the log's message for a failure kept from
    /// the caller (e.g. "log search failed"), the start of the answer's message for one
    /// the caller is told about (e.g. "ack failed").
    fn to_status(&self, what: &str) -> Status;
}

/// The message log failed: logged, a bare `Internal`.
impl ToStatus for journal::Error {
    fn to_status(&self, what: &str) -> Status {
        internal(what, self)
    }
}

/// The database failed: logged, a bare `Internal`.
impl ToStatus for sqlx::Error {
    fn to_status(&self, what: &str) -> Status {
        internal(what, self)
    }
}

/// NATS failed: `Unavailable`, `what` and the cause.
impl<K> ToStatus for async_nats::error::Error<K>
where
    K: Clone + fmt::Debug + fmt::Display + PartialEq,
{
    fn to_status(&self, what: &str) -> Status {
        Status::unavailable(format!("{what}: {self}"))
    }
}

/// A failure kept from the caller: the cause goes to the log, under `what`.
fn internal(what: &str, cause: &dyn fmt::Display) -> Status {
    tracing::error!(error = %cause, "{what}");
    Status::internal("internal error")
}

/// A recipient's inbox consumer cannot be had (`InboxNames::consumer_for` gives the
/// cause as text): logged, `Unavailable` without the cause.
pub(crate) fn inbox_unavailable(cause: &str) -> Status {
    tracing::error!(error = %cause, "inbox consumer unavailable");
    Status::unavailable("the inbox is unavailable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_failures_say_nothing_of_their_cause() {
        for s in [
            journal::Error::Closed.to_status("log search failed"),
            sqlx::Error::PoolTimedOut.to_status("status look-up failed"),
        ] {
            assert_eq!(s.code(), tonic::Code::Internal);
            assert_eq!(s.message(), "internal error");
        }
        let s = inbox_unavailable("stream EGOV_INBOX: no responders");
        assert_eq!(s.code(), tonic::Code::Unavailable);
        assert_eq!(s.message(), "the inbox is unavailable");
    }
}
