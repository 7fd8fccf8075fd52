//! `memory.fill` and `memory.copy` in slices: every fill and copy of a core module becomes a call to a function that
//! fills or copies at most [`limits::FILL_SLICE_BYTES`] per loop iteration.
//!
//! Why: one `memory.fill` is one instruction, and wasmtime checks the epoch (the signal to give the CPU turn back,
//! `quota::cpu`) only at function entries and loop headers. A guest filling a MiB of fresh memory (Rust's
//! `vec![x; 1 << 20]`) runs that one instruction for half a millisecond or more, most of it in the kernel faulting
//! pages in, and every other chaincode's transaction waiting for a turn waits that long. Filled in slices, a guest
//! reaches a loop header, and so an epoch check, every few tens of microseconds. A copy into fresh memory faults the
//! same way, so copies are sliced too (backwards when the destination is above the source, as `memmove` does).
//!
//! What the guest sees is the same: a fill or copy that fits is done; one that does not traps (after the slices that
//! fit, which nobody can observe: a trap ends the transaction and its instance). Fuel grows by a few units per slice.
//! A module with neither instruction is left byte for byte as it was. In a component, each core module is sliced the
//! same way.

use wasm_encoder::reencode::{self, Reencode, ReencodeComponent, RoundtripReencoder};
use wasm_encoder::{CodeSection, ComponentSectionId, FunctionSection, Instruction, RawSection, TypeSection, ValType};
use wasmparser::{Operator, Parser, Payload};

use crate::limits;

/// The module with its fills and copies sliced, or `None` when it has none (or is not one wasmcc would run).
pub(super) fn slice_bulk_memory(wasm: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if Parser::is_component(wasm) {
        return slice_component(wasm);
    }
    let Some(counts) = Counts::read(wasm).map_err(|e| e.to_string())? else { return Ok(None) };
    let mut slicer = Slicer { slice_type: counts.types, fill: counts.functions, copy: counts.functions + 1 };
    let mut module = wasm_encoder::Module::new();
    slicer.parse_core_module(&mut module, Parser::new(0), wasm).map_err(|e| e.to_string())?;
    Ok(Some(module.finish()))
}

/// A component with each of its core modules sliced; `None` when none needed it.
fn slice_component(wasm: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut slicer = ComponentSlicer { changed: false };
    let mut component = wasm_encoder::Component::new();
    slicer.parse_component(&mut component, Parser::new(0), wasm).map_err(|e| e.to_string())?;
    Ok(slicer.changed.then(|| component.finish()))
}

/// Copies a component as it is but for its core modules, which it slices.
struct ComponentSlicer {
    changed: bool,
}

impl Reencode for ComponentSlicer {
    type Error = String;
}

impl ReencodeComponent for ComponentSlicer {
    fn parse_component_submodule(
        &mut self,
        component: &mut wasm_encoder::Component,
        _parser: Parser,
        module: &[u8],
    ) -> Result<(), reencode::Error<Self::Error>> {
        let sliced = slice_bulk_memory(module).map_err(reencode::Error::UserError)?;
        self.changed |= sliced.is_some();
        let data = sliced.as_deref().unwrap_or(module);
        component.section(&RawSection { id: ComponentSectionId::CoreModule as u8, data });
        Ok(())
    }
}

/// What the rewrite needs to know first: the index the new type and functions get (after all the others, so no
/// existing index moves), and whether there is anything to slice.
struct Counts {
    types: u32,
    functions: u32,
}

impl Counts {
    fn read(wasm: &[u8]) -> Result<Option<Counts>, wasmparser::BinaryReaderError> {
        let (mut types, mut functions, mut bulk) = (0, 0, false);
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(s) => {
                    for group in s {
                        types += group?.types().len() as u32;
                    }
                }
                Payload::ImportSection(s) => {
                    for import in s.into_imports() {
                        if matches!(import?.ty, wasmparser::TypeRef::Func(_)) {
                            functions += 1;
                        }
                    }
                }
                Payload::FunctionSection(s) => functions += s.count(),
                Payload::MemorySection(s) => {
                    for memory in s {
                        if memory?.memory64 {
                            return Ok(None);
                        }
                    }
                }
                Payload::CodeSectionEntry(body) if !bulk && !is_slicer(body.as_bytes()) => {
                    let mut ops = body.get_operators_reader()?;
                    while !ops.eof() {
                        if matches!(ops.read()?, Operator::MemoryFill { mem: 0 } | Operator::MemoryCopy { .. }) {
                            bulk = true;
                            break;
                        }
                    }
                }
                Payload::Version { encoding: wasmparser::Encoding::Component, .. } => return Ok(None),
                _ => {}
            }
        }
        Ok(bulk.then_some(Counts { types, functions }))
    }
}

struct Slicer {
    /// `(i32, i32, i32) -> ()`, the type of both.
    slice_type: u32,
    fill: u32,
    copy: u32,
}

impl Reencode for Slicer {
    type Error = std::convert::Infallible;

