//! The full event trace of one run as CSV (`cascade replay`): every included or expired
//! transaction, trade, oracle update and margin-engine step (liquidation, auction kick, take and
//! redo, waterfall step, breaker trip), in the order they happened.
//!
//! A researcher who sees an odd row in a sweep replays that run and reads, block by block, who
//! did what at which prices and for how much gas. One flat table with a fixed header (empty
//! cells where a column does not apply) loads into pandas or a spreadsheet as is. Amounts are
//! exact decimal strings in whole tokens (9 decimals), prices shortest round-trip floats; `t_s`
//! is the block's time in seconds, venues and assets are named as in the scenario.

use crate::world::Actor;
use cascade_core::event::Event;
use std::io::{self, Write};

/// The header of the event CSV. `price` is only ever a price (quote per whole base unit): a
/// trade's price after it, an oracle publication, the oracle price at an account's first flag,
/// a position's entry price; an engine step's other figure is in `value`, named by `detail`.
pub const HEADER: &[&str] = &[
    "block",
    "t_s",
    "event",
    "tx",
    "actor",
    "role",
    "account",
    "venue",
    "asset",
    "gas_kind",
    "side",
    "amount_in",
    "amount_out",
    "amount",
    "price",
    "value",
    "size",
    "leverage",
    "health",
    "delay_blocks",
    "delay_s",
    "generation",
    "liquidation_block",
    "gas_used",
    "gas_price_gwei",
    "fee",
    "reverted",
    "private",
    "forced",
    "detail",
];

/// The index of column `name` in [`HEADER`] (a name not in it is a bug: panics).
fn col(name: &str) -> usize {
    HEADER
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no event column {name}"))
}

/// What the event rows are labelled with: the World's actors, the on-chain venues' and the
/// assets' names (by index), and each block's time (index `block - 1`).
#[derive(Debug, Clone, Copy)]
pub struct EventLabels<'a> {
    pub actors: &'a [Actor],
    pub venues: &'a [String],
    pub assets: &'a [String],
    pub block_t_s: &'a [f64],
}

impl EventLabels<'_> {
    fn t_s(&self, block: u64) -> String {
        match block {
            0 => "0".into(),
            b => self
                .block_t_s
                .get(b as usize - 1)
                .map(|t| format!("{t}"))
                .unwrap_or_default(),
        }
    }
    fn venue(&self, v: usize) -> String {
        self.venues
            .get(v)
            .cloned()
            .unwrap_or_else(|| format!("venue{v}"))
    }
    fn asset(&self, a: usize) -> String {
        self.assets
            .get(a)
            .cloned()
            .unwrap_or_else(|| format!("asset{a}"))
    }
}

/// A label for a holder: the actor's label if the holder is an actor, else its number.
fn holder_label(actors: &[Actor], h: cascade_core::ids::HolderId) -> String {
    actors
        .iter()
        .find(|a| a.holder == h)
        .map(|a| a.label.to_string())
        .unwrap_or_else(|| format!("holder{}", h.0))
}

