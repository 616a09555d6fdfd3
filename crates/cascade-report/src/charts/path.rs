//! One run, block by block: what the price did, when accounts were liquidated and why, and
//! what the gas market, the insurance fund and open interest did meanwhile.
//!
//! The run is replayed in memory from the store's manifest (same scenario, seed and run
//! index) with its trace and events on, and must reproduce the stored metric row bit for bit,
//! like `cascade replay`. Liquidations are marked at the oracle price of their block and
//! split by the engine's causal test: *exogenous* (the account would also be liquidatable at
//! the oracle price `p_exo` alone gives, then or later in the run) or *induced* (forced-flow
//! impact caused it). The engine tags a liquidation `exogenous` or `not_exogenous_yet` when it
//! happens and emits `liquidation_exogenous` when the exogenous path later explains one; those
//! never explained are the induced ones (the run's `induced_liquidations`).

use crate::render::*;
use crate::select;
use crate::{ReportError, invalid};
use cascade_core::event::Event;
use cascade_sim::load::Scenario;
use cascade_sim::metrics::MetricRow;
use cascade_sim::store::Store;
use cascade_sim::world::{BlockRecord, World};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One liquidation as charted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liq {
    pub block: u64,
    pub t_min: f64,
    /// The reference asset's oracle price at the end of its block.
    pub price: f64,
    /// Notional (quote).
    pub notional: f64,
    pub induced: bool,
}

/// A ready-to-draw single-run path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathChart {
    pub title: String,
    pub subtitle: String,
    pub asset: String,
    pub quote: String,
    /// Minutes since the start, per block.
    pub t_min: Vec<f64>,
    /// Price lines: label, values per block, dashed.
    pub prices: Vec<(String, Vec<f64>, bool)>,
    pub liqs: Vec<Liq>,
    pub base_fee: Vec<f64>,
    pub insurance: Option<Vec<f64>>,
    pub open_interest: Option<Vec<f64>>,
}

/// A run's trace, events and row, replayed in memory.
pub struct Replay {
    pub records: Vec<BlockRecord>,
    pub events: Vec<Event>,
    pub row: MetricRow,
}

/// Replay run `run` of `scenario` under `seed` with trace and events.
pub fn replay(scenario: &Scenario, seed: u64, run: u64) -> Result<Replay, ReportError> {
    let mut w = World::new(scenario, seed, run).map_err(|e| ReportError::Sim(e.to_string()))?;
    w.enable_trace();
    w.enable_events();
    let mut events = Vec::new();
    while w.running() {
        w.step().map_err(ReportError::Sim)?;
        events.extend(w.drain_events());
    }
    Ok(Replay {
        row: w.metrics(),
        records: w.take_trace(),
        events,
    })
}

/// Liquidations of a replay with their final classification.
pub fn liquidations(records: &[BlockRecord], events: &[Event], asset: usize) -> Vec<Liq> {
    let mut liqs: Vec<(Liq, Option<u32>)> = Vec::new();
    for e in events {
        if let Event::Liquidation {
            block,
            account,
            notional,
            cause,
            ..
        } = e
        {
            let rec = records.binary_search_by_key(block, |r| r.block).ok();
            let (t_min, price) = rec
                .map(|i| (records[i].t_s / 60.0, records[i].oracle[asset]))
                .unwrap_or((f64::NAN, f64::NAN));
            liqs.push((
                Liq {
                    block: *block,
                    t_min,
                    price,
                    notional: notional.to_whole(),
                    induced: cause != "exogenous",
                },
                Some(account.0),
            ));
            continue;
        }
        let Event::Engine {
            kind,
            account,
            value,
            ..
        } = e
        else {
            continue;
        };
        // The final word on a `not_exogenous_yet` liquidation: `value` is its block.
        if kind == "liquidation_exogenous" {
            let at = *value as u64;
            if let Some(l) = liqs
                .iter_mut()
                .find(|(l, a)| l.induced && l.block == at && *a == account.map(|a| a.0))
            {
                l.0.induced = false;
            }
        }
    }
    liqs.into_iter().map(|(l, _)| l).collect()
}