    fn instruction<'a>(&mut self, op: Operator<'a>) -> Result<Instruction<'a>, reencode::Error<Self::Error>> {
        match op {
            Operator::MemoryFill { mem: 0 } => Ok(Instruction::Call(self.fill)),
            Operator::MemoryCopy { dst_mem: 0, src_mem: 0 } => Ok(Instruction::Call(self.copy)),
            other => RoundtripReencoder.instruction(other),
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([ValType::I32, ValType::I32, ValType::I32], []);
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        functions.function(self.slice_type);
        functions.function(self.slice_type);
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        if is_slicer(func.as_bytes()) {
            code.raw(func.as_bytes());
            Ok(())
        } else {
            reencode::utils::parse_function_body(self, code, func)
        }
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_code_section(self, code, section)?;
        code.function(&sliced_fill());
        code.function(&sliced_copy());
        Ok(())
    }
}

/// Whether a function body is one of the two this rewrite adds. Their fills and copies are bounded by construction, so
/// they are kept as they are: a module validated again (a component made from a sliced module) comes out unchanged.
fn is_slicer(body: &[u8]) -> bool {
    static BODIES: std::sync::OnceLock<[Vec<u8>; 2]> = std::sync::OnceLock::new();
    let [fill, copy] = BODIES.get_or_init(|| [sliced_fill().into_raw_body(), sliced_copy().into_raw_body()]);
    body == fill.as_slice() || body == copy.as_slice()
}

/// `(func (param $dst i32) (param $value i32) (param $len i32))`: slices of [`limits::FILL_SLICE_BYTES`] while more
/// than one is left, then the rest, each with `memory.fill`.
fn sliced_fill() -> wasm_encoder::Function {
    use Instruction::*;
    let slice = limits::FILL_SLICE_BYTES as i32;
    let mut f = wasm_encoder::Function::new([]);
    let (dst, value, len) = (0, 1, 2);
    for op in [
        Block(wasm_encoder::BlockType::Empty),
        Loop(wasm_encoder::BlockType::Empty),
        LocalGet(len),
        I32Const(slice),
        I32LeU,
        BrIf(1),
        LocalGet(dst),
        LocalGet(value),
        I32Const(slice),
        MemoryFill(0),
        LocalGet(dst),
        I32Const(slice),
        I32Add,
        LocalSet(dst),
        LocalGet(len),
        I32Const(slice),
        I32Sub,
        LocalSet(len),
        Br(0),
        End,
        End,
        LocalGet(dst),
        LocalGet(value),
        LocalGet(len),
        MemoryFill(0),
        End,
    ] {
        f.instruction(&op);
    }
    f
}

