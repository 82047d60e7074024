//! What wakes the dashboard's loop: news from the threads that talk to the daemon, a key, a
//! resize. One channel carries all three, so the loop waits in one place.

use super::app::Feed;
use super::keys::Key;

/// What wakes the loop.
pub enum Incoming {
    Feed(Box<Feed>),
    Key(Key),
    Resize,
}

impl Incoming {
    pub fn feed(feed: Feed) -> Incoming {
        Incoming::Feed(Box::new(feed))
    }
}
