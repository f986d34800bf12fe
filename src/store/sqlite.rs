//! The embedded local store: one SQLite database under `DATA_DIR`.
//!
//! [`SqliteStore`] implements the certificate, OAuth session and attestation traits over
//! `DATA_DIR/apuntador.db` (WAL, busy timeout 5 s, mode 0600 in a 0700 directory). Table `certificates` holds
//! certificate records; table `kv` holds sessions and attestation items under the same keys as the
//! DynamoDB sessions table (`oauth#<state>`, `att#<platform>#<device_id>`, ...),
//! each a JSON value with an optional expiry in epoch seconds.
//!
//! Writes go to one writer thread that owns the only write connection and commits them in groups
//! ([`connections`]): every write operation runs whole inside its own savepoint of a `BEGIN IMMEDIATE`
//! transaction (issue-and-supersede too, also guarded by a partial unique index that allows one active
//! record per device), so it is atomic, sees every write queued before it, is stored entirely or not at
//! all, and is answered only after its commit. Reads run on a small pool of read connections on the
//! blocking thread pool, so the async runtime is never blocked. A checkpointer thread copies committed
//! log pages into the database file beside the writer, so the writer does not stop to do it. Reads
//! treat expired items as absent whether or not they were purged yet.
//! This module must not depend on axum, on HTTP or on the AWS backend.

mod connections;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{
    AttestationRecord, AttestationStore, CertificateRecord, CertificateStore, OAuthSession,
    OAuthSessionStore, StoreError, StoreResult, WriteBacklog, timestamp,
};
use crate::config::{Platform, ProviderId};

/// The database file name inside `DATA_DIR`.
pub const DATABASE_FILE: &str = "apuntador.db";

/// How long SQLite waits for a lock held by another connection before reporting busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Expired rows are purged at open and then at most this often, before the next group of writes.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Schema migrations, applied in order; `PRAGMA user_version` counts those already applied.
///
/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: certificate records and the key-value items (sessions and attestation state).
    "CREATE TABLE certificates (
        device_id          TEXT    NOT NULL,
        serial             TEXT    NOT NULL,
        platform           TEXT    NOT NULL,
        issued_at          TEXT    NOT NULL,
        expires_at         TEXT    NOT NULL,
        certificate_pem    TEXT    NOT NULL,
        fingerprint_sha256 TEXT,
        revoked            INTEGER NOT NULL DEFAULT 0,
        revoked_at         TEXT,
        revocation_reason  TEXT,
        ttl                INTEGER NOT NULL,
        PRIMARY KEY (device_id, serial)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX certificates_serial ON certificates (serial);
    CREATE INDEX certificates_ttl ON certificates (ttl);
    CREATE TABLE kv (
        pk         TEXT PRIMARY KEY NOT NULL,
        value      TEXT NOT NULL,
        expires_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;",
    // 2: at most one active certificate per device, enforced by a partial unique index. A database
    // written before it may hold devices with several active records (two concurrent enrolments, or a
    // crash between an insert and the repair step of earlier builds): the newest one is kept — the
    // greatest issued_at (its first 19 characters, whole seconds, so both stored timestamp formats
    // compare correctly), then the greatest serial — and the others are superseded now.
    "UPDATE certificates
        SET revoked = 1,
            revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
            revocation_reason = 'superseded'
      WHERE revoked = 0
        AND EXISTS (
            SELECT 1 FROM certificates AS newer
             WHERE newer.device_id = certificates.device_id
               AND newer.revoked = 0
               AND (substr(newer.issued_at, 1, 19) > substr(certificates.issued_at, 1, 19)
                    OR (substr(newer.issued_at, 1, 19) = substr(certificates.issued_at, 1, 19)
                        AND newer.serial > certificates.serial)));
    CREATE UNIQUE INDEX certificates_one_active ON certificates (device_id) WHERE revoked = 0;",
    // 3: `kv` as a rowid table. Its rows are a few hundred bytes (a session is about 400 bytes of JSON)
    // and its keys random (state tokens), so in the first schema's WITHOUT ROWID table every insert
    // landed on a different leaf of about eight rows, splitting one every few inserts: a group of 64
    // session writes added about 256 pages to the log. In a rowid table new rows are appended to the
    // table's last page and only the primary key's index, whose entries are the key and a row id,
    // takes the random inserts, so the writer logs, checkpoints and reads back far fewer pages per
    // write. The rows are copied over as they are.
    "CREATE TABLE kv_rowid (
        pk         TEXT PRIMARY KEY NOT NULL,
        value      TEXT NOT NULL,
        expires_at INTEGER
    );
    INSERT INTO kv_rowid (pk, value, expires_at) SELECT pk, value, expires_at FROM kv;
    DROP TABLE kv;
    ALTER TABLE kv_rowid RENAME TO kv;
    CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;",
];