/// The chart of a replayed run.
pub fn from_replay(scenario: &Scenario, rp: &Replay, title: String, subtitle: String) -> PathChart {
    let cfg = &scenario.config;
    let a = cfg.reference_asset().index();
    let asset = cfg
        .assets
        .get(a)
        .map(|x| x.name.clone())
        .unwrap_or_default();
    let r = &rp.records;
    let col = |f: &dyn Fn(&BlockRecord) -> f64| r.iter().map(f).collect::<Vec<f64>>();
    let mut prices = vec![
        ("p_exo (exogenous)".to_string(), col(&|b| b.p_exo[a]), true),
        (
            "p_ref (with impact)".to_string(),
            col(&|b| b.p_ref[a]),
            false,
        ),
        ("oracle".to_string(), col(&|b| b.oracle[a]), false),
    ];
    for (v, vc) in cfg.onchain_venues().enumerate() {
        if vc.asset() == asset {
            prices.push((
                format!("venue {}", vc.name()),
                col(&|b| b.venue_price.get(v).copied().unwrap_or(f64::NAN)),
                false,
            ));
        }
    }
    let opt =
        |f: &dyn Fn(&BlockRecord) -> Option<f64>| -> Option<Vec<f64>> { r.iter().map(f).collect() };
    PathChart {
        title,
        subtitle,
        asset,
        quote: cfg.quote.clone(),
        t_min: col(&|b| b.t_s / 60.0),
        prices,
        liqs: liquidations(r, &rp.events, a),
        base_fee: col(&|b| b.base_fee_gwei),
        insurance: opt(&|b| b.insurance_fund),
        open_interest: opt(&|b| b.open_interest),
    }
}

/// Replay point `point`, run `run` of a store and chart it.
pub fn build(store: &Store, point: u64, run: u64) -> Result<PathChart, ReportError> {
    let m = &store.manifest;
    if point >= store.points() {
        return Err(invalid(format!(
            "--point {point}: the sweep has points 0..{} (0 to {})",
            store.points(),
            store.points().saturating_sub(1)
        )));
    }
    if run >= m.runs {
        return Err(invalid(format!(
            "--run {run}: the sweep has runs 0..{} per point (0 to {})",
            m.runs,
            m.runs.saturating_sub(1)
        )));
    }
    let stored = store.row(point, run)?;
    let scenario = store.point_scenario(point)?;
    let rp = replay(&scenario, m.seed, run)?;
    let same = rp.row.0.len() == stored.0.len()
        && rp
            .row
            .0
            .iter()
            .zip(&stored.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if !same {
        return Err(ReportError::Sim(format!(
            "the replay of point {point}, run {run} does not reproduce the stored row (was the store written by another cascade version?)"
        )));
    }
    let params = select::point_labels(store)?
        .get(point as usize)
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| rp.row.get(k).unwrap_or(f64::NAN);
    let title = format!("Point {point}, run {run}: price path and liquidations");
    let mut sub = Vec::new();
    if !params.is_empty() {
        sub.push(params);
    }
    sub.push(format!(
        "{} liquidations ({} induced) · bad debt {} {} · cascade amplification {:.3}",
        get("liquidations"),
        get("induced_liquidations"),
        fmt_num(get("bad_debt")),
        scenario.config.quote,
        get("cascade_amplification")
    ));
    Ok(from_replay(&scenario, &rp, title, sub.join(" · ")))
}

/// Liquidated notional per block: (t, exogenous, induced).
fn per_block(liqs: &[Liq]) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for l in liqs {
        match out.last_mut() {
            Some(last) if last.0 == l.t_min => {
                if l.induced {
                    last.2 += l.notional
                } else {
                    last.1 += l.notional
                }
            }
            _ => out.push(if l.induced {
                (l.t_min, 0.0, l.notional)
            } else {
                (l.t_min, l.notional, 0.0)
            }),
        }
    }
    out
}

const EXO: RGBColor = RGBColor(0, 114, 178);
const INDUCED: RGBColor = RGBColor(213, 94, 0);

/// Draw one time-series panel of `series` (label, values, colour, dashed).
#[allow(clippy::too_many_arguments)]
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    t: &[f64],
    (tlo, thi): (f64, f64),
    y_desc: &str,
    series: &[(&str, &[f64], RGBColor, bool)],
    x_desc: Option<&str>,
    floor_zero: bool,
) -> Result<(), ReportError> {
    let (a, b) =
        finite_range(series.iter().flat_map(|s| s.1.iter().copied())).unwrap_or((0.0, 1.0));
    let (lo, hi) = padded(if floor_zero { a.min(0.0) } else { a }, b, 0.06);
    let lo = if floor_zero && a >= 0.0 {
        lo.max(0.0)
    } else {
        lo
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(16)
        .margin_right(24)
        .margin_top(8)
        .x_label_area_size(if x_desc.is_some() { 52 } else { 26 })
        .y_label_area_size(96)
        .build_cartesian_2d(tlo..thi, lo..hi)
        .dr()?;
    chart
        .configure_mesh()
        .x_desc(x_desc.unwrap_or(""))
        .y_desc(y_desc)
        .x_labels(12)
        .y_labels(5)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_tick(*v, lo, hi))
        .axis_desc_style(text(LABEL_PX - 2.0))
        .label_style(text(TICK_PX - 1.0))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .dr()?;
    if a == b {
        let label = format!(
            "{} constant at {}",
            series.first().map_or("", |s| s.0),
            fmt_num(a)
        );
        chart
            .draw_series(std::iter::once(
                EmptyElement::at(((tlo + thi) / 2.0, a))
                    + Text::new(
                        label,
                        (0, -24),
                        text(TICK_PX).pos(Pos::new(HPos::Center, VPos::Center)),
                    ),
            ))
            .dr()?;
    }
    for (_, v, c, dashed) in series {
        let pts: Vec<(f64, f64)> = t
            .iter()
            .copied()
            .zip(v.iter().copied())
            .filter(|p| p.1.is_finite())
            .collect();
        if *dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 8, 5, c.stroke_width(2)))
                .dr()?;
        } else {
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .dr()?;
        }
    }
    Ok(())
}

