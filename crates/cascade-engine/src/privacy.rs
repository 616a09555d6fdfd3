//! Private positions (`engine.privacy`): what the public (searchers, MEV bots, keepers) may
//! read of an account, and the zero-knowledge mechanism that makes liquidation wait for a
//! proof.
//!
//! Three policies. `false` (the default): everything public. `true` (the legacy flag, kept
//! bit for bit): health is hidden until the protocol's own end-of-block check flags the
//! account, then liquidation proceeds as in the transparent engine. `{ kind = "zk_proofs",
//! ... }`: positions are commitments; every account proves its solvency every
//! `proof_interval_s` (the proof is generated from its state `proof_latency_s` before the
//! deadline and verified on chain at the deadline, the owner paying `verify_gas` at the base
//! fee); an account the protocol's check finds liquidatable becomes liquidatable only once a
//! proof of insolvency, started when the check first saw it, is verified `proof_latency_s`
//! later (the protocol's prover; the insurance fund pays its verification gas). An account
//! that misses a solvency deadline (it could not prove, or its owner could not pay) is
//! treated per `on_missed_proof`: `public` (the default) opens its state to everyone until
//! its next valid proof, so it is liquidatable at once with no insolvency proof; `hidden`
//! keeps it private (liquidation still needs the proof). See docs/model.md, "Private
//! positions with proofs".

use crate::Engine;
use cascade_core::{AccountId, Amount, Check, HolderId, Ledger, TokenId};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `engine.privacy`: a boolean (the legacy flag) or a tagged table.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Privacy {
    /// `false`: every account's health is public.
    #[default]
    Off,
    /// `true` or `{ kind = "hidden_health" }`: health hidden until the protocol flags.
    HiddenHealth,
    /// `{ kind = "zk_proofs", ... }`.
    ZkProofs(ZkProofs),
}

/// The zero-knowledge proof mechanism's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZkProofs {
    /// Every account proves solvency once per this interval, seconds.
    pub proof_interval_s: f64,
    /// Proof generation latency (solvency and insolvency proofs), seconds.
    pub proof_latency_s: f64,
    /// On-chain verification gas of one proof (a Groth16 verifier: 4 pairings at EIP-1108
    /// prices, 181,000, plus public inputs and calldata).
    #[serde(default = "d_verify_gas")]
    pub verify_gas: u64,
    /// What happens to an account that misses its solvency deadline.
    #[serde(default)]
    pub on_missed_proof: MissedProof,
}

fn d_verify_gas() -> u64 {
    250_000
}

/// `on_missed_proof`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MissedProof {
    /// Its state becomes public until its next valid proof: readable by bots and
    /// liquidatable without a proof of insolvency.
    #[default]
    Public,
    /// Nothing changes: it stays hidden; liquidation still needs the proof of insolvency.
    Hidden,
}

/// The table form of `engine.privacy`.
#[derive(Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Table {
    Off,
    HiddenHealth,
    ZkProofs(ZkProofs),
}

/// `engine.privacy` in `cascade schema`: a boolean (the legacy flag) or the tagged table.
impl schemars::JsonSchema for Privacy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Privacy".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let table = g.subschema_for::<Table>();
        schemars::json_schema!({
            "description": "false (every account's health public), true (the legacy flag: health hidden until the protocol flags an account), or a table { kind = \"off\" | \"hidden_health\" | \"zk_proofs\", ... }",
            "oneOf": [{ "type": "boolean" }, table]
        })
    }
}

impl Serialize for Privacy {
    /// `Off` and `HiddenHealth` serialize as the legacy booleans, so stored configs of
    /// existing scenarios do not change.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Privacy::Off => s.serialize_bool(false),
            Privacy::HiddenHealth => s.serialize_bool(true),
            Privacy::ZkProofs(z) => Table::ZkProofs(*z).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Privacy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Privacy, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Privacy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "true, false, or a table { kind = \"off\" | \"hidden_health\" | \"zk_proofs\", ... }",
                )
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Privacy, E> {
                Ok(if v {
                    Privacy::HiddenHealth
                } else {
                    Privacy::Off
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Privacy, A::Error> {
                Ok(
                    match Table::deserialize(de::value::MapAccessDeserializer::new(m))? {
                        Table::Off => Privacy::Off,
                        Table::HiddenHealth => Privacy::HiddenHealth,
                        Table::ZkProofs(z) => Privacy::ZkProofs(z),
                    },
                )
            }
        }
        d.deserialize_any(V)
    }
}

