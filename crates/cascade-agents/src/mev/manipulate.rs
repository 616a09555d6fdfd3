//! TWAP manipulation: when the engine reads a constant-product pool's TWAP, the bot plans a
//! campaign of pushes that crosses accounts' liquidation prices, prices each push (hedged at
//! `p_ref`, gas included) and runs it only while its expected profit beats waiting. Every
//! pool trade the bot makes is offset on the off-chain market, so where the asset's price forms
//! on a reference market the pushes and the unwind are valued at the hedge's impacted average
//! price (`arbitrageur::hedge_value`, the arbitrageur's own rule), not at `p_ref`.

use super::*;
use cascade_market::price::PriceModel;

/// The gain of a pool trade the bot offsets off chain: at the hedge's average price on the
/// asset's reference market (impact and fee) when it has one, else at `p` (`p_ref`).
fn offset_gain(
    prices: Option<&PriceModel>,
    a: usize,
    p: f64,
    side: Side,
    amount_in: Amount,
    amount_out: Amount,
) -> Amount {
    match prices {
        Some(pm) if pm.has_reference(a) => {
            crate::arbitrageur::hedge_value(pm, a, side, amount_in, amount_out).0
        }
        _ => crate::arbitrageur::value_gain(side, amount_in, amount_out, p),
    }
}

/// The unwind of the last push: the pool trade back to `p` (`p_ref`) and its gain net of the
/// offset (`offset_gain`), before gas: `(side, amount_in, amount_out, gain)`.
fn unwind_trade(
    pool: &cascade_market::venue::Cpmm,
    prices: Option<&PriceModel>,
    a: usize,
    p: f64,
) -> Option<(Side, Amount, Amount, f64)> {
    let (side, amount) = pool.arb_trade_to(p)?;
    let out = pool.quote(side, amount).amount_out;
    let gain = offset_gain(prices, a, p, side, amount, out).to_whole();
    Some((side, amount, out, gain))
}

impl MevBot {
    /// What liquidating `id` at `prices` is worth to the bot (whole quote, before gas): the
    /// better of keeping the seized collateral (worth `p_ref`, paying from its own quote, at
    /// most `budget`) and selling it on a venue inside the transaction. Returns the value, the
    /// venue to sell on (`None`: keep) and the quote it must hold.
    fn liquidation_value(
        &self,
        view: &View<'_>,
        engine: &Engine,
        id: cascade_core::AccountId,
        prices: &[f64],
        budget: f64,
    ) -> Option<(f64, Option<VenueId>, f64)> {
        let plan = engine.plan_liquidation_at(id, prices).ok()?;
        let bonus = plan.perp_bonus.to_whole();
        let pay = plan.pay.to_whole();
        match plan.asset {
            Some(a) if plan.seize.is_positive() => {
                let keep = (pay <= budget).then(|| {
                    (
                        plan.seize.to_whole() * view.p_ref[a] - pay + bonus,
                        None,
                        pay,
                    )
                });
                let sale = self
                    .best_sale(view, a, plan.seize)
                    .map(|(v, q)| (q.to_whole() - pay + bonus, Some(v), 0.0));
                match (keep, sale) {
                    (Some(k), Some(s)) => Some(if s.0 > k.0 { s } else { k }),
                    (k, s) => k.or(s),
                }
            }
            _ => (pay <= budget).then_some((bonus - pay, None, pay.max(0.0))),
        }
    }