/// The kv key of the attestation generation counter.
const GENERATION_KEY: &str = "meta#attestation-generation";

/// The certificate columns, in the order [`certificate_from_row`] reads them.
const CERTIFICATE_COLUMNS: &str = "device_id, serial, platform, issued_at, expires_at, certificate_pem, \
     fingerprint_sha256, revoked, revoked_at, revocation_reason, ttl";

/// Inserts a certificate row; the values follow [`CERTIFICATE_COLUMNS`].
const INSERT_CERTIFICATE: &str = "INSERT INTO certificates (device_id, serial, platform, issued_at, \
     expires_at, certificate_pem, fingerprint_sha256, revoked, revoked_at, revocation_reason, ttl) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// The SQLite certificate, OAuth session and attestation store.
///
/// Cheap to clone: clones share the writer thread and the read connections. One process per
/// `DATA_DIR`. The writer and checkpointer threads end when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    connections: Arc<connections::Connections>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The writes waiting for the writer thread, against how many may wait: while it is full a write
    /// is refused with [`StoreError::Busy`].
    pub fn write_backlog(&self) -> WriteBacklog {
        self.connections.backlog()
    }

    /// Opens (creating when missing) `data_dir/apuntador.db`, applies pending migrations and purges
    /// expired rows.
    ///
    /// `data_dir` is created with mode 0700, or tightened to it when it exists; the database file is
    /// created with mode 0600 before SQLite opens it, so the `-wal` and `-shm` files inherit that mode.
    pub async fn open(data_dir: &Path) -> StoreResult<SqliteStore> {
        let data_dir = data_dir.to_path_buf();
        let path = data_dir.join(DATABASE_FILE);
        let db_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_database(&data_dir, &db_path))
            .await
            .map_err(|_| StoreError::Internal("opening the database: the task failed".into()))??;
        Ok(SqliteStore {
            connections: Arc::new(connections::Connections::start(conn, &path)?),
            path,
        })
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the write `op` atomically on the writer thread (see [`connections`]): stored entirely and
    /// committed when it returns `Ok`, rolled back when it returns an error.
    async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.connections.write(op).await
    }

    /// Runs the read `op` on a read connection.
    async fn read<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.connections.read(op).await
    }
}

/// Creates the directory and the file with their modes, opens, configures and migrates the database;
/// returns the write connection.
fn open_database(data_dir: &Path, path: &Path) -> StoreResult<Connection> {
    super::files::ensure_private_dir(data_dir)
        .map_err(|error| io_error("creating the data directory", &error))?;
    create_private_file(path).map_err(|error| io_error("creating the database file", &error))?;
    let mut conn = Connection::open(path).map_err(sql_error("opening the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_error("setting the busy timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error("enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "enabling WAL: the journal mode stayed {mode}"
        )));
    }
    migrate(&mut conn)?;
    purge_expired(&conn, Utc::now())?;
    Ok(conn)
}

/// Creates `path` with mode 0600 if missing and tightens it (and any `-wal`/`-shm` file) to 0600.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(error)
                    if error.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Applies the migrations past `PRAGMA user_version` in one transaction.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("starting the migration"))?;
    let applied: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_error("reading the schema version"))?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Internal(format!(
            "the database schema version {applied} is newer than this build supports ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(migration)
            .map_err(sql_error("applying a migration"))?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(sql_error("recording the schema version"))?;
    }
    tx.commit().map_err(sql_error("committing the migration"))
}

