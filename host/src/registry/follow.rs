//! Many hosts, one store: every host serves what the shared store holds.
//!
//! An install or removal on any host is one transaction in the shared store, announced to every host
//! (`shared_store.rs`). Each host listens, and makes its own set of chaincodes the store's: every time it connects
//! (so that nothing announced while it was away is missed) for all of them, and on each announcement for the
//! chaincodes it names only — with 10,000 chaincodes installed, an install costs every host one record's read, not
//! 10,000. A chaincode it does not serve yet is fetched (module and package), compiled into this host's artifact
//! cache unless it is there already, and served on the port the store gave it; one the store no longer holds stops
//! being served here.
//! Whatever keeps a host out of step (the store unreachable, a chaincode that will not load) is its `/readyz` answer
//! until it is in step again.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Weak};

use super::{reserve_routes_of, InstallError, Registry};
use crate::limits::{SHARED_STORE_CONNECT_TIMEOUT, SHARED_STORE_PING_EVERY, SHARED_STORE_RETRY_EVERY};
use crate::routes::RouteBook;
use crate::shared_store::{Announcement, Draft, PortRules, SharedStore, SharedStoreError, StoreAccess};
use crate::store::ChaincodeRecord;
use crate::validate;

impl Registry {
    /// Brings this host in step with the shared store now (a host started empty serves everything once this
    /// returns, unless the store is unreachable: then `/readyz` says so), then keeps it in step from a task.
    pub(super) async fn follow(self: &Arc<Self>, store: StoreAccess) {
        if let Err(e) = self.sync(&store, None).await {
            tracing::warn!("not in step with the shared store at start: {e}");
        }
        let registry = Arc::downgrade(self);
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = keep_in_step(registry, store) => {}
            }
        });
    }

    /// Installs a compiled chaincode in the shared store: the store chooses its port (the same on every host) or
    /// answers the record another host made first. Returns the record and whether it is new.
    pub(super) async fn install_shared(
        self: &Arc<Self>,
        store: &StoreAccess,
        record: &ChaincodeRecord,
        module: &[u8],
        package: &[u8],
        pinned: Option<u16>,
        sni_name: Option<&str>,
    ) -> Result<(ChaincodeRecord, bool), InstallError> {
        let mut shared = SharedStore::connect(store).await?;
        let draft = Draft::of(record, module, package);
        let installed = shared.install(&draft, self.port_rules(pinned, sni_name)).await?;
        let book = match self.with_routes_of(std::slice::from_ref(&installed.0)) {
            Some(book) => book,
            None => shared.routes().await?,
        };
        self.keep_routes(book).await?;
        Ok(installed)
    }

    /// Removes a chaincode from the shared store (every host then stops serving it). Returns what was there.
    pub(super) async fn remove_shared(
        &self,
        store: &StoreAccess,
        ccid: &str,
    ) -> Result<Option<ChaincodeRecord>, InstallError> {
        Ok(SharedStore::connect(store).await?.remove(ccid).await?)
    }

    /// [`Registry::sync_once`], remembering why it failed for `/readyz`.
    async fn sync(self: &Arc<Self>, store: &StoreAccess, only: Option<&BTreeSet<String>>) -> Result<(), InstallError> {
        let result = self.sync_once(store, only).await;
        *self.out_of_step.lock().expect("registry lock") =
            result.as_ref().err().map(|e| format!("not in step with the shared store: {e}"));
        result
    }

    /// Makes the chaincodes served here those of the shared store: all of them, or `only` those named.
    async fn sync_once(
        self: &Arc<Self>,
        store: &StoreAccess,
        only: Option<&BTreeSet<String>>,
    ) -> Result<(), InstallError> {
        let _one_at_a_time = self.installing.lock().await;
        let mut shared = SharedStore::connect(store).await?;
        let records = match only {
            None => {
                if !self.store.follows_shared_store() {
                    self.adopt(&mut shared).await?;
                }
                self.counters.read_shared_store();
                shared.records().await?
            }
            Some(ccids) => {
                let mut records = Vec::with_capacity(ccids.len());
                for ccid in ccids {
                    records.extend(shared.record(ccid).await?);
                }
                records
            }
        };
        // Each chaincode named is there: installs, whose routes are all the book gained. (One named but gone may have
        // been installed and removed meanwhile, leaving routes reserved that only the whole book shows.)
        let installs_only = only.is_some_and(|only| only.len() == records.len());
        let book = match installs_only.then(|| self.with_routes_of(&records)).flatten() {
            Some(book) => book,
            None => shared.routes().await?,
        };
        self.keep_routes(book).await?;
        let wanted: HashSet<&str> = records.iter().map(|r| r.ccid.as_str()).collect();
        let asked = |ccid: &str| only.is_none_or(|only| only.contains(ccid));
        for served in self.records().into_iter().filter(|r| asked(&r.ccid)) {
            if !wanted.contains(served.ccid.as_str()) && self.remove_here(&served.ccid)?.is_some() {
                tracing::info!(ccid = %served.ccid, "removed from the shared store by another host: no longer served");
            }
        }
        let mut failed = Vec::new();
        for record in records.into_iter().filter(|r| self.record(&r.ccid).is_none()) {
            match self.fetch(&shared, &record).await {
                Ok(()) => {
                    tracing::info!(ccid = %record.ccid, port = record.port, "installed by another host: serving it");
                    let chaincode = self.lazy(&record);
                    self.serve(record, chaincode, None).await;
                    self.changes.send_modify(|n| *n += 1);
                }
                Err(e) => {
                    tracing::error!(ccid = %record.ccid, "cannot serve a chaincode of the shared store: {e}");
                    failed.push(record.ccid);
                }
            }
        }
        match failed.is_empty() {
            true => Ok(()),
            false => Err(InstallError::NotServable(failed)),
        }
    }

    /// Copies a chaincode of the shared store here (module, package, record) with an artifact for this engine.
    async fn fetch(self: &Arc<Self>, shared: &SharedStore, record: &ChaincodeRecord) -> Result<(), InstallError> {
        let module = match self.store.module_path(&record.module_hash).exists() {
            true => None,
            false => Some(shared.module(&record.module_hash).await?.ok_or_else(|| missing("module", record))?),
        };
        let package = shared.package(&record.ccid).await?.ok_or_else(|| missing("package", record))?;
        let (this, record) = (self.clone(), record.clone());
        tokio::task::spawn_blocking(move || -> Result<(), InstallError> {
            if let Some(module) = module {
                let found = validate::module_hash(&module);
                if found != record.module_hash {
                    return Err(InstallError::ModuleMismatch { hash: record.module_hash, found });
                }
                this.store.put_module(&record.module_hash, &module)?;
            }
            this.store.put_package(&record.ccid, &package)?;
            if !this.artifact_path(&record).exists() {
                this.recompile(&record)?;
            }
            Ok(this.store.put_record(&record)?)
        })
        .await
        .expect("fetch task")
    }

    /// The first time a data directory meets a shared store, the chaincodes in it are this host's own, not a copy:
    /// they are installed in the shared store on the ports they have (peers' connection.json files name them)
    /// instead of being removed for not being there. A port the shared store gave another chaincode stops this until
    /// the operator resolves it (`/readyz` says which).
    async fn adopt(&self, shared: &mut SharedStore) -> Result<(), InstallError> {
        let there: HashSet<String> = shared.records().await?.into_iter().map(|r| r.ccid).collect();
        for record in self.store.records()?.into_iter().filter(|r| !there.contains(&r.ccid)) {
            let module = self.store.read_module(&record.module_hash)?;
            let package = self.store.read_package(&record.ccid)?;
            let sni_name = self.settings.route_name(&record.ccid);
            let draft = Draft::of(&record, &module, &package);
            shared.install(&draft, self.port_rules(record.port, sni_name.as_deref())).await?;
            tracing::info!(ccid = %record.ccid, port = record.port, "installed here before: now in the shared store");
        }
        Ok(self.store.mark_following_shared_store()?)
    }

    /// The shared store's rules for a new chaincode's port: this host's range and shared port.
    fn port_rules<'a>(&self, pinned: Option<u16>, name: Option<&'a str>) -> PortRules<'a> {
        let shared = self.settings.shared_listen().map(|a| a.port());
        PortRules { pinned, range: self.settings.ports, shared, name }
    }

    /// This host's copy of the route book with the routes of `records` added: the shared store's book after they
    /// were installed, without reading all of it (routes are only ever added, and this copy was the store's at the
    /// last full read). `None` when the copy disagrees with them: then the store's book is read whole.
    fn with_routes_of(&self, records: &[ChaincodeRecord]) -> Option<RouteBook> {
        let mut book = self.routes.lock().expect("routes lock").clone();
        for record in records {
            reserve_routes_of(&mut book, record, &self.settings).ok()?;
        }
        Some(book)
    }

    /// Keeps the shared store's route book here too (what `wasmcc` shows, and what this directory would go on with).
    /// Written off the runtime's threads: they may be running transactions (`quota/placement.rs`). Callers hold
    /// the install lock, so no other writer of the book runs meanwhile.
    async fn keep_routes(self: &Arc<Self>, book: RouteBook) -> Result<(), InstallError> {
        if *self.routes.lock().expect("routes lock") == book {
            return Ok(());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || -> Result<(), InstallError> {
            this.store.put_routes(&book)?;
            *this.routes.lock().expect("routes lock") = book;
            Ok(())
        })
        .await
        .expect("route book task")
    }

    fn set_out_of_step(&self, why: String) {
        *self.out_of_step.lock().expect("registry lock") = Some(why);
    }
}

