//! End-to-end tests of the `egovctl` binary: each test runs it in its own temporary
//! directory with its own test PKI (nothing is shared, so each test can run alone).

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const IIN: &str = "870312300046";
const OTHER_IIN: &str = "950101400002";
const NAME: &str = "АХМЕТОВ ЕРЛАН САБИТОВИЧ";
const DATA: &[u8] = "Заявление о постановке на учёт № 42\n".as_bytes();

/// A temporary working directory in which `egovctl` runs.
struct Env {
    dir: tempfile::TempDir,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, content).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("egovctl")
            .unwrap()
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// Runs and expects exit 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            out.status.code(),
            Some(0),
            "egovctl {args:?} failed\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs and expects exit 1 with one `egovctl: ` line on stderr; returns that line.
    fn rejected(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(1),
            "egovctl {args:?} should be rejected with exit 1\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.starts_with("egovctl: ") && stderr.trim_end().lines().count() == 1,
            "stderr must be one line starting with `egovctl: `: {stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr.trim_end().to_string()
    }

    /// `pki init --algo ecdsa-p256` in `dir`, with extra arguments.
    fn init(&self, dir: &str, extra: &[&str]) -> String {
        let mut args = vec!["pki", "init", "--dir", dir, "--algo", "ecdsa-p256"];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// `pki issue` of the test citizen from `dir` to `prefix`, with extra arguments.
    fn issue(&self, dir: &str, prefix: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "pki", "issue", "--dir", dir, "--iin", IIN, "--name", NAME, "--out", prefix,
        ];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// Signs `data.bin` (written here) with `prefix`'s key into `sig`.
    fn sign(&self, prefix: &str, sig: &str, extra: &[&str]) {
        self.write("data.bin", DATA);
        let key = format!("{prefix}.key.pem");
        let cert = format!("{prefix}.cert.pem");
        let mut args = vec![
            "sign", "--key", &key, "--cert", &cert, "--in", "data.bin", "--out", sig,
        ];
        args.extend_from_slice(extra);
        self.ok(&args);
        assert!(self.path(sig).is_file());
    }

    /// The usual verify arguments against PKI `dir`.
    fn verify_args<'a>(dir: &'a str, sig: &'a str, v: &'a mut Vec<String>) -> Vec<&'a str> {
        v.clear();
        v.extend([
            format!("{dir}/root.cert.pem"),
            format!("{dir}/issuing.cert.pem"),
            format!("{dir}/crl.pem"),
        ]);
        vec![
            "verify", "--in", "data.bin", "--sig", sig, "--ca", &v[0], "--ca", &v[1], "--crl",
            &v[2],
        ]
    }

    /// Verifies `sig` over `data.bin` against PKI `dir` with `extra` arguments; expects a
    /// rejection and returns the stderr line.
    fn verify_rejected(&self, dir: &str, sig: &str, extra: &[&str]) -> String {
        let mut v = Vec::new();
        let mut args = Self::verify_args(dir, sig, &mut v);
        args.extend_from_slice(extra);
        self.rejected(&args)
    }

    fn verify_ok(&self, dir: &str, sig: &str, extra: &[&str]) -> String {
        let mut v = Vec::new();
        let mut args = Self::verify_args(dir, sig, &mut v);
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}

/// Asserts a verification failure line names `reason`.
fn assert_reason(line: &str, reason: &str) {
    let prefix = format!("egovctl: verification failed: {reason}: ");
    assert!(
        line.starts_with(&prefix),
        "expected {prefix:?}..., got {line:?}"
    );
}

// ---------------------------------------------------------------- iin

#[test]
fn iin_check_valid_prints_birth_date_and_sex() {
    let env = Env::new();
    let out = env.ok(&["iin", "check", IIN]);
    assert_eq!(out, "IIN 870312300046: born 1987-03-12, male\n");
    // 2000-02-29, female (7th digit 6)
    let out = env.ok(&["iin", "generate", "--born", "2000-02-29", "--sex", "female"]);
    let iin = out.trim();
    let out = env.ok(&["iin", "check", iin]);
    assert_eq!(out, format!("IIN {iin}: born 2000-02-29, female\n"));
}

