//! The branching estimate of a deleveraging spiral: from the density of liquidation prices and
//! the impact per unit sold, how much of a leveraged book a shock liquidates, and the market
//! depth below which the spiral runs through the book.
//!
//! Why it exists: a simulated threshold (`configs/sweeps/spiral_threshold.toml`) means little
//! without a prediction made from the configuration alone. The prediction is a static
//! fixed point, with no agents, gas or blocks: a long perp of base size `b`, leverage `L` and
//! maintenance ratio `mm`, opened at `p0`, is liquidatable once the price is below
//! `p0 (1 - 1/L) / (1 - mm)`, i.e. once the log drop `y = ln(p0 / p)` exceeds
//! `y_L = -ln((1 - 1/L) / (1 - mm))`. `B(y)`, the base size whose liquidation drop is at most
//! `y`, is the book's cumulative liquidation-price density. Every liquidated position is sold
//! on the market where the price forms; selling `Q` base units in all moves the log price by
//! the impact `x(Q)` (`sqrt(2 Q / L_depth)` on a reference market's latent book, `k Q` for a
//! linear impact). After an exogenous log drop `s` the liquidated size is the least fixed
//! point of `Q = B(s + x(Q))`, reached by iterating from `Q_0 = B(s)`: each iteration is a
//! generation of the cascade. The mean offspring of one unit sold is `m(Q) = n(y) x'(Q)`
//! (`n = dB/dy`, the density at the current drop): the cascade stops where the map meets the
//! diagonal with `m <= 1`, and it runs through the book when `B(s + x(Q)) > Q` for every `Q`
//! short of the whole book. Because `B(s + x(Q))` falls as the depth grows, the liquidated
//! share falls with the depth, so the depth at which it crosses a given share is found by
//! bisection ([`critical_depth`]).
//!
//! What it leaves out (see docs/model.md, "Deleveraging spirals"): the book's resilience
//! during the cascade, the oracle's deviation threshold (the engine sees `p_ref` up to that
//! fraction late), gas paid out of the margin, and the discreteness of blocks (it predicts
//! where the cascade ends, not how fast).

use crate::ScenarioConfig;
use cascade_agents::config::AgentConfig;
use cascade_engine::config::MarginModel;

/// A book of long perps as its liquidation-price distribution: cells of (log drop at which
/// they become liquidatable, base size, number of positions), sorted by the drop.
#[derive(Debug, Clone, PartialEq)]
pub struct LeveredBook {
    drops: Vec<f64>,
    /// Cumulative base size up to and including each cell.
    cum_size: Vec<f64>,
    /// Cumulative number of positions up to and including each cell.
    cum_count: Vec<f64>,
}

/// How selling moves the log price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Impact {
    /// A reference market's latent book of slope `depth` (`L`, base units per unit squared log
    /// price): `x(Q) = sqrt(2 Q / L)`.
    Sqrt { depth: f64 },
    /// A linear impact: `x(Q) = per_unit * Q`.
    Linear { per_unit: f64 },
}

impl Impact {
    /// The log-price drop after `q` base units sold.
    pub fn drop(&self, q: f64) -> f64 {
        match *self {
            Impact::Sqrt { depth } => (2.0 * q.max(0.0) / depth).sqrt(),
            Impact::Linear { per_unit } => per_unit * q.max(0.0),
        }
    }

    /// `dx/dQ` at `q` sold (infinite at 0 under the square-root law).
    pub fn slope(&self, q: f64) -> f64 {
        match *self {
            Impact::Sqrt { depth } => 1.0 / (2.0 * q.max(0.0) * depth).sqrt(),
            Impact::Linear { per_unit } => per_unit,
        }
    }
}

/// Where the fixed-point cascade ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpiralOutcome {
    /// Base size liquidated (and sold), `Q`.
    pub sold: f64,
    /// `Q` over the book's total base size.
    pub share: f64,
    /// Positions liquidated over all positions.
    pub count_share: f64,
    /// Final log drop of the price, `s + x(Q)`.
    pub drop: f64,
    /// Base size the shock alone liquidates, `B(s)`.
    pub exogenous: f64,
    /// Iterations of the map that added size (the cascade's generations after the shock's).
    pub generations: u32,
}

