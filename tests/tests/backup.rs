//! A damaged store loses nothing it need not (issue 27): backups made, listed and restored (the
//! store replaced kept aside); a truncated store, one with a corrupt page, one from a newer
//! build and one locked by another program each opened as they must be; the CLI's `backup`.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

use fin_r1_core::store::backup::{self, BackupReason};
use fin_r1_core::store::{Store, StoreError, DB_FILE};
use fin_r1_engine::ErrorKind;
use fin_r1_tests::{fin_r1_bin, scratch_dir};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn data_dir(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("backup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("data dir");
    d
}

/// A store with conversations titled `titles`, closed (its WAL checkpointed into the file).
async fn store_with(dir: &Path, titles: &[&str]) -> Store {
    let (store, _) = Store::open(dir).await.expect("open");
    for t in titles {
        store.create_conversation(t, None, None, None).await.expect("conversation");
    }
    store
}

async fn titles(store: &Store) -> Vec<String> {
    let mut t: Vec<String> = store.list_conversations(100).await.expect("list").into_iter().map(|c| c.conversation.title).collect();
    t.sort();
    t
}

/// Every file beside the store named after it and `why` (what was kept aside).
fn kept(dir: &Path, why: &str) -> Vec<PathBuf> {
    let prefix = format!("{DB_FILE}.{why}-");
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && !n.ends_with("-wal") && !n.ends_with("-shm")))
        .collect()
}

#[test]
fn a_backup_is_listed_and_restored_and_the_store_it_replaces_is_kept() {
    let dir = data_dir("restore");
    rt().block_on(async {
        let store = store_with(&dir, &["Q3 margin"]).await;
        let b = store.backup(BackupReason::Manual).await.expect("backup");
        assert_eq!(backup::list(&backup::backups_dir(store.path())), std::slice::from_ref(&b));
        store.create_conversation("after the backup", None, None, None).await.expect("conversation");
        store.close().await;

        let restored = backup::restore(&dir.join(DB_FILE), &b.path).await.expect("restore");
        let aside = restored.kept_aside.expect("the replaced store kept");
        let (store, _) = Store::open(&dir).await.expect("open");
        assert_eq!(titles(&store).await, ["Q3 margin"]);
        store.close().await;
        // The store it replaced holds both conversations, and opens.
        let other = data_dir("restore-aside");
        std::fs::copy(&aside, other.join(DB_FILE)).expect("copy");
        for side in ["-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{side}", aside.display()));
            if f.exists() {
                std::fs::copy(&f, other.join(format!("{DB_FILE}{side}"))).expect("copy");
            }
        }
        let (old, _) = Store::open(&other).await.expect("the kept store opens");
        assert_eq!(titles(&old).await, ["Q3 margin", "after the backup"]);
        old.close().await;
    });
}

#[test]
fn the_newest_backups_are_kept_and_a_damaged_one_is_not_restored() {
    let dir = data_dir("keep");
    rt().block_on(async {
        let store = store_with(&dir, &["a"]).await;
        for _ in 0..backup::KEEP + 3 {
            store.backup(BackupReason::Manual).await.expect("backup");
        }
        let list = backup::list(&backup::backups_dir(store.path()));
        assert_eq!(list.len(), backup::KEEP);
        assert!(list.windows(2).all(|w| w[0].created_ms > w[1].created_ms), "newest first");
        store.close().await;
        // A backup cut short is refused, and the store is left as it was.
        let bad = &list[0].path;
        let bytes = std::fs::read(bad).expect("read");
        std::fs::write(bad, &bytes[..bytes.len() / 3]).expect("cut");
        let e = backup::restore(&dir.join(DB_FILE), bad).await.expect_err("a damaged backup");
        assert_eq!(e.kind(), ErrorKind::StoreDamaged, "{e}");
        assert!(kept(&dir, "before-restore").is_empty(), "nothing was moved");
        let (store, _) = Store::open(&dir).await.expect("open");
        assert_eq!(titles(&store).await, ["a"]);
        store.close().await;
    });
}

