//! Group commit: one writer thread takes every queued write, runs them all in a single
//! transaction (each inside its own savepoint, so one failing write does not undo the others),
//! commits once, then tells each caller. Under load many `AssumeRoleWithWebIdentity` calls share
//! one commit (one WAL fsync with `synchronous=FULL`) instead of paying one fsync each, and a
//! caller still hears "written" only after its write is durable.
//!
//! Writes whose caller need not wait (audit records of calls that hand nothing out) are queued
//! in the background: they join the next batch like any other, hold one of a bounded number of
//! permits until committed, and a failure is logged instead of answered. A batch of background
//! writes only lingers [`BACKGROUND_LINGER`] for more before committing, so a stream of them
//! (GetCallerIdentity under load) shares commits and wake-ups.
//!
//! With `--audit-file`, the writer also appends each committed write's audit line to it, the
//! whole batch in one `write` after the commit and before anyone hears back, so a caller that
//! was answered finds its event in the file, and the request workers make no file I/O.

use std::fs::File;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::StoreError;

/// Most writes folded into one commit.
pub const MAX_WRITES_PER_COMMIT: usize = 1024;

/// How long a batch of background writes only waits for company before it is committed (a
/// caller that waits for its write is never held back by this: its batch commits at once, and
/// one that arrives during the linger waits at most this much longer).
pub const BACKGROUND_LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// One write: runs against the connection inside the batch's transaction.
pub type WriteJob = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

/// Where a write's outcome goes.
type Reply = oneshot::Sender<Result<(), StoreError>>;

/// A queued write and the channel its outcome goes back on.
pub struct WriteRequest {
    job: WriteJob,
    /// `None` for a background write: nobody waits for it.
    done: Option<Reply>,
    /// Held by a background write until it is committed.
    permit: Option<OwnedSemaphorePermit>,
    /// The line to append to the audit file once committed (without its newline).
    audit_line: Option<String>,
}

/// The sending side callers hold (inside [`super::Store`]).
#[derive(Clone)]
pub struct WriterHandle {
    /// Declared before `_thread`: when the last handle drops, the queue closes first, then the
    /// thread is joined, so every queued write is committed before the store is gone (a
    /// graceful shutdown loses no background write).
    queue: mpsc::UnboundedSender<WriteRequest>,
    /// Room for background writes (see [`super::MAX_BACKGROUND_WRITES`]).
    background: Arc<Semaphore>,
    /// Whether there is an audit file to append lines to.
    has_audit_file: bool,
    _thread: Arc<WriterThread>,
}

/// Joins the writer thread when the last handle is dropped.
struct WriterThread(Option<std::thread::JoinHandle<()>>);

impl Drop for WriterThread {
    fn drop(&mut self) {
        let Some(thread) = self.0.take() else {
            return;
        };
        if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
            tracing::error!("the store writer thread panicked");
        }
    }
}

impl std::fmt::Debug for WriterHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WriterHandle")
    }
}

impl WriterHandle {
    /// Starts the writer thread over `connection` (and `audit_file`, open for appending). It
    /// ends when every handle is dropped.
    pub fn start(
        connection: Arc<Mutex<Connection>>,
        max_background: usize,
        audit_file: Option<File>,
    ) -> WriterHandle {
        let (queue, receiver) = mpsc::unbounded_channel();
        let has_audit_file = audit_file.is_some();
        let started = std::thread::Builder::new()
            .name("keyless-sts-writer".to_owned())
            .spawn(move || write_loop(&connection, receiver, audit_file));
        let thread = match started {
            Ok(thread) => Some(thread),
            Err(error) => {
                // Without a writer every write fails with TaskFailed below; say why once.
                tracing::error!(%error, "cannot start the store writer thread");
                None
            }
        };
        WriterHandle {
            queue,
            background: Arc::new(Semaphore::new(max_background)),
            has_audit_file,
            _thread: Arc::new(WriterThread(thread)),
        }
    }

    /// Whether [`WriterHandle::write`]'s audit lines go anywhere (callers skip making them
    /// when they do not).
    pub fn has_audit_file(&self) -> bool {
        self.has_audit_file
    }

