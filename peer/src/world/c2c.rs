//! Chaincode-to-chaincode calls: the rules the peer applies (`HandleInvokeChaincode`), for the gRPC endpoint and the
//! SDK's mock ledger alike.
//!
//! A callee on the caller's channel runs inside the caller's transaction: it shares the caller's simulator, so its
//! reads and writes join the read/write set under the callee's namespace, the read-only rules span both, and its
//! writes commit with the caller's whatever the callee answered (the caller decides). On another channel it gets a
//! fresh simulator whose writes are discarded.

/// A `ChaincodeSpec` name: `"name"`, `"name/channel"`, optionally with a `:version` (parsed and ignored).
#[derive(Debug, PartialEq, Eq)]
pub struct Target<'a> {
    pub name: &'a str,
    pub channel: Option<&'a str>,
}

/// The peer's `ParseName`.
pub fn parse_name(spec_name: &str) -> Target<'_> {
    let (rest, channel) = match spec_name.split_once('/') {
        Some((rest, channel)) => (rest, Some(channel)),
        None => (spec_name, None),
    };
    let name = rest.split_once(':').map_or(rest, |(name, _version)| name);
    Target { name, channel: channel.filter(|c| !c.is_empty()) }
}

/// The channel a callee runs on: the one asked for, else the caller's.
pub fn callee_channel<'a>(caller: &'a str, asked: Option<&'a str>) -> &'a str {
    asked.filter(|c| !c.is_empty()).unwrap_or(caller)
}

/// Whether a callee on `callee_channel` runs inside the caller's transaction (its simulator, its commit).
pub fn shares_transaction(caller_channel: &str, callee_channel: &str) -> bool {
    caller_channel == callee_channel
}

/// The peer's refusal of a callee it does not know (the cause of the INVOKE_CHAINCODE ERROR).
pub fn callee_not_found(channel: &str, name: &str) -> String {
    format!(
        "execute failed: invalid invocation: [channel {channel}] failed to get chaincode container info for {name}: \
         chaincode {name} not found"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_chaincode_and_channel() {
        assert_eq!(parse_name("cc"), Target { name: "cc", channel: None });
        assert_eq!(parse_name("cc/other"), Target { name: "cc", channel: Some("other") });
        assert_eq!(parse_name("cc:1.0/other"), Target { name: "cc", channel: Some("other") });
        assert_eq!(parse_name("cc:1.0"), Target { name: "cc", channel: None });
        assert_eq!(parse_name("cc/"), Target { name: "cc", channel: None });
    }
}