impl Privacy {
    /// Whether account health is hidden from the public (the legacy flag or proofs).
    pub fn hides_health(&self) -> bool {
        !matches!(self, Privacy::Off)
    }

    /// The proof mechanism's parameters, when on.
    pub fn zk(&self) -> Option<&ZkProofs> {
        match self {
            Privacy::ZkProofs(z) => Some(z),
            _ => None,
        }
    }

    pub fn validate(&self, c: &mut Check) {
        let Privacy::ZkProofs(z) = self else { return };
        c.positive("proof_interval_s", z.proof_interval_s);
        c.non_negative("proof_latency_s", z.proof_latency_s);
        if z.proof_latency_s.is_finite()
            && z.proof_interval_s.is_finite()
            && z.proof_latency_s >= z.proof_interval_s
        {
            c.fail(
                "proof_latency_s",
                format!(
                    "must be below proof_interval_s ({}): a solvency proof is generated within its interval (got {})",
                    z.proof_interval_s, z.proof_latency_s
                ),
            );
        }
        if z.verify_gas == 0 {
            c.fail(
                "verify_gas",
                "must be >= 1 (verifying a proof on chain costs gas)",
            );
        }
    }
}

/// One account's solvency-proof schedule.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The next deadline, seconds.
    deadline: f64,
    /// Whether the proof for that deadline was started (`Some`) and could prove solvency.
    started: Option<bool>,
    /// Its state is public (it missed a deadline under `on_missed_proof = "public"`).
    public: bool,
}

/// The proof mechanism's state in a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZkState {
    slots: Vec<Option<Slot>>,
    /// Insolvency proofs under way: account -> (time started, time verified).
    proving: BTreeMap<AccountId, (f64, f64)>,
    /// Accounts whose insolvency proof was verified (while they stay liquidatable).
    proven: BTreeSet<AccountId>,
    /// The quote cost of one verification at this block's base fee.
    cost: Amount,
    /// Verification gas the protocol owes for this block's insolvency proofs.
    owed: Amount,
}

/// The proof mechanism's counters (in [`crate::EngineMetrics`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProofMetrics {
    /// Verification gas of every proof verified (solvency and insolvency), gas units.
    pub gas: f64,
    /// Its cost in quote (owners' and the insurance fund's).
    pub cost: f64,
    /// Sum and count of the insolvency proofs' delays, start to verification, seconds.
    pub delay_s_sum: f64,
    pub delay_count: u64,
    pub solvency_proofs: u64,
    pub missed_proofs: u64,
}

/// Where account `i`'s first deadline falls within its first interval (a fixed, spread
/// phase: the fractional part of `i` times the golden ratio, in [0.5, 1)).
fn phase(i: usize) -> f64 {
    let x = (i as f64 * 0.618_033_988_749_895).fract();
    0.5 + 0.5 * x
}

impl Engine {
    /// Whether the public may read account `id`'s health: always without privacy; under the
    /// legacy flag once the protocol flagged it; under proofs once flagged (its insolvency
    /// proven) or while its state is public (a missed solvency proof).
    pub fn is_public(&self, id: AccountId) -> bool {
        match &self.cfg.privacy {
            Privacy::Off => true,
            Privacy::HiddenHealth => self.flagged.contains_key(&id),
            Privacy::ZkProofs(_) => {
                self.flagged.contains_key(&id)
                    || self
                        .zk
                        .as_ref()
                        .and_then(|z| z.slots.get(id.index()).copied().flatten())
                        .is_some_and(|s| s.public)
            }
        }
    }

    /// Under proofs: whether a liquidation of `id` must revert for want of a verified proof
    /// of insolvency (its state is hidden and not flagged).
    pub(crate) fn unproven(&self, id: AccountId) -> bool {
        self.zk.is_some() && !self.is_public(id)
    }

