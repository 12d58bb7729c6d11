//! The configuration a request reads, as one immutable [`Snapshot`]: the
//! settings, the routing table built from them and the inbound keys. The
//! gateway publishes a whole new snapshot to change any of it (the ground for
//! hot reload); a request holds the snapshot it started with to its end, so
//! nothing changes under it.
//!
//! Workers do not load the shared `ArcSwap` per request: each core caches the
//! current snapshot behind an `Rc` and refreshes it only when the gateway's
//! generation counter moves. A request pays one relaxed-cost atomic load and
//! a non-atomic reference count, and the cores never write a shared cache line.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::Caller;
use crate::config::Settings;
use crate::governance::{ApiEntities, Governance};
use crate::pricing::Pricing;
use crate::router::Routes;

/// One generation of the configuration.
pub struct Snapshot {
    pub settings: Settings,
    pub routes: Routes,
    /// Virtual keys, teams and customers with their limits and budgets.
    pub governance: Governance,
    /// What the admin API made, which `governance` was built with too.
    pub api_entities: Arc<ApiEntities>,
    /// The shipped price table with `[pricing]` overrides.
    pub pricing: Pricing,
    /// Plain inbound gateway keys as bytes.
    auth_keys: Vec<Vec<u8>>,
    /// 1 for the configuration the gateway started with, then +1 per publish.
    pub generation: u64,
}

/// A snapshot as a request holds it: cloning is a non-atomic increment.
pub type Held = Rc<Arc<Snapshot>>;

impl Snapshot {
    pub fn new(settings: Settings, generation: u64) -> Self {
        Self::with_entities(settings, Arc::default(), generation)
    }

    pub fn with_entities(settings: Settings, api: Arc<ApiEntities>, generation: u64) -> Self {
        let auth_keys = settings
            .auth_keys
            .iter()
            .map(|k| k.expose().as_bytes().to_vec())
            .collect();
        Self {
            routes: Routes::new(&settings),
            governance: Governance::new(&settings, &api),
            api_entities: api,
            // Validated settings leave only a broken shipped table, which
            // the pricing tests catch before a build ships.
            pricing: Pricing::new(&settings.pricing).expect("the price table loads"),
            auth_keys,
            settings,
            generation,
        }
    }

    /// Whether requests must present a gateway key.
    /// Off only where no key exists at all and the listener is on loopback
    /// (or `--allow-unauthenticated` was given): a non-loopback gateway
    /// whose keys all come from the admin API refuses every request until
    /// one is made, and when the last one is deleted.
    pub fn auth_required(&self) -> bool {
        !self.auth_keys.is_empty()
            || !self.governance.is_empty()
            || !(self.settings.listen.ip().to_canonical().is_loopback()
                || self.settings.allow_unauthenticated)
    }

    /// The caller a presented key identifies: a virtual key (a hash lookup,
    /// confirmed in constant time), else one of the plain keys, compared in
    /// constant time against each; `None` for no match.
    pub fn caller_of(&self, presented: &[u8]) -> Option<Caller> {
        if let Some(i) = self.governance.key_of(presented, same_secret) {
            return Some(Caller {
                key: None,
                virtual_key: Some(i),
            });
        }
        let mut found = None;
        for (index, key) in self.auth_keys.iter().enumerate() {
            if same_secret(key, presented) && found.is_none() {
                found = Some(Caller {
                    key: Some(index),
                    virtual_key: None,
                });
            }
        }
        found
    }

    /// May a request presenting `bearer` use the admin endpoints? With an
    /// admin token, only with that token; without one, only when the
    /// gateway listens on loopback (whoever can reach it is on this host).
    pub fn admin_access(&self, bearer: Option<&[u8]>) -> AdminAccess {
        match &self.settings.admin_token {
            Some(token) => match bearer {
                Some(b) if same_secret(token.expose().as_bytes(), b) => AdminAccess::Allowed,
                _ => AdminAccess::WrongToken,
            },
            None if self.settings.listen.ip().is_loopback() => AdminAccess::Allowed,
            None => AdminAccess::Off,
        }
    }
}

/// The answer of [`Snapshot::admin_access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    Allowed,
    /// A token is configured and the request did not present it.
    WrongToken,
    /// No token is configured and the listener is not loopback.
    Off,
}

/// `a == b` in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The published snapshot, shared by every core and the control plane.
pub struct Published {
    current: ArcSwap<Snapshot>,
    /// The generation of `current`, bumped after it is stored: a core that
    /// sees a new number finds at least that snapshot.
    generation: AtomicU64,
    publishing: std::sync::Mutex<()>,
}