/// Deletes expired kv rows and certificate records past their ttl (both are absent to readers already).
fn purge_expired(conn: &Connection, now: DateTime<Utc>) -> StoreResult<()> {
    let now = now.timestamp();
    conn.execute(
        "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )
    .map_err(sql_error("purging expired items"))?;
    conn.execute("DELETE FROM certificates WHERE ttl <= ?1", [now])
        .map_err(sql_error("purging expired certificate records"))?;
    Ok(())
}

/// Maps a rusqlite error to a [`StoreError`] whose message names the operation, never a value.
///
/// Busy or locked → [`StoreError::Unavailable`]; anything else → [`StoreError::Internal`].
fn sql_error(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("{context}: the database is locked"))
        }
        // SQLite's messages name tables, columns and error codes, never bound values.
        _ => StoreError::Internal(format!("{context}: {error}")),
    }
}

/// As [`sql_error`], for an insert conditional on its key being absent: a primary key or unique
/// constraint violation is the failed condition, [`StoreError::Conflict`].
fn conditional_insert_error(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            ) =>
        {
            StoreError::Conflict(format!("{context}: the key already exists"))
        }
        _ => sql_error(context)(error),
    }
}

/// Maps an I/O error to [`StoreError::Internal`].
fn io_error(context: &str, error: &std::io::Error) -> StoreError {
    StoreError::Internal(format!("{context}: {error}"))
}

/// Maps a JSON error without its text, which may quote a stored value.
fn json_error(context: &str, error: &serde_json::Error) -> StoreError {
    StoreError::Internal(format!(
        "{context}: invalid JSON ({:?} error at line {}, column {})",
        error.classify(),
        error.line(),
        error.column()
    ))
}

/// Parses a stored timestamp, naming only the field when it is unreadable.
fn parse_time(text: &str, field: &str) -> StoreResult<DateTime<Utc>> {
    timestamp::parse(text)
        .ok_or_else(|| StoreError::Internal(format!("unreadable timestamp in {field}")))
}

/// Converts a TTL to a chrono delta, saturating absurdly large values.
fn delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX)
}

