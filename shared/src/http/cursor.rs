//! Pagination cursors for `GET /api/v1/messages` and `GET /api/v1/audit-events`. A cursor names
//! the last item of a page and the workspace it was issued to (base64url of
//! `<workspace id>:<item id>`, no padding). It
//! is bound, not secret: a cursor presented by another workspace, or edited into anything but
//! a well-formed one of the caller's own workspace, is refused with a 400 naming `cursor`; and
//! an edited cursor of one's own workspace can only move within that workspace's messages, since
//! every query is scoped to the caller's partition.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::http::error::ApiError;
use std::fmt::Display;
use std::str::FromStr;

use crate::domain::ids::WorkspaceId;

/// The cursor that continues a listing of `workspace_id` after `last`.
pub fn encode_cursor(workspace_id: WorkspaceId, last: impl Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{workspace_id}:{last}"))
}

/// The id a cursor continues after, if the cursor was issued to `workspace_id`.
/// Anything else (other workspace, bad base64, not UTF-8, no separator, non-canonical ids) is a
/// `validation_error` on `cursor`. Never panics.
pub fn decode_cursor<I: FromStr>(cursor: &str, workspace_id: WorkspaceId) -> Result<I, ApiError> {
    let invalid = || {
        ApiError::field(
            "cursor",
            "is not a cursor this API returned for this workspace",
        )
    };
    let decoded = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (workspace, message) = text.split_once(':').ok_or_else(invalid)?;
    if workspace.parse::<WorkspaceId>().ok() != Some(workspace_id) {
        return Err(invalid());
    }
    message.parse().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::MessageId;

    #[test]
    fn a_cursor_decodes_only_for_its_own_workspace() {
        let (ws, id) = (WorkspaceId::new(), MessageId::new());
        let cursor = encode_cursor(ws, id);
        assert_eq!(decode_cursor(&cursor, ws), Ok(id));
        assert!(decode_cursor::<MessageId>(&cursor, WorkspaceId::new()).is_err());
    }

    #[test]
    fn garbage_is_a_validation_error_on_cursor() {
        for raw in ["", "!!!", "bm9wZQ", "eyJmb28iOiJiYXIifQ"] {
            let err = decode_cursor::<MessageId>(raw, WorkspaceId::new()).unwrap_err();
            assert_eq!(err.code(), "validation_error");
            assert!(err.to_string().starts_with("cursor:"), "{err}");
        }
    }
}
