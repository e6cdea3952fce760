//! The enforcing gateway: an HTTP front for the emulator that decides every IAM, STS and
//! Organizations call the way AWS would, so that any client (the `aws` CLI, boto3, the SDKs,
//! Terraform) lives through real lockouts.
//!
//! The request path: [`sigv4`] verifies the signature and names the caller's credentials,
//! [`protocol`] decodes the call into an [`operation::Operation`], [`actions`] maps it to the
//! action, resources and context AWS authorizes, the policy engine decides on the current
//! state, and the call is forwarded to the emulator or answered with AWS's own AccessDenied.

pub mod actions;
pub mod credentials;
mod local;
pub mod operation;
pub mod protocol;
mod server;
pub mod sigv4;

pub use server::{Decided, Gateway, caller_context};
