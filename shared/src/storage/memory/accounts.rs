//! Accounts in memory.

use super::*;

impl AccountStore for MemoryStore {
    async fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> Result<AccountCreated, StoreError> {
        let mut state = self.state()?;
        let email = account.email.as_str().to_owned();
        if state.accounts.contains_key(&email) {
            return Ok(AccountCreated::EmailTaken);
        }
        state.record(account.workspace_id, event);
        state.accounts.insert(
            email,
            UserCredentials {
                user_id: account.user_id,
                workspace_id: account.workspace_id,
                workspace_name: account.workspace_name.clone(),
                email: account.email.clone(),
                password_hash: account.password_hash.clone(),
            },
        );
        Ok(AccountCreated::Created)
    }

    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError> {
        Ok(self.state()?.accounts.get(email.as_str()).cloned())
    }
}