/// Epoch seconds `ttl` after `from`, saturating.
fn epoch_after(from: DateTime<Utc>, ttl: Duration) -> i64 {
    from.timestamp()
        .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------------

/// Reads one certificate row selected with [`CERTIFICATE_COLUMNS`].
fn certificate_from_row(row: &Row<'_>) -> rusqlite::Result<RawCertificate> {
    Ok(RawCertificate {
        device_id: row.get(0)?,
        serial: row.get(1)?,
        platform: row.get(2)?,
        issued_at: row.get(3)?,
        expires_at: row.get(4)?,
        certificate_pem: row.get(5)?,
        fingerprint_sha256: row.get(6)?,
        revoked: row.get(7)?,
        revoked_at: row.get(8)?,
        revocation_reason: row.get(9)?,
        ttl: row.get(10)?,
    })
}

/// A certificate row as text, before its platform and timestamps are parsed.
struct RawCertificate {
    device_id: String,
    serial: String,
    platform: String,
    issued_at: String,
    expires_at: String,
    certificate_pem: String,
    fingerprint_sha256: Option<String>,
    revoked: bool,
    revoked_at: Option<String>,
    revocation_reason: Option<String>,
    ttl: i64,
}

impl RawCertificate {
    fn parse(self) -> StoreResult<CertificateRecord> {
        let platform = Platform::parse(&self.platform).ok_or_else(|| {
            StoreError::Internal("unknown platform in a certificate record".into())
        })?;
        Ok(CertificateRecord {
            device_id: self.device_id,
            serial: self.serial,
            platform,
            issued_at: parse_time(&self.issued_at, "certificates.issued_at")?,
            expires_at: parse_time(&self.expires_at, "certificates.expires_at")?,
            certificate_pem: self.certificate_pem,
            fingerprint_sha256: self.fingerprint_sha256,
            revoked: self.revoked,
            revoked_at: self
                .revoked_at
                .as_deref()
                .map(|text| parse_time(text, "certificates.revoked_at"))
                .transpose()?,
            revocation_reason: self.revocation_reason,
            ttl: self.ttl,
        })
    }
}

/// The sorted serials of the device's active records (not revoked; rows past their ttl were deleted
/// by the caller's transaction).
fn active_serials(tx: &Connection, device_id: &str) -> StoreResult<Vec<String>> {
    let mut statement = tx
        .prepare_cached(
            "SELECT serial FROM certificates WHERE device_id = ?1 AND revoked = 0 ORDER BY serial",
        )
        .map_err(sql_error("listing active certificate records"))?;
    let rows = statement
        .query_map([device_id], |row| row.get::<_, String>(0))
        .map_err(sql_error("listing active certificate records"))?;
    rows.map(|row| row.map_err(sql_error("listing active certificate records")))
        .collect()
}

/// Revokes the live, active record `(device_id, serial)`; returns whether it was revoked.
fn revoke_one(
    tx: &Connection,
    device_id: &str,
    serial: &str,
    reason: &str,
    at: &str,
    now: i64,
) -> StoreResult<bool> {
    let changed = tx
        .execute(
            "UPDATE certificates SET revoked = 1, revoked_at = ?3, revocation_reason = ?4
             WHERE device_id = ?1 AND serial = ?2 AND revoked = 0 AND ttl > ?5",
            params![device_id, serial, at, reason, now],
        )
        .map_err(sql_error("revoking a certificate record"))?;
    Ok(changed == 1)
}

#[async_trait]
impl CertificateStore for SqliteStore {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        let (device_id, serial) = (device_id.to_owned(), serial.to_owned());
        let now = Utc::now().timestamp();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                     WHERE device_id = ?1 AND serial = ?2 AND ttl > ?3"
                ),
                params![device_id, serial, now],
                certificate_from_row,
            )
            .optional()
            .map_err(sql_error("reading a certificate record"))?
            .map(RawCertificate::parse)
            .transpose()
        })
        .await
    }

    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
        let device_id = device_id.to_owned();
        let now = Utc::now().timestamp();
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE device_id = ?1 AND ttl > ?2"
                ))
                .map_err(sql_error("listing certificate records"))?;
            let rows = statement
                .query_map(params![device_id, now], certificate_from_row)
                .map_err(sql_error("listing certificate records"))?;
            rows.map(|row| row.map_err(sql_error("listing certificate records"))?.parse())
                .collect()
        })
        .await
    }

    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let new = new.clone();
        let mut supersede = supersede.to_vec();
        // Naming a serial twice supersedes it once.
        supersede.sort_unstable();
        supersede.dedup();
        let reason = reason.to_owned();
        let at = timestamp::format(at);
        let now = Utc::now().timestamp();
        self.write(move |tx| {
            // A record past its ttl is absent: its serial may be taken again, and it no longer holds
            // the device's one active slot of the `certificates_one_active` index.
            tx.execute(
                "DELETE FROM certificates WHERE (serial = ?1 OR device_id = ?2) AND ttl <= ?3",
                params![new.serial, new.device_id, now],
            )
            .map_err(sql_error("issuing a certificate"))?;
            // The caller must supersede every active record of the device, no more and no fewer.
            let active = active_serials(tx, &new.device_id)?;
            if active != supersede {
                return Err(StoreError::Conflict(
                    "issuing a certificate: the device's active records changed".into(),
                ));
            }
            for serial in &supersede {
                if !revoke_one(tx, &new.device_id, serial, &reason, &at, now)? {
                    // The error rolls this write back to its savepoint: nothing of it is stored.
                    return Err(StoreError::Conflict(
                        "issuing a certificate: a superseded record is no longer active".into(),
                    ));
                }
            }
            // The partial unique index on active records guards this insert as well: a second active
            // record of the device is a constraint violation, reported as a conflict.
            tx.execute(
                INSERT_CERTIFICATE,
                params![
                    new.device_id,
                    new.serial,
                    new.platform.as_str(),
                    timestamp::format(new.issued_at),
                    timestamp::format(new.expires_at),
                    new.certificate_pem,
                    new.fingerprint_sha256,
                    new.revoked,
                    new.revoked_at.map(timestamp::format),
                    new.revocation_reason,
                    new.ttl,
                ],
            )
            .map_err(conditional_insert_error("issuing a certificate"))?;
            Ok(())
        })
        .await
    }

    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let device_id = device_id.to_owned();
        let serials = serials.to_vec();
        let reason = reason.to_owned();
        let at = timestamp::format(at);
        let now = Utc::now().timestamp();
        self.write(move |tx| {
            let mut revoked = 0;
            for serial in &serials {
                if revoke_one(tx, &device_id, serial, &reason, &at, now)? {
                    revoked += 1;
                }
            }
            Ok(revoked)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        ping(self).await
    }
}