/// Truncated or with a corrupt page: kept aside untouched, the newest whole backup restored.
#[test]
fn a_damaged_store_is_kept_aside_and_its_backup_restored() {
    for (case, damage) in [("truncated", 0usize), ("corrupt-page", 1)] {
        let dir = data_dir(case);
        rt().block_on(async {
            let store = store_with(&dir, &["kept in the backup"]).await;
            // Enough rows for several pages, so a page in the middle is a table's.
            for i in 0..200 {
                store.create_conversation(&format!("later {i} {}", "x".repeat(200)), None, None, None).await.expect("conversation");
            }
            let older = list_newest(&dir);
            assert!(older.is_none());
            // Everything into the database file itself, so the damage below is to what is read
            // (a WAL would otherwise hold the newest pages, whole).
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(store.pool()).await.expect("checkpoint");
            store.close().await;
            for side in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{DB_FILE}{side}")));
            }
            // The backup holds the first conversation only: made from a copy of that state.
            let only_first = data_dir(&format!("{case}-first"));
            let first = store_with(&only_first, &["kept in the backup"]).await;
            let b = first.backup(BackupReason::Daily).await.expect("backup");
            first.close().await;
            let backups = backup::backups_dir(&dir.join(DB_FILE));
            std::fs::create_dir_all(&backups).expect("dir");
            std::fs::copy(&b.path, backups.join(&b.file_name)).expect("copy");

            let path = dir.join(DB_FILE);
            let mut bytes = std::fs::read(&path).expect("read");
            if damage == 0 {
                bytes.truncate(bytes.len() / 2);
            } else {
                let page = 4096;
                let at = (bytes.len() / page / 2) * page;
                for b in &mut bytes[at..at + page] {
                    *b = 0xA5;
                }
            }
            std::fs::write(&path, &bytes).expect("damage");
            let damaged_len = bytes.len() as u64;

            let plain = Store::open(&dir).await.map(|_| ()).expect_err(&format!("{case}: a damaged store is not opened as if whole"));
            assert!(matches!(plain, StoreError::Damaged { .. }), "{case}: {plain}");
            let (store, report) = Store::open_or_recover(&dir).await.expect("recovered");
            let r = report.recovered.expect("recovery said");
            assert_eq!(r.restored.as_ref().map(|b| b.file_name.as_str()), Some(b.file_name.as_str()), "{case}");
            assert!(r.notice().contains("damaged"), "{}", r.notice());
            let aside = r.kept_aside.expect("kept aside");
            assert_eq!(std::fs::metadata(&aside).expect("the damaged file").len(), damaged_len, "{case}: kept as it was");
            assert_eq!(titles(&store).await, ["kept in the backup"]);
            store.close().await;
        });
    }
}

fn list_newest(dir: &Path) -> Option<backup::Backup> {
    backup::list(&backup::backups_dir(&dir.join(DB_FILE))).into_iter().next()
}

#[test]
fn a_damaged_store_with_no_backup_starts_anew_and_keeps_the_file() {
    let dir = data_dir("no-backup");
    std::fs::write(dir.join(DB_FILE), b"SQLite format 3\0 but nothing after it, not a database").expect("write");
    rt().block_on(async {
        let (store, report) = Store::open_or_recover(&dir).await.expect("a new store");
        let r = report.recovered.expect("said");
        assert!(r.restored.is_none());
        assert!(r.notice().contains("No whole backup"), "{}", r.notice());
        assert!(std::fs::read(r.kept_aside.expect("kept")).expect("kept file").starts_with(b"SQLite format 3\0 but nothing"));
        assert!(titles(&store).await.is_empty());
        store.close().await;
    });
}

/// From a newer build: an error that says so; the file is not set aside or touched.
#[test]
fn a_store_from_a_newer_build_is_left_alone() {
    let dir = data_dir("newer");
    rt().block_on(async {
        let store = store_with(&dir, &["mine"]).await;
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (999, 'future', CURRENT_TIMESTAMP, 1, x'00', 0)")
            .execute(store.pool())
            .await
            .expect("a future migration");
        store.close().await;
        let e = Store::open_or_recover(&dir).await.map(|_| ()).expect_err("newer");
        assert_eq!(e.kind(), ErrorKind::StoreNewer, "{e}");
        assert!(kept(&dir, "damaged").is_empty());
    });
}

/// Opening an older store backs it up before migrating it.
#[test]
fn a_migration_is_preceded_by_a_backup() {
    let dir = data_dir("migration");
    rt().block_on(async {
        let old = Store::open_at_version(&dir.join(DB_FILE), 5).await.expect("an older store");
        old.create_conversation("from 0.1", None, None, None).await.expect("conversation");
        old.close().await;
        let (store, report) = Store::open(&dir).await.expect("migrated");
        let b = report.migration_backup.expect("a backup before migrating");
        assert_eq!(b.reason, BackupReason::Migration);
        assert_eq!(backup::check_file(&b.path).await, Ok(5), "the backup is the store as it was");
        store.close().await;
        let (_, again) = Store::open(&dir).await.expect("open");
        assert!(again.migration_backup.is_none(), "nothing to migrate, no backup");
    });
}

#[test]
fn the_cli_lists_creates_and_restores_backups_and_waits_for_the_app_to_close() {
    let dir = data_dir("cli");
    rt().block_on(async {
        let store = store_with(&dir, &["before"]).await;
        store.close().await;
    });
    let fin_r1 = |args: &[&str]| Command::new(fin_r1_bin()).args(args).arg("--data-dir").arg(&dir).output().expect("fin-r1");
    let made = fin_r1(&["backup", "create", "--json"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).expect("json");
    assert_eq!(made["reason"], "manual");
    let listed = fin_r1(&["backup", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(made["file_name"].as_str().expect("name")));
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("open");
        store.create_conversation("after", None, None, None).await.expect("conversation");
        store.close().await;
    });
    // The app holds its lock on the folder: the restore waits for it to close.
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("instance.lock")).expect("lock file");
    lock.try_lock().expect("lock");
    let refused = fin_r1(&["backup", "restore", "latest"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("close it first"), "{}", String::from_utf8_lossy(&refused.stderr));
    drop(lock);
    let restored = fin_r1(&["backup", "restore", "latest"]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    assert!(String::from_utf8_lossy(&restored.stdout).contains("kept as"));
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("open");
        assert_eq!(titles(&store).await, ["before"]);
        store.close().await;
    });
}
