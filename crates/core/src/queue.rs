//! A worker's outgoing queue in the hub, bounded in bytes.
//!
//! A worker that stops reading (stuck, SIGSTOPped, overloaded) must not make the primary's memory
//! grow without limit, nor slow down the others: the hub queues at most `max_bytes` for it, and
//! past that the caller disconnects it (as Redis does with `client-output-buffer-limit`).

use std::collections::VecDeque;
use std::fmt;

#[derive(Debug)]
pub struct OutQueue<T> {
    items: VecDeque<T>,
    bytes: usize,
    max_bytes: usize,
}

/// Pushing would exceed the bound: the item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    pub queued_bytes: usize,
    pub max_bytes: usize,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outgoing queue full ({} bytes queued, limit {} bytes)",
            self.queued_bytes, self.max_bytes
        )
    }
}

impl std::error::Error for Overflow {}

impl<T: AsRef<[u8]>> OutQueue<T> {
    pub fn new(max_bytes: usize) -> Self {
        OutQueue {
            items: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    pub fn push(&mut self, item: T) -> Result<(), Overflow> {
        let len = item.as_ref().len();
        if self.bytes + len > self.max_bytes {
            return Err(Overflow {
                queued_bytes: self.bytes,
                max_bytes: self.max_bytes,
            });
        }
        self.bytes += len;
        self.items.push_back(item);
        Ok(())
    }

    /// Appends queued items to `out` until it holds at least `batch_bytes` (always at least one
    /// item when any is queued), so one write carries many small frames.
    pub fn drain_into(&mut self, out: &mut Vec<u8>, batch_bytes: usize) -> usize {
        let mut taken = 0;
        while let Some(item) = self.items.front() {
            if taken > 0 && out.len() >= batch_bytes {
                break;
            }
            out.extend_from_slice(item.as_ref());
            self.bytes -= item.as_ref().len();
            self.items.pop_front();
            taken += 1;
        }
        taken
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_bytes_and_drained_in_order_and_batches() {
        let mut queue = OutQueue::new(10);
        queue.push(vec![1, 2, 3]).unwrap();
        queue.push(vec![4, 5, 6]).unwrap();
        queue.push(vec![7, 8, 9]).unwrap();
        let overflow = queue.push(vec![10, 11]).unwrap_err();
        assert_eq!(
            overflow,
            Overflow {
                queued_bytes: 9,
                max_bytes: 10
            }
        );
        assert_eq!(queue.bytes(), 9);

        let mut out = Vec::new();
        assert_eq!(queue.drain_into(&mut out, 4), 2);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        assert_eq!(queue.bytes(), 3);
        queue.push(vec![10]).unwrap();
        out.clear();
        assert_eq!(queue.drain_into(&mut out, 1024), 2);
        assert_eq!(out, [7, 8, 9, 10]);
        assert!(queue.is_empty());
        assert_eq!(queue.bytes(), 0);
    }

    #[test]
    fn an_item_larger_than_the_batch_still_goes_alone() {
        let mut queue = OutQueue::new(100);
        queue.push(vec![0; 50]).unwrap();
        let mut out = Vec::new();
        assert_eq!(queue.drain_into(&mut out, 8), 1);
        assert_eq!(out.len(), 50);
    }
}
