//! The SQLite database of local mode: file modes, migrations, reopening, purging, the
//! previous service's timestamps, and serial uniqueness across devices on the local backends.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apuntador::config::Platform;
use apuntador::store::memory::MemoryStore;
use apuntador::store::sqlite::{DATABASE_FILE, SqliteStore};
use apuntador::store::{AttestationStore, CertificateStore, OAuthSessionStore, StoreError};
use chrono::TimeDelta;
use tempfile::TempDir;

use crate::store_contract::{
    CACHE_TTL, assert_conflict, certificate, now, session, unique, valid_result,
};

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn raw_connection(data_dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(data_dir.join(DATABASE_FILE)).expect("raw open");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn
}

fn user_version(data_dir: &Path) -> i64 {
    raw_connection(data_dir)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version")
}

fn kv_rows(data_dir: &Path, pk: &str) -> i64 {
    raw_connection(data_dir)
        .query_row("SELECT COUNT(*) FROM kv WHERE pk = ?1", [pk], |row| {
            row.get(0)
        })
        .expect("count")
}

#[tokio::test]
async fn open_creates_the_data_dir_with_mode_0700_and_the_database_with_mode_0600() {
    let root = TempDir::new().expect("temporary directory");
    let data_dir = root.path().join("nested").join("data");

    let store = SqliteStore::open(&data_dir).await.expect("open");
    let bound = store
        .bind_if_absent(&unique("device"), &"a".repeat(64))
        .await
        .expect("write");

    assert_eq!(bound, "a".repeat(64));
    assert_eq!(mode_of(&data_dir), 0o700);
    assert_eq!(mode_of(&data_dir.join(DATABASE_FILE)), 0o600);
    assert_eq!(store.path(), data_dir.join(DATABASE_FILE));
    let wal = data_dir.join(format!("{DATABASE_FILE}-wal"));
    assert!(wal.exists(), "the database runs in WAL mode");
    assert_eq!(mode_of(&wal), 0o600);
}

#[tokio::test]
async fn open_tightens_an_existing_data_dir_and_database_file() {
    let root = TempDir::new().expect("temporary directory");
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).expect("mkdir");
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let file = data_dir.join(DATABASE_FILE);
    std::fs::write(&file, b"").expect("touch");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    SqliteStore::open(&data_dir).await.expect("open");

    assert_eq!(mode_of(&data_dir), 0o700);
    assert_eq!(mode_of(&file), 0o600);
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_database() {
    let root = TempDir::new().expect("temporary directory");
    let device = unique("device");
    let record = certificate(&device);
    let live = session(TimeDelta::minutes(10));
    let result = valid_result(Platform::Android, &device);
    {
        let store = SqliteStore::open(root.path()).await.expect("open");
        store
            .issue(&record, &[], "superseded", now())
            .await
            .expect("issue");
        store.create(&live).await.expect("create");
        store
            .put_result(&result, CACHE_TTL)
            .await
            .expect("put_result");
        store
            .bind_if_absent(&device, &"b".repeat(64))
            .await
            .expect("bind");
        store.bump_generation().await.expect("bump");
    }

    let store = SqliteStore::open(root.path()).await.expect("reopen");

    assert_eq!(
        store.get(&device, &record.serial).await.expect("get"),
        Some(record)
    );
    assert!(store.consume(&live.state).await.expect("consume").is_some());
    assert_eq!(
        store
            .get_result(Platform::Android, &device)
            .await
            .expect("get"),
        Some(result)
    );
    assert_eq!(
        store.get_binding(&device).await.expect("binding"),
        Some("b".repeat(64))
    );
    assert_eq!(store.generation().await.expect("generation"), 1);
}

#[tokio::test]
async fn reopening_the_database_applies_no_migration_twice() {
    let root = TempDir::new().expect("temporary directory");
    drop(SqliteStore::open(root.path()).await.expect("open"));
    let version = user_version(root.path());

    drop(SqliteStore::open(root.path()).await.expect("reopen"));
    drop(SqliteStore::open(root.path()).await.expect("reopen again"));

    assert!(version >= 1, "the first open applies the migrations");
    assert_eq!(user_version(root.path()), version);
}

#[tokio::test]
async fn open_refuses_a_database_with_a_newer_schema() {
    let root = TempDir::new().expect("temporary directory");
    drop(SqliteStore::open(root.path()).await.expect("open"));
    raw_connection(root.path())
        .pragma_update(None, "user_version", 999)
        .expect("bump version");

    let result = SqliteStore::open(root.path()).await;

    assert!(
        matches!(result, Err(StoreError::Internal(_))),
        "got {result:?}"
    );
}

