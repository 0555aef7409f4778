//! A service in a runtime of its own, so that a test can crash it: [`Process::crash`]
//! shuts the runtime down at once, dropping every task the service spawned (its servers'
//! connections, its database pool's, its NATS client's) mid-flight, as a killed process
//! loses them: open transactions roll back when their connections close, unacknowledged
//! messages are delivered again, and nothing the service held in memory survives. The
//! service is built inside that runtime too, so nothing of it lives anywhere else.

use std::future::Future;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// A crashable service.
pub struct Process {
    name: String,
    runtime: Option<Runtime>,
}

impl Process {
    /// Builds and runs a service on a runtime of its own (two worker threads): `build`
    /// makes it and returns what the test needs to know of it (its addresses) with the
    /// future that runs it. Returns once it is built.
    pub async fn start<B, K, R, T>(name: &str, build: B) -> (Process, T)
    where
        B: FnOnce() -> K + Send + 'static,
        K: Future<Output = (T, R)> + Send + 'static,
        R: Future<Output = ()> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("proc-{name}"))
            .enable_all()
            .build()
            .expect("a runtime");
        let (tx, rx) = oneshot::channel();
        runtime.spawn(async move {
            let (known, run) = build().await;
            let _ = tx.send(known);
            run.await;
        });
        let known = rx
            .await
            .unwrap_or_else(|_| panic!("{name} failed to build"));
        (
            Process {
                name: name.to_string(),
                runtime: Some(runtime),
            },
            known,
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Kills it: every task of its runtime is dropped where it stands.
    pub fn crash(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.runtime.is_some()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
