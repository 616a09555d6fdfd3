//! A price-time-priority limit order book, exact on the integer ledger.
//!
//! The book is the venue where liquidity can vanish: market makers quote ladders around their
//! fair value and pull them in a crash, so a forced seller walks down an emptying book. Prices
//! are integer ticks; a tick is held as an integer number of quote base units per whole base
//! token, so the quote leg of `b` base units at `t` ticks is the exact rational
//! `b * t * tick_raw / SCALE`, rounded in the resting maker's favour: a taker selling base
//! receives `floor(b * P)`, a taker buying pays `ceil(b * P)`.
//!
//! Makers post only (an order that would cross is refused), so the book never crosses and every
//! trade is a taker walking one side. Each resting order holds its own escrow in the venue's
//! holder (quote `ceil(size * P)` for a bid, the base itself for an ask); fills pay from that
//! escrow, and what is left returns to the owner when the order fills or is cancelled. The
//! venue's holder therefore always holds exactly the resting escrow plus the taker fees.

use super::{
    FEE_DENOM, Fill, VenueError, balance_of, check_amount, fee_on, fee_ppm, require_funds, tick_raw,
};
use cascade_core::tx::Level;
use cascade_core::{Amount, AssetId, HolderId, Ledger, LedgerError, OrderId, SCALE, Side, TokenId};
use std::collections::{BTreeMap, VecDeque};

/// A resting limit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Placement number within this book (time priority across levels is by level first).
    pub id: OrderId,
    /// Who receives the proceeds and the refunds.
    pub owner: HolderId,
    /// The maker's side: `Buy` for a bid, `Sell` for an ask.
    pub side: Side,
    /// Limit price in ticks (>= 1).
    pub ticks: u64,
    /// Base units still to trade (> 0 while resting).
    pub remaining: Amount,
    /// What the venue's holder keeps for this order: quote for a bid (at least
    /// `ceil(remaining * P)`), base for an ask (exactly `remaining`).
    pub escrow: Amount,
}

/// Parameters of a book and its genesis ladder (natural units, as in the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClobParams {
    /// Quote per whole base token per tick.
    pub tick: f64,
    /// Ladder levels per side.
    pub levels: u32,
    /// Whole base tokens per level.
    pub level_size: f64,
    /// Half-spread of the first level from the initial price, basis points.
    pub spread_bp: f64,
    /// Distance between successive levels, basis points of the initial price.
    pub level_spacing_bp: f64,
    /// Taker fee, fraction of the quote leg.
    pub taker_fee: f64,
}

/// What [`Clob::replace_quotes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuoteReport {
    /// The owner's resting orders cancelled first.
    pub cancelled: usize,
    /// Levels now resting.
    pub placed: usize,
    /// Levels refused because they would cross the opposite side (post-only).
    pub skipped_crossing: usize,
    /// Levels the owner could no longer fund.
    pub skipped_unfunded: usize,
    /// Levels with a zero size or price, or too large to escrow.
    pub skipped_invalid: usize,
}

impl QuoteReport {
    /// All levels not placed.
    pub fn skipped(&self) -> usize {
        self.skipped_crossing + self.skipped_unfunded + self.skipped_invalid
    }
}

type Book = BTreeMap<u64, VecDeque<Order>>;

/// A limit order book of one risky asset against the quote asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Clob {
    holder: HolderId,
    asset: AssetId,
    /// Quote base units per whole base token per tick.
    tick_raw: u64,
    taker_fee_ppm: u32,
    bids: Book,
    asks: Book,
    next_id: u64,
    last_price: f64,
    fees_collected: Amount,
}

/// The result of walking one side of the book with an input budget.
struct Walk {
    /// Base units traded.
    base: Amount,
    /// Quote units traded, before the taker fee.
    quote: Amount,
    /// Input left unused.
    left: Amount,
    /// The last level traded at.
    last_ticks: Option<u64>,
    /// The walked side's best level afterwards.
    after_best: Option<u64>,
}

/// A planned taker trade.
struct Plan {
    budget: Amount,
    paid: Amount,
    received: Amount,
    filled_all: bool,
    price_after: f64,
}

fn units(a: Amount) -> u128 {
    // Only called on validated non-negative amounts.
    u128::try_from(a.raw()).unwrap_or(0)
}

fn to_amount(x: Option<u128>) -> Result<Amount, VenueError> {
    x.and_then(|v| i128::try_from(v).ok())
        .map(Amount)
        .ok_or(VenueError::Overflow)
}

/// Quote base units per whole base token at `ticks`.
fn price_num(tick_raw: u64, ticks: u64) -> u128 {
    tick_raw as u128 * ticks as u128
}

/// `floor(base * P)` in quote units.
fn quote_floor(tick_raw: u64, base: Amount, ticks: u64) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_floor_u128(
        units(base),
        price_num(tick_raw, ticks),
        SCALE as u128,
    ))
}

/// `ceil(base * P)` in quote units.
fn quote_ceil(tick_raw: u64, base: Amount, ticks: u64) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_ceil_u128(
        units(base),
        price_num(tick_raw, ticks),
        SCALE as u128,
    ))
}

/// The largest `b` with `ceil(b * P) <= budget`, i.e. `floor(budget / P)`.
fn base_for_budget(tick_raw: u64, budget: Amount, ticks: u64) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_floor_u128(
        units(budget),
        SCALE as u128,
        price_num(tick_raw, ticks),
    ))
}

/// One taker fill against an order resting at `ticks` with `remaining` base, given `left`
/// taker input: `(base, quote)` traded. A seller's input is base, a buyer's is quote.
fn match_order(
    tick_raw: u64,
    side: Side,
    ticks: u64,
    remaining: Amount,
    left: Amount,
) -> Result<(Amount, Amount), VenueError> {
    match side {
        Side::Sell => {
            let b = left.min(remaining);
            Ok((b, quote_floor(tick_raw, b, ticks)?))
        }
        Side::Buy => {
            let b = remaining.min(base_for_budget(tick_raw, left, ticks)?);
            Ok((b, quote_ceil(tick_raw, b, ticks)?))
        }
    }
}

/// Walk `levels` (best first) with `budget`, without changing anything.
fn walk<'a>(
    tick_raw: u64,
    side: Side,
    levels: impl Iterator<Item = (&'a u64, &'a VecDeque<Order>)>,
    budget: Amount,
) -> Result<Walk, VenueError> {
    let mut w = Walk {
        base: Amount::ZERO,
        quote: Amount::ZERO,
        left: budget,
        last_ticks: None,
        after_best: None,
    };
    let mut levels = levels.peekable();
    'levels: while let Some((&ticks, level)) = levels.next() {
        for order in level {
            if w.left.is_zero() {
                w.after_best = Some(ticks);
                break 'levels;
            }
            let (b, q) = match_order(tick_raw, side, ticks, order.remaining, w.left)?;
            if b.is_zero() {
                w.after_best = Some(ticks);
                break 'levels;
            }
            w.left -= match side {
                Side::Sell => b,
                Side::Buy => q,
            };
            w.base += b;
            w.quote += q;
            w.last_ticks = Some(ticks);
            if b < order.remaining {
                // A partial fill: the input cannot take more of this order.
                w.after_best = Some(ticks);
                break 'levels;
            }
        }
        if w.left.is_zero() {
            w.after_best = levels.peek().map(|(t, _)| **t);
            break;
        }
    }
    Ok(w)
}