#[test]
fn iin_check_invalid_names_each_rule() {
    let env = Env::new();
    for (input, rule) in [
        ("87031230004", "length"),
        ("8703123000461", "length"),
        ("87031230004x", "not-digit"),
        ("870312700046", "century-sex"),
        ("871312300046", "birth-date"),
        ("870230300046", "birth-date"),
        ("870312300047", "check-digit"),
    ] {
        let line = env.rejected(&["iin", "check", input]);
        let prefix = format!("egovctl: invalid IIN {input}: {rule}: ");
        assert!(line.starts_with(&prefix), "{input}: {line}");
    }
    assert_eq!(
        env.rejected(&["iin", "check", "870312300047"]),
        "egovctl: invalid IIN 870312300047: check-digit: the check digit is 7, expected 6"
    );
    // An 11-digit prefix whose both weightings give 10 has no check digit at all.
    let unassignable = (0..10000)
        .map(|s| format!("9001014{s:04}"))
        .find(|p| {
            let d: Vec<u32> = p.bytes().map(|b| u32::from(b - b'0')).collect();
            let w1: u32 = d.iter().zip(1..=11).map(|(d, w)| d * w).sum();
            let w2: u32 = d
                .iter()
                .zip([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2])
                .map(|(d, w)| d * w)
                .sum();
            w1 % 11 == 10 && w2 % 11 == 10
        })
        .expect("some serial is unassignable");
    let line = env.rejected(&["iin", "check", &format!("{unassignable}0")]);
    assert!(line.contains(": unassignable: "), "{line}");
}

#[test]
fn iin_generate_is_valid_seeded_and_honours_options() {
    let env = Env::new();
    let a = env.ok(&["iin", "generate", "--count", "50", "--seed", "7"]);
    let b = env.ok(&["iin", "generate", "--count", "50", "--seed", "7"]);
    assert_eq!(a, b, "the same seed gives the same IINs");
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines.len(), 50);
    for l in &lines {
        env.ok(&["iin", "check", l]);
    }
    let c = env.ok(&["iin", "generate", "--count", "50", "--seed", "8"]);
    assert_ne!(a, c);
    let out = env.ok(&[
        "iin",
        "generate",
        "-n",
        "5",
        "--born",
        "1987-03-12",
        "--sex",
        "male",
    ]);
    for l in out.lines() {
        assert_eq!(
            env.ok(&["iin", "check", l]),
            format!("IIN {l}: born 1987-03-12, male\n")
        );
    }
    let line = env.rejected(&["iin", "generate", "--born", "1987-02-30"]);
    assert!(line.contains("--born"), "{line}");
    let line = env.rejected(&["iin", "generate", "--born", "2100-01-01"]);
    assert!(line.contains("1800 to 2099"), "{line}");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        vec!["iin", "check", IIN, "--bogus"],
        vec!["iin", "check"],
        vec!["pki", "init", "--dir", "d", "--algo", "dsa"],
        vec!["frobnicate"],
        vec!["verify", "--sig", "s.der"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(env.run(&["--help"]).status.code(), Some(0));
}

// ---------------------------------------------------------------- pki

