//! One connection to the journal, SQLite or PostgreSQL, behind one small API.
//!
//! The journal's SQL is written once, in the subset both databases speak
//! (`INSERT … ON CONFLICT … DO UPDATE`, `RETURNING`, savepoints), with `?N`
//! placeholders; the PostgreSQL side rewrites them to `$N`. Rows come back as
//! a few plain value kinds, read by column position. What differs (opening,
//! migrations, JSON functions) is asked of [`Db::dialect`] by its caller.

use std::borrow::Cow;

use super::{JournalError, Result, postgres::Postgres};

/// Which SQL a connection speaks, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Postgres>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

/// A statement parameter.
#[derive(Debug, Clone)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
    Blob(&'a [u8]),
}

/// A column value as read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One result row, read by column position.
#[derive(Debug, Default)]
pub struct Row(pub(super) Vec<Val>);

/// `params![a, b]`: the parameters of a statement, each borrowed through
/// [`ToParam`].
macro_rules! params {
    () => { &[] as &[$crate::journal::db::Param<'_>] };
    ($($p:expr),+ $(,)?) => {
        &[$($crate::journal::db::ToParam::to_param(&$p)),+]
            as &[$crate::journal::db::Param<'_>]
    };
}
pub(crate) use params;

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// True once the server closed the connection (PostgreSQL): make a new one.
    pub fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite(_) => false,
            Db::Postgres(p) => p.is_closed(),
        }
    }

    /// Runs statements without parameters or results (transaction control).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(p) => p.batch(sql),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<usize> {
        match self {
            Db::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Db::Postgres(p) => p.execute(sql, params),
        }
    }

    /// Every row of a query, each turned into a `T` by `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Param],
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                let mut row = Row(Vec::with_capacity(width));
                while let Some(r) = rows.next()? {
                    row.0.clear();
                    for i in 0..width {
                        row.0.push(Val::from(r.get_ref(i)?));
                    }
                    out.push(f(&row)?);
                }
                Ok(out)
            }
            Db::Postgres(p) => p.query(sql, params, f),
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Param],
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.query(sql, params, f)?.into_iter().next())
    }

    /// The first row of a query, which must exist.
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[Param],
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or_else(|| JournalError {
            message: "the journal returned no row where one was expected".into(),
        })
    }

    /// Starts the transaction the writer groups its pieces in. SQLite takes
    /// the write lock now, so a lock held elsewhere fails here, not mid-group.
    pub fn begin(&self) -> Result<()> {
        self.batch(match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })
    }
}

impl Row {
    fn at(&self, i: usize) -> Result<&Val> {
        self.0.get(i).ok_or_else(|| JournalError {
            message: format!("the journal returned no column {i}"),
        })
    }

    fn wrong(&self, i: usize, wanted: &str) -> JournalError {
        JournalError {
            message: format!(
                "column {i} of a journal row is {:?}, not {wanted}",
                self.0.get(i)
            ),
        }
    }

    pub fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Text(s) => Ok(Some(s)),
            _ => Err(self.wrong(i, "text")),
        }
    }

    pub fn str(&self, i: usize) -> Result<&str> {
        self.opt_str(i)?.ok_or_else(|| self.wrong(i, "text"))
    }

    pub fn string(&self, i: usize) -> Result<String> {
        self.str(i).map(str::to_owned)
    }

    pub fn opt_string(&self, i: usize) -> Result<Option<String>> {
        Ok(self.opt_str(i)?.map(str::to_owned))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Int(n) => Ok(Some(*n)),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.wrong(i, "an integer"))
    }

    pub fn bool(&self, i: usize) -> Result<bool> {
        Ok(self.int(i)? != 0)
    }

    /// Bytes (SQLite may hand text back for a blob column written as text).
    pub fn bytes(&self, i: usize) -> Result<&[u8]> {
        match self.at(i)? {
            Val::Blob(b) => Ok(b),
            Val::Text(s) => Ok(s.as_bytes()),
            _ => Err(self.wrong(i, "bytes")),
        }
    }
}

/// A value that can be a statement parameter, borrowed where it can be.
pub trait ToParam {
    fn to_param(&self) -> Param<'_>;
}

impl ToParam for str {
    fn to_param(&self) -> Param<'_> {
        Param::Text(Cow::Borrowed(self))
    }
}

impl ToParam for String {
    fn to_param(&self) -> Param<'_> {
        Param::Text(Cow::Borrowed(self))
    }
}

impl ToParam for i64 {
    fn to_param(&self) -> Param<'_> {
        Param::Int(*self)
    }
}

impl ToParam for u32 {
    fn to_param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}

impl ToParam for [u8] {
    fn to_param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn to_param(&self) -> Param<'_> {
        self.as_ref().map_or(Param::Null, ToParam::to_param)
    }
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn to_param(&self) -> Param<'_> {
        (**self).to_param()
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Null => ValueRef::Null,
            Param::Int(n) => ValueRef::Integer(*n),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl From<rusqlite::types::ValueRef<'_>> for Val {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(n) => Val::Int(n),
            // The journal stores no floats; keep the value readable anyway.
            ValueRef::Real(f) => Val::Text(f.to_string()),
            ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Val::Blob(b.to_vec()),
        }
    }
}