/// A trivial round trip through a read connection, once the writer thread is known to be running.
async fn ping(store: &SqliteStore) -> StoreResult<()> {
    if !store.connections.writer_alive() {
        return Err(StoreError::Internal(
            "the database writer thread has stopped".into(),
        ));
    }
    store
        .read(|conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map(drop)
                .map_err(sql_error("pinging the database"))
        })
        .await
}

// ---------------------------------------------------------------------------------------------------
// The kv table
// ---------------------------------------------------------------------------------------------------

/// The live value under `pk`, if any.
fn kv_get(conn: &Connection, pk: &str, now: i64) -> StoreResult<Option<String>> {
    conn.prepare_cached(
        "SELECT value FROM kv WHERE pk = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    )
    .and_then(|mut select| select.query_row(params![pk, now], |row| row.get(0)))
    .optional()
    .map_err(sql_error("reading an item"))
}

/// Writes `value` under `pk`, replacing any row.
fn kv_put(conn: &Connection, pk: &str, value: &str, expires_at: Option<i64>) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO kv (pk, value, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (pk) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
    )
    .and_then(|mut upsert| upsert.execute(params![pk, value, expires_at]))
    .map(drop)
    .map_err(sql_error("writing an item"))
}

/// Deletes the row under `pk` when it has expired, so that a conditional insert sees it as absent.
fn kv_delete_expired(conn: &Connection, pk: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM kv WHERE pk = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
    )
    .and_then(|mut delete| delete.execute(params![pk, now]))
    .map(drop)
    .map_err(sql_error("replacing an expired item"))
}

/// Deletes the row under `pk`.
fn kv_delete(conn: &Connection, pk: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM kv WHERE pk = ?1")
        .and_then(|mut delete| delete.execute([pk]))
        .map(drop)
        .map_err(sql_error("deleting an item"))
}

/// Serialises a kv value.
fn to_json<T: Serialize>(value: &T, context: &str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| json_error(context, &error))
}

/// Deserialises a kv value.
fn from_json<T: for<'de> Deserialize<'de>>(text: &str, context: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|error| json_error(context, &error))
}

// ---------------------------------------------------------------------------------------------------
// OAuth sessions: `oauth#<state>`
// ---------------------------------------------------------------------------------------------------

/// The JSON of an `oauth#<state>` item: the fields of an [`OAuthSession`].
///
/// Holds the PKCE verifier in clear (token exchange compares it), so it has no `Debug`.
#[derive(Serialize, Deserialize)]
struct SessionItem {
    state: String,
    provider: String,
    code_verifier: String,
    redirect_uri: String,
    provider_redirect_uri: String,
    client_state: Option<String>,
    created_at: String,
    expires_at: String,
}

impl SessionItem {
    fn new(session: &OAuthSession) -> SessionItem {
        SessionItem {
            state: session.state.clone(),
            provider: session.provider.as_str().to_owned(),
            code_verifier: session.code_verifier.expose_secret().to_owned(),
            redirect_uri: session.redirect_uri.clone(),
            provider_redirect_uri: session.provider_redirect_uri.clone(),
            client_state: session.client_state.clone(),
            created_at: timestamp::format(session.created_at),
            expires_at: timestamp::format(session.expires_at),
        }
    }