#[tokio::test]
async fn open_purges_expired_items_and_keeps_live_ones() {
    let root = TempDir::new().expect("temporary directory");
    let expired = session(-TimeDelta::minutes(1));
    let live = session(TimeDelta::minutes(10));
    let device = unique("device");
    {
        let store = SqliteStore::open(root.path()).await.expect("open");
        store.create(&expired).await.expect("create");
        store.create(&live).await.expect("create");
        store
            .bind_if_absent(&device, &"c".repeat(64))
            .await
            .expect("bind");
    }
    assert_eq!(kv_rows(root.path(), &format!("oauth#{}", expired.state)), 1);

    drop(SqliteStore::open(root.path()).await.expect("reopen"));

    assert_eq!(kv_rows(root.path(), &format!("oauth#{}", expired.state)), 0);
    assert_eq!(kv_rows(root.path(), &format!("oauth#{}", live.state)), 1);
    assert_eq!(kv_rows(root.path(), &format!("dbind#{device}")), 1);
}

#[tokio::test]
async fn attestation_items_use_the_keys_of_the_sessions_table() {
    let root = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(root.path()).await.expect("open");
    let device = unique("device");
    let hash = "f".repeat(64);
    store
        .put_result(&valid_result(Platform::Ios, &device), CACHE_TTL)
        .await
        .expect("put");
    store
        .record_evidence(Platform::Ios, &hash, CACHE_TTL)
        .await
        .expect("evidence");
    store
        .bind_if_absent(&device, &"d".repeat(64))
        .await
        .expect("bind");
    store.bump_generation().await.expect("bump");
    let window_end = now() + TimeDelta::hours(1);
    store
        .increment_rate(&format!("rate#desktop#{device}#1"), window_end)
        .await
        .expect("rate");
    store
        .increment_rate(&format!("desktop#{device}#2"), window_end)
        .await
        .expect("rate");

    for pk in [
        format!("att#ios#{device}"),
        format!("evidence#ios#{hash}"),
        format!("dbind#{device}"),
        "meta#attestation-generation".to_owned(),
        format!("rate#desktop#{device}#1"),
        format!("rate#desktop#{device}#2"),
    ] {
        assert_eq!(kv_rows(root.path(), &pk), 1, "{pk}");
    }
}

#[tokio::test]
async fn certificate_records_written_by_the_previous_service_are_read() {
    let root = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(root.path()).await.expect("open");
    let device = unique("device");
    let ttl = (now() + TimeDelta::days(60)).timestamp();
    raw_connection(root.path())
        .execute(
            "INSERT INTO certificates (device_id, serial, platform, issued_at, expires_at,
                certificate_pem, fingerprint_sha256, revoked, revoked_at, revocation_reason, ttl)
             VALUES (?1, '0000000000000000000000000000ABCD', 'Android',
                '2026-11-28T06:37:46.224347+0000', '2026-12-28T06:37:46+0000',
                'PEM', NULL, 1, '2026-11-29T00:00:00.5+0000', 'superseded', ?2)",
            rusqlite::params![device, ttl],
        )
        .expect("insert");

    let record = store
        .get(&device, "0000000000000000000000000000ABCD")
        .await
        .expect("get")
        .expect("present");

    assert_eq!(record.platform, Platform::Android);
    assert_eq!(
        record.issued_at.to_rfc3339(),
        "2026-11-28T06:37:46.224347+00:00"
    );
    assert_eq!(record.expires_at.to_rfc3339(), "2026-12-28T06:37:46+00:00");
    assert_eq!(
        record.revoked_at.map(|at| at.to_rfc3339()),
        Some("2026-11-29T00:00:00.500+00:00".to_owned())
    );
    assert_eq!(record.fingerprint_sha256, None);
    assert!(record.revoked);
}

#[tokio::test]
async fn timestamps_are_stored_as_rfc_3339_with_z_and_whole_seconds() {
    let root = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(root.path()).await.expect("open");
    let device = unique("device");
    let record = certificate(&device);
    store
        .issue(&record, &[], "superseded", now())
        .await
        .expect("issue");

    let issued_at: String = raw_connection(root.path())
        .query_row(
            "SELECT issued_at FROM certificates WHERE serial = ?1",
            [&record.serial],
            |row| row.get(0),
        )
        .expect("select");

    assert_eq!(
        issued_at,
        apuntador::store::timestamp::format(record.issued_at)
    );
    assert!(
        issued_at.ends_with('Z') && !issued_at.contains('.'),
        "{issued_at}"
    );
}

async fn assert_serial_is_unique_across_devices(store: Arc<dyn CertificateStore>) {
    let first = certificate(&unique("device"));
    store
        .issue(&first, &[], "superseded", now())
        .await
        .expect("issue");
    let same_serial = apuntador::store::CertificateRecord {
        device_id: unique("other-device"),
        ..first.clone()
    };

    assert_conflict(store.issue(&same_serial, &[], "superseded", now()).await);
    assert_eq!(
        store
            .get(&same_serial.device_id, &first.serial)
            .await
            .expect("get"),
        None
    );
}

