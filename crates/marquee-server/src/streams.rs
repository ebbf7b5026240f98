//! Caps on open live-event streams (SSE): `server.max_streams_per_account`
//! per account and `server.max_streams_per_ip` per client address. A stream
//! holds a [`StreamPermit`] for as long as it is open.

use crate::error::AppError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open streams, by account and by client address.
#[derive(Debug)]
pub struct StreamSlots {
    open: Mutex<Open>,
    max_per_account: usize,
    max_per_ip: usize,
}

#[derive(Debug, Default)]
struct Open {
    accounts: HashMap<i64, usize>,
    ips: HashMap<IpAddr, usize>,
}

/// One open stream's place; freed when dropped (the stream ends or the
/// client goes away).
#[derive(Debug)]
pub struct StreamPermit {
    slots: Arc<StreamSlots>,
    account: i64,
    ip: IpAddr,
}

impl StreamSlots {
    /// Caps from the configuration.
    pub fn new(max_per_account: usize, max_per_ip: usize) -> Self {
        StreamSlots {
            open: Mutex::new(Open::default()),
            max_per_account,
            max_per_ip,
        }
    }

    /// A place for a new stream of `account` from `ip`, or 429
    /// `too_many_streams`.
    pub fn acquire(self: &Arc<Self>, account: i64, ip: IpAddr) -> Result<StreamPermit, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let by_account = open.accounts.get(&account).copied().unwrap_or(0);
        if by_account >= self.max_per_account {
            return Err(AppError::TooManyStreams {
                limit: self.max_per_account,
            });
        }
        let by_ip = open.ips.get(&ip).copied().unwrap_or(0);
        if by_ip >= self.max_per_ip {
            return Err(AppError::TooManyStreams {
                limit: self.max_per_ip,
            });
        }
        open.accounts.insert(account, by_account + 1);
        open.ips.insert(ip, by_ip + 1);
        Ok(StreamPermit {
            slots: self.clone(),
            account,
            ip,
        })
    }
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        release(&mut open.accounts, &self.account);
        release(&mut open.ips, &self.ip);
    }
}

/// Keeps `permit` alive as long as `stream`.
pub fn hold<S: futures_util::Stream>(
    stream: S,
    permit: StreamPermit,
) -> impl futures_util::Stream<Item = S::Item> {
    futures_util::StreamExt::map(stream, move |item| {
        let _ = &permit;
        item
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_account_and_per_address_and_frees_on_drop() {
        let slots = Arc::new(StreamSlots::new(2, 3));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let p1 = slots.acquire(1, a).unwrap();
        let _p2 = slots.acquire(1, a).unwrap();
        assert!(slots.acquire(1, b).is_err());
        let _p3 = slots.acquire(2, a).unwrap();
        assert!(slots.acquire(3, a).is_err());
        drop(p1);
        assert!(slots.acquire(1, b).is_ok());
    }
}
