use std::fmt;

/// Why a stub call failed: the WIT `error` variant, plus the shim-side argument checks the SDK makes itself.
///
/// A failed call is an ordinary value, never a trap, so a chaincode decides what to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered ERROR; the text is the peer's, verbatim.
    Peer(String),
    /// The arguments break a rule the shim checks before sending (empty key, empty collection, …). The text
    /// is the Go shim's, so chaincode error messages read the same as a Go chaincode's.
    InvalidArgument(String),
    /// The backend does not implement the call (yet). Nothing was sent to the peer.
    Unsupported(String),
    /// A per-transaction limit of the host was reached (payload size, open iterators, …).
    Limit(String),
    /// The host lost its peer or failed internally; the transaction cannot go on.
    Internal(String),
}

impl Error {
    /// The text without the kind, as the peer or the shim wrote it.
    pub fn message(&self) -> &str {
        match self {
            Error::Peer(m)
            | Error::InvalidArgument(m)
            | Error::Unsupported(m)
            | Error::Limit(m)
            | Error::Internal(m) => m,
        }
    }
}

impl fmt::Display for Error {
    /// Peer and argument errors print verbatim, as the Go shim's `err.Error()` does; the host-side kinds get a
    /// prefix because no Go chaincode ever saw them and the prefix tells an operator where to look.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Peer(m) | Error::InvalidArgument(m) => f.write_str(m),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Limit(m) => write!(f, "limit reached: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Chaincode functions that answer `Result<T, String>` take an SDK error with `?`, its text as [`Display`](fmt::Display)
/// writes it: `stub.put_state(key, value)?` instead of `.map_err(|e| e.to_string())?`.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_verbatim_for_peer_and_argument_errors() {
        assert_eq!(Error::Peer("no ledger context".into()).to_string(), "no ledger context");
        assert_eq!(Error::InvalidArgument("bad".into()).to_string(), "bad");
        assert_eq!(Error::Limit("payload".into()).to_string(), "limit reached: payload");
        assert_eq!(Error::Internal("x".into()).message(), "x");
    }

    #[test]
    fn a_function_answering_string_errors_takes_sdk_errors_with_a_question_mark() {
        fn put() -> Result<(), String> {
            Err(Error::Limit("payload".into()))?
        }
        assert_eq!(put(), Err("limit reached: payload".to_owned()));
    }
}
