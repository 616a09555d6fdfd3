//! The sandwich: a pending flash liquidation that sells collateral on a constant-product pool
//! is wrapped in `[sell X, victim, buy X back]`, `X` chosen on a copy of the pool to maximize
//! what the victim loses to the extra slippage under its own revert condition.

use super::*;

impl MevBot {
    pub(super) fn sandwich(
        &self,
        view: &View<'_>,
        engine: &Engine,
        victim: &Tx,
        account: cascade_core::AccountId,
        v: VenueId,
        victim_min: Amount,
    ) -> Option<Submission> {
        let venue = view.venues.get(v.index())?;
        if !matches!(venue, Venue::Cpmm(_)) || !self.venues.contains(&v) {
            return None;
        }
        let plan = engine.plan_liquidation(account).ok()?;
        if plan.asset != Some(venue.asset().index()) || !plan.seize.is_positive() {
            return None;
        }
        let floor = plan.pay + victim_min;
        let have = view.balance(self.holder, venue.asset().token());
        let (x, gain) = plan_sandwich(venue, plan.seize, floor, have)?;
        let gas = 2.0 * view.fee_estimate(GasKind::Swap, self.tip).to_whole();
        let profit = gain.to_whole() - gas;
        if profit <= self.cfg.min_profit {
            return None;
        }
        // The back-run's quote: computed on the state after the front-run and the victim.
        let mut p = match venue {
            Venue::Cpmm(p) => p.clone(),
            _ => return None,
        };
        let front = p.simulate(Side::Sell, x)?;
        p.simulate(Side::Sell, plan.seize)?;
        let back_in = p.amount_in_for_exact_out(Side::Buy, x)?;
        if view.balance(self.holder, TokenId::QUOTE) < back_in {
            return None;
        }
        // Both legs pay the tip: each bids half, so the bundle gives the builder `bid_share`
        // of the profit (not twice that).
        let tip = self.tip_for(view, GasKind::Swap, profit / 2.0);
        let front_req = view.request(
            Action::Swap {
                venue: v,
                side: Side::Sell,
                amount_in: x,
                min_out: front,
            },
            tip,
            None,
            false,
        );
        let back_req = view.request(
            Action::Swap {
                venue: v,
                side: Side::Buy,
                amount_in: back_in,
                min_out: x,
            },
            tip,
            None,
            false,
        );
        Some(Submission::Bundle {
            items: vec![
                BundleRequest::Own(front_req),
                BundleRequest::Pending(victim.id),
                BundleRequest::Own(back_req),
            ],
            target_block: view.block,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::{AssetId, Ledger};
    use cascade_market::venue::VenueConfig;

    #[test]
    fn sandwich_gain_equals_the_victims_extra_slippage_at_zero_fee() {
        // Executed on the ledger: the bot's quote gain (front-run proceeds minus back-run
        // cost, base inventory restored) equals what the victim receives less, to rounding.
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool_h = l.add_holder("pool");
        let owner = l.add_holder("owner");
        let bot = l.add_holder("bot");
        let victim = l.add_holder("victim");
        for h in [bot, victim] {
            l.mint_genesis(h, TokenId::QUOTE, Amount::from_whole(10_000_000.0))
                .unwrap();
            l.mint_genesis(h, TokenId(1), Amount::from_whole(1_000.0))
                .unwrap();
        }
        let cfg = VenueConfig::Cpmm {
            name: "amm".into(),
            asset: "ETH".into(),
            reserve_base: 5_000.0,
            reserve_quote: 10_000_000.0,
            fee: 0.0,
            withdraw: None,
        };
        let pool = Venue::from_config(&cfg, &mut l, pool_h, owner, AssetId(0), 2000.0).unwrap();
        l.seal();
        let sale = Amount::from_whole(100.0);
        let alone = pool.quote(Side::Sell, sale).amount_out;
        // The victim accepts up to 2% less than the undisturbed sale.
        let floor = alone.scale_floor(0.98);
        let (x, gain) = plan_sandwich(&pool, sale, floor, Amount::from_whole(1_000.0)).unwrap();
        let mut venue = pool.clone();
        let (q0, b0) = (l.balance(bot, TokenId::QUOTE), l.balance(bot, TokenId(1)));
        let front = venue
            .execute(&mut l, bot, Side::Sell, x, Amount::ZERO)
            .unwrap();
        let v = venue
            .execute(&mut l, victim, Side::Sell, sale, floor)
            .unwrap();
        let Venue::Cpmm(p) = &venue else {
            unreachable!()
        };
        let back_in = p.amount_in_for_exact_out(Side::Buy, x).unwrap();
        let back = venue.execute(&mut l, bot, Side::Buy, back_in, x).unwrap();
        assert!(front.amount_out.is_positive());
        // The base inventory is restored (to a few base units) and the quote gain is the
        // planned one.
        let base_diff = l.balance(bot, TokenId(1)) - b0;
        assert!(
            base_diff >= Amount::ZERO && base_diff.raw() < 10,
            "{base_diff:?}"
        );
        let bot_gain = l.balance(bot, TokenId::QUOTE) - q0;
        assert_eq!(bot_gain, gain);
        let extra_slippage = alone - v.amount_out;
        assert!(
            (bot_gain.raw() - extra_slippage.raw()).abs() <= 4,
            "{bot_gain:?} vs {extra_slippage:?}"
        );
        // The victim's floor binds: a bigger front-run would make it revert.
        assert!(v.amount_out >= floor);
        assert!(v.amount_out.raw() - floor.raw() < alone.raw() / 1_000);
        let _ = back;
        l.check_conservation().unwrap();
    }
}
