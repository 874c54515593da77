//! Platform accounts: link, register, test, claim, delete.

use super::*;

impl Agents {
    pub(super) async fn accounts_file(&self) -> Result<AccountsFile, AgentsError> {
        Ok(self.store.load(files::ACCOUNTS).await?)
    }

    /// The account with its real credentials (never to be sent out as is).
    pub async fn account(&self, id: &str) -> Result<Account, AgentsError> {
        self.accounts_file()
            .await?
            .accounts
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))
    }

    pub async fn accounts(
        &self,
        agent: Option<&str>,
        platform: Option<&str>,
    ) -> Result<Vec<Value>, AgentsError> {
        Ok(self
            .accounts_file()
            .await?
            .accounts
            .iter()
            .filter(|(_, a)| agent.is_none_or(|g| a.agent_id == g))
            .filter(|(_, a)| platform.is_none_or(|p| a.platform.as_str() == p))
            .map(|(id, a)| a.masked(id))
            .collect())
    }

    pub(super) async fn insert_account(
        &self,
        account: Account,
    ) -> Result<(String, Value), AgentsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let view = account.masked(&id);
        self.store
            .update(files::ACCOUNTS, |f: &mut AccountsFile| {
                f.accounts.insert(id.clone(), account);
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        self.changed("agents:account:changed", "accountId", "create", &id);
        Ok((id, view))
    }

    /// Links existing credentials (`POST /accounts` with `credentials`).
    pub async fn link_account(&self, body: &Value) -> Result<Value, AgentsError> {
        let agent_id = req_str(body, "agentId", 1, 200)?;
        let platform = Platform::parse(&req_str(body, "platform", 1, 20)?)?;
        let creds = body
            .get("credentials")
            .filter(|c| c.is_object())
            .ok_or_else(|| Invalid("credentials must be an object".into()))?;
        let api_key = req_str(creds, "credentials.apiKey", 1, 1000)?;
        let username = req_str(creds, "credentials.username", 1, 100)?;
        let status = match body.get("status").and_then(Value::as_str) {
            None => AccountStatus::Pending,
            Some(s) => serde_json::from_value(json!(s)).map_err(|_| {
                Invalid(format!(
                    "status must be active, pending, suspended or error, not {s:?}"
                ))
            })?,
        };
        self.agent(&agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let account = Account {
            agent_id,
            platform,
            credentials: Credentials {
                api_key,
                username,
                agent_id: creds
                    .get("agentId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                extra: Default::default(),
            },
            status,
            last_activity: None,
            platform_data: body
                .get("platformData")
                .filter(|d| d.is_object())
                .cloned()
                .unwrap_or_else(|| json!({})),
            created_at: iso(self.now()),
            extra: Default::default(),
        };
        Ok(self.insert_account(account).await?.1)
    }

    /// Registers a new account on the platform (`POST /accounts` without credentials).
    pub async fn register_account(&self, body: &Value) -> Result<Value, AgentsError> {
        let agent_id = req_str(body, "agentId", 1, 200)?;
        let platform = Platform::parse(&req_str(body, "platform", 1, 20)?)?;
        let name = req_str(body, "name", 1, 100)?;
        let description = body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        check_len("description", &description, 0, 500)?;
        let agent = self
            .agent(&agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let now = iso(self.now());
        let (account, claim_url) = match platform {
            Platform::Moltbook => {
                // Moltbook names: lower case, `_` for spaces, [a-z0-9_-] only.
                let handle: String = name
                    .to_lowercase()
                    .replace(' ', "_")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                let r = self
                    .platforms
                    .moltbook
                    .register(&handle, &description)
                    .await
                    .map_err(ActionError::from)?;
                let a = r.get("agent").unwrap_or(&r);
                let key = a.get("api_key").and_then(Value::as_str).unwrap_or_default();
                if key.is_empty() {
                    return Err(AgentsError::Conflict {
                        code: "PLATFORM_ERROR",
                        message: "Moltbook registered the agent but returned no API key".into(),
                    });
                }
                let claim = a.get("claim_url").cloned().unwrap_or(Value::Null);
                let account = Account {
                    agent_id,
                    platform,
                    credentials: Credentials {
                        api_key: key.to_string(),
                        username: a
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or(&handle)
                            .to_string(),
                        agent_id: None,
                        extra: Default::default(),
                    },
                    status: AccountStatus::Pending,
                    last_activity: None,
                    platform_data: json!({ "claimUrl": claim, "registrationName": name, "registrationDescription": description }),
                    created_at: now,
                    extra: Default::default(),
                };
                (account, Some(claim))
            }
            Platform::Moltworld => {
                let mut look = portos_moltworld::Appearance::default();
                if let Some(av) = &agent.avatar {
                    if let Some(c) = av.get("color").and_then(Value::as_str) {
                        look.color = c.to_string();
                    }
                    if let Some(e) = av.get("emoji").and_then(Value::as_str) {
                        look.emoji = e.to_string();
                    }
                }
                let r = self
                    .platforms
                    .moltworld
                    .register(&name, &look)
                    .await
                    .map_err(ActionError::from)?;
                let account = Account {
                    agent_id,
                    platform,
                    credentials: Credentials {
                        api_key: r.api_key,
                        username: name.clone(),
                        agent_id: Some(r.agent_id),
                        extra: Default::default(),
                    },
                    status: AccountStatus::Active,
                    last_activity: None,
                    platform_data: json!({ "registrationName": name, "registrationDescription": description }),
                    created_at: now,
                    extra: Default::default(),
                };
                (account, None)
            }
        };
        let (_, mut view) = self.insert_account(account).await?;
        if let Some(c) = claim_url {
            view["claimUrl"] = c;
        }
        Ok(view)
    }

    pub async fn delete_account(&self, id: &str) -> Result<(), AgentsError> {
        self.store
            .update(files::ACCOUNTS, |f: &mut AccountsFile| {
                f.accounts
                    .shift_remove(id)
                    .map(|_| ())
                    .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))
            })
            .await??;
        self.changed("agents:account:changed", "accountId", "delete", id);
        Ok(())
    }

    /// `agents:account:suspended`: the platform suspended an account (the
    /// api server rings the bell for it).
    pub(super) fn announce_suspended(&self, id: &str, a: &Account, why: &str) {
        (self.emit)(
            "agents:account:suspended",
            serde_json::json!({"accountId": id, "agentId": a.agent_id, "platform": a.platform, "username": a.credentials.username, "error": why}),
        );
    }

    pub(super) async fn set_account(
        &self,
        id: &str,
        f: impl FnOnce(&mut Account),
    ) -> Result<Account, AgentsError> {
        let a = self
            .store
            .update(files::ACCOUNTS, |file: &mut AccountsFile| {
                let a = file
                    .accounts
                    .get_mut(id)
                    .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))?;
                f(a);
                Ok::<_, AgentsError>(a.clone())
            })
            .await??;
        self.changed("agents:account:changed", "accountId", "update", id);
        Ok(a)
    }

    /// `POST /accounts/:id/test`: asks the platform who the account is.
    pub async fn test_account(&self, id: &str) -> Result<Value, AgentsError> {
        let a = self.account(id).await?;
        let (status, platform_status, message) = match a.platform {
            Platform::Moltbook => {
                let key = portos_moltbook::ApiKey::new(a.credentials.api_key.clone());
                match self.platforms.moltbook.profile(&key).await {
                    Ok(p) => {
                        let agent = p.get("agent").unwrap_or(&p);
                        let claimed = agent
                            .get("is_claimed")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        let karma = agent.get("karma").cloned().unwrap_or(json!(0));
                        (
                            if claimed {
                                AccountStatus::Active
                            } else {
                                AccountStatus::Pending
                            },
                            if claimed { "active" } else { "pending_claim" },
                            format!(
                                "Connected as {} (karma {karma})",
                                agent
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or(&a.credentials.username)
                            ),
                        )
                    }
                    Err(e) if e.is_suspended() => {
                        self.set_account(id, |a| a.status = AccountStatus::Suspended)
                            .await?;
                        self.announce_suspended(id, &a, &e.to_string());
                        return Err(ActionError::from(e).into());
                    }
                    Err(e) => return Err(ActionError::from(e).into()),
                }
            }
            Platform::Moltworld => {
                let agent = a.platform_agent_id().to_string();
                self.platforms
                    .moltworld
                    .profile(&agent)
                    .await
                    .map_err(ActionError::from)?;
                let sim = self
                    .platforms
                    .moltworld
                    .balance(&agent)
                    .await
                    .ok()
                    .and_then(|b| b.pointer("/balance/sim").cloned());
                (
                    a.status,
                    "active",
                    match sim {
                        Some(s) => format!("Connected to Moltworld; SIM balance {s}"),
                        None => "Connected to Moltworld".into(),
                    },
                )
            }
        };
        if status != a.status {
            self.set_account(id, |a| a.status = status).await?;
        }
        Ok(json!({
            "success": true, "message": message, "platform": a.platform.as_str(),
            "username": a.credentials.username, "platformStatus": platform_status,
        }))
    }

    /// `POST /accounts/:id/claim`: a pending account becomes active.
    pub async fn claim_account(&self, id: &str) -> Result<Value, AgentsError> {
        let a = self.account(id).await?;
        if a.status != AccountStatus::Pending {
            return Err(AgentsError::Conflict {
                code: "INVALID_STATE",
                message: format!("Account is {}, not pending", a.status.as_str()),
            });
        }
        let a = self
            .set_account(id, |a| a.status = AccountStatus::Active)
            .await?;
        Ok(a.masked(id))
    }

    // ----- schedules -----
}
