//! The full event trace of one run as CSV (`cascade replay`): every included or expired
//! transaction, trade, oracle update and margin-engine step (liquidation, auction kick, take and
//! redo, waterfall step, breaker trip), in the order they happened.
//!
//! A researcher who sees an odd row in a sweep replays that run and reads, block by block, who
//! did what at which prices and for how much gas. One flat table with a fixed header (empty
//! cells where a column does not apply) loads into pandas or a spreadsheet as is. Amounts are
//! exact decimal strings in whole tokens (9 decimals), prices shortest round-trip floats.

use crate::world::Actor;
use cascade_core::event::Event;
use std::io::{self, Write};

/// The header of the event CSV.
pub const HEADER: &[&str] = &[
    "block",
    "event",
    "tx",
    "actor",
    "role",
    "account",
    "venue",
    "gas_kind",
    "side",
    "amount_in",
    "amount_out",
    "amount",
    "price",
    "gas_used",
    "gas_price_gwei",
    "fee",
    "reverted",
    "private",
    "forced",
    "detail",
];

/// A label for a holder: the actor's label if the holder is an actor, else its number.
fn holder_label(actors: &[Actor], h: cascade_core::ids::HolderId) -> String {
    actors
        .iter()
        .find(|a| a.holder == h)
        .map(|a| a.label.clone())
        .unwrap_or_else(|| format!("holder{}", h.0))
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

/// Write `events` (of one run) with the World's actors for labels.
pub fn write_events<W: Write>(w: &mut W, actors: &[Actor], events: &[Event]) -> io::Result<()> {
    let mut cells: Vec<String> = vec![String::new(); HEADER.len()];
    for e in events {
        for c in cells.iter_mut() {
            c.clear();
        }
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
                cells[0] = block.to_string();
                cells[1] = "tx_included".into();
                cells[2] = tx.0.to_string();
                if let Some(a) = actors.get(agent.index()) {
                    cells[3] = a.label.clone();
                    cells[4] = format!("{:?}", a.role).to_lowercase();
                }
                cells[7] = kind.as_str().into();
                cells[13] = gas_used.to_string();
                cells[14] = format!("{}", *gas_price as f64 / 1e9);
                cells[15] = fee.to_string();
                cells[16] = revert.is_some().to_string();
                cells[17] = private.to_string();
                if let Some(r) = revert {
                    cells[19] = r.as_str().to_string();
                }
            }
            Event::TxExpired { block, tx, agent } => {
                cells[0] = block.to_string();
                cells[1] = "tx_expired".into();
                cells[2] = tx.0.to_string();
                if let Some(a) = actors.get(agent.index()) {
                    cells[3] = a.label.clone();
                    cells[4] = format!("{:?}", a.role).to_lowercase();
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
                cells[0] = block.to_string();
                cells[1] = "swap".into();
                cells[2] = tx.0.to_string();
                cells[3] = holder_label(actors, *trader);
                if let Some(a) = actors.iter().find(|a| a.holder == *trader) {
                    cells[4] = format!("{:?}", a.role).to_lowercase();
                }
                cells[6] = venue.0.to_string();
                cells[8] = side.as_str().into();
                cells[9] = amount_in.to_string();
                cells[10] = amount_out.to_string();
                cells[12] = format!("{price_after}");
                cells[18] = forced.to_string();
            }
            Event::OracleUpdate { block, feed, price } => {
                cells[0] = block.to_string();
                cells[1] = "oracle_update".into();
                cells[3] = format!("feed{}", feed.0);
                cells[12] = format!("{price}");
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
                cells[0] = block.to_string();
                cells[1] = kind.clone();
                if let Some(h) = actor {
                    cells[3] = holder_label(actors, *h);
                    if let Some(a) = actors.iter().find(|a| a.holder == *h) {
                        cells[4] = format!("{:?}", a.role).to_lowercase();
                    }
                }
                if let Some(acc) = account {
                    cells[5] = acc.0.to_string();
                }
                cells[11] = amount.to_string();
                cells[12] = format!("{value}");
                cells[19] = detail.clone();
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
