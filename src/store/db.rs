//! One way to speak SQL to either backend: SQLite (the embedded default) or PostgreSQL (several
//! instances sharing one database). The store's queries are written once, in the SQL both
//! understand, with `?N` parameters; for PostgreSQL they become `$N` and the schema's
//! SQLite-only words (`INTEGER PRIMARY KEY`, `BLOB`) their PostgreSQL spelling. Rows come back
//! as [`Value`]s, read by position with the type the caller expects.

use std::collections::HashMap;

/// Why a query failed, before it names the database ([`super::StoreError`]).
#[derive(Debug)]
pub(super) enum DbError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// PostgreSQL failed (or could not be reached).
    Postgres(postgres::Error),
    /// A value did not have the type the query's reader expected.
    Decode(String),
    /// This instance no longer holds the mailbox's lease: what it was about to record is
    /// another instance's to record now.
    NotOwner(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

/// A query's parameter, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be a query's parameter.
pub(super) trait ToParam {
    fn param(&self) -> Param<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn param(&self) -> Param<'_> {
                Param::Int(*self as i64)
            }
        }
    )*};
}
int_param!(i64, u32, usize, i32);

impl ToParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}

impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl ToParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        self.as_ref().map_or(Param::Null, ToParam::param)
    }
}

/// A sender is stored as its key (`""`: the global server).
impl ToParam for crate::vocab::Via {
    fn param(&self) -> Param<'_> {
        Param::Text(self.key())
    }
}

/// Outcomes are stored as their words.
impl ToParam for crate::vocab::Outcome {
    fn param(&self) -> Param<'_> {
        Param::Text(self.as_str())
    }
}

/// Roles are stored as their words.
impl ToParam for crate::vocab::Role {
    fn param(&self) -> Param<'_> {
        Param::Text(self.as_str())
    }
}

/// Thread states are stored as their words.
impl ToParam for crate::vocab::ThreadState {
    fn param(&self) -> Param<'_> {
        Param::Text(self.as_str())
    }
}

/// A query's parameters: `p![a, b, c]`.
macro_rules! p {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::db::ToParam::param(&$x)),*][..]
    };
}
pub(super) use p;

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row of a result, read by column position.
#[derive(Debug, Clone)]
pub(super) struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DbError> {
        self.0
            .get(i)
            .ok_or_else(|| DbError::Decode(format!("no column {i}")))
    }

    /// An integer column (NULL is an error).
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?
            .ok_or_else(|| DbError::Decode(format!("column {i} is NULL")))
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            v => Err(DbError::Decode(format!("column {i}: {v:?} is not an integer"))),
        }
    }

    /// A column holding a UID, UIDVALIDITY or count (0 ..= u32::MAX).
    pub fn u32(&self, i: usize) -> Result<u32, DbError> {
        let n = self.int(i)?;
        u32::try_from(n).map_err(|_| DbError::Decode(format!("column {i}: {n} is out of range")))
    }

    /// A flag stored as 0 or 1.
    pub fn flag(&self, i: usize) -> Result<bool, DbError> {
        Ok(self.int(i)? != 0)
    }

    /// A text column (NULL is an error).
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?
            .ok_or_else(|| DbError::Decode(format!("column {i} is NULL")))
    }

    /// A text column that may be NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            v => Err(DbError::Decode(format!("column {i}: {v:?} is not text"))),
        }
    }

    /// A bytes column that may be NULL.
    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b.clone())),
            Value::Text(s) => Ok(Some(s.clone().into_bytes())),
            v => Err(DbError::Decode(format!("column {i}: {v:?} is not bytes"))),
        }
    }

    /// A bytes column (NULL is an error).
    pub fn blob(&self, i: usize) -> Result<Vec<u8>, DbError> {
        self.opt_blob(i)?
            .ok_or_else(|| DbError::Decode(format!("column {i} is NULL")))
    }
}

/// An open connection to either backend.
pub(super) enum Db {
    /// The embedded SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL session, reconnected when the server went away.
    Postgres(Pg),
}

