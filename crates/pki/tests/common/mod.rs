//! Shared fixture: a small test PKI made in memory (root, issuing CA, a citizen).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use egov_iin::Iin;
use egov_pki::authority::{Authority, CertProfile, IssuedCert, SubjectSpec};
use egov_pki::keys::KeyAlgorithm;
use egov_pki::verify::Verifier;
use time::{Duration, OffsetDateTime};

pub struct Fx {
    pub root: Authority,
    pub issuing: Authority,
    pub dir: tempfile::TempDir,
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn iin() -> Iin {
    Iin::parse("870312300046").unwrap()
}

impl Fx {
    pub fn new(alg: KeyAlgorithm) -> Fx {
        let start = now() - Duration::days(30);
        let root = Authority::new_root("Fixture Root", alg, start, 5).unwrap();
        let issuing = root.new_issuing("Fixture Issuing", alg, start, 4).unwrap();
        Fx {
            root,
            issuing,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn person(&self, profile: CertProfile, alg: KeyAlgorithm) -> IssuedCert {
        self.person_valid(
            profile,
            alg,
            now() - Duration::hours(1),
            now() + Duration::days(30),
        )
    }

    pub fn person_valid(
        &self,
        profile: CertProfile,
        alg: KeyAlgorithm,
        nb: OffsetDateTime,
        na: OffsetDateTime,
    ) -> IssuedCert {
        let spec = SubjectSpec::person(iin(), "АХМЕТОВ ЕРЛАН САБИТОВИЧ");
        self.issuing.issue(&spec, profile, alg, nb, na).unwrap()
    }

    pub fn verifier(&self) -> Verifier {
        Verifier::new(vec![self.root.cert.clone()]).with_cas(vec![self.issuing.cert.clone()])
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Writes the CA bundle (issuing + root) and returns its path.
    pub fn ca_bundle(&self) -> PathBuf {
        self.write(
            "cas.pem",
            format!("{}{}", self.issuing.cert.to_pem(), self.root.cert.to_pem()),
        )
    }
}

pub fn openssl(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the openssl binary is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
