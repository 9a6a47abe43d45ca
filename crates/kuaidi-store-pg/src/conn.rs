//! Connections: a small bounded pool of `postgres::Client`s, each with its own cache of prepared statements, and the
//! retry loop that survives a lost connection or a restarted server.
//!
//! Every store operation is one closure run on one connection; when it fails with `ErrorKind::Unavailable` (the
//! connection broke, the server is restarting, a deadlock or serialization failure was detected) the connection is
//! discarded and the whole closure runs again on a fresh one, until `retry_for` has passed. Ingest is one transaction,
//! so a retried ingest either finds its records stored (answered `duplicate`) or stores them: nothing acknowledged is
//! lost, and nothing is stored twice.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use kuaidi_store::{ErrorKind, StoreError};
use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};

/// One connection and what this process keeps about it.
pub(crate) struct Conn {
    pub(crate) client: Client,
    /// Prepared statements by their SQL text, so a hot query is parsed and planned once per connection.
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    /// The prepared statement for `sql`, preparing it on first use.
    pub(crate) fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(|err| pg_error("preparing a statement", err))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// The connections of one store.
pub(crate) struct Pool {
    config: postgres::Config,
    /// Idle connections, ready to use.
    idle: Mutex<PoolState>,
    /// Signalled when a connection is given back or dropped, for callers waiting on a full pool.
    freed: Condvar,
    max: usize,
    retry_for: Duration,
}

struct PoolState {
    idle: Vec<Conn>,
    /// Connections open, idle or in use.
    open: usize,
}

impl Pool {
    pub(crate) fn new(url: &str, max: usize, retry_for: Duration) -> Result<Pool, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|err| {
            StoreError::with_source(
                ErrorKind::Other,
                "the database URL is not valid; expected `postgres://user:password@host:port/database`",
                err,
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("kuaidi");
        }
        Ok(Pool {
            config,
            idle: Mutex::new(PoolState { idle: Vec::new(), open: 0 }),
            freed: Condvar::new(),
            max: max.max(1),
            retry_for,
        })
    }

    /// Host, port and database, for messages; never the password.
    pub(crate) fn describe(&self) -> String {
        describe(&self.config)
    }

    /// Opens a new connection now, without retrying: for start-up, where a wrong URL should fail at once.
    pub(crate) fn connect_once(&self) -> Result<Conn, StoreError> {
        let conn = self.open_connection()?;
        self.lock().open += 1;
        Ok(conn)
    }

    fn open_connection(&self) -> Result<Conn, StoreError> {
        let client = self.config.connect(NoTls).map_err(|err| {
            let kind = match err.code() {
                Some(code)
                    if *code == SqlState::INVALID_PASSWORD
                        || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    ErrorKind::Other
                }
                _ => ErrorKind::Unavailable,
            };
            StoreError::with_source(kind, format!("cannot connect to PostgreSQL at {}", self.describe()), err)
        })?;
        Ok(Conn { client, statements: HashMap::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // The state is a list and a counter, always consistent between statements, so a poisoned lock is usable.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection, or a new one while fewer than `max` are open, or the next one given back.
    fn take(&self) -> Result<Conn, StoreError> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(conn);
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return self.open_connection().inspect_err(|_| self.forget());
            }
            state = self.freed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Returns a healthy connection for reuse.
    pub(crate) fn give_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            drop(conn);
            self.forget();
            return;
        }
        self.lock().idle.push(conn);
        self.freed.notify_one();
    }

    /// Counts a connection as gone.
    fn forget(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }

    /// Runs `work` on a connection, retrying on a fresh connection while the database is unavailable.
    pub(crate) fn with<T>(
        &self,
        what: &str,
        mut work: impl FnMut(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + self.retry_for;
        let mut delay = Duration::from_millis(50);
        loop {
            let res = self.take().and_then(|mut conn| {
                let res = work(&mut conn);
                match &res {
                    // A broken connection, or one whose transaction state is unknown, is not reused.
                    Err(err) if err.kind() == ErrorKind::Unavailable => {
                        drop(conn);
                        self.forget();
                    }
                    _ => self.give_back(conn),
                }
                res
            });
            match res {
                Err(err) if err.kind() == ErrorKind::Unavailable && Instant::now() + delay < deadline => {
                    tracing::warn!(%err, retry_in_ms = delay.as_millis() as u64, "{what}: database unavailable; retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }
}

fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().or(config.get_user()).unwrap_or("postgres");
    format!("`{host}:{port}/{database}`")
}

/// Reduces a driver error to the store's kinds, with context.
pub(crate) fn pg_error(context: &str, err: postgres::Error) -> StoreError {
    let kind = match err.code() {
        None => {
            let io = std::error::Error::source(&err).is_some_and(|source| source.is::<std::io::Error>());
            if err.is_closed() || io {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Other
            }
        }
        Some(code) => {
            let class = &code.code()[..2];
            if class == "08"
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
            {
                ErrorKind::Unavailable
            } else if *code == SqlState::UNIQUE_VIOLATION {
                ErrorKind::Conflict
            } else {
                ErrorKind::Other
            }
        }
    };
    StoreError::with_source(kind, format!("while {context}: {err}"), err)
}
