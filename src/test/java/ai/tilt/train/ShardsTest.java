package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.tilt.dist.Solo;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a data-parallel step and iteration are split among workers, and how their metrics join. */
class ShardsTest {
  @Test
  void workersTakeContiguousBlocksThatCoverTheMinibatchOnce() {
    int[] order = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    // minibatch of 7 from position 2 over 3 workers: blocks of 3, 3 and 1
    assertArrayEquals(new int[] {7, 6, 5}, Trainer.share(order, 2, 7, 0, 3));
    assertArrayEquals(new int[] {4, 3, 2}, Trainer.share(order, 2, 7, 1, 3));
    assertArrayEquals(new int[] {1}, Trainer.share(order, 2, 7, 2, 3));
    // the last minibatch has 2 items for 3 workers: blocks of 1; the last worker gets nothing,
    // and still joins the step
    assertArrayEquals(new int[] {1}, Trainer.share(order, 8, 4, 0, 3));
    assertArrayEquals(new int[] {0}, Trainer.share(order, 8, 4, 1, 3));
    assertArrayEquals(new int[] {}, Trainer.share(order, 8, 4, 2, 3));
    // one worker: the whole minibatch, as before data parallelism
    assertArrayEquals(new int[] {7, 6, 5, 4, 3, 2, 1}, Trainer.share(order, 2, 7, 0, 1));
    assertArrayEquals(new int[] {0, 1, 2, 3}, RolloutShards.mine(8, 0, 2));
    assertArrayEquals(new int[] {4, 5, 6, 7}, RolloutShards.mine(8, 1, 2));
    assertArrayEquals(new int[] {}, RolloutShards.mine(1, 1, 2));
  }

  @Test
  void metricSumsMergeAcrossWorkersAsOneWindow() {
    MetricSums a = new MetricSums();
    a.total("train/target_tokens", 10);
    MetricSums b = MetricSums.decode(a.encode());
    b.total("train/target_tokens", 5);
    MetricSums both = new MetricSums();
    both.merge(a);
    both.merge(b);
    assertEquals(Map.of("train/target_tokens", 25.0), both.means(""));
    // alone, a worker's sums are the step's
    assertEquals(a, Trainer.merged(Solo.INSTANCE, a));
  }
}