    /// Strategy 0: liquidate what the engine's price already allows (a private bundle, first
    /// in the block), buy back the last push when the campaign is over, and push the pool
    /// again when the best campaign pays.
    pub(super) fn manipulate(
        &mut self,
        view: &View<'_>,
        engine: &Engine,
        targeted: &mut Vec<cascade_core::AccountId>,
        out: &mut Vec<Submission>,
    ) {
        let prices = engine.prices();
        // Under the legacy flag the bot sees nothing it could push towards; under proofs it
        // plans only on public accounts (`View::public_health_at`).
        let private = engine.config().privacy == cascade_engine::Privacy::HiddenHealth;
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let mut budget = view.balance(self.holder, TokenId::QUOTE).to_whole();
        let mut items: Vec<BundleRequest> = Vec::new();

        // Harvest: accounts liquidatable now (with privacy, only those the protocol flagged).
        let now: Vec<cascade_core::AccountId> = view.public_liquidatable();
        let mut harvest: Vec<(f64, cascade_core::AccountId, Option<VenueId>, f64)> = now
            .iter()
            .filter_map(|&id| {
                let (v, sell_on, need) =
                    self.liquidation_value(view, engine, id, prices, budget)?;
                let net = (1.0 - self.cfg.bid_share) * (v - gas_liq);
                (net > self.cfg.min_profit).then_some((v, id, sell_on, need))
            })
            .collect();
        harvest.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        for (v, id, sell_on, need) in harvest.into_iter().take(MAX_HARVEST) {
            if need > budget {
                continue;
            }
            budget -= need;
            targeted.push(id);
            items.push(BundleRequest::Own(view.request(
                Action::Engine(EngineOp::Liquidate {
                    account: id,
                    sell_on,
                    min_profit: Amount::ZERO,
                }),
                self.tip_for(view, GasKind::Liquidation, v - gas_liq),
                None,
                true,
            )));
        }

        for a in 0..view.p_ref.len() {
            let Some(src) = view.twap_oracles.get(a).copied().flatten() else {
                continue;
            };
            if !self.venues.contains(&src.venue) {
                continue;
            }
            let Some(pool) = view.venues.get(src.venue.index()).and_then(|v| v.as_cpmm()) else {
                continue;
            };
            let campaign = if private {
                None
            } else {
                self.plan_campaign(view, engine, a, src, pool, &now, budget)
            };
            let p = view.p_ref[a];
            if let Some(c) = campaign {
                let min_out = c.amount_out.scale_floor(1.0 - PUSH_SLIPPAGE);
                out.push(Submission::Tx(view.request(
                    Action::Swap {
                        venue: src.venue,
                        side: c.side,
                        amount_in: c.amount_in,
                        min_out,
                    },
                    self.push_tip,
                    None,
                    false,
                )));
                self.last_push.retain(|(v, _)| *v != src.venue);
                self.last_push.push((src.venue, view.block));
                continue;
            }
            // No push this block: if the pool still stands where the last push left it, buy
            // that push back first in the block (the unwind; an arbitrage against p_ref).
            let pushed_last = self
                .last_push
                .iter()
                .any(|&(v, b)| v == src.venue && b + 1 == view.block);
            if !pushed_last {
                continue;
            }
            let Some((side, amount, fill_out, gain)) = unwind_trade(pool, view.prices, a, p) else {
                continue;
            };
            let gas = view.fee_estimate(GasKind::Swap, self.tip).to_whole();
            let have = match side {
                Side::Sell => view.balance(self.holder, pool.asset().token()).to_whole(),
                Side::Buy => budget,
            };
            if gain - gas > self.cfg.min_profit && amount.to_whole() <= have {
                if side == Side::Buy {
                    budget -= amount.to_whole();
                }
                items.push(BundleRequest::Own(view.request(
                    Action::Swap {
                        venue: src.venue,
                        side,
                        amount_in: amount,
                        min_out: fill_out.scale_floor(1.0 - PUSH_SLIPPAGE),
                    },
                    self.tip,
                    None,
                    false,
                )));
            }
        }
        if !items.is_empty() {
            out.push(Submission::Bundle {
                items,
                target_block: view.block,
            });
        }
    }

