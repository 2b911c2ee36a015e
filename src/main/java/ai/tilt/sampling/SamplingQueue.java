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
 * requests, never the worker.
 */
final class SamplingQueue implements AutoCloseable {
  /** Requests that can share a batch: same model, n, sampling settings and stop ids. */
  record Key(String model, int n, SamplingParams params, List<Long> stops) {}

  /** Runs one batch: B prompts, n samples each, prompt g from stream (seeds[g], k). */
  interface Runner {
    List<Generator.Generation> run(Key key, List<long[]> prompts, long[] seeds);
  }

  private record Job(
      Key key,
      List<long[]> prompts,
      long[] seeds,
      CompletableFuture<List<Generator.Generation>> result) {
    int rows() {
      return prompts.size() * key.n();
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
    Job job = new Job(key, prompts, seeds, new CompletableFuture<>());
    if (closed) {
      job.result().completeExceptionally(new IllegalStateException("the server is shutting down"));
    } else {
      queue.add(job);
    }
    return job.result();
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
        batch.forEach(j -> j.result().completeExceptionally(e));
        return;
      }
      int rows = batch.get(0).rows();
      for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
        Job j = it.next();
        if (j.key().equals(batch.get(0).key()) && rows + j.rows() <= MAX_BATCH_ROWS) {
          batch.add(j);
          rows += j.rows();
          it.remove();
        }
      }
      try {
        run(batch);
      } catch (Throwable t) { // an OutOfMemoryError too: the requests fail, the queue goes on
        batch.forEach(j -> j.result().completeExceptionally(t));
      }
    }
  }

  private void run(List<Job> batch) {
    Key key = batch.get(0).key();
    List<long[]> prompts = new ArrayList<>();
    long[] seeds = new long[0];
    for (Job j : batch) {
      prompts.addAll(j.prompts());
      int at = seeds.length;
      seeds = Arrays.copyOf(seeds, at + j.seeds().length);
      System.arraycopy(j.seeds(), 0, seeds, at, j.seeds().length);
    }
    List<Generator.Generation> gens = runner.run(key, prompts, seeds);
    synchronized (this) {
      batches++;
    }
    int at = 0;
    for (Job j : batch) {
      j.result().complete(List.copyOf(gens.subList(at, at + j.rows())));
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
      j.result().completeExceptionally(new IllegalStateException("the server shut down"));
    }
  }
}
