//! Matrix products straight from the `gemm` crate (the kernel candle's own CPU `matmul`
//! calls), on strided views: a transposed operand is the same memory read with its two
//! strides swapped, so `dy · Wᵀ` and `xᵀ · dy` need no transposed copy.

use ::gemm::Parallelism;

/// A read-only matrix view: element (r, c) is at `data[r · rs + c · cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major (rows × cols) matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix view of {rows} × {cols} over {} values",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// A (rows × cols) block whose rows start `rs` values apart (e.g. one head's columns
    /// inside a row of q, k and v).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    /// The same matrix, transposed (no copy).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// `c ← a · b` (or `c ← c + a · b` with `accumulate`), with `c` row-major (m × n).
/// `threads > 1` splits the product over the rayon pool; inside a parallel loop pass 1.
pub fn matmul(c: &mut [f32], a: View, b: View, accumulate: bool, threads: usize) {
    let n = b.cols;
    assert_eq!(
        c.len(),
        a.rows * n,
        "matmul: output of {} values for {} × {n}",
        c.len(),
        a.rows
    );
    matmul_into(c, n, a, b, 1.0, accumulate, threads);
}

/// `c ← s · a · b` (or `c ← c + s · a · b`) into the (m × n) block of `c` whose rows
/// start `c_rs` values apart — e.g. one head's columns of a (T, C) matrix.
pub fn matmul_into(
    c: &mut [f32],
    c_rs: usize,
    a: View,
    b: View,
    s: f32,
    accumulate: bool,
    threads: usize,
) {
    let (m, n) = (a.rows, b.cols);
    assert!(
        m == 0 || n == 0 || (c_rs >= n && c.len() >= (m - 1) * c_rs + n),
        "matmul: output block reaches past its data"
    );
    // SAFETY: the (m × n) block with row stride c_rs lies inside `c` (checked above).
    unsafe { gemm_raw(c.as_mut_ptr(), c_rs, a, b, s, accumulate, threads) }
}

/// `a · b` as a new row-major (m × n) matrix, written straight into fresh memory (no zero
/// fill first: the kernel writes every element).
pub fn matmul_new(a: View, b: View, threads: usize) -> Vec<f32> {
    let (m, n) = (a.rows, b.cols);
    let mut c: Vec<f32> = Vec::with_capacity(m * n);
    // SAFETY: the kernel writes all m × n elements (row stride n) of the allocation before
    // `set_len` makes them readable.
    unsafe {
        gemm_raw(c.as_mut_ptr(), n, a, b, 1.0, false, threads);
        c.set_len(m * n);
    }
    c
}

/// The matrix kernel on a raw output block (m × n, rows `c_rs` apart).
///
/// # Safety
/// `c` must be valid for writes (and, with `accumulate`, reads) of that whole block.
unsafe fn gemm_raw(
    c: *mut f32,
    c_rs: usize,
    a: View,
    b: View,
    s: f32,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: ({m} × {k}) · ({} × {n})", b.rows);
    assert!(a.fits() && b.fits(), "matmul: a view reaches past its data");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of the block is inside `c` (the caller's promise).
                unsafe { std::ptr::write_bytes(c.add(i * c_rs), 0, n) };
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: every index the kernel reads is inside `a.data` / `b.data` (checked by
    // `fits`), and it writes exactly the m × n block of `c` (the caller's promise).
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            c_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0, // c ← 1·c + s·a·b when accumulating (the 1 is ignored otherwise)
            s,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Threads for a product that runs alone (candle's rule: the rayon pool's size).
pub fn pool_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &View, b: &View) -> Vec<f32> {
        let mut c = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for p in 0..a.cols {
                    c[i * b.cols + j] += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        c
    }

    #[test]
    fn products_of_views_and_transposes() {
        let x: Vec<f32> = (0..35).map(|i| (i as f32 * 0.3).sin()).collect(); // 5 × 7
        let y: Vec<f32> = (0..21).map(|i| (i as f32 * 0.7).cos()).collect(); // 7 × 3
        let (a, b) = (View::rows(&x, 5, 7), View::rows(&y, 7, 3));
        for (a, b) in [(a, b), (b.t(), a.t())] {
            let mut c = vec![0f32; a.rows * b.cols];
            matmul(&mut c, a, b, false, 2);
            let want = naive(&a, &b);
            assert!(c.iter().zip(&want).all(|(c, w)| (c - w).abs() < 1e-5));
            matmul(&mut c, a, b, true, 1);
            assert!(c.iter().zip(&want).all(|(c, w)| (c - 2.0 * w).abs() < 1e-5));
        }
    }
}
