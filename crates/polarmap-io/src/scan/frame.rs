//! Frames in their native pixel type, and the scratch buffer readers decode into.

use bytemuck::Pod;
use serde::{Deserialize, Serialize};

/// Pixel types a scan can hold on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    U8,
    U16,
    U32,
    I16,
    I32,
    F32,
    F64,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Parses the names users write: NumPy's (`uint16`, `float32`) and the short codes (`u2`, `f4`).
    pub fn parse(name: &str) -> Option<DType> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "u8" | "uint8" | "u1" => DType::U8,
            "u16" | "uint16" | "u2" => DType::U16,
            "u32" | "uint32" | "u4" => DType::U32,
            "i16" | "int16" | "i2" => DType::I16,
            "i32" | "int32" | "i4" => DType::I32,
            "f32" | "float32" | "f4" => DType::F32,
            "f64" | "float64" | "f8" => DType::F64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte order of multi-byte pixels on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    #[default]
    Little,
    Big,
}

impl Endian {
    pub fn is_native(self) -> bool {
        match self {
            Endian::Little => cfg!(target_endian = "little"),
            Endian::Big => cfg!(target_endian = "big"),
        }
    }
}

/// A pixel type the analysis kernels are generic over.
pub trait Pixel: Pod + Send + Sync + PartialOrd {
    const DTYPE: DType;
    /// The type sums of this pixel type are accumulated in: exact integers for integer pixels
    /// (wide enough for a row of a frame, or a column of up to 65,536 rows), so summing
    /// vectorises without rounding.
    type Acc: Accumulator;
    fn to_f32(self) -> f32;
    fn to_f64(self) -> f64;
    fn to_acc(self) -> Self::Acc;
}

/// A number pixels are summed into.
pub trait Accumulator:
    Copy + Default + Send + Sync + std::ops::Add<Output = Self> + std::ops::AddAssign
{
    fn to_f64(self) -> f64;
}