    /// The best campaign on asset `a`'s TWAP source, if pushing this block is part of it and
    /// its expected profit beats `min_profit`:
    ///
    /// `profit(d, n) = V(d, n) - V(0, n) - C_1(d) - (n - 1) C_ss(d) - n gas_push`
    ///
    /// over displacements `d` (the pool held at `p_ref (1 -/+ d)`) and `n = 1..max_push_blocks`
    /// pushes. `V(d, n)` sums, over the accounts healthy now, `(1 - bid_share)(V_i - gas_liq)`
    /// for each account `i` that the forecast TWAP `E_j(d)` (`forecast_twap`) makes liquidatable
    /// at some block `b + j`, `j <= n + 1`, valued at the first such `E_j` (collateral at
    /// `p_ref`); `V(0, n)` is the same with the pool left at `p_ref` (what the bot harvests
    /// anyway, without pushing). `C_1` is the value the first push loses at `p_ref` and `C_ss`
    /// that of each later one, after the arbitrageurs have pulled the pool back.
    #[allow(clippy::too_many_arguments)]
    fn plan_campaign(
        &self,
        view: &View<'_>,
        engine: &Engine,
        a: usize,
        src: crate::view::TwapSource,
        pool: &cascade_market::venue::Cpmm,
        now: &[cascade_core::AccountId],
        budget: f64,
    ) -> Option<Campaign> {
        let p = view.p_ref[a];
        let t = view.t_s;
        let dt = view.block_time_s;
        let window = src.window_s;
        let p0 = pool.price();
        let hist = |w: f64| view.oracles.venue_twap(src.venue, t, w);
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let gas_push = view.fee_estimate(GasKind::Swap, self.push_tip).to_whole();
        // The arbitrageurs trade when the gap pays for a swap at the base fee.
        let arb_gas = view.fee_estimate(GasKind::Swap, 0);
        let max_blocks = self.cfg.max_push_blocks + 1;
        let base_held = view.balance(self.holder, pool.asset().token()).to_whole();
        // The share of each liquidation's profit the bot keeps after its priority bid.
        let keep = 1.0 - self.cfg.bid_share;
        let mut prices = engine.prices().to_vec();
        // Cumulative value, by campaign length (index `blocks - 1`), of the candidates that the
        // pool held at `target` (from the second block on) makes liquidatable, each valued at
        // the first forecast price that crosses it.
        let mut value_path = |target: f64, cands: &[cascade_core::AccountId]| -> Vec<f64> {
            let mut crossed = vec![false; cands.len()];
            let mut path = Vec::with_capacity(max_blocks as usize);
            let mut total = 0.0;
            for blocks in 1..=max_blocks {
                if let Some(e) = forecast_twap(hist, t, dt, window, p0, target, blocks) {
                    prices[a] = e;
                    for (i, &id) in cands.iter().enumerate() {
                        if crossed[i]
                            || !view
                                .public_health_at(id, &prices)
                                .is_some_and(|h| h.maintenance < 0.0)
                        {
                            continue;
                        }
                        crossed[i] = true;
                        if let Some((v, _, _)) =
                            self.liquidation_value(view, engine, id, &prices, budget)
                        {
                            total += (keep * (v - gas_liq)).max(0.0);
                        }
                    }
                }
                path.push(total);
            }
            path
        };
        // The pool as the bot expects it when its push lands: after the arbitrageurs.
        let mut start = pool.clone();
        restore(&mut start, p, arb_gas);

        let mut best: Option<Campaign> = None;
        for down in [true, false] {
            let dir = if down { -1.0 } else { 1.0 };
            // Accounts healthy now that the largest campaign would make liquidatable.
            let e_max = forecast_twap(
                hist,
                t,
                dt,
                window,
                p0,
                p * (1.0 + dir * self.cfg.max_push),
                max_blocks,
            )?;
            let mut ext = engine.prices().to_vec();
            ext[a] = e_max;
            let cands: Vec<cascade_core::AccountId> = engine
                .accounts()
                .iter()
                .enumerate()
                .filter(|(_, acc)| !acc.closed)
                .map(|(i, _)| cascade_core::AccountId(i as u32))
                .filter(|id| now.binary_search(id).is_err())
                .filter(|&id| {
                    view.public_health_at(id, &ext)
                        .is_some_and(|h| h.maintenance < 0.0)
                })
                .collect();
            if cands.is_empty() {
                continue;
            }
            // Without pushing: the pool stays at p_ref and the TWAP drifts on its own.
            let idle = value_path(p, &cands);
            for k in 1..=PUSH_GRID {
                let d = self.cfg.max_push * k as f64 / PUSH_GRID as f64;
                let target = p * (1.0 + dir * d);
                let mut first = start.clone();
                let Some((side, x1, out1, _)) = push_cost(&mut first, target, p) else {
                    continue;
                };
                // The push's value lost with its offset (without a reference market: `push_cost`'s).
                let c1 = Amount::ZERO - offset_gain(view.prices, a, p, side, x1, out1);
                if (side == Side::Sell) != down {
                    continue;
                }
                let affordable = match side {
                    Side::Sell => x1.to_whole() <= base_held,
                    Side::Buy => x1.to_whole() <= budget,
                };
                if !affordable {
                    continue;
                }
                let mut again = first.clone();
                let c_ss = if restore(&mut again, p, arb_gas) {
                    push_cost(&mut again, target, p).map_or(Amount::ZERO, |r| {
                        Amount::ZERO - offset_gain(view.prices, a, p, r.0, r.1, r.2)
                    })
                } else {
                    Amount::ZERO
                };
                let pushed = value_path(target, &cands);
                for blocks in 2..=max_blocks {
                    let i = (blocks - 1) as usize;
                    let n = (blocks - 1) as f64;
                    let cost = c1.to_whole() + (n - 1.0) * c_ss.to_whole() + n * gas_push;
                    let profit = pushed[i] - idle[i] - cost;
                    if best.is_none_or(|b| profit > b.profit) {
                        best = Some(Campaign {
                            profit,
                            side,
                            amount_in: x1,
                            amount_out: out1,
                        });
                    }
                }
            }
        }
        best.filter(|b| b.profit > self.cfg.min_profit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_market::price::{AssetSpec, ImpactConfig, ProcessConfig, ReferenceConfig};

    fn pool(base: f64, quote: f64) -> cascade_market::venue::Cpmm {
        crate::manipulation::tests::pool(base, quote, 0.003)
    }

    fn prices(daily_volume: f64) -> PriceModel {
        PriceModel::new(
            vec![AssetSpec {
                name: "ETH".into(),
                initial_price: 2_000.0,
                process: ProcessConfig::Gbm {
                    mu: 0.0,
                    sigma: 0.0,
                },
                impact: ImpactConfig::None,
                reference: Some(ReferenceConfig {
                    name: "cex".into(),
                    asset: "ETH".into(),
                    daily_volume,
                    daily_volatility: 0.05,
                    y_impact: 0.7,
                    resilience_half_life_s: 600.0,
                    taker_fee: 0.0005,
                    depth_scale: 1.0,
                    withdraw: None,
                }),
            }],
            None,
            vec![None],
        )
        .unwrap()
    }

    #[test]
    fn a_thin_reference_market_makes_the_unwind_not_pay() {
        // The pool left 2% below p_ref = 2000 by the last push (1000 ETH at 1960): buying it
        // back to p_ref gains at p_ref; its offset (selling the ETH bought off chain) walks
        // the book.
        let p = 2_000.0;
        let amm = pool(1_000.0, 1_960_000.0);
        let (side, amount, out, at_ref) = unwind_trade(&amm, None, 0, p).unwrap();
        assert_eq!(side, Side::Buy);
        let deep = unwind_trade(&amm, Some(&prices(1e9)), 0, p).unwrap().3;
        let thin = unwind_trade(&amm, Some(&prices(20.0)), 0, p).unwrap().3;
        println!(
            "unwind of {:.3} ETH: gain at p_ref {at_ref:.2}, deep reference market {deep:.2}, thin {thin:.2}",
            out.to_whole()
        );
        assert!(amount.is_positive() && at_ref > 10.0, "{at_ref}");
        // A deep book costs the taker fee and little impact; a thin one takes all the gain.
        assert!(deep < at_ref && deep > 0.0, "{deep} vs {at_ref}");
        // Negative before gas: the bot's rule (gain - gas > min_profit >= 0) does not take it.
        assert!(thin < 0.0, "{thin}");
    }
}