#[test]
fn pki_init_writes_the_pki_and_refuses_a_second_time() {
    let env = Env::new();
    let out = env.init("pki", &[]);
    assert!(out.contains("root.cert.pem"), "{out}");
    assert!(out.contains("24 certificates for 12 systems"), "{out}");
    for f in [
        "root.cert.pem",
        "issuing.cert.pem",
        "chain.pem",
        "crl.pem",
        "systems/shep.sign.cert.pem",
        "systems/shep.sign.key.pem",
        "systems/shep.tls.cert.pem",
        "systems/uc.tls.key.pem",
        "systems/mio-nko.sign.cert.pem",
    ] {
        assert!(env.path("pki").join(f).is_file(), "{f} missing");
    }
    // the CA's keys, settings and index lie beside the folder the services read, not in it
    for f in ["pki.json", "root.key.pem", "issuing.key.pem", "index.jsonl"] {
        assert!(env.path("pki-ca").join(f).is_file(), "{f} missing");
        assert!(
            !env.path("pki").join(f).exists(),
            "{f} in the services' folder"
        );
    }
    assert!(out.contains("pki-ca"), "{out}");
    let crl = std::fs::read_to_string(env.path("pki/crl.pem")).unwrap();
    assert!(crl.starts_with("-----BEGIN X509 CRL-----"));
    // the default endpoints are the uc service's
    let shown = env.ok(&["cert", "show", "pki/systems/shep.sign.cert.pem"]);
    assert!(shown.contains("http://127.0.0.1:7010/ocsp"), "{shown}");
    assert!(shown.contains("http://127.0.0.1:7010/crl"), "{shown}");
    assert!(shown.contains("BIN:          000140000102"), "{shown}");

    let root_before = std::fs::read(env.path("pki/root.cert.pem")).unwrap();
    let line = env.rejected(&["pki", "init", "--dir", "pki", "--algo", "ecdsa-p256"]);
    assert!(line.contains("already holds a test PKI"), "{line}");
    assert_eq!(
        std::fs::read(env.path("pki/root.cert.pem")).unwrap(),
        root_before,
        "a second init must not overwrite"
    );
}

#[test]
fn pki_init_custom_endpoints() {
    let env = Env::new();
    env.init(
        "pki",
        &["--ocsp-url", "http://ocsp.test/x", "--crl-url", ""],
    );
    env.issue("pki", "p", &[]);
    let shown = env.ok(&["cert", "show", "p.cert.pem"]);
    assert!(
        shown.contains("OCSP:         http://ocsp.test/x"),
        "{shown}"
    );
    assert!(!shown.contains("CRL:"), "{shown}");
}

#[test]
fn pki_issue_writes_key_cert_and_chain() {
    let env = Env::new();
    env.init("pki", &[]);
    let out = env.issue(
        "pki",
        "out/citizen",
        &["--org-bin", "123456789012", "--days", "30"],
    );
    assert!(out.contains("serial "), "{out}");
    assert!(out.contains("SERIALNUMBER=IIN870312300046"), "{out}");
    let key = std::fs::read_to_string(env.path("out/citizen.key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let cert = std::fs::read_to_string(env.path("out/citizen.cert.pem")).unwrap();
    assert_eq!(cert.matches("BEGIN CERTIFICATE").count(), 1, "leaf only");
    let chain = std::fs::read_to_string(env.path("out/citizen.chain.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    let issuing = std::fs::read_to_string(env.path("pki/issuing.cert.pem")).unwrap();
    assert_eq!(chain, format!("{cert}{issuing}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("out/citizen.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private");
    }
    let shown = env.ok(&["cert", "show", "out/citizen.cert.pem"]);
    for want in [
        "IIN:          870312300046 (born 1987-03-12, male)",
        "name:         АХМЕТОВ ЕРЛАН",
        "BIN:          123456789012",
        "organisation: Организация БИН 123456789012",
        "kind:         signing",
        "(valid now)",
    ] {
        assert!(shown.contains(want), "missing {want:?} in\n{shown}");
    }
    let index = std::fs::read_to_string(env.path("pki-ca/index.jsonl")).unwrap();
    let serial = out.split("serial ").nth(1).unwrap().lines().next().unwrap();
    assert!(index.contains(serial), "the index records the issue");
    // the same prefix again is refused unless --force
    let line = env.rejected(&[
        "pki",
        "issue",
        "--dir",
        "pki",
        "--iin",
        IIN,
        "--name",
        NAME,
        "--out",
        "out/citizen",
    ]);
    assert!(line.contains("--force"), "{line}");
    env.issue("pki", "out/citizen", &["--force"]);
}

#[test]
fn pki_issue_rejects_bad_input() {
    let env = Env::new();
    env.init("pki", &[]);
    let base = ["pki", "issue", "--dir", "pki", "--name", NAME, "--out", "p"];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--iin", "870312300047"],
            "invalid IIN 870312300047: check-digit",
        ),
        (&["--iin", IIN, "--org-bin", "12345"], "BIN has 12 digits"),
        (
            &["--iin", IIN, "--org-bin", "12345678901x"],
            "BIN has 12 digits",
        ),
        (&["--iin", IIN, "--days", "0"], "--days 0"),
        (&["--iin", IIN, "--days", "-5"], "--days -5"),
        (
            &["--iin", IIN, "--not-before", "2025-13-01"],
            "--not-before 2025-13-01",
        ),
        (
            &["--iin", IIN, "--not-before", "yesterday"],
            "--not-before yesterday",
        ),
        (&["--iin", IIN, "--days", "99999999999"], "--days"),
    ];
    for (extra, want) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let line = env.rejected(&args);
        assert!(line.contains(want), "{extra:?}: {line}");
    }
    assert!(!env.path("p.cert.pem").exists());
    let line = env.rejected(&[
        "pki", "issue", "--dir", "nowhere", "--iin", IIN, "--name", NAME, "--out", "p",
    ]);
    assert!(line.contains("pki init"), "{line}");
}

// ---------------------------------------------------------------- sign and verify

#[test]
fn issue_sign_verify_ok() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue(
        "pki",
        "p",
        &["--org", "ТОО Ромашка", "--org-bin", "123456789012"],
    );
    env.sign("p", "data.sig", &[]);
    let out = env.verify_ok("pki", "data.sig", &["--iin", IIN, "--require-revocation"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("OK signer IIN 870312300046 АХМЕТОВ ЕРЛАН")
    );
    assert!(out.contains("organisation: ТОО Ромашка"), "{out}");
    assert!(out.contains("BIN: 123456789012"), "{out}");
    assert!(out.contains("signing time: "), "{out}");
    assert!(out.contains("revocation: not revoked per the CRL"), "{out}");
    // without a CRL, revocation is not checked (and --require-revocation refuses that)
    let out = env.ok(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/chain.pem",
    ]);
    assert!(out.contains("revocation: not checked"), "{out}");
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/chain.pem",
        "--require-revocation",
    ]);
    assert_reason(&line, "revocation-unknown");
}