    /// Start of the block's end, before the protocol's check (proofs only): the quote cost
    /// of one verification at `base_fee`, and the solvency deadlines that fall due — the
    /// owner pays the verification from its wallet to `sink`; a proof it could not produce
    /// or pay for is a miss.
    pub fn prove_solvency(
        &mut self,
        ledger: &mut Ledger,
        base_fee: u128,
        native_price: f64,
        sink: HolderId,
    ) {
        let Some(z) = self.cfg.privacy.zk().copied() else {
            return;
        };
        let t = self.t_s;
        let cost = cascade_market::gas::fee_in_quote(z.verify_gas, base_fee, native_price);
        let n = self.accounts.len();
        let mut st = self.zk.take().unwrap_or_default();
        st.cost = cost;
        st.slots.resize(n, None);
        for i in 0..n {
            let id = AccountId(i as u32);
            let acc = &self.accounts[i];
            if acc.closed || !(acc.has_positions() || acc.debt.is_positive()) {
                // Nothing to prove: the schedule restarts when it has exposure again.
                st.slots[i] = None;
                continue;
            }
            let owner = acc.owner;
            let slot = st.slots[i].get_or_insert(Slot {
                deadline: t + z.proof_interval_s * phase(i),
                started: None,
                public: false,
            });
            if slot.started.is_none() && t >= slot.deadline - z.proof_latency_s {
                slot.started = Some(!self.is_liquidatable(id));
            }
            if t < slot.deadline {
                continue;
            }
            let ok = slot.started == Some(true)
                && ledger.transfer(owner, sink, TokenId::QUOTE, cost).is_ok();
            if ok {
                slot.public = false;
                self.metrics.proofs.solvency_proofs += 1;
                self.metrics.proofs.gas += z.verify_gas as f64;
                self.metrics.proofs.cost += cost.to_whole();
            } else {
                self.metrics.proofs.missed_proofs += 1;
                if z.on_missed_proof == MissedProof::Public {
                    slot.public = true;
                }
            }
            slot.started = None;
            while slot.deadline <= t {
                slot.deadline += z.proof_interval_s;
            }
        }
        self.zk = Some(st);
    }

    /// The protocol's check under proofs: of the accounts liquidatable now (`now`, sorted),
    /// those the public may liquidate — public ones, and those whose proof of insolvency is
    /// verified by now (started at the first check that saw them, verified
    /// `proof_latency_s` later). Without proofs: all of them.
    pub(crate) fn admit_proven(&mut self, now: &[AccountId]) -> Vec<AccountId> {
        let Some(z) = self.cfg.privacy.zk().copied() else {
            return now.to_vec();
        };
        let t = self.t_s;
        let mut st = self.zk.take().unwrap_or_default();
        let live = |id: &AccountId| now.binary_search(id).is_ok();
        // An account that is solvent again abandons its proof (its commitment changed).
        st.proving.retain(|id, _| live(id));
        st.proven.retain(live);
        let mut admitted = Vec::with_capacity(now.len());
        for &id in now {
            let public = st
                .slots
                .get(id.index())
                .copied()
                .flatten()
                .is_some_and(|s| s.public);
            if public || st.proven.contains(&id) {
                admitted.push(id);
                continue;
            }
            let (start, ready) = *st.proving.entry(id).or_insert((t, t + z.proof_latency_s));
            if t >= ready {
                st.proving.remove(&id);
                st.proven.insert(id);
                st.owed += st.cost;
                self.metrics.proofs.gas += z.verify_gas as f64;
                self.metrics.proofs.cost += st.cost.to_whole();
                self.metrics.proofs.delay_s_sum += t - start;
                self.metrics.proofs.delay_count += 1;
                admitted.push(id);
            }
        }
        self.zk = Some(st);
        admitted
    }

    /// After the protocol's check (proofs only): pay the block's insolvency-proof
    /// verifications to `sink` from the insurance fund, the lenders' pool covering what it
    /// cannot.
    pub fn settle_proofs(&mut self, ledger: &mut Ledger, sink: HolderId) {
        let Some(st) = self.zk.as_mut() else { return };
        let owed = std::mem::replace(&mut st.owed, Amount::ZERO);
        if !owed.is_positive() {
            return;
        }
        let from_fund = owed.min(self.insurance);
        let from_pool = (owed - from_fund).min(self.pool_cash.max(Amount::ZERO));
        let paid = from_fund + from_pool;
        if ledger
            .transfer(self.vault, sink, TokenId::QUOTE, paid)
            .is_ok()
        {
            self.insurance -= from_fund;
            self.pool_cash -= from_pool;
        }
    }
}
