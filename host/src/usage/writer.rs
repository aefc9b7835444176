//! Usage records written in batches by one background task.
//!
//! A finished response hands its record to the [`UsageWriter`] and returns at once. The
//! writer task collects records for up to [`LINGER`] after the first one of a batch. It then
//! adds them in one transaction (embedded) or one pipeline (Redis), so an fsync or a round
//! trip is paid a few times a second instead of once per response. A crash loses at most
//! that window of usage. A flush (a usage query, a shutdown) writes at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{UsageRecord, UsageStore, merge_records};

/// Records that may wait for the writer before a response's accounting has to wait too.
const QUEUE_CAPACITY: usize = 16_384;
/// Maximum records read for one write.
const MAX_BATCH: usize = 4_096;
/// How long a batch waits for more records after its first one.
const LINGER: Duration = Duration::from_millis(200);

enum Command {
    Record(UsageRecord),
    /// Completed once every record queued before it has been written (or has failed to be).
    Flush(oneshot::Sender<()>),
}

/// The sending side of the writer task. Cloning it is cheap; the task ends when the last
/// clone is dropped, after writing what is queued.
#[derive(Clone)]
pub struct UsageWriter {
    sender: mpsc::Sender<Command>,
}

impl UsageWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Arc<UsageStore>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write_batches(store, receiver));
        Self { sender }
    }

    /// Queues a record. When the queue is full, a task waits for room, so a burst slows
    /// accounting down instead of dropping records.
    pub fn submit(&self, record: UsageRecord) {
        match self.sender.try_send(Command::Record(record)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(command)) => {
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    if sender.send(command).await.is_err() {
                        tracing::warn!("the usage writer has stopped; one usage record was not written");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!("the usage writer has stopped; one usage record was not written");
            }
        }
    }

    /// Waits until the records submitted so far have been written, so that a usage query
    /// or a shutdown includes them.
    pub async fn flush(&self) {
        let (done, finished) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = finished.await;
        }
    }
}

async fn write_batches(store: Arc<UsageStore>, mut receiver: mpsc::Receiver<Command>) {
    let mut commands = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut commands, MAX_BATCH).await > 0 {
        linger(&mut receiver, &mut commands).await;
        let mut records = Vec::with_capacity(commands.len());
        let mut waiting = Vec::new();
        for command in commands.drain(..) {
            match command {
                Command::Record(record) => records.push(record),
                Command::Flush(done) => waiting.push(done),
            }
        }
        let received = records.len();
        let merged = merge_records(records);
        if !merged.is_empty()
            && let Err(error) = store.record_batch(&merged).await
        {
            tracing::warn!(error = %error, records = received, "recording usage failed; these records are lost");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// Adds to `commands` what arrives within [`LINGER`], stopping early for a flush, a full
/// batch or a closed channel.
async fn linger(receiver: &mut mpsc::Receiver<Command>, commands: &mut Vec<Command>) {
    let until = Instant::now() + LINGER;
    let mut checked = 0;
    loop {
        if commands[checked..].iter().any(|command| matches!(command, Command::Flush(_))) || commands.len() >= MAX_BATCH {
            return;
        }
        checked = commands.len();
        let room = MAX_BATCH - commands.len();
        match tokio::time::timeout_at(until, receiver.recv_many(commands, room)).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