#[test]
fn verify_other_iin_is_iin_mismatch() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &[]);
    let line = env.verify_rejected("pki", "data.sig", &["--iin", OTHER_IIN]);
    assert_reason(&line, "iin-mismatch");
    // an invalid --iin is a rejected input, not a mismatch
    let line = env.verify_rejected("pki", "data.sig", &["--iin", "870312300047"]);
    assert!(
        line.contains("invalid IIN 870312300047: check-digit"),
        "{line}"
    );
}

#[test]
fn tampered_data_is_bad_signature() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &[]);
    let mut tampered = DATA.to_vec();
    tampered[0] ^= 1;
    env.write("data.bin", &tampered);
    let line = env.verify_rejected("pki", "data.sig", &[]);
    assert_reason(&line, "bad-signature");
}

#[test]
fn revoked_certificate_is_rejected_and_revoke_twice_fails() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &[]);
    env.verify_ok("pki", "data.sig", &[]);
    let crl_before = std::fs::read(env.path("pki/crl.pem")).unwrap();
    let out = env.ok(&[
        "pki",
        "revoke",
        "--dir",
        "pki",
        "--cert",
        "p.cert.pem",
        "--reason",
        "key-compromise",
    ]);
    assert!(out.contains("keyCompromise"), "{out}");
    assert_ne!(
        std::fs::read(env.path("pki/crl.pem")).unwrap(),
        crl_before,
        "the CRL is regenerated"
    );
    let line = env.verify_rejected("pki", "data.sig", &[]);
    assert_reason(&line, "revoked");
    let line = env.rejected(&["pki", "revoke", "--dir", "pki", "--cert", "p.cert.pem"]);
    assert!(line.contains("already revoked"), "{line}");
    // `pki crl` regenerates the list and keeps the revocation
    let out = env.ok(&["pki", "crl", "--dir", "pki"]);
    assert!(out.contains("1 revoked"), "{out}");
    assert_reason(&env.verify_rejected("pki", "data.sig", &[]), "revoked");
    let line = env.rejected(&[
        "pki",
        "revoke",
        "--dir",
        "pki",
        "--cert",
        "p.cert.pem",
        "--reason",
        "bored",
    ]);
    assert!(line.contains("--reason"), "{line}");
}

