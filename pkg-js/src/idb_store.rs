//! `IdbStore`: the engine's blobs in IndexedDB.
//!
//! One database per Larch database, with two object stores: `blobs` (key → `Uint8Array`) and
//! `meta` (the `generation` counter). Reads of one request happen in one readonly transaction;
//! write batches commit in ONE readwrite transaction that also increments the generation, so
//! the counter changes exactly when committed data does. Other tabs compare it with the
//! generation their engine was loaded at (see `pkg-js/js/host.ts`).

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{
    Event, IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

use crate::error::{code, invalid_argument, js_error, storage_error};

const BLOBS: &str = "blobs";
const META: &str = "meta";
const GENERATION: &str = "generation";
const VERSION: u32 = 1;

/// A Larch database in IndexedDB.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct IdbStore {
    db: IdbDatabase,
    name: String,
}

fn factory() -> Result<IdbFactory, JsValue> {
    let f = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB")).unwrap_or_default();
    if f.is_undefined() || f.is_null() {
        return Err(js_error(
            "LarchStorageError",
            code::STORAGE,
            "IndexedDB is not available in this runtime (use the in-memory store, or a \
             directory in Node)",
        ));
    }
    Ok(f.unchecked_into())
}

/// Waits for a request's `success` (→ its result) or `error` (→ its error).
async fn request_done(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    req.set_onsuccess(None);
    req.set_onerror(None);
    match outcome {
        Ok(_) => req.result(),
        Err(_) => Err(req
            .error()
            .ok()
            .flatten()
            .map(JsValue::from)
            .unwrap_or_default()),
    }
}

/// Waits for a transaction's `complete`, or fails with its error on `abort`.
async fn transaction_done(tx: &IdbTransaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    tx.set_oncomplete(None);
    tx.set_onabort(None);
    match outcome {
        Ok(_) => Ok(()),
        Err(_) => Err(tx
            .error()
            .map(JsValue::from)
            .unwrap_or_else(|| JsValue::from_str("transaction aborted"))),
    }
}

fn string_array(value: &JsValue, field: &str) -> Result<Vec<String>, JsValue> {
    let v = Reflect::get(value, &JsValue::from_str(field)).unwrap_or_default();
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(&v) {
        return Err(invalid_argument(&format!(
            "write batch: '{field}' must be an array"
        )));
    }
    Array::from(&v)
        .iter()
        .map(|k| {
            k.as_string().ok_or_else(|| {
                invalid_argument(&format!("write batch: '{field}' must hold strings"))
            })
        })
        .collect()
}

/// Queues one batch's steps on `blobs`: puts in order, then deletes, then prefix deletes.
/// Returns the bytes put.
fn queue_batch(blobs: &IdbObjectStore, batch: &JsValue) -> Result<f64, JsValue> {
    let puts = Reflect::get(batch, &JsValue::from_str("puts")).unwrap_or_default();
    let mut bytes = 0.0;
    if !puts.is_undefined() {
        if !Array::is_array(&puts) {
            return Err(invalid_argument("write batch: 'puts' must be an array"));
        }
        for put in Array::from(&puts).iter() {
            let pair = Array::from(&put);
            let key = pair.get(0);
            if key.as_string().is_none() || pair.length() != 2 {
                return Err(invalid_argument(
                    "write batch: each put must be [key: string, value: Uint8Array]",
                ));
            }
            let value = pair.get(1);
            bytes += Reflect::get(&value, &JsValue::from_str("byteLength"))
                .ok()
                .and_then(|n| n.as_f64())
                .unwrap_or(0.0);
            blobs.put_with_key(&value, &key)?;
        }
    }
    for key in string_array(batch, "deletes")? {
        blobs.delete(&JsValue::from_str(&key))?;
    }
    for prefix in string_array(batch, "deletePrefixes")? {
        let range = IdbKeyRange::bound(
            &JsValue::from_str(&prefix),
            &JsValue::from_str(&format!("{prefix}\u{ffff}")),
        )?;
        blobs.delete(&range)?;
    }
    Ok(bytes)
}

#[wasm_bindgen]
impl IdbStore {
    /// Opens (creating when new) the IndexedDB database `name`.
    pub async fn open(name: String) -> Result<IdbStore, JsValue> {
        let req: IdbOpenDbRequest = factory()?
            .open_with_u32(&name, VERSION)
            .map_err(|e| storage_error("open", &e))?;
        let upgrade = Closure::<dyn FnMut(Event)>::new({
            let req = req.clone();
            move |_e: Event| {
                if let Ok(db) = req.result() {
                    let db: IdbDatabase = db.unchecked_into();
                    let names = db.object_store_names();
                    if !names.contains(BLOBS) {
                        let _ = db.create_object_store(BLOBS);
                    }
                    if !names.contains(META) {
                        let _ = db.create_object_store(META);
                    }
                }
            }
        });
        req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let result = request_done(&req).await;
        req.set_onupgradeneeded(None);
        drop(upgrade);
        let db: IdbDatabase = result
            .map_err(|e| storage_error("open", &e))?
            .unchecked_into();
        // Another tab deleting or upgrading the database: let go so it can proceed.
        let on_version_change = Closure::<dyn FnMut(Event)>::new({
            let db = db.clone();
            move |_e: Event| db.close()
        });
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        on_version_change.forget(); // lives as long as the connection
        Ok(IdbStore { db, name })
    }