    fn into_session(self) -> StoreResult<OAuthSession> {
        let provider = ProviderId::parse(&self.provider)
            .ok_or_else(|| StoreError::Internal("unknown provider in a session".into()))?;
        Ok(OAuthSession {
            state: self.state,
            provider,
            code_verifier: SecretString::from(self.code_verifier),
            redirect_uri: self.redirect_uri,
            provider_redirect_uri: self.provider_redirect_uri,
            client_state: self.client_state,
            created_at: parse_time(&self.created_at, "session created_at")?,
            expires_at: parse_time(&self.expires_at, "session expires_at")?,
        })
    }
}

/// The kv key of a session.
fn session_key(state: &str) -> String {
    format!("oauth#{state}")
}

/// Parses a session value; `None` when it is past its own `expires_at`.
fn live_session(value: Option<String>, now: DateTime<Utc>) -> StoreResult<Option<OAuthSession>> {
    let Some(value) = value else { return Ok(None) };
    let session = from_json::<SessionItem>(&value, "reading a session")?.into_session()?;
    Ok((session.expires_at > now).then_some(session))
}

#[async_trait]
impl OAuthSessionStore for SqliteStore {
    async fn create(&self, session: &OAuthSession) -> StoreResult<()> {
        let pk = session_key(&session.state);
        let value = to_json(&SessionItem::new(session), "writing a session")?;
        let expires_at = session.expires_at.timestamp();
        let now = Utc::now().timestamp();
        self.write(move |tx| {
            kv_delete_expired(tx, &pk, now)?;
            tx.prepare_cached("INSERT INTO kv (pk, value, expires_at) VALUES (?1, ?2, ?3)")
                .and_then(|mut insert| insert.execute(params![pk, value, expires_at]))
                .map_err(conditional_insert_error("creating a session"))?;
            Ok(())
        })
        .await
    }

    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let pk = session_key(state);
        let now = Utc::now();
        let value = self
            .read(move |conn| kv_get(conn, &pk, now.timestamp()))
            .await?;
        live_session(value, now)
    }

    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let pk = session_key(state);
        let now = Utc::now();
        let value = self
            .write(move |tx| {
                let value = kv_get(tx, &pk, now.timestamp())?;
                kv_delete(tx, &pk)?;
                Ok(value)
            })
            .await?;
        live_session(value, now)
    }

    async fn delete(&self, state: &str) -> StoreResult<()> {
        let pk = session_key(state);
        self.write(move |conn| kv_delete(conn, &pk)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        ping(self).await
    }
}

// ---------------------------------------------------------------------------------------------------
// Attestation: `att#…`, `evidence#…`, `dbind#…`, `rate#…`, `meta#attestation-generation`
// ---------------------------------------------------------------------------------------------------

/// The JSON of an `att#<platform>#<device_id>` item.
#[derive(Serialize, Deserialize)]
struct ResultItem {
    status: String,
    attestation_id: Option<String>,
    verified_at: String,
    generation: u64,
    consumed: bool,
    response: serde_json::Value,
}

impl ResultItem {
    fn new(record: &AttestationRecord) -> ResultItem {
        ResultItem {
            status: record.status.clone(),
            attestation_id: record.attestation_id.clone(),
            verified_at: timestamp::format(record.verified_at),
            generation: record.generation,
            consumed: record.consumed,
            response: record.response.clone(),
        }
    }

    fn into_record(self, platform: Platform, device_id: String) -> StoreResult<AttestationRecord> {
        Ok(AttestationRecord {
            platform,
            device_id,
            status: self.status,
            attestation_id: self.attestation_id,
            verified_at: parse_time(&self.verified_at, "attestation verified_at")?,
            generation: self.generation,
            consumed: self.consumed,
            response: self.response,
        })
    }
}

