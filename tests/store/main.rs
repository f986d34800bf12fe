//! Store tests: the contract suite (`tests/store_contract`) run on the in-memory and SQLite backends, the
//! SQLite database's files, modes and migrations, and the local-mode file stores.

#[macro_use]
#[path = "../store_contract/mod.rs"]
mod store_contract;

mod files;
mod local;

use std::sync::Arc;

use apuntador::store::memory::MemoryStore;
use apuntador::store::sqlite::SqliteStore;
use apuntador::store::{AttestationStore, CertificateStore, OAuthSessionStore};
use tempfile::TempDir;

use crate::store_contract::StoreFixture;

/// A fresh [`MemoryStore`].
struct MemoryFixture(Arc<MemoryStore>);

impl StoreFixture for MemoryFixture {
    fn certificates(&self) -> Arc<dyn CertificateStore> {
        self.0.clone()
    }
    fn sessions(&self) -> Arc<dyn OAuthSessionStore> {
        self.0.clone()
    }
    fn attestation(&self) -> Arc<dyn AttestationStore> {
        self.0.clone()
    }
}

async fn memory_fixture() -> MemoryFixture {
    MemoryFixture(Arc::new(MemoryStore::new()))
}

/// A fresh [`SqliteStore`] in a temporary `DATA_DIR`, deleted when the fixture is dropped.
struct SqliteFixture {
    store: Arc<SqliteStore>,
    _data_dir: TempDir,
}

impl StoreFixture for SqliteFixture {
    fn certificates(&self) -> Arc<dyn CertificateStore> {
        self.store.clone()
    }
    fn sessions(&self) -> Arc<dyn OAuthSessionStore> {
        self.store.clone()
    }
    fn attestation(&self) -> Arc<dyn AttestationStore> {
        self.store.clone()
    }
}

async fn sqlite_fixture() -> SqliteFixture {
    let data_dir = TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(&data_dir.path().join("data"))
        .await
        .expect("open");
    SqliteFixture {
        store: Arc::new(store),
        _data_dir: data_dir,
    }
}

/// The contract on [`MemoryStore`].
mod memory {
    store_contract_tests!(crate::memory_fixture());
}

/// The contract on [`SqliteStore`].
mod sqlite {
    store_contract_tests!(crate::sqlite_fixture());
}
