//! Storage: what the functions keep, one trait per thing stored (`AccountStore`, `KeyStore`,
//! `AuditStore`, `CounterStore`, `UsageStore`, `MessageStore`) and `Store`, their sum, which is
//! what a handler asks for. Two implementations, with one file per trait each: `DynamoStore`
//! (production and local) and `MemoryStore` (fast handler unit tests). One conformance suite
//! (`shared/tests/store_conformance.rs`) runs against both. Storage imports only the domain.

pub mod accounts;
pub mod audit;
pub mod counters;
pub mod dynamo;
pub mod error;
pub mod keys;
pub mod memory;
pub mod messages;
pub mod table;
pub mod usage;
pub mod webhooks;

use crate::storage::accounts::AccountStore;
use crate::storage::audit::AuditStore;
use crate::storage::counters::CounterStore;
use crate::storage::keys::KeyStore;
use crate::storage::messages::MessageStore;
use crate::storage::usage::UsageStore;

/// Every storage trait, for code that calls a store's methods on a concrete store (tests,
/// benchmarks): `use yebolink_shared::storage::traits::*`.
pub mod traits {
    pub use crate::storage::accounts::AccountStore;
    pub use crate::storage::audit::AuditStore;
    pub use crate::storage::counters::CounterStore;
    pub use crate::storage::keys::KeyStore;
    pub use crate::storage::messages::MessageStore;
    pub use crate::storage::usage::UsageStore;
    pub use crate::storage::Store;
}

/// Everything a function may store or read: any type with all six parts is a `Store`.
pub trait Store:
    AccountStore + KeyStore + AuditStore + CounterStore + UsageStore + MessageStore
{
}

impl<T> Store for T where
    T: AccountStore + KeyStore + AuditStore + CounterStore + UsageStore + MessageStore
{
}
