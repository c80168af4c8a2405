//! A key/value cache for generation, preallocated once.
//!
//! Generating token t+1 needs the keys and values of every earlier position. Without a
//! cache, each new token recomputes all of them (O(T²) work for T tokens). With it, each
//! step computes only the new position's keys and values and writes them in place into
//! buffers allocated once for the whole context — never grown by concatenation, which
//! would copy the whole cache at every step.

use anyhow::{Result, ensure};
use candle_core::{DType, Device, Tensor};

/// Keys and values of every layer: (B, H, n_positions, D) each, filled up to `len`.
pub struct KvCache {
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    len: usize,
    capacity: usize,
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
    pub fn new(cfg: &crate::GptConfig, batch: usize, capacity: usize, dev: &Device) -> Result<KvCache> {
        Self::with_dtype(cfg, batch, capacity, dev, DType::F32)
    }

    /// Buffers in `dtype`: the model's compute type (see [`crate::Gpt::dtype`]).
    pub fn with_dtype(cfg: &crate::GptConfig, batch: usize, capacity: usize, dev: &Device, dtype: DType) -> Result<KvCache> {
        let shape = (batch, cfg.n_head, capacity, cfg.head_size());
        let zeros = || Tensor::zeros(shape, dtype, dev);
        Ok(KvCache {
            keys: (0..cfg.n_layer).map(|_| zeros()).collect::<candle_core::Result<_>>()?,
            values: (0..cfg.n_layer).map(|_| zeros()).collect::<candle_core::Result<_>>()?,
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

    pub(crate) fn layer(&mut self, l: usize) -> LayerCache<'_> {
        LayerCache { k: &self.keys[l], v: &self.values[l], len: self.len, capacity: self.capacity }
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
        ensure!(self.len + t <= self.capacity, "KV cache full: {} + {t} positions > {}", self.len, self.capacity);
        self.k.slice_set(&k.contiguous()?, 2, self.len)?;
        self.v.slice_set(&v.contiguous()?, 2, self.len)?;
        Ok((self.k.narrow(2, 0, self.len + t)?, self.v.narrow(2, 0, self.len + t)?))
    }
}
// ANCHOR_END: append
