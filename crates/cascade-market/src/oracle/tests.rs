//! Tests of the oracles: push feeds (deviation, heartbeat, latency, freezes), TWAP, OSM-style
//! delay, medians, guards and the order-flow-auction publication mode.

use super::*;
use cascade_core::Check;
use cascade_core::rng::{run_seed, stream};

/// A push feed; `latency_blocks` is converted to seconds at the tests' 12 s blocks.
fn push(deviation: f64, heartbeat_s: f64, latency_blocks: u32) -> FeedConfig {
    FeedConfig::Push {
        deviation,
        heartbeat_s,
        latency_s: 12.0 * latency_blocks as f64,
        noise_bp: 0.0,
        freeze_per_hour: 0.0,
        freeze_mean_s: 600.0,
        tip_gwei: 2.0,
        max_fee_gwei: 100.0,
        latency_blocks: None,
        freeze_prob: None,
    }
}

fn one(feed: FeedConfig, guards: GuardConfig, venues: &[String]) -> Oracles {
    Oracles::new(
        &[(
            0,
            OracleConfig {
                asset: "ETH".into(),
                feed,
                guards,
                publication: PublicationMode::Public,
            },
        )],
        &[100.0],
        venues,
    )
    .unwrap()
}

fn rng() -> SimRng {
    stream(run_seed(1, 0), "oracle", 0)
}

#[test]
fn push_publishes_on_deviation_with_latency() {
    let mut o = one(push(0.01, 3600.0, 2), GuardConfig::default(), &[]);
    let mut r = rng();
    let mut out = Vec::new();
    // Block 1: reference moves 0.5% -> below threshold.
    o.record(12.0, &[100.5], &[]);
    o.observe(12.0, 12.0, &mut r, &mut out);
    assert!(out.is_empty());
    // Block 2 and 3: reference at 103, but the node sees two blocks late.
    o.record(24.0, &[103.0], &[]);
    o.observe(24.0, 12.0, &mut r, &mut out);
    assert!(out.is_empty(), "sees 100.0 (two blocks ago)");
    o.record(36.0, &[103.0], &[]);
    o.observe(36.0, 12.0, &mut r, &mut out);
    assert!(out.is_empty(), "sees 100.5 (two blocks ago)");
    o.record(48.0, &[103.0], &[]);
    o.observe(48.0, 12.0, &mut r, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].price, 103.0);
    assert!(!out[0].replaces_pending);
    // Until the transaction lands the engine still sees the old price.
    assert_eq!(o.price(0, 48.0), 100.0);
    o.apply(out[0].feed, out[0].price, 60.0);
    assert_eq!(o.price(0, 60.0), 103.0);
    assert_eq!(o.age(0, 70.0), 10.0);
}

#[test]
fn pending_update_is_replaced_not_duplicated() {
    let mut o = one(push(0.01, 3600.0, 0), GuardConfig::default(), &[]);
    let mut r = rng();
    let mut out = Vec::new();
    o.record(12.0, &[102.0], &[]);
    o.observe(12.0, 12.0, &mut r, &mut out);
    assert_eq!(out.len(), 1);
    out.clear();
    // Still pending; small move relative to the pending price: nothing new.
    o.record(24.0, &[102.5], &[]);
    o.observe(24.0, 12.0, &mut r, &mut out);
    assert!(out.is_empty());
    // Large move relative to the pending price: a replacement.
    o.record(36.0, &[105.0], &[]);
    o.observe(36.0, 12.0, &mut r, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].replaces_pending);
}

