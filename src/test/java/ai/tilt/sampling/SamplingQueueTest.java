package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The serve queue: batches what samples alike, survives what a batch throws, fails on close. */
class SamplingQueueTest {
  static final SamplingParams PARAMS = SamplingParams.sample(4, 0);

  static SamplingQueue.Key key(int n) {
    return new SamplingQueue.Key("m", n, PARAMS, List.of(2L));
  }

  /** One generation per row whose single token is the row's seed + choice, to check the order. */
  static List<Generator.Generation> echo(
      SamplingQueue.Key key, List<long[]> prompts, long[] seeds, Generator.TokenObserver unused) {
    List<Generator.Generation> out = new ArrayList<>();
    for (int g = 0; g < prompts.size(); g++) {
      for (int k = 0; k < key.n(); k++) {
        out.add(
            new Generator.Generation(
                new long[] {seeds[g] + k}, new float[] {-1f}, Generator.FinishReason.LENGTH));
      }
    }
    return out;
  }

  @Test
  void queuedRequestsThatSampleAlikeShareABatchAndGetTheirOwnRows() throws Exception {
    CountDownLatch first = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<Integer> batchSizes = Collections.synchronizedList(new ArrayList<>());
    SamplingQueue q =
        new SamplingQueue(
            (key, prompts, seeds, observer) -> {
              batchSizes.add(prompts.size());
              first.countDown();
              try {
                release.await(10, TimeUnit.SECONDS); // the others queue meanwhile
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return echo(key, prompts, seeds, observer);
            });
    q.start();
    try {
      CompletableFuture<List<Generator.Generation>> a =
          q.submit(key(2), List.of(new long[] {1}), new long[] {100});
      assertTrue(first.await(10, TimeUnit.SECONDS));
      CompletableFuture<List<Generator.Generation>> b =
          q.submit(key(2), List.of(new long[] {1}), new long[] {200});
      CompletableFuture<List<Generator.Generation>> other =
          q.submit(key(3), List.of(new long[] {1}), new long[] {300});
      CompletableFuture<List<Generator.Generation>> c =
          q.submit(key(2), List.of(new long[] {1}, new long[] {2}), new long[] {400, 500});
      release.countDown();
      assertEquals(201, b.get(10, TimeUnit.SECONDS).get(1).completionIds()[0]);
      List<Generator.Generation> cs = c.get(10, TimeUnit.SECONDS);
      assertEquals(4, cs.size());
      assertEquals(501, cs.get(3).completionIds()[0]);
      assertEquals(3, other.get(10, TimeUnit.SECONDS).size());
      assertEquals(100, a.get().get(0).completionIds()[0]);
      assertEquals(List.of(1, 3, 1), batchSizes, "b and c joined one batch; n=3 ran alone");
      assertEquals(3, q.batches());
    } finally {
      q.close();
    }
  }

  @Test
  void aBatchThatThrowsFailsOnlyItsRequests() throws Exception {
    int[] calls = {0};
    SamplingQueue q =
        new SamplingQueue(
            (key, prompts, seeds, observer) -> {
              if (calls[0]++ == 0) {
                throw new OutOfMemoryError("simulated");
              }
              return echo(key, prompts, seeds, observer);
            });
    q.start();
    try {
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () ->
                  q.submit(key(1), List.of(new long[] {1}), new long[] {7})
                      .get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof OutOfMemoryError);
      assertEquals(
          8,
          q.submit(key(1), List.of(new long[] {1}), new long[] {8})
              .get(10, TimeUnit.SECONDS)
              .get(0)
              .completionIds()[0]);
    } finally {
      q.close();
    }
  }

  /** A cancelled request never runs if still queued; running, its rows are told to stop. */
  @Test
  void aCancelledRequestLeavesTheQueueOrItsBatch() throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<Boolean> goOn = Collections.synchronizedList(new ArrayList<>());
    SamplingQueue q =
        new SamplingQueue(
            (key, prompts, seeds, observer) -> {
              running.countDown();
              try {
                release.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              goOn.add(observer.accept(0, 1, -1f, null, null));
              return echo(key, prompts, seeds, observer);
            });
    q.start();
    try {
      SamplingQueue.Job first = q.submit(key(1), List.of(new long[] {1}), new long[] {1}, null);
      assertTrue(running.await(10, TimeUnit.SECONDS));
      SamplingQueue.Job queued = q.submit(key(1), List.of(new long[] {1}), new long[] {2}, null);
      queued.cancel();
      first.cancel();
      release.countDown();
      assertThrows(
          java.util.concurrent.CancellationException.class,
          () -> first.result().get(10, TimeUnit.SECONDS));
      assertThrows(
          java.util.concurrent.CancellationException.class,
          () -> queued.result().get(10, TimeUnit.SECONDS));
      assertEquals(List.of(false), goOn, "the running request's row was told to stop");
      Thread.sleep(50);
      assertEquals(1, q.batches(), "the queued request never ran");
    } finally {
      q.close();
    }
  }

  @Test
  void closingFailsWhatIsQueuedAndRefusesMore() throws Exception {
    SamplingQueue q = new SamplingQueue(SamplingQueueTest::echo); // never started: nothing runs
    CompletableFuture<List<Generator.Generation>> queued =
        q.submit(key(1), List.of(new long[] {1}), new long[] {1});
    q.close();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> queued.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("shut down"), e.getCause().getMessage());
    ExecutionException later =
        assertThrows(
            ExecutionException.class,
            () ->
                q.submit(key(1), List.of(new long[] {1}), new long[] {1}).get(1, TimeUnit.SECONDS));
    assertTrue(later.getCause().getMessage().contains("shutting down"));
  }
}