macro_rules! impl_accumulator {
    ($($t:ty),*) => {$(
        impl Accumulator for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
impl_accumulator!(u32, u64, i32, i64, f32, f64);

macro_rules! impl_pixel {
    ($($t:ty => $d:ident, $acc:ty),*) => {$(
        impl Pixel for $t {
            const DTYPE: DType = DType::$d;
            type Acc = $acc;
            #[inline(always)]
            fn to_f32(self) -> f32 { self as f32 }
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn to_acc(self) -> $acc { self as $acc }
        }
    )*};
}
impl_pixel!(
    u8 => U8, u32, u16 => U16, u32, u32 => U32, u64, i16 => I16, i32,
    i32 => I32, i64, f32 => F32, f32, f64 => F64, f64
);

/// One diffraction pattern, row-major, borrowed in its native pixel type.
#[derive(Debug, Clone, Copy)]
pub enum FrameRef<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Code that runs on a frame's pixels whatever their type; `FrameRef::visit` monomorphises it.
pub trait FrameVisitor {
    type Output;
    fn visit<T: Pixel>(self, pixels: &[T]) -> Self::Output;
}

impl<'a> FrameRef<'a> {
    pub fn visit<V: FrameVisitor>(self, visitor: V) -> V::Output {
        match self {
            FrameRef::U8(p) => visitor.visit(p),
            FrameRef::U16(p) => visitor.visit(p),
            FrameRef::U32(p) => visitor.visit(p),
            FrameRef::I16(p) => visitor.visit(p),
            FrameRef::I32(p) => visitor.visit(p),
            FrameRef::F32(p) => visitor.visit(p),
            FrameRef::F64(p) => visitor.visit(p),
        }
    }

    pub fn len(&self) -> usize {
        struct Len;
        impl FrameVisitor for Len {
            type Output = usize;
            fn visit<T: Pixel>(self, p: &[T]) -> usize {
                p.len()
            }
        }
        self.visit(Len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match self {
            FrameRef::U8(_) => DType::U8,
            FrameRef::U16(_) => DType::U16,
            FrameRef::U32(_) => DType::U32,
            FrameRef::I16(_) => DType::I16,
            FrameRef::I32(_) => DType::I32,
            FrameRef::F32(_) => DType::F32,
            FrameRef::F64(_) => DType::F64,
        }
    }

    /// Converts into `out` (which must have the frame's length) as f32.
    pub fn copy_to_f32(self, out: &mut [f32]) {
        struct ToF32<'o>(&'o mut [f32]);
        impl FrameVisitor for ToF32<'_> {
            type Output = ();
            fn visit<T: Pixel>(self, p: &[T]) {
                for (o, &v) in self.0.iter_mut().zip(p) {
                    *o = v.to_f32();
                }
            }
        }
        assert_eq!(out.len(), self.len(), "output length must match the frame");
        self.visit(ToF32(out))
    }

    pub fn to_f64_vec(self) -> Vec<f64> {
        struct ToF64;
        impl FrameVisitor for ToF64 {
            type Output = Vec<f64>;
            fn visit<T: Pixel>(self, p: &[T]) -> Vec<f64> {
                p.iter().map(|v| v.to_f64()).collect()
            }
        }
        self.visit(ToF64)
    }

    pub fn to_f32_vec(self) -> Vec<f32> {
        let mut out = vec![0.0; self.len()];
        self.copy_to_f32(&mut out);
        out
    }

    /// Wraps a typed slice, e.g. one cast from a memory map.
    pub fn from_slice<T: Pixel>(pixels: &'a [T]) -> FrameRef<'a> {
        let bytes: &'a [u8] = bytemuck::cast_slice(pixels);
        Self::from_aligned_bytes(T::DTYPE, bytes)
    }

    /// Views native-endian bytes as a frame; `bytes` must be aligned for `dtype`.
    pub fn from_aligned_bytes(dtype: DType, bytes: &'a [u8]) -> FrameRef<'a> {
        match dtype {
            DType::U8 => FrameRef::U8(bytes),
            DType::U16 => FrameRef::U16(bytemuck::cast_slice(bytes)),
            DType::U32 => FrameRef::U32(bytemuck::cast_slice(bytes)),
            DType::I16 => FrameRef::I16(bytemuck::cast_slice(bytes)),
            DType::I32 => FrameRef::I32(bytemuck::cast_slice(bytes)),
            DType::F32 => FrameRef::F32(bytemuck::cast_slice(bytes)),
            DType::F64 => FrameRef::F64(bytemuck::cast_slice(bytes)),
        }
    }
}

/// Reusable, 8-byte aligned scratch memory that readers decode frames into.
/// One per worker thread: it makes per-frame decoding allocation-free.
#[derive(Debug, Default)]
pub struct FrameBuffer {
    words: Vec<u64>,
}

impl FrameBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A zero-initialised-once, aligned byte slice of `len` bytes (contents unspecified).
    pub fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        let words = len.div_ceil(8);
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
        &mut bytemuck::cast_slice_mut(&mut self.words[..words])[..len]
    }

    /// A typed slice of `len` pixels (contents unspecified).
    pub fn typed_mut<T: Pixel>(&mut self, len: usize) -> &mut [T] {
        bytemuck::cast_slice_mut(self.bytes_mut(len * std::mem::size_of::<T>()))
    }

    /// Copies `bytes` (pixels of `dtype` in byte order `endian`) into the buffer in native order
    /// and returns them as a frame.
    pub fn decode<'a>(&'a mut self, dtype: DType, endian: Endian, bytes: &[u8]) -> FrameRef<'a> {
        let out = self.bytes_mut(bytes.len());
        if endian.is_native() {
            out.copy_from_slice(bytes);
        } else {
            // One pass that reads and swaps, typed and compiled per instruction set so that it
            // vectorises (a byte shuffle per register).
            match dtype.size() {
                2 => swap_into::<u16>(out, bytes),
                4 => swap_into::<u32>(out, bytes),
                8 => swap_into::<u64>(out, bytes),
                _ => out.copy_from_slice(bytes),
            }
        }
        FrameRef::from_aligned_bytes(dtype, out)
    }
}