#[test]
fn revoking_a_certificate_of_another_pki_fails() {
    let env = Env::new();
    env.init("pki", &[]);
    env.init("other", &[]);
    env.issue("other", "p", &[]);
    let line = env.rejected(&["pki", "revoke", "--dir", "pki", "--cert", "p.cert.pem"]);
    assert!(line.contains("not issued by this PKI"), "{line}");
}

#[test]
fn root_of_another_pki_is_untrusted() {
    let env = Env::new();
    env.init("pki", &[]);
    env.init("other", &[]);
    env.issue("pki", "p", &[]);
    // the issuing CA travels inside the signature
    env.sign("p", "data.sig", &["--chain", "pki/issuing.cert.pem"]);
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "other/root.cert.pem",
        "--crl",
        "other/crl.pem",
    ]);
    assert_reason(&line, "untrusted");
    // while the right root alone is enough
    let out = env.ok(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/root.cert.pem",
        "--crl",
        "pki/crl.pem",
    ]);
    assert!(out.starts_with("OK signer IIN 870312300046"), "{out}");
}

#[test]
fn expired_certificate() {
    let env = Env::new();
    let now = OffsetDateTime::now_utc();
    env.init("pki", &["--created-at", &rfc3339(now - Duration::days(30))]);
    env.issue(
        "pki",
        "p",
        &[
            "--days",
            "1",
            "--not-before",
            &rfc3339(now - Duration::days(10)),
        ],
    );
    env.sign("p", "data.sig", &[]);
    let line = env.verify_rejected("pki", "data.sig", &[]);
    assert_reason(&line, "expired");
    // a time inside the validity passes (the CRL, issued now, is current)
    let at = rfc3339(now - Duration::days(10) + Duration::hours(12));
    let out = env.verify_ok("pki", "data.sig", &["--at", &at]);
    assert!(out.contains("given with --at"), "{out}");
}

#[test]
fn not_before_before_the_ca_is_refused_with_a_hint() {
    let env = Env::new();
    env.init("pki", &[]);
    let nb = rfc3339(OffsetDateTime::now_utc() - Duration::days(10));
    let line = env.rejected(&[
        "pki",
        "issue",
        "--dir",
        "pki",
        "--iin",
        IIN,
        "--name",
        NAME,
        "--out",
        "p",
        "--not-before",
        &nb,
    ]);
    assert!(line.contains("--created-at"), "{line}");
}

#[test]
fn certificate_not_yet_valid() {
    let env = Env::new();
    env.init("pki", &[]);
    let nb = rfc3339(OffsetDateTime::now_utc() + Duration::days(2));
    env.issue("pki", "p", &["--not-before", &nb]);
    env.sign("p", "data.sig", &[]);
    let line = env.verify_rejected("pki", "data.sig", &[]);
    assert_reason(&line, "not-yet-valid");
}

#[test]
fn auth_certificate_signature_is_wrong_usage() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &["--profile", "auth"]);
    let shown = env.ok(&["cert", "show", "p.cert.pem"]);
    assert!(shown.contains("kind:         authentication"), "{shown}");
    env.sign("p", "data.sig", &[]);
    let line = env.verify_rejected("pki", "data.sig", &[]);
    assert_reason(&line, "wrong-usage");
}

#[test]
fn garbage_signature_is_malformed() {
    let env = Env::new();
    env.init("pki", &[]);
    env.write("data.bin", DATA);
    env.write("garbage.sig", b"this is not a CMS signature at all");
    let line = env.verify_rejected("pki", "garbage.sig", &[]);
    assert_reason(&line, "malformed");
    env.write("empty.sig", b"");
    assert_reason(&env.verify_rejected("pki", "empty.sig", &[]), "malformed");
}

