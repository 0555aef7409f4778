//! The keys the stand-in holds and how it chooses one where NCALayer would ask the user.
//!
//! Keys come from `.p12` files: every file of a folder opened with one password, and/or
//! files listed one by one with their own passwords. Each file holds one key; its
//! certificate decides its [`Usage`] as НУЦ РК's certificates do (a signing key has
//! nonRepudiation and emailProtection, an authentication key clientAuth).
//!
//! NCALayer shows a dialog to pick the key; the stand-in is headless and answers as the
//! [`Dialog`] says: the key of the selected person or alias when one is selected, else the
//! first held key of the requested usage (in the order of the configured list, then of
//! the folder's file names); or "the user pressed Cancel" when so set.

use std::path::{Path, PathBuf};

use egov_pki::CertInfo;
use egov_pki::PrivateKey;
use egov_pki::oids;

use crate::Error;

/// What a key is for, read from its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Document signing (ЭЦП): keyUsage nonRepudiation, extKeyUsage emailProtection.
    Signing,
    /// Authentication (login): extKeyUsage clientAuth, no nonRepudiation.
    Authentication,
    /// Anything else (a TLS or system certificate).
    Other,
}

impl Usage {
    /// NCALayer's keyType name: `SIGNATURE`, `AUTHENTICATION`, else `OTHER`.
    pub fn key_type(self) -> &'static str {
        match self {
            Usage::Signing => "SIGNATURE",
            Usage::Authentication => "AUTHENTICATION",
            Usage::Other => "OTHER",
        }
    }

    fn of(cert: &CertInfo) -> Usage {
        if cert.allows_document_signing() {
            Usage::Signing
        } else if cert
            .ext_key_usage
            .as_ref()
            .is_some_and(|e| e.contains(&oids::KP_CLIENT_AUTH))
        {
            Usage::Authentication
        } else {
            Usage::Other
        }
    }
}

/// One key the stand-in holds.
#[derive(Debug)]
pub struct HeldKey {
    /// The key's alias in its file.
    pub alias: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The private key.
    pub key: PrivateKey,
    /// Its certificate.
    pub cert: CertInfo,
    /// The chain the file holds beside it (the issuing CA).
    pub chain: Vec<CertInfo>,
    /// What it is for.
    pub usage: Usage,
}

impl HeldKey {
    /// The holder's IIN, when the certificate names one.
    pub fn iin(&self) -> Option<String> {
        self.cert.identity.iin.map(|i| i.as_string())
    }

    /// The certificate's CN.
    pub fn common_name(&self) -> String {
        self.cert.identity.common_name.clone().unwrap_or_default()
    }

    /// Whether `selector` names this key: the holder's IIN, the key's alias (any case),
    /// or the file's name with or without `.p12`.
    pub fn is_named_by(&self, selector: &str) -> bool {
        let s = selector.trim();
        if s.is_empty() {
            return false;
        }
        let file = self.file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.iin().as_deref() == Some(s)
            || self.alias.eq_ignore_ascii_case(s)
            || file == s
            || file.strip_suffix(".p12") == Some(s)
    }
}

/// Where the keys come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A folder whose `.p12` files are all opened with `dir_password`; `required` says
    /// whether a missing folder is an error (it was named) or no keys (the default one).
    pub dir: Option<(PathBuf, bool)>,
    /// The password of the folder's files.
    pub dir_password: String,
    /// Files with their passwords, held before the folder's.
    pub files: Vec<(PathBuf, String)>,
}

/// The held keys, in the order the dialog lists them.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<HeldKey>,
}

impl From<Vec<HeldKey>> for Keyring {
    fn from(keys: Vec<HeldKey>) -> Self {
        Keyring { keys }
    }
}

impl Keyring {
    /// Opens every file of `sources`. A file that does not open with its password, or is
    /// no PKCS#12 file, stops the start: a stand-in that silently holds fewer keys than
    /// configured would sign as the wrong person.
    pub fn load(sources: &Sources) -> Result<Keyring, Error> {
        let mut keys = Vec::new();
        for (path, password) in &sources.files {
            keys.push(open(path, password)?);
        }
        if let Some((dir, required)) = &sources.dir {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => Some(e),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
                Err(e) => {
                    return Err(Error::Keys {
                        path: dir.display().to_string(),
                        detail: e.to_string(),
                    });
                }
            };
            let mut files: Vec<PathBuf> = entries
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "p12") && p.is_file())
                .collect();
            files.sort();
            for path in files {
                if keys.iter().any(|k: &HeldKey| k.file == path) {
                    continue;
                }
                keys.push(open(&path, &sources.dir_password)?);
            }
        }
        Ok(Keyring { keys })
    }

    /// The keys, in the dialog's order.
    pub fn keys(&self) -> &[HeldKey] {
        &self.keys
    }

    /// The keys `selector` names.
    pub fn named_by<'a>(&'a self, selector: &'a str) -> impl Iterator<Item = &'a HeldKey> + 'a {
        self.keys.iter().filter(move |k| k.is_named_by(selector))
    }
}

fn open(path: &Path, password: &str) -> Result<HeldKey, Error> {
    let err = |detail: String| Error::Keys {
        path: path.display().to_string(),
        detail,
    };
    let der = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let file = egov_pki::pkcs12::read(&der, password).map_err(|e| err(e.to_string()))?;
    Ok(HeldKey {
        alias: file.alias,
        file: path.to_path_buf(),
        usage: Usage::of(&file.cert),
        key: file.key,
        cert: file.cert,
        chain: file.chain,
    })
}

/// The usage a request asks for (NCALayer's keyType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// `SIGNATURE`.
    Signature,
    /// `AUTHENTICATION`.
    Authentication,
    /// Any other value: the user may pick any key.
    Any,
}

impl Want {
    /// NCALayer's reading of a keyType argument.
    pub fn from_key_type(s: &str) -> Want {
        match s {
            "SIGNATURE" => Want::Signature,
            "AUTHENTICATION" => Want::Authentication,
            _ => Want::Any,
        }
    }

    fn accepts(self, usage: Usage) -> bool {
        match self {
            Want::Signature => usage == Usage::Signing,
            Want::Authentication => usage == Usage::Authentication,
            Want::Any => true,
        }
    }
}

/// What the user would do in NCALayer's key dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dialog {
    /// The person (IIN) or key (alias, file name) to pick; none: the first that fits.
    pub select: Option<String>,
    /// Press Cancel instead of picking.
    pub cancel: bool,
}

/// The dialog's outcome.
#[derive(Debug)]
pub enum Choice<'a> {
    /// This key was picked.
    Key(&'a HeldKey),
    /// The user pressed Cancel.
    Cancelled,
    /// No held key fits: none of the selected person's keys has the usage asked for, or
    /// none passes the request's filter.
    NoKey,
}

impl Dialog {
    /// Picks a key of `ring` of usage `want` that passes `filter`.
    pub fn choose<'a>(
        &self,
        ring: &'a Keyring,
        want: Want,
        filter: impl Fn(&HeldKey) -> bool,
    ) -> Choice<'a> {
        if self.cancel {
            return Choice::Cancelled;
        }
        ring.keys
            .iter()
            .filter(|k| self.select.as_deref().is_none_or(|s| k.is_named_by(s)))
            .find(|k| want.accepts(k.usage) && filter(k))
            .map_or(Choice::NoKey, Choice::Key)
    }
}
