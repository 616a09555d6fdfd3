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
use cascade_core::{Amount, AssetId, HolderId, Ledger, LedgerError, OrderId, Side, TokenId};
use std::collections::{BTreeMap, VecDeque};

mod math;
use math::{level_total, match_order, quote_ceil, snap_ticks, walk};

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
mod tests;