/// A job for a session's thread.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A PostgreSQL session on a thread of its own. The driver blocks on a runtime of its own,
/// which it may not do where a tokio runtime is already driven (the processor runs each
/// message inside one), and it closes its connection the same way when dropped: so every call,
/// and the drop, happen on this thread; the caller waits for the answer.
pub(super) struct Pg {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// What lives on a session's thread.
pub(super) struct Session {
    client: Option<postgres::Client>,
    connect: super::postgres::Connect,
    /// Statements prepared on this session, by their PostgreSQL text.
    prepared: HashMap<String, postgres::Statement>,
    /// SQLite text to PostgreSQL text.
    translated: HashMap<String, String>,
}

impl Pg {
    /// A session that connects when first used (and again whenever the server went away).
    pub fn new(connect: super::postgres::Connect) -> Pg {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let mut session = Session {
            client: None,
            connect,
            prepared: HashMap::new(),
            translated: HashMap::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("bouncedoc-postgres".into())
            .spawn(move || {
                for job in queue {
                    job(&mut session);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a thread for a PostgreSQL session");
        }
        Pg { jobs }
    }

    /// Runs `f` on the session's thread and waits for its answer.
    fn on_session<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |s: &mut Session| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| DbError::Decode("the PostgreSQL session's thread is gone".into()))?;
        rx.recv()
            .map_err(|_| DbError::Decode("the PostgreSQL session's thread stopped".into()))?
    }
}

impl Session {
    /// The client, connected again if the server went away (a restart, a failover).
    fn client(&mut self) -> Result<&mut postgres::Client, DbError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.client = None;
            self.prepared.clear();
            self.client = Some(self.connect.client()?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Decode("no PostgreSQL session".into()))
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        let text = match self.translated.get(sql) {
            Some(t) => t.clone(),
            None => {
                let t = dialect(sql);
                self.translated.insert(sql.to_string(), t.clone());
                t
            }
        };
        // Connected first: a new session forgets what the old one prepared.
        self.client()?;
        if let Some(s) = self.prepared.get(&text) {
            return Ok(s.clone());
        }
        let prepared = self.client()?.prepare(&text);
        let s = prepared.map_err(|e| self.broken(e))?;
        self.prepared.insert(text, s.clone());
        Ok(s)
    }

    /// An error; the session is dropped when it is no longer usable (the next call
    /// reconnects).
    fn broken(&mut self, e: postgres::Error) -> DbError {
        if e.is_closed() || self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
            self.prepared.clear();
        }
        DbError::Postgres(e)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let stmt = self.statement(sql)?;
        let result = self.client()?.execute(&stmt, &refs(params));
        result.map_err(|e| self.broken(e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let stmt = self.statement(sql)?;
        let result = self.client()?.query(&stmt, &refs(params));
        let rows = result.map_err(|e| self.broken(e))?;
        rows.iter().map(pg_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let result = self.client()?.batch_execute(sql);
        result.map_err(|e| self.broken(e))
    }
}

impl Value {
    /// A parameter copied for the session's thread.
    fn of(p: &Param<'_>) -> Value {
        match *p {
            Param::Null => Value::Null,
            Param::Int(n) => Value::Int(n),
            Param::Text(t) => Value::Text(t.to_string()),
            Param::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    fn param(&self) -> Param<'_> {
        match self {
            Value::Null => Param::Null,
            Value::Int(n) => Param::Int(*n),
            Value::Text(t) => Param::Text(t),
            Value::Blob(b) => Param::Blob(b),
        }
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.param().to_sql(ty, out)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn owned(params: &[Param<'_>]) -> Vec<Value> {
    params.iter().map(Value::of).collect()
}

/// Parameters as the driver takes them.
fn refs(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl Db {
    /// Whether this is PostgreSQL (for the few statements whose best form differs).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres(pg) => {
                let (sql, params) = (sql.to_string(), owned(params));
                pg.on_session(move |s| s.execute(&sql, &params))
            }
        }
    }

    /// Runs a query; returns its rows.
    pub fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                            rusqlite::types::ValueRef::Real(f) => Value::Int(f as i64),
                            rusqlite::types::ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                        });
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            Db::Postgres(pg) => {
                let (sql, params) = (sql.to_string(), owned(params));
                pg.on_session(move |s| s.query(&sql, &params))
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query (none is an error).
    pub fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Decode("the query returned no row".into()))
    }

    /// Whether a query finds a row.
    pub fn exists(&self, sql: &str, params: &[Param<'_>]) -> Result<bool, DbError> {
        Ok(!self.query(sql, params)?.is_empty())
    }

    /// Runs statements without parameters (the schema's migrations, `BEGIN`, `COMMIT`).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(pg) => {
                let sql = sql.to_string();
                pg.on_session(move |s| s.batch(&sql))
            }
        }
    }

