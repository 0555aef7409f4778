//! A multipart form (`enctype="multipart/form-data"`): its text fields and its files,
//! an empty file input left out.

use axum::extract::Multipart;
use egov_system::api::ApiError;

/// A file of the form.
#[derive(Debug, Clone)]
pub struct File {
    /// The input's name.
    pub input: String,
    /// The file's name as the browser sent it.
    pub name: String,
    /// The media type the browser declared (`application/octet-stream` when none).
    pub media_type: String,
    /// The content.
    pub bytes: Vec<u8>,
}

/// What a multipart form holds.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    /// The text fields, in order.
    pub fields: Vec<(String, String)>,
    /// The files that are not empty.
    pub files: Vec<File>,
}

impl Posted {
    /// The value of the text field `name`, empty when absent.
    pub fn field(&self, name: &str) -> &str {
        crate::field(&self.fields, name)
    }
}

/// Why a form is not read: past the route's body limit (413 `PAYLOAD_TOO_LARGE`), or
/// not a form (400 `BAD_REQUEST`, the parser's words).
pub fn unread(status: axum::http::StatusCode, problem: &str) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else {
        ApiError::bad_request(problem)
    }
}

/// Reads the form ([`unread`] when it cannot be).
pub async fn read(mut mp: Multipart) -> Result<Posted, ApiError> {
    let mut p = Posted::default();
    while let Some(f) = mp
        .next_field()
        .await
        .map_err(|e| unread(e.status(), &e.body_text()))?
    {
        let input = f.name().unwrap_or("").to_string();
        match f.file_name().map(str::to_string) {
            Some(name) => {
                let media_type = f
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = f
                    .bytes()
                    .await
                    .map_err(|e| unread(e.status(), &e.body_text()))?;
                if !bytes.is_empty() {
                    p.files.push(File {
                        input,
                        name,
                        media_type,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            None => {
                let v = f
                    .text()
                    .await
                    .map_err(|e| unread(e.status(), &e.body_text()))?;
                p.fields.push((input, v));
            }
        }
    }
    Ok(p)
}
