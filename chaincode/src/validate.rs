//! Cheap checks on a module before it is compiled: size, function count, data segments,
//! initial memory and imports. They bound the compiler's work on hostile input.
use wasmtime::wasmparser::{Parser, Payload, TypeRef};

use crate::{host::HOST_IMPORTS, EngineLimits, Error, Result};

/// Checks `code` against `limits` without compiling it.
pub fn precheck(code: &[u8], limits: &EngineLimits) -> Result<()> {
    if code.len() > limits.max_module_bytes {
        return Err(Error::ModuleTooLarge { size: code.len(), limit: limits.max_module_bytes });
    }
    let max_pages = (limits.max_memory_bytes / 65_536) as u64;
    let mut functions = 0u64;
    let mut data = 0u64;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(|e| Error::InvalidModule(e.to_string()))?;
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| Error::InvalidModule(e.to_string()))?;
                    let known = import.module == "itc"
                        && HOST_IMPORTS.contains(&import.name)
                        && matches!(import.ty, TypeRef::Func(_));
                    if !known {
                        return Err(Error::UnknownImport {
                            module: import.module.into(),
                            name: import.name.into(),
                        });
                    }
                    functions += 1;
                }
            }
            Payload::FunctionSection(reader) => functions += u64::from(reader.count()),
            Payload::MemorySection(reader) => {
                for mem in reader {
                    let mem = mem.map_err(|e| Error::InvalidModule(e.to_string()))?;
                    if mem.initial > max_pages {
                        return Err(Error::InitialMemoryTooLarge {
                            pages: mem.initial,
                            limit: max_pages,
                        });
                    }
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d.map_err(|e| Error::InvalidModule(e.to_string()))?;
                    data += d.data.len() as u64;
                }
            }
            _ => {}
        }
        if functions > limits.max_functions {
            return Err(Error::TooManyFunctions { count: functions, limit: limits.max_functions });
        }
        if data > limits.max_data_bytes {
            return Err(Error::DataTooLarge { size: data, limit: limits.max_data_bytes });
        }
    }
    Ok(())
}