#[test]
fn heartbeat_publishes_without_deviation() {
    let mut o = one(push(0.5, 60.0, 0), GuardConfig::default(), &[]);
    let mut r = rng();
    let mut out = Vec::new();
    for b in 1..=4 {
        let t = 12.0 * b as f64;
        o.record(t, &[100.0], &[]);
        o.observe(t, 12.0, &mut r, &mut out);
    }
    assert!(out.is_empty(), "48 s < heartbeat");
    o.record(60.0, &[100.0], &[]);
    o.observe(60.0, 12.0, &mut r, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn osm_uses_a_price_one_to_two_hops_old() {
    let mut o = one(
        FeedConfig::Delayed {
            delay_s: 3600.0,
            source: None,
            tip_gwei: 1.0,
            max_fee_gwei: 100.0,
        },
        GuardConfig::default(),
        &[],
    );
    let mut r = rng();
    let mut out = Vec::new();
    o.record(1800.0, &[90.0], &[]);
    o.observe(1800.0, 12.0, &mut r, &mut out);
    assert!(out.is_empty());
    o.record(3600.0, &[80.0], &[]);
    o.observe(3600.0, 12.0, &mut r, &mut out);
    assert_eq!(out.len(), 1);
    o.apply(out[0].feed, f64::NAN, 3600.0);
    // First poke: cur <- nxt (the genesis 100), nxt <- 80.
    assert_eq!(o.price(0, 3600.0), 100.0);
    out.clear();
    o.record(7200.0, &[50.0], &[]);
    o.observe(7200.0, 12.0, &mut r, &mut out);
    o.apply(out[0].feed, f64::NAN, 7200.0);
    assert_eq!(o.price(0, 7200.0), 80.0, "the value queued one hop earlier");
}

#[test]
fn median_ignores_one_frozen_or_wild_feed() {
    let mut o = one(
        FeedConfig::Median {
            feeds: vec![
                push(0.01, 3600.0, 0),
                push(0.01, 3600.0, 0),
                push(0.01, 3600.0, 0),
            ],
        },
        GuardConfig::default(),
        &[],
    );
    o.apply(FeedId(0), 1000.0, 12.0);
    o.apply(FeedId(1), 101.0, 12.0);
    assert_eq!(o.price(0, 12.0), 101.0);
    o.apply(FeedId(2), 99.0, 12.0);
    assert_eq!(o.price(0, 12.0), 101.0);
}

#[test]
fn frozen_feed_publishes_nothing() {
    let mut cfg = push(0.001, 60.0, 0);
    if let FeedConfig::Push {
        freeze_per_hour,
        freeze_mean_s,
        ..
    } = &mut cfg
    {
        *freeze_per_hour = f64::INFINITY;
        *freeze_mean_s = 1e9;
    }
    let mut o = one(cfg, GuardConfig::default(), &[]);
    let mut r = rng();
    let mut out = Vec::new();
    for b in 1..50 {
        let t = 12.0 * b as f64;
        o.record(t, &[100.0 + b as f64], &[]);
        o.observe(t, 12.0, &mut r, &mut out);
    }
    assert!(out.is_empty());
}

#[test]
fn twap_is_time_weighted_over_the_window() {
    let mut s = TwapSamples::new(100.0);
    s.record(0.0, 10.0);
    s.record(10.0, 20.0);
    s.record(30.0, 40.0);
    // Over [0, 40]: 10*10 + 20*20 + 40*10 = 900 / 40.
    assert!((s.twap(40.0, 40.0).unwrap() - 22.5).abs() < 1e-12);
    // Over [20, 40]: 20*10 + 40*10 = 600 / 20.
    assert!((s.twap(40.0, 20.0).unwrap() - 30.0).abs() < 1e-12);
}

#[test]
fn guards_report_staleness_and_twap_deviation() {
    let venues = vec!["amm".to_string()];
    let mut o = one(
        push(0.5, 1e9, 0),
        GuardConfig {
            max_staleness_s: Some(100.0),
            max_twap_deviation: Some(0.05),
            twap_venue: Some("amm".into()),
            twap_window_s: 60.0,
            action: GuardAction::BlockLiquidations,
        },
        &venues,
    );
    o.record(12.0, &[100.0], &[100.0]);
    let s = o.status(0, 12.0);
    assert!(!s.violated());
    o.record(200.0, &[100.0], &[80.0]);
    let s = o.status(0, 300.0);
    assert!(s.stale);
    assert!(s.deviated, "venue at 80 for the whole window vs oracle 100");
    assert!((s.twap_deviation.unwrap() - 0.25).abs() < 1e-12);
}

#[test]
fn validation_names_keys() {
    let mut issues = Vec::new();
    let cfg = OracleConfig {
        asset: "ETH".into(),
        feed: FeedConfig::Median {
            feeds: vec![
                FeedConfig::Twap {
                    venue: "nope".into(),
                    window_s: 0.0,
                },
                push(1.5, -1.0, 0),
            ],
        },
        guards: GuardConfig {
            max_twap_deviation: Some(0.1),
            ..GuardConfig::default()
        },
        publication: PublicationMode::OevAuction {
            share_to_protocol: 1.5,
            fallback_delay_s: 36.0,
            private_route_failure_prob: 0.0,
            bidders: vec![OevBidder::Liquidator, OevBidder::Liquidator],
            fallback_delay_blocks: None,
        },
    };
    cfg.validate(
        &mut Check::new(&mut issues).at("oracles[0]"),
        &["amm".into()],
        12.0,
    );
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    assert!(keys.contains(&"oracles[0].feed.feeds[0].venue"), "{keys:?}");
    assert!(keys.contains(&"oracles[0].feed.feeds[0].window_s"));
    assert!(keys.contains(&"oracles[0].feed.feeds[1].deviation"));
    assert!(keys.contains(&"oracles[0].feed.feeds[1].heartbeat_s"));
    assert!(keys.contains(&"oracles[0].guards.twap_venue"));
    assert!(keys.contains(&"oracles[0].publication.share_to_protocol"));
    assert!(keys.contains(&"oracles[0].publication.bidders"));
    assert!(
        !keys.contains(&"oracles[0].publication.kind"),
        "a median with a push feed"
    );
}

#[test]
fn oev_auction_needs_push_feeds_and_parses_with_defaults() {
    let cfg: OracleConfig = toml::from_str(
        r#"
asset = "ETH"
feed = { kind = "twap", venue = "amm" }
publication = { kind = "oev_auction", fallback_delay_s = 24.0 }
"#,
    )
    .unwrap();
    assert_eq!(
        cfg.publication,
        PublicationMode::OevAuction {
            share_to_protocol: 0.6,
            fallback_delay_s: 24.0,
            private_route_failure_prob: 0.0,
            bidders: vec![OevBidder::Liquidator, OevBidder::MevBot],
            fallback_delay_blocks: None,
        }
    );
    let mut issues = Vec::new();
    cfg.validate(
        &mut Check::new(&mut issues).at("oracles[0]"),
        &["amm".into()],
        12.0,
    );
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["oracles[0].publication.kind"]);
    // Public is the default and is left out when serialized.
    let public: OracleConfig =
        toml::from_str("asset = \"ETH\"\nfeed = { kind = \"push\" }\n").unwrap();
    assert!(public.publication.is_public());
    assert!(!toml::to_string(&public).unwrap().contains("publication"));
}

#[test]
fn same_seed_same_publications() {
    let run = |seed: u64| {
        let mut cfg = push(0.002, 600.0, 1);
        if let FeedConfig::Push {
            noise_bp,
            freeze_per_hour,
            ..
        } = &mut cfg
        {
            *noise_bp = 20.0;
            *freeze_per_hour = 3.0;
        }
        let mut o = one(cfg, GuardConfig::default(), &[]);
        let mut r = stream(run_seed(seed, 0), "oracle", 0);
        let mut all = Vec::new();
        for b in 1..500 {
            let t = 12.0 * b as f64;
            let mut out = Vec::new();
            o.record(t, &[100.0 * (1.0 + 0.01 * (b as f64 / 7.0).sin())], &[]);
            o.observe(t, 12.0, &mut r, &mut out);
            for p in &out {
                o.apply(p.feed, p.price, t);
                all.push((b, p.price.to_bits()));
            }
        }
        all
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}