impl LeveredBook {
    /// `count` long perps, each with margin `margin` (quote) at a leverage uniform on
    /// `[lev_min, lev_max]`, opened at `p0`, maintenance ratio `mm`: the size of a position
    /// is `margin L / p0`. The leverage range is cut into `cells` equal cells, each at its
    /// midpoint. `lev_min == lev_max` gives one cell.
    pub fn uniform_long_perps(
        count: f64,
        margin: f64,
        lev_min: f64,
        lev_max: f64,
        mm: f64,
        p0: f64,
        cells: usize,
    ) -> LeveredBook {
        LeveredBook::from_cells(uniform_cells(
            count, margin, lev_min, lev_max, mm, p0, cells,
        ))
    }

    /// From `(drop, base size, positions)` cells in any order.
    pub fn from_cells(mut cells: Vec<(f64, f64, f64)>) -> LeveredBook {
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut s, mut n) = (0.0, 0.0);
        let mut book = LeveredBook {
            drops: Vec::with_capacity(cells.len()),
            cum_size: Vec::with_capacity(cells.len()),
            cum_count: Vec::with_capacity(cells.len()),
        };
        for (y, b, c) in cells {
            s += b;
            n += c;
            book.drops.push(y);
            book.cum_size.push(s);
            book.cum_count.push(n);
        }
        book
    }

    /// The book a scenario's trader populations open at `p0`: every `kind = "trader"` group
    /// must hold only long perps (`perp_share = 1`, `long_prob = 1`) and put its whole
    /// `capital` up as margin (`size_mean >= capital x leverage_max`); the engine's margin must
    /// be `fixed`. Gas paid out of the margin is left out.
    pub fn from_scenario(cfg: &ScenarioConfig, p0: f64, cells: usize) -> Result<Self, String> {
        let mm = match cfg.engine.as_ref().map(|e| &e.margin) {
            Some(MarginModel::Fixed { maintenance, .. }) => *maintenance,
            _ => return Err("the estimate needs engine.margin kind = \"fixed\"".into()),
        };
        let mut all = Vec::new();
        for (i, a) in cfg.agents.iter().enumerate() {
            let AgentConfig::Trader(t) = a else { continue };
            if t.perp_share != 1.0 || t.long_prob != 1.0 {
                return Err(format!(
                    "agents.{i}: the estimate covers long perps only (perp_share = 1, long_prob = 1)"
                ));
            }
            if t.habits != cascade_agents::trader::Habits::Mechanical {
                return Err(format!(
                    "agents.{i}: the estimate covers holders who do not pre-empt their \
                     liquidation (habits = \"mechanical\")"
                ));
            }
            let components = t.leverage_components();
            let total: f64 = components.iter().map(|k| k.weight).sum();
            let lev_max = components.iter().map(|k| k.max).fold(1.0, f64::max);
            if t.size_mean < t.capital * lev_max {
                return Err(format!(
                    "agents.{i}: the estimate needs the wallet to bind (size_mean >= capital x leverage_max)"
                ));
            }
            // A mixture's components are populations of `count * weight / total` traders.
            for k in &components {
                all.extend(uniform_cells(
                    t.count as f64 * k.weight / total,
                    t.capital,
                    k.min,
                    k.max,
                    mm,
                    p0,
                    cells,
                ));
            }
        }
        if all.is_empty() {
            return Err("the scenario has no trader population".into());
        }
        Ok(LeveredBook::from_cells(all))
    }

    /// Total base size.
    pub fn total(&self) -> f64 {
        self.cum_size.last().copied().unwrap_or(0.0)
    }

    /// Number of positions.
    pub fn positions(&self) -> f64 {
        self.cum_count.last().copied().unwrap_or(0.0)
    }

    /// Cells with a liquidation drop at most `y`.
    fn cells_within(&self, y: f64) -> usize {
        self.drops.partition_point(|&d| d <= y)
    }

    /// `B(y)`: base size liquidatable at a log drop of `y`.
    pub fn size_within(&self, y: f64) -> f64 {
        match self.cells_within(y) {
            0 => 0.0,
            k => self.cum_size[k - 1],
        }
    }

    /// Positions liquidatable at a log drop of `y`.
    pub fn count_within(&self, y: f64) -> f64 {
        match self.cells_within(y) {
            0 => 0.0,
            k => self.cum_count[k - 1],
        }
    }

    /// The smallest and largest liquidation drop.
    pub fn drop_range(&self) -> (f64, f64) {
        (
            self.drops.first().copied().unwrap_or(f64::NAN),
            self.drops.last().copied().unwrap_or(f64::NAN),
        )
    }

    /// `n(y) = dB/dy`, a centred difference over `2 h`.
    pub fn density(&self, y: f64, h: f64) -> f64 {
        (self.size_within(y + h) - self.size_within(y - h)) / (2.0 * h)
    }
}