    /// Queues `job` and waits until the batch holding it is committed (and `audit_line`
    /// appended to the audit file).
    pub async fn write(&self, job: WriteJob, audit_line: Option<String>) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        self.send(WriteRequest {
            job,
            done: Some(done),
            permit: None,
            audit_line,
        })?;
        outcome
            .await
            .map_err(|_| StoreError::TaskFailed("the store writer dropped a write".to_owned()))?
    }

    /// Queues `job` (and its `audit_line`) without waiting for its commit; waits only for room
    /// in the queue.
    pub async fn write_in_background(
        &self,
        job: WriteJob,
        audit_line: Option<String>,
    ) -> Result<(), StoreError> {
        let permit = Arc::clone(&self.background)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::TaskFailed("the store writer has stopped".to_owned()))?;
        self.send(WriteRequest {
            job,
            done: None,
            permit: Some(permit),
            audit_line,
        })
    }

    fn send(&self, request: WriteRequest) -> Result<(), StoreError> {
        self.queue
            .send(request)
            .map_err(|_| StoreError::TaskFailed("the store writer has stopped".to_owned()))
    }
}

/// Moves every queued request into `batch`, up to [`MAX_WRITES_PER_COMMIT`].
fn take_queued(
    receiver: &mut mpsc::UnboundedReceiver<WriteRequest>,
    batch: &mut Vec<WriteRequest>,
) {
    while batch.len() < MAX_WRITES_PER_COMMIT {
        match receiver.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
}

fn write_loop(
    connection: &Mutex<Connection>,
    mut receiver: mpsc::UnboundedReceiver<WriteRequest>,
    mut audit_file: Option<File>,
) {
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        take_queued(&mut receiver, &mut batch);
        if batch.iter().all(|request| request.done.is_none()) {
            // Nobody waits for these: let more join them, so a stream of audit records costs
            // one wake-up and one commit per linger instead of one per record.
            std::thread::sleep(BACKGROUND_LINGER);
            take_queued(&mut receiver, &mut batch);
        }
        let audit_lines: Vec<Option<String>> = batch
            .iter_mut()
            .map(|request| request.audit_line.take())
            .collect();
        // A poisoned lock only means a reader panicked; every write runs in a transaction.
        let mut connection = connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (outcomes, dones) = commit_batch(&mut connection, batch);
        drop(connection);
        if let Some(file) = &mut audit_file {
            append_committed(file, &outcomes, audit_lines);
        }
        for (outcome, done) in outcomes.into_iter().zip(dones) {
            match done {
                // The caller may have given up (its request timed out); nothing to do then.
                Some(done) => {
                    let _ = done.send(outcome);
                }
                None => {
                    if let Err(error) = outcome {
                        tracing::error!(%error, "a background store write failed");
                    }
                }
            }
        }
    }
}