// DynamoDB keys records by (device, serial) and relies on random serials instead, so this rule is
// checked on the local backends only.
#[tokio::test]
async fn memory_store_refuses_a_serial_already_used_by_another_device() {
    assert_serial_is_unique_across_devices(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_refuses_a_serial_already_used_by_another_device() {
    let root = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(root.path()).await.expect("open");
    assert_serial_is_unique_across_devices(Arc::new(store)).await;
}

#[tokio::test]
async fn a_write_blocked_past_the_busy_timeout_is_reported_unavailable() {
    let root = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(root.path()).await.expect("open");
    let other_process = raw_connection(root.path());
    other_process
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("lock");

    let result = store
        .bind_if_absent(&unique("device"), &"a".repeat(64))
        .await;

    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "got {result:?}"
    );
    other_process.execute_batch("ROLLBACK").expect("unlock");
    store
        .bind_if_absent(&unique("device"), &"a".repeat(64))
        .await
        .expect("write after unlock");
}

/// Inserts a raw certificate row, as a database of an earlier build may hold it.
fn insert_raw(
    conn: &rusqlite::Connection,
    device: &str,
    serial: &str,
    issued_at: &str,
    revoked: bool,
) {
    conn.execute(
        "INSERT INTO certificates (device_id, serial, platform, issued_at, expires_at, certificate_pem,
                                   fingerprint_sha256, revoked, revoked_at, revocation_reason, ttl)
         VALUES (?1, ?2, 'android', ?3, '2099-01-01T00:00:00Z', 'pem', NULL, ?4,
                 CASE WHEN ?4 THEN '2026-11-03T00:00:00Z' END, CASE WHEN ?4 THEN 'lost' END,
                 4102444800)",
        rusqlite::params![device, serial, issued_at, revoked],
    )
    .expect("insert a raw row");
}

/// (serial, revoked, revocation_reason) of every row of `device`, by serial.
fn raw_rows(conn: &rusqlite::Connection, device: &str) -> Vec<(String, bool, Option<String>)> {
    let mut statement = conn
        .prepare(
            "SELECT serial, revoked, revocation_reason FROM certificates WHERE device_id = ?1
             ORDER BY serial",
        )
        .expect("prepare");
    statement
        .query_map([device], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The schema of table `kv` as SQLite keeps it.
fn kv_schema(data_dir: &Path) -> String {
    raw_connection(data_dir)
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'kv'",
            [],
            |row| row.get(0),
        )
        .expect("kv schema")
}

#[tokio::test]
async fn the_rowid_kv_migration_keeps_every_item() {
    let root = TempDir::new().expect("temporary directory");
    let device = unique("rowid-device");
    let live = session(TimeDelta::minutes(10));
    let kept = session(TimeDelta::minutes(10));
    let expired = session(TimeDelta::seconds(-5));
    let result = valid_result(Platform::Ios, &device);
    {
        let store = SqliteStore::open(root.path()).await.expect("open");
        store.create(&live).await.expect("create");
        store.create(&kept).await.expect("create");
        store.create(&expired).await.expect("create expired");
        store
            .put_result(&result, CACHE_TTL)
            .await
            .expect("put_result");
        store
            .bind_if_absent(&device, &"c".repeat(64))
            .await
            .expect("bind");
        store.bump_generation().await.expect("bump");
    }
    {
        // Back to the schema of the second migration: the same rows in a WITHOUT ROWID table.
        let conn = raw_connection(root.path());
        conn.execute_batch(
            "CREATE TABLE kv_old (
                 pk         TEXT PRIMARY KEY NOT NULL,
                 value      TEXT NOT NULL,
                 expires_at INTEGER
             ) WITHOUT ROWID;
             INSERT INTO kv_old SELECT pk, value, expires_at FROM kv;
             DROP TABLE kv;
             ALTER TABLE kv_old RENAME TO kv;
             CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
             PRAGMA user_version = 2;",
        )
        .expect("downgrade");
    }
    assert!(kv_schema(root.path()).contains("WITHOUT ROWID"));
    let rows_before: i64 = raw_connection(root.path())
        .query_row("SELECT COUNT(*) FROM kv", [], |row| row.get(0))
        .expect("count");

    let store = SqliteStore::open(root.path())
        .await
        .expect("reopen migrates");

    assert_eq!(user_version(root.path()), 3);
    assert!(
        !kv_schema(root.path()).contains("WITHOUT ROWID"),
        "{}",
        kv_schema(root.path())
    );
    let conn = raw_connection(root.path());
    let rows_after: i64 = conn
        .query_row("SELECT COUNT(*) FROM kv", [], |row| row.get(0))
        .expect("count");
    // Every row is copied; then the open purges the expired session, as every open does.
    assert_eq!(rows_after, rows_before - 1);
    let indexes: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kv' ORDER BY name",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .expect("indexes");
    assert_eq!(indexes, ["kv_expires_at", "sqlite_autoindex_kv_1"]);
    assert_eq!(
        store
            .peek(&live.state)
            .await
            .expect("peek")
            .map(|s| s.state),
        Some(live.state.clone())
    );
    assert!(
        store
            .peek(&expired.state)
            .await
            .expect("peek expired")
            .is_none()
    );
    assert_eq!(
        store.get_result(Platform::Ios, &device).await.expect("get"),
        Some(result)
    );
    assert_eq!(
        store.get_binding(&device).await.expect("binding"),
        Some("c".repeat(64))
    );
    assert_eq!(store.generation().await.expect("generation"), 1);
    // Keys stay unique, and a consumed session is gone.
    assert!(store.consume(&live.state).await.expect("consume").is_some());
    assert_conflict(store.create(&kept).await);
    assert!(
        store.create(&live).await.is_ok(),
        "a consumed state's key is free again"
    );
}

