//! Price impact of forced flow: how liquidation sales move the reference market.
//!
//! Liquidators selling seized collateral sell into the wider market, not only on the venues in
//! the simulation. This is the feedback channel of a cascade: forced sales push the reference
//! price `p_ref` (which oracles observe) down, which makes more accounts liquidatable, whose
//! collateral is sold in turn. With cumulative signed forced flow `F` (whole base units,
//! negative when sold), the impact exponent is `I = kappa * sign(F) * (|F| / depth)^g` with
//! `g = 1` (linear) or `g = 1/2` (square root, the usual empirical shape of metaorder impact),
//! and `p_ref = p_exo * exp(I)`. The exponential keeps the price positive for any flow and is
//! `1 + I` for small `I`. Impact is permanent unless `half_life_s` is set, in which case `F`
//! decays as `F * 2^(-dt / half_life_s)` each block (the market's resilience).

use cascade_core::Check;
use serde::{Deserialize, Serialize};

/// `impact = { model = ..., ... }` of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImpactConfig {
    /// No impact: `p_ref == p_exo` exactly.
    #[default]
    None,
    /// `I = kappa * F / depth`.
    Linear {
        kappa: f64,
        depth: f64,
        #[serde(default)]
        half_life_s: Option<f64>,
    },
    /// `I = kappa * sign(F) * sqrt(|F| / depth)`.
    Sqrt {
        kappa: f64,
        depth: f64,
        #[serde(default)]
        half_life_s: Option<f64>,
    },
}

impl ImpactConfig {
    pub fn validate(&self, c: &mut Check) {
        match self {
            ImpactConfig::None => {}
            ImpactConfig::Linear {
                kappa,
                depth,
                half_life_s,
            }
            | ImpactConfig::Sqrt {
                kappa,
                depth,
                half_life_s,
            } => {
                c.non_negative("kappa", *kappa);
                c.positive("depth", *depth);
                if let Some(h) = half_life_s {
                    c.positive("half_life_s", *h);
                }
            }
        }
    }
}

/// The impact state of one asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    cfg: ImpactConfig,
    flow: f64,
    pending: f64,
}

impl Impact {
    pub fn new(cfg: ImpactConfig) -> Impact {
        Impact {
            cfg,
            flow: 0.0,
            pending: 0.0,
        }
    }

    /// Record forced flow (whole base units, negative when sold). It takes effect at the next
    /// [`Impact::advance`], i.e. on the next block's reference price.
    pub fn add_flow(&mut self, signed_base: f64) {
        if signed_base.is_finite() {
            self.pending += signed_base;
        }
    }

    /// Start of a block of `dt_s` seconds: decay the past flow, then add the flow recorded
    /// during the previous block.
    pub fn advance(&mut self, dt_s: f64) {
        let hl = match &self.cfg {
            ImpactConfig::None => None,
            ImpactConfig::Linear { half_life_s, .. } | ImpactConfig::Sqrt { half_life_s, .. } => {
                *half_life_s
            }
        };
        if let Some(h) = hl {
            self.flow *= 0.5f64.powf(dt_s / h);
        }
        self.flow += self.pending;
        self.pending = 0.0;
    }

    /// Cumulative (decayed) forced flow.
    pub fn flow(&self) -> f64 {
        self.flow
    }

    /// The factor `exp(I)`; exactly 1.0 without impact.
    pub fn factor(&self) -> f64 {
        match &self.cfg {
            ImpactConfig::None => 1.0,
            ImpactConfig::Linear { kappa, depth, .. } => (kappa * self.flow / depth).exp(),
            ImpactConfig::Sqrt { kappa, depth, .. } => {
                (kappa * self.flow.signum() * (self.flow.abs() / depth).sqrt()).exp()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_sqrt_by_hand() {
        let mut lin = Impact::new(ImpactConfig::Linear {
            kappa: 0.1,
            depth: 1000.0,
            half_life_s: None,
        });
        lin.add_flow(-250.0);
        assert_eq!(lin.factor(), 1.0, "not before the next block");
        lin.advance(12.0);
        // I = 0.1 * -250 / 1000 = -0.025.
        assert!((lin.factor() - (-0.025f64).exp()).abs() < 1e-15);
        let mut sq = Impact::new(ImpactConfig::Sqrt {
            kappa: 0.1,
            depth: 1000.0,
            half_life_s: None,
        });
        sq.add_flow(-250.0);
        sq.advance(12.0);
        // I = -0.1 * sqrt(0.25) = -0.05.
        assert!((sq.factor() - (-0.05f64).exp()).abs() < 1e-15);
        sq.add_flow(500.0);
        sq.advance(12.0);
        // F = +250: I = +0.05.
        assert!((sq.factor() - 0.05f64.exp()).abs() < 1e-15);
    }

    #[test]
    fn half_life_halves_the_flow() {
        let mut i = Impact::new(ImpactConfig::Linear {
            kappa: 1.0,
            depth: 1.0,
            half_life_s: Some(60.0),
        });
        i.add_flow(-8.0);
        i.advance(12.0);
        assert_eq!(i.flow(), -8.0);
        i.advance(60.0);
        assert!((i.flow() + 4.0).abs() < 1e-12);
        for _ in 0..5 {
            i.advance(12.0);
        }
        assert!((i.flow() + 2.0).abs() < 1e-12);
    }

    #[test]
    fn none_is_exactly_one() {
        let mut i = Impact::new(ImpactConfig::None);
        i.add_flow(-1e9);
        i.advance(12.0);
        assert_eq!(i.factor(), 1.0);
    }

    #[test]
    fn validation() {
        let mut issues = Vec::new();
        ImpactConfig::Sqrt {
            kappa: -1.0,
            depth: 0.0,
            half_life_s: Some(0.0),
        }
        .validate(&mut Check::new(&mut issues).at("impact"));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["impact.kappa", "impact.depth", "impact.half_life_s"]
        );
    }
}
