//! keyless-sts part-2 pieces (merged into the full crate by the lead).

pub mod audit;
pub mod sessions;