impl Figure for PathChart {
    fn size(&self) -> (u32, u32) {
        (1300, 1400)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (w, h) = body.dim_in_pixel();
        let (main, legend) = body.split_horizontally(w - 250);
        let trange = finite_range(self.t_min.iter().copied()).unwrap_or((0.0, 1.0));
        let trange = if trange.1 > trange.0 {
            trange
        } else {
            padded(trange.0, trange.1, 0.0)
        };
        let mut heights = vec![h * 34 / 100, h * 15 / 100, h * 15 / 100];
        let extra = [self.insurance.is_some(), self.open_interest.is_some()];
        for e in extra {
            if e {
                heights.push(h * 15 / 100);
            }
        }
        let used: u32 = heights.iter().sum();
        if let Some(first) = heights.first_mut() {
            *first += h.saturating_sub(used);
        }
        let mut areas = Vec::new();
        let mut rest = main.clone();
        for (i, hh) in heights.iter().enumerate() {
            if i + 1 == heights.len() {
                areas.push(rest.clone());
            } else {
                let (a, b) = rest.split_vertically(*hh);
                areas.push(a);
                rest = b;
            }
        }
        let last = areas.len() - 1;
        let xd = |i: usize| (i == last).then_some("time since start (minutes)");
        // 1. Prices with liquidation marks.
        let price_series: Vec<(&str, &[f64], RGBColor, bool)> = self
            .prices
            .iter()
            .enumerate()
            .map(|(i, (l, v, d))| {
                let c = match i {
                    0 => GREY,
                    1 => BLACK,
                    2 => RGBColor(0, 158, 115),
                    k => color(k + 1),
                };
                (l.as_str(), v.as_slice(), c, *d)
            })
            .collect();
        let y_desc = format!("{} price ({})", self.asset, self.quote);
        {
            let all = price_series
                .iter()
                .flat_map(|s| s.1.iter().copied())
                .chain(self.liqs.iter().map(|l| l.price));
            let (a, b) = finite_range(all).unwrap_or((0.0, 1.0));
            let (lo, hi) = padded(a, b, 0.06);
            let mut chart = ChartBuilder::on(&areas[0])
                .margin_left(16)
                .margin_right(24)
                .margin_top(8)
                .x_label_area_size(26)
                .y_label_area_size(96)
                .build_cartesian_2d(trange.0..trange.1, lo..hi)
                .dr()?;
            chart
                .configure_mesh()
                .y_desc(y_desc.as_str())
                .x_labels(12)
                .y_labels(7)
                .x_label_formatter(&|v| fmt_num(*v))
                .y_label_formatter(&|v| fmt_tick(*v, lo, hi))
                .axis_desc_style(text(LABEL_PX - 2.0))
                .label_style(text(TICK_PX - 1.0))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(220, 220, 220))
                .draw()
                .dr()?;
            for (_, v, c, dashed) in &price_series {
                let pts: Vec<(f64, f64)> = self
                    .t_min
                    .iter()
                    .copied()
                    .zip(v.iter().copied())
                    .filter(|p| p.1.is_finite())
                    .collect();
                if *dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 8, 5, c.stroke_width(2)))
                        .dr()?;
                } else {
                    chart
                        .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                        .dr()?;
                }
            }
            let ok = |l: &&Liq| l.t_min.is_finite() && l.price.is_finite();
            chart
                .draw_series(
                    self.liqs
                        .iter()
                        .filter(ok)
                        .filter(|l| !l.induced)
                        .map(|l| Circle::new((l.t_min, l.price), 5, EXO.mix(0.75).filled())),
                )
                .dr()?;
            chart
                .draw_series(self.liqs.iter().filter(ok).filter(|l| l.induced).map(|l| {
                    TriangleMarker::new((l.t_min, l.price), 7, INDUCED.mix(0.85).filled())
                }))
                .dr()?;
        }
        // 2. Liquidated notional per block, exogenous below induced.
        {
            let bars = per_block(&self.liqs);
            let top = bars.iter().map(|b| b.1 + b.2).fold(0.0f64, f64::max);
            let hi = if top > 0.0 { top * 1.1 } else { 1.0 };
            let mut chart = ChartBuilder::on(&areas[1])
                .margin_left(16)
                .margin_right(24)
                .margin_top(8)
                .x_label_area_size(26)
                .y_label_area_size(96)
                .build_cartesian_2d(trange.0..trange.1, 0.0..hi)
                .dr()?;
            let desc = format!("liquidated ({}/block)", self.quote);
            chart
                .configure_mesh()
                .y_desc(desc.as_str())
                .x_labels(12)
                .y_labels(4)
                .x_label_formatter(&|v| fmt_num(*v))
                .y_label_formatter(&|v| fmt_num(*v))
                .axis_desc_style(text(LABEL_PX - 2.0))
                .label_style(text(TICK_PX - 1.0))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(220, 220, 220))
                .draw()
                .dr()?;
            // Bars one block wide (at least 2 px).
            let dt = self
                .t_min
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|d| *d > 0.0)
                .fold(f64::INFINITY, f64::min);
            let (pw, _) = areas[1].dim_in_pixel();
            let min_w = (trange.1 - trange.0) * 2.0 / pw.max(1) as f64;
            let bw = if dt.is_finite() { dt.max(min_w) } else { min_w };
            chart
                .draw_series(bars.iter().filter(|b| b.1 > 0.0).map(|b| {
                    Rectangle::new([(b.0 - bw / 2.0, 0.0), (b.0 + bw / 2.0, b.1)], EXO.filled())
                }))
                .dr()?;
            chart
                .draw_series(bars.iter().filter(|b| b.2 > 0.0).map(|b| {
                    Rectangle::new(
                        [(b.0 - bw / 2.0, b.1), (b.0 + bw / 2.0, b.1 + b.2)],
                        INDUCED.filled(),
                    )
                }))
                .dr()?;
        }
        // 3. Base fee, 4. insurance fund, 5. open interest.
        panel(
            &areas[2],
            &self.t_min,
            trange,
            "base fee (gwei)",
            &[("base fee", &self.base_fee, color(3), false)],
            xd(2),
            true,
        )?;
        let mut k = 3;
        if let Some(f) = &self.insurance {
            let d = format!("insurance fund ({})", self.quote);
            panel(
                &areas[k],
                &self.t_min,
                trange,
                &d,
                &[("insurance fund", f, color(2), false)],
                xd(k),
                true,
            )?;
            k += 1;
        }
        if let Some(oi) = &self.open_interest {
            let d = format!("open interest ({})", self.quote);
            panel(
                &areas[k],
                &self.t_min,
                trange,
                &d,
                &[("open interest", oi, color(0), false)],
                xd(k),
                true,
            )?;
        }
        // Legend.
        let mut entries: Vec<LegendEntry> = price_series
            .iter()
            .map(|(l, _, c, d)| LegendEntry {
                label: l.to_string(),
                color: *c,
                swatch: Swatch::Line {
                    width: 3,
                    dashed: *d,
                },
            })
            .collect();
        let n_exo = self.liqs.iter().filter(|l| !l.induced).count();
        let n_ind = self.liqs.len() - n_exo;
        entries.push(LegendEntry {
            label: format!("exogenous liq. ({n_exo})"),
            color: EXO,
            swatch: Swatch::Dot,
        });
        entries.push(LegendEntry {
            label: format!("induced liq. ({n_ind})"),
            color: INDUCED,
            swatch: Swatch::Triangle,
        });
        draw_legend(&legend.margin(20, 0, 0, 0), "", &entries)?;
        let (_, lh) = legend.dim_in_pixel();
        let note_y = (areas[0].dim_in_pixel().1 + areas[1].dim_in_pixel().1) as i32;
        if (note_y as u32) < lh {
            draw_legend(
                &legend.margin(note_y as u32 - 90, 0, 0, 0),
                "per block",
                &[
                    LegendEntry {
                        label: "exogenous".into(),
                        color: EXO,
                        swatch: Swatch::Square,
                    },
                    LegendEntry {
                        label: "induced".into(),
                        color: INDUCED,
                        swatch: Swatch::Square,
                    },
                ],
            )?;
        }
        Ok(())
    }
}