#[test]
fn wrong_kind_of_file_is_a_clear_rejection() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &[]);
    // a CRL given as --ca
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/crl.pem",
    ]);
    assert!(line.contains("--ca pki/crl.pem"), "{line}");
    assert!(line.contains("CRL"), "{line}");
    // a certificate given as --crl
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/root.cert.pem",
        "--crl",
        "pki/root.cert.pem",
    ]);
    assert!(line.contains("not a CRL"), "{line}");
    // a missing file
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "missing.sig",
        "--ca",
        "pki/root.cert.pem",
    ]);
    assert!(line.contains("missing.sig"), "{line}");
    // a certificate given as the key
    let line = env.rejected(&[
        "sign",
        "--key",
        "p.cert.pem",
        "--cert",
        "p.cert.pem",
        "--in",
        "data.bin",
        "--out",
        "x.sig",
    ]);
    assert!(line.contains("--key"), "{line}");
    // garbage as a certificate
    env.write("junk.pem", b"junk");
    let line = env.rejected(&["cert", "show", "junk.pem"]);
    assert!(line.contains("junk.pem"), "{line}");
}

#[test]
fn key_not_matching_certificate_is_rejected() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "a", &[]);
    env.issue("pki", "b", &[]);
    env.write("data.bin", DATA);
    let line = env.rejected(&[
        "sign",
        "--key",
        "a.key.pem",
        "--cert",
        "b.cert.pem",
        "--in",
        "data.bin",
        "--out",
        "x.sig",
    ]);
    assert!(
        line.contains("does not belong to the certificate"),
        "{line}"
    );
    assert!(!env.path("x.sig").exists());
}

#[test]
fn attached_signature_with_chain_and_out_content() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.write("data.bin", DATA);
    // the chain file: the leaf signs, the issuing CA is embedded
    env.ok(&[
        "sign",
        "--key",
        "p.key.pem",
        "--cert",
        "p.chain.pem",
        "--in",
        "data.bin",
        "--out",
        "att.sig",
        "--attached",
    ]);
    let out = env.ok(&[
        "verify",
        "--sig",
        "att.sig",
        "--ca",
        "pki/root.cert.pem",
        "--crl",
        "pki/crl.pem",
        "--iin",
        IIN,
        "--out-content",
        "content.out",
    ]);
    assert!(out.starts_with("OK signer IIN 870312300046"), "{out}");
    assert_eq!(std::fs::read(env.path("content.out")).unwrap(), DATA);
    // a detached signature without --in is malformed (no content to check)
    env.sign("p", "det.sig", &[]);
    let line = env.rejected(&[
        "verify",
        "--sig",
        "det.sig",
        "--ca",
        "pki/root.cert.pem",
        "--ca",
        "pki/issuing.cert.pem",
    ]);
    assert_reason(&line, "malformed");
}

#[test]
fn system_certificate_verifies_by_bin() {
    let env = Env::new();
    env.init("pki", &[]);
    env.write("data.bin", DATA);
    env.ok(&[
        "sign",
        "--key",
        "pki/systems/shep.sign.key.pem",
        "--cert",
        "pki/systems/shep.sign.cert.pem",
        "--in",
        "data.bin",
        "--out",
        "shep.sig",
    ]);
    let out = env.verify_ok("pki", "shep.sig", &[]);
    assert!(
        out.starts_with("OK signer BIN 000140000102 shep\n"),
        "{out}"
    );
    // a system certificate has no IIN
    let line = env.verify_rejected("pki", "shep.sig", &["--iin", IIN]);
    assert_reason(&line, "iin-mismatch");
}

// ---------------------------------------------------------------- OCSP

