//! The NCALayer stand-in end to end: a fresh test PKI, the stand-in on a port of its own
//! with its TLS certificate and citizens' `.p12` keys from that PKI (`world`).
//!
//! - `signing`: the published `ncalayer-js-client` in Node signs through it, every call a
//!   frontend makes; `openssl cms -verify` and the portal's C-sign check (the verifier
//!   with the citizen's IIN) accept the signatures; the dialog's selection decides who
//!   signs; TLS by IP and by name against the test root alone;
//! - `refusals`: every bad input on a raw connection (not JSON, unknown module and
//!   method, wrong argument count and type, bad base64, another storage), the dialog
//!   cancelled, a key of a usage the person has none of, each NCALayer's answer on a
//!   connection that keeps serving; the same errors as the client raises them; an
//!   oversize message closed with 1009; bad settings refused at start.

mod refusals;
mod signing;
mod world;
