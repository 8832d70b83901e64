//! The raw host imports (module `itc`) and their safe wrappers.
//!
//! The ABI, all offsets and lengths being `u32` addresses in the chaincode's linear memory:
//!
//! | import | does |
//! |---|---|
//! | `input_len() -> u32` | length of the job input (bytes the job submitter supplied) |
//! | `input_read(ptr)` | copies the job input to `ptr` |
//! | `dataset_count() -> u32` | number of datasets the job names |
//! | `call(ptr, len) -> u32` | runs the SCALE [`HostRequest`] at `ptr..ptr+len`; returns the length of the SCALE `Result<HostResponse, HostError>` it holds |
//! | `take(ptr)` | copies that held response to `ptr` |
//! | `output(ptr, len)` | sets the job's output (the last call wins) |
//!
//! The chaincode exports `run()` (see [`crate::entry!`]) and a memory named `memory`.
use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::abi::{HostError, HostRequest, HostResponse};

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod ffi {
    #[link(wasm_import_module = "itc")]
    extern "C" {
        pub fn input_len() -> u32;
        pub fn input_read(ptr: u32);
        pub fn dataset_count() -> u32;
        pub fn call(ptr: u32, len: u32) -> u32;
        pub fn take(ptr: u32);
        pub fn output(ptr: u32, len: u32);
    }
}

/// Off wasm32 there is no host: these stand-ins let the SDK's types and docs build and test on
/// the developer's machine. Every call answers as an engine with no datasets would.
#[cfg(not(target_arch = "wasm32"))]
#[allow(unsafe_code)]
mod ffi {
    // `unsafe` like the real imports, so callers are written once for both.
    pub unsafe fn input_len() -> u32 {
        0
    }
    pub unsafe fn input_read(_ptr: u32) {}
    pub unsafe fn dataset_count() -> u32 {
        0
    }
    pub unsafe fn call(_ptr: u32, _len: u32) -> u32 {
        0
    }
    pub unsafe fn take(_ptr: u32) {}
    pub unsafe fn output(_ptr: u32, _len: u32) {}
}

// Pointers cross the ABI as u32: wasm32 addresses.
fn addr(p: *const u8) -> u32 {
    p as usize as u32
}

/// The job input: bytes the job submitter attached (e.g. a SCALE-encoded set of customer ids).
pub fn input() -> Vec<u8> {
    #[allow(unsafe_code)]
    // SAFETY: the host writes exactly `input_len()` bytes at the pointer, inside `buf`.
    unsafe {
        let len = ffi::input_len() as usize;
        let mut buf = alloc::vec![0u8; len];
        if len > 0 {
            ffi::input_read(addr(buf.as_mut_ptr()));
        }
        buf
    }
}

/// Number of datasets the job names.
pub fn dataset_count() -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: no memory is shared.
    unsafe {
        ffi::dataset_count()
    }
}

/// Sends a request to the host and decodes its answer.
pub fn call(request: &HostRequest) -> Result<HostResponse, HostError> {
    let req = request.encode();
    #[allow(unsafe_code)]
    // SAFETY: the host reads `req.len()` bytes from `req` and writes exactly the returned number
    // of bytes into `buf`, which has that length.
    let bytes = unsafe {
        let len = ffi::call(addr(req.as_ptr()), req.len() as u32) as usize;
        let mut buf = alloc::vec![0u8; len];
        if len > 0 {
            ffi::take(addr(buf.as_mut_ptr()));
        }
        buf
    };
    match Result::<HostResponse, HostError>::decode(&mut &bytes[..]) {
        Ok(r) => r,
        Err(_) => Err(HostError::BadRequest("the host answer did not decode".into())),
    }
}

/// Sets the job output to `bytes` (the engine enforces its output size limit).
pub fn set_output_bytes(bytes: &[u8]) {
    #[allow(unsafe_code)]
    // SAFETY: the host reads `bytes.len()` bytes from `bytes`.
    unsafe {
        ffi::output(addr(bytes.as_ptr()), bytes.len() as u32)
    }
}

/// Sets the job output to the SCALE encoding of `value`.
pub fn set_output<T: Encode>(value: &T) {
    set_output_bytes(&value.encode())
}
