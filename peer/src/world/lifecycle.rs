//! The `_lifecycle` checks the peer makes before it sends anything (`ChaincodeSupport.CheckInvocation` in
//! `core/chaincode/chaincode_support.go`): "init exactly once" for definitions with `init_required`.

use crate::world::simulator::TxSimulator;
use crate::world::WorldState;

/// The reserved key recording which definition version ran Init: `"\x00" + U+10FFFF + "initialized"`, in the
/// chaincode's own namespace, holding the version.
pub const INITIALIZED_KEY: &str = "\u{0}\u{10FFFF}initialized";

/// The parts of a committed chaincode definition the peer enforces on invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaincodeDefinition {
    pub version: String,
    /// `--init-required`: the first invocation must be Init, exactly once per version.
    pub init_required: bool,
}

impl ChaincodeDefinition {
    /// A definition without `init_required`: an INIT (`is_init`) is refused.
    pub fn new(version: impl Into<String>) -> ChaincodeDefinition {
        ChaincodeDefinition { version: version.into(), init_required: false }
    }

    /// A definition with `init_required`.
    pub fn init_required(version: impl Into<String>) -> ChaincodeDefinition {
        ChaincodeDefinition { version: version.into(), init_required: true }
    }
}

/// Whether an invocation of `namespace` (an Init when `is_init`) may be sent, or the peer's refusal. With `init_required`, the
/// initialized key is read (and for Init written) through the transaction's simulator, as the peer does, so the
/// read and write appear in the read/write set. Without a definition, nothing is checked.
pub fn check_invocation(
    definition: Option<&ChaincodeDefinition>,
    world: &WorldState,
    sim: &mut TxSimulator,
    namespace: &str,
    is_init: bool,
) -> Result<(), String> {
    let Some(definition) = definition else { return Ok(()) };
    let needs_init = definition.init_required
        && sim.get_state(world, namespace, INITIALIZED_KEY).as_deref() != Some(definition.version.as_bytes());
    if is_init {
        if !definition.init_required {
            return Err(format!("chaincode '{namespace}' does not require initialization but called as init"));
        }
        if !needs_init {
            return Err(format!("chaincode '{namespace}' is already initialized but called as init"));
        }
        let version = definition.version.clone().into_bytes();
        sim.set_state(namespace, INITIALIZED_KEY, version)
            .map_err(|e| format!("could not set 'initialized' key: {e}"))?;
        return Ok(());
    }
    if needs_init {
        return Err(format!(
            "chaincode '{namespace}' has not been initialized for this version, must call as init first"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::CommitInfo;

    fn check(def: Option<&ChaincodeDefinition>, world: &WorldState, is_init: bool) -> Result<(), String> {
        let mut sim = TxSimulator::new("ch", "tx");
        check_invocation(def, world, &mut sim, "cc", is_init)
    }

    #[test]
    fn without_a_definition_anything_goes() {
        let world = WorldState::default();
        assert_eq!(check(None, &world, true), Ok(()));
        assert_eq!(check(None, &world, false), Ok(()));
    }

    #[test]
    fn init_required_demands_init_first_then_once() {
        let mut world = WorldState::default();
        let def = ChaincodeDefinition::init_required("1.0");
        assert_eq!(
            check(Some(&def), &world, false).unwrap_err(),
            "chaincode 'cc' has not been initialized for this version, must call as init first"
        );

        let mut sim = TxSimulator::new("ch", "tx");
        assert_eq!(check_invocation(Some(&def), &world, &mut sim, "cc", true), Ok(()));
        let cc = sim.rwset.ns("cc");
        assert_eq!(cc.reads[INITIALIZED_KEY], None, "the key is read through the simulator");
        assert_eq!(cc.writes[INITIALIZED_KEY].as_deref(), Some(&b"1.0"[..]));

        let info = CommitInfo { txid: "tx".into(), timestamp: Default::default() };
        world.commit("ch", &sim.rwset, &info);
        assert_eq!(check(Some(&def), &world, false), Ok(()));
        assert_eq!(
            check(Some(&def), &world, true).unwrap_err(),
            "chaincode 'cc' is already initialized but called as init"
        );
        let upgraded = ChaincodeDefinition::init_required("2.0");
        assert!(check(Some(&upgraded), &world, false).is_err(), "a new version needs Init again");
        assert_eq!(check(Some(&upgraded), &world, true), Ok(()));
    }

    #[test]
    fn without_init_required_init_is_refused() {
        let world = WorldState::default();
        let def = ChaincodeDefinition::new("1.0");
        assert_eq!(
            check(Some(&def), &world, true).unwrap_err(),
            "chaincode 'cc' does not require initialization but called as init"
        );
        let mut sim = TxSimulator::new("ch", "tx");
        assert_eq!(check_invocation(Some(&def), &world, &mut sim, "cc", false), Ok(()));
        assert_eq!(sim.rwset, Default::default(), "nothing read without init_required");
    }
}
