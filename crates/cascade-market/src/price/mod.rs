//! Exogenous price processes and the price impact of forced flow.
