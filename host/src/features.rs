//! Which wasm proposals a chaincode may use: the one list that both the static checks at upload (`validate.rs`) and
//! the engine's own configuration (`engine.rs`) read.
//!
//! The engine enables exactly these and nothing else, so a module that somehow skipped validation (a bug, a new
//! path to the engine) is still refused by wasmtime's own validator instead of reaching code the host never meant to
//! run, such as GC types in a build without the `gc` feature (RUSTSEC-2026-0570).

use wasmparser::WasmFeatures;

/// Features a chaincode may use: wasm 2.0 (which includes deterministic SIMD: the engine canonicalizes NaNs), tail
/// calls, extended constant expressions, and the component model itself.
pub const ALLOWED: WasmFeatures = WasmFeatures::WASM2
    .union(WasmFeatures::TAIL_CALL)
    .union(WasmFeatures::EXTENDED_CONST)
    .union(WasmFeatures::COMPONENT_MODEL);

/// Everything the engine must refuse: every feature outside [`ALLOWED`].
pub const ENGINE_DISABLED: WasmFeatures = WasmFeatures::all().difference(ALLOWED);

const ENGINE_LACKS: &str = "the host's engine is built without it";

/// The features refused by name, most telling first; each with the reason given to the author. Every other feature
/// outside [`ALLOWED`] is refused too, as "a feature wasmcc does not enable".
pub const REFUSED: &[(WasmFeatures, &str, &str)] = &[
    (
        WasmFeatures::THREADS,
        "threads (shared memory, atomics)",
        "shared memory makes results depend on thread scheduling, so endorsing peers could disagree",
    ),
    (WasmFeatures::SHARED_EVERYTHING_THREADS, "shared-everything-threads", "results would depend on scheduling"),
    (WasmFeatures::RELAXED_SIMD, "relaxed-simd", "its results differ between CPUs, so endorsing peers could disagree"),
    (WasmFeatures::MEMORY64, "memory64", "chaincode is wasm32: the host's memory limits and ABI are 32-bit"),
    (WasmFeatures::MULTI_MEMORY, "multi-memory", "the host's instance pool gives each module one linear memory"),
    (WasmFeatures::CUSTOM_PAGE_SIZES, "custom-page-sizes", ENGINE_LACKS),
    (WasmFeatures::GC, "gc", ENGINE_LACKS),
    (WasmFeatures::FUNCTION_REFERENCES, "function-references", ENGINE_LACKS),
    (WasmFeatures::EXCEPTIONS, "exceptions", ENGINE_LACKS),
    (WasmFeatures::LEGACY_EXCEPTIONS, "legacy-exceptions", ENGINE_LACKS),
    (WasmFeatures::STACK_SWITCHING, "stack-switching", ENGINE_LACKS),
    (WasmFeatures::WIDE_ARITHMETIC, "wide-arithmetic", ENGINE_LACKS),
    (WasmFeatures::CM_ASYNC, "component-model-async", ENGINE_LACKS),
    (WasmFeatures::CM_THREADING, "component-model-threading", ENGINE_LACKS),
    (WasmFeatures::CM_ERROR_CONTEXT, "component-model-error-context", ENGINE_LACKS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_feature_is_disabled_in_the_engine_and_none_is_allowed() {
        for &(flag, name, _) in REFUSED {
            assert!(ENGINE_DISABLED.contains(flag), "{name}");
            assert!(!ALLOWED.intersects(flag), "{name}");
        }
    }
}
