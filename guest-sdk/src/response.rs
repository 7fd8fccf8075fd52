use std::fmt::Display;

/// A chaincode's answer, as Fabric's `protos.Response`: status < 400 is endorsed, >= 400 is returned unendorsed
/// and its writes are dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub status: i32,
    pub message: String,
    pub payload: Vec<u8>,
}

impl Response {
    /// `shim.OK`.
    pub const OK: i32 = 200;
    /// `shim.ERRORTHRESHOLD`: from here on the peer does not endorse.
    pub const ERROR_THRESHOLD: i32 = 400;
    /// `shim.ERROR`.
    pub const ERROR: i32 = 500;

    /// `shim.Success(payload)`: status 200, no message.
    pub fn success(payload: impl Into<Vec<u8>>) -> Self {
        Response { status: Self::OK, message: String::new(), payload: payload.into() }
    }

    /// `shim.Error(msg)`: status 500, no payload.
    pub fn error(message: impl Into<String>) -> Self {
        Response { status: Self::ERROR, message: message.into(), payload: Vec::new() }
    }

    /// `Ok(payload)` → [`success`](Self::success), `Err(e)` → [`error`](Self::error) with `e`'s text: what
    /// fabric-contract-api does with a transaction function's `(value, error)`.
    pub fn from_result<P: Into<Vec<u8>>, E: Display>(result: Result<P, E>) -> Self {
        match result {
            Ok(payload) => Self::success(payload),
            Err(e) => Self::error(e.to_string()),
        }
    }

    /// True when the peer would endorse this answer (status < 400).
    pub fn is_success(&self) -> bool {
        self.status < Self::ERROR_THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_match_the_go_shim() {
        let ok = Response::success(b"hi".to_vec());
        assert_eq!((ok.status, ok.message.as_str(), ok.payload.as_slice()), (200, "", &b"hi"[..]));
        let err = Response::error("boom");
        assert_eq!((err.status, err.message.as_str(), err.payload.len()), (500, "boom", 0));
        assert!(ok.is_success() && !err.is_success());
        assert_eq!(Response::from_result::<Vec<u8>, _>(Err("bad")), Response::error("bad"));
    }
}
