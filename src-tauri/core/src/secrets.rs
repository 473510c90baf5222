//! API keys and the hub token. They live in the OS keychain (Secret Service on Linux, Keychain
//! on macOS, Credential Manager on Windows) when one answers, and never in the store then; where
//! none does (a server without a desktop session), in the store's own rows, and Settings says so
//! (`vault`). A secret an older build left in the store moves into the keychain when first read.
//!
//! Keychain calls block (D-Bus, a keychain prompt): they run on the blocking pool, bounded by
//! `KEYCHAIN_TIMEOUT`, and a keychain that does not answer in time counts as none.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::store::{Store, StoreError};

/// The keychain's service name for every entry of this app.
const SERVICE: &str = "fin-r1-desktop";
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where this machine keeps the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Vault {
    /// The OS keychain.
    Keychain,
    /// The conversation store's own rows (no keychain answered).
    Store,
}

/// One entry per secret and data folder: two data folders keep two sets of keys.
fn account(store: &Store, key: &str) -> String {
    format!("{key} ({})", store.path().display())
}

/// `Err`: no usable keychain (its reason, for the log).
async fn keychain<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    if std::env::var_os("FIN_R1_NO_KEYCHAIN").is_some() {
        return Err("FIN_R1_NO_KEYCHAIN is set".into());
    }
    match tokio::time::timeout(KEYCHAIN_TIMEOUT, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("the keychain call failed: {e}")),
        Err(_) => Err(format!("the keychain did not answer within {} s", KEYCHAIN_TIMEOUT.as_secs())),
    }
}

fn entry(account: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())
}

fn get(account: &str) -> Result<Option<String>, String> {
    match entry(account)?.get_password() {
        Ok(v) => Ok(Some(v).filter(|v| !v.is_empty())),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn set(account: &str, value: Option<&str>) -> Result<(), String> {
    let e = entry(account)?;
    match value {
        Some(v) => e.set_password(v).map_err(|e| e.to_string()),
        None => match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
    }
}

async fn row(store: &Store, key: &str) -> Result<Option<String>, StoreError> {
    Ok(store.setting(key).await?.and_then(|v| v.as_str().map(str::to_owned)).filter(|s| !s.is_empty()))
}

/// Where secrets go on this machine now.
pub async fn vault(store: &Store) -> Vault {
    let probe = account(store, "probe");
    match keychain(move || get(&probe)).await {
        Ok(_) => Vault::Keychain,
        Err(_) => Vault::Store,
    }
}

/// A secret: `None` when unset or empty.
pub async fn secret(store: &Store, key: &str) -> Result<Option<String>, StoreError> {
    let acct = account(store, key);
    let found = keychain(move || get(&acct)).await;
    let stored = row(store, key).await?;
    match (found, stored) {
        (Ok(Some(v)), stored) => {
            if stored.is_some() {
                store.forget_setting(key).await?;
            }
            Ok(Some(v))
        }
        (Ok(None), Some(v)) => {
            // Kept in the store by an older build (or while no keychain answered): moved.
            let (acct, value) = (account(store, key), v.clone());
            if keychain(move || set(&acct, Some(&value))).await.is_ok() {
                store.forget_setting(key).await?;
            }
            Ok(Some(v))
        }
        (Ok(None), None) => Ok(None),
        (Err(_), stored) => Ok(stored),
    }
}

/// Sets (or with `None`/empty clears) a secret: in the keychain when one answers (and then
/// nowhere else), else in the store.
pub async fn set_secret(store: &Store, key: &str, value: Option<&str>) -> Result<(), StoreError> {
    let value = value.filter(|v| !v.is_empty()).map(str::to_owned);
    let (acct, v) = (account(store, key), value.clone());
    match keychain(move || set(&acct, v.as_deref())).await {
        Ok(()) => store.forget_setting(key).await,
        Err(why) => {
            tracing::warn!("no keychain ({why}): {key} is kept in the app's store");
            match value {
                Some(v) => store.set_setting(key, &Value::String(v)).await,
                None => store.forget_setting(key).await,
            }
        }
    }
}
