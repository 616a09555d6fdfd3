//! Oracles: push feeds, TWAPs, delayed (OSM) feeds, medians, and their guards.