fn level_total((t, q): (&u64, &VecDeque<Order>)) -> (u64, Amount) {
    (*t, q.iter().map(|o| o.remaining).sum())
}

/// Snap `x` (a price in ticks) to an integer tick, rounding up or down unless `x` is within
/// 1e-9 (relative) of an integer; `None` if not in `[0, 1e18]`.
fn snap_ticks(x: f64, up: bool) -> Option<u64> {
    if !(x.is_finite() && (0.0..=1e18).contains(&x)) {
        return None;
    }
    let r = x.round();
    let t = if (x - r).abs() <= 1e-9 * r.max(1.0) {
        r
    } else if up {
        x.ceil()
    } else {
        x.floor()
    };
    Some(t as u64)
}

impl Clob {
    /// An empty book. `tick` in quote per whole base (at least 1e-9), `taker_fee` a fraction in
    /// `[0, 1)`, `initial_price` (quote per whole base, > 0) the price reported while the book
    /// is empty and nothing has traded.
    pub fn new(
        holder: HolderId,
        asset: AssetId,
        tick: f64,
        taker_fee: f64,
        initial_price: f64,
    ) -> Result<Clob, VenueError> {
        let tick_raw = tick_raw(tick).ok_or_else(|| {
            VenueError::BadParameter(format!("tick must be in [1e-9, 1e9] (got {tick})"))
        })?;
        let taker_fee_ppm = fee_ppm(taker_fee).ok_or_else(|| {
            VenueError::BadParameter(format!("taker_fee must be in [0, 1) (got {taker_fee})"))
        })?;
        if !(initial_price.is_finite() && initial_price > 0.0) {
            return Err(VenueError::BadParameter(format!(
                "initial price must be > 0 (got {initial_price})"
            )));
        }
        Ok(Clob {
            holder,
            asset,
            tick_raw,
            taker_fee_ppm,
            bids: Book::new(),
            asks: Book::new(),
            next_id: 0,
            last_price: initial_price,
            fees_collected: Amount::ZERO,
        })
    }

