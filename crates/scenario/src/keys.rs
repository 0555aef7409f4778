//! The applicants' certificates, issued by the stack's test certification authority as
//! a citizen would get them from УЦ: one per applicant and kind, made on first use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use egov_pki::{CertInfo, CertProfile, Issuer as _, PkiDir, PrivateKey, SubjectSpec};
use time::{Duration, OffsetDateTime};

use crate::spec::Key;

/// A key and its certificate.
#[derive(Clone)]
pub struct Signer {
    /// The private key.
    pub key: Arc<PrivateKey>,
    /// Its certificate.
    pub cert: CertInfo,
}

impl Signer {
    /// A detached CMS over `bytes`, as a citizen's client (NCALayer) makes it.
    pub fn sign(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        egov_pki::cms::sign(
            bytes,
            &self.key,
            &self.cert,
            &[],
            true,
            OffsetDateTime::now_utc(),
        )
        .map_err(|e| format!("signing: {e}"))
    }
}

/// Issues and keeps the certificates of a run.
pub struct Keys {
    pki_dir: PathBuf,
    ca_dir: PathBuf,
    made: Mutex<HashMap<(String, Key), Signer>>,
    stranger: Mutex<Option<(tempfile_dir::Dir, PkiDir)>>,
}

mod tempfile_dir {
    /// A folder removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Keys {
    /// The certification authority of `pki_dir` with its keys in `ca_dir`.
    pub fn new(pki_dir: PathBuf, ca_dir: PathBuf) -> Keys {
        Keys {
            pki_dir,
            ca_dir,
            made: Mutex::new(HashMap::new()),
            stranger: Mutex::new(None),
        }
    }

    /// The certificate of `kind` for the person `iin` named `name` (`someone_else`: the
    /// IIN the certificate names instead, for [`Key::SomeoneElse`]).
    pub fn signer(
        &self,
        iin: &str,
        name: &str,
        kind: Key,
        someone_else: &str,
    ) -> Result<Signer, String> {
        let cache_key = (iin.to_string(), kind);
        if let Some(s) = self.made.lock().expect("keys").get(&cache_key) {
            return Ok(s.clone());
        }
        let now = OffsetDateTime::now_utc();
        let subject_iin = if kind == Key::SomeoneElse {
            someone_else
        } else {
            iin
        };
        let parsed = egov_iin::Iin::parse(subject_iin)
            .map_err(|e| format!("the certificate's IIN {subject_iin}: {e}"))?;
        let spec = SubjectSpec::person(parsed, name);
        let (profile, from, until) = match kind {
            // within the authority's own validity, which a fresh test PKI starts a
            // day before its making
            Key::Expired => (
                CertProfile::Signing,
                now - Duration::hours(23),
                now - Duration::hours(1),
            ),
            Key::NotYetValid => (
                CertProfile::Signing,
                now + Duration::days(1),
                now + Duration::days(60),
            ),
            Key::Authentication => (
                CertProfile::Authentication,
                now - Duration::days(1),
                now + Duration::days(365),
            ),
            _ => (
                CertProfile::Signing,
                now - Duration::days(1),
                now + Duration::days(365),
            ),
        };
        let issued = if kind == Key::Untrusted {
            let mut guard = self.stranger.lock().expect("stranger");
            if guard.is_none() {
                let dir = std::env::temp_dir().join(format!(
                    "egov-scenario-stranger-{}-{}",
                    std::process::id(),
                    now.unix_timestamp_nanos()
                ));
                let pki = PkiDir::init(
                    &dir.join("pki"),
                    &dir.join("ca"),
                    &egov_pki::dir::InitOptions {
                        algorithm: egov_pki::KeyAlgorithm::EcdsaP256,
                        now: now - Duration::days(2),
                        systems: vec![],
                        ..Default::default()
                    },
                )
                .map_err(|e| format!("a stranger's certification authority: {e}"))?;
                *guard = Some((tempfile_dir::Dir(dir), pki));
            }
            let (_, pki) = guard.as_ref().expect("made above");
            pki.issue(&spec, profile, pki.algorithm(), from, until)
        } else {
            let ca = self.authority()?;
            ca.issue(&spec, profile, ca.algorithm(), from, until)
        }
        .map_err(|e| format!("issuing a {kind:?} certificate for {subject_iin}: {e}"))?;
        let key = issued
            .key
            .ok_or("the certification authority returned no key")?;
        if kind == Key::Revoked {
            let mut ca = self.authority()?;
            // keyCompromise, a minute ago: before the signature
            ca.revoke(&issued.cert, 1, now - Duration::minutes(1))
                .map_err(|e| format!("revoking: {e}"))?;
        }
        let s = Signer {
            key: Arc::new(key),
            cert: issued.cert,
        };
        self.made.lock().expect("keys").insert(cache_key, s.clone());
        Ok(s)
    }

    fn authority(&self) -> Result<PkiDir, String> {
        PkiDir::open(&self.pki_dir, &self.ca_dir).map_err(|e| {
            format!(
                "the test certification authority ({}, {}): {e}",
                self.pki_dir.display(),
                self.ca_dir.display()
            )
        })
    }
}