/// The cells of [`LeveredBook::uniform_long_perps`].
fn uniform_cells(
    count: f64,
    margin: f64,
    lev_min: f64,
    lev_max: f64,
    mm: f64,
    p0: f64,
    cells: usize,
) -> Vec<(f64, f64, f64)> {
    let cells = if lev_max > lev_min { cells.max(1) } else { 1 };
    let w = (lev_max - lev_min) / cells as f64;
    (0..cells)
        .map(|k| {
            let lev = lev_min + (k as f64 + 0.5) * w;
            let n = count / cells as f64;
            (liquidation_drop(lev, mm), n * margin * lev / p0, n)
        })
        .collect()
}

/// `y_L = -ln((1 - 1/L) / (1 - mm))`: the log drop at which a long perp at leverage `L`
/// reaches maintenance ratio `mm`.
pub fn liquidation_drop(lev: f64, mm: f64) -> f64 {
    -((1.0 - 1.0 / lev) / (1.0 - mm)).ln()
}

/// The cascade after an exogenous log drop `shock`: the least fixed point of
/// `Q = B(shock + x(Q))`, iterated from `B(shock)`.
pub fn spiral(book: &LeveredBook, shock: f64, impact: Impact) -> SpiralOutcome {
    let exogenous = book.size_within(shock);
    let mut q = exogenous;
    let mut generations = 0;
    // B is a step function of finitely many cells, so the non-decreasing sequence stops
    // after at most one step per cell.
    loop {
        let next = book.size_within(shock + impact.drop(q));
        if next <= q {
            break;
        }
        q = next;
        generations += 1;
    }
    let drop = shock + impact.drop(q);
    let total = book.total();
    SpiralOutcome {
        sold: q,
        share: if total > 0.0 { q / total } else { 0.0 },
        count_share: if book.positions() > 0.0 {
            book.count_within(drop) / book.positions()
        } else {
            0.0
        },
        drop,
        exogenous,
        generations,
    }
}

/// The mean offspring of one base unit sold with `q` sold after a log drop `shock`:
/// `m = n(y) x'(q)`, the density at the current drop `y = shock + x(q)` (a centred difference
/// over `2 h`) times the impact's slope.
pub fn offspring(book: &LeveredBook, shock: f64, impact: Impact, q: f64, h: f64) -> f64 {
    book.density(shock + impact.drop(q), h) * impact.slope(q)
}