/// Values whose byte order can be reversed.
trait SwapBytes: Pod {
    fn swapped(self) -> Self;
}

macro_rules! impl_swap_bytes {
    ($($t:ty),*) => {$(
        impl SwapBytes for $t {
            #[inline(always)]
            fn swapped(self) -> Self { self.swap_bytes() }
        }
    )*};
}
impl_swap_bytes!(u16, u32, u64);

/// Writes `bytes` (values of the non-native order) into the aligned `out` in native order. A
/// memory map's frames are usually aligned for their type; the unaligned path is the fallback.
/// Profiled on a 2 GiB big-endian `.mib`: through a function pointer and unaligned reads this
/// loop did not vectorise and cost twice the CoM kernel.
#[multiversion::multiversion(targets("x86_64+avx2", "x86_64+ssse3", "aarch64+neon"))]
fn swap_into<T: SwapBytes>(out: &mut [u8], bytes: &[u8]) {
    let out: &mut [T] = bytemuck::cast_slice_mut(out);
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(values) => {
            for (o, &v) in out.iter_mut().zip(values) {
                *o = v.swapped();
            }
        }
        Err(_) => {
            for (o, chunk) in out
                .iter_mut()
                .zip(bytes.chunks_exact(std::mem::size_of::<T>()))
            {
                *o = bytemuck::pod_read_unaligned::<T>(chunk).swapped();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_swaps_every_width() {
        let mut buf = FrameBuffer::new();
        let be: Vec<u8> = [1.5f64, -3.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(
            buf.decode(DType::F64, Endian::Big, &be).to_f32_vec(),
            vec![1.5, -3.0]
        );
        let be: Vec<u8> = [70000u32, 5].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(
            buf.decode(DType::U32, Endian::Big, &be).to_f32_vec(),
            vec![70000.0, 5.0]
        );
    }

    #[test]
    fn decode_swaps_big_endian() {
        let mut buf = FrameBuffer::new();
        let frame = buf.decode(DType::U16, Endian::Big, &[0x01, 0x02, 0xff, 0x00]);
        match frame {
            FrameRef::U16(p) => assert_eq!(p, &[0x0102, 0xff00]),
            other => panic!("wrong type {other:?}"),
        }
    }

    #[test]
    fn decode_swaps_aligned_and_unaligned_input_alike() {
        let values: Vec<u16> = (0..1000u16).map(|v| v.wrapping_mul(257) ^ 0x1234).collect();
        // One byte of padding in front, so that [1..] is misaligned wherever [0..] is aligned.
        let mut storage = vec![0u8];
        storage.extend(values.iter().flat_map(|v| v.to_be_bytes()));
        storage.push(0);
        let mut buf = FrameBuffer::new();
        for start in [0, 1] {
            let bytes = &storage[start..start + 2 * values.len()];
            let expected: Vec<f32> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]) as f32)
                .collect();
            assert_eq!(
                buf.decode(DType::U16, Endian::Big, bytes).to_f32_vec(),
                expected
            );
        }
    }

    #[test]
    fn decode_keeps_little_endian_f32() {
        let values = [1.5f32, -2.25, 1e-3];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut buf = FrameBuffer::new();
        assert_eq!(
            buf.decode(DType::F32, Endian::Little, &bytes).to_f32_vec(),
            values
        );
    }

    #[test]
    fn dtype_names_round_trip() {
        for d in [
            DType::U8,
            DType::U16,
            DType::U32,
            DType::I16,
            DType::I32,
            DType::F32,
            DType::F64,
        ] {
            assert_eq!(DType::parse(d.name()), Some(d));
        }
        assert_eq!(DType::parse("complex64"), None);
    }
}