    /// Deletes the IndexedDB database `name` (waits until every connection closed).
    #[wasm_bindgen(js_name = deleteDatabase)]
    pub async fn delete_database(name: String) -> Result<(), JsValue> {
        let req = factory()?
            .delete_database(&name)
            .map_err(|e| storage_error("deleteDatabase", &e))?;
        request_done(&req)
            .await
            .map(|_| ())
            .map_err(|e| storage_error("deleteDatabase", &e))
    }

    /// The database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.db.close();
    }

    /// `Promise<(Uint8Array | undefined)[]>`: the blobs under `keys`, read in one readonly
    /// transaction.
    pub fn get(&self, keys: Vec<String>) -> Promise {
        let db = self.db.clone();
        future_to_promise(async move {
            let run = async {
                let tx = db.transaction_with_str(BLOBS)?;
                let blobs = tx.object_store(BLOBS)?;
                let reqs = keys
                    .iter()
                    .map(|k| blobs.get(&JsValue::from_str(k)))
                    .collect::<Result<Vec<_>, _>>()?;
                transaction_done(&tx).await?;
                let out = Array::new();
                for r in &reqs {
                    out.push(&r.result()?);
                }
                Ok::<_, JsValue>(out.into())
            };
            run.await.map_err(|e| storage_error("read", &e))
        })
    }

    /// `Promise<number>`: the generation counter (0 for a new database).
    pub fn generation(&self) -> Promise {
        let db = self.db.clone();
        future_to_promise(async move {
            let run = async {
                let tx = db.transaction_with_str(META)?;
                let req = tx.object_store(META)?.get(&JsValue::from_str(GENERATION))?;
                transaction_done(&tx).await?;
                Ok::<_, JsValue>(JsValue::from_f64(req.result()?.as_f64().unwrap_or(0.0)))
            };
            run.await.map_err(|e| storage_error("read", &e))
        })
    }

    /// `Promise<number>`: commits write batches (as made by `Engine.takeWrites`), in order, in
    /// ONE readwrite transaction that also increments the generation; resolves to the new
    /// generation once the transaction completed. On failure nothing is applied; a full disk
    /// fails with code `QUOTA_EXCEEDED`.
    pub fn apply(&self, batches: Vec<JsValue>) -> Promise {
        let db = self.db.clone();
        future_to_promise(async move {
            let stores = Array::of2(&JsValue::from_str(BLOBS), &JsValue::from_str(META));
            let tx = db
                .transaction_with_str_sequence_and_mode(&stores, IdbTransactionMode::Readwrite)
                .map_err(|e| storage_error("commit", &e))?;
            let queued = (|| {
                let blobs = tx.object_store(BLOBS)?;
                let mut bytes = 0.0;
                for b in &batches {
                    bytes += queue_batch(&blobs, b)?;
                }
                let meta = tx.object_store(META)?;
                let req = meta.get(&JsValue::from_str(GENERATION))?;
                Ok::<_, JsValue>((bytes, meta, req))
            })();
            let (bytes, meta, req) = match queued {
                Ok(q) => q,
                Err(e) => {
                    let _ = tx.abort();
                    let _ = transaction_done(&tx).await;
                    let is_argument =
                        crate::error::dom_name(&e).as_deref() == Some("LarchArgumentError");
                    return Err(if is_argument {
                        e
                    } else {
                        storage_error("commit", &e)
                    });
                }
            };
            // Read-increment-write of the counter inside the same transaction.
            let next = std::rc::Rc::new(std::cell::Cell::new(0.0));
            let bump = Closure::<dyn FnMut(Event)>::new({
                let (req, meta, next) = (req.clone(), meta.clone(), next.clone());
                move |_e: Event| {
                    let current = req.result().ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
                    next.set(current + 1.0);
                    let _ = meta.put_with_key(
                        &JsValue::from_f64(current + 1.0),
                        &JsValue::from_str(GENERATION),
                    );
                }
            });
            req.set_onsuccess(Some(bump.as_ref().unchecked_ref()));
            let done = transaction_done(&tx).await;
            req.set_onsuccess(None);
            drop(bump);
            done.map_err(|e| storage_error(&format!("commit of {bytes} bytes"), &e))?;
            Ok(JsValue::from_f64(next.get()))
        })
    }
}
