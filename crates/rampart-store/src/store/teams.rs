//! Teams: named groups of keys with an optional inspection policy and metadata.
//!
//! Keys refer to a team by its name (the name is what OIDC claims and logs carry, and
//! it cannot be changed). A team cannot be deleted while an unrevoked key (expired
//! ones included, since an update could revive them) belongs to it: the deletion and
//! every key write naming the team lock the team row first, so the check cannot race.

use sqlx::{AnyConnection, Row};

use super::{Metadata, Store, StoreError, is_unique_violation, json_column, unix_now};
use crate::keys::random_id;
use crate::validate;

/// A stored team.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Public identifier, `team_...`.
    pub id: String,
    /// Unique name, referenced by keys.
    pub name: String,
    /// Inspection policy profile for its keys (`None`: `default`).
    pub policy: Option<String>,
    /// Free-form metadata.
    pub metadata: Option<Metadata>,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

const TEAM_COLUMNS: &str = "id, name, policy, metadata, created_at";

impl Store {
    /// Creates a team. Its name follows the label rules (1 to 128 characters, no
    /// control characters) and must not look like a team id; a taken name is a
    /// [`StoreError::Conflict`].
    pub async fn create_team(
        &self,
        name: &str,
        policy: Option<&str>,
        metadata: Option<&Metadata>,
    ) -> Result<Team, StoreError> {
        validate::label("team name", name)?;
        if validate::is_id("team_", name) {
            return Err(StoreError::Invalid("team name must not have the shape of a team id".into()));
        }
        validate::optional_label("policy", policy)?;
        let metadata_text = validate::metadata("metadata", metadata)?;
        let team = Team {
            id: random_id("team_", validate::ID_CHARS)?,
            name: name.to_owned(),
            policy: policy.map(str::to_owned),
            metadata: metadata.cloned(),
            created_at: unix_now(),
        };
        let inserted =
            sqlx::query("INSERT INTO teams (id, name, policy, metadata, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&team.id)
                .bind(&team.name)
                .bind(team.policy.as_deref())
                .bind(metadata_text.as_deref())
                .bind(team.created_at)
                .execute(&self.pool)
                .await;
        match inserted {
            Ok(_) => Ok(team),
            Err(error) if is_unique_violation(&error) => {
                Err(StoreError::Conflict("a team with this name exists".into()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Every team, by name.
    pub async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY name")).fetch_all(&self.pool).await?;
        rows.iter().map(decode_team).collect()
    }

    /// The team with this id (`team_...`) or name. Text that is neither a valid id
    /// nor a valid name is `None` without a query.
    pub async fn get_team(&self, id_or_name: &str) -> Result<Option<Team>, StoreError> {
        let column = if validate::is_id("team_", id_or_name) {
            "id"
        } else if validate::label("team name", id_or_name).is_ok() {
            "name"
        } else {
            return Ok(None);
        };
        let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE {column} = $1"))
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_team).transpose()
    }

    /// Deletes a team by id or name. Returns false when there is no such team; a
    /// team that unrevoked keys still belong to is a [`StoreError::Conflict`] (revoke
    /// the keys or move them to another team first).
    pub async fn delete_team(&self, id_or_name: &str) -> Result<bool, StoreError> {
        let Some(team) = self.get_team(id_or_name).await? else { return Ok(false) };
        let mut tx = self.pool.begin().await?;
        // Lock the row first, then count in a later statement (a fresh snapshot on
        // PostgreSQL): a key write holding the lock has committed by then.
        let held = sqlx::query("UPDATE teams SET name = name WHERE id = $1").bind(&team.id).execute(&mut *tx).await?;
        if held.rows_affected() == 0 {
            return Ok(false);
        }
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM virtual_keys WHERE team = $1 AND revoked_at IS NULL")
            .bind(&team.name)
            .fetch_one(&mut *tx)
            .await?;
        if keys > 0 {
            return Err(StoreError::Conflict(format!(
                "{keys} unrevoked key(s) belong to the team: revoke them or move them to another team first"
            )));
        }
        sqlx::query("DELETE FROM teams WHERE id = $1").bind(&team.id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Inside a key write: lock the named team's row until the transaction ends, so it
/// cannot be deleted meanwhile. An unknown team is [`StoreError::Invalid`].
pub(super) async fn hold_team(conn: &mut AnyConnection, name: &str) -> Result<(), StoreError> {
    let held = sqlx::query("UPDATE teams SET name = name WHERE name = $1").bind(name).execute(&mut *conn).await?;
    if held.rows_affected() == 0 {
        return Err(StoreError::Invalid("team: no team has this name".into()));
    }
    Ok(())
}

fn decode_team(row: &sqlx::any::AnyRow) -> Result<Team, StoreError> {
    Ok(Team {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        policy: row.try_get("policy")?,
        metadata: json_column(row, "teams", "metadata")?,
        created_at: row.try_get("created_at")?,
    })
}
