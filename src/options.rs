//! What lib/options.js asks the core when it checks `setupPrimary()`'s options, so that the rule
//! lives in one place. (The options' defaults are not exported: JavaScript passes the hub only
//! what the user set, and the hub's `Default` impls fill the rest.)

use napi_derive::napi;
use sio_cluster_core::SubscriptionMode;

/// Whether `name` is one of redis-adapter's subscription modes (the check the hub makes too).
#[napi]
pub fn is_subscription_mode(name: String) -> bool {
    SubscriptionMode::parse(&name).is_some()
}

/// The names `isSubscriptionMode` accepts, for lib/options.js's error message.
#[napi]
pub fn subscription_modes() -> Vec<&'static str> {
    SubscriptionMode::NAMED
        .iter()
        .map(|&(name, _)| name)
        .collect()
}