/// The role of a holder that is an actor (empty otherwise).
fn holder_role(actors: &[Actor], h: cascade_core::ids::HolderId) -> String {
    actors
        .iter()
        .find(|a| a.holder == h)
        .map(|a| format!("{:?}", a.role).to_lowercase())
        .unwrap_or_default()
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write the header line.
pub fn write_header<W: Write>(w: &mut W) -> io::Result<()> {
    writeln!(w, "{}", HEADER.join(","))
}

/// Write `events` (of one run) with the World's labels ([`crate::World::event_labels`]).
pub fn write_events<W: Write>(
    w: &mut W,
    labels: &EventLabels<'_>,
    events: &[Event],
) -> io::Result<()> {
    let actors = labels.actors;
    let mut cells: Vec<String> = vec![String::new(); HEADER.len()];
    for e in events {
        for c in cells.iter_mut() {
            c.clear();
        }
        let mut set = |name: &str, v: String| cells[col(name)] = v;
        match e {
            Event::TxIncluded {
                block,
                tx,
                agent,
                sender: _,
                kind,
                gas_used,
                gas_price,
                fee,
                revert,
                private,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "tx_included".into());
                set("tx", tx.0.to_string());
                if let Some(a) = actors.get(agent.index()) {
                    set("actor", a.label.to_string());
                    set("role", format!("{:?}", a.role).to_lowercase());
                }
                set("gas_kind", kind.as_str().into());
                set("gas_used", gas_used.to_string());
                set("gas_price_gwei", format!("{}", *gas_price as f64 / 1e9));
                set("fee", fee.to_string());
                set("reverted", revert.is_some().to_string());
                set("private", private.to_string());
                if let Some(r) = revert {
                    set("detail", r.as_str().to_string());
                }
            }
            Event::TxExpired { block, tx, agent } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "tx_expired".into());
                set("tx", tx.0.to_string());
                if let Some(a) = actors.get(agent.index()) {
                    set("actor", a.label.to_string());
                    set("role", format!("{:?}", a.role).to_lowercase());
                }
            }
            Event::Swap {
                block,
                tx,
                venue,
                trader,
                side,
                amount_in,
                amount_out,
                price_after,
                forced,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "swap".into());
                set("tx", tx.0.to_string());
                set("actor", holder_label(actors, *trader));
                set("role", holder_role(actors, *trader));
                set("venue", labels.venue(venue.0 as usize));
                set("side", side.as_str().into());
                set("amount_in", amount_in.to_string());
                set("amount_out", amount_out.to_string());
                set("price", format!("{price_after}"));
                set("forced", forced.to_string());
            }
            Event::OracleUpdate { block, feed, price } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "oracle_update".into());
                set("actor", format!("feed{}", feed.0));
                set("price", format!("{price}"));
            }
            Event::AccountFlagged {
                block,
                account,
                asset,
                oracle_price,
                health,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "account_flagged".into());
                set("account", account.0.to_string());
                set("asset", labels.asset(*asset));
                set("price", format!("{oracle_price}"));
                set("health", format!("{health}"));
            }
            Event::PositionOpened {
                block,
                account,
                owner,
                kind,
                asset,
                entry_price,
                size,
                leverage,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "position_opened".into());
                set("actor", holder_label(actors, *owner));
                set("role", holder_role(actors, *owner));
                set("account", account.0.to_string());
                set("asset", labels.asset(*asset));
                set("price", format!("{entry_price}"));
                set("size", size.to_string());
                set("leverage", format!("{leverage}"));
                set("detail", kind.clone());
            }
            Event::Liquidation {
                block,
                account,
                liquidator,
                notional,
                delay_blocks,
                delay_s,
                generation,
                cause,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "liquidation".into());
                set("actor", holder_label(actors, *liquidator));
                set("role", holder_role(actors, *liquidator));
                set("account", account.0.to_string());
                set("amount", notional.to_string());
                set("delay_blocks", delay_blocks.to_string());
                set("delay_s", format!("{delay_s}"));
                set("generation", generation.to_string());
                set("detail", cause.clone());
            }
            Event::LiquidationGeneration {
                block,
                account,
                liquidation_block,
                notional,
                generation,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", "liquidation_generation".into());
                set("account", account.0.to_string());
                set("amount", notional.to_string());
                set("generation", generation.to_string());
                set("liquidation_block", liquidation_block.to_string());
            }
            Event::Engine {
                block,
                kind,
                account,
                actor,
                amount,
                value,
                detail,
            } => {
                set("block", block.to_string());
                set("t_s", labels.t_s(*block));
                set("event", kind.clone());
                if let Some(h) = actor {
                    set("actor", holder_label(actors, *h));
                    set("role", holder_role(actors, *h));
                }
                if let Some(acc) = account {
                    set("account", acc.0.to_string());
                }
                set("amount", amount.to_string());
                set("value", format!("{value}"));
                set("detail", detail.clone());
            }
        }
        let line = cells
            .iter()
            .map(|c| csv_text(c))
            .collect::<Vec<_>>()
            .join(",");
        writeln!(w, "{line}")?;
    }
    Ok(())
}
