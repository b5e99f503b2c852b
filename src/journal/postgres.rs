//! The PostgreSQL side of [`super::db::Db`]: a blocking client (the `postgres`
//! crate), prepared statements cached per connection, and the schema's
//! migrations under `migrations/postgres/`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;

use postgres::config::SslMode;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use super::db::{Param, Row, Val};
use super::{JournalError, Result};

/// The PostgreSQL migrations, in order: the same schema as SQLite's, in
/// PostgreSQL's words. A test checks this list against `migrations/postgres/`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001-journal.sql",
        include_str!("../../migrations/postgres/001-journal.sql"),
    ),
    (
        "002-escalation-delivery.sql",
        include_str!("../../migrations/postgres/002-escalation-delivery.sql"),
    ),
    (
        "003-time-indexes.sql",
        include_str!("../../migrations/postgres/003-time-indexes.sql"),
    ),
    (
        "004-leadership.sql",
        include_str!("../../migrations/postgres/004-leadership.sql"),
    ),
    (
        "005-facts.sql",
        include_str!("../../migrations/postgres/005-facts.sql"),
    ),
    (
        "006-outbox.sql",
        include_str!("../../migrations/postgres/006-outbox.sql"),
    ),
    (
        "007-local-writes.sql",
        include_str!("../../migrations/postgres/007-local-writes.sql"),
    ),
];

/// Held while migrating, so that two instances starting together do not
/// both apply the same migration (any fixed number would do).
const MIGRATION_LOCK: i64 = 0x7265_7367_6174_6501;

pub struct Postgres {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
}

impl From<postgres::Error> for JournalError {
    fn from(e: postgres::Error) -> Self {
        JournalError {
            message: describe(&e),
        }
    }
}

/// True for `postgres://` and `postgresql://` journal locations.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl Postgres {
    /// Connects to `url` (libpq's URL form). TLS as libpq's `sslmode` says:
    /// `disable` never, `prefer` (the default) when the server offers it,
    /// `require` always. Unlike libpq's `prefer`/`require`, a certificate is
    /// always verified, against the CAs in `sslrootcert=FILE` (in the URL) or
    /// `$PGSSLROOTCERT`, else the public web roots; the name checked is the
    /// URL's host.
    pub fn connect(url: &str) -> Result<Postgres> {
        let (url, root_cert) = take_param(url, "sslrootcert");
        let mut config: postgres::Config =
            url.parse().map_err(|e: postgres::Error| JournalError {
                message: format!("bad PostgreSQL URL: {e}"),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_application_name().is_none() {
            config.application_name("resgate");
        }
        let connected = if config.get_ssl_mode() == SslMode::Disable {
            config.connect(NoTls)
        } else {
            let root_cert = root_cert.or_else(|| std::env::var("PGSSLROOTCERT").ok());
            config.connect(tls(root_cert.as_deref())?)
        };
        let client = connected.map_err(|e| JournalError {
            message: format!("cannot connect to PostgreSQL: {}", describe(&e)),
        })?;
        Ok(Postgres {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    /// Applies the migrations this journal lacks, under an advisory lock.
    pub fn migrate(&self) -> Result<()> {
        self.batch("CREATE TABLE IF NOT EXISTS resgate_schema (version BIGINT NOT NULL)")?;
        self.execute("SELECT pg_advisory_lock(?1)", &[Param::Int(MIGRATION_LOCK)])?;
        let result = self.migrate_locked();
        let unlock = self.execute(
            "SELECT pg_advisory_unlock(?1)",
            &[Param::Int(MIGRATION_LOCK)],
        );
        result.and(unlock.map(drop))
    }

    fn migrate_locked(&self) -> Result<()> {
        let current = self
            .query("SELECT max(version) FROM resgate_schema", &[], |r| {
                r.opt_int(0)
            })?
            .into_iter()
            .next()
            .flatten()
            .unwrap_or(0);
        super::refuse_newer_schema(current, MIGRATIONS.len())?;
        for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i + 1;
            let script = format!(
                "BEGIN; {sql}\nINSERT INTO resgate_schema (version) VALUES ({version}); COMMIT;"
            );
            if let Err(e) = self.batch(&script) {
                let _ = self.batch("ROLLBACK");
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }

    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let statement = self
            .client
            .borrow_mut()
            .prepare(&dollar_placeholders(sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<usize> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let n = self.client.borrow_mut().execute(&statement, &params)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Param],
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.client.borrow_mut().query(&statement, &params)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut row = Row::default();
        for r in &rows {
            row.0.clear();
            for (i, column) in r.columns().iter().enumerate() {
                row.0.push(value(r, i, column.type_())?);
            }
            out.push(f(&row)?);
        }
        Ok(out)
    }
}

fn value(r: &postgres::Row, i: usize, ty: &Type) -> Result<Val> {
    let v = match *ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Val::Int),
        Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|n| Val::Int(n.into())),
        Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|n| Val::Int(n.into())),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|b| Val::Int(b.into())),
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Val::Blob),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            r.try_get::<_, Option<String>>(i)?.map(Val::Text)
        }
        ref other => {
            return Err(JournalError {
                message: format!(
                    "the journal returned a {other} column, which resgate does not read"
                ),
            });
        }
    };
    Ok(v.unwrap_or(Val::Null))
}

/// The TLS connector: rustls with ring, verifying the server's certificate
/// against `root_cert` (a PEM file of CA certificates) or the web's roots.
fn tls(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| JournalError {
                message: format!("cannot read sslrootcert {path}: {e}"),
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| JournalError {
                    message: format!("bad certificate in sslrootcert {path}: {e}"),
                })?;
                roots.add(cert).map_err(|e| JournalError {
                    message: format!("unusable certificate in sslrootcert {path}: {e}"),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| JournalError {
            message: format!("cannot set up TLS: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The error and its causes: "db error" or "error performing TLS handshake"
/// alone does not say what to fix.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Removes `name=value` from a URL's query (a libpq parameter the client
/// library does not know); the URL without it, and the value.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

/// `?1` → `$1`. The journal's SQL has no `?` inside string literals.
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(n) => match *ty {
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Param::Text(s) => s.as_ref().to_sql(ty, out),
            Param::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, ?12 FROM t WHERE a = ?2"),
            "SELECT $1, $12 FROM t WHERE a = $2"
        );
        assert_eq!(dollar_placeholders("SELECT '?'"), "SELECT '?'");
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        assert_eq!(
            take_param(
                "postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem",
                "sslrootcert"
            ),
            (
                "postgres://u@h/db?sslmode=require".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            take_param("postgres://u@h/db?sslrootcert=/ca.pem", "sslrootcert"),
            ("postgres://u@h/db".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            take_param("postgres://u@h/db", "sslrootcert"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }
}
