//! Loyalty points on the contract API: members earn points (`Points`, the default contract) and spend them on
//! rewards (`Rewards`). It shows what a contract chaincode is made of beyond one contract:
//!
//! - two contracts in one chaincode, called as `Points:Award` / `Rewards:Redeem`, bare names going to `Points`;
//! - typed parameters and returns: a [`Member`] passed as JSON, an enum ([`Tier`]), optional and unsigned fields,
//!   all described in `GetMetadata`;
//! - hooks: `Points` refuses callers of another organisation before any transaction runs, announces each change
//!   as an event after it, and answers unknown functions with a hint; `Rewards` lets only auditors (the Fabric CA
//!   attribute `role=auditor`) add rewards.
//!
//! Ledger layout: `member:<id>` and `reward:<id>`, each a JSON document.
#![forbid(unsafe_code)]

use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wasmcc_sdk::{contract, Context};

/// The organisation whose members run the scheme.
pub const SCHEME_MSP: &str = "Org1MSP";

/// A member's tier: it multiplies every award.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
}

impl Tier {
    fn multiplier(self) -> u64 {
        match self {
            Tier::Bronze => 1,
            Tier::Silver => 2,
            Tier::Gold => 3,
        }
    }
}

/// A member of the scheme and their balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub tier: Tier,
    /// Points to spend; a new member starts with what they are enrolled with.
    pub points: u64,
}

/// Something points buy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reward {
    pub id: String,
    pub title: String,
    pub cost: u64,
    /// How many are left; none means unlimited.
    pub stock: Option<u32>,
}

/// What a redemption answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redemption {
    pub member: String,
    pub reward: String,
    pub points_left: u64,
}

type Result<T> = std::result::Result<T, String>;

pub struct Points;

#[contract(default, title = "Loyalty points", version = "1.0.0")]
impl Points {
    /// Adds a member.
    #[transaction]
    pub fn enroll(ctx: &mut Context, member: Member) -> Result<()> {
        if load::<Member>(ctx, "member", &member.id)?.is_some() {
            return Err(format!("member {} is already enrolled", member.id));
        }
        store(ctx, "member", &member.id, &member)
    }

    /// Awards `points`, times the member's tier; answers the member as they now stand.
    #[transaction]
    pub fn award(ctx: &mut Context, member_id: String, points: u32) -> Result<Member> {
        let mut member = member(ctx, &member_id)?;
        member.points += u64::from(points) * member.tier.multiplier();
        store(ctx, "member", &member_id, &member)?;
        Ok(member)
    }

    /// Moves points between members (tiers do not apply).
    #[transaction]
    pub fn transfer(ctx: &mut Context, from: String, to: String, points: u64) -> Result<Vec<Member>> {
        if from == to {
            return Err("cannot transfer to the same member".into());
        }
        let (mut giver, mut taker) = (member(ctx, &from)?, member(ctx, &to)?);
        giver.points =
            giver.points.checked_sub(points).ok_or_else(|| format!("{from} has only {} points", giver.points))?;
        taker.points += points;
        store(ctx, "member", &from, &giver)?;
        store(ctx, "member", &to, &taker)?;
        Ok(vec![giver, taker])
    }

    #[transaction(evaluate)]
    pub fn balance(ctx: &mut Context, member_id: String) -> Result<u64> {
        Ok(member(ctx, &member_id)?.points)
    }

    /// Members of one tier, or of all tiers when none is given.
    #[transaction(evaluate)]
    pub fn members(ctx: &mut Context, tier: Option<Tier>) -> Result<Vec<Member>> {
        let all = list::<Member>(ctx, "member")?;
        Ok(all.into_iter().filter(|m| tier.is_none_or(|t| m.tier == t)).collect())
    }

    /// Only the scheme's own organisation takes part.
    #[before_transaction]
    fn scheme_members_only(ctx: &mut Context) -> Result<()> {
        let msp = ctx.client_identity()?.msp_id().to_owned();
        if msp != SCHEME_MSP {
            return Err(format!("{msp} is not part of the loyalty scheme"));
        }
        Ok(())
    }

    /// Every answer is announced: an event `points` carrying the transaction's payload.
    #[after_transaction]
    fn announce(ctx: &mut Context, payload: &[u8]) -> Result<()> {
        Ok(ctx.stub().set_event("points", payload)?)
    }

    #[unknown_transaction]
    fn unknown(ctx: &mut Context) -> Result<()> {
        Err(format!("Points has no transaction {}; see org.hyperledger.fabric:GetMetadata", ctx.function()))
    }
}

pub struct Rewards;

#[contract]
impl Rewards {
    /// Adds or replaces a reward: auditors only.
    #[transaction]
    pub fn add_reward(ctx: &mut Context, reward: Reward) -> Result<()> {
        let identity = ctx.client_identity()?;
        if identity.get_attribute_value("role").as_deref() != Some("auditor") {
            return Err("only an auditor adds rewards".into());
        }
        store(ctx, "reward", &reward.id, &reward)
    }

    /// Spends a member's points on a reward.
    #[transaction]
    pub fn redeem(ctx: &mut Context, member_id: String, reward_id: String) -> Result<Redemption> {
        let mut member = member(ctx, &member_id)?;
        let mut reward = load::<Reward>(ctx, "reward", &reward_id)?.ok_or_else(|| format!("no reward {reward_id}"))?;
        if reward.stock == Some(0) {
            return Err(format!("{} is out of stock", reward.title));
        }
        member.points = member.points.checked_sub(reward.cost).ok_or_else(|| {
            format!("{} needs {} points, {member_id} has {}", reward.title, reward.cost, member.points)
        })?;
        reward.stock = reward.stock.map(|n| n - 1);
        store(ctx, "member", &member_id, &member)?;
        store(ctx, "reward", &reward_id, &reward)?;
        Ok(Redemption { member: member_id, reward: reward_id, points_left: member.points })
    }

    #[transaction(evaluate)]
    pub fn list_rewards(ctx: &mut Context) -> Result<Vec<Reward>> {
        list(ctx, "reward")
    }
}

wasmcc_sdk::chaincode!(
    /// The chaincode: points first, so bare names are points transactions.
    pub Loyalty = [Points, Rewards]
);

fn member(ctx: &mut Context, id: &str) -> Result<Member> {
    load(ctx, "member", id)?.ok_or_else(|| format!("no member {id}"))
}

fn load<T: DeserializeOwned>(ctx: &mut Context, kind: &str, id: &str) -> Result<Option<T>> {
    match ctx.stub().get_state(&format!("{kind}:{id}"))? {
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn store<T: Serialize>(ctx: &mut Context, kind: &str, id: &str, value: &T) -> Result<()> {
    let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    Ok(ctx.stub().put_state(&format!("{kind}:{id}"), &json)?)
}

/// Every document of one kind, in key order: the range `kind:` up to `kind;` (`;` follows `:`).
fn list<T: DeserializeOwned>(ctx: &mut Context, kind: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for kv in ctx.stub().get_state_by_range(&format!("{kind}:"), &format!("{kind};"))? {
        out.push(serde_json::from_slice(&kv?.value).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