/// The JSON of an `evidence#<platform>#<sha256>` item.
#[derive(Serialize, Deserialize)]
struct EvidenceItem {
    first_seen: String,
}

/// The JSON of a `dbind#<device_id>` item.
#[derive(Serialize, Deserialize)]
struct BindingItem {
    fingerprint: String,
    bound_at: String,
}

/// The JSON of a `rate#…` item.
#[derive(Serialize, Deserialize)]
struct RateItem {
    count: u64,
}

/// The JSON of the `meta#attestation-generation` item.
#[derive(Serialize, Deserialize)]
struct GenerationItem {
    generation: u64,
}

/// The kv key of the latest result of (platform, device).
fn result_key(platform: Platform, device_id: &str) -> String {
    format!("att#{}#{device_id}", platform.as_str())
}

/// The kv key of a binding.
fn binding_key(device_id: &str) -> String {
    format!("dbind#{device_id}")
}

/// The kv key of a rate counter: the caller's key (for desktop attestation
/// `rate#desktop#<device_id>#<epoch hour>`), prefixed with `rate#` only when it lacks it.
pub fn rate_key(key: &str) -> String {
    if key.starts_with("rate#") {
        key.to_owned()
    } else {
        format!("rate#{key}")
    }
}

/// Reads the generation counter (0 when absent).
fn read_generation(conn: &Connection) -> StoreResult<u64> {
    kv_get(conn, GENERATION_KEY, i64::MIN)?
        .map(|value| from_json::<GenerationItem>(&value, "reading the attestation generation"))
        .transpose()
        .map(|item| item.map_or(0, |item| item.generation))
}

/// Reads a binding.
fn read_binding(conn: &Connection, pk: &str) -> StoreResult<Option<String>> {
    kv_get(conn, pk, i64::MIN)?
        .map(|value| {
            from_json::<BindingItem>(&value, "reading a binding").map(|item| item.fingerprint)
        })
        .transpose()
}

/// Whether `item` may be consumed now by enrolment.
fn consumable(
    item: &ResultItem,
    attestation_id: &str,
    generation: u64,
    max_age: Duration,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let id_matches = item
        .attestation_id
        .as_deref()
        .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(attestation_id.as_bytes())));
    if !(item.status == "valid" && !item.consumed && item.generation == generation && id_matches) {
        return Ok(false);
    }
    let verified_at = parse_time(&item.verified_at, "attestation verified_at")?;
    Ok(now.signed_duration_since(verified_at) <= delta(max_age))
}

#[async_trait]
impl AttestationStore for SqliteStore {
    async fn generation(&self) -> StoreResult<u64> {
        self.read(read_generation).await
    }

    async fn bump_generation(&self) -> StoreResult<u64> {
        self.write(|tx| {
            let generation = read_generation(tx)?.saturating_add(1);
            let value = to_json(
                &GenerationItem { generation },
                "writing the attestation generation",
            )?;
            kv_put(tx, GENERATION_KEY, &value, None)?;
            Ok(generation)
        })
        .await
    }

    async fn put_result(&self, record: &AttestationRecord, ttl: Duration) -> StoreResult<()> {
        let pk = result_key(record.platform, &record.device_id);
        let value = to_json(&ResultItem::new(record), "writing an attestation result")?;
        // The item lives until verified_at + ttl.
        let expires_at = epoch_after(record.verified_at, ttl);
        self.write(move |conn| kv_put(conn, &pk, &value, Some(expires_at)))
            .await
    }

    async fn get_result(
        &self,
        platform: Platform,
        device_id: &str,
    ) -> StoreResult<Option<AttestationRecord>> {
        let pk = result_key(platform, device_id);
        let now = Utc::now().timestamp();
        let value = self.read(move |conn| kv_get(conn, &pk, now)).await?;
        value
            .map(|value| {
                from_json::<ResultItem>(&value, "reading an attestation result")?
                    .into_record(platform, device_id.to_owned())
            })
            .transpose()
    }

