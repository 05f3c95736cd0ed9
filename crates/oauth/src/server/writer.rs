//! Group commit of issued tokens. Token requests hand their new tokens to one
//! writer task per node, which stores whatever has queued up meanwhile in one
//! transaction (one commit, one fsync) and only then answers each request:
//! a token is never given out before it is durable. Under load the batches
//! grow by themselves (no timer): the writer takes all that queued during the
//! previous commit.
//!
//! The queue is bounded: when it is full a request waits for room (the load
//! shedder in front bounds how many wait). A failed batch is written again one
//! request per transaction, so only a request whose own write fails answers
//! `temporarily_unavailable` (503). At shutdown the
//! writer stores what is queued, then stops taking more.

use std::sync::OnceLock;

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::{TokenRecord, TokenRepository};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::base::{AsRepo, AuthorizationServer};

/// Requests that may wait for the writer; more wait to enqueue.
const QUEUE: usize = 1_024;
/// Tokens per transaction at most.
const MAX_BATCH: usize = 256;

/// One request's tokens (an access token, and its refresh token) and where
/// to answer once they are committed.
struct Pending {
    tokens: Vec<TokenRecord>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The way to the node's writer, once it runs. Without one (tools, unit
/// tests) each request writes its own transaction.
#[derive(Default)]
pub(super) struct TokenWriter {
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl<R: AsRepo + 'static> AuthorizationServer<R> {
    /// Starts the node's token writer; it drains and ends once `stop` turns
    /// true. Call once: a second writer gets no requests and ends at once.
    pub fn spawn_token_writer(&self, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let (queue, requests) = mpsc::channel(QUEUE);
        let _ = self.writer.queue.set(queue);
        tokio::spawn(write_batches(self.tokens.clone(), requests, stop))
    }
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// Stores a request's new tokens, all or none; returns once committed.
    pub(super) async fn store_tokens(&self, tokens: Vec<TokenRecord>) -> Result<(), StoreError> {
        let Some(queue) = self.writer.queue.get() else {
            return self.tokens.insert_tokens(&tokens).await;
        };
        let (done, committed) = oneshot::channel();
        if queue.send(Pending { tokens, done }).await.is_err() {
            return Err(unavailable("the token writer has stopped"));
        }
        committed
            .await
            .unwrap_or_else(|_| Err(unavailable("the token writer stopped before the commit")))
    }
}

fn unavailable(why: &str) -> StoreError {
    StoreError(why.to_owned().into())
}

async fn write_batches<R: TokenRepository>(
    repo: R,
    mut requests: mpsc::Receiver<Pending>,
    mut stop: watch::Receiver<bool>,
) {
    let mut stopping = false;
    loop {
        let first = if stopping {
            requests.recv().await
        } else {
            tokio::select! {
                got = requests.recv() => got,
                _ = stop.changed() => {
                    // No new requests; those queued are still written.
                    stopping = true;
                    requests.close();
                    continue;
                }
            }
        };
        let Some(first) = first else {
            return;
        };
        // The batch's tokens moved into one list; each request keeps how
        // many of them are its own, in order.
        let mut tokens: Vec<TokenRecord> = first.tokens;
        let mut waiting = vec![(tokens.len(), first.done)];
        while tokens.len() < MAX_BATCH
            && let Ok(next) = requests.try_recv()
        {
            waiting.push((next.tokens.len(), next.done));
            tokens.extend(next.tokens);
        }
        match repo.insert_tokens(&tokens).await {
            Ok(()) => {
                for (_, done) in waiting {
                    // A request that gave up meanwhile needs no answer.
                    let _ = done.send(Ok(()));
                }
            }
            // One request's tokens alone: its error is its own.
            Err(e) if waiting.len() == 1 => {
                if let Some((_, done)) = waiting.pop() {
                    let _ = done.send(Err(e));
                }
            }
            Err(e) => {
                // One request's failure must not fail the others: each
                // request's tokens in a transaction of their own.
                tracing::warn!(error = %e, requests = waiting.len(), "a batch of token writes failed; writing its requests one by one");
                let mut rest = tokens.as_slice();
                for (count, done) in waiting {
                    let (own, after) = rest.split_at_checked(count).unwrap_or((rest, &[]));
                    rest = after;
                    let result = repo.insert_tokens(own).await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "token write failed; the request is refused");
                    }
                    let _ = done.send(result);
                }
            }
        }
    }
}