/// `(func (param $dst i32) (param $src i32) (param $len i32))`: `memory.copy` in slices of
/// [`limits::FILL_SLICE_BYTES`]: from the start when the destination is at or below the source, else from the end,
/// so that an overlapping copy reads nothing it has already overwritten.
fn sliced_copy() -> wasm_encoder::Function {
    use Instruction::*;
    let slice = limits::FILL_SLICE_BYTES as i32;
    let mut f = wasm_encoder::Function::new([]);
    let (dst, src, len) = (0, 1, 2);
    let empty = wasm_encoder::BlockType::Empty;
    let forward = [
        Block(empty),
        Loop(empty),
        LocalGet(len),
        I32Const(slice),
        I32LeU,
        BrIf(1),
        LocalGet(dst),
        LocalGet(src),
        I32Const(slice),
        MemoryCopy { src_mem: 0, dst_mem: 0 },
        LocalGet(dst),
        I32Const(slice),
        I32Add,
        LocalSet(dst),
        LocalGet(src),
        I32Const(slice),
        I32Add,
        LocalSet(src),
        LocalGet(len),
        I32Const(slice),
        I32Sub,
        LocalSet(len),
        Br(0),
        End,
        End,
    ];
    let backward = [
        Block(empty),
        Loop(empty),
        LocalGet(len),
        I32Const(slice),
        I32LeU,
        BrIf(1),
        LocalGet(len),
        I32Const(slice),
        I32Sub,
        LocalSet(len),
        LocalGet(dst),
        LocalGet(len),
        I32Add,
        LocalGet(src),
        LocalGet(len),
        I32Add,
        I32Const(slice),
        MemoryCopy { src_mem: 0, dst_mem: 0 },
        Br(0),
        End,
        End,
    ];
    let ops = [LocalGet(dst), LocalGet(src), I32LeU, If(empty)]
        .into_iter()
        .chain(forward)
        .chain([Else])
        .chain(backward)
        .chain([End, LocalGet(dst), LocalGet(src), LocalGet(len), MemoryCopy { src_mem: 0, dst_mem: 0 }, End]);
    for op in ops {
        f.instruction(&op);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::slice_bulk_memory;

    /// Fills `len` bytes at `dst` with 7, then reads back the byte at `probe`.
    const FILLER: &str = r#"(module
        (memory (export "memory") 4)
        (func (export "fill") (param $dst i32) (param $len i32) (param $probe i32) (result i32)
            (memory.fill (local.get $dst) (i32.const 7) (local.get $len))
            (i32.load8_u (local.get $probe))))"#;

    /// Calls a module's export taking three i32s and answering one, in a fresh instance.
    fn call(wasm: &[u8], export: &str, args: (i32, i32, i32)) -> Result<i32, wasmtime::Error> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wasm)?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        instance.get_typed_func::<(i32, i32, i32), i32>(&mut store, export)?.call(&mut store, args)
    }

    /// A module from its text, and its sliced form, which must validate.
    fn original_and_sliced(wat: &str) -> (Vec<u8>, Vec<u8>) {
        let original = wat::parse_str(wat).unwrap();
        let sliced = slice_bulk_memory(&original).unwrap().expect("a module with a fill or copy is rewritten");
        wasmparser::Validator::new().validate_all(&sliced).unwrap();
        (original, sliced)
    }

    fn run(wasm: &[u8], dst: i32, len: i32, probe: i32) -> Result<i32, wasmtime::Error> {
        call(wasm, "fill", (dst, len, probe))
    }

    #[test]
    fn sliced_fills_fill_what_the_instruction_fills_and_trap_where_it_traps() {
        let (original, sliced) = original_and_sliced(FILLER);
        assert_eq!(slice_bulk_memory(&sliced).unwrap(), None, "a sliced module is left as it is");
        let pages = 4 * 65536;
        for (dst, len, probe) in [(0, 10, 9), (0, 10, 10), (100, 200_000, 200_099), (100, 200_000, 200_100), (5, 0, 5)]
        {
            assert_eq!(run(&sliced, dst, len, probe).unwrap(), run(&original, dst, len, probe).unwrap());
        }
        for (dst, len) in [(pages - 10, 11), (10, pages), (pages + 1, 0)] {
            assert!(run(&original, dst, len, 0).is_err());
            assert!(run(&sliced, dst, len, 0).is_err(), "({dst}, {len}) must trap");
        }
    }

    /// Copies `len` bytes from `src` to `dst` after writing 0, 1, 2, … (mod 251) over the first 300,000 bytes, then
    /// answers a checksum of those bytes: any byte copied wrong changes it.
    const COPIER: &str = r#"(module
        (memory (export "memory") 5)
        (func (export "copy") (param $dst i32) (param $src i32) (param $len i32) (result i32)
            (local $i i32) (local $sum i32)
            (loop $init
                (i32.store8 (local.get $i) (i32.rem_u (local.get $i) (i32.const 251)))
                (br_if $init (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 300000))))
            (memory.copy (local.get $dst) (local.get $src) (local.get $len))
            (local.set $i (i32.const 0))
            (loop $sum
                (local.set $sum (i32.add (i32.mul (local.get $sum) (i32.const 31))
                    (i32.load8_u (local.get $i))))
                (br_if $sum (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 300000))))
            (local.get $sum)))"#;

    fn copy(wasm: &[u8], dst: i32, src: i32, len: i32) -> Result<i32, wasmtime::Error> {
        call(wasm, "copy", (dst, src, len))
    }

    #[test]
    fn sliced_copies_copy_what_the_instruction_copies_overlapping_or_not() {
        let (original, sliced) = original_and_sliced(COPIER);
        let cases = [(0, 150_000, 140_000), (150_000, 0, 140_000), (1000, 0, 200_000), (0, 1000, 200_000), (7, 7, 9)];
        for (dst, src, len) in cases {
            let expected = copy(&original, dst, src, len).unwrap();
            assert_eq!(copy(&sliced, dst, src, len).unwrap(), expected, "copy({dst}, {src}, {len})");
        }
        let pages = 5 * 65536;
        for (dst, src, len) in [(pages - 10, 0, 11), (0, pages - 10, 11), (0, 0, pages + 1)] {
            assert!(copy(&original, dst, src, len).is_err());
            assert!(copy(&sliced, dst, src, len).is_err(), "copy({dst}, {src}, {len}) must trap");
        }
    }

    #[test]
    fn the_core_modules_of_a_component_are_sliced_too() {
        let original = wat::parse_str(FILLER).unwrap();
        let component = wit_component::ComponentEncoder::default().module(&original).unwrap().encode().unwrap();
        let sliced = slice_bulk_memory(&component).unwrap().expect("its module has a fill");
        let mut validator = wasmparser::Validator::new();
        validator.validate_all(&sliced).unwrap();
        let calls = wasmparser::Parser::new(0)
            .parse_all(&sliced)
            .filter_map(|p| match p.unwrap() {
                wasmparser::Payload::CodeSectionEntry(body) => Some(body),
                _ => None,
            })
            .flat_map(|body| body.get_operators_reader().unwrap().into_iter().map(|op| op.unwrap()).collect::<Vec<_>>())
            .filter(|op| matches!(op, wasmparser::Operator::Call { .. }))
            .count();
        assert!(calls >= 1, "the fill became a call to the sliced fill");
    }

    #[test]
    fn a_module_without_fills_is_left_alone() {
        let plain = wat::parse_str(r#"(module (memory 1) (func (export "f") (result i32) i32.const 1))"#).unwrap();
        assert_eq!(slice_bulk_memory(&plain).unwrap(), None);
    }
}
