//! Accounts: a workspace with its owner, created once, and the credentials login checks.

use std::future::Future;

use crate::domain::account::{Email, NewAccount, UserCredentials};
use crate::domain::audit::AuditEvent;
use crate::storage::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCreated {
    Created,
    EmailTaken,
}

pub trait AccountStore: Send + Sync {
    fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<AccountCreated, StoreError>> + Send;

    fn find_credentials(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<UserCredentials>, StoreError>> + Send;
}
