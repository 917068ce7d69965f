//! The vocabulary's words as SQL values.

use crate::vocab::Role;

/// A sender is stored as its key (`""`: the global server).
impl rusqlite::types::ToSql for crate::vocab::Via {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.key().into())
    }
}

/// Outcomes are stored as their words.
impl rusqlite::types::ToSql for crate::vocab::Outcome {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Roles are stored as their words.
impl rusqlite::types::ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Thread states are stored as their words.
impl rusqlite::types::ToSql for crate::vocab::ThreadState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for crate::vocab::ThreadState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let word = value.as_str()?;
        crate::vocab::ThreadState::parse(word).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown thread state {word:?}").into())
        })
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let word = value.as_str()?;
        Role::parse(word)
            .ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("unknown role {word:?}").into()))
    }
}
