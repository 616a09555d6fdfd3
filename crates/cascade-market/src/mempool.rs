//! The public mempool, private bundles and the block builder.