    /// Runs `f` in one transaction: all of it is committed, or none of it.
    pub fn tx<T>(&self, f: impl FnOnce() -> Result<T, DbError>) -> Result<T, DbError> {
        self.batch("BEGIN")?;
        match f() {
            Ok(v) => {
                if let Err(e) = self.batch("COMMIT") {
                    let _ = self.batch("ROLLBACK");
                    return Err(e);
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The PostgreSQL client, on the session's thread, for the statements only PostgreSQL has
    /// (the leases' arrays).
    pub fn postgres<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, DbError> {
        match self {
            Db::Sqlite(_) => Err(DbError::Decode("this needs PostgreSQL (database.url)".into())),
            Db::Postgres(pg) => pg.on_session(move |s| {
                let result = f(s.client()?);
                result.map_err(|e| s.broken(e))
            }),
        }
    }
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let ty = c.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?.map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?.map(|n| Value::Int(n.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(|b| Value::Int(b.into()))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::BPCHAR || *ty == Type::NAME {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else {
            return Err(DbError::Decode(format!(
                "column {} has type {ty}, which the store does not read",
                c.name()
            )));
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(n)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// A parameter takes the type PostgreSQL inferred for its place (all integers are `BIGINT`
/// in the schema, but a `LIMIT` or a comparison may want another width).
impl postgres::types::ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match *self {
            Param::Null => Ok(postgres::types::IsNull::Yes),
            Param::Int(n) if *ty == Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
            Param::Int(n) if *ty == Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
            Param::Int(n) if *ty == Type::BOOL => (n != 0).to_sql(ty, out),
            Param::Int(n) if *ty == Type::TEXT || *ty == Type::VARCHAR => n.to_string().to_sql(ty, out),
            Param::Int(n) => n.to_sql(ty, out),
            Param::Text(s) if *ty == Type::BYTEA => s.as_bytes().to_sql(ty, out),
            Param::Text(s) => s.to_sql(ty, out),
            Param::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// The PostgreSQL text of a statement written for SQLite: `?N` parameters become `$N`, and
/// the schema's SQLite-only types their PostgreSQL names. Quoted text is left alone.
pub(super) fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quoted = false;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "INTEGER" => "BIGINT",
            "BLOB" => "BYTEA",
            w => w,
        });
        word.clear();
    };
    for c in sql.chars() {
        if quoted {
            out.push(c);
            if c == '\'' {
                quoted = false;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        match c {
            '\'' => {
                quoted = true;
                out.push(c);
            }
            '?' => out.push('$'),
            c => out.push(c),
        }
    }
    flush(&mut word, &mut out);
    // A row id of SQLite's is an identity column in PostgreSQL.
    out.replace(
        "BIGINT PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_written_for_sqlite_read_as_postgresql() {
        assert_eq!(
            dialect("SELECT a FROM t WHERE b = ?1 AND c = '?x' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?x' AND d = $12"
        );
        assert_eq!(
            dialect("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, raw BLOB, INTEGERS TEXT)"),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, raw BYTEA, INTEGERS TEXT)"
        );
    }
}