/// The reference-market depth `L` (square-root impact) at which the predicted liquidated
/// count share crosses `share`, by bisection in `ln L` on `[lo, hi]` (the share falls as the
/// depth grows). `None` when the share at `lo` is below `share` or the share at `hi` above it.
pub fn critical_depth(book: &LeveredBook, shock: f64, share: f64, lo: f64, hi: f64) -> Option<f64> {
    let at = |l: f64| spiral(book, shock, Impact::Sqrt { depth: l }).count_share;
    if at(lo) < share || at(hi) >= share {
        return None;
    }
    let (mut a, mut b) = (lo.ln(), hi.ln());
    for _ in 0..100 {
        let m = 0.5 * (a + b);
        if at(m.exp()) >= share {
            a = m;
        } else {
            b = m;
        }
    }
    Some((0.5 * (a + b)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> LeveredBook {
        LeveredBook::uniform_long_perps(200.0, 2000.0, 6.0, 10.0, 0.05, 2000.0, 4000)
    }

    #[test]
    fn liquidation_drop_is_where_equity_meets_maintenance() {
        // margin + b (p - p0) = mm b p with margin = b p0 / L.
        let (lev, mm, p0) = (8.0, 0.05, 2000.0);
        let p = p0 * (-liquidation_drop(lev, mm)).exp();
        let b = 1.0;
        let equity = b * p0 / lev + b * (p - p0);
        assert!(
            (equity - mm * b * p).abs() < 1e-9,
            "{equity} vs {}",
            mm * b * p
        );
    }

    #[test]
    fn the_book_adds_up() {
        let b = book();
        // Mean leverage 8: 200 x 2000 x 8 / 2000 = 1600 base units.
        assert!((b.total() - 1600.0).abs() < 1e-6, "{}", b.total());
        assert!((b.positions() - 200.0).abs() < 1e-9);
        let (top, bottom) = b.drop_range();
        assert!((top - liquidation_drop(10.0, 0.05)).abs() < 1e-3);
        assert!((bottom - liquidation_drop(6.0, 0.05)).abs() < 1e-3);
        assert_eq!(b.size_within(top - 1e-6), 0.0);
        assert_eq!(b.size_within(bottom), b.total());
        // Closed form: B(y) = count margin (lmax^2 - L(y)^2) / (2 (lmax - lmin) p0).
        let y: f64 = 0.08;
        let l_y = 1.0 / (1.0 - 0.95 * (-y).exp());
        let exact = 200.0 * 2000.0 * (100.0 - l_y * l_y) / (2.0 * 4.0 * 2000.0);
        assert!(
            (b.size_within(y) - exact).abs() < 0.5,
            "{} vs {exact}",
            b.size_within(y)
        );
    }

    /// Under a linear impact and a uniform density `n` the cascade is a branching process
    /// with a constant mean offspring `m = n k`: below 1 it liquidates `Q0 / (1 - m)`
    /// (the geometric sum of generations), at or above 1 the whole book.
    #[test]
    fn linear_impact_on_a_uniform_density_is_a_galton_watson_sum() {
        let cells: Vec<(f64, f64, f64)> = (0..10_000)
            .map(|i| (0.01 + 1e-5 * i as f64, 0.1, 1.0))
            .collect();
        let b = LeveredBook::from_cells(cells); // n = 0.1 / 1e-5 = 10,000 per unit drop
        let shock = 0.02; // Q0 = 0.1 x 1,000 cells = 100
        for m in [0.3, 0.5, 0.8] {
            let out = spiral(
                &b,
                shock,
                Impact::Linear {
                    per_unit: m / 10_000.0,
                },
            );
            let expected = 100.0 / (1.0 - m);
            assert!(
                (out.sold - expected).abs() < 0.02 * expected,
                "m = {m}: {} vs {expected}",
                out.sold
            );
            let got = offspring(
                &b,
                shock,
                Impact::Linear {
                    per_unit: m / 10_000.0,
                },
                out.sold,
                1e-3,
            );
            assert!((got - m).abs() < 0.01, "{got} vs {m}");
        }
        let out = spiral(
            &b,
            shock,
            Impact::Linear {
                per_unit: 1.05 / 10_000.0,
            },
        );
        assert_eq!(out.share, 1.0);
    }

    #[test]
    fn a_shock_short_of_the_book_liquidates_nothing() {
        let b = book();
        let out = spiral(&b, 0.03, Impact::Sqrt { depth: 1e3 });
        assert_eq!((out.sold, out.generations), (0.0, 0));
    }

    #[test]
    fn the_share_falls_with_depth_and_the_critical_depth_is_where_it_crosses() {
        let b = book();
        let shock = -(0.94f64).ln();
        let mut last = 1.0;
        for k in 0..40 {
            let l = 1e4 * 10f64.powf(k as f64 / 10.0);
            let s = spiral(&b, shock, Impact::Sqrt { depth: l }).count_share;
            assert!(s <= last + 1e-12, "share rose with depth at {l}");
            last = s;
        }
        let l = critical_depth(&b, shock, 0.5, 1e3, 1e9).unwrap();
        let below = spiral(&b, shock, Impact::Sqrt { depth: l * 0.99 }).count_share;
        let above = spiral(&b, shock, Impact::Sqrt { depth: l * 1.01 }).count_share;
        assert!(below >= 0.5 && above < 0.5, "{below} {above}");
        // A bracket that does not straddle the crossing has no answer.
        assert!(critical_depth(&b, shock, 0.5, 1e3, 1e4).is_none());
    }
}