    async fn consume_result(
        &self,
        platform: Platform,
        device_id: &str,
        attestation_id: &str,
        generation: u64,
        max_age: Duration,
    ) -> StoreResult<bool> {
        let pk = result_key(platform, device_id);
        let attestation_id = attestation_id.to_owned();
        let now = Utc::now();
        self.write(move |tx| {
            let Some(value) = kv_get(tx, &pk, now.timestamp())? else {
                return Ok(false);
            };
            let mut item = from_json::<ResultItem>(&value, "reading an attestation result")?;
            if !consumable(&item, &attestation_id, generation, max_age, now)? {
                return Ok(false);
            }
            item.consumed = true;
            let value = to_json(&item, "writing an attestation result")?;
            // Only the value changes: the item keeps its expiry.
            tx.execute("UPDATE kv SET value = ?2 WHERE pk = ?1", params![pk, value])
                .map_err(sql_error("consuming an attestation result"))?;
            Ok(true)
        })
        .await
    }

    async fn delete_results(&self, device_id: &str, platform: Option<Platform>) -> StoreResult<()> {
        let platforms = match platform {
            Some(platform) => vec![platform],
            None => vec![
                Platform::Android,
                Platform::Ios,
                Platform::Desktop,
                Platform::Web,
            ],
        };
        let keys: Vec<String> = platforms
            .into_iter()
            .map(|platform| result_key(platform, device_id))
            .collect();
        self.write(move |tx| {
            for pk in &keys {
                kv_delete(tx, pk)?;
            }
            Ok(())
        })
        .await
    }

    async fn record_evidence(
        &self,
        platform: Platform,
        sha256_hex: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let pk = format!("evidence#{}#{sha256_hex}", platform.as_str());
        let now = Utc::now().trunc_subsecs(0);
        let value = to_json(
            &EvidenceItem {
                first_seen: timestamp::format(now),
            },
            "writing evidence",
        )?;
        let expires_at = epoch_after(now, ttl);
        self.write(move |tx| {
            kv_delete_expired(tx, &pk, now.timestamp())?;
            let inserted = tx
                .execute(
                    "INSERT INTO kv (pk, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (pk) DO NOTHING",
                    params![pk, value, expires_at],
                )
                .map_err(sql_error("recording evidence"))?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn get_binding(&self, device_id: &str) -> StoreResult<Option<String>> {
        let pk = binding_key(device_id);
        self.read(move |conn| read_binding(conn, &pk)).await
    }

    async fn bind_if_absent(&self, device_id: &str, fingerprint: &str) -> StoreResult<String> {
        let pk = binding_key(device_id);
        let item = BindingItem {
            fingerprint: fingerprint.to_owned(),
            bound_at: timestamp::format(Utc::now()),
        };
        let value = to_json(&item, "writing a binding")?;
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO kv (pk, value, expires_at) VALUES (?1, ?2, NULL) ON CONFLICT (pk) DO NOTHING",
                params![pk, value],
            )
            .map_err(sql_error("binding a device"))?;
            let bound = read_binding(tx, &pk)?.ok_or_else(|| {
                StoreError::Internal("binding a device: the binding vanished".into())
            })?;
            Ok(bound)
        })
        .await
    }

    async fn delete_binding(&self, device_id: &str) -> StoreResult<()> {
        let pk = binding_key(device_id);
        self.write(move |conn| kv_delete(conn, &pk)).await
    }

    async fn increment_rate(&self, key: &str, window_end: DateTime<Utc>) -> StoreResult<u64> {
        let pk = rate_key(key);
        // Kept until the window's end plus one hour.
        let expires_at = window_end.timestamp().saturating_add(3600);
        let now = Utc::now().timestamp();
        self.write(move |tx| {
            let previous = kv_get(tx, &pk, now)?
                .map(|value| from_json::<RateItem>(&value, "reading a rate counter"))
                .transpose()?
                .map_or(0, |item| item.count);
            let count = previous.saturating_add(1);
            let value = to_json(&RateItem { count }, "writing a rate counter")?;
            kv_put(tx, &pk, &value, Some(expires_at))?;
            Ok(count)
        })
        .await
    }
}