    /// A book with the genesis ladder: `levels` bids and asks of `level_size` each around
    /// `initial_price`, level `i` at `spread_bp + i * level_spacing_bp` basis points from it
    /// (bid ticks rounded down, ask ticks up, each level at least one tick beyond the previous,
    /// the best ask at least one tick above the best bid; bids that would reach zero ticks are
    /// dropped). The orders are owned by `owner` (a passive genesis maker, who receives the
    /// proceeds when they fill); their escrow is minted directly into `holder`, which must
    /// hold nothing yet. The ledger must not be sealed.
    pub fn genesis(
        ledger: &mut Ledger,
        holder: HolderId,
        owner: HolderId,
        asset: AssetId,
        initial_price: f64,
        p: &ClobParams,
    ) -> Result<Clob, VenueError> {
        let mut c = Clob::new(holder, asset, p.tick, p.taker_fee, initial_price)?;
        if owner == holder {
            return Err(VenueError::VenueHolder);
        }
        let size = Amount::from_whole(p.level_size);
        if p.levels == 0 || !size.is_positive() {
            return Err(VenueError::NoLiquidity);
        }
        for (name, v) in [
            ("spread_bp", p.spread_bp),
            ("level_spacing_bp", p.level_spacing_bp),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(VenueError::BadParameter(format!(
                    "{name} must be >= 0 (got {v})"
                )));
            }
        }
        if ledger.is_sealed() {
            return Err(LedgerError::Sealed.into());
        }
        balance_of(ledger, owner, TokenId::QUOTE)?;
        let held_quote = balance_of(ledger, holder, TokenId::QUOTE)?;
        let held_base = balance_of(ledger, holder, asset.token())?;
        if !held_quote.is_zero() || !held_base.is_zero() {
            return Err(VenueError::BadParameter(
                "the book's holder must start with empty balances".to_string(),
            ));
        }
        let tick = c.tick();
        let mut escrow_quote = Amount::ZERO;
        let mut prev: Option<u64> = None;
        for i in 0..p.levels {
            let off = (p.spread_bp + i as f64 * p.level_spacing_bp) / 1e4;
            let Some(mut t) = snap_ticks(initial_price * (1.0 - off) / tick, false) else {
                break;
            };
            if let Some(pv) = prev {
                t = t.min(pv.saturating_sub(1));
            }
            if t == 0 {
                break;
            }
            let escrow = quote_ceil(c.tick_raw, size, t)?;
            escrow_quote = escrow_quote
                .checked_add(escrow)
                .ok_or(VenueError::Overflow)?;
            c.push_order(owner, Side::Buy, t, size, escrow);
            prev = Some(t);
        }
        let mut n_asks: i128 = 0;
        // The first ask must be at least one tick above the best bid.
        prev = c.best_bid();
        for i in 0..p.levels {
            let off = (p.spread_bp + i as f64 * p.level_spacing_bp) / 1e4;
            let Some(mut t) = snap_ticks(initial_price * (1.0 + off) / tick, true) else {
                break;
            };
            if let Some(pv) = prev {
                t = t.max(pv.saturating_add(1));
            }
            c.push_order(owner, Side::Sell, t.max(1), size, size);
            prev = Some(t.max(1));
            n_asks += 1;
        }
        let escrow_base = size.mul_div_floor(n_asks, 1).ok_or(VenueError::Overflow)?;
        ledger.mint_genesis(holder, TokenId::QUOTE, escrow_quote)?;
        ledger.mint_genesis(holder, asset.token(), escrow_base)?;
        Ok(c)
    }

    fn push_order(
        &mut self,
        owner: HolderId,
        side: Side,
        ticks: u64,
        size: Amount,
        escrow: Amount,
    ) -> OrderId {
        let id = OrderId(self.next_id);
        self.next_id += 1;
        let book = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        book.entry(ticks).or_default().push_back(Order {
            id,
            owner,
            side,
            ticks,
            remaining: size,
            escrow,
        });
        id
    }

    /// The traded risky asset.
    pub fn asset(&self) -> AssetId {
        self.asset
    }

    /// The book's ledger holder (escrow and fee income).
    pub fn holder(&self) -> HolderId {
        self.holder
    }

    /// Tick size, quote per whole base token.
    pub fn tick(&self) -> f64 {
        self.tick_raw as f64 / cascade_core::amount::SCALE_F
    }

    /// Tick size, quote base units per whole base token (exact).
    pub fn tick_raw(&self) -> u64 {
        self.tick_raw
    }

    /// Taker fee as a fraction of the quote leg.
    pub fn taker_fee(&self) -> f64 {
        self.taker_fee_ppm as f64 / FEE_DENOM as f64
    }

    /// Taker fees collected so far (quote units, held by the venue's holder).
    pub fn fees_collected(&self) -> Amount {
        self.fees_collected
    }

    /// Price of the last trade (the genesis price before any).
    pub fn last_price(&self) -> f64 {
        self.last_price
    }

    /// `ticks` as a price, quote per whole base.
    pub fn price_of(&self, ticks: u64) -> f64 {
        ticks as f64 * self.tick()
    }

    /// The highest tick at or below `price` (quote per whole base), or `None` if there is
    /// none above zero. For makers turning a fair value into a bid.
    pub fn ticks_at_or_below(&self, price: f64) -> Option<u64> {
        snap_ticks(price / self.tick(), false).filter(|t| *t > 0)
    }

    /// The lowest tick at or above `price`, or `None` if out of range. For asks.
    pub fn ticks_at_or_above(&self, price: f64) -> Option<u64> {
        snap_ticks(price / self.tick(), true).map(|t| t.max(1))
    }

    /// The best (highest) bid, in ticks.
    pub fn best_bid(&self) -> Option<u64> {
        self.bids.keys().next_back().copied()
    }

    /// The best (lowest) ask, in ticks.
    pub fn best_ask(&self) -> Option<u64> {
        self.asks.keys().next().copied()
    }

    /// `best_ask - best_bid` in ticks, when both sides are present.
    pub fn spread(&self) -> Option<u64> {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        }
    }

    /// Mid price (quote per whole base), when both sides are present.
    pub fn mid(&self) -> Option<f64> {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => Some((self.price_of(b) + self.price_of(a)) / 2.0),
            _ => None,
        }
    }

    /// The book's price: the mid, else the one side present, else the last trade price.
    pub fn price(&self) -> f64 {
        self.price_from(self.best_bid(), self.best_ask(), self.last_price)
    }

    fn price_from(&self, bid: Option<u64>, ask: Option<u64>, last: f64) -> f64 {
        match (bid, ask) {
            (Some(b), Some(a)) => (self.price_of(b) + self.price_of(a)) / 2.0,
            (Some(b), None) => self.price_of(b),
            (None, Some(a)) => self.price_of(a),
            (None, None) => last,
        }
    }

    fn book(&self, maker_side: Side) -> &Book {
        match maker_side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Base units resting on one side (`Buy`: the bids, `Sell`: the asks) within
    /// `ticks_from_best` ticks of that side's best price (0: the best level only).
    pub fn depth(&self, maker_side: Side, ticks_from_best: u64) -> Amount {
        let sum = |q: &VecDeque<Order>| q.iter().map(|o| o.remaining).sum::<Amount>();
        match maker_side {
            Side::Buy => match self.best_bid() {
                Some(b) => self
                    .bids
                    .range(b.saturating_sub(ticks_from_best)..)
                    .map(|(_, q)| sum(q))
                    .sum(),
                None => Amount::ZERO,
            },
            Side::Sell => match self.best_ask() {
                Some(a) => self
                    .asks
                    .range(..=a.saturating_add(ticks_from_best))
                    .map(|(_, q)| sum(q))
                    .sum(),
                None => Amount::ZERO,
            },
        }
    }

    /// The bid levels, best (highest) first: `(ticks, total base resting)`.
    pub fn bid_levels(&self) -> impl Iterator<Item = (u64, Amount)> + '_ {
        self.bids.iter().rev().map(level_total)
    }

    /// The ask levels, best (lowest) first: `(ticks, total base resting)`.
    pub fn ask_levels(&self) -> impl Iterator<Item = (u64, Amount)> + '_ {
        self.asks.iter().map(level_total)
    }

    /// Every resting order, bids (best first) then asks (best first).
    pub fn orders(&self) -> impl Iterator<Item = &Order> + '_ {
        self.bids
            .values()
            .rev()
            .flatten()
            .chain(self.asks.values().flatten())
    }

    /// `owner`'s resting orders, bids (best first) then asks (best first).
    pub fn orders_of(&self, owner: HolderId) -> impl Iterator<Item = &Order> + '_ {
        self.orders().filter(move |o| o.owner == owner)
    }

    /// The resting order `id`, if any.
    pub fn order(&self, id: OrderId) -> Option<&Order> {
        self.orders().find(|o| o.id == id)
    }

    /// Number of resting orders.
    pub fn n_orders(&self) -> usize {
        self.bids
            .values()
            .chain(self.asks.values())
            .map(VecDeque::len)
            .sum()
    }

    /// Escrow held for resting orders: `(quote for bids, base for asks)`. The venue's holder
    /// holds exactly this plus [`Clob::fees_collected`] in quote.
    pub fn escrow_held(&self) -> (Amount, Amount) {
        (
            self.bids.values().flatten().map(|o| o.escrow).sum(),
            self.asks.values().flatten().map(|o| o.escrow).sum(),
        )
    }

    /// The largest gross quote budget `G` with `G + ceil(G * fee) <= amount_in`:
    /// `floor(amount_in * D / (D + f))`.
    fn gross_budget(&self, amount_in: Amount) -> Result<Amount, VenueError> {
        amount_in
            .mul_div_floor(FEE_DENOM as i128, (FEE_DENOM + self.taker_fee_ppm) as i128)
            .ok_or(VenueError::Overflow)
    }

    /// Plan a taker trade on the current book, changing nothing.
    fn plan(&self, side: Side, amount_in: Amount) -> Result<Plan, VenueError> {
        check_amount(amount_in)?;
        let (w, budget) = match side {
            Side::Sell => {
                if self.bids.is_empty() {
                    return Err(VenueError::NoLiquidity);
                }
                (
                    walk(self.tick_raw, side, self.bids.iter().rev(), amount_in)?,
                    amount_in,
                )
            }
            Side::Buy => {
                if self.asks.is_empty() {
                    return Err(VenueError::NoLiquidity);
                }
                let budget = self.gross_budget(amount_in)?;
                (walk(self.tick_raw, side, self.asks.iter(), budget)?, budget)
            }
        };
        let fee = fee_on(w.quote, self.taker_fee_ppm)?;
        let (paid, received) = match side {
            Side::Sell => (w.base, w.quote - fee),
            Side::Buy => (w.quote + fee, w.base),
        };
        if !received.is_positive() || !paid.is_positive() {
            return Err(VenueError::TooSmall);
        }
        let last = w.last_ticks.map_or(self.last_price, |t| self.price_of(t));
        let price_after = match side {
            Side::Sell => self.price_from(w.after_best, self.best_ask(), last),
            Side::Buy => self.price_from(self.best_bid(), w.after_best, last),
        };
        Ok(Plan {
            budget,
            paid,
            received,
            filled_all: w.left.is_zero() || w.after_best.is_some(),
            price_after,
        })
    }

    /// What [`Clob::execute`] would do now, changing nothing (and allocating nothing);
    /// [`Fill::empty`] if nothing can be filled.
    pub fn quote(&self, side: Side, amount_in: Amount) -> Fill {
        match self.plan(side, amount_in) {
            Ok(p) => Fill::new(side, p.paid, p.received, p.price_after, p.filled_all),
            Err(_) => Fill::empty(self.price()),
        }
    }

    /// A taker trade (see [`super::Venue::execute`]). A seller's base goes to each maker
    /// filled and its quote comes from the makers' escrow; a buyer's quote goes to each maker
    /// and its base comes from their escrow. The taker fee (quote, rounded up) goes to the
    /// venue's holder. The trade may fill only part of `amount_in` if the book runs out (see
    /// [`Fill::filled_all`]). Reverts, changing nothing, on a bad amount, an empty side, an
    /// output of zero or below `min_out`, or a trader holding less than `amount_in`.
    pub fn execute(
        &mut self,
        ledger: &mut Ledger,
        trader: HolderId,
        side: Side,
        amount_in: Amount,
        min_out: Amount,
    ) -> Result<Fill, VenueError> {
        if trader == self.holder {
            return Err(VenueError::VenueHolder);
        }
        let plan = self.plan(side, amount_in)?;
        if plan.received < min_out {
            return Err(VenueError::Slippage {
                min_out,
                out: plan.received,
            });
        }
        let base_token = self.asset.token();
        let token_in = match side {
            Side::Sell => base_token,
            Side::Buy => TokenId::QUOTE,
        };
        // The trader must hold the whole input asked for, as with a router that pulls
        // `amount_in` and refunds what the book could not use (`plan.paid <= amount_in`).
        require_funds(ledger, trader, token_in, amount_in)?;
        balance_of(ledger, self.holder, base_token)?;
        // From here every transfer is funded: the trader holds what the plan pays, the
        // venue's holder holds every order's escrow. A failure would mean the ledger was
        // changed behind the book's back; it is reported, not hidden.
        let w = self.apply(ledger, trader, side, plan.budget)?;
        let fee = fee_on(w.quote, self.taker_fee_ppm)?;
        let (paid, received) = match side {
            Side::Sell => {
                ledger.transfer(self.holder, trader, TokenId::QUOTE, w.quote - fee)?;
                (w.base, w.quote - fee)
            }
            Side::Buy => {
                ledger.transfer(trader, self.holder, TokenId::QUOTE, fee)?;
                ledger.transfer(self.holder, trader, base_token, w.base)?;
                (w.quote + fee, w.base)
            }
        };
        self.fees_collected += fee;
        if let Some(t) = w.last_ticks {
            self.last_price = self.price_of(t);
        }
        let walked_side_left = match side {
            Side::Sell => !self.bids.is_empty(),
            Side::Buy => !self.asks.is_empty(),
        };
        Ok(Fill::new(
            side,
            paid,
            received,
            self.price(),
            w.left.is_zero() || walked_side_left,
        ))
    }

    /// Walk the book as [`walk`] does, filling orders: the taker pays each maker, filled
    /// orders leave the book and their leftover escrow returns to their owners.
    fn apply(
        &mut self,
        ledger: &mut Ledger,
        trader: HolderId,
        side: Side,
        budget: Amount,
    ) -> Result<Walk, VenueError> {
        let tick_raw = self.tick_raw;
        let holder = self.holder;
        let base_token = self.asset.token();
        let book = match side {
            Side::Sell => &mut self.bids,
            Side::Buy => &mut self.asks,
        };
        let mut w = Walk {
            base: Amount::ZERO,
            quote: Amount::ZERO,
            left: budget,
            last_ticks: None,
            after_best: None,
        };
        while w.left.is_positive() {
            let entry = match side {
                Side::Sell => book.last_entry(),
                Side::Buy => book.first_entry(),
            };
            let Some(mut entry) = entry else {
                break;
            };
            let ticks = *entry.key();
            let level = entry.get_mut();
            let Some(order) = level.front_mut() else {
                // Levels are removed when they empty; tolerate one anyway.
                entry.remove();
                continue;
            };
            let (b, q) = match_order(tick_raw, side, ticks, order.remaining, w.left)?;
            if b.is_zero() {
                break;
            }
            match side {
                Side::Sell => {
                    ledger.transfer(trader, order.owner, base_token, b)?;
                    order.escrow -= q;
                    w.left -= b;
                }
                Side::Buy => {
                    ledger.transfer(trader, order.owner, TokenId::QUOTE, q)?;
                    order.escrow -= b;
                    w.left -= q;
                }
            }
            order.remaining -= b;
            w.base += b;
            w.quote += q;
            w.last_ticks = Some(ticks);
            if !order.remaining.is_zero() {
                break;
            }
            if let Some(done) = level.pop_front()
                && done.escrow.is_positive()
            {
                let token = match side {
                    Side::Sell => TokenId::QUOTE,
                    Side::Buy => base_token,
                };
                ledger.transfer(holder, done.owner, token, done.escrow)?;
            }
            if level.is_empty() {
                entry.remove();
            }
        }
        Ok(w)
    }

    /// Place a post-only limit order for `owner`: `Buy` a bid, `Sell` an ask, `size` base units
    /// at `ticks`. `Ok(None)` if it would cross the opposite best price (nothing changes);
    /// otherwise its escrow (`ceil(size * P)` quote for a bid, `size` base for an ask) moves
    /// from `owner` to the venue's holder and the order rests behind earlier orders at its
    /// price. An error (bad size or price, owner short of funds) changes nothing.
    pub fn place(
        &mut self,
        ledger: &mut Ledger,
        owner: HolderId,
        side: Side,
        ticks: u64,
        size: Amount,
    ) -> Result<Option<OrderId>, VenueError> {
        if owner == self.holder {
            return Err(VenueError::VenueHolder);
        }
        check_amount(size)?;
        if ticks == 0 {
            return Err(VenueError::InvalidPrice(ticks));
        }
        let crosses = match side {
            Side::Buy => self.best_ask().is_some_and(|a| ticks >= a),
            Side::Sell => self.best_bid().is_some_and(|b| ticks <= b),
        };
        if crosses {
            return Ok(None);
        }
        let (token, escrow) = match side {
            Side::Buy => (TokenId::QUOTE, quote_ceil(self.tick_raw, size, ticks)?),
            Side::Sell => (self.asset.token(), size),
        };
        balance_of(ledger, self.holder, token)?;
        require_funds(ledger, owner, token, escrow)?;
        ledger.transfer(owner, self.holder, token, escrow)?;
        Ok(Some(self.push_order(owner, side, ticks, size, escrow)))
    }

    /// Cancel `owner`'s order `id`, returning its escrow. `Ok(false)` if there is no such
    /// resting order of `owner` (nothing changes).
    pub fn cancel(
        &mut self,
        ledger: &mut Ledger,
        owner: HolderId,
        id: OrderId,
    ) -> Result<bool, VenueError> {
        let Some((side, ticks, pos, escrow)) = self.locate(owner, id) else {
            return Ok(false);
        };
        let token = match side {
            Side::Buy => TokenId::QUOTE,
            Side::Sell => self.asset.token(),
        };
        require_funds(ledger, self.holder, token, escrow)?;
        balance_of(ledger, owner, token)?;
        let book = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if let Some(level) = book.get_mut(&ticks) {
            level.remove(pos);
            if level.is_empty() {
                book.remove(&ticks);
            }
        }
        ledger.transfer(self.holder, owner, token, escrow)?;
        Ok(true)
    }

    /// `(side, ticks, position in level, escrow)` of `owner`'s order `id`.
    fn locate(&self, owner: HolderId, id: OrderId) -> Option<(Side, u64, usize, Amount)> {
        for side in [Side::Buy, Side::Sell] {
            for (t, level) in self.book(side) {
                if let Some(pos) = level.iter().position(|o| o.id == id) {
                    let o = &level[pos];
                    return (o.owner == owner).then_some((side, *t, pos, o.escrow));
                }
            }
        }
        None
    }

    /// Cancel all of `owner`'s resting orders, returning their escrow; the number cancelled.
    pub fn cancel_all(
        &mut self,
        ledger: &mut Ledger,
        owner: HolderId,
    ) -> Result<usize, VenueError> {
        let mut n = 0;
        let (mut quote, mut base) = (Amount::ZERO, Amount::ZERO);
        for o in self.orders_of(owner) {
            n += 1;
            match o.side {
                Side::Buy => quote += o.escrow,
                Side::Sell => base += o.escrow,
            }
        }
        if n == 0 {
            return Ok(0);
        }
        let base_token = self.asset.token();
        require_funds(ledger, self.holder, TokenId::QUOTE, quote)?;
        require_funds(ledger, self.holder, base_token, base)?;
        balance_of(ledger, owner, TokenId::QUOTE)?;
        for book in [&mut self.bids, &mut self.asks] {
            book.retain(|_, level| {
                level.retain(|o| o.owner != owner);
                !level.is_empty()
            });
        }
        ledger.transfer(self.holder, owner, TokenId::QUOTE, quote)?;
        ledger.transfer(self.holder, owner, base_token, base)?;
        Ok(n)
    }

    /// Replace all of `owner`'s resting orders: cancel them, then place each bid and ask
    /// level (post-only). Levels that would cross, that the owner can no longer fund, or with
    /// a zero size or price are skipped and counted. Errors (the owner is the venue's holder
    /// or unknown to the ledger) are raised before anything changes.
    pub fn replace_quotes(
        &mut self,
        ledger: &mut Ledger,
        owner: HolderId,
        bids: &[Level],
        asks: &[Level],
    ) -> Result<QuoteReport, VenueError> {
        if owner == self.holder {
            return Err(VenueError::VenueHolder);
        }
        balance_of(ledger, owner, TokenId::QUOTE)?;
        let mut r = QuoteReport {
            cancelled: self.cancel_all(ledger, owner)?,
            ..QuoteReport::default()
        };
        let levels = bids
            .iter()
            .map(|l| (Side::Buy, l))
            .chain(asks.iter().map(|l| (Side::Sell, l)));
        for (side, l) in levels {
            match self.place(ledger, owner, side, l.ticks, l.size) {
                Ok(Some(_)) => r.placed += 1,
                Ok(None) => r.skipped_crossing += 1,
                Err(VenueError::Ledger(LedgerError::Insufficient { .. })) => {
                    r.skipped_unfunded += 1
                }
                Err(_) => r.skipped_invalid += 1,
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const W: i128 = 1_000_000_000;
    const BOOK: HolderId = HolderId(0);

    /// A sealed ledger: the book (holder 0) and `n` traders holding `usd` and `eth` whole
    /// tokens each.
    fn setup(n: u32, usd: i128, eth: i128, tick: f64, fee: f64) -> (Ledger, Clob) {
        let mut l = Ledger::new(["USD", "ETH"]);
        l.add_holder("book");
        for i in 0..n {
            let h = l.add_holder(format!("h{}", i + 1));
            l.mint_genesis(h, TokenId::QUOTE, Amount(usd * W)).unwrap();
            l.mint_genesis(h, AssetId(0).token(), Amount(eth * W))
                .unwrap();
        }
        l.seal();
        let c = Clob::new(BOOK, AssetId(0), tick, fee, 2000.0).unwrap();
        (l, c)
    }

    fn usd(l: &Ledger, h: u32) -> Amount {
        l.balance(HolderId(h), TokenId::QUOTE)
    }

    fn eth(l: &Ledger, h: u32) -> Amount {
        l.balance(HolderId(h), AssetId(0).token())
    }

    fn balances(l: &Ledger) -> Vec<Amount> {
        (0..l.n_holders())
            .flat_map(|h| (0..l.n_tokens()).map(move |t| (h, t)))
            .map(|(h, t)| l.balance(HolderId(h as u32), TokenId(t as u16)))
            .collect()
    }

    /// Everything the book promises about itself and the ledger.
    fn check_invariants(l: &Ledger, c: &Clob) -> Result<(), TestCaseError> {
        if let (Some(b), Some(a)) = (c.best_bid(), c.best_ask()) {
            prop_assert!(b < a, "crossed book: bid {} ask {}", b, a);
        }
        for (side, book) in [(Side::Buy, &c.bids), (Side::Sell, &c.asks)] {
            for (t, level) in book {
                prop_assert!(!level.is_empty());
                for o in level {
                    prop_assert_eq!(o.side, side);
                    prop_assert_eq!(o.ticks, *t);
                    prop_assert!(o.remaining.is_positive());
                    match side {
                        Side::Sell => prop_assert_eq!(o.escrow, o.remaining),
                        Side::Buy => prop_assert!(
                            o.escrow >= quote_ceil(c.tick_raw, o.remaining, o.ticks).unwrap()
                        ),
                    }
                }
            }
        }
        let (eq, eb) = c.escrow_held();
        prop_assert_eq!(usd(l, 0), eq + c.fees_collected());
        prop_assert_eq!(eth(l, 0), eb);
        prop_assert!(l.check_conservation().is_ok());
        Ok(())
    }

    #[test]
    fn price_time_priority_and_partial_fills() {
        let (mut l, mut c) = setup(4, 1_000_000, 1000, 1.0, 0.0);
        let a = c
            .place(&mut l, HolderId(1), Side::Buy, 100, Amount(10 * W))
            .unwrap();
        let b = c
            .place(&mut l, HolderId(2), Side::Buy, 100, Amount(10 * W))
            .unwrap();
        c.place(&mut l, HolderId(3), Side::Buy, 99, Amount(10 * W))
            .unwrap();
        assert_eq!(usd(&l, 1), Amount((1_000_000 - 1000) * W));
        let q = c.quote(Side::Sell, Amount(15 * W));
        let f = c
            .execute(
                &mut l,
                HolderId(4),
                Side::Sell,
                Amount(15 * W),
                Amount::ZERO,
            )
            .unwrap();
        assert_eq!(q, f);
        // 15 ETH at 100: A (first in time) is filled, B half, C (lower price) untouched.
        assert_eq!(f.amount_in, Amount(15 * W));
        assert_eq!(f.amount_out, Amount(1500 * W));
        assert_eq!(f.avg_price, 100.0);
        assert!(f.filled_all);
        assert_eq!(c.order(a.unwrap()), None);
        assert_eq!(c.order(b.unwrap()).unwrap().remaining, Amount(5 * W));
        assert_eq!(c.order(b.unwrap()).unwrap().escrow, Amount(500 * W));
        assert_eq!(eth(&l, 1), Amount(1010 * W));
        assert_eq!(eth(&l, 2), Amount(1005 * W));
        assert_eq!(eth(&l, 3), Amount(1000 * W));
        assert_eq!(usd(&l, 4), Amount((1_000_000 + 1500) * W));
        assert_eq!(c.best_bid(), Some(100));
        assert_eq!(c.depth(Side::Buy, 0), Amount(5 * W));
        assert_eq!(c.depth(Side::Buy, 1), Amount(15 * W));
        assert_eq!(c.last_price(), 100.0);
        // Only bids: the price is the best bid.
        assert_eq!(f.price_after, 100.0);
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn hand_computed_walk_across_two_levels() {
        let (mut l, mut c) = setup(4, 1_000_000, 1000, 1.0, 0.0);
        c.place(&mut l, HolderId(1), Side::Sell, 2000, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(2), Side::Sell, 2001, Amount(2 * W))
            .unwrap();
        c.place(&mut l, HolderId(3), Side::Buy, 1999, Amount(W))
            .unwrap();
        // Buy with 3000 USD: 1 ETH at 2000 costs 2000 USD; the remaining 1000 USD buys
        // floor(1000e9 / 2001) = 499750124 base units at 2001, costing
        // ceil(499750124 * 2001) = 999999998124 quote units; 1876 units stay with the taker.
        let q = c.quote(Side::Buy, Amount(3000 * W));
        let f = c
            .execute(
                &mut l,
                HolderId(4),
                Side::Buy,
                Amount(3000 * W),
                Amount::ZERO,
            )
            .unwrap();
        assert_eq!(q, f);
        assert_eq!(f.amount_out, Amount(W + 499_750_124));
        assert_eq!(f.amount_in, Amount(2000 * W + 999_999_998_124));
        assert!(f.filled_all);
        assert_eq!(usd(&l, 4), Amount(1_000_000 * W) - f.amount_in);
        assert_eq!(eth(&l, 4), Amount(1000 * W) + f.amount_out);
        assert_eq!(usd(&l, 1), Amount(1_002_000 * W));
        assert_eq!(usd(&l, 2), Amount(1_000_000 * W + 999_999_998_124));
        // Bid 1999, ask 2001 (partly filled): mid 2000.
        assert_eq!(f.price_after, 2000.0);
        assert_eq!(c.last_price(), 2001.0);
        assert_eq!(c.depth(Side::Sell, 10), Amount(2 * W - 499_750_124));
        check_invariants(&l, &c).unwrap();
        // Buying more than the book holds takes it all and reports a partial fill.
        let f = c
            .execute(
                &mut l,
                HolderId(4),
                Side::Buy,
                Amount(10_000 * W),
                Amount::ZERO,
            )
            .unwrap();
        assert_eq!(f.amount_out, Amount(2 * W - 499_750_124));
        assert!(!f.filled_all);
        assert_eq!(c.best_ask(), None);
        assert_eq!(f.price_after, 1999.0);
        assert_eq!(
            c.execute(&mut l, HolderId(4), Side::Buy, Amount(W), Amount::ZERO),
            Err(VenueError::NoLiquidity)
        );
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn roundings_favour_the_maker_and_refund_leftover_escrow() {
        // Tick 0.001: 500 ticks is 0.5 USD per ETH. A bid of 3 base units escrows ceil(1.5) = 2.
        let (mut l, mut c) = setup(2, 1000, 1000, 0.001, 0.0);
        let id = c
            .place(&mut l, HolderId(1), Side::Buy, 500, Amount(3))
            .unwrap()
            .unwrap();
        assert_eq!(c.order(id).unwrap().escrow, Amount(2));
        // Selling 1 unit would yield floor(0.5) = 0: refused, nothing changes.
        let before = balances(&l);
        assert_eq!(
            c.execute(&mut l, HolderId(2), Side::Sell, Amount(1), Amount::ZERO),
            Err(VenueError::TooSmall)
        );
        assert_eq!(balances(&l), before);
        // Selling 3 units yields floor(1.5) = 1; the order fills and its leftover 1 returns.
        let f = c
            .execute(&mut l, HolderId(2), Side::Sell, Amount(3), Amount::ZERO)
            .unwrap();
        assert_eq!(f.amount_out, Amount(1));
        assert_eq!(usd(&l, 1), Amount(1000 * W - 1));
        assert_eq!(eth(&l, 1), Amount(1000 * W + 3));
        assert_eq!(c.n_orders(), 0);
        assert_eq!(usd(&l, 0), Amount::ZERO);
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn post_only_refuses_crossing_orders() {
        let (mut l, mut c) = setup(2, 1_000_000, 1000, 1.0, 0.0);
        c.place(&mut l, HolderId(1), Side::Sell, 100, Amount(W))
            .unwrap()
            .unwrap();
        let before = (balances(&l), c.clone());
        assert_eq!(
            c.place(&mut l, HolderId(2), Side::Buy, 100, Amount(W)),
            Ok(None)
        );
        assert_eq!(
            c.place(&mut l, HolderId(2), Side::Buy, 150, Amount(W)),
            Ok(None)
        );
        assert_eq!((balances(&l), c.clone()), before);
        assert!(
            c.place(&mut l, HolderId(2), Side::Buy, 99, Amount(W))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            c.place(&mut l, HolderId(1), Side::Sell, 99, Amount(W)),
            Ok(None)
        );
        assert_eq!(c.spread(), Some(1));
        assert_eq!(c.mid(), Some(99.5));
        assert_eq!(
            c.place(&mut l, HolderId(1), Side::Sell, 0, Amount(W)),
            Err(VenueError::InvalidPrice(0))
        );
        assert_eq!(
            c.place(&mut l, HolderId(1), Side::Sell, 120, Amount::ZERO),
            Err(VenueError::ZeroAmount)
        );
        assert!(matches!(
            c.place(&mut l, HolderId(1), Side::Sell, 120, Amount(1001 * W)),
            Err(VenueError::Ledger(LedgerError::Insufficient { .. }))
        ));
        assert_eq!(
            c.place(&mut l, BOOK, Side::Sell, 120, Amount(W)),
            Err(VenueError::VenueHolder)
        );
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn cancel_refunds_escrow() {
        let (mut l, mut c) = setup(3, 1_000_000, 1000, 0.01, 0.0);
        // 2.5 ETH at 1999.99 USD escrows exactly 4999.975 USD.
        let id = c
            .place(
                &mut l,
                HolderId(1),
                Side::Buy,
                199_999,
                Amount(2_500_000_000),
            )
            .unwrap()
            .unwrap();
        assert_eq!(usd(&l, 1), Amount(1_000_000 * W - 4_999_975_000_000));
        assert_eq!(usd(&l, 0), Amount(4_999_975_000_000));
        // Someone else cannot cancel it.
        assert_eq!(c.cancel(&mut l, HolderId(2), id), Ok(false));
        // A partial fill, then a cancel: the owner ends with the ETH bought plus every unspent
        // quote unit.
        c.execute(&mut l, HolderId(2), Side::Sell, Amount(W), Amount::ZERO)
            .unwrap();
        assert_eq!(c.cancel(&mut l, HolderId(1), id), Ok(true));
        assert_eq!(c.cancel(&mut l, HolderId(1), id), Ok(false));
        assert_eq!(usd(&l, 1), Amount((1_000_000 - 1999) * W - 990_000_000));
        assert_eq!(eth(&l, 1), Amount(1001 * W));
        assert_eq!(usd(&l, 0), Amount::ZERO);
        assert_eq!(c.n_orders(), 0);
        // cancel_all over both sides.
        c.place(&mut l, HolderId(1), Side::Buy, 100, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(1), Side::Sell, 300_000, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(2), Side::Sell, 300_000, Amount(W))
            .unwrap();
        assert_eq!(c.cancel_all(&mut l, HolderId(1)), Ok(2));
        assert_eq!(c.orders_of(HolderId(1)).count(), 0);
        assert_eq!(c.orders_of(HolderId(2)).count(), 1);
        assert_eq!(eth(&l, 1), Amount(1001 * W));
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn taker_fee_hand_computed() {
        let (mut l, mut c) = setup(3, 1_000_000, 1000, 1.0, 0.001);
        c.place(&mut l, HolderId(1), Side::Sell, 2000, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(1), Side::Buy, 1000, Amount(W))
            .unwrap();
        // Buy with 1000 USD at a 0.1% fee: gross budget floor(1000e9 / 1.001) = 999000999000;
        // base floor(999000999000 / 2000) = 499500499; cost 999000998000; fee
        // ceil(999000998000 * 0.001) = 999000998; paid 999999998998.
        let f = c
            .execute(
                &mut l,
                HolderId(2),
                Side::Buy,
                Amount(1000 * W),
                Amount::ZERO,
            )
            .unwrap();
        assert_eq!(f.amount_out, Amount(499_500_499));
        assert_eq!(f.amount_in, Amount(999_999_998_998));
        assert_eq!(c.fees_collected(), Amount(999_000_998));
        // Sell 0.5 ETH into the 1000 bid: gross 500 USD, fee 0.5 USD.
        let f = c
            .execute(&mut l, HolderId(3), Side::Sell, Amount(W / 2), Amount::ZERO)
            .unwrap();
        assert_eq!(f.amount_out, Amount(499_500_000_000));
        assert_eq!(c.fees_collected(), Amount(999_000_998 + 500_000_000));
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn slippage_and_funds_revert() {
        let (mut l, mut c) = setup(3, 1000, 10, 1.0, 0.0);
        c.place(&mut l, HolderId(1), Side::Buy, 50, Amount(5 * W))
            .unwrap();
        let snap = (balances(&l), c.clone());
        assert_eq!(
            c.execute(&mut l, HolderId(2), Side::Sell, Amount(W), Amount(51 * W)),
            Err(VenueError::Slippage {
                min_out: Amount(51 * W),
                out: Amount(50 * W)
            })
        );
        assert!(matches!(
            c.execute(
                &mut l,
                HolderId(2),
                Side::Sell,
                Amount(11 * W),
                Amount::ZERO
            ),
            Err(VenueError::Ledger(LedgerError::Insufficient { .. }))
        ));
        assert_eq!(
            c.execute(&mut l, HolderId(2), Side::Buy, Amount(W), Amount::ZERO),
            Err(VenueError::NoLiquidity)
        );
        assert_eq!(
            c.execute(&mut l, BOOK, Side::Sell, Amount(W), Amount::ZERO),
            Err(VenueError::VenueHolder)
        );
        assert!(c.quote(Side::Buy, Amount(W)).is_empty());
        assert_eq!((balances(&l), c.clone()), snap);
    }

    #[test]
    fn replace_quotes_reports_what_it_did() {
        let (mut l, mut c) = setup(3, 1000, 10, 1.0, 0.0);
        c.place(&mut l, HolderId(2), Side::Sell, 105, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(1), Side::Buy, 90, Amount(W))
            .unwrap();
        let lv = |ticks, size| Level {
            ticks,
            size: Amount(size),
        };
        let r = c
            .replace_quotes(
                &mut l,
                HolderId(1),
                &[lv(100, W), lv(105, W), lv(99, 100 * W), lv(0, W), lv(98, 0)],
                &[lv(100, W), lv(101, 9 * W), lv(102, 2 * W)],
            )
            .unwrap();
        assert_eq!(
            r,
            QuoteReport {
                cancelled: 1,
                placed: 2,
                skipped_crossing: 2,
                skipped_unfunded: 2,
                skipped_invalid: 2,
            }
        );
        assert_eq!(r.skipped(), 6);
        assert_eq!(usd(&l, 1), Amount(900 * W));
        assert_eq!(eth(&l, 1), Amount(W));
        assert_eq!(c.best_bid(), Some(100));
        assert_eq!(c.best_ask(), Some(101));
        let mine: Vec<(Side, u64)> = c
            .orders_of(HolderId(1))
            .map(|o| (o.side, o.ticks))
            .collect();
        assert_eq!(mine, [(Side::Buy, 100), (Side::Sell, 101)]);
        assert_eq!(
            c.replace_quotes(&mut l, BOOK, &[], &[]),
            Err(VenueError::VenueHolder)
        );
        check_invariants(&l, &c).unwrap();
    }

    #[test]
    fn genesis_ladder() {
        let mut l = Ledger::new(["USD", "ETH"]);
        let book = l.add_holder("book");
        let maker = l.add_holder("maker");
        let p = ClobParams {
            tick: 0.01,
            levels: 3,
            level_size: 1.0,
            spread_bp: 10.0,
            level_spacing_bp: 10.0,
            taker_fee: 0.0,
        };
        let c = Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p).unwrap();
        let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
        let asks: Vec<u64> = c.ask_levels().map(|(t, _)| t).collect();
        assert_eq!(bids, [199_800, 199_600, 199_400]);
        assert_eq!(asks, [200_200, 200_400, 200_600]);
        // Escrow: 1998 + 1996 + 1994 USD and 3 ETH, minted into the book.
        assert_eq!(usd(&l, 0), Amount(5988 * W));
        assert_eq!(eth(&l, 0), Amount(3 * W));
        assert_eq!(usd(&l, 1), Amount::ZERO);
        assert!(
            c.orders()
                .all(|o| o.owner == maker && o.remaining == Amount(W))
        );
        assert_eq!(c.price(), 2000.0);
        l.seal();
        check_invariants(&l, &c).unwrap();

        // Zero spread and spacing on an exact tick: levels one tick apart, never crossing.
        let mut l = Ledger::new(["USD", "ETH"]);
        let book = l.add_holder("book");
        let maker = l.add_holder("maker");
        let p0 = ClobParams {
            spread_bp: 0.0,
            level_spacing_bp: 0.0,
            ..p
        };
        let c = Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p0).unwrap();
        let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
        let asks: Vec<u64> = c.ask_levels().map(|(t, _)| t).collect();
        assert_eq!(bids, [200_000, 199_999, 199_998]);
        assert_eq!(asks, [200_001, 200_002, 200_003]);

        // A price of 2 ticks: the second bid level would be at zero ticks and is dropped.
        let mut l = Ledger::new(["USD", "ETH"]);
        let book = l.add_holder("book");
        let maker = l.add_holder("maker");
        let c = Clob::genesis(&mut l, book, maker, AssetId(0), 0.02, &p0).unwrap();
        let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
        assert_eq!(bids, [2, 1]);
        assert_eq!(c.ask_levels().count(), 3);

        // Bad inputs.
        let bad = ClobParams { levels: 0, ..p };
        assert_eq!(
            Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &bad),
            Err(VenueError::NoLiquidity)
        );
        assert!(matches!(
            Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p),
            Err(VenueError::BadParameter(_))
        ));
        assert!(matches!(
            Clob::genesis(&mut l, book, maker, AssetId(0), f64::NAN, &p),
            Err(VenueError::BadParameter(_))
        ));
        assert_eq!(
            Clob::genesis(&mut l, book, book, AssetId(0), 2000.0, &p),
            Err(VenueError::VenueHolder)
        );
    }

    #[test]
    fn extreme_inputs_never_panic() {
        let (mut l, mut c) = setup(2, 1000, 10, 1e-9, 0.5);
        c.place(&mut l, HolderId(1), Side::Sell, u64::MAX, Amount(W))
            .unwrap();
        c.place(&mut l, HolderId(1), Side::Buy, 1, Amount(W))
            .unwrap();
        assert!(matches!(
            c.place(&mut l, HolderId(2), Side::Buy, u64::MAX - 1, Amount::MAX),
            Err(VenueError::Overflow)
        ));
        for side in [Side::Buy, Side::Sell] {
            for a in [Amount::MAX, Amount(i128::MIN), Amount(1)] {
                let _ = c.quote(side, a);
                assert!(
                    c.execute(&mut l, HolderId(2), side, a, Amount::ZERO)
                        .is_err()
                );
            }
        }
        let _ = c.ticks_at_or_above(1e300);
        let _ = c.ticks_at_or_below(f64::NAN);
        check_invariants(&l, &c).unwrap();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Place {
            who: u32,
            buy: bool,
            ticks: u64,
            size: i128,
        },
        Cancel {
            who: u32,
            nth: usize,
        },
        CancelAll {
            who: u32,
        },
        Replace {
            who: u32,
            bids: Vec<(u64, i128)>,
            asks: Vec<(u64, i128)>,
        },
        Take {
            who: u32,
            buy: bool,
            amount: i128,
            min_mode: u8,
        },
    }

    fn size() -> impl Strategy<Value = i128> {
        (0i128..1000, 0u32..11).prop_map(|(m, e)| m * 10i128.pow(e))
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = 1u32..5;
        let ticks = 90u64..130;
        prop_oneof![
            4 => (who.clone(), any::<bool>(), ticks.clone(), size())
                .prop_map(|(who, buy, ticks, size)| Op::Place { who, buy, ticks, size }),
            1 => (who.clone(), 0usize..8).prop_map(|(who, nth)| Op::Cancel { who, nth }),
            1 => who.clone().prop_map(|who| Op::CancelAll { who }),
            2 => (
                who.clone(),
                prop::collection::vec((ticks.clone(), size()), 0..4),
                prop::collection::vec((ticks, size()), 0..4)
            )
                .prop_map(|(who, bids, asks)| Op::Replace { who, bids, asks }),
            4 => (who, any::<bool>(), size(), 0u8..3)
                .prop_map(|(who, buy, amount, min_mode)| Op::Take { who, buy, amount, min_mode }),
        ]
    }

    proptest! {
        /// Random maker and taker operations by several holders: the book never crosses, the
        /// venue's holder holds exactly the resting escrow plus fees, tokens are conserved,
        /// failures change nothing and every trade equals its quote.
        #[test]
        fn random_operations_keep_the_invariants(
            fee_ppm in prop_oneof![Just(0u32), 0u32..5000],
            tick_milli in 1u64..2000,
            ops in prop::collection::vec(op(), 1..150),
        ) {
            let tick = tick_milli as f64 / 1000.0;
            let (mut l, mut c) = setup(4, 5_000, 50, tick, fee_ppm as f64 / 1e6);
            for o in ops {
                let before = (balances(&l), c.clone());
                match o {
                    Op::Place { who, buy, ticks, size } => {
                        let side = if buy { Side::Buy } else { Side::Sell };
                        match c.place(&mut l, HolderId(who), side, ticks, Amount(size)) {
                            Ok(Some(id)) => prop_assert_eq!(c.order(id).unwrap().owner, HolderId(who)),
                            _ => prop_assert_eq!(&(balances(&l), c.clone()), &before),
                        }
                    }
                    Op::Cancel { who, nth } => {
                        let id = c.orders_of(HolderId(who)).nth(nth).map(|o| o.id);
                        let id = id.unwrap_or(OrderId(u64::MAX));
                        let held = c.order(id).map(|o| (o.side, o.escrow));
                        let done = c.cancel(&mut l, HolderId(who), id).unwrap();
                        prop_assert_eq!(done, held.is_some());
                        if let Some((side, escrow)) = held {
                            let (b0, _) = &before;
                            let tok = if side == Side::Buy { 0 } else { 1 };
                            let i = who as usize * 2 + tok;
                            prop_assert_eq!(balances(&l)[i], b0[i] + escrow);
                        }
                    }
                    Op::CancelAll { who } => {
                        let n = c.orders_of(HolderId(who)).count();
                        prop_assert_eq!(c.cancel_all(&mut l, HolderId(who)).unwrap(), n);
                        prop_assert_eq!(c.orders_of(HolderId(who)).count(), 0);
                    }
                    Op::Replace { who, bids, asks } => {
                        let lv = |v: &Vec<(u64, i128)>| v.iter().map(|&(ticks, s)| Level { ticks, size: Amount(s) }).collect::<Vec<_>>();
                        let r = c.replace_quotes(&mut l, HolderId(who), &lv(&bids), &lv(&asks)).unwrap();
                        prop_assert_eq!(r.placed + r.skipped(), bids.len() + asks.len());
                        prop_assert_eq!(c.orders_of(HolderId(who)).count(), r.placed);
                    }
                    Op::Take { who, buy, amount, min_mode } => {
                        let side = if buy { Side::Buy } else { Side::Sell };
                        let q = c.quote(side, Amount(amount));
                        let min_out = match min_mode {
                            0 => Amount::ZERO,
                            1 => q.amount_out,
                            _ => q.amount_out + Amount(1),
                        };
                        match c.execute(&mut l, HolderId(who), side, Amount(amount), min_out) {
                            Ok(f) => {
                                prop_assert_eq!(f, q);
                                prop_assert!(min_mode != 2);
                                prop_assert!(f.amount_in <= Amount(amount));
                                let (b0, c0) = &before;
                                // Unless it traded against its own orders, the taker's
                                // balances moved by exactly the fill.
                                let maker_side = if buy { Side::Sell } else { Side::Buy };
                                let self_trade = c0.orders_of(HolderId(who)).any(|o| o.side == maker_side);
                                let (tin, tout) = if buy { (0, 1) } else { (1, 0) };
                                let b1 = balances(&l);
                                let i = who as usize * 2;
                                if !self_trade {
                                    prop_assert_eq!(b1[i + tin], b0[i + tin] - f.amount_in);
                                    prop_assert_eq!(b1[i + tout], b0[i + tout] + f.amount_out);
                                }
                            }
                            Err(_) => prop_assert_eq!(&(balances(&l), c.clone()), &before),
                        }
                    }
                }
                check_invariants(&l, &c)?;
            }
        }
    }
}