#[tokio::test]
async fn the_one_active_certificate_migration_repairs_duplicates_deterministically() {
    let root = TempDir::new().expect("temporary directory");
    drop(SqliteStore::open(root.path()).await.expect("open"));
    {
        // Back to the schema of the first migration, holding what earlier builds could leave behind:
        // devices with several active records.
        let conn = raw_connection(root.path());
        conn.execute_batch(
            "DROP INDEX certificates_one_active;
             PRAGMA user_version = 1;",
        )
        .expect("downgrade");
        let serial = |c: char| c.to_string().repeat(32);
        // Newest by issued_at wins; the previous service's timestamp format compares by its seconds.
        insert_raw(
            &conn,
            "dup-device",
            &serial('1'),
            "2026-11-01T00:00:00Z",
            false,
        );
        insert_raw(
            &conn,
            "dup-device",
            &serial('2'),
            "2026-11-02T00:00:00.500+0000",
            false,
        );
        insert_raw(
            &conn,
            "dup-device",
            &serial('3'),
            "2026-11-01T23:59:59Z",
            false,
        );
        // The same second: the greater serial wins.
        insert_raw(
            &conn,
            "tie-device",
            &serial('A'),
            "2026-11-02T00:00:00Z",
            false,
        );
        insert_raw(
            &conn,
            "tie-device",
            &serial('B'),
            "2026-11-02T00:00:00Z",
            false,
        );
        // One active record and a revoked one: untouched.
        insert_raw(
            &conn,
            "fine-device",
            &serial('C'),
            "2026-11-01T00:00:00Z",
            true,
        );
        insert_raw(
            &conn,
            "fine-device",
            &serial('D'),
            "2026-10-01T00:00:00Z",
            false,
        );
    }

    let store = SqliteStore::open(root.path())
        .await
        .expect("reopen migrates");

    let conn = raw_connection(root.path());
    let superseded = Some("superseded".to_owned());
    let serial = |c: char| c.to_string().repeat(32);
    assert_eq!(
        raw_rows(&conn, "dup-device"),
        vec![
            (serial('1'), true, superseded.clone()),
            (serial('2'), false, None),
            (serial('3'), true, superseded.clone()),
        ]
    );
    assert_eq!(
        raw_rows(&conn, "tie-device"),
        vec![(serial('A'), true, superseded), (serial('B'), false, None)]
    );
    assert_eq!(
        raw_rows(&conn, "fine-device"),
        vec![
            (serial('C'), true, Some("lost".to_owned())),
            (serial('D'), false, None),
        ]
    );
    let revoked_at: String = conn
        .query_row(
            "SELECT revoked_at FROM certificates WHERE serial = ?1",
            [serial('1')],
            |row| row.get(0),
        )
        .expect("revoked_at");
    assert!(
        apuntador::store::timestamp::parse(&revoked_at).is_some(),
        "{revoked_at}"
    );
    assert_eq!(user_version(root.path()), 3);
    // From now on the database itself refuses a second active record.
    let second = conn.execute(
        "INSERT INTO certificates (device_id, serial, platform, issued_at, expires_at, certificate_pem,
                                   revoked, ttl)
         VALUES ('dup-device', 'FF', 'android', '2026-11-04T00:00:00Z', '2099-01-01T00:00:00Z', 'pem',
                 0, 4102444800)",
        [],
    );
    assert!(second.is_err(), "the partial unique index refuses it");
    // And the store supersedes the repaired device's one active record normally.
    let next = certificate("dup-device");
    store
        .issue(&next, &[serial('2')], "superseded", now())
        .await
        .expect("issue");
}
