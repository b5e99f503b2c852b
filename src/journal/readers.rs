//! Connections for reading the journal (the API, the status page, `/metrics`).
//!
//! A SQLite reader is a file open, cheap enough to make per request. A
//! PostgreSQL connection costs a handshake and a server process, so a few are
//! kept between requests.

use std::ops::Deref;
use std::sync::Mutex;

use super::{Db, Location, Result};

/// Idle PostgreSQL connections kept at most.
const KEEP_IDLE: usize = 8;

pub struct Readers {
    location: Location,
    idle: Mutex<Vec<Db>>,
}

/// A reader connection; back to the pool when dropped.
pub struct Reader<'a> {
    db: Option<Db>,
    pool: &'a Readers,
}

impl Readers {
    pub fn new(location: Location) -> Readers {
        Readers {
            location,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn get(&self) -> Result<Reader<'_>> {
        let pooled = match &self.location {
            Location::File(_) => None,
            Location::Postgres(_) => self.idle.lock().ok().and_then(|mut idle| idle.pop()),
        };
        let db = match pooled {
            Some(db) => db,
            None => self.location.open_reader()?,
        };
        Ok(Reader {
            db: Some(db),
            pool: self,
        })
    }
}

impl Deref for Reader<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        // Only `drop` takes it out.
        self.db
            .as_ref()
            .unwrap_or_else(|| unreachable!("a reader is used after drop"))
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(Db::Postgres(pg)) = self.db.take() else {
            return;
        };
        if pg.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.pool.idle.lock()
            && idle.len() < KEEP_IDLE
        {
            idle.push(Db::Postgres(pg));
        }
    }
}