fn missing(what: &str, record: &ChaincodeRecord) -> InstallError {
    InstallError::SharedStore(SharedStoreError::Corrupt(format!("no {what} for {}", record.ccid)))
}

/// Listens to the shared store's announcements and syncs on each; reconnects (and syncs) when the store comes back.
/// Runs until the registry is gone (its shutdown ends it sooner).
async fn keep_in_step(registry: Weak<Registry>, store: StoreAccess) {
    let mut lost_logged = false;
    loop {
        let (notes_tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
        let why = match SharedStore::listen(&store, notes_tx).await {
            Ok(listener) => {
                if lost_logged {
                    tracing::info!("the shared store is reachable again");
                    lost_logged = false;
                }
                // Everything is read after LISTEN: whatever was announced before it is read now. Then only what the
                // announcements name, unless one could not be read or a sync failed.
                let (mut behind, mut named) = (true, BTreeSet::new());
                loop {
                    if behind || !named.is_empty() {
                        let Some(this) = registry.upgrade() else { return };
                        behind = this.sync(&store, (!behind).then_some(&named)).await.is_err();
                        named.clear();
                    }
                    tokio::select! {
                        note = notes.recv() => match note {
                            Some(first) => {
                                let more = std::iter::from_fn(|| notes.try_recv().ok());
                                for payload in std::iter::once(first).chain(more) {
                                    match Announcement::parse(&payload) {
                                        Some(said) => _ = named.insert(said.ccid().to_owned()),
                                        None => behind = true,
                                    }
                                }
                            }
                            None => break,
                        },
                        _ = tokio::time::sleep(SHARED_STORE_PING_EVERY) => {
                            let ping = tokio::time::timeout(SHARED_STORE_CONNECT_TIMEOUT, listener.ping()).await;
                            if !matches!(ping, Ok(Ok(()))) {
                                break;
                            }
                        }
                    }
                }
                "the connection to the shared store was lost".to_owned()
            }
            Err(e) => format!("the shared store is not reachable: {e}"),
        };
        let Some(this) = registry.upgrade() else { return };
        if !lost_logged {
            tracing::warn!("{why}; trying again every {:?}", SHARED_STORE_RETRY_EVERY);
            lost_logged = true;
        }
        this.set_out_of_step(why);
        drop(this);
        tokio::time::sleep(SHARED_STORE_RETRY_EVERY).await;
    }
}
