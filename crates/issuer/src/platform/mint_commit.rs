//! Group commit for minting's audit rows.
//!
//! Every mint records its tokens in the audit before answering, and a commit waits for the disk
//! (WAL `fsync`): one transaction per mint capped minting at about one mint per `fsync`
//! (docs/benchmarks.md). Here a mint queues its rows and then takes the database lock; whoever
//! holds it commits every row queued so far in one transaction, so mints that arrive while a
//! commit is on disk share the next one. Each mint still answers only after its own rows are
//! committed, and each is re-checked (the job may have finished while it was signing) inside
//! the transaction that records it, so a refused mint writes nothing.

use std::sync::{Mutex, mpsc};

use keyless_claims::JobId;

use super::Platform;
use super::jobs::job_finished;
use crate::error::{PlatformError, PlatformResult};
use crate::model::{AuditRecord, JobStatus};

/// A mint waiting for its audit rows to be committed.
#[derive(Debug)]
struct PendingMint {
    job_id: JobId,
    audits: Vec<AuditRecord>,
    reply: mpsc::Sender<PlatformResult<()>>,
}

/// The mints waiting for the next commit.
#[derive(Debug, Default)]
pub struct MintQueue {
    pending: Mutex<Vec<PendingMint>>,
}

impl MintQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PendingMint>> {
        // Pushing and taking cannot leave the vector half-changed, so a poisoned lock is safe.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Platform {
    /// Records a mint's audit rows if its job may still mint; returns once they are committed
    /// (by this thread or by another mint's commit that took them along).
    pub(super) fn commit_mint(
        &self,
        job_id: &JobId,
        audits: Vec<AuditRecord>,
    ) -> PlatformResult<()> {
        let (reply, answer) = mpsc::channel();
        self.mint_queue.lock().push(PendingMint {
            job_id: *job_id,
            audits,
            reply,
        });
        let mut batch = Vec::new();
        let outcome = self.store.write(|tx| {
            // Taken under the database lock, so everything queued during the previous commit
            // goes into this one.
            batch = std::mem::take(&mut *self.mint_queue.lock());
            let mut verdicts = Vec::with_capacity(batch.len());
            for pending in &batch {
                // Only the status can have changed since the mint read the job (a refusal is
                // fixed when the job starts), so only the status is read again.
                let verdict = match tx.job_status(&pending.job_id)? {
                    Some(JobStatus::Running) => Ok(()),
                    Some(status) => Err(job_finished(&pending.job_id, status)),
                    None => Err(PlatformError::not_found(
                        "job_not_found",
                        format!("No job {}.", pending.job_id),
                    )),
                };
                if verdict.is_ok() {
                    for audit in &pending.audits {
                        tx.insert_audit(audit)?;
                    }
                }
                verdicts.push(verdict);
            }
            Ok(verdicts)
        });
        match outcome {
            Ok(verdicts) => {
                for (pending, verdict) in batch.into_iter().zip(verdicts) {
                    // A receiver is gone only if its thread died; nothing to tell it then.
                    let _ = pending.reply.send(verdict);
                }
            }
            Err(error) => {
                if batch.is_empty() {
                    // The transaction failed to begin: nobody took the queue, so fail it here
                    // rather than leave its mints waiting.
                    batch = std::mem::take(&mut *self.mint_queue.lock());
                }
                let detail = format!("committing a batch of mints: {error} {:?}", error.detail);
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(PlatformError::internal(detail.clone())));
                }
            }
        }
        answer
            .recv()
            .map_err(|_| PlatformError::internal("a mint's commit ended without an answer"))?
    }
}
