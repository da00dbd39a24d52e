//! Accounts: the email claim (unique), the workspace and its owner, written in one transaction.

use super::*;

impl AccountStore for DynamoStore {
    async fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> Result<AccountCreated, StoreError> {
        let ws = workspace_pk(account.workspace_id);
        let created = n(account.created_at.unix());
        let email_claim = HashMap::from([
            (
                "pk".to_owned(),
                s(format!("EMAIL#{}", account.email.as_str())),
            ),
            ("sk".to_owned(), s("EMAIL")),
            ("email".to_owned(), s(account.email.as_str())),
            ("user_id".to_owned(), s(account.user_id.to_string())),
            (
                "workspace_id".to_owned(),
                s(account.workspace_id.to_string()),
            ),
            (
                "workspace_name".to_owned(),
                s(account.workspace_name.as_str()),
            ),
            ("password_hash".to_owned(), s(&account.password_hash)),
            ("created_at".to_owned(), created.clone()),
        ]);
        let workspace = HashMap::from([
            ("pk".to_owned(), s(ws.clone())),
            ("sk".to_owned(), s("WORKSPACE")),
            ("name".to_owned(), s(account.workspace_name.as_str())),
            ("owner_id".to_owned(), s(account.user_id.to_string())),
            ("created_at".to_owned(), created.clone()),
        ]);
        let user = HashMap::from([
            ("pk".to_owned(), s(ws)),
            ("sk".to_owned(), s(format!("USER#{}", account.user_id))),
            ("email".to_owned(), s(account.email.as_str())),
            ("created_at".to_owned(), created),
        ]);
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            self.put(email_claim, absent)?,
            self.put(workspace, absent)?,
            self.put(user, absent)?,
            self.put(audit_item(account.workspace_id, event)?, absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(AccountCreated::Created),
            // A retry of our own committed attempt also fails its conditions: the claim then
            // names our user, and the account exists as asked.
            Transaction::ConditionFailed(_) => match self.find_credentials(&account.email).await? {
                Some(existing) if existing.user_id == account.user_id => {
                    Ok(AccountCreated::Created)
                }
                Some(_) => Ok(AccountCreated::EmailTaken),
                None => Err(StoreError::Corrupt(
                    "workspace or user id already exists".into(),
                )),
            },
        }
    }

    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError> {
        let Some(item) = self
            .get(format!("EMAIL#{}", email.as_str()), "EMAIL")
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(UserCredentials {
            user_id: read_parsed(&item, "user_id")?,
            workspace_id: read_parsed(&item, "workspace_id")?,
            workspace_name: DisplayName::from_stored(read_s(&item, "workspace_name")?),
            email: email.clone(),
            password_hash: read_s(&item, "password_hash")?,
        }))
    }
}
