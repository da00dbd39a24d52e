//! `StoreError`: how any store call fails. Storage says what happened; the HTTP layer decides
//! what a client sees (`http::error`: unavailable is a 503, corrupt a 500).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the call: fail closed, answer 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// An item did not have the shape this code writes.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}
