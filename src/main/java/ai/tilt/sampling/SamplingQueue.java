package ai.tilt.sampling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;

/**
 * The request queue of {@code tilt serve}: one worker takes the oldest request with every later one
 * that samples alike and runs them as one batch. Each row samples from its own (seed, choice)
 * stream, so batching changes no request's tokens. Whatever a batch throws fails that batch's
 * requests, never the worker. A cancelled request leaves the queue, or, when its batch runs, its
 * rows leave the batch at their next token.
 */
final class SamplingQueue implements AutoCloseable {
  /**
   * Requests that can share a batch: same model, n, sampling settings, stop ids and number of top
   * log-probs.
   */
  record Key(String model, int n, SamplingParams params, List<Long> stops, int topLogprobs) {
    Key(String model, int n, SamplingParams params, List<Long> stops) {
      this(model, n, params, stops, 0);
    }
  }

  /**
   * Runs one batch: B prompts, n samples each, prompt g from stream (seeds[g], k); every token goes
   * to {@code observer}, which may end its row.
   */
  interface Runner {
    List<Generator.Generation> run(
        Key key, List<long[]> prompts, long[] seeds, Generator.TokenObserver observer);
  }

  /** A queued request: its future, and the way to give it up. */
  static final class Job {
    private final Key key;
    private final List<long[]> prompts;
    private final long[] seeds;
    private final Generator.TokenObserver observer; // rows numbered within this job; may be null
    private final CompletableFuture<List<Generator.Generation>> result = new CompletableFuture<>();
    private volatile boolean cancelled;
    private SamplingQueue queue;

    private Job(Key key, List<long[]> prompts, long[] seeds, Generator.TokenObserver observer) {
      this.key = key;
      this.prompts = prompts;
      this.seeds = seeds;
      this.observer = observer;
    }

    int rows() {
      return prompts.size() * key.n();
    }

    /** Completes with n samples per prompt, prompt by prompt. */
    CompletableFuture<List<Generator.Generation>> result() {
      return result;
    }

    /**
     * Gives the request up: it leaves the queue, or its rows end at their next token; the future
     * fails with a CancellationException.
     */
    void cancel() {
      cancelled = true;
      if (queue != null && queue.queue.remove(this)) {
        result.cancel(false);
      }
    }

    boolean accept(int row, long token, float logprob, long[] topIds, float[] topLogprobs) {
      if (cancelled) {
        return false;
      }
      return observer == null || observer.accept(row, token, logprob, topIds, topLogprobs);
    }
  }

  static final int MAX_BATCH_ROWS = 256;
  private static final long LINGER_MS = 3; // lets the rest of a burst of requests arrive

  private final BlockingDeque<Job> queue = new LinkedBlockingDeque<>();
  private final Runner runner;
  private final Thread worker;
  private volatile boolean closed;
  private long batches;

  SamplingQueue(Runner runner) {
    this.runner = runner;
    this.worker = new Thread(this::work, "tilt-serve-batcher");
    worker.setDaemon(true);
  }

  void start() {
    worker.start();
  }

  /** Queues a request; its future completes with its n samples per prompt, prompt by prompt. */
  CompletableFuture<List<Generator.Generation>> submit(
      Key key, List<long[]> prompts, long[] seeds) {
    return submit(key, prompts, seeds, null).result();
  }

  /** Queues a request whose tokens go to {@code observer} as they are sampled. */
  Job submit(Key key, List<long[]> prompts, long[] seeds, Generator.TokenObserver observer) {
    Job job = new Job(key, prompts, seeds, observer);
    job.queue = this;
    if (closed) {
      job.result.completeExceptionally(new IllegalStateException("the server is shutting down"));
    } else {
      queue.add(job);
    }
    return job;
  }

  /** Batches run so far. */
  synchronized long batches() {
    return batches;
  }

  private void work() {
    while (!closed) {
      List<Job> batch = new ArrayList<>();
      try {
        batch.add(queue.take());
        Thread.sleep(LINGER_MS);
      } catch (InterruptedException e) {
        batch.forEach(j -> j.result.completeExceptionally(e));
        return;
      }
      if (batch.get(0).cancelled) {
        batch.get(0).result.cancel(false);
        continue;
      }
      int rows = batch.get(0).rows();
      for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
        Job j = it.next();
        if (j.key.equals(batch.get(0).key) && rows + j.rows() <= MAX_BATCH_ROWS) {
          batch.add(j);
          rows += j.rows();
          it.remove();
        }
      }
      try {
        run(batch);
      } catch (Throwable t) { // an OutOfMemoryError too: the requests fail, the queue goes on
        batch.forEach(j -> j.result.completeExceptionally(t));
      }
    }
  }

  private void run(List<Job> batch) {
    Key key = batch.get(0).key;
    List<long[]> prompts = new ArrayList<>();
    long[] seeds = new long[0];
    Job[] owner = new Job[batch.stream().mapToInt(Job::rows).sum()]; // batch row -> its job
    int[] first = new int[owner.length]; // batch row -> the job's first row
    int row = 0;
    for (Job j : batch) {
      prompts.addAll(j.prompts);
      int at = seeds.length;
      seeds = Arrays.copyOf(seeds, at + j.seeds.length);
      System.arraycopy(j.seeds, 0, seeds, at, j.seeds.length);
      Arrays.fill(owner, row, row + j.rows(), j);
      Arrays.fill(first, row, row + j.rows(), row);
      row += j.rows();
    }
    List<Generator.Generation> gens =
        runner.run(
            key,
            prompts,
            seeds,
            (r, token, logprob, topIds, topLogprobs) ->
                owner[r].accept(r - first[r], token, logprob, topIds, topLogprobs));
    synchronized (this) {
      batches++;
    }
    int at = 0;
    for (Job j : batch) {
      if (j.cancelled) {
        j.result.cancel(false);
      } else {
        j.result.complete(List.copyOf(gens.subList(at, at + j.rows())));
      }
      at += j.rows();
    }
  }

  /** Stops taking requests, waits for the running batch, and fails what is still queued. */
  @Override
  public void close() {
    closed = true;
    worker.interrupt();
    try {
      worker.join(TimeUnit.MINUTES.toMillis(2));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Job j; (j = queue.poll()) != null; ) {
      j.result.completeExceptionally(new IllegalStateException("the server shut down"));
    }
  }
}
