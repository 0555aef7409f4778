//! Who may do what on the broker: a NATS user per gateway and per information system,
//! with subject permissions generated from the inbox names ([`server_config`]).
//!
//! - A **gateway** publishes into the inboxes (`<base>.>`), manages the inbox stream and
//!   its consumers through the JetStream API, and acknowledges on behalf of systems that
//!   poll it over gRPC.
//! - A **system** reads only its own durable consumer: it may look up the stream, look up
//!   and create its own consumer (filtered on its own subject only), pull from it and
//!   acknowledge its messages; it cannot publish into any inbox, nor touch another
//!   system's consumer.
//! - Every user receives replies only on an inbox prefix of its own (`_INBOX_<id>`), so
//!   nobody reads another's answers from the JetStream API.
//!
//! The passwords are made by the PKI (`egov_pki::dir::nats_password`), one file per
//! system written 0600; the server's configuration (with the passwords) is written 0600
//! too by whoever starts the server.

use crate::inbox::InboxNames;

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A gateway (ШЭП, РШЭП): publishes into the inboxes.
    Gateway,
    /// An information system: reads its own inbox.
    System,
}

/// One NATS user.
#[derive(Debug, Clone)]
pub struct User {
    /// The gateway's or system's id (the user name).
    pub id: String,
    /// Its password (letters and digits).
    pub password: String,
    /// What it is.
    pub role: Role,
}

/// The prefix of `id`'s reply subjects.
pub fn inbox_prefix(id: &str) -> String {
    format!("_INBOX_{id}")
}

/// The subjects `user` may publish to and subscribe to.
pub fn permissions(names: &InboxNames, user: &User) -> (Vec<String>, Vec<String>) {
    let stream = names.stream();
    let subscribe = vec![format!("{}.>", inbox_prefix(&user.id))];
    let publish = match user.role {
        Role::Gateway => vec![
            names.all_subjects(),
            "$JS.API.>".to_string(),
            format!("$JS.ACK.{stream}.>"),
        ],
        Role::System => {
            let consumer = names.consumer(&user.id);
            vec![
                "$JS.API.INFO".to_string(),
                format!("$JS.API.STREAM.INFO.{stream}"),
                format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
                format!(
                    "$JS.API.CONSUMER.CREATE.{stream}.{consumer}.{}",
                    names.subject(&user.id)
                ),
                format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
                format!("$JS.ACK.{stream}.{consumer}.>"),
            ]
        }
    };
    (publish, subscribe)
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `authorization` and `jetstream` blocks of a nats-server configuration: every user
/// with its permissions, and JetStream's file store capped at `max_file_store` bytes.
/// Address, port and store folder are given on the server's command line.
pub fn server_config(names: &InboxNames, users: &[User], max_file_store: u64) -> String {
    let mut out = String::from(
        "# generated from the topology: a user per gateway and system (see egov_shep_client::nats_auth)\n\
         authorization {\n  users = [\n",
    );
    for u in users {
        let (publish, subscribe) = permissions(names, u);
        out.push_str(&format!(
            "    {{ user: \"{}\", password: \"{}\", permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }} }}\n",
            u.id,
            u.password,
            quoted(&publish),
            quoted(&subscribe)
        ));
    }
    out.push_str(&format!(
        "  ]\n}}\njetstream {{\n  max_file_store: {max_file_store}\n}}\n"
    ));
    out
}

/// The servers of `url`: one URL, or several separated by commas (the nodes of a
/// cluster: `nats://10.0.0.1:4222,nats://10.0.0.2:4222`), blanks around each dropped
/// and empty entries skipped.
pub fn servers(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Connects to `url` (one server or several, see [`servers`]: the client starts on any
/// that answers and moves to another node when its own goes away), as `credentials`
/// (user id, password) with its own reply prefix when given, else anonymously (a broker
/// without authorization).
pub async fn connect(
    url: &str,
    credentials: Option<(&str, &str)>,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut list = servers(url);
    if list.is_empty() {
        // an empty or blank URL: the client's own parse error names it
        list.push(url);
    }
    let options = match credentials {
        Some((id, password)) => {
            async_nats::ConnectOptions::with_user_and_password(id.into(), password.into())
                .custom_inbox_prefix(inbox_prefix(id))
        }
        None => async_nats::ConnectOptions::new(),
    };
    options.connect(list.as_slice()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_one_server_or_several() {
        assert_eq!(servers("nats://127.0.0.1:4222"), ["nats://127.0.0.1:4222"]);
        assert_eq!(
            servers(" nats://10.0.0.1:4222, nats://10.0.0.2:4222,,tls://n3:4222 "),
            [
                "nats://10.0.0.1:4222",
                "nats://10.0.0.2:4222",
                "tls://n3:4222"
            ]
        );
        assert!(servers(" , ").is_empty());
    }

    #[tokio::test]
    async fn a_list_with_a_bad_entry_or_none_is_refused() {
        // a scheme that is not NATS's among the servers, or no server at all
        for bad in ["nats://127.0.0.1:1,http://127.0.0.1:2", "", " , "] {
            assert!(connect(bad, None).await.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_system_may_touch_only_its_own_consumer() {
        let names = InboxNames::new("");
        let (publish, subscribe) = permissions(
            &names,
            &User {
                id: "mio-almaty".into(),
                password: "p".into(),
                role: Role::System,
            },
        );
        assert!(publish.iter().all(|s| s.starts_with("$JS.")), "{publish:?}");
        assert!(
            publish
                .iter()
                .filter(|s| s.contains("CONSUMER"))
                .all(|s| s.contains(".inbox_mio-almaty")),
            "{publish:?}"
        );
        assert!(publish.contains(
            &"$JS.API.CONSUMER.CREATE.EGOV_INBOX.inbox_mio-almaty.egov.inbox.mio-almaty".into()
        ));
        assert_eq!(subscribe, ["_INBOX_mio-almaty.>"]);
        let conf = server_config(
            &names,
            &[User {
                id: "shep".into(),
                password: "secret1".into(),
                role: Role::Gateway,
            }],
            1 << 30,
        );
        assert!(conf.contains("\"egov.inbox.>\""), "{conf}");
        assert!(conf.contains("max_file_store: 1073741824"), "{conf}");
    }
}
