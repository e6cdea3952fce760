//! lockdrill rehearses recovery from AWS IAM admin lockouts.
//!
//! The crate is laid out as the pipeline of a drill: [`doc`] reads JSON and YAML with
//! positions, [`policy`] decides requests the way AWS documents it, [`world`] describes the
//! accounts and organization a drill starts from, [`emulator`] leases a local AWS emulator,
//! [`gateway`] enforces IAM in front of it, and [`cli`] is the command line.

pub mod cli;
pub mod diagnostic;
pub mod doc;
pub mod drill;
pub mod emulator;
pub mod gateway;
pub mod live;
pub mod policy;
pub mod provision;
pub mod report;
pub mod runbook;
pub mod sdk;
pub mod world;
