//! The builder's time limits, each with its reason.

use std::time::Duration;

/// Connecting to the admin API should be quick; a host that does not answer within this is down or filtered, and
/// the peer's install should fail with that reason rather than hang.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Lookups and uploads (which validate and precompile the module) must finish well inside the peer's install
/// timeout (300 s), so a stuck host fails the install with a reason of ours.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