/// A one-thread OCSP responder over plain HTTP answering for the PKI in `dir` (its
/// issuing CA signs the answers; the index says what is revoked). Returns its URL.
fn ocsp_responder(dir: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ocsp", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let pki = egov_pki::PkiDir::open(&dir, &egov_pki::dir::default_ca_dir(&dir)).unwrap();
            let revoked = pki.revoked().unwrap();
            let answer = egov_pki::ocsp::respond(
                &body,
                &pki.issuing,
                OffsetDateTime::now_utc(),
                Duration::hours(1),
                |serial| match revoked.get(serial) {
                    Some((at, reason)) => egov_pki::ocsp::Status::Revoked {
                        at: *at,
                        reason: *reason,
                    },
                    None => egov_pki::ocsp::Status::Good,
                },
            );
            let mut stream = reader.into_inner();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/ocsp-response\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&answer);
        }
    });
    url
}

#[test]
fn ocsp_good_then_revoked() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &["--chain", "pki/issuing.cert.pem"]);
    let url = ocsp_responder(env.path("pki"));
    let args = [
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/root.cert.pem",
        "--ocsp-url",
        &url,
        "--require-revocation",
    ];
    let out = env.ok(&args);
    assert!(
        out.contains(&format!("revocation: good per OCSP {url}")),
        "{out}"
    );
    env.ok(&["pki", "revoke", "--dir", "pki", "--cert", "p.cert.pem"]);
    let line = env.rejected(&args);
    assert_reason(&line, "revoked");
    assert!(line.contains("(ocsp)"), "{line}");
}

#[test]
fn unreachable_ocsp_falls_back_to_the_crl() {
    let env = Env::new();
    env.init("pki", &[]);
    env.issue("pki", "p", &[]);
    env.sign("p", "data.sig", &[]);
    // nothing listens on a port just released
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/ocsp");
    let out = env.verify_ok("pki", "data.sig", &["--ocsp-url", &url]);
    assert!(out.contains("revocation: not revoked per the CRL"), "{out}");
    let line = env.rejected(&[
        "verify",
        "--in",
        "data.bin",
        "--sig",
        "data.sig",
        "--ca",
        "pki/chain.pem",
        "--ocsp-url",
        &url,
    ]);
    assert_reason(&line, "revocation-unknown");
}

// ---------------------------------------------------------------- OpenSSL interop

fn openssl(env: &Env, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(env.dir.path())
        .output()
        .expect("the openssl binary is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl_interop(algo: &str) {
    let env = Env::new();
    env.ok(&["pki", "init", "--dir", "pki", "--algo", algo]);
    env.issue("pki", "p", &[]);
    env.write("data.bin", DATA);

    // openssl signs, egovctl verifies
    let (ok, text) = openssl(
        &env,
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "data.bin",
            "-signer",
            "p.cert.pem",
            "-inkey",
            "p.key.pem",
            "-outform",
            "DER",
            "-out",
            "openssl.sig",
        ],
    );
    assert!(ok, "openssl cms -sign: {text}");
    let out = env.verify_ok("pki", "openssl.sig", &["--iin", IIN]);
    assert!(out.starts_with("OK signer IIN 870312300046"), "{out}");
    let mut tampered = DATA.to_vec();
    tampered.push(b'!');
    env.write("data.bin", &tampered);
    assert_reason(
        &env.verify_rejected("pki", "openssl.sig", &[]),
        "bad-signature",
    );
    env.write("data.bin", DATA);

    // egovctl signs, openssl verifies
    env.sign("p", "egovctl.sig", &[]);
    let (ok, text) = openssl(
        &env,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "egovctl.sig",
            "-content",
            "data.bin",
            "-CAfile",
            "pki/chain.pem",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "openssl cms -verify: {text}");
    // and openssl notices a tampered payload, so the check above means something
    env.write("data.bin", &tampered);
    let (ok, _) = openssl(
        &env,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "egovctl.sig",
            "-content",
            "data.bin",
            "-CAfile",
            "pki/chain.pem",
            "-out",
            "/dev/null",
        ],
    );
    assert!(!ok, "openssl accepted a tampered payload");
}

#[test]
fn openssl_interop_rsa() {
    openssl_interop("rsa-2048");
}

#[test]
fn openssl_interop_ecdsa() {
    openssl_interop("ecdsa-p256");
}