/// Appends the audit lines of the writes that were committed to the audit file, in one
/// `write`. A failure is logged, not fatal: the database holds the same events.
fn append_committed(
    file: &mut File,
    outcomes: &[Result<(), StoreError>],
    lines: Vec<Option<String>>,
) {
    let mut text = String::new();
    for (outcome, line) in outcomes.iter().zip(lines) {
        if let (Ok(()), Some(line)) = (outcome, line) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    if !text.is_empty()
        && let Err(error) = file.write_all(text.as_bytes())
    {
        tracing::error!(%error, "cannot append to the audit file");
    }
}

/// Runs `job` inside a savepoint: its writes are kept if it succeeds and undone if it fails,
/// leaving the batch's other writes alone. The outer error means the savepoint itself could
/// not be taken, released or rolled back, so the batch must not commit. The statements are
/// prepared once and cached (rusqlite's own savepoints parse their SQL on every use, which
/// under load was a tenth of the writer's time).
fn run_in_savepoint(
    connection: &Connection,
    job: WriteJob,
) -> Result<Result<(), StoreError>, StoreError> {
    let run = |sql: &str| -> Result<(), StoreError> {
        connection.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    run("SAVEPOINT write_job")?;
    let outcome = job(connection);
    if outcome.is_err() {
        run("ROLLBACK TO write_job")?;
    }
    run("RELEASE write_job")?;
    Ok(outcome)
}

/// Runs every job of `batch` in one transaction; returns each job's outcome (all failed if the
/// commit itself failed) and the reply channels in the same order. Background permits are
/// released when the batch is done.
fn commit_batch(
    connection: &mut Connection,
    batch: Vec<WriteRequest>,
) -> (Vec<Result<(), StoreError>>, Vec<Option<Reply>>) {
    let mut dones = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::with_capacity(batch.len());
    let transaction = match connection.transaction() {
        Ok(transaction) => transaction,
        Err(error) => {
            let message = error.to_string();
            for request in batch {
                outcomes.push(Err(StoreError::TaskFailed(message.clone())));
                dones.push(request.done);
            }
            return (outcomes, dones);
        }
    };
    let mut permits = Vec::new();
    let mut broken = None;
    for request in batch {
        dones.push(request.done);
        permits.extend(request.permit);
        if broken.is_some() {
            continue;
        }
        match run_in_savepoint(&transaction, request.job) {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => broken = Some(error.to_string()),
        }
    }
    let failure = match broken {
        // Dropping the transaction rolls every job of the batch back.
        Some(message) => Some(format!("batch rolled back: {message}")),
        None => transaction
            .commit()
            .err()
            .map(|error| format!("commit failed: {error}")),
    };
    if let Some(message) = failure {
        outcomes = dones
            .iter()
            .map(|_| Err(StoreError::TaskFailed(message.clone())))
            .collect();
    }
    drop(permits);
    (outcomes, dones)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(value: i64, fail: bool) -> WriteRequest {
        WriteRequest {
            job: Box::new(move |connection| {
                connection.execute("INSERT INTO t VALUES (?1)", [value])?;
                if fail {
                    return Err(StoreError::Corrupt(format!("job {value} failed")));
                }
                Ok(())
            }),
            done: None,
            permit: None,
            audit_line: Some(format!("{{\"job\":{value}}}")),
        }
    }

    fn values(connection: &Connection) -> Vec<i64> {
        let mut statement = connection.prepare("SELECT v FROM t ORDER BY v").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_failing_job_is_undone_alone_and_the_batch_commits_the_rest() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (v INTEGER)")
            .unwrap();
        // Twice, so the second batch runs on the cached savepoint statements.
        for round in 0..2 {
            let base = round * 10;
            let batch = vec![
                job(base + 1, false),
                job(base + 2, true),
                job(base + 3, false),
            ];
            let (outcomes, dones) = commit_batch(&mut connection, batch);
            assert_eq!(dones.len(), 3);
            assert!(outcomes[0].is_ok() && outcomes[2].is_ok());
            assert!(matches!(&outcomes[1], Err(StoreError::Corrupt(_))));
        }
        assert_eq!(values(&connection), vec![1, 3, 11, 13]);
    }

    #[test]
    fn only_committed_writes_reach_the_audit_file_one_line_each() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("audit.jsonl");
        let mut file = File::create(&path).unwrap();
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (v INTEGER)")
            .unwrap();
        let mut batch = vec![job(1, false), job(2, true), job(3, false)];
        batch[2].audit_line = None;
        let lines: Vec<Option<String>> = batch
            .iter_mut()
            .map(|request| request.audit_line.take())
            .collect();
        let (outcomes, _) = commit_batch(&mut connection, batch);
        append_committed(&mut file, &outcomes, lines);
        append_committed(
            &mut file,
            &outcomes[..1],
            vec![Some("{\"job\":4}".to_owned())],
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"job\":1}\n{\"job\":4}\n"
        );
    }

    #[test]
    fn a_batch_whose_commit_fails_reports_every_job_failed() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE t (v INTEGER);
                 CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                 PRAGMA foreign_keys = ON;",
            )
            .unwrap();
        let orphan = WriteRequest {
            // Checked only at COMMIT: the whole batch's commit fails.
            job: Box::new(|connection| {
                connection.execute("INSERT INTO child VALUES (42)", [])?;
                Ok(())
            }),
            done: None,
            permit: None,
            audit_line: None,
        };
        let (outcomes, _) = commit_batch(&mut connection, vec![job(1, false), orphan]);
        assert_eq!(outcomes.len(), 2);
        for outcome in &outcomes {
            assert!(
                matches!(outcome, Err(StoreError::TaskFailed(message)) if message.starts_with("commit failed")),
                "{outcome:?}"
            );
        }
        assert!(values(&connection).is_empty());
    }
}