impl Published {
    pub fn new(settings: Settings) -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::new(settings, 1)),
            generation: AtomicU64::new(1),
            publishing: std::sync::Mutex::new(()),
        }
    }

    /// The current snapshot (for the control plane and startup code; cores
    /// read it through [`CoreSnapshot`]).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replace the configuration; requests already running keep theirs.
    /// Returns the new generation.
    pub fn publish(&self, settings: Settings) -> u64 {
        let api = self.current.load().api_entities.clone();
        self.publish_with(settings, api)
    }

    /// Replace what the admin API made (the settings stay).
    pub fn publish_entities(&self, api: ApiEntities) -> u64 {
        let settings = self.current.load().settings.clone();
        self.publish_with(settings, Arc::new(api))
    }

    /// Both publishers run on the control plane's threads; this lock keeps
    /// one from undoing the other's change.
    fn publish_with(&self, settings: Settings, api: Arc<ApiEntities>) -> u64 {
        let _one_at_a_time = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let mut next = Snapshot::with_entities(settings, api, generation);
        // Providers that stay keep their current access tokens: requests do
        // not wait for the control thread to fetch new ones.
        let current = self.current.load();
        next.routes.adopt_state(&current.routes);
        next.governance.adopt_state(&current.governance);
        self.current.store(Arc::new(next));
        self.generation.store(generation, Ordering::Release);
        generation
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// One core's cached copy of the published snapshot.
pub struct CoreSnapshot {
    cached: RefCell<Held>,
}

impl CoreSnapshot {
    pub fn new(published: &Published) -> Self {
        Self {
            cached: RefCell::new(Rc::new(published.load())),
        }
    }

    /// The snapshot a new request holds: the cached one while the generation
    /// is unchanged, else the newly published one.
    pub fn get(&self, published: &Published) -> Held {
        let generation = published.generation();
        let cached = self.cached.borrow();
        if cached.generation == generation {
            return cached.clone();
        }
        drop(cached);
        let fresh = Rc::new(published.load());
        *self.cached.borrow_mut() = fresh.clone();
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, LoadOptions};
    use crate::credentials::Secret;

    fn settings(keys: &[&str]) -> Settings {
        let mut s = config::load(&LoadOptions::default(), &|_: &str| None).expect("zero config");
        s.auth_keys = keys.iter().map(|k| Secret::new(*k)).collect();
        s
    }

    #[test]
    fn a_held_snapshot_outlives_a_publish_and_the_next_request_sees_the_new_one() {
        let published = Published::new(settings(&["k1"]));
        let core = CoreSnapshot::new(&published);
        let first = core.get(&published);
        assert_eq!(first.generation, 1);
        assert!(
            Rc::ptr_eq(&first, &core.get(&published)),
            "cached while unchanged"
        );

        assert_eq!(published.publish(settings(&["k2"])), 2);
        let second = core.get(&published);
        assert_eq!(second.generation, 2);
        // The request that started before the publish still reads generation 1.
        assert_eq!(
            first.caller_of(b"k1"),
            Some(Caller {
                key: Some(0),
                virtual_key: None
            })
        );
        assert_eq!(first.caller_of(b"k2"), None);
        assert_eq!(
            second.caller_of(b"k2"),
            Some(Caller {
                key: Some(0),
                virtual_key: None
            })
        );
        assert_eq!(second.caller_of(b"k1"), None);
    }

    #[test]
    fn caller_of_matches_whole_keys_only() {
        let snap = Snapshot::new(settings(&["alpha", "beta"]), 1);
        assert!(snap.auth_required());
        assert_eq!(
            snap.caller_of(b"beta"),
            Some(Caller {
                key: Some(1),
                virtual_key: None
            })
        );
        for wrong in [&b"bet"[..], b"betaa", b"", b"alphabeta", b"ALPHA"] {
            assert_eq!(snap.caller_of(wrong), None, "{wrong:?}");
        }
        assert!(!Snapshot::new(settings(&[]), 1).auth_required());
    }

    #[test]
    fn with_no_key_at_all_only_a_loopback_gateway_is_open() {
        let mut s = settings(&[]);
        assert!(!Snapshot::new(s.clone(), 1).auth_required());
        s.listen = "0.0.0.0:8080".parse().unwrap();
        // Keys will come from the admin API: until then, nobody gets in.
        assert!(Snapshot::new(s.clone(), 1).auth_required());
        assert_eq!(Snapshot::new(s.clone(), 1).caller_of(b"anything"), None);
        s.allow_unauthenticated = true;
        assert!(!Snapshot::new(s, 1).auth_required());
    }

    #[test]
    fn admin_needs_the_token_or_a_loopback_listener() {
        let mut s = settings(&[]);
        assert!(s.listen.ip().is_loopback());
        let loopback = Snapshot::new(s.clone(), 1);
        assert_eq!(loopback.admin_access(None), AdminAccess::Allowed);
        s.listen = "0.0.0.0:8080".parse().unwrap();
        let open = Snapshot::new(s.clone(), 1);
        assert_eq!(open.admin_access(Some(b"anything")), AdminAccess::Off);
        s.admin_token = Some(Secret::new("admin-token-0123456789"));
        let guarded = Snapshot::new(s, 1);
        assert_eq!(
            guarded.admin_access(Some(b"admin-token-0123456789")),
            AdminAccess::Allowed
        );
        assert_eq!(
            guarded.admin_access(Some(b"admin-token-012345678")),
            AdminAccess::WrongToken
        );
        assert_eq!(guarded.admin_access(None), AdminAccess::WrongToken);
    }
}