/// The base64 body of the first PEM block tagged `tag` in `text`, line endings aside.
fn pem_body(text: &str, tag: &str) -> String {
    let begin = format!("-----BEGIN {tag}-----");
    let end = format!("-----END {tag}-----");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("no {tag} in {text}"))
        + begin.len();
    let stop = start + text[start..].find(&end).unwrap();
    text[start..stop].split_whitespace().collect()
}

fn p12_reads_back_in_openssl(algo: &str, password: Option<&str>) {
    let env = Env::new();
    env.ok(&["pki", "init", "--dir", "pki", "--algo", algo]);
    let extra: Vec<&str> = password.map_or(vec![], |p| vec!["--p12-password", p]);
    let out = env.issue("pki", "p", &extra);
    assert!(out.contains("p.p12 (PKCS#12"), "{out}");
    let pass = password.unwrap_or("Qwerty12");
    match password {
        None => assert!(
            out.contains("password of the .p12: Qwerty12 (the TEST default"),
            "{out}"
        ),
        Some(p) => assert!(!out.contains(p), "the password is not printed: {out}"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("p.p12"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the .p12 is private");
    }
    let passin = format!("pass:{pass}");
    let (ok, text) = openssl(
        &env,
        &["pkcs12", "-in", "p.p12", "-passin", &passin, "-nodes"],
    );
    assert!(ok, "openssl pkcs12: {text}");
    let key = std::fs::read_to_string(env.path("p.key.pem")).unwrap();
    let cert = std::fs::read_to_string(env.path("p.cert.pem")).unwrap();
    let issuing = std::fs::read_to_string(env.path("pki/issuing.cert.pem")).unwrap();
    assert_eq!(
        pem_body(&text, "PRIVATE KEY"),
        pem_body(&key, "PRIVATE KEY"),
        "the same key"
    );
    assert_eq!(
        pem_body(&text, "CERTIFICATE"),
        pem_body(&cert, "CERTIFICATE"),
        "the certificate first"
    );
    assert!(
        text.split_whitespace()
            .collect::<String>()
            .contains(&pem_body(&issuing, "CERTIFICATE")),
        "the issuing CA in the chain: {text}"
    );
    // the modern algorithms, readable without -legacy
    let (ok, info) = openssl(
        &env,
        &[
            "pkcs12", "-in", "p.p12", "-passin", &passin, "-info", "-noout",
        ],
    );
    assert!(ok, "{info}");
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(
        info.contains("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"),
        "{info}"
    );
    assert!(
        info.contains("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC"),
        "{info}"
    );
    assert!(info.contains("hmacWithSHA256"), "{info}");
    // a wrong password opens nothing
    let (ok, text) = openssl(
        &env,
        &["pkcs12", "-in", "p.p12", "-passin", "pass:wrong", "-nodes"],
    );
    assert!(!ok, "a wrong password was accepted: {text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[test]
fn pki_issue_writes_a_p12_that_openssl_reads_rsa() {
    p12_reads_back_in_openssl("rsa-2048", Some("пароль ключа 1"));
}

#[test]
fn pki_issue_writes_a_p12_with_the_test_password_by_default() {
    p12_reads_back_in_openssl("ecdsa-p256", None);
}

#[test]
fn an_empty_p12_password_is_refused() {
    let env = Env::new();
    env.init("pki", &[]);
    let line = env.rejected(&[
        "pki",
        "issue",
        "--dir",
        "pki",
        "--iin",
        IIN,
        "--name",
        NAME,
        "--out",
        "p",
        "--p12-password",
        "",
    ]);
    assert!(line.contains("--p12-password is empty"), "{line}");
    assert!(!env.path("p.p12").exists() && !env.path("p.key.pem").exists());
}

// ---------------------------------------------------------------- misc

#[test]
fn help_texts_explain_options() {
    let env = Env::new();
    let help = env.ok(&["pki", "issue", "--help"]);
    assert!(help.contains("PKCS#12"), "{help}");
    assert!(help.contains("--not-before"), "{help}");
    let help = env.ok(&["verify", "--help"]);
    for r in ["bad-signature", "iin-mismatch", "revocation-unknown"] {
        assert!(help.contains(r), "{help}");
    }
}
