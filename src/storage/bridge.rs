//! Bridges between async storage and the blocking CPU pipeline (tar, zstd, AES run on threads).

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{DynStorage, ObjectWriter};
use crate::error::{Error, Result};

/// A blocking `Read` over an object, fed by an async task that reads it in ranges, as the
/// store's [`ReadPlan`](super::ReadPlan) says (several ranges in flight on object storage).
pub struct BlockingObjectReader {
    rx: mpsc::Receiver<Result<Bytes>>,
    cur: Bytes,
}

impl BlockingObjectReader {
    /// Start reading `key` (of `size` bytes) in the background; must be called inside a runtime.
    pub fn spawn(storage: DynStorage, key: String, size: u64) -> Self {
        use futures::StreamExt;
        let plan = storage.read_plan();
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let ranges = (0..size.div_ceil(plan.chunk))
                .map(|i| (i * plan.chunk)..((i + 1) * plan.chunk).min(size));
            let mut chunks = futures::stream::iter(ranges)
                .map(|r| {
                    let storage = storage.clone();
                    let key = key.clone();
                    async move {
                        let want = r.end - r.start;
                        match storage.get_range(&key, r).await {
                            Ok(b) if b.len() as u64 != want => Err(Error::integrity(format!(
                                "{key} is shorter than its recorded size"
                            ))),
                            other => other,
                        }
                    }
                })
                .buffered(plan.in_flight.max(1));
            while let Some(r) = chunks.next().await {
                let stop = r.is_err();
                if tx.send(r).await.is_err() || stop {
                    return;
                }
            }
        });
        BlockingObjectReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for BlockingObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = self.cur.len().min(buf.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

enum Msg {
    Chunk(Bytes),
    Finish,
}

/// The blocking half of a writer pump: send chunks, then `finish`. Dropped unfinished, the object
/// is aborted and nothing becomes visible.
pub struct PumpSender {
    tx: mpsc::Sender<Msg>,
}

impl PumpSender {
    pub fn send(&self, chunk: Vec<u8>) -> io::Result<()> {
        self.tx
            .blocking_send(Msg::Chunk(Bytes::from(chunk)))
            .map_err(|_| io::Error::other(Error::storage("the storage writer stopped")))
    }
    pub fn finish(self) -> io::Result<()> {
        self.tx
            .blocking_send(Msg::Finish)
            .map_err(|_| io::Error::other(Error::storage("the storage writer stopped")))
    }
}

/// Start an async task that writes what a blocking producer sends into `writer`. The join handle
/// yields the object's size once the producer called `finish`, or the write's error.
pub fn writer_pump(
    mut writer: Box<dyn ObjectWriter>,
) -> (PumpSender, tokio::task::JoinHandle<Result<u64>>) {
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let task = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Some(Msg::Chunk(b)) => {
                    if let Err(e) = writer.write(b).await {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                }
                Some(Msg::Finish) => return writer.close().await,
                None => {
                    let _ = writer.abort().await;
                    return Err(Error::new(
                        crate::error::ErrorKind::Cancelled,
                        "the write was abandoned before it finished",
                    ));
                }
            }
        }
    });
    (PumpSender { tx }, task)
}
