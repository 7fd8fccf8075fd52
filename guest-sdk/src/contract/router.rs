//! One transaction through a chaincode's contracts: fabric-contract-api's `invokeFunctionality`, which Node runs
//! for both INIT and TRANSACTION.

use super::__private::Descriptor;
use super::metadata::{document, GET_METADATA, SYSTEM_CONTRACT};
use super::Context;
use crate::{Response, Stub};

/// Routes the transaction in `stub` to one of `contracts`. `title` and `version` are the chaincode's, for the
/// metadata document.
pub fn run(stub: &mut Stub, contracts: &[&Descriptor], title: &str, version: &str) -> Response {
    let args = stub.args();
    let Some((first, params)) = args.split_first() else {
        return Response::success(b"Default initiator successful.".to_vec());
    };
    let function = String::from_utf8_lossy(first).into_owned();
    let default = contracts.iter().find(|c| c.default).or(contracts.first()).map_or("", |c| c.name);
    let (contract, name) = split_function_name(&function, default);
    let mut ctx = Context::new(stub, function.clone());
    if contract == SYSTEM_CONTRACT {
        return if name == GET_METADATA {
            let metadata = document(contracts, default, title, version);
            Response::success(metadata.to_string().into_bytes())
        } else {
            Response::from_result(super::__private::unknown_transaction(&mut ctx).map(|()| Vec::new()))
        };
    }
    let Some(descriptor) = contracts.iter().find(|c| c.name == contract) else {
        return Response::error(format!("Contract name is not known: {contract}"));
    };
    match (descriptor.call)(&mut ctx, name, params) {
        Some(result) => Response::from_result(result),
        None => Response::from_result((descriptor.unknown)(&mut ctx).map(|()| Vec::new())),
    }
}

/// `Contract:Function` → `(Contract, Function)`; no contract (or a blank one) means the default. Like the regular
/// expression fabric-contract-api splits with, the function ends at a line break.
fn split_function_name<'f>(function: &'f str, default: &'f str) -> (&'f str, &'f str) {
    let (contract, name) = function.split_once(':').unwrap_or(("", function));
    let name = name.split(['\n', '\r', '\u{2028}', '\u{2029}']).next().unwrap_or_default();
    if contract.trim().is_empty() {
        (default, name)
    } else {
        (contract, name)
    }
}

#[cfg(test)]
mod tests {
    use super::split_function_name;

    #[test]
    fn function_names_split_as_fabric_contract_api_splits_them() {
        let cases = [
            ("ReadAsset", ("Dflt", "ReadAsset")),
            ("Other:ReadAsset", ("Other", "ReadAsset")),
            (":ReadAsset", ("Dflt", "ReadAsset")),
            (" :ReadAsset", ("Dflt", "ReadAsset")),
            ("Other:", ("Other", "")),
            ("A:B:C", ("A", "B:C")),
            ("A:B\nC", ("A", "B")),
        ];
        for (input, expected) in cases {
            assert_eq!(split_function_name(input, "Dflt"), expected, "{input:?}");
        }
    }
}
