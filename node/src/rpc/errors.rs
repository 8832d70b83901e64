//! JSON-RPC error codes and constructors.
//!
//! | code | meaning |
//! |---|---|
//! | -32602 | invalid parameters: the message says which and what a valid one looks like |
//! | 1010 | the node refused the submission (bad signature, nonce, balance): fix it and resubmit |
//! | 1020 | the node cannot answer now (syncing, pool full): retry later |
//! | -32603 | internal error: see the node's log |
use jsonrpsee::types::error::{ErrorObjectOwned, INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE};

use super::api::ApiError;

/// The submission was refused.
pub const REJECTED_CODE: i32 = 1010;
/// The node cannot answer now.
pub const UNAVAILABLE_CODE: i32 = 1020;

/// An "invalid params" error with `message`.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, message, None::<()>)
}

impl From<ApiError> for ErrorObjectOwned {
    fn from(e: ApiError) -> Self {
        let code = match &e {
            ApiError::Rejected(_) => REJECTED_CODE,
            ApiError::Unavailable(_) => UNAVAILABLE_CODE,
            ApiError::Internal(_) => INTERNAL_ERROR_CODE,
        };
        ErrorObjectOwned::owned(code, e.to_string(), None::<()>)
    }
}
