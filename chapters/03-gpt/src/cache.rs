//! A key/value cache for generation, preallocated once.
//!
//! Generating token t+1 needs the keys and values of every earlier position. Without a
//! cache, each new token recomputes all of them (O(T²) work for T tokens). With it, each
//! step computes only the new position's keys and values and writes them in place into
//! buffers allocated once for the whole context — never grown by concatenation, which
//! would copy the whole cache at every step.

use crate::fused_decode::RowCache;
use anyhow::{Result, ensure};
use candle_core::{DType, Device, Tensor};

/// Keys and values of every layer, filled up to `len`: candle tensors (B, H, capacity, D)
/// for the composed model, or — for the fused CPU model — plain (B, capacity, C) rows
/// ([`crate::fused_decode`]).
pub struct KvCache {
    store: Store,
    len: usize,
    capacity: usize,
}

enum Store {
    Tensors {
        keys: Vec<Tensor>,
        values: Vec<Tensor>,
    },
    Rows(Vec<RowCache>),
}

/// One layer's view of the cache.
pub struct LayerCache<'a> {
    k: &'a Tensor,
    v: &'a Tensor,
    len: usize,
    capacity: usize,
}

impl KvCache {
    /// f32 buffers for `batch` sequences of up to `capacity` positions.
    pub fn new(
        cfg: &crate::GptConfig,
        batch: usize,
        capacity: usize,
        dev: &Device,
    ) -> Result<KvCache> {
        Self::with_dtype(cfg, batch, capacity, dev, DType::F32)
    }

    /// Buffers in `dtype`: the model's compute type (see [`crate::Gpt::dtype`]).
    pub fn with_dtype(
        cfg: &crate::GptConfig,
        batch: usize,
        capacity: usize,
        dev: &Device,
        dtype: DType,
    ) -> Result<KvCache> {
        let shape = (batch, cfg.n_head, capacity, cfg.head_size());
        let zeros = || Tensor::zeros(shape, dtype, dev);
        let keys = (0..cfg.n_layer)
            .map(|_| zeros())
            .collect::<candle_core::Result<_>>()?;
        let values = (0..cfg.n_layer)
            .map(|_| zeros())
            .collect::<candle_core::Result<_>>()?;
        Ok(KvCache {
            store: Store::Tensors { keys, values },
            len: 0,
            capacity,
        })
    }

    /// The cache `model` generates fastest with: plain rows for the fused CPU model,
    /// tensors in its compute type otherwise.
    pub fn for_model(model: &crate::Gpt, batch: usize, capacity: usize) -> Result<KvCache> {
        let dev = model.device();
        if !model.decodes_fused() {
            return Self::with_dtype(&model.cfg, batch, capacity, &dev, model.dtype);
        }
        let n = batch * capacity * model.cfg.n_embd;
        let rows = (0..model.cfg.n_layer)
            .map(|_| RowCache {
                k: vec![0.0; n],
                v: vec![0.0; n],
            })
            .collect();
        Ok(KvCache {
            store: Store::Rows(rows),
            len: 0,
            capacity,
        })
    }

    /// Positions already cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the cache can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn layer(&mut self, l: usize) -> Result<LayerCache<'_>> {
        match &self.store {
            Store::Tensors { keys, values } => Ok(LayerCache {
                k: &keys[l],
                v: &values[l],
                len: self.len,
                capacity: self.capacity,
            }),
            Store::Rows(_) => anyhow::bail!(
                "this KV cache holds plain rows for the fused CPU model (KvCache::for_model), not tensors"
            ),
        }
    }

    /// Whether this is a cache of plain rows, for the fused model.
    pub fn holds_rows(&self) -> bool {
        matches!(self.store, Store::Rows(_))
    }

    /// The plain rows of every layer, if this is a cache for the fused model.
    pub(crate) fn rows_mut(&mut self) -> Option<&mut [RowCache]> {
        match &mut self.store {
            Store::Rows(r) => Some(r),
            Store::Tensors { .. } => None,
        }
    }

    /// Called once per forward, after every layer wrote its `t` new positions.
    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }
}

// ANCHOR: append
impl LayerCache<'_> {
    /// Write the new keys and values (B, H, t, D) after the cached ones; return all of
    /// them (B, H, len + t, D).
    pub fn append(&self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let t = k.dim(2)?;
        ensure!(
            self.len + t <= self.capacity,
            "KV cache full: {} + {t} positions > {}",
            self.len,
            self.capacity
        );
        self.k.slice_set(&k.contiguous()?, 2, self.len)?;
        self.v.slice_set(&v.contiguous()?, 2, self.len)?;
        Ok((
            self.k.narrow(2, 0, self.len + t)?,
            self.v.narrow(2, 0, self.len + t)?,
        ))
    }
}
// ANCHOR_END: append
